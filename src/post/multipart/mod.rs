//! A sans-I/O streaming reader of the `multipart/form-data` body of a browser POST upload
//! (RFC 7578, over the multipart syntax of RFC 2046 §5.1.1), fed the raw body in arbitrary
//! pieces. It collects the text fields that precede the file, bounded by [`MultipartLimits`],
//! then hands back the file's bytes as they arrive, then reads and drops any parts after the
//! file (S3: "the file must be the last field in the form; any fields below it are ignored"),
//! bounded by the same limits.
//!
//! ```text
//! [preamble CRLF]
//! --boundary [padding] CRLF  Content-Disposition: form-data; name="key" CRLF  CRLF  <value>
//! CRLF --boundary [padding] CRLF  Content-Disposition: form-data; name="file"; filename="a.jpg" CRLF
//!                                 Content-Type: image/jpeg CRLF  CRLF  <file data>
//! CRLF --boundary-- [CRLF]
//! ```
//!
//! The reader follows hyper's HTTP/1 chunked decoder: the state (`Next`) is named for what
//! must come next, one small function per state returns the next state, every counter lives in
//! `Counters` with checked arithmetic, and every resource has a named limit. Data (preamble,
//! field values, file) is searched for the delimiter `CRLF--boundary` in bulk with
//! `memchr::memmem`, never byte by byte.
//!
//! # What is released when
//!
//! File bytes are released as soon as they cannot be the start of the delimiter, **except the
//! file's last byte**, which only [`MultipartReader::finish`] releases, after the closing
//! delimiter has been seen with nothing but an optional CRLF after it, and after every part
//! that follows the file has been read within the limits. The caller ends the upstream body
//! (the terminating chunk, or the last byte of a `Content-Length`) only with that byte, so a
//! form that turns out to be bad at its end never becomes an object. A 0-byte file releases
//! nothing at all.
//!
//! Memory is bounded by `max_prefix_size` (fields, one header line), one delimiter length
//! (a possible delimiter start carried to the next piece) and the input piece: file data is
//! never buffered. The first release of the file is a zero-copy slice of the input; later ones
//! are one copy of the piece, since the byte held back from the piece before must precede them.
//!
//! # Strictness
//!
//! - Line ends are CRLF only. Browsers, curl, Python `requests` and Go's `mime/multipart` all
//!   send CRLF; a bare LF or CR is refused rather than guessed at, so that two parsers can never
//!   disagree about where a part ends.
//! - RFC 2046 forbids the delimiter inside a part, so `CRLF--boundary` followed by anything but
//!   `--`, transport padding or CRLF is refused, not taken as data.
//! - S3 requires the file to be the last *meaningful* field and ignores the fields after it:
//!   browsers send a named submit button there (AWS's own example form has one). Parts after
//!   the file are read with the same framing rules and dropped, never kept: their values are
//!   only counted. They count against the same limits as the fields before the file: together
//!   at most `max_parts` fields, each value at most `max_field_size`, and the bytes before the
//!   file's data plus those after it at most `max_prefix_size`. A second part named `file` is
//!   refused (S3: "POST requires exactly one file upload per request"). The form must end with
//!   `--boundary--`, optionally followed by one CRLF; no epilogue.
//! - A part without `Content-Disposition: form-data; name=…`, a repeated `Content-Disposition`,
//!   `Content-Type` or parameter, obsolete line folding, non-UTF-8 header lines or field values
//!   (before the file: the values after it are never read as text) are refused. Other part headers are ignored (RFC 7578 §4.8).
//!
//! # Errors
//!
//! | case | code |
//! |---|---|
//! | framing (CRLF, delimiter line, part headers, missing `name`, a non-UTF-8 header line or field value before the file), bytes after the close, form ended before its close | `MalformedPOSTRequest` |
//! | a field above `max_field_size`, more than `max_parts` fields, more than `max_prefix_size` bytes besides the file's data (before it, or before and after it) | `MaxPostPreDataLengthExceeded` (message names the limit and its config key) |
//! | the form closes without a part named `file`, or has a second one after it | `InvalidArgument` |
//!
//! Once an error is returned every later call returns the same error, and nothing held back is
//! ever released; [`MultipartReader::reset`] starts over (a retried upstream replays the body).

use std::mem;

use crate::body::holdback::{AllChecksPassed, HoldBack};
use bytes::Bytes;

use super::{FilePart, FormField, FormPrefix};
use crate::error::{S3Error, S3ErrorCode};
use delimiter::DelimiterSearch;
use params::{is_tchar, parse_parameters, trim_ows, unique_parameter};

mod delimiter;
mod params;

/// Longest boundary (RFC 2046 §5.1.1: `boundary := 0*69<bchars> bcharsnospace`).
pub const MAX_BOUNDARY_LEN: usize = 70;

/// Longest part header line, without its CRLF. `Content-Disposition` with a long file name is
/// the longest real one (file names are at most 255 bytes on common file systems); longer
/// lines are refused, never buffered.
pub const MAX_PART_HEADER_LINE_LEN: usize = 8 * 1024;

/// Default of `limits.post_max_field_size`.
pub const DEFAULT_MAX_FIELD_SIZE: usize = 64 * 1024;

/// Default of `limits.post_max_prefix`.
pub const DEFAULT_MAX_PREFIX_SIZE: usize = 1024 * 1024;

/// Default of `limits.post_max_parts`.
pub const DEFAULT_MAX_PARTS: usize = 1000;

/// The field name of the part carrying the file (compared case-insensitively, as S3 does).
pub const FILE_FIELD_NAME: &str = "file";

/// S3's message for `MalformedPOSTRequest`; the reader appends what exactly is wrong.
const MALFORMED: &str = "The body of your POST request is not well-formed multipart/form-data";

/// S3's message for `MaxPostPreDataLengthExceededError`; the reader appends which limit.
const PREFIX_TOO_LARGE: &str = "Your POST request fields preceding the upload file were too large";

/// The same refusal for the parts after the file (which S3 ignores, and this reader bounds by
/// the same limits as those before it).
const FIELDS_TOO_LARGE: &str =
    "Your POST request fields (those after the upload file included) were too large";

/// S3's message when a form has no file, or more than one.
const ONE_FILE: &str = "POST requires exactly one file upload per request.";

/// File bytes held back until the closing delimiter: the backend discards a body one byte
/// short of its `Content-Length` (see the module docs).
const HELD_BACK_FILE_BYTES: usize = 1;

/// Caps on what precedes the file, each with its config key (set by the caller from
/// proxy.toml). They bound the memory one request can hold before any policy check ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartLimits {
    /// `limits.post_max_field_size`: longest value of one text field.
    pub max_field_size: usize,
    /// `limits.post_max_prefix`: most raw bytes before the file's data (preamble, every field,
    /// every part header, the file part's headers), and the same bound on those bytes plus the
    /// parts after the file.
    pub max_prefix_size: usize,
    /// `limits.post_max_parts`: most text fields, before and after the file together.
    pub max_parts: usize,
}

impl Default for MultipartLimits {
    /// 64 KiB per field, 1 MiB before the file, 1000 fields: far above what S3's own POST
    /// fields need (a policy of a few KiB), far below what would hurt the proxy.
    fn default() -> Self {
        MultipartLimits {
            max_field_size: DEFAULT_MAX_FIELD_SIZE,
            max_prefix_size: DEFAULT_MAX_PREFIX_SIZE,
            max_parts: DEFAULT_MAX_PARTS,
        }
    }
}

/// The boundary of a `multipart/form-data; boundary=…` `Content-Type`. The media type and the
/// parameter name are case-insensitive (RFC 9110 §8.3.1), the boundary may be quoted or not,
/// and must be 1 to 70 characters of RFC 2046's `bchars`, not ending with a space. Other
/// parameters are ignored; a repeated `boundary` is refused (which one would a backend use?).
/// Anything else is `MalformedPOSTRequest`.
pub fn boundary_from_content_type(content_type: &str) -> Result<String, S3Error> {
    let malformed = |what: &str| {
        S3Error::new(
            S3ErrorCode::MalformedPOSTRequest,
            format!("{MALFORMED}: Content-Type {content_type:?}: {what}."),
        )
    };
    let type_len = content_type.find(';').unwrap_or(content_type.len());
    let (media_type, parameters) = content_type.split_at(type_len);
    if !trim_ows(media_type).eq_ignore_ascii_case("multipart/form-data") {
        return Err(malformed("not multipart/form-data"));
    }
    let parameters = parse_parameters(parameters).map_err(malformed)?;
    let boundary = unique_parameter(&parameters, "boundary")
        .map_err(malformed)?
        .ok_or_else(|| malformed("no boundary parameter"))?;
    check_boundary(&boundary).map_err(malformed)?;
    Ok(boundary)
}

/// RFC 2046 §5.1.1: 1 to 70 `bchars`, the last one not a space.
fn check_boundary(boundary: &str) -> Result<(), &'static str> {
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY_LEN {
        return Err("the boundary must be 1 to 70 characters (RFC 2046)");
    }
    if !boundary.bytes().all(is_bchar) || boundary.ends_with(' ') {
        return Err("the boundary has a character RFC 2046 does not allow");
    }
    Ok(())
}

/// RFC 2046 `bchars`.
fn is_bchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b)
}

// ---------------------------------------------------------------------------------------------
// The state machine
// ---------------------------------------------------------------------------------------------

/// Proof that the form ended properly (the file part, then the closing delimiter); only
/// [`MultipartReader::read_close_dash`] makes one, and the held-back byte is released only in
/// exchange for it.
#[derive(Debug)]
struct FormComplete(());

impl AllChecksPassed for FormComplete {}

/// Where the reader is, named for what must come next.
#[derive(Debug)]
enum Next {
    /// Preamble bytes up to the first delimiter. The body is searched as if it began with CRLF,
    /// so that a body starting with `--boundary` (the usual case) has an empty preamble.
    Preamble,
    /// What ends a delimiter: `-` (the close delimiter), transport padding, or CR.
    DelimiterEnd,
    /// Transport padding (spaces and tabs), then CR.
    Padding,
    /// The LF of the delimiter line; a part's headers follow.
    DelimiterLf,
    /// A part header line, or the CR of the empty line ending the headers.
    HeaderLine,
    /// The LF ending a header line (or the headers).
    HeaderLf,
    /// A text field's value up to the next delimiter.
    FieldValue,
    /// The file's data up to the next delimiter.
    FileData,
    /// The value of a part after the file, counted and dropped, up to the next delimiter.
    IgnoredValue,
    /// The second `-` of the close delimiter.
    CloseDash,
    /// Nothing, or the CR of the one CRLF allowed after the close delimiter.
    AfterCloseCr(FormComplete),
    /// The LF of that CRLF.
    AfterCloseLf(FormComplete),
    /// Nothing: the form is complete; `finish` releases the held-back byte.
    End(FormComplete),
    /// `finish` released everything.
    Released,
    /// A check failed; this error is repeated to every later call.
    Failed(S3Error),
}

/// Every counter of the reader.
#[derive(Debug, Default, Clone)]
struct Counters {
    /// Raw body bytes read so far.
    consumed: u64,
    /// File data bytes so far, the held-back byte included.
    file_len: u64,
    /// Raw bytes since the file's data ended with a delimiter followed by another part
    /// (`None` while no part followed the file): the parts S3 ignores, and the close.
    after_file: Option<u64>,
    /// Parts after the file so far.
    parts_after_file: usize,
    /// Value bytes of the current part after the file.
    ignored_value_len: usize,
}

/// The headers of the part being read.
#[derive(Debug, Default, Clone)]
struct PartHeaders {
    /// `name` of `Content-Disposition`; `Some` once that header was read.
    disposition: Option<Disposition>,
    content_type: Option<String>,
}

/// What `Content-Disposition: form-data; name="…"; filename="…"` says.
#[derive(Debug, Clone)]
struct Disposition {
    name: String,
    filename: Option<String>,
}

/// Reads one `multipart/form-data` body; see the module docs.
#[derive(Debug)]
pub struct MultipartReader {
    boundary: String,
    limits: MultipartLimits,
    next: Next,
    counts: Counters,
    search: DelimiterSearch,
    /// The current header line, at most [`MAX_PART_HEADER_LINE_LEN`] bytes.
    line: Vec<u8>,
    part: PartHeaders,
    /// The current field's value so far, at most `max_field_size` bytes.
    value: Vec<u8>,
    fields: Vec<FormField>,
    prefix: Option<FormPrefix>,
    /// The name of the current part after the file (for the error naming a limit).
    ignored_name: String,
    /// File bytes released by the current feed, and the file's last byte seen, held back.
    outbox: HoldBack,
}

impl MultipartReader {
    /// A reader of a form whose `Content-Type` has this boundary (from
    /// [`boundary_from_content_type`]). A boundary RFC 2046 does not allow gives a reader that
    /// refuses its first feed with `MalformedPOSTRequest`.
    pub fn new(boundary: &str, limits: MultipartLimits) -> Self {
        let delimiter = [b"\r\n--", boundary.as_bytes()].concat();
        let mut reader = MultipartReader {
            boundary: boundary.to_string(),
            limits,
            next: Next::Preamble,
            counts: Counters::default(),
            search: DelimiterSearch::new(&delimiter),
            line: Vec::new(),
            part: PartHeaders::default(),
            value: Vec::new(),
            fields: Vec::new(),
            prefix: None,
            ignored_name: String::new(),
            outbox: HoldBack::default(),
        };
        // The CRLF the body is searched as if it began with (see `Next::Preamble`).
        reader.search.carry.extend_from_slice(b"\r\n");
        if let Err(what) = check_boundary(boundary) {
            reader.next = Next::Failed(malformed(what));
        }
        reader
    }

    /// Next piece of the raw body, any split (possibly empty). Returns the file's bytes that
    /// may be released now (empty before the file, and never the file's last byte).
    pub fn feed(&mut self, input: Bytes) -> Result<Bytes, S3Error> {
        if let Next::Failed(err) = &self.next {
            return Err(err.clone());
        }
        match self.read(&input) {
            Ok(()) => Ok(self.outbox.take_released()),
            Err(err) => Err(self.fail(err)),
        }
    }

    /// The fields and the file part's headers, available as soon as the file part's headers
    /// are complete: the policy can be checked before any file byte goes upstream.
    pub fn prefix(&self) -> Option<&FormPrefix> {
        self.prefix.as_ref()
    }

    /// File data bytes seen so far, including the held-back one (the caller enforces a
    /// maximum object size with it).
    pub fn file_len(&self) -> u64 {
        self.counts.file_len
    }

    /// The raw body has ended. The closing delimiter must have been seen (else
    /// `MalformedPOSTRequest`: the HTTP body itself was complete, a body shorter than its
    /// `Content-Length` is the caller's `IncompleteBody`); returns the held-back last byte of
    /// the file. After success, later calls return nothing.
    pub fn finish(&mut self) -> Result<Bytes, S3Error> {
        match mem::replace(&mut self.next, Next::Released) {
            Next::AfterCloseCr(proof) | Next::End(proof) => Ok(self.outbox.release_all(proof)),
            Next::Released => Ok(Bytes::new()),
            Next::Failed(err) => Err(self.fail(err)),
            Next::AfterCloseLf(_) => Err(self.fail(malformed("a CR without LF after the close"))),
            Next::Preamble
            | Next::DelimiterEnd
            | Next::Padding
            | Next::DelimiterLf
            | Next::HeaderLine
            | Next::HeaderLf
            | Next::FieldValue
            | Next::FileData
            | Next::IgnoredValue
            | Next::CloseDash => Err(self.fail(malformed(
                "the body ended before the closing boundary (--boundary--)",
            ))),
        }
    }

    /// Bytes a conforming client sends after the file's last byte when the file is the last
    /// part: `\r\n--{boundary}--\r\n`.
    pub fn closing_len(&self) -> u64 {
        (self.boundary.len() as u64).saturating_add(8)
    }

    /// What a form of `form_length` bytes (its `Content-Length`) says about the length of its
    /// file, once the file part's headers are read: `(at least, at most)`. Not exact, since
    /// parts may follow the file: at most the form minus the shortest possible end
    /// (`\r\n--{boundary}--`), at least the form minus the longest end the limits allow (the
    /// file's delimiter, then parts within `max_prefix_size` with what preceded the file).
    /// `None` before the file; `MalformedPOSTRequest` when the form is too short to hold what
    /// was already read plus that shortest end.
    pub fn file_len_bounds(&self, form_length: u64) -> Option<Result<(u64, u64), S3Error>> {
        let before = self.prefix.as_ref()?.bytes_before_file;
        let delimiter = (self.boundary.len() as u64).saturating_add(4);
        let shortest_end = delimiter.saturating_add(2);
        let parts_budget = (self.limits.max_prefix_size as u64).saturating_sub(before);
        let longest_end = delimiter.saturating_add(parts_budget.max(4));
        let at_most = form_length
            .checked_sub(before)
            .and_then(|rest| rest.checked_sub(shortest_end));
        Some(match at_most {
            Some(at_most) => {
                let at_least = form_length.saturating_sub(before.saturating_add(longest_end));
                Ok((at_least, at_most))
            }
            None => Err(malformed("Content-Length is shorter than the form")),
        })
    }

    /// Back to the state of [`new`](Self::new), same boundary and limits: a retried upstream
    /// request replays the body from its start.
    pub fn reset(&mut self) {
        *self = MultipartReader::new(&self.boundary, self.limits);
    }

    /// Record a failure: nothing held back may ever be released.
    fn fail(&mut self, err: S3Error) -> S3Error {
        self.outbox = HoldBack::default();
        self.search.carry.clear();
        self.line = Vec::new();
        self.value = Vec::new();
        self.next = Next::Failed(err.clone());
        err
    }

    /// Run the state machine over one input piece. Returns when the piece is used up.
    fn read(&mut self, input: &Bytes) -> Result<(), S3Error> {
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            let (next, used) = match mem::replace(&mut self.next, Next::Released) {
                Next::Preamble => self.read_preamble(input, pos)?,
                Next::DelimiterEnd => (self.read_delimiter_end(rest[0])?, 1),
                Next::Padding => self.read_padding(rest)?,
                Next::DelimiterLf => (self.read_delimiter_lf(rest[0])?, 1),
                Next::HeaderLine => self.read_header_line(rest)?,
                Next::HeaderLf => (self.read_header_lf(rest[0])?, 1),
                Next::FieldValue => self.read_field_value(input, pos)?,
                Next::FileData => self.read_file_data(input, pos),
                Next::IgnoredValue => self.read_ignored_value(input, pos)?,
                Next::CloseDash => (self.read_close_dash(rest[0])?, 1),
                Next::AfterCloseCr(proof) => (read_after_close_cr(rest[0], proof)?, 1),
                Next::AfterCloseLf(proof) => (read_after_close_lf(rest[0], proof)?, 1),
                Next::End(_) => return Err(malformed("bytes after the closing boundary")),
                Next::Released | Next::Failed(_) => {
                    return Err(S3Error::new(
                        S3ErrorCode::InternalError,
                        "The multipart reader was fed after it stopped.",
                    ))
                }
            };
            self.next = next;
            pos += used;
            self.count_consumed(used)?;
        }
        Ok(())
    }

    /// Count raw bytes read; before the file, they must stay within `max_prefix_size`, and so
    /// must those bytes plus the parts after the file.
    fn count_consumed(&mut self, used: usize) -> Result<(), S3Error> {
        let too_many = || malformed("more bytes than can be counted");
        self.counts.consumed = self
            .counts
            .consumed
            .checked_add(used as u64)
            .ok_or_else(too_many)?;
        let Some(prefix) = &self.prefix else {
            return self.check_prefix_len(self.counts.consumed);
        };
        let Some(after_file) = self.counts.after_file else {
            return Ok(());
        };
        let after_file = after_file.checked_add(used as u64).ok_or_else(too_many)?;
        self.counts.after_file = Some(after_file);
        if prefix.bytes_before_file.saturating_add(after_file) > self.limits.max_prefix_size as u64
        {
            return Err(S3Error::new(
                S3ErrorCode::MaxPostPreDataLengthExceeded,
                format!(
                    "{FIELDS_TOO_LARGE}: more than {} bytes besides the file's data                      (limits.post_max_prefix).",
                    self.limits.max_prefix_size
                ),
            ));
        }
        Ok(())
    }

    fn check_prefix_len(&self, len: u64) -> Result<(), S3Error> {
        if len > self.limits.max_prefix_size as u64 {
            return Err(S3Error::new(
                S3ErrorCode::MaxPostPreDataLengthExceeded,
                format!(
                    "{PREFIX_TOO_LARGE}: more than {} bytes before the file's data \
                     (limits.post_max_prefix).",
                    self.limits.max_prefix_size
                ),
            ));
        }
        Ok(())
    }

    /// `Preamble`: discarded (counted towards `max_prefix_size`) up to the first delimiter.
    fn read_preamble(&mut self, input: &Bytes, pos: usize) -> Result<(Next, usize), S3Error> {
        let scanned = self.search.scan(input, pos);
        Ok(match scanned.found {
            true => (Next::DelimiterEnd, scanned.used),
            false => (Next::Preamble, scanned.used),
        })
    }

    /// `DelimiterEnd`: `-` starts the close delimiter; padding or CR start another part. The
    /// first part after the file starts the count of the bytes after it.
    fn read_delimiter_end(&mut self, b: u8) -> Result<Next, S3Error> {
        let next = match b {
            b'-' => return Ok(Next::CloseDash),
            b' ' | b'\t' => Next::Padding,
            b'\r' => Next::DelimiterLf,
            b => {
                return Err(malformed(&format!(
                    "the boundary is followed by {}, not '--' or CRLF",
                    describe_byte(b)
                )))
            }
        };
        if self.prefix.is_some() && self.counts.after_file.is_none() {
            self.counts.after_file = Some(0);
        }
        Ok(next)
    }

    /// `Padding`: RFC 2046 transport padding (`*LWSP-char`) before the CRLF of a delimiter
    /// line. Bounded by `max_prefix_size`, as everything before the file.
    fn read_padding(&mut self, rest: &[u8]) -> Result<(Next, usize), S3Error> {
        let padding = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        match rest.get(padding) {
            None => Ok((Next::Padding, padding)),
            Some(b'\r') => Ok((Next::DelimiterLf, padding + 1)),
            Some(&b) => Err(malformed(&format!(
                "{} in the padding after a boundary",
                describe_byte(b)
            ))),
        }
    }

    /// `DelimiterLf`: strict CRLF (see the module docs); a new part's headers follow.
    fn read_delimiter_lf(&mut self, b: u8) -> Result<Next, S3Error> {
        if b != b'\n' {
            return Err(malformed("a CR without LF after a boundary"));
        }
        self.part = PartHeaders::default();
        Ok(Next::HeaderLine)
    }

    /// `HeaderLine`: bytes of a header line up to its CR, bounded by
    /// [`MAX_PART_HEADER_LINE_LEN`]. A bare LF is refused.
    fn read_header_line(&mut self, rest: &[u8]) -> Result<(Next, usize), S3Error> {
        let end = memchr::memchr2(b'\r', b'\n', rest);
        let text = &rest[..end.unwrap_or(rest.len())];
        if self.line.len().saturating_add(text.len()) > MAX_PART_HEADER_LINE_LEN {
            return Err(malformed(&format!(
                "a part header line is longer than {MAX_PART_HEADER_LINE_LEN} bytes"
            )));
        }
        self.line.extend_from_slice(text);
        match end.map(|at| rest[at]) {
            None => Ok((Next::HeaderLine, text.len())),
            Some(b'\r') => Ok((Next::HeaderLf, text.len() + 1)),
            Some(_) => Err(malformed(
                "a part header line ends with a bare LF, not CRLF",
            )),
        }
    }

    /// `HeaderLf`: the end of one header line, or of the headers when the line is empty.
    fn read_header_lf(&mut self, b: u8) -> Result<Next, S3Error> {
        if b != b'\n' {
            return Err(malformed("a CR without LF in the part headers"));
        }
        let line = mem::take(&mut self.line);
        if line.is_empty() {
            return self.end_of_headers();
        }
        self.add_header(&line)?;
        Ok(Next::HeaderLine)
    }

    /// One `name: value` part header line (RFC 7578 §4.8: only `Content-Disposition` and
    /// `Content-Type` mean something; others are ignored).
    fn add_header(&mut self, line: &[u8]) -> Result<(), S3Error> {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            return Err(malformed("obsolete line folding in the part headers"));
        }
        let line =
            std::str::from_utf8(line).map_err(|_| malformed("a part header line is not UTF-8"))?;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| malformed("a part header line without ':'"))?;
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(malformed(&format!("the part header name {name:?}")));
        }
        let value = trim_ows(value);
        if name.eq_ignore_ascii_case("content-disposition") {
            if self.part.disposition.is_some() {
                return Err(malformed("a part has two Content-Disposition headers"));
            }
            self.part.disposition = Some(parse_disposition(value)?);
        } else if name.eq_ignore_ascii_case("content-type") {
            if self.part.content_type.is_some() {
                return Err(malformed("a part has two Content-Type headers"));
            }
            self.part.content_type = Some(value.to_string());
        }
        Ok(())
    }

    /// The empty line after a part's headers: the part named `file` starts the file's data,
    /// any other is a text field.
    fn end_of_headers(&mut self) -> Result<Next, S3Error> {
        let part = mem::take(&mut self.part);
        let disposition = part.disposition.ok_or_else(|| {
            malformed("a part without Content-Disposition: form-data; name=\"...\"")
        })?;
        if let Some(fields_before) = self.prefix.as_ref().map(|p| p.fields.len()) {
            return self.part_after_file(disposition.name, fields_before);
        }
        if disposition.name.eq_ignore_ascii_case(FILE_FIELD_NAME) {
            // The LF being read is the last byte before the file's data.
            let bytes_before_file = self
                .counts
                .consumed
                .checked_add(1)
                .ok_or_else(|| malformed("more bytes than can be counted"))?;
            self.check_prefix_len(bytes_before_file)?;
            self.prefix = Some(FormPrefix {
                fields: mem::take(&mut self.fields),
                file: FilePart {
                    filename: disposition.filename,
                    content_type: part.content_type,
                },
                bytes_before_file,
            });
            return Ok(Next::FileData);
        }
        if self.fields.len() >= self.limits.max_parts {
            return Err(S3Error::new(
                S3ErrorCode::MaxPostPreDataLengthExceeded,
                format!(
                    "{PREFIX_TOO_LARGE}: more than {} fields before the file \
                     (limits.post_max_parts).",
                    self.limits.max_parts
                ),
            ));
        }
        self.fields.push(FormField {
            name: disposition.name,
            value: String::new(),
        });
        Ok(Next::FieldValue)
    }

    /// `FieldValue`: the value of the last field in `fields`, bounded by `max_field_size`.
    fn read_field_value(&mut self, input: &Bytes, pos: usize) -> Result<(Next, usize), S3Error> {
        let scanned = self.search.scan(input, pos);
        for data in &scanned.data {
            if self.value.len().saturating_add(data.len()) > self.limits.max_field_size {
                return Err(S3Error::new(
                    S3ErrorCode::MaxPostPreDataLengthExceeded,
                    format!(
                        "{PREFIX_TOO_LARGE}: the field {} is longer than {} bytes \
                         (limits.post_max_field_size).",
                        self.current_field_name(),
                        self.limits.max_field_size
                    ),
                ));
            }
            self.value.extend_from_slice(data);
        }
        if !scanned.found {
            return Ok((Next::FieldValue, scanned.used));
        }
        let value = String::from_utf8(mem::take(&mut self.value)).map_err(|_| {
            malformed(&format!(
                "the value of the field {} is not UTF-8",
                self.current_field_name()
            ))
        })?;
        if let Some(field) = self.fields.last_mut() {
            field.value = value;
        }
        Ok((Next::DelimiterEnd, scanned.used))
    }

    /// A part after the file: S3 ignores it, so its value is only counted (see the module
    /// docs); it still counts as one of the form's `max_parts` fields.
    fn part_after_file(&mut self, name: String, fields_before: usize) -> Result<Next, S3Error> {
        if name.eq_ignore_ascii_case(FILE_FIELD_NAME) {
            return Err(S3Error::new(S3ErrorCode::InvalidArgument, ONE_FILE));
        }
        if fields_before.saturating_add(self.counts.parts_after_file) >= self.limits.max_parts {
            return Err(S3Error::new(
                S3ErrorCode::MaxPostPreDataLengthExceeded,
                format!(
                    "{FIELDS_TOO_LARGE}: more than {} fields, those after the file included \
                     (limits.post_max_parts).",
                    self.limits.max_parts
                ),
            ));
        }
        self.counts.parts_after_file += 1;
        self.counts.ignored_value_len = 0;
        self.ignored_name = name;
        Ok(Next::IgnoredValue)
    }

    /// `IgnoredValue`: a value after the file, bounded by `max_field_size` and dropped.
    fn read_ignored_value(&mut self, input: &Bytes, pos: usize) -> Result<(Next, usize), S3Error> {
        let scanned = self.search.scan(input, pos);
        let len = scanned.data.iter().map(Bytes::len).sum::<usize>();
        self.counts.ignored_value_len = self.counts.ignored_value_len.saturating_add(len);
        if self.counts.ignored_value_len > self.limits.max_field_size {
            return Err(S3Error::new(
                S3ErrorCode::MaxPostPreDataLengthExceeded,
                format!(
                    "{FIELDS_TOO_LARGE}: the field {} after the file is longer than {} bytes \
                     (limits.post_max_field_size).",
                    self.ignored_name, self.limits.max_field_size
                ),
            ));
        }
        match scanned.found {
            true => Ok((Next::DelimiterEnd, scanned.used)),
            false => Ok((Next::IgnoredValue, scanned.used)),
        }
    }

    fn current_field_name(&self) -> &str {
        self.fields.last().map_or("", |field| field.name.as_str())
    }

    /// `FileData`: everything but a possible delimiter start goes to the outbox.
    fn read_file_data(&mut self, input: &Bytes, pos: usize) -> (Next, usize) {
        let scanned = self.search.scan(input, pos);
        for data in scanned.data {
            // Saturating: a u64 of bytes is never reached; the caller's size cap comes first.
            self.counts.file_len = self.counts.file_len.saturating_add(data.len() as u64);
            self.outbox.hold_tail(data, HELD_BACK_FILE_BYTES);
        }
        match scanned.found {
            true => (Next::DelimiterEnd, scanned.used),
            false => (Next::FileData, scanned.used),
        }
    }

    /// `CloseDash`: `--boundary--` closes the form, which must have had its file.
    fn read_close_dash(&mut self, b: u8) -> Result<Next, S3Error> {
        if b != b'-' {
            return Err(malformed(&format!(
                "the boundary is followed by '-' and {}",
                describe_byte(b)
            )));
        }
        if self.prefix.is_none() {
            return Err(S3Error::new(S3ErrorCode::InvalidArgument, ONE_FILE));
        }
        Ok(Next::AfterCloseCr(FormComplete(())))
    }
}

/// `AfterCloseCr`: only a CRLF may follow the close delimiter. RFC 2046 allows an epilogue;
/// it is refused (it is no part, and browsers never send one), so nothing rides along
/// unbounded after the close.
fn read_after_close_cr(b: u8, proof: FormComplete) -> Result<Next, S3Error> {
    match b {
        b'\r' => Ok(Next::AfterCloseLf(proof)),
        _ => Err(malformed("bytes after the closing boundary")),
    }
}

/// `AfterCloseLf`: the LF of the one CRLF allowed after the close delimiter.
fn read_after_close_lf(b: u8, proof: FormComplete) -> Result<Next, S3Error> {
    match b {
        b'\n' => Ok(Next::End(proof)),
        _ => Err(malformed("bytes after the closing boundary")),
    }
}

/// `Content-Disposition: form-data; name="…"[; filename="…"]` (RFC 7578 §4.2). Other
/// parameters (`filename*`, which RFC 7578 says not to use) are ignored.
fn parse_disposition(value: &str) -> Result<Disposition, S3Error> {
    let bad = |what: &str| malformed(&format!("Content-Disposition {value:?}: {what}"));
    let type_len = value.find(';').unwrap_or(value.len());
    if !trim_ows(&value[..type_len]).eq_ignore_ascii_case("form-data") {
        return Err(bad("not form-data"));
    }
    let parameters = parse_parameters(&value[type_len..]).map_err(bad)?;
    let name = unique_parameter(&parameters, "name")
        .map_err(bad)?
        .ok_or_else(|| bad("no name"))?;
    let filename = unique_parameter(&parameters, "filename").map_err(bad)?;
    Ok(Disposition { name, filename })
}

fn malformed(what: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedPOSTRequest,
        format!("{MALFORMED}: {what}."),
    )
}

fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", char::from(b))
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// One fuzz case (the `multipart` cargo-fuzz target): the first byte picks the limits and the
/// split of the rest, which is fed as a form with boundary `fuzz`. Must never panic, and never
/// release more than the file it reports.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    let [config, body @ ..] = data else {
        return;
    };
    let limits = MultipartLimits {
        max_field_size: 16 + usize::from(config & 0x0f) * 8,
        max_prefix_size: 64 + usize::from(config >> 4) * 64,
        max_parts: 1 + usize::from(config & 0x07),
    };
    let mut reader = MultipartReader::new("fuzz", limits);
    let step = 1 + usize::from(*config) % 17;
    let mut released = 0u64;
    for piece in body.chunks(step) {
        match reader.feed(Bytes::copy_from_slice(piece)) {
            Ok(bytes) => released += bytes.len() as u64,
            Err(_) => return,
        }
        assert!(released <= reader.file_len(), "released more than the file");
    }
    if let Ok(tail) = reader.finish() {
        released += tail.len() as u64;
        assert_eq!(
            released,
            reader.file_len(),
            "a finished form released its whole file"
        );
    }
}

#[cfg(test)]
mod tests;
