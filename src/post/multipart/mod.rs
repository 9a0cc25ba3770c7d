//! A sans-I/O streaming reader of the `multipart/form-data` body of a browser POST upload
//! (RFC 7578, over the multipart syntax of RFC 2046 §5.1.1), fed the raw body in arbitrary
//! pieces. It collects the text fields that precede the file, bounded by [`MultipartLimits`],
//! then hands back the file's bytes as they arrive.
//!
//! ```text
//! [preamble CRLF]
//! --boundary [padding] CRLF  Content-Disposition: form-data; name="key" CRLF  CRLF  <value>
//! CRLF --boundary [padding] CRLF  Content-Disposition: form-data; name="file"; filename="a.jpg" CRLF
//!                                 Content-Type: image/jpeg CRLF  CRLF  <file data>
//! CRLF --boundary-- [CRLF]
//! ```
//!
//! The reader follows hyper's HTTP/1 chunked decoder: the state ([`Next`]) is named for what
//! must come next, one small function per state returns the next state, every counter lives in
//! [`Counters`] with checked arithmetic, and every resource has a named limit. Data (preamble,
//! field values, file) is searched for the delimiter `CRLF--boundary` in bulk with
//! `memchr::memmem`, never byte by byte.
//!
//! # What is released when
//!
//! File bytes are released as soon as they cannot be the start of the delimiter, **except the
//! file's last byte**, which only [`MultipartReader::finish`] releases, after the closing
//! delimiter has been seen with nothing but an optional CRLF after it. The backend has been
//! sent a `Content-Length` (the file's length, computed from the form's); a body one byte short
//! is discarded by it, so a form that turns out to be bad at its end never becomes an object.
//! A 0-byte file releases nothing at all.
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
//! - S3 requires the file to be the last field: a part after it is refused as soon as its
//!   delimiter line starts. The form must end with `--boundary--`, optionally followed by one
//!   CRLF; no epilogue, since nothing may follow the file.
//! - A part without `Content-Disposition: form-data; name=…`, a repeated `Content-Disposition`,
//!   `Content-Type` or parameter, obsolete line folding, non-UTF-8 header lines or field values
//!   are refused. Other part headers are ignored (RFC 7578 §4.8).
//!
//! # Errors
//!
//! | case | code |
//! |---|---|
//! | framing (CRLF, delimiter line, part headers, missing `name`, non-UTF-8), a part after the file, bytes after the close, form ended before its close | `MalformedPOSTRequest` |
//! | a field above `max_field_size`, more than `max_parts` fields, more than `max_prefix_size` bytes before the file | `MaxPostPreDataLengthExceeded` (message names the limit and its config key) |
//! | the form closes without a part named `file` | `InvalidArgument` |
//!
//! Once an error is returned every later call returns the same error, and nothing held back is
//! ever released; [`MultipartReader::reset`] starts over (a retried upstream replays the body).

use std::mem;

use crate::body::join;
use bytes::Bytes;
use memchr::memmem::Finder;

use super::{FilePart, FormField, FormPrefix};
use crate::error::{S3Error, S3ErrorCode};

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

/// Caps on what precedes the file, each with its config key (set by the caller from
/// proxy.toml). They bound the memory one request can hold before any policy check ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartLimits {
    /// `limits.post_max_field_size`: longest value of one text field.
    pub max_field_size: usize,
    /// `limits.post_max_prefix`: most raw bytes before the file's data (preamble, every field,
    /// every part header, the file part's headers).
    pub max_prefix_size: usize,
    /// `limits.post_max_parts`: most text fields before the file.
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

/// RFC 9110 `tchar`: the characters of a header name or parameter name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Optional whitespace (RFC 9110 §5.6.3).
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches(is_ows)
}

/// `*( OWS ";" OWS name "=" value )` (RFC 9110 §5.6.6), the value a quoted-string with
/// backslash escapes or a plain run of visible characters. Names are returned as sent.
fn parse_parameters(mut rest: &str) -> Result<Vec<(&str, String)>, &'static str> {
    let mut parameters = Vec::new();
    loop {
        rest = rest.trim_start_matches(is_ows);
        if rest.is_empty() {
            return Ok(parameters);
        }
        rest = rest
            .strip_prefix(';')
            .ok_or("parameters must be separated by ';'")?
            .trim_start_matches(is_ows);
        let name_len = rest.bytes().take_while(|&b| is_tchar(b)).count();
        if name_len == 0 {
            return Err("a parameter without a name");
        }
        let (name, after) = rest.split_at(name_len);
        let after = after
            .strip_prefix('=')
            .ok_or("a parameter without '=' right after its name")?;
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => parse_quoted_string(quoted)?,
            None => {
                let len = after
                    .bytes()
                    .take_while(|&b| !(b.is_ascii_control() || b" ;\"".contains(&b)))
                    .count();
                if len == 0 {
                    return Err("a parameter with an empty value");
                }
                (after[..len].to_string(), &after[len..])
            }
        };
        parameters.push((name, value));
        rest = after;
    }
}

/// The rest of a quoted-string after its opening quote: the unescaped value and what follows
/// the closing quote. Control characters other than HTAB are refused (RFC 9110 `qdtext`).
fn parse_quoted_string(quoted: &str) -> Result<(String, &str), &'static str> {
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    while let Some((at, c)) = chars.next() {
        let c = match c {
            '"' => return Ok((value, &quoted[at + 1..])),
            '\\' => chars.next().ok_or("an unterminated quoted string")?.1,
            c => c,
        };
        if c.is_ascii_control() && c != '\t' {
            return Err("a control character in a quoted string");
        }
        value.push(c);
    }
    Err("an unterminated quoted string")
}

/// The value of parameter `name` (case-insensitive), if sent; sent twice is an error.
fn unique_parameter(
    parameters: &[(&str, String)],
    name: &'static str,
) -> Result<Option<String>, &'static str> {
    let mut matching = parameters
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name));
    let first = matching.next().map(|(_, value)| value.clone());
    if matching.next().is_some() {
        return Err("a parameter is repeated");
    }
    Ok(first)
}

// ---------------------------------------------------------------------------------------------
// The delimiter search
// ---------------------------------------------------------------------------------------------

/// What one step of the delimiter search found.
#[derive(Debug)]
struct Scanned {
    /// The data before the delimiter (or before a possible delimiter start), in order: bytes
    /// carried from the piece before, then a slice of the input.
    data: [Bytes; 2],
    /// Input bytes used, the delimiter included when found.
    used: usize,
    /// The whole delimiter was read.
    found: bool,
}

/// Finds `CRLF--boundary` in data fed in pieces. The tail of a piece that could be the start
/// of the delimiter is carried (copied, at most one delimiter length) to the next piece.
#[derive(Debug, Clone)]
struct DelimiterSearch {
    finder: Finder<'static>,
    /// Bytes that may start the delimiter, always a proper prefix of it.
    carry: Vec<u8>,
}

impl DelimiterSearch {
    fn new(delimiter: &[u8]) -> DelimiterSearch {
        DelimiterSearch {
            finder: Finder::new(delimiter).into_owned(),
            carry: Vec::with_capacity(delimiter.len()),
        }
    }

    fn delimiter(&self) -> &[u8] {
        self.finder.needle()
    }

    /// Search `input[pos..]`, after the carried bytes.
    fn scan(&mut self, input: &Bytes, pos: usize) -> Scanned {
        let rest = &input[pos..];
        let delimiter_len = self.delimiter().len();
        let mut carried = Bytes::new();
        if !self.carry.is_empty() {
            if let Some(scanned) = self.scan_carry(rest) {
                return scanned;
            }
            carried = Bytes::copy_from_slice(&self.carry);
            self.carry.clear();
        }
        match self.finder.find(rest) {
            Some(at) => Scanned {
                data: [carried, input.slice(pos..pos + at)],
                used: at + delimiter_len,
                found: true,
            },
            None => {
                let keep = partial_delimiter_len(rest, self.delimiter());
                let data_end = rest.len() - keep;
                self.carry.extend_from_slice(&rest[data_end..]);
                Scanned {
                    data: [carried, input.slice(pos..pos + data_end)],
                    used: rest.len(),
                    found: false,
                }
            }
        }
    }

    /// A delimiter starting in the carried bytes: found whole, or still possible when `rest`
    /// is too short to tell. `None`: every carried byte is data.
    fn scan_carry(&mut self, rest: &[u8]) -> Option<Scanned> {
        let delimiter_len = self.delimiter().len();
        let carry_len = self.carry.len();
        let mut window = Vec::with_capacity(carry_len + delimiter_len);
        window.extend_from_slice(&self.carry);
        window.extend_from_slice(&rest[..rest.len().min(delimiter_len)]);
        for start in 0..carry_len {
            let candidate = &window[start..];
            let scanned = if candidate.len() >= delimiter_len {
                if &candidate[..delimiter_len] != self.delimiter() {
                    continue;
                }
                Scanned {
                    data: [Bytes::copy_from_slice(&self.carry[..start]), Bytes::new()],
                    used: start + delimiter_len - carry_len,
                    found: true,
                }
            } else if self.delimiter().starts_with(candidate) {
                // `rest` is shorter than the delimiter and wholly in the window.
                Scanned {
                    data: [Bytes::copy_from_slice(&self.carry[..start]), Bytes::new()],
                    used: rest.len(),
                    found: false,
                }
            } else {
                continue;
            };
            self.carry.clear();
            if !scanned.found {
                self.carry.extend_from_slice(candidate);
            }
            return Some(scanned);
        }
        None
    }
}

/// Length of the longest proper prefix of `delimiter` that `data` ends with.
fn partial_delimiter_len(data: &[u8], delimiter: &[u8]) -> usize {
    let tail_start = data.len().saturating_sub(delimiter.len().saturating_sub(1));
    let tail = &data[tail_start..];
    memchr::memchr_iter(delimiter.first().copied().unwrap_or(b'\r'), tail)
        .map(|at| &tail[at..])
        .find(|candidate| delimiter.starts_with(candidate))
        .map_or(0, <[u8]>::len)
}

// ---------------------------------------------------------------------------------------------
// The state machine
// ---------------------------------------------------------------------------------------------

/// Proof that the form ended properly (the file part, then the closing delimiter); only
/// [`MultipartReader::read_close_dash`] makes one, and the held-back byte is released only in
/// exchange for it.
#[derive(Debug)]
struct FormComplete(());

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

/// File bytes on their way out: all but the last byte seen are released at the end of each
/// feed; the last one waits for [`FormComplete`].
#[derive(Debug, Default)]
struct Outbox {
    /// Pieces released by the current feed, in order.
    ready: Vec<Bytes>,
    /// The last file byte seen.
    held: Option<u8>,
}

impl Outbox {
    fn pass(&mut self, data: Bytes) {
        let Some((&last, _)) = data.split_last() else {
            return;
        };
        if let Some(previous) = self.held.replace(last) {
            self.ready.push(Bytes::copy_from_slice(&[previous]));
        }
        self.ready.push(data.slice(..data.len() - 1));
    }

    /// What the current feed releases: one piece as it is, several joined.
    fn take_released(&mut self) -> Bytes {
        join(&mut self.ready)
    }

    /// The held-back byte, once the form is known to be complete.
    fn release_rest(&mut self, _proof: FormComplete) -> Bytes {
        if let Some(last) = self.held.take() {
            self.ready.push(Bytes::copy_from_slice(&[last]));
        }
        join(&mut self.ready)
    }
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
    outbox: Outbox,
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
            outbox: Outbox::default(),
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
            Next::AfterCloseCr(proof) | Next::End(proof) => Ok(self.outbox.release_rest(proof)),
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
            | Next::CloseDash => Err(self.fail(malformed(
                "the body ended before the closing boundary (--boundary--)",
            ))),
        }
    }

    /// Bytes a conforming client sends after the file's last byte: `\r\n--{boundary}--\r\n`.
    /// With the form's `Content-Length` and [`FormPrefix::bytes_before_file`] it gives the
    /// file's exact length before the file arrives (the backend's `Content-Length`).
    pub fn closing_len(&self) -> u64 {
        (self.boundary.len() as u64).saturating_add(8)
    }

    /// Back to the state of [`new`](Self::new), same boundary and limits: a retried upstream
    /// request replays the body from its start.
    pub fn reset(&mut self) {
        *self = MultipartReader::new(&self.boundary, self.limits);
    }

    /// Record a failure: nothing held back may ever be released.
    fn fail(&mut self, err: S3Error) -> S3Error {
        self.outbox = Outbox::default();
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

    /// Count raw bytes read; before the file, they must stay within `max_prefix_size`.
    fn count_consumed(&mut self, used: usize) -> Result<(), S3Error> {
        self.counts.consumed = self
            .counts
            .consumed
            .checked_add(used as u64)
            .ok_or_else(|| malformed("more bytes than can be counted"))?;
        match &self.prefix {
            None => self.check_prefix_len(self.counts.consumed),
            Some(_) => Ok(()),
        }
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

    /// `DelimiterEnd`: `-` starts the close delimiter; padding or CR start another part, which
    /// is refused after the file.
    fn read_delimiter_end(&mut self, b: u8) -> Result<Next, S3Error> {
        match b {
            b'-' => Ok(Next::CloseDash),
            b' ' | b'\t' | b'\r' if self.prefix.is_some() => {
                Err(malformed("the file must be the last field of the form"))
            }
            b' ' | b'\t' => Ok(Next::Padding),
            b'\r' => Ok(Next::DelimiterLf),
            b => Err(malformed(&format!(
                "the boundary is followed by {}, not '--' or CRLF",
                describe_byte(b)
            ))),
        }
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

    fn current_field_name(&self) -> &str {
        self.fields.last().map_or("", |field| field.name.as_str())
    }

    /// `FileData`: everything but a possible delimiter start goes to the outbox.
    fn read_file_data(&mut self, input: &Bytes, pos: usize) -> (Next, usize) {
        let scanned = self.search.scan(input, pos);
        for data in scanned.data {
            // Saturating: a u64 of bytes is never reached; the caller's size cap comes first.
            self.counts.file_len = self.counts.file_len.saturating_add(data.len() as u64);
            self.outbox.pass(data);
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
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "POST requires exactly one file upload per request.",
            ));
        }
        Ok(Next::AfterCloseCr(FormComplete(())))
    }
}

/// `AfterCloseCr`: only a CRLF may follow the close delimiter. RFC 2046 allows an epilogue;
/// it is refused as S3 refuses anything after the file, so nothing can ride along unchecked.
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
mod tests {
    use super::*;
    use crate::body::test_driver::{mutated_and_cut, split_at, Rng};
    use proptest::prelude::*;

    /// Chrome's boundary style.
    const BOUNDARY: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

    // ---- bodies ----

    /// One part: its header lines and its body.
    #[derive(Debug, Clone)]
    struct Part {
        headers: Vec<String>,
        body: Vec<u8>,
    }

    fn field(name: &str, value: &str) -> Part {
        Part {
            headers: vec![format!("Content-Disposition: form-data; name=\"{name}\"")],
            body: value.as_bytes().to_vec(),
        }
    }

    fn file_part(name: &str, data: &[u8]) -> Part {
        Part {
            headers: vec![
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"photo.jpg\""),
                "Content-Type: image/jpeg".into(),
            ],
            body: data.to_vec(),
        }
    }

    /// A form as a browser sends it: `preamble`, the parts, `--boundary--`, then `end`.
    /// Returns the body and the offset of the last part's body.
    fn render(preamble: &[u8], parts: &[Part], end: &[u8]) -> (Vec<u8>, usize) {
        let mut out = preamble.to_vec();
        let mut last_body_at = 0;
        for part in parts {
            out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            for header in &part.headers {
                out.extend_from_slice(header.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            last_body_at = out.len();
            out.extend_from_slice(&part.body);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{BOUNDARY}--").as_bytes());
        out.extend_from_slice(end);
        (out, last_body_at)
    }

    /// File data made to look like the delimiter in every way but the real one.
    fn tricky_file_data() -> Vec<u8> {
        let mut data: Vec<u8> = (0..=255u8).collect();
        data.extend_from_slice(b"\r\n--");
        data.extend_from_slice(b"\r\n-\r\r\n\r\n--\r");
        data.extend_from_slice(format!("\r\n--{}", &BOUNDARY[..BOUNDARY.len() - 1]).as_bytes());
        data.extend_from_slice(b"X\n");
        data.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        data.extend_from_slice(format!("\n--{BOUNDARY}--\r\n").as_bytes());
        data.extend_from_slice(format!("\r--{BOUNDARY}").as_bytes());
        // Ends with the first bytes of the delimiter, just before the real one.
        data.extend_from_slice(format!("\r\n--{}", &BOUNDARY[..6]).as_bytes());
        data
    }

    /// The fields of an S3 browser upload, in a browser's order.
    fn s3_fields() -> Vec<(&'static str, &'static str)> {
        vec![
            ("Key", "user/${filename}"),
            ("acl", "public-read"),
            ("success_action_status", "201"),
            (
                "X-Amz-Credential",
                "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/s3/aws4_request",
            ),
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Date", "20130806T000000Z"),
            (
                "Policy",
                "eyAiZXhwaXJhdGlvbiI6ICIyMDEzLTA4LTA3VDEyOjAwOjAwLjAwMFoiIH0=",
            ),
            (
                "X-Amz-Signature",
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
            ("empty", ""),
            ("multi-line", "line one\r\nline two\r\n-- not a boundary"),
            ("unicode", "h\u{e9}llo \u{1f600}"),
        ]
    }

    fn browser_form(file_data: &[u8]) -> (Vec<u8>, usize) {
        let mut parts: Vec<Part> = s3_fields().iter().map(|(n, v)| field(n, v)).collect();
        parts.push(file_part("file", file_data));
        render(b"", &parts, b"\r\n")
    }

    // ---- running ----

    /// What happened when a body was fed in the given pieces.
    #[derive(Debug)]
    struct Run {
        /// Everything released by `feed`.
        before_finish: Vec<u8>,
        /// `finish`'s result, or the error `feed` returned.
        outcome: Result<Bytes, S3Error>,
        /// Whether the error (if any) came from `feed`.
        failed_in_feed: bool,
        prefix: Option<FormPrefix>,
        file_len: u64,
    }

    impl Run {
        fn released(&self) -> Vec<u8> {
            let mut all = self.before_finish.clone();
            if let Ok(tail) = &self.outcome {
                all.extend_from_slice(tail);
            }
            all
        }
    }

    fn run_limits(limits: MultipartLimits, pieces: &[&[u8]]) -> Run {
        let mut reader = MultipartReader::new(BOUNDARY, limits);
        let mut before_finish = Vec::new();
        for piece in pieces {
            match reader.feed(Bytes::copy_from_slice(piece)) {
                Ok(out) => before_finish.extend_from_slice(&out),
                Err(err) => {
                    // Failure sticks.
                    assert_eq!(reader.feed(Bytes::from_static(b"--")), Err(err.clone()));
                    assert_eq!(reader.finish(), Err(err.clone()));
                    return Run {
                        before_finish,
                        outcome: Err(err),
                        failed_in_feed: true,
                        prefix: reader.prefix().cloned(),
                        file_len: reader.file_len(),
                    };
                }
            }
        }
        let prefix = reader.prefix().cloned();
        let file_len = reader.file_len();
        let outcome = reader.finish();
        if let Err(err) = &outcome {
            assert_eq!(reader.finish(), Err(err.clone()));
        }
        Run {
            before_finish,
            outcome,
            failed_in_feed: false,
            prefix,
            file_len,
        }
    }

    fn run(pieces: &[&[u8]]) -> Run {
        run_limits(MultipartLimits::default(), pieces)
    }

    /// Accepted: the file released whole, never its last byte before `finish`.
    fn assert_released(run: &Run, file: &[u8], context: &str) {
        assert!(run.outcome.is_ok(), "{context}: refused: {:?}", run.outcome);
        assert_eq!(
            run.before_finish.len(),
            file.len().saturating_sub(1),
            "{context}: all but exactly the last byte before finish"
        );
        assert!(run.released() == file, "{context}: released bytes differ");
        assert_eq!(run.file_len, file.len() as u64, "{context}: file_len");
    }

    /// Refused with `code`, whole, byte by byte and cut in two at every offset; what was
    /// released is a prefix of `file` without its last byte. Returns the error of the whole body.
    fn assert_refused_with(
        limits: MultipartLimits,
        body: &[u8],
        file: &[u8],
        code: S3ErrorCode,
    ) -> S3Error {
        let whole = run_limits(limits, &[body]);
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        let mut runs = vec![run_limits(limits, &bytes)];
        for cut in 0..=body.len() {
            runs.push(run_limits(limits, &split_at(body, &[cut])));
        }
        for (index, run) in runs.iter().enumerate() {
            assert_eq!(run.outcome, whole.outcome, "run {index}");
        }
        for run in runs.iter().chain([&whole]) {
            let err = run.outcome.as_ref().expect_err("must be refused");
            assert_eq!(err.code, code, "{err}");
            assert!(run.before_finish.len() < file.len().max(1), "{err}");
            assert_eq!(run.before_finish, file[..run.before_finish.len()]);
        }
        whole.outcome.expect_err("refused")
    }

    fn assert_refused(body: &[u8], file: &[u8], code: S3ErrorCode) -> S3Error {
        assert_refused_with(MultipartLimits::default(), body, file, code)
    }

    // ---- a browser's form ----

    #[test]
    fn browser_form_gives_fields_file_and_lengths() {
        let data = tricky_file_data();
        let (body, data_at) = browser_form(&data);
        let run = run(&[&body]);
        assert_released(&run, &data, "browser form");
        let prefix = run.prefix.expect("prefix");
        let expected: Vec<FormField> = s3_fields()
            .iter()
            .map(|(name, value)| FormField {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect();
        assert_eq!(prefix.fields, expected);
        assert_eq!(prefix.field("key"), Some("user/${filename}"));
        assert_eq!(
            prefix.file,
            FilePart {
                filename: Some("photo.jpg".into()),
                content_type: Some("image/jpeg".into()),
            }
        );
        assert_eq!(prefix.bytes_before_file, data_at as u64);
        let reader = MultipartReader::new(BOUNDARY, MultipartLimits::default());
        assert_eq!(
            body.len() as u64 - prefix.bytes_before_file - reader.closing_len(),
            data.len() as u64
        );
    }

    #[test]
    fn curl_style_form_without_final_crlf_and_with_preamble_and_padding() {
        let data = b"hello";
        let mut parts = vec![field("key", "a"), file_part("file", data)];
        parts[1]
            .headers
            .push("Content-Transfer-Encoding: binary".into());
        let (body, data_at) = render(b"a preamble\r\n", &parts, b"");
        let run = run(&[&body]);
        assert_released(&run, data, "no final CRLF");
        assert_eq!(
            run.prefix.expect("prefix").bytes_before_file,
            data_at as u64
        );
        // Transport padding after a boundary.
        let padded = String::from_utf8(body).expect("ascii").replacen(
            &format!("--{BOUNDARY}\r\n"),
            &format!("--{BOUNDARY} \t \r\n"),
            2,
        );
        assert_released(&run_one(padded.as_bytes()), data, "padding");
    }

    fn run_one(body: &[u8]) -> Run {
        run(&[body])
    }

    #[test]
    fn preamble_that_looks_like_a_boundary() {
        let preamble = format!("--{BOUNDARY}x\r\n--{}\r\n", &BOUNDARY[..9]);
        let (body, _) = render(preamble.as_bytes(), &[file_part("file", b"x")], b"\r\n");
        // `--boundaryx` at the very start is not a delimiter and is refused as one.
        let err = assert_refused(&body, b"x", S3ErrorCode::MalformedPOSTRequest);
        assert!(err.message.contains("'x'"), "{err}");
        let preamble = format!("x--{BOUNDARY}\r\n--{}\r\n", &BOUNDARY[..9]);
        let (body, _) = render(preamble.as_bytes(), &[file_part("file", b"x")], b"\r\n");
        assert_released(&run_one(&body), b"x", "preamble");
    }

    #[test]
    fn file_part_name_is_case_insensitive_and_field_names_are_kept() {
        for name in ["file", "File", "FILE"] {
            let (body, _) = render(b"", &[field("Key", "k"), file_part(name, b"abc")], b"\r\n");
            let run = run_one(&body);
            assert_released(&run, b"abc", name);
            let prefix = run.prefix.expect("prefix");
            assert_eq!(
                prefix.fields,
                vec![FormField {
                    name: "Key".into(),
                    value: "k".into()
                }]
            );
            assert_eq!(prefix.field("KEY"), Some("k"));
        }
    }

    #[test]
    fn header_syntax_tokens_escapes_and_case() {
        let parts = vec![
            Part {
                headers: vec!["content-disposition:FORM-DATA;NAME=token-name".into()],
                body: b"v1".to_vec(),
            },
            Part {
                headers: vec![
                    "X-Ignored: whatever".into(),
                    "Content-Disposition: form-data ; name=\"q\\\"uo\\\\ted\" ; filename=\"a b.txt\""
                        .into(),
                ],
                body: b"v2".to_vec(),
            },
            Part {
                headers: vec![
                    "CONTENT-TYPE:  text/plain; charset=utf-8 ".into(),
                    "Content-Disposition: form-data; filename*=UTF-8''x; name=\"File\"; filename=\"\u{e9}t\u{e9}.txt\"".into(),
                ],
                body: b"data".to_vec(),
            },
        ];
        let (body, _) = render(b"", &parts, b"\r\n");
        let run = run_one(&body);
        assert_released(&run, b"data", "header syntax");
        let prefix = run.prefix.expect("prefix");
        assert_eq!(prefix.field("token-name"), Some("v1"));
        // A field with a filename before the file is a text field.
        assert_eq!(prefix.field("q\"uo\\ted"), Some("v2"));
        assert_eq!(prefix.file.filename.as_deref(), Some("\u{e9}t\u{e9}.txt"));
        assert_eq!(
            prefix.file.content_type.as_deref(),
            Some("text/plain; charset=utf-8")
        );
        // No Content-Type, no filename.
        let parts = vec![field("file", "x")];
        let run = run_one(&render(b"", &parts, b"").0);
        assert_eq!(
            run.prefix.expect("prefix").file,
            FilePart {
                filename: None,
                content_type: None
            }
        );
    }

    // ---- splits ----

    #[test]
    fn browser_form_split_at_every_offset() {
        let data = tricky_file_data();
        let (body, _) = browser_form(&data);
        let reference = run_one(&body);
        for cut in 0..=body.len() {
            let run = run(&split_at(&body, &[cut]));
            assert_released(&run, &data, &format!("cut {cut}"));
            assert_eq!(run.prefix, reference.prefix, "cut {cut}");
        }
    }

    #[test]
    fn small_form_split_at_every_pair_of_offsets() {
        let data = b"\r\n--\r-\r\n--x";
        let (body, _) = render(
            b"",
            &[field("key", "\r\n-"), file_part("file", data)],
            b"\r\n",
        );
        let reference = run_one(&body);
        for first in 0..=body.len() {
            for second in first..=body.len() {
                let run = run(&split_at(&body, &[first, second]));
                assert_released(&run, data, &format!("cuts {first},{second}"));
                assert_eq!(run.prefix, reference.prefix, "cuts {first},{second}");
            }
        }
    }

    #[test]
    fn browser_form_byte_by_byte_and_with_empty_feeds() {
        let data = tricky_file_data();
        let (body, _) = browser_form(&data);
        let reference = run_one(&body);
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        let run1 = run(&bytes);
        assert_released(&run1, &data, "byte by byte");
        assert_eq!(run1.prefix, reference.prefix);
        let mut pieces: Vec<&[u8]> = Vec::new();
        for piece in body.chunks(7) {
            pieces.extend([&b""[..], piece, &b""[..]]);
        }
        let run2 = run(&pieces);
        assert_released(&run2, &data, "empty feeds");
        assert_eq!(run2.prefix, reference.prefix);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn browser_form_random_splits(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40)) {
            let data = tricky_file_data();
            let (body, _) = browser_form(&data);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            cuts.sort_unstable();
            let run = run(&split_at(&body, &cuts));
            prop_assert!(run.outcome.is_ok());
            prop_assert_eq!(run.before_finish.len(), data.len() - 1);
            prop_assert_eq!(run.released(), data);
            prop_assert_eq!(run.prefix, run_one(&body).prefix);
        }

        /// File data and a field value made of the delimiter's own bytes, any split.
        #[test]
        fn lookalike_data_any_split(
            pieces in proptest::collection::vec(0usize..7, 0..120),
            value in proptest::collection::vec(0usize..7, 0..40),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            // The boundary but its last character, and a delimiter cut short: no sequence of
            // atoms makes the real delimiter (no atom starts with the boundary's last 'W').
            let atoms: [&[u8]; 7] = [
                b"\r",
                b"\n",
                b"-",
                &BOUNDARY.as_bytes()[..BOUNDARY.len() - 1],
                b"\r\n--",
                b"\r\n------WebKitFormBoundary7MA4",
                b"--",
            ];
            let data: Vec<u8> = pieces.iter().flat_map(|&i| atoms[i].iter().copied()).collect();
            let value: Vec<u8> = value.iter().flat_map(|&i| atoms[i].iter().copied()).collect();
            let value = String::from_utf8(value).expect("ascii");
            let (body, data_at) =
                render(b"", &[field("v", &value), file_part("file", &data)], b"\r\n");
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            cuts.sort_unstable();
            let run = run(&split_at(&body, &cuts));
            prop_assert!(run.outcome.is_ok(), "{:?}", run.outcome);
            prop_assert_eq!(run.before_finish.len(), data.len().saturating_sub(1));
            prop_assert_eq!(run.released(), data);
            let prefix = run.prefix.expect("prefix");
            prop_assert_eq!(prefix.field("v"), Some(value.as_str()));
            prop_assert_eq!(prefix.bytes_before_file, data_at as u64);
        }
    }

    // ---- hold-back ----

    #[test]
    fn only_the_last_byte_waits_for_finish() {
        let data = b"0123456789";
        let (body, _) = render(b"", &[file_part("file", data)], b"\r\n");
        let mut reader = MultipartReader::new(BOUNDARY, MultipartLimits::default());
        let mut released = Vec::new();
        for piece in body.chunks(3) {
            released.extend_from_slice(&reader.feed(Bytes::copy_from_slice(piece)).expect("ok"));
        }
        assert_eq!(released, b"012345678");
        assert_eq!(reader.file_len(), 10);
        assert_eq!(reader.finish().expect("complete"), &b"9"[..]);
        assert_eq!(reader.finish(), Ok(Bytes::new()));
        assert!(reader.feed(Bytes::from_static(b"x")).is_err());
    }

    #[test]
    fn first_release_is_a_slice_of_the_input() {
        let data = vec![7u8; 1000];
        let (body, data_at) = render(b"", &[file_part("file", &data)], b"\r\n");
        let body = Bytes::from(body);
        let mut reader = MultipartReader::new(BOUNDARY, MultipartLimits::default());
        let out = reader.feed(body.clone()).expect("ok");
        assert_eq!(out.len(), 999);
        assert_eq!(out.as_ptr(), body[data_at..].as_ptr());
    }

    #[test]
    fn empty_file_releases_nothing() {
        let (body, _) = render(b"", &[field("key", "k"), file_part("file", b"")], b"\r\n");
        for cut in 0..=body.len() {
            let run = run(&split_at(&body, &[cut]));
            assert_released(&run, b"", &format!("cut {cut}"));
            assert_eq!(run.outcome, Ok(Bytes::new()));
        }
    }

    #[test]
    fn one_byte_file_is_released_only_by_finish() {
        for data in [&b"\r"[..], b"-", b"x"] {
            let (body, _) = render(b"", &[file_part("file", data)], b"\r\n");
            for cut in 0..=body.len() {
                let run = run(&split_at(&body, &[cut]));
                assert_released(&run, data, &format!("cut {cut}"));
                assert_eq!(run.outcome.as_deref(), Ok(data));
            }
        }
    }

    // ---- the Content-Type ----

    #[test]
    fn boundary_from_content_type_forms() {
        for (content_type, boundary) in [
            (
                "multipart/form-data; boundary=----WebKitFormBoundaryX",
                "----WebKitFormBoundaryX",
            ),
            ("Multipart/Form-Data;BOUNDARY=abc", "abc"),
            (
                "multipart/form-data; charset=utf-8; boundary=\"a b'()+_,-./:=?\"",
                "a b'()+_,-./:=?",
            ),
            ("  multipart/form-data ; boundary=\"x\"  ", "x"),
            (
                "multipart/form-data; boundary=----=_Part_0_12",
                "----=_Part_0_12",
            ),
            (
                &format!("multipart/form-data; boundary={}", "b".repeat(70)),
                &"b".repeat(70),
            ),
        ] {
            assert_eq!(
                boundary_from_content_type(content_type).as_deref(),
                Ok(boundary)
            );
        }
    }

    #[test]
    fn boundary_from_content_type_refusals() {
        for content_type in [
            "multipart/form-data",
            "multipart/form-data; charset=utf-8",
            "multipart/mixed; boundary=abc",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=\"\"",
            "multipart/form-data; boundary=\"abc",
            "multipart/form-data; boundary=\"abc \"",
            "multipart/form-data; boundary=a\"b\"",
            "multipart/form-data; boundary=ab;c",
            "multipart/form-data; boundary=a;boundary=b",
            "multipart/form-data; boundary=a{b}",
            "multipart/form-data; boundary = abc",
            &format!("multipart/form-data; boundary={}", "b".repeat(71)),
        ] {
            let err = boundary_from_content_type(content_type).expect_err(content_type);
            assert_eq!(
                err.code,
                S3ErrorCode::MalformedPOSTRequest,
                "{content_type}"
            );
        }
    }

    #[test]
    fn invalid_boundary_gives_a_failed_reader() {
        let mut reader = MultipartReader::new("", MultipartLimits::default());
        let err = reader.feed(Bytes::new()).expect_err("no boundary");
        assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest);
        assert_eq!(reader.finish(), Err(err));
    }

    // ---- refusals, one thing at a time ----

    #[test]
    fn field_after_the_file_is_refused_by_feed() {
        let data = b"file data";
        let parts = [
            field("key", "k"),
            file_part("file", data),
            field("acl", "private"),
        ];
        let (body, _) = render(b"", &parts, b"\r\n");
        let err = assert_refused(&body, data, S3ErrorCode::MalformedPOSTRequest);
        assert!(
            err.message.contains("the file must be the last field"),
            "{err}"
        );
        // Refused by the feed that brings the CR after the file's delimiter, before the rest.
        let data_end = body
            .windows(data.len())
            .position(|w| w == data)
            .expect("data")
            + data.len();
        let delimiter_end = data_end + 4 + BOUNDARY.len();
        let mut reader = MultipartReader::new(BOUNDARY, MultipartLimits::default());
        let before = reader
            .feed(Bytes::copy_from_slice(&body[..delimiter_end]))
            .expect("a delimiter alone is fine");
        assert_eq!(before, &data[..data.len() - 1]);
        let err = reader
            .feed(Bytes::copy_from_slice(
                &body[delimiter_end..delimiter_end + 1],
            ))
            .expect_err("a second part after the file");
        assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest);
    }

    #[test]
    fn form_without_file_is_invalid_argument() {
        let (body, _) = render(b"", &[field("key", "k"), field("files", "f")], b"\r\n");
        let err = assert_refused(&body, b"", S3ErrorCode::InvalidArgument);
        assert_eq!(
            err.message,
            "POST requires exactly one file upload per request."
        );
        let (body, _) = render(b"", &[], b"\r\n");
        assert_refused(&body, b"", S3ErrorCode::InvalidArgument);
        assert!(run_one(&body).failed_in_feed);
    }

    #[test]
    fn huge_field_is_refused_naming_field_and_limit() {
        let limits = MultipartLimits {
            max_field_size: 16,
            ..MultipartLimits::default()
        };
        let ok = render(
            b"",
            &[field("policy", &"p".repeat(16)), file_part("file", b"d")],
            b"",
        );
        assert_released(&run_limits(limits, &[&ok.0]), b"d", "at the limit");
        let (body, _) = render(
            b"",
            &[field("policy", &"p".repeat(17)), file_part("file", b"d")],
            b"",
        );
        let err = assert_refused_with(
            limits,
            &body,
            b"d",
            S3ErrorCode::MaxPostPreDataLengthExceeded,
        );
        assert!(err.message.contains("policy"), "{err}");
        assert!(err.message.contains("16 bytes"), "{err}");
        assert!(err.message.contains("limits.post_max_field_size"), "{err}");
    }

    #[test]
    fn too_many_parts_is_refused_naming_the_limit() {
        let limits = MultipartLimits {
            max_parts: 2,
            ..MultipartLimits::default()
        };
        let two = [field("a", "1"), field("b", "2"), file_part("file", b"d")];
        assert_released(
            &run_limits(limits, &[&render(b"", &two, b"").0]),
            b"d",
            "two",
        );
        let three = [
            field("a", "1"),
            field("b", "2"),
            field("c", "3"),
            file_part("file", b"d"),
        ];
        let (body, _) = render(b"", &three, b"");
        let err = assert_refused_with(
            limits,
            &body,
            b"d",
            S3ErrorCode::MaxPostPreDataLengthExceeded,
        );
        assert!(err.message.contains("limits.post_max_parts"), "{err}");
    }

    #[test]
    fn prefix_larger_than_its_cap_is_refused() {
        let data = b"data";
        let (body, data_at) = browser_form(data);
        let exact = MultipartLimits {
            max_prefix_size: data_at,
            ..MultipartLimits::default()
        };
        assert_released(&run_limits(exact, &[&body]), data, "at the cap");
        let limits = MultipartLimits {
            max_prefix_size: data_at - 1,
            ..MultipartLimits::default()
        };
        let err = assert_refused_with(
            limits,
            &body,
            data,
            S3ErrorCode::MaxPostPreDataLengthExceeded,
        );
        assert!(err.message.contains("limits.post_max_prefix"), "{err}");
        // A preamble counts too, and is never buffered.
        let limits = MultipartLimits {
            max_prefix_size: 100,
            ..MultipartLimits::default()
        };
        let mut reader = MultipartReader::new(BOUNDARY, limits);
        let err = reader
            .feed(Bytes::from(vec![b'x'; 101]))
            .expect_err("preamble");
        assert_eq!(err.code, S3ErrorCode::MaxPostPreDataLengthExceeded);
    }

    #[test]
    fn header_line_longer_than_its_limit_is_refused() {
        let line = |len: usize| {
            let head = "Content-Disposition: form-data; name=\"file\"; filename=\"";
            format!("{head}{}\"", "n".repeat(len - head.len() - 1))
        };
        let part = |len| Part {
            headers: vec![line(len)],
            body: b"d".to_vec(),
        };
        let ok = render(b"", &[part(MAX_PART_HEADER_LINE_LEN)], b"");
        assert_released(&run_one(&ok.0), b"d", "at the limit");
        let (body, _) = render(b"", &[part(MAX_PART_HEADER_LINE_LEN + 1)], b"");
        let err = assert_refused(&body, b"d", S3ErrorCode::MalformedPOSTRequest);
        assert!(err.message.contains("8192"), "{err}");
    }

    #[test]
    fn part_without_name_is_refused() {
        for headers in [
            vec!["Content-Disposition: form-data; filename=\"a.txt\""],
            vec!["Content-Disposition: form-data"],
            vec!["Content-Type: text/plain"],
            vec![],
            vec!["Content-Disposition: attachment; name=\"file\""],
            vec!["Content-Disposition: form-data; name=\"file\"; name=\"key\""],
            vec![
                "Content-Disposition: form-data; name=\"file\"",
                "Content-Disposition: form-data; name=\"key\"",
            ],
            vec![
                "Content-Disposition: form-data; name=\"file",
                "Content-Type: a",
            ],
            vec!["Content-Disposition: form-data; name=file x"],
            vec!["Content-Disposition : form-data; name=\"file\""],
            vec!["Content-Disposition: form-data; name=\"file\"", " folded"],
            vec!["Content-Disposition form-data; name=\"file\""],
        ] {
            let part = Part {
                headers: headers.iter().map(|h| h.to_string()).collect(),
                body: b"d".to_vec(),
            };
            let (body, _) = render(b"", &[part], b"");
            assert_refused(&body, b"d", S3ErrorCode::MalformedPOSTRequest);
        }
    }

    #[test]
    fn truncated_form_is_refused_at_finish() {
        let data = b"0123456789";
        let (body, _) = render(b"", &[field("key", "k"), file_part("file", data)], b"\r\n");
        // Cut anywhere before the close delimiter's second dash is complete.
        for len in 0..body.len() - 2 {
            let run = run(&[&body[..len]]);
            let err = run.outcome.expect_err("truncated");
            assert_eq!(
                err.code,
                S3ErrorCode::MalformedPOSTRequest,
                "len {len}: {err}"
            );
            assert!(!run.failed_in_feed, "len {len}");
            assert!(run.before_finish.len() < data.len(), "len {len}");
            assert_eq!(run.before_finish, data[..run.before_finish.len()]);
        }
        // With or without the final CRLF; a lone CR is not it.
        assert_released(&run_one(&body[..body.len() - 2]), data, "no CRLF");
        assert_released(&run_one(&body), data, "CRLF");
        let run = run_one(&body[..body.len() - 1]);
        assert_eq!(
            run.outcome.expect_err("CR").code,
            S3ErrorCode::MalformedPOSTRequest
        );
        assert_eq!(run.before_finish, &data[..9]);
    }

    #[test]
    fn bytes_after_the_close_are_refused() {
        let data = b"0123456789";
        for end in [
            &b"\r\nx"[..],
            b"x",
            b"\r\n\r\n",
            b"\n",
            b"\rx",
            b" \r\n",
            b"--",
        ] {
            let (body, _) = render(b"", &[file_part("file", data)], end);
            let err = assert_refused(&body, data, S3ErrorCode::MalformedPOSTRequest);
            assert!(run_one(&body).failed_in_feed, "{end:?}: {err}");
        }
    }

    #[test]
    fn delimiter_followed_by_other_bytes_is_refused() {
        let data = b"0123456789";
        for tail in ["-x", "x\r\n", "\rx", " x"] {
            let (body, _) = render(b"", &[field("key", "k"), file_part("file", data)], b"");
            let body = String::from_utf8(body).expect("ascii").replacen(
                &format!("--{BOUNDARY}\r\n"),
                &format!("--{BOUNDARY}{tail}"),
                2,
            );
            assert_refused(body.as_bytes(), data, S3ErrorCode::MalformedPOSTRequest);
        }
    }

    #[test]
    fn bare_lf_and_bare_cr_are_refused() {
        let data = b"0123456789";
        let (body, data_at) = render(b"", &[field("key", "k"), file_part("file", data)], b"\r\n");
        let text = String::from_utf8(body).expect("ascii");
        // Every CRLF outside the data, in turn, made a bare LF or a bare CR.
        // (Not the CRLF that starts a delimiter: without it the delimiter is data, below.)
        let delimiter = format!("\r\n--{BOUNDARY}");
        let crlf_at: Vec<usize> = text
            .match_indices("\r\n")
            .map(|(at, _)| at)
            .filter(|&at| !text[at..].starts_with(&delimiter))
            .collect();
        for &at in &crlf_at[..crlf_at.len() - 1] {
            for replacement in ["\n", "\r", "\r\r\n"] {
                let mut tampered = text.clone();
                tampered.replace_range(at..at + 2, replacement);
                let whole = run_one(tampered.as_bytes());
                let err = whole
                    .outcome
                    .as_ref()
                    .expect_err(&format!("CRLF at {at} as {replacement:?}"));
                assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest, "{at}: {err}");
                assert!(whole.before_finish.len() < data.len());
                assert_eq!(whole.before_finish, data[..whole.before_finish.len()]);
            }
        }
        // A bare LF before a boundary is data, not a delimiter: the form then has no file,
        // or no end.
        let no_file = text.replacen(&delimiter, &format!("\n--{BOUNDARY}"), 1);
        assert_refused(no_file.as_bytes(), b"", S3ErrorCode::InvalidArgument);
        let at = text.rfind(&delimiter).expect("close");
        let mut no_close = text.clone();
        no_close.replace_range(at..at + 2, "\n");
        // Everything after the file's headers is now file data; its last byte stays held.
        let rest_is_data = &no_close.as_bytes()[data_at..];
        let err = assert_refused(
            no_close.as_bytes(),
            rest_is_data,
            S3ErrorCode::MalformedPOSTRequest,
        );
        assert!(err.message.contains("before the closing boundary"), "{err}");
        // All LF, as a hand-written form might be.
        let lf_only = text.replace("\r\n", "\n");
        assert_refused(lf_only.as_bytes(), b"", S3ErrorCode::MalformedPOSTRequest);
    }

    #[test]
    fn non_utf8_field_value_and_header_are_refused() {
        let mut part = field("acl", "");
        part.body = vec![b'a', 0xff, b'b'];
        let (body, _) = render(b"", &[part, file_part("file", b"d")], b"");
        let err = assert_refused(&body, b"d", S3ErrorCode::MalformedPOSTRequest);
        assert!(err.message.contains("acl"), "{err}");
        let (mut body, _) = render(b"", &[file_part("file", b"d")], b"");
        let at = body
            .windows(5)
            .position(|w| w == b"photo")
            .expect("filename");
        body[at] = 0xc3;
        assert_refused(&body, b"d", S3ErrorCode::MalformedPOSTRequest);
    }

    // ---- failure, reset ----

    #[test]
    fn failure_sticks_and_reset_starts_over() {
        let data = b"0123456789";
        let (body, _) = render(b"", &[field("key", "k"), file_part("file", data)], b"\r\n");
        let mut reader = MultipartReader::new(BOUNDARY, MultipartLimits::default());
        // A first attempt broken off half way (a retried upstream connection).
        reader
            .feed(Bytes::copy_from_slice(&body[..body.len() - 20]))
            .expect("ok");
        reader.reset();
        assert_eq!(reader.prefix(), None);
        assert_eq!(reader.file_len(), 0);
        let mut released = reader
            .feed(Bytes::copy_from_slice(&body))
            .expect("ok")
            .to_vec();
        released.extend_from_slice(&reader.finish().expect("complete"));
        assert_eq!(released, data);
        // A failed one.
        reader.reset();
        let mut bad = body.clone();
        bad.extend_from_slice(b"x");
        let err = reader
            .feed(Bytes::from(bad))
            .expect_err("garbage after close");
        assert_eq!(reader.feed(Bytes::new()), Err(err.clone()));
        assert_eq!(reader.finish(), Err(err));
        reader.reset();
        assert_eq!(
            reader.feed(Bytes::copy_from_slice(&body)).expect("ok"),
            &data[..9]
        );
        assert_eq!(reader.finish().expect("complete"), &data[9..]);
    }

    // ---- never panics ----

    #[test]
    fn thousands_of_mutated_forms_never_panic_nor_release_the_last_byte_early() {
        let seed = browser_form(b"\r\n--ab\r\n-x").0;
        let limits = MultipartLimits {
            max_field_size: 80,
            max_prefix_size: 1200,
            max_parts: 12,
        };
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..3000 {
            let (body, cuts) = mutated_and_cut(&seed, &mut rng, b"\r\n-\"; =:");
            let run = run_limits(limits, &split_at(&body, &cuts));
            assert!(
                run.before_finish.len() as u64 <= run.file_len.saturating_sub(1),
                "round {round}"
            );
            if run.outcome.is_ok() {
                assert_eq!(run.released().len() as u64, run.file_len, "round {round}");
            }
        }
    }
}
