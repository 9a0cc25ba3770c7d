//! The verifier of aws-chunked streaming uploads (Amazon S3 API Reference, "Signature Version 4:
//! chunked upload" and "… with trailing headers"): a sans-I/O byte-stream state machine fed the
//! raw `Content-Encoding: aws-chunked` body in arbitrary pieces, handing back the decoded payload
//! bytes that may be forwarded upstream.
//!
//! Three framings, chosen by `x-amz-content-sha256` ([`ChunkedMode`]):
//!
//! ```text
//! STREAMING-AWS4-HMAC-SHA256-PAYLOAD          <hex size>;chunk-signature=<sig>\r\n<data>\r\n … 0;chunk-signature=<sig>\r\n\r\n
//! STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER  … 0;chunk-signature=<sig>\r\n<name>:<value>\r\n … x-amz-trailer-signature:<sig>\r\n\r\n
//! STREAMING-UNSIGNED-PAYLOAD-TRAILER          <hex size>\r\n<data>\r\n … 0\r\n<name>:<value>\r\n … \r\n
//! ```
//!
//! The decoder follows hyper's HTTP/1 chunked decoder: the state (`Next`) is named for what the
//! next byte must be, one small function per state, every counter in `Counters`, checked
//! arithmetic and a named limit for every resource. Chunk data is processed in bulk (one slice
//! per state step), never byte by byte.
//!
//! # What is released when
//!
//! - Signed modes: **no byte of a chunk is released before that chunk's signature has been
//!   verified.** Chunk data is hashed as it arrives and copied once into a staging buffer of at
//!   most one chunk (plus [`MIN_STAGING_CAPACITY`] of slack to batch small chunks); a declared
//!   size above `max_chunk_size` is refused before any of it is buffered.
//! - Unsigned mode: data is released as it arrives (there is no per-chunk signature), as
//!   zero-copy slices of the input.
//! - Every mode: the last verified byte(s) are held back until everything that can only be
//!   checked at the end has passed (final chunk signature, decoded length, trailer set, trailer
//!   signature, `Content-MD5`, trailer and header checksums). They are released by
//!   [`BodyVerifier::finish`].
//! - Never more than `x-amz-decoded-content-length` bytes: a chunk that would go past it is
//!   refused as soon as its size line is read.
//!
//! # Leniencies (each one needed by a real client)
//!
//! - Chunk sizes in upper-case hex: aws-sdk-rust writes `{:X}`.
//! - `;chunk-signature=…` (or any other well-formed chunk extension) in unsigned mode is ignored:
//!   some SDK versions send it there, and RFC 9112 §7.1.1 says unknown extensions are ignored.
//! - Optional whitespace around a trailer value is not part of it (RFC 9110 §5.5), as the
//!   trailer canonicalisation of SigV4 (`value.trim()`) also has it.
//! - The canonical trailers of the trailer signature are sorted by name, as aws-sigv4 (the Rust
//!   SDK) signs them; a signature over the trailers in wire order (aws-c-auth) is accepted too.
//!   Both cover exactly the same set of trailers, so neither lets an unsigned trailer through.
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` with no declared trailer: no trailer signature
//!   is required, and the body may end right after the final chunk's size line, without the
//!   empty line (aws-sdk-rust sends nothing after `0;chunk-signature=…\r\n` when it has no
//!   trailer). Every data byte is still covered by the chunk signatures.
//!
//! Everything else is strict: bare LF, whitespace in the size line, missing or malformed
//! signatures in signed modes, trailers not declared in `x-amz-trailer`, duplicated trailers and
//! any byte after the end of the body are refused.
//!
//! # Errors
//!
//! | case | code |
//! |---|---|
//! | chunk or trailer signature mismatch | `SignatureDoesNotMatch` (message names the chunk, 1-based) |
//! | trailer or header checksum mismatch | `BadDigest` ("The CRC32C you specified did not match the calculated checksum.") |
//! | `Content-MD5` mismatch (over the decoded payload) | `BadDigest` ("The Content-MD5 you specified did not match what we received.") |
//! | body ends before the final chunk or inside the trailers; fewer bytes than declared | `IncompleteBody` |
//! | bad framing: hex, CRLF, size-line or trailer-section limits, extensions, trailer lines, bytes after the end | `InvalidArgument` (message says what) |
//! | declared chunk size above `max_chunk_size` (signed modes) | `EntityTooLarge` |
//! | more data than `x-amz-decoded-content-length`; trailer set problems (missing, undeclared, repeated); bad `x-amz-trailer` | `InvalidRequest` |
//!
//! Once an error is returned every later call returns the same error; [`AwsChunkedVerifier::reset`]
//! starts over (the proxy calls it before each upstream attempt, since retries replay the body).

use std::mem;

use bytes::{Bytes, BytesMut};
use sha2::{Digest as _, Sha256};

use super::checksum::{ChecksumAlgorithm, Checksummer};
use super::holdback::{AllChecksPassed, HoldBack};
use super::md5::Md5;
use super::BodyVerifier;
pub use crate::auth::sigv4::chunk_signing::ChunkSigner;
use crate::error::{S3Error, S3ErrorCode};

mod fuzz;
mod mode;
mod trailer;

pub use fuzz::{fuzz_one, fuzz_trailer};
pub use mode::{parse_trailer_header, ChunkedExpectations, ChunkedMode};
use trailer::ReceivedTrailer;

/// Longest size line accepted, from the first hex digit to the CR (exclusive). A signed line is
/// at most 16 hex digits + `;chunk-signature=` + 64 hex digits = 97 bytes; the rest is slack for
/// extensions some clients add in unsigned mode. Longer lines are refused, never buffered.
pub const MAX_SIZE_LINE_LEN: usize = 4096;

/// Most hex digits in a chunk size: 16 digits hold any `u64`. Leading zeros count too, so a
/// size line cannot be made arbitrarily long with them.
pub const MAX_SIZE_DIGITS: usize = 16;

/// Largest trailer section accepted, every trailer line with its CRLF plus the final empty line.
/// The five checksum trailers and the trailer signature take under 300 bytes.
pub const MAX_TRAILER_SECTION_LEN: usize = 16 * 1024;

/// Most trailer lines accepted: one per checksum algorithm plus `x-amz-trailer-signature`.
pub const MAX_TRAILERS: usize = ChecksumAlgorithm::ALL.len() + 1;

/// Smallest staging buffer allocated for signed chunk data (when the decoded length is at least
/// that big): lets many small chunks share one allocation, so consecutive verified chunks are
/// released as one contiguous, zero-copy piece.
pub const MIN_STAGING_CAPACITY: usize = 256 * 1024;

/// How many verified bytes of a signed upload stay in the staging buffer until `finish`. One is
/// enough for the backend to see a short body on failure, and keeps releases contiguous.
const HELD_BACK_SIGNED_BYTES: usize = 1;

/// Hex digits of a SigV4 signature.
const SIGNATURE_HEX_LEN: usize = 64;

/// The only chunk extension with a meaning (signed modes).
const CHUNK_SIGNATURE_EXTENSION: &[u8] = b"chunk-signature=";

/// The trailer carrying the signature of the other trailers.
pub const TRAILER_SIGNATURE_NAME: &str = "x-amz-trailer-signature";

// ---------------------------------------------------------------------------------------------
// The state machine
// ---------------------------------------------------------------------------------------------

/// Proof that one signed chunk's signature matched; only
/// [`AwsChunkedVerifier::verify_chunk_signature`] makes one, and staged data is marked
/// releasable only in exchange for it.
struct ChunkSignatureValid(());

/// Proof that every end-of-body check passed; only [`AwsChunkedVerifier::check_end`] makes one,
/// and the held-back tail is released only in exchange for it.
#[derive(Debug)]
struct BodyVerified(());

impl AllChecksPassed for BodyVerified {}

/// Where the decoder is, named for what must come next.
#[derive(Debug)]
enum Next {
    /// Hex digits of a chunk size, then `;` or CR.
    Size,
    /// Chunk extension bytes up to the CR ending the size line.
    Extension,
    /// The LF ending the size line.
    SizeLf,
    /// `Counters::chunk_remaining` bytes of chunk data.
    Data,
    /// The CR after the chunk data.
    DataCr,
    /// The LF after the chunk data.
    DataLf,
    /// A trailer line, or the CR of the empty line ending the body.
    Trailer,
    /// The LF ending a trailer line (or the body).
    TrailerLf,
    /// Nothing: the body is complete and verified; `finish` releases the tail.
    End(BodyVerified),
    /// `finish` released everything.
    Released,
    /// A check failed; this error is repeated to every later call.
    Failed(S3Error),
}

/// Every counter of the decoder.
#[derive(Debug, Default, Clone)]
struct Counters {
    /// Index of the chunk being read, from 0 (messages count from 1).
    chunk_index: u64,
    /// Hex digits read on the current size line.
    size_digits: usize,
    /// Bytes of the current size line so far (digits and extension).
    size_line_len: usize,
    /// The value of the hex digits read on the current size line.
    size_parsed: u64,
    /// The declared size of the current chunk.
    chunk_size: u64,
    /// Data bytes of the current chunk still to come.
    chunk_remaining: u64,
    /// Sum of the sizes of the chunks started so far; never above the decoded length.
    decoded_declared: u64,
    /// Bytes of the trailer section so far.
    trailer_section_len: usize,
    /// Trailer lines so far.
    trailer_count: usize,
}

/// The running digests of the decoded payload, each present only when it will be used.
#[derive(Debug, Clone)]
struct PayloadDigests {
    md5: Option<Md5>,
    /// One per distinct algorithm among the declared trailers and the header checksums.
    checksums: Vec<Checksummer>,
}

impl PayloadDigests {
    fn fresh(expect: &ChunkedExpectations) -> PayloadDigests {
        let mut algorithms: Vec<ChecksumAlgorithm> = Vec::new();
        let wanted = expect.declared_trailers.iter().copied().chain(
            expect
                .header_checksums
                .iter()
                .map(|(algorithm, _)| *algorithm),
        );
        for algorithm in wanted {
            if !algorithms.contains(&algorithm) {
                algorithms.push(algorithm);
            }
        }
        PayloadDigests {
            md5: (expect.compute_md5 || expect.content_md5.is_some()).then(Md5::new),
            checksums: algorithms.into_iter().map(Checksummer::new).collect(),
        }
    }

    fn update(&mut self, data: &[u8]) {
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        for checksummer in &mut self.checksums {
            checksummer.update(data);
        }
    }

    fn computed(&self, algorithm: ChecksumAlgorithm) -> Option<Vec<u8>> {
        self.checksums
            .iter()
            .find(|c| c.algorithm() == algorithm)
            .map(Checksummer::finalize)
    }
}

/// Verified payload on its way out: signed chunk data staged here until its proof, then handed
/// to the shared [`HoldBack`].
///
/// Signed modes stage chunk data contiguously in `staging`; `staging[..verified]` passed its
/// chunk signature. A feed releases all verified bytes but the last [`HELD_BACK_SIGNED_BYTES`]
/// as one `split_to` of the buffer, so releasing copies nothing. When a new chunk does not fit,
/// a fresh buffer is started and only the held-back byte is copied over.
///
/// (The pieces of one feed are joined, a second copy, only when a fresh buffer was started in
/// the middle of that feed and more chunks were verified after it: at most once per
/// [`MIN_STAGING_CAPACITY`] bytes with small chunks.)
///
/// Unsigned mode releases slices of the input and holds back the most recent one
/// ([`HoldBack::hold_piece`]); the slices of one feed are joined (their only copy) when a feed
/// spans several chunks.
#[derive(Debug, Default)]
struct Outbox {
    staging: BytesMut,
    verified: usize,
    /// Pieces released by the current feed, and the unsigned mode's held-back slice.
    holdback: HoldBack,
}

impl Outbox {
    /// Make room for a signed chunk of `size` bytes without reallocating while it arrives.
    /// Called at a chunk boundary, when every staged byte is verified. `batch` is how much the
    /// rest of the body may still bring, to keep small uploads from allocating the minimum.
    fn reserve_chunk(&mut self, size: usize, batch: usize) {
        if self.staging.capacity() - self.staging.len() >= size {
            return;
        }
        self.release_verified();
        let capacity = size
            .max(MIN_STAGING_CAPACITY.min(batch))
            .saturating_add(self.staging.len());
        let mut fresh = BytesMut::with_capacity(capacity);
        fresh.extend_from_slice(&self.staging);
        self.staging = fresh;
    }

    /// Signed chunk data, not yet releasable.
    fn stage(&mut self, data: &[u8]) {
        self.staging.extend_from_slice(data);
    }

    /// Everything staged so far passed its chunk signature.
    fn accept_chunk(&mut self, _proof: ChunkSignatureValid) {
        self.verified = self.staging.len();
    }

    /// Release the verified staged bytes, but the held-back ones.
    fn release_verified(&mut self) {
        if self.verified > HELD_BACK_SIGNED_BYTES {
            let releasable = self.verified - HELD_BACK_SIGNED_BYTES;
            self.holdback
                .release(self.staging.split_to(releasable).freeze());
            self.verified = HELD_BACK_SIGNED_BYTES;
        }
    }

    /// Unsigned data: hold this piece back, release the one held before.
    fn pass_unsigned(&mut self, piece: Bytes) {
        self.holdback.hold_piece(piece);
    }

    /// What the current feed releases: one piece as it is, several joined.
    fn take_released(&mut self) -> Bytes {
        self.release_verified();
        self.holdback.take_released()
    }

    /// The held-back tail, once the whole body is verified.
    fn release_rest(&mut self, proof: BodyVerified) -> Bytes {
        self.release_verified();
        let staged = self.staging.split_to(self.verified).freeze();
        self.verified = 0;
        self.holdback.release(staged);
        self.holdback.release_all(proof)
    }
}

/// Verifies an aws-chunked body against its [`ChunkedExpectations`]; see the module docs.
#[derive(Debug)]
pub struct AwsChunkedVerifier {
    expect: ChunkedExpectations,
    next: Next,
    counts: Counters,
    /// The extension of the current size line, or the current trailer line; bounded by
    /// [`MAX_SIZE_LINE_LEN`] and [`MAX_TRAILER_SECTION_LEN`].
    line: Vec<u8>,
    /// The signature claimed on the current chunk's size line (signed modes).
    claimed_signature: Option<String>,
    /// The signature the next chunk (or the trailers) is chained to.
    previous_signature: String,
    /// SHA-256 of the current chunk's data (signed modes).
    chunk_sha256: Sha256,
    digests: PayloadDigests,
    trailers: Vec<ReceivedTrailer>,
    trailer_signature: Option<String>,
    outbox: Outbox,
    /// Lower-case hex MD5 of the payload, after a successful `finish` with `compute_md5` or
    /// `content_md5`.
    md5_hex: Option<String>,
}

impl AwsChunkedVerifier {
    /// A verifier expecting `expect`. Refuses (`InvalidRequest`) trailers declared for
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, which has no trailer section, and a trailer declared
    /// twice.
    pub fn new(expect: ChunkedExpectations) -> Result<AwsChunkedVerifier, S3Error> {
        if matches!(expect.mode, ChunkedMode::Signed(_)) && !expect.declared_trailers.is_empty() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "x-amz-trailer requires x-amz-content-sha256 \
                 STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or STREAMING-UNSIGNED-PAYLOAD-TRAILER.",
            ));
        }
        for (index, algorithm) in expect.declared_trailers.iter().enumerate() {
            if expect.declared_trailers[..index].contains(algorithm) {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "The trailer {} is named twice in x-amz-trailer.",
                        algorithm.header_name()
                    ),
                ));
            }
        }
        Ok(AwsChunkedVerifier::fresh(expect))
    }

    fn fresh(expect: ChunkedExpectations) -> AwsChunkedVerifier {
        let previous_signature = expect
            .mode
            .signer()
            .map(|signer| signer.seed_signature().to_owned())
            .unwrap_or_default();
        AwsChunkedVerifier {
            digests: PayloadDigests::fresh(&expect),
            expect,
            next: Next::Size,
            counts: Counters::default(),
            line: Vec::new(),
            claimed_signature: None,
            previous_signature,
            chunk_sha256: Sha256::new(),
            trailers: Vec::new(),
            trailer_signature: None,
            outbox: Outbox::default(),
            md5_hex: None,
        }
    }

    /// What this verifier checks.
    pub fn expectations(&self) -> &ChunkedExpectations {
        &self.expect
    }

    /// Back to the state of [`new`](Self::new): a Pingora retry replays the body from its start.
    pub fn reset(&mut self) {
        let expect = self.expect.clone();
        *self = AwsChunkedVerifier::fresh(expect);
    }

    /// Lower-case hex MD5 of the decoded payload, after a successful
    /// [`finish`](BodyVerifier::finish) when `compute_md5` asked for it.
    pub fn md5_hex(&self) -> Option<String> {
        self.md5_hex.clone()
    }

    /// Payload bytes announced by the chunks read so far.
    pub fn decoded_len_so_far(&self) -> u64 {
        self.counts.decoded_declared
    }

    /// Record a failure: nothing held back may ever be released.
    fn fail(&mut self, err: S3Error) -> S3Error {
        self.outbox = Outbox::default();
        self.next = Next::Failed(err.clone());
        err
    }

    /// 1-based number of the current chunk, for messages.
    fn chunk_number(&self) -> u64 {
        self.counts.chunk_index.saturating_add(1)
    }

    fn framing_error(&self, what: impl std::fmt::Display) -> S3Error {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!(
                "Malformed aws-chunked body: chunk {}: {what}.",
                self.chunk_number()
            ),
        )
    }

    fn trailer_error(&self, what: impl std::fmt::Display) -> S3Error {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("Malformed aws-chunked body: trailer section: {what}."),
        )
    }

    /// Run the state machine over one input piece. Returns when the piece is used up.
    fn decode(&mut self, input: &Bytes) -> Result<(), S3Error> {
        let mut pos = 0;
        while pos < input.len() {
            let rest = &input[pos..];
            let used = match &self.next {
                Next::Size => self.read_size(rest)?,
                Next::Extension => self.read_extension(rest)?,
                Next::SizeLf => self.read_size_lf(rest)?,
                Next::Data => self.read_data(input, pos)?,
                Next::DataCr => self.read_data_cr(rest)?,
                Next::DataLf => self.read_data_lf(rest)?,
                Next::Trailer => self.read_trailer(rest)?,
                Next::TrailerLf => self.read_trailer_lf(rest)?,
                Next::End(_) => {
                    return Err(S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        "Malformed aws-chunked body: bytes after the end of the body.",
                    ))
                }
                Next::Released | Next::Failed(_) => {
                    return Err(S3Error::new(
                        S3ErrorCode::InternalError,
                        "The aws-chunked verifier was fed after it stopped.",
                    ))
                }
            };
            pos += used;
        }
        Ok(())
    }

    /// `Size`: hex digits, then `;` (extension) or CR. Returns the bytes used.
    fn read_size(&mut self, rest: &[u8]) -> Result<usize, S3Error> {
        let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        for &digit in &rest[..digits] {
            self.add_size_digit(digit)?;
        }
        let Some(&delimiter) = rest.get(digits) else {
            return Ok(digits);
        };
        if self.counts.size_digits == 0 {
            return Err(self.framing_error(format_args!(
                "the size line starts with {}, not a hex digit",
                describe_byte(delimiter)
            )));
        }
        self.next = match delimiter {
            b';' => Next::Extension,
            b'\r' => Next::SizeLf,
            other => {
                return Err(
                    self.framing_error(format_args!("{} in the chunk size", describe_byte(other)))
                )
            }
        };
        self.counts.size_line_len += 1;
        Ok(digits + 1)
    }

    /// One more hex digit of the chunk size, with the digit-count limit and checked arithmetic.
    fn add_size_digit(&mut self, digit: u8) -> Result<(), S3Error> {
        self.counts.size_digits += 1;
        self.counts.size_line_len += 1;
        let value = char::from(digit).to_digit(16).map(u64::from);
        let size = value.and_then(|value| {
            self.counts
                .size_parsed
                .checked_mul(16)
                .and_then(|size| size.checked_add(value))
        });
        match size {
            Some(size) if self.counts.size_digits <= MAX_SIZE_DIGITS => {
                self.counts.size_parsed = size;
                Ok(())
            }
            _ => Err(self.framing_error(format_args!(
                "the chunk size has more than {MAX_SIZE_DIGITS} hex digits"
            ))),
        }
    }

    /// `Extension`: bytes up to the CR, kept for [`Self::parse_extension`].
    fn read_extension(&mut self, rest: &[u8]) -> Result<usize, S3Error> {
        let end = rest.iter().position(|&b| b == b'\r' || b == b'\n');
        let taken = end.unwrap_or(rest.len());
        let line_len = self.counts.size_line_len.saturating_add(taken);
        if line_len > MAX_SIZE_LINE_LEN {
            return Err(self.framing_error(format_args!(
                "the size line is longer than {MAX_SIZE_LINE_LEN} bytes"
            )));
        }
        self.counts.size_line_len = line_len;
        self.line.extend_from_slice(&rest[..taken]);
        match end.map(|at| rest[at]) {
            None => Ok(taken),
            Some(b'\r') => {
                self.next = Next::SizeLf;
                Ok(taken + 1)
            }
            Some(_) => Err(self.framing_error("bare LF in the size line (CRLF expected)")),
        }
    }

    /// `SizeLf`: the LF ending the size line; then the chunk begins.
    fn read_size_lf(&mut self, rest: &[u8]) -> Result<usize, S3Error> {
        if rest.first() != Some(&b'\n') {
            return Err(self.framing_error("the size line does not end with CRLF"));
        }
        self.next = self.start_chunk()?;
        Ok(1)
    }

    /// The size line is complete: check the extension and the size, then expect the data (or,
    /// for the zero-size chunk, verify it and expect the trailers).
    fn start_chunk(&mut self) -> Result<Next, S3Error> {
        self.claimed_signature = self.parse_extension()?;
        let size = mem::take(&mut self.counts.size_parsed);
        self.counts.size_digits = 0;
        self.counts.size_line_len = 0;
        self.line.clear();

        let signed = self.expect.mode.signer().is_some();
        if signed && size > self.expect.max_chunk_size {
            return Err(S3Error::new(
                S3ErrorCode::EntityTooLarge,
                format!(
                    "Chunk {} declares {size} bytes; chunks larger than {} bytes are not accepted.",
                    self.chunk_number(),
                    self.expect.max_chunk_size
                ),
            ));
        }
        let still_expected = self
            .expect
            .decoded_length
            .saturating_sub(self.counts.decoded_declared);
        if size > still_expected {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!(
                    "Chunk {} carries more data than x-amz-decoded-content-length ({}) declares.",
                    self.chunk_number(),
                    self.expect.decoded_length
                ),
            ));
        }
        if size == 0 {
            return self.finish_chunks();
        }
        self.counts.decoded_declared += size; // size <= still_expected: cannot overflow
        self.counts.chunk_size = size;
        self.counts.chunk_remaining = size;
        if signed {
            // size <= max_chunk_size was checked; it is refused if it does not fit memory.
            let size = usize::try_from(size).map_err(|_| {
                S3Error::new(
                    S3ErrorCode::EntityTooLarge,
                    "The chunk is larger than this machine can buffer.",
                )
            })?;
            let batch = usize::try_from(still_expected).unwrap_or(usize::MAX);
            self.outbox.reserve_chunk(size, batch);
            self.chunk_sha256 = Sha256::new();
        }
        Ok(Next::Data)
    }

    /// Check the extension of the size line just read. Signed modes: exactly
    /// `chunk-signature=<64 hex digits>`, returned. Unsigned mode: any extensions made of visible
    /// ASCII are ignored (see the module docs).
    fn parse_extension(&self) -> Result<Option<String>, S3Error> {
        let extension = self.line.as_slice();
        if self.expect.mode.signer().is_none() {
            if extension
                .iter()
                .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\t')
            {
                return Ok(None);
            }
            return Err(self.framing_error("the chunk extension holds a control character"));
        }
        let signature = extension
            .strip_prefix(CHUNK_SIGNATURE_EXTENSION)
            .filter(|sig| sig.len() == SIGNATURE_HEX_LEN && sig.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| {
                self.framing_error("the size line must end with ;chunk-signature=<64 hex digits>")
            })?;
        // All ASCII hex digits: valid UTF-8.
        Ok(Some(String::from_utf8_lossy(signature).into_owned()))
    }

    /// `Data`: as much of the chunk as this piece holds, in one step.
    fn read_data(&mut self, input: &Bytes, pos: usize) -> Result<usize, S3Error> {
        let available = input.len() - pos;
        let taken = usize::try_from(self.counts.chunk_remaining)
            .map_or(available, |remaining| remaining.min(available));
        let data = &input[pos..pos + taken];
        self.digests.update(data);
        if self.expect.mode.signer().is_some() {
            self.chunk_sha256.update(data);
            self.outbox.stage(data);
        } else {
            self.outbox.pass_unsigned(input.slice(pos..pos + taken));
        }
        // taken <= chunk_remaining.
        self.counts.chunk_remaining -= taken as u64;
        if self.counts.chunk_remaining == 0 {
            self.next = Next::DataCr;
        }
        Ok(taken)
    }

    /// `DataCr`: the CR after the data. Anything else means the chunk is longer than declared.
    fn read_data_cr(&mut self, rest: &[u8]) -> Result<usize, S3Error> {
        if rest.first() != Some(&b'\r') {
            return Err(self.framing_error(format_args!(
                "the {} bytes of data are not followed by CRLF",
                self.counts.chunk_size
            )));
        }
        self.next = Next::DataLf;
        Ok(1)
    }

    /// `DataLf`: the LF after the data; a signed chunk is verified and becomes releasable.
    fn read_data_lf(&mut self, rest: &[u8]) -> Result<usize, S3Error> {
        if rest.first() != Some(&b'\n') {
            return Err(self.framing_error(format_args!(
                "the {} bytes of data are not followed by CRLF",
                self.counts.chunk_size
            )));
        }
        if self.expect.mode.signer().is_some() {
            let data_sha256: [u8; 32] = mem::take(&mut self.chunk_sha256).finalize().into();
            let proof = self.verify_chunk_signature(&data_sha256)?;
            self.outbox.accept_chunk(proof);
        }
        self.counts.chunk_index = self.counts.chunk_index.saturating_add(1);
        self.next = Next::Size;
        Ok(1)
    }

    /// The zero-size chunk: verify it (signed modes) and the decoded length, then expect the
    /// trailer section.
    fn finish_chunks(&mut self) -> Result<Next, S3Error> {
        if self.expect.mode.signer().is_some() {
            let empty: [u8; 32] = Sha256::digest([]).into();
            // Nothing is staged by the final chunk: the proof has nothing to unlock.
            let _proof = self.verify_chunk_signature(&empty)?;
        }
        if self.counts.decoded_declared != self.expect.decoded_length {
            return Err(S3Error::new(
                S3ErrorCode::IncompleteBody,
                format!(
                    "You did not provide the number of bytes specified by the \
                     x-amz-decoded-content-length HTTP header ({} of {}).",
                    self.counts.decoded_declared, self.expect.decoded_length
                ),
            ));
        }
        Ok(Next::Trailer)
    }

    /// Compare the current chunk's claimed signature with the one computed over its data, in
    /// constant time, and advance the chain.
    fn verify_chunk_signature(
        &mut self,
        data_sha256: &[u8; 32],
    ) -> Result<ChunkSignatureValid, S3Error> {
        let claimed = self.claimed_signature.take().unwrap_or_default();
        let Some(signer) = self.expect.mode.signer() else {
            return Err(S3Error::new(
                S3ErrorCode::InternalError,
                "An unsigned aws-chunked body has no chunk signature to verify.",
            ));
        };
        if let Err(string_to_sign) =
            signer.check_chunk(&self.previous_signature, data_sha256, &claimed)
        {
            return Err(S3Error {
                code: S3ErrorCode::SignatureDoesNotMatch,
                message: format!(
                    "The signature of aws-chunked chunk {} does not match the signature we \
                     calculated. Check your key and signing method.",
                    self.chunk_number()
                ),
                string_to_sign: Some(string_to_sign),
                canonical_request: None,
                region: None,
            });
        }
        self.previous_signature = claimed;
        Ok(ChunkSignatureValid(()))
    }

    /// `Trailer`: a trailer line up to its CR (an empty one ends the body).
    fn read_trailer(&mut self, rest: &[u8]) -> Result<usize, S3Error> {
        let end = rest.iter().position(|&b| b == b'\r' || b == b'\n');
        let taken = end.unwrap_or(rest.len());
        let section_len = self.counts.trailer_section_len.saturating_add(taken);
        if section_len > MAX_TRAILER_SECTION_LEN {
            return Err(
                self.trailer_error(format_args!("longer than {MAX_TRAILER_SECTION_LEN} bytes"))
            );
        }
        self.counts.trailer_section_len = section_len;
        self.line.extend_from_slice(&rest[..taken]);
        match end.map(|at| rest[at]) {
            None => Ok(taken),
            Some(b'\r') => {
                self.next = Next::TrailerLf;
                Ok(taken + 1)
            }
            Some(_) => Err(self.trailer_error("bare LF (CRLF expected)")),
        }
    }

    /// `TrailerLf`: the LF ending a trailer line; after the empty line, the end checks.
    fn read_trailer_lf(&mut self, rest: &[u8]) -> Result<usize, S3Error> {
        if rest.first() != Some(&b'\n') {
            return Err(self.trailer_error("a line does not end with CRLF"));
        }
        self.counts.trailer_section_len = self.counts.trailer_section_len.saturating_add(2);
        if self.counts.trailer_section_len > MAX_TRAILER_SECTION_LEN {
            return Err(
                self.trailer_error(format_args!("longer than {MAX_TRAILER_SECTION_LEN} bytes"))
            );
        }
        if self.line.is_empty() {
            self.next = Next::End(self.check_end()?);
        } else {
            let line = mem::take(&mut self.line);
            self.add_trailer(&line)?;
            self.line = line;
            self.line.clear();
            self.next = Next::Trailer;
        }
        Ok(1)
    }

    /// Everything that can only be checked at the end, in this order: the declared trailers all
    /// arrived, the trailer signature, `Content-MD5`, each trailer checksum, each header checksum.
    fn check_end(&mut self) -> Result<BodyVerified, S3Error> {
        for declared in &self.expect.declared_trailers {
            if !self.trailers.iter().any(|t| t.algorithm == *declared) {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "The trailer {} declared in x-amz-trailer was not sent.",
                        declared.header_name()
                    ),
                ));
            }
        }
        if let ChunkedMode::SignedWithTrailer(signer) = &self.expect.mode {
            self.check_trailer_signature(signer)?;
        }
        if let (Some(expected), Some(md5)) = (&self.expect.content_md5, &self.digests.md5) {
            if md5.clone().finalize().as_slice() != expected.as_slice() {
                return Err(S3Error::new(
                    S3ErrorCode::BadDigest,
                    "The Content-MD5 you specified did not match what we received.",
                ));
            }
        }
        let from_trailers = self.trailers.iter().map(|t| (t.algorithm, &t.digest));
        let from_headers = self.expect.header_checksums.iter().map(|(a, d)| (*a, d));
        for (algorithm, expected) in from_trailers.chain(from_headers) {
            if self.digests.computed(algorithm).as_ref() != Some(expected) {
                return Err(S3Error::new(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        algorithm.algorithm_name()
                    ),
                ));
            }
        }
        Ok(BodyVerified(()))
    }
}
/// A byte for an error message: the character if printable, else its hex value.
fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", char::from(b))
    } else {
        format!("byte 0x{b:02x}")
    }
}

impl BodyVerifier for AwsChunkedVerifier {
    fn feed(&mut self, input: Bytes) -> Result<Bytes, S3Error> {
        if let Next::Failed(err) = &self.next {
            return Err(err.clone());
        }
        match self.decode(&input) {
            Ok(()) => Ok(self.outbox.take_released()),
            Err(err) => Err(self.fail(err)),
        }
    }

    fn finish(&mut self) -> Result<Bytes, S3Error> {
        match mem::replace(&mut self.next, Next::Released) {
            Next::End(proof) => {
                self.md5_hex = self
                    .digests
                    .md5
                    .as_ref()
                    .map(|md5| hex::encode(md5.clone().finalize()));
                Ok(self.outbox.release_rest(proof))
            }
            Next::Released => Ok(Bytes::new()),
            Next::Failed(err) => Err(self.fail(err)),
            // aws-sdk-rust, signed with an empty trailer section: see the module docs.
            Next::Trailer
                if self.counts.trailer_section_len == 0
                    && self.line.is_empty()
                    && self.expect.declared_trailers.is_empty()
                    && matches!(self.expect.mode, ChunkedMode::SignedWithTrailer(_)) =>
            {
                match self.check_end() {
                    Ok(proof) => {
                        self.next = Next::End(proof);
                        self.finish()
                    }
                    Err(err) => Err(self.fail(err)),
                }
            }
            Next::Trailer | Next::TrailerLf => Err(self.fail(S3Error::new(
                S3ErrorCode::IncompleteBody,
                "The aws-chunked body ended inside its trailer section.",
            ))),
            Next::Size
            | Next::Extension
            | Next::SizeLf
            | Next::Data
            | Next::DataCr
            | Next::DataLf => Err(self.fail(S3Error::new(
                S3ErrorCode::IncompleteBody,
                "The aws-chunked body ended before its final zero-length chunk.",
            ))),
        }
    }

    fn reset(&mut self) {
        AwsChunkedVerifier::reset(self);
    }

    fn md5_hex(&self) -> Option<String> {
        AwsChunkedVerifier::md5_hex(self)
    }
}

#[cfg(test)]
mod tests;
