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
//! The decoder follows hyper's HTTP/1 chunked decoder: the state ([`Next`]) is named for what the
//! next byte must be, one small function per state, every counter in [`Counters`], checked
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
//!   signature, trailer and header checksums). They are released by [`BodyVerifier::finish`].
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
//! | body ends before the final chunk or inside the trailers; fewer bytes than declared | `IncompleteBody` |
//! | bad framing: hex, CRLF, size-line or trailer-section limits, extensions, trailer lines, bytes after the end | `InvalidArgument` (message says what) |
//! | declared chunk size above `max_chunk_size` (signed modes) | `EntityTooLarge` |
//! | more data than `x-amz-decoded-content-length`; trailer set problems (missing, undeclared, repeated); bad `x-amz-trailer` | `InvalidRequest` |
//!
//! Once an error is returned every later call returns the same error; [`AwsChunkedVerifier::reset`]
//! starts over (the proxy calls it before each upstream attempt, since retries replay the body).

use std::mem;

use crate::body::join;
use bytes::{Bytes, BytesMut};
use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::checksum::{ChecksumAlgorithm, Checksummer};
use super::BodyVerifier;
pub use crate::auth::sigv4::chunk_signing::ChunkSigner;
use crate::auth::sigv4::{Authorized, PayloadMode};
use crate::error::{S3Error, S3ErrorCode};

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
// What the request head promised
// ---------------------------------------------------------------------------------------------

/// The aws-chunked framing of an upload, from its `x-amz-content-sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkedMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every chunk signed, no trailers.
    Signed(ChunkSigner),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: every chunk signed, then signed trailers.
    SignedWithTrailer(ChunkSigner),
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned chunks, then (checksum) trailers.
    UnsignedWithTrailer,
}

impl ChunkedMode {
    /// The mode of a verified request; `None` when its payload is not aws-chunked with an HMAC
    /// signature (plain payloads, and SigV4A streaming, which is not implemented).
    pub fn from_authorized(authorized: &Authorized) -> Option<ChunkedMode> {
        match authorized.payload {
            PayloadMode::StreamingSigned => Some(ChunkedMode::Signed(
                ChunkSigner::from_authorized(authorized),
            )),
            PayloadMode::StreamingSignedTrailer => Some(ChunkedMode::SignedWithTrailer(
                ChunkSigner::from_authorized(authorized),
            )),
            PayloadMode::StreamingUnsignedTrailer => Some(ChunkedMode::UnsignedWithTrailer),
            PayloadMode::Unsigned | PayloadMode::Sha256(_) | PayloadMode::StreamingEcdsa => None,
        }
    }

    fn signer(&self) -> Option<&ChunkSigner> {
        match self {
            ChunkedMode::Signed(signer) | ChunkedMode::SignedWithTrailer(signer) => Some(signer),
            ChunkedMode::UnsignedWithTrailer => None,
        }
    }
}

/// What the request head promised about an aws-chunked body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedExpectations {
    /// The framing and, for signed modes, the signature chain.
    pub mode: ChunkedMode,
    /// `x-amz-decoded-content-length`: exactly this many payload bytes, never more released.
    pub decoded_length: u64,
    /// The trailers named in `x-amz-trailer` ([`parse_trailer_header`]); each must arrive once.
    pub declared_trailers: Vec<ChecksumAlgorithm>,
    /// `x-amz-checksum-*` sent as headers rather than trailers, decoded: checked too.
    pub header_checksums: Vec<(ChecksumAlgorithm, Vec<u8>)>,
    /// `limits.max_chunk_size`: largest signed chunk buffered for verification.
    pub max_chunk_size: u64,
    /// Compute the payload MD5 (the ETag a plain HTTP backend does not give).
    pub compute_md5: bool,
}

/// Parse `x-amz-trailer`: a comma-separated list of trailer names, case-insensitive, each one of
/// `x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`. Empty list elements are skipped
/// (RFC 9110 §5.6.1); an unknown or repeated name is refused with `InvalidRequest` naming it.
pub fn parse_trailer_header(value: &str) -> Result<Vec<ChecksumAlgorithm>, S3Error> {
    let mut declared = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let algorithm = ChecksumAlgorithm::from_header_name(name).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("The trailer {name} named in x-amz-trailer is not supported."),
            )
        })?;
        if declared.contains(&algorithm) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("The trailer {name} is named twice in x-amz-trailer."),
            ));
        }
        declared.push(algorithm);
    }
    Ok(declared)
}

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

/// One trailer as received.
#[derive(Debug, Clone)]
struct ReceivedTrailer {
    algorithm: ChecksumAlgorithm,
    /// The trimmed value as sent (for the canonical trailers).
    value: String,
    /// The decoded digest.
    digest: Vec<u8>,
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
            md5: expect.compute_md5.then(Md5::new),
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

/// Verified payload on its way out.
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
/// Unsigned mode releases slices of the input and holds back the most recent one; the slices
/// of one feed are joined (their only copy) when a feed spans several chunks.
#[derive(Debug, Default)]
struct Outbox {
    staging: BytesMut,
    verified: usize,
    held: Bytes,
    /// Pieces released by the current feed, in order.
    ready: Vec<Bytes>,
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

    /// Move the verified staged bytes, but the held-back ones, to `ready`.
    fn release_verified(&mut self) {
        if self.verified > HELD_BACK_SIGNED_BYTES {
            let releasable = self.verified - HELD_BACK_SIGNED_BYTES;
            self.ready.push(self.staging.split_to(releasable).freeze());
            self.verified = HELD_BACK_SIGNED_BYTES;
        }
    }

    /// Unsigned data: hold this piece back, release the one held before.
    fn pass_unsigned(&mut self, piece: Bytes) {
        if piece.is_empty() {
            return;
        }
        let previous = mem::replace(&mut self.held, piece);
        if !previous.is_empty() {
            self.ready.push(previous);
        }
    }

    /// What the current feed releases: one piece as it is, several joined.
    fn take_released(&mut self) -> Bytes {
        self.release_verified();
        join(&mut self.ready)
    }

    /// The held-back tail, once the whole body is verified.
    fn release_rest(&mut self, _proof: BodyVerified) -> Bytes {
        self.release_verified();
        let staged = self.staging.split_to(self.verified).freeze();
        self.verified = 0;
        self.ready.push(staged);
        self.ready.push(mem::take(&mut self.held));
        join(&mut self.ready)
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
    /// Lower-case hex MD5 of the payload, after a successful `finish` with `compute_md5`.
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

    /// One `name:value` trailer line: well-formed, declared, not repeated, decodable.
    fn add_trailer(&mut self, line: &[u8]) -> Result<(), S3Error> {
        self.counts.trailer_count += 1;
        if self.counts.trailer_count > MAX_TRAILERS {
            return Err(self.trailer_error(format_args!("more than {MAX_TRAILERS} trailers")));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(self.trailer_error("a trailer line has no ':'"));
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
            return Err(self.trailer_error("a trailer name is not a valid field name"));
        }
        if !value
            .iter()
            .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\t')
        {
            return Err(self.trailer_error("a trailer value holds a control or non-ASCII byte"));
        }
        // Token bytes and visible ASCII: valid UTF-8.
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let value = String::from_utf8_lossy(value).into_owned();

        if name == TRAILER_SIGNATURE_NAME {
            if !matches!(self.expect.mode, ChunkedMode::SignedWithTrailer(_)) {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "The trailer x-amz-trailer-signature is only allowed with \
                     STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.",
                ));
            }
            if self.trailer_signature.is_some() {
                return Err(repeated_trailer(&name));
            }
            self.trailer_signature = Some(value);
            return Ok(());
        }
        let algorithm = ChecksumAlgorithm::from_header_name(&name)
            .filter(|algorithm| self.expect.declared_trailers.contains(algorithm))
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!("The trailer {name} was not declared in x-amz-trailer."),
                )
            })?;
        if self.trailers.iter().any(|t| t.algorithm == algorithm) {
            return Err(repeated_trailer(&name));
        }
        let digest = algorithm.decode_value(value.as_bytes())?;
        self.trailers.push(ReceivedTrailer {
            algorithm,
            value,
            digest,
        });
        Ok(())
    }

    /// Everything that can only be checked at the end, in this order: the declared trailers all
    /// arrived, the trailer signature, each trailer checksum, each header checksum.
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

    /// The `x-amz-trailer-signature` over the canonical trailers, chained to the final chunk.
    /// Required when a trailer is declared (see the module docs for the other case).
    fn check_trailer_signature(&self, signer: &ChunkSigner) -> Result<(), S3Error> {
        let Some(claimed) = &self.trailer_signature else {
            if self.expect.declared_trailers.is_empty() {
                return Ok(());
            }
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The trailer x-amz-trailer-signature is missing.",
            ));
        };
        let mut sorted: Vec<&ReceivedTrailer> = self.trailers.iter().collect();
        sorted.sort_by_key(|t| t.algorithm.header_name());
        let wire_order: Vec<&ReceivedTrailer> = self.trailers.iter().collect();
        let mut first_string_to_sign = None;
        for order in [sorted, wire_order] {
            let canonical_sha256: [u8; 32] = Sha256::digest(canonical_trailers(&order)).into();
            match signer.check_trailer(&self.previous_signature, &canonical_sha256, claimed) {
                Ok(()) => return Ok(()),
                Err(string_to_sign) => {
                    first_string_to_sign.get_or_insert(string_to_sign);
                }
            }
        }
        Err(S3Error {
            code: S3ErrorCode::SignatureDoesNotMatch,
            message: "The trailer signature (x-amz-trailer-signature) does not match the \
                      signature we calculated. Check your key and signing method."
                .into(),
            string_to_sign: first_string_to_sign,
            canonical_request: None,
        })
    }
}

/// `name:value\n` for each trailer, in the given order.
fn canonical_trailers(trailers: &[&ReceivedTrailer]) -> String {
    let mut out = String::new();
    for trailer in trailers {
        out.push_str(trailer.algorithm.header_name());
        out.push(':');
        out.push_str(&trailer.value);
        out.push('\n');
    }
    out
}

fn repeated_trailer(name: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        format!("The trailer {name} is sent more than once."),
    )
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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
}

/// The fuzz target's entry point (`fuzz/fuzz_targets/aws_chunked.rs`), also swept by a plain
/// test: decode `data` as a verifier configuration plus a body, feed the body in pieces, then
/// finish. Never panics on any input; it panics only if the verifier breaks a promise (released
/// more than the decoded length, or the last byte before `finish`).
///
/// Layout of `data`: byte 0 chooses the mode (`% 3`: signed, signed with trailer, unsigned),
/// bit 2 `compute_md5`, bits 3..=7 the declared trailers (one bit per algorithm, ignored for
/// the signed mode); byte 1 the decoded length; byte 2 `max_chunk_size`; byte 3 seeds the split
/// sizes (0: one piece); the rest is the body. The signer is the S3 documentation's example
/// credential scope with a fixed key, so a corpus can hold correctly signed bodies.
pub fn fuzz_one(data: &[u8]) {
    let [config, decoded_length, max_chunk_size, split_seed, body @ ..] = data else {
        return;
    };
    let signer = ChunkSigner::new(
        crate::auth::sigv4::SigningKey::from_bytes([0x5a; 32]),
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    );
    let mode = match config % 3 {
        0 => ChunkedMode::Signed(signer),
        1 => ChunkedMode::SignedWithTrailer(signer),
        _ => ChunkedMode::UnsignedWithTrailer,
    };
    let declared_trailers = match mode {
        ChunkedMode::Signed(_) => Vec::new(),
        _ => ChecksumAlgorithm::ALL
            .into_iter()
            .enumerate()
            .filter(|(bit, _)| config & (0x08 << bit) != 0)
            .map(|(_, algorithm)| algorithm)
            .collect(),
    };
    let expect = ChunkedExpectations {
        mode,
        decoded_length: u64::from(*decoded_length),
        declared_trailers,
        header_checksums: Vec::new(),
        max_chunk_size: u64::from(*max_chunk_size),
        compute_md5: config & 0x04 != 0,
    };
    let Ok(mut verifier) = AwsChunkedVerifier::new(expect) else {
        return;
    };
    let limit = usize::from(*decoded_length);
    let mut released = 0usize;
    let mut state = u64::from(*split_seed);
    let mut rest = body;
    while !rest.is_empty() {
        let take = if state == 0 {
            rest.len()
        } else {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            1 + (state % 40) as usize
        };
        let (piece, after) = rest.split_at(take.min(rest.len()));
        rest = after;
        match verifier.feed(Bytes::copy_from_slice(piece)) {
            Ok(out) => released += out.len(),
            Err(_) => break,
        }
        assert!(
            released < limit || released == 0,
            "released the last byte before finish"
        );
    }
    if let Ok(out) = verifier.finish() {
        released += out.len();
        assert_eq!(
            released, limit,
            "a verified body is exactly the decoded length"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::signing::derive_signing_key;
    use crate::body::checksum::to_base64;
    use proptest::prelude::*;

    // ---- vectors and independent signers ----

    /// The S3 documentation examples, as published (see shared/vectors/README.md).
    fn doc_vectors() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/vectors/s3-doc-examples.json"
        );
        let text = std::fs::read_to_string(path).expect("shared/vectors beside the project");
        serde_json::from_str(&text).expect("vector JSON")
    }

    fn text<'a>(value: &'a serde_json::Value, pointer: &str) -> &'a str {
        value
            .pointer(pointer)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_else(|| panic!("vector field {pointer}"))
    }

    /// The request date of every streaming example of the S3 documentation.
    const DOC_AMZ_DATE: &str = "20130524T000000Z";
    const DOC_SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
    /// 2013-05-24T00:00:00Z, for aws-sigv4.
    const DOC_UNIX_TIME: u64 = 1_369_353_600;

    /// The signer of the documentation examples: key derived from the vector's credentials.
    fn doc_signer(seed_signature: &str) -> ChunkSigner {
        let vectors = doc_vectors();
        let key = derive_signing_key(
            text(&vectors, "/credentials/secret_access_key"),
            "20130524",
            text(&vectors, "/credentials/region"),
            text(&vectors, "/credentials/service"),
        );
        ChunkSigner::new(key, DOC_AMZ_DATE, DOC_SCOPE, seed_signature)
    }

    /// AWS's own signer (aws-sigv4), not this module, for the bodies the tests build.
    struct AwsSigner {
        identity: aws_smithy_runtime_api::client::identity::Identity,
    }

    impl AwsSigner {
        fn new() -> AwsSigner {
            let vectors = doc_vectors();
            let credentials = aws_credential_types::Credentials::new(
                text(&vectors, "/credentials/access_key_id"),
                text(&vectors, "/credentials/secret_access_key"),
                None,
                None,
                "tests",
            );
            AwsSigner {
                identity: credentials.into(),
            }
        }

        fn params(&self) -> aws_sigv4::sign::v4::SigningParams<'_, ()> {
            aws_sigv4::sign::v4::SigningParams::builder()
                .identity(&self.identity)
                .region("us-east-1")
                .name("s3")
                .time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(DOC_UNIX_TIME))
                .settings(())
                .build()
                .expect("signing params")
        }

        fn chunk(&self, previous: &str, data: &[u8]) -> String {
            let data = Bytes::copy_from_slice(data);
            aws_sigv4::sign::v4::sign_chunk(&data, previous, &self.params())
                .expect("sign chunk")
                .signature()
                .to_string()
        }

        fn trailers(&self, previous: &str, trailers: &[(&str, &str)]) -> String {
            let mut headers = aws_smithy_runtime_api::http::Headers::new();
            for (name, value) in trailers {
                headers.append(name.to_string(), value.to_string());
            }
            aws_sigv4::sign::v4::sign_trailer(&headers, previous, &self.params())
                .expect("sign trailer")
                .signature()
                .to_string()
        }
    }

    /// The seed of the signed bodies built here: any signature works as the start of a chain;
    /// this is the seed of the documentation's `streaming_signed` example.
    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

    /// The check input of the CRC catalogue and its CRC-32 / CRC-32C check values
    /// (0xCBF43926, 0xE3069283), base64 as S3 writes them.
    const CHECK_INPUT: &[u8] = b"123456789";
    const CHECK_CRC32_B64: &str = "y/Q5Jg==";
    const CHECK_CRC32C_B64: &str = "4waSgw==";

    // ---- wire bodies ----

    #[derive(Debug, Clone)]
    struct WireChunk {
        size_line: String,
        data: Vec<u8>,
    }

    /// An aws-chunked body as parts, to render or tamper with.
    #[derive(Debug, Clone)]
    struct Wire {
        /// Every chunk, the final zero-size one included.
        chunks: Vec<WireChunk>,
        trailers: Vec<(String, String)>,
        /// What follows the trailers: the empty line.
        end: String,
    }

    impl Wire {
        fn render(&self) -> Vec<u8> {
            let mut out = Vec::new();
            for chunk in &self.chunks {
                out.extend_from_slice(chunk.size_line.as_bytes());
                out.extend_from_slice(b"\r\n");
                if !chunk.data.is_empty() {
                    out.extend_from_slice(&chunk.data);
                    out.extend_from_slice(b"\r\n");
                }
            }
            for (name, value) in &self.trailers {
                out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
            }
            out.extend_from_slice(self.end.as_bytes());
            out
        }
    }

    /// A signed body over `pieces` (signatures by aws-sigv4), with `trailers` signed after.
    fn signed_wire(pieces: &[&[u8]], trailers: Option<&[(&str, &str)]>) -> Wire {
        let aws = AwsSigner::new();
        let mut previous = SEED.to_string();
        let mut chunks = Vec::new();
        for data in pieces.iter().copied().chain([&b""[..]]) {
            let signature = aws.chunk(&previous, data);
            chunks.push(WireChunk {
                size_line: format!("{:x};chunk-signature={signature}", data.len()),
                data: data.to_vec(),
            });
            previous = signature;
        }
        let mut lines: Vec<(String, String)> = Vec::new();
        if let Some(trailers) = trailers {
            for (name, value) in trailers {
                lines.push((name.to_string(), value.to_string()));
            }
            lines.push((
                TRAILER_SIGNATURE_NAME.to_string(),
                aws.trailers(&previous, trailers),
            ));
        }
        Wire {
            chunks,
            trailers: lines,
            end: "\r\n".into(),
        }
    }

    /// An unsigned-trailer body: upper-case hex sizes, as aws-sdk-rust writes them.
    fn unsigned_wire(pieces: &[&[u8]], trailers: &[(&str, &str)]) -> Wire {
        Wire {
            chunks: pieces
                .iter()
                .copied()
                .chain([&b""[..]])
                .map(|data| WireChunk {
                    size_line: format!("{:X}", data.len()),
                    data: data.to_vec(),
                })
                .collect(),
            trailers: trailers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            end: "\r\n".into(),
        }
    }

    /// The check input in three signed chunks ("123", "4567", "89") with signed CRC-32 and
    /// CRC-32C trailers.
    fn check_input_signed_trailer_wire() -> Wire {
        signed_wire(
            &[b"123", b"4567", b"89"],
            Some(&[
                ("x-amz-checksum-crc32", CHECK_CRC32_B64),
                ("x-amz-checksum-crc32c", CHECK_CRC32C_B64),
            ]),
        )
    }

    fn expectations(mode: ChunkedMode, decoded_length: u64) -> ChunkedExpectations {
        ChunkedExpectations {
            mode,
            decoded_length,
            declared_trailers: Vec::new(),
            header_checksums: Vec::new(),
            max_chunk_size: 16 * 1024 * 1024,
            compute_md5: false,
        }
    }

    fn check_input_signed_trailer_expect() -> ChunkedExpectations {
        let mut expect = expectations(ChunkedMode::SignedWithTrailer(doc_signer(SEED)), 9);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c];
        expect
    }

    fn check_input_signed_expect() -> ChunkedExpectations {
        expectations(ChunkedMode::Signed(doc_signer(SEED)), 9)
    }

    // ---- running ----

    use crate::body::test_driver::{mutated_and_cut, run, split_at, Rng, Run};

    fn run_with(expect: &ChunkedExpectations, pieces: &[&[u8]]) -> Run {
        let mut verifier = AwsChunkedVerifier::new(expect.clone()).expect("valid expectations");
        run(&mut verifier, pieces)
    }

    /// Success, the whole payload released, and never its last byte before `finish`.
    fn assert_released(run: Run, payload: &[u8], context: &str) {
        let tail = run
            .outcome
            .unwrap_or_else(|e| panic!("{context}: refused: {e}"));
        if !payload.is_empty() {
            assert!(
                run.before_finish.len() < payload.len(),
                "{context}: last byte released before finish"
            );
            assert!(!tail.is_empty(), "{context}: nothing held back");
        }
        let mut all = run.before_finish;
        all.extend_from_slice(&tail);
        assert!(
            all == payload,
            "{context}: released bytes differ from the payload"
        );
    }

    /// Refused with `code`; what was released is a prefix of the payload of at most
    /// `max_released` bytes (the chunks verified before the tampered one), never the tail.
    fn assert_refused(run: Run, payload: &[u8], max_released: usize, code: S3ErrorCode) -> S3Error {
        let err = run.outcome.expect_err("must be refused");
        assert_eq!(err.code, code, "{err}");
        assert!(
            run.before_finish.len() <= max_released,
            "released {} bytes, at most {max_released} expected",
            run.before_finish.len()
        );
        assert!(run.before_finish.len() < payload.len().max(1));
        assert_eq!(run.before_finish, payload[..run.before_finish.len()]);
        err
    }

    // ---- the S3 documentation examples ----

    /// The 66,560-byte `streaming_signed` example, built from the vector's chunk sizes, bytes
    /// and printed signatures.
    fn doc_streaming_signed() -> (Vec<u8>, ChunkedExpectations) {
        let vectors = doc_vectors();
        let example = &vectors["streaming_signed"];
        let mut wire = Vec::new();
        for chunk in example["chunks"].as_array().expect("chunks") {
            let size = chunk["size"].as_u64().expect("size") as usize;
            let byte = text(chunk, "/byte").as_bytes()[0];
            let signature = text(chunk, "/expected_signature");
            wire.extend_from_slice(format!("{size:x};chunk-signature={signature}\r\n").as_bytes());
            wire.extend(std::iter::repeat_n(byte, size));
            wire.extend_from_slice(b"\r\n");
        }
        assert_eq!(
            wire.len() as u64,
            example["expected_wire_body_length"]
                .as_u64()
                .expect("length")
        );
        let seed = text(example, "/expected_seed_signature");
        (
            wire,
            expectations(ChunkedMode::Signed(doc_signer(seed)), 66_560),
        )
    }

    fn doc_streaming_trailer() -> (Vec<u8>, ChunkedExpectations) {
        let vectors = doc_vectors();
        let example = &vectors["streaming_signed_trailer"];
        let mut wire = Vec::new();
        for chunk in example["chunks"].as_array().expect("chunks") {
            let size = chunk["size"].as_u64().expect("size") as usize;
            let signature = text(chunk, "/expected_signature");
            wire.extend_from_slice(format!("{size:x};chunk-signature={signature}\r\n").as_bytes());
            if size > 0 {
                wire.extend(std::iter::repeat_n(b'a', size));
                wire.extend_from_slice(b"\r\n");
            }
        }
        for trailer in example["trailers"].as_array().expect("trailers") {
            let line = format!("{}:{}\r\n", text(trailer, "/0"), text(trailer, "/1"));
            wire.extend_from_slice(line.as_bytes());
        }
        let signature = text(example, "/expected_trailer_signature");
        wire.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n\r\n").as_bytes());
        let seed = text(example, "/expected_seed_signature");
        let mut expect = expectations(ChunkedMode::SignedWithTrailer(doc_signer(seed)), 66_560);
        expect.declared_trailers = parse_trailer_header(text(example, "/headers/6/1"))
            .expect("x-amz-trailer of the example");
        (wire, expect)
    }

    #[test]
    fn doc_chunk_signatures_are_computed_step_by_step() {
        let vectors = doc_vectors();
        let example = &vectors["streaming_signed"];
        let signer = doc_signer(text(example, "/expected_seed_signature"));
        let mut previous = signer.seed_signature().to_string();
        for chunk in example["chunks"].as_array().expect("chunks") {
            let data_sha256: [u8; 32] = hex::decode(text(chunk, "/data_sha256"))
                .expect("hex")
                .try_into()
                .expect("32 bytes");
            let signature = signer.chunk_signature(&previous, &data_sha256);
            assert_eq!(signature, text(chunk, "/expected_signature"));
            previous = signature;
        }
    }

    #[test]
    fn s3_doc_streaming_signed_releases_66560_bytes_of_a() {
        let (wire, expect) = doc_streaming_signed();
        let payload = vec![b'a'; 66_560];
        assert_released(run_with(&expect, &[&wire]), &payload, "whole");
        // As the proxy sees it: socket reads of up to 64 KiB.
        let pieces: Vec<&[u8]> = wire.chunks(64 * 1024).collect();
        assert_released(run_with(&expect, &pieces), &payload, "64 KiB reads");
        let pieces: Vec<&[u8]> = wire.chunks(1000).collect();
        assert_released(run_with(&expect, &pieces), &payload, "1000-byte reads");
    }

    #[test]
    fn s3_doc_streaming_signed_holds_each_chunk_until_its_signature() {
        let (wire, expect) = doc_streaming_signed();
        let mut verifier = AwsChunkedVerifier::new(expect).expect("valid");
        // Everything up to the last data byte of the first chunk: nothing verified yet.
        // "10000;chunk-signature=<64 hex>\r\n" is 88 bytes.
        let first_chunk_end = 88 + 65_536;
        let released = verifier
            .feed(Bytes::copy_from_slice(&wire[..first_chunk_end]))
            .expect("fine so far");
        assert!(released.is_empty(), "released before the chunk signature");
        // Its CRLF: the first chunk is verified, all of it but the held-back byte goes out.
        let released = verifier
            .feed(Bytes::copy_from_slice(
                &wire[first_chunk_end..first_chunk_end + 2],
            ))
            .expect("signature matches");
        assert_eq!(released.len(), 65_535);
    }

    #[test]
    fn s3_doc_streaming_trailer_example_verifies() {
        let (wire, expect) = doc_streaming_trailer();
        assert_eq!(expect.declared_trailers, vec![ChecksumAlgorithm::Crc32c]);
        let payload = vec![b'a'; 66_560];
        assert_released(run_with(&expect, &[&wire]), &payload, "whole");
        let pieces: Vec<&[u8]> = wire.chunks(4093).collect();
        assert_released(run_with(&expect, &pieces), &payload, "4093-byte reads");
    }

    #[test]
    fn s3_doc_trailer_signature_is_computed_step_by_step() {
        let vectors = doc_vectors();
        let example = &vectors["streaming_signed_trailer"];
        let canonical = "x-amz-checksum-crc32c:sOO8/Q==\n";
        let digest: [u8; 32] = Sha256::digest(canonical).into();
        assert_eq!(
            hex::encode(digest),
            text(example, "/expected_canonical_trailers_sha256")
        );
        let signer = doc_signer(text(example, "/expected_seed_signature"));
        let final_chunk = text(example, "/chunks/2/expected_signature");
        assert_eq!(
            signer.trailer_signature(final_chunk, &digest),
            text(example, "/expected_trailer_signature")
        );
    }

    #[test]
    fn aws_c_auth_trailer_vector_over_several_trailers() {
        let vectors = doc_vectors();
        let example = &vectors["aws_c_auth_trailer_unit_vector"];
        let mut canonical = String::new();
        for trailer in example["trailers"].as_array().expect("trailers") {
            canonical.push_str(&format!(
                "{}:{}\n",
                text(trailer, "/0"),
                text(trailer, "/1")
            ));
        }
        let digest: [u8; 32] = Sha256::digest(&canonical).into();
        let signer = doc_signer(text(example, "/seed_signature"));
        assert_eq!(
            signer.trailer_signature(text(example, "/final_chunk_signature"), &digest),
            text(example, "/expected_trailer_signature")
        );
    }

    #[test]
    fn from_authorized_style_signer_carries_seed_and_scope() {
        let signer = doc_signer(SEED);
        assert_eq!(signer.seed_signature(), SEED);
        let sts = signer.chunk_string_to_sign(SEED, &[0; 32]);
        assert!(sts.starts_with(
            "AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
        ));
        assert!(format!("{signer:?}").contains("<redacted>"));
    }

    // ---- unsigned with trailer ----

    #[test]
    fn unsigned_trailer_crc32_check_value() {
        let wire = unsigned_wire(
            &[b"1234", b"56789"],
            &[("x-amz-checksum-crc32", CHECK_CRC32_B64)],
        );
        let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        assert_released(run_with(&expect, &[&wire.render()]), CHECK_INPUT, "whole");
    }

    #[test]
    fn unsigned_trailer_ignores_chunk_signature_extensions() {
        let mut wire = unsigned_wire(
            &[b"1234", b"56789"],
            &[("x-amz-checksum-crc32", CHECK_CRC32_B64)],
        );
        for chunk in &mut wire.chunks {
            chunk
                .size_line
                .push_str(&format!(";chunk-signature={SEED}"));
        }
        let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        let body = wire.render();
        assert!(body.starts_with(b"4;chunk-signature=4f23"));
        for cut in 0..=body.len() {
            let pieces = split_at(&body, &[cut]);
            assert_released(
                run_with(&expect, &pieces),
                CHECK_INPUT,
                &format!("cut {cut}"),
            );
        }
    }

    #[test]
    fn unsigned_trailer_releases_as_it_arrives_without_copying() {
        let wire = unsigned_wire(&[CHECK_INPUT], &[("x-amz-checksum-crc32", CHECK_CRC32_B64)]);
        let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        let mut verifier = AwsChunkedVerifier::new(expect).expect("valid");
        let body = Bytes::from(wire.render());
        // "9\r\n1234" then "5678" then the rest: the first slice is released when the second
        // arrives, as the very same memory.
        assert_eq!(verifier.feed(body.slice(..7)).ok(), Some(Bytes::new()));
        let released = verifier.feed(body.slice(7..11)).expect("fine");
        assert_eq!(&released[..], b"1234");
        assert_eq!(released.as_ptr(), body.slice(3..).as_ptr());
        let released = verifier.feed(body.slice(11..)).expect("fine");
        assert_eq!(&released[..], b"5678");
        assert_eq!(verifier.finish().ok(), Some(Bytes::from_static(b"9")));
    }

    #[test]
    fn header_checksums_are_checked_too() {
        let wire = unsigned_wire(&[CHECK_INPUT], &[]).render();
        let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
        expect.header_checksums = vec![(
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc32c
                .decode_value(CHECK_CRC32C_B64.as_bytes())
                .expect("valid"),
        )];
        assert_released(run_with(&expect, &[&wire]), CHECK_INPUT, "crc32c header");
        expect.header_checksums[0].1[3] ^= 1;
        let err = assert_refused(
            run_with(&expect, &[&wire]),
            CHECK_INPUT,
            8,
            S3ErrorCode::BadDigest,
        );
        assert_eq!(
            err.message,
            "The CRC32C you specified did not match the calculated checksum."
        );
    }

    #[test]
    fn md5_is_computed_only_when_asked_and_only_after_finish() {
        let wire = check_input_signed_trailer_wire().render();
        let mut expect = check_input_signed_trailer_expect();
        let mut verifier = AwsChunkedVerifier::new(expect.clone()).expect("valid");
        assert!(run(&mut verifier, &[&wire]).outcome.is_ok());
        assert_eq!(verifier.md5_hex(), None);
        expect.compute_md5 = true;
        let mut verifier = AwsChunkedVerifier::new(expect).expect("valid");
        assert!(verifier.feed(Bytes::from(wire)).is_ok());
        assert_eq!(verifier.md5_hex(), None);
        assert!(verifier.finish().is_ok());
        // RFC 1321 does not list "123456789"; this is the md5sum of the check input.
        assert_eq!(
            verifier.md5_hex().as_deref(),
            Some("25f9e794323b453885f5181f1b624d0b")
        );
    }

    // ---- splits ----

    #[test]
    fn signed_trailer_body_split_at_every_offset_and_every_pair() {
        let wire = check_input_signed_trailer_wire().render();
        let expect = check_input_signed_trailer_expect();
        let reference = run_with(&expect, &[&wire]);
        assert_released(
            run_with(&expect, &[&wire]),
            CHECK_INPUT,
            "aws-sigv4 signed body",
        );
        let total = |run: &Run| {
            let mut all = run.before_finish.clone();
            if let Ok(tail) = &run.outcome {
                all.extend_from_slice(tail);
            }
            all
        };
        for first in 0..=wire.len() {
            let run1 = run_with(&expect, &split_at(&wire, &[first]));
            assert_eq!(total(&run1), total(&reference), "cut {first}");
            assert!(run1.outcome.is_ok(), "cut {first}");
            for second in first..=wire.len() {
                let run2 = run_with(&expect, &split_at(&wire, &[first, second]));
                assert!(run2.before_finish.len() < 9, "cuts {first},{second}");
                assert_eq!(total(&run2), total(&reference), "cuts {first},{second}");
            }
        }
    }

    #[test]
    fn signed_body_byte_by_byte() {
        let wire = signed_wire(&[b"123", b"4567", b"89"], None).render();
        let pieces: Vec<&[u8]> = wire.chunks(1).collect();
        assert_released(
            run_with(&check_input_signed_expect(), &pieces),
            CHECK_INPUT,
            "byte by byte",
        );
    }

    #[test]
    fn empty_feeds_change_nothing() {
        let wire = check_input_signed_trailer_wire().render();
        let mut pieces: Vec<&[u8]> = Vec::new();
        for piece in wire.chunks(5) {
            pieces.extend([&b""[..], piece, &b""[..]]);
        }
        assert_released(
            run_with(&check_input_signed_trailer_expect(), &pieces),
            CHECK_INPUT,
            "with empty feeds",
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn doc_example_random_splits(cuts in proptest::collection::vec(0usize..66_824, 0..40)) {
            let (wire, expect) = doc_streaming_trailer();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(wire.len())).collect();
            cuts.sort_unstable();
            let run = run_with(&expect, &split_at(&wire, &cuts));
            prop_assert!(run.outcome.is_ok());
            prop_assert!(run.before_finish.len() < 66_560);
            prop_assert!(run.before_finish.iter().all(|&b| b == b'a'));
        }

        #[test]
        fn any_payload_any_chunking_any_split(
            payload in proptest::collection::vec(any::<u8>(), 0..600),
            chunk_cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
            feed_cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
            signed in any::<bool>(),
        ) {
            let mut points: Vec<usize> =
                chunk_cuts.iter().map(|c| c.index(payload.len() + 1)).collect();
            points.sort_unstable();
            points.dedup();
            let pieces: Vec<&[u8]> =
                split_at(&payload, &points).into_iter().filter(|p| !p.is_empty()).collect();
            let mut crc = ChecksumAlgorithm::Crc64Nvme.checksummer();
            crc.update(&payload);
            let crc = to_base64(&crc.finalize());
            let trailers = [("x-amz-checksum-crc64nvme", crc.as_str())];
            let (wire, mode) = if signed {
                (signed_wire(&pieces, Some(&trailers)), ChunkedMode::SignedWithTrailer(doc_signer(SEED)))
            } else {
                (unsigned_wire(&pieces, &trailers), ChunkedMode::UnsignedWithTrailer)
            };
            let wire = wire.render();
            let mut expect = expectations(mode, payload.len() as u64);
            expect.declared_trailers = vec![ChecksumAlgorithm::Crc64Nvme];
            let mut cuts: Vec<usize> = feed_cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
            cuts.sort_unstable();
            let run = run_with(&expect, &split_at(&wire, &cuts));
            let tail = run.outcome.map_err(|e| TestCaseError::fail(e.to_string()))?;
            if !payload.is_empty() {
                prop_assert!(run.before_finish.len() < payload.len());
            }
            let mut all = run.before_finish;
            all.extend_from_slice(&tail);
            prop_assert_eq!(all, payload);
        }
    }

    // ---- tampering, one thing at a time ----

    /// The three-chunk signed body, modified by `tamper`, fed whole and byte by byte.
    fn tampered_signed(
        tamper: impl Fn(&mut Wire),
        expect: &ChunkedExpectations,
        max_released: usize,
        code: S3ErrorCode,
    ) -> S3Error {
        let trailer = matches!(expect.mode, ChunkedMode::SignedWithTrailer(_));
        let mut wire = if trailer {
            check_input_signed_trailer_wire()
        } else {
            signed_wire(&[b"123", b"4567", b"89"], None)
        };
        tamper(&mut wire);
        let body = wire.render();
        let byte_by_byte: Vec<&[u8]> = body.chunks(1).collect();
        let err = assert_refused(
            run_with(expect, &byte_by_byte),
            CHECK_INPUT,
            max_released,
            code,
        );
        let whole = assert_refused(run_with(expect, &[&body]), CHECK_INPUT, max_released, code);
        assert_eq!(err, whole);
        err
    }

    #[test]
    fn flipped_data_byte_in_first_middle_and_final_chunk() {
        // Chunks "123", "4567", "89": what was verified before each, minus the held byte.
        for (chunk, released_before) in [(0usize, 0usize), (1, 2), (2, 6)] {
            let err = tampered_signed(
                |wire| wire.chunks[chunk].data[0] ^= 0x01,
                &check_input_signed_expect(),
                released_before,
                S3ErrorCode::SignatureDoesNotMatch,
            );
            assert!(
                err.message.contains(&format!("chunk {}", chunk + 1)),
                "{}",
                err.message
            );
            assert!(err.string_to_sign.is_some());
        }
    }

    #[test]
    fn flipped_byte_in_each_doc_example_chunk() {
        let (wire, expect) = doc_streaming_signed();
        for (offset, chunk) in [(86 + 10, 1), (86 + 65_536 + 2 + 85 + 1000, 2)] {
            let mut body = wire.clone();
            body[offset] = b'b';
            let pieces: Vec<&[u8]> = body.chunks(64 * 1024).collect();
            let payload = vec![b'a'; 66_560];
            let max = if chunk == 1 { 0 } else { 65_535 };
            let err = assert_refused(
                run_with(&expect, &pieces),
                &payload,
                max,
                S3ErrorCode::SignatureDoesNotMatch,
            );
            assert!(
                err.message.contains(&format!("chunk {chunk} ")),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn flipped_final_chunk_signature() {
        tampered_signed(
            |wire| {
                let line = &mut wire.chunks[3].size_line;
                let last = line.pop().expect("signature");
                line.push(if last == '0' { '1' } else { '0' });
            },
            &check_input_signed_expect(),
            8,
            S3ErrorCode::SignatureDoesNotMatch,
        );
    }

    #[test]
    fn swapped_chunk_signatures() {
        tampered_signed(
            |wire| {
                let first = wire.chunks[0].size_line.split_off(2);
                let second = wire.chunks[1].size_line.split_off(2);
                wire.chunks[0].size_line.push_str(&second);
                wire.chunks[1].size_line.push_str(&first);
            },
            &check_input_signed_expect(),
            0,
            S3ErrorCode::SignatureDoesNotMatch,
        );
    }

    #[test]
    fn repeated_chunk() {
        let mut expect = check_input_signed_expect();
        expect.decoded_length = 12;
        let err = tampered_signed(
            |wire| {
                let again = wire.chunks[0].clone();
                wire.chunks.insert(1, again);
            },
            &expect,
            2,
            S3ErrorCode::SignatureDoesNotMatch,
        );
        assert!(err.message.contains("chunk 2 "), "{}", err.message);
    }

    #[test]
    fn missing_chunk() {
        let mut expect = check_input_signed_expect();
        expect.decoded_length = 5;
        tampered_signed(
            |wire| {
                wire.chunks.remove(1);
            },
            &expect,
            2,
            S3ErrorCode::SignatureDoesNotMatch,
        );
    }

    #[test]
    fn truncated_stream_without_final_chunk() {
        for keep in [1, 2, 3] {
            let err = tampered_signed(
                |wire| {
                    wire.chunks.truncate(keep);
                    wire.end.clear();
                },
                &check_input_signed_expect(),
                8,
                S3ErrorCode::IncompleteBody,
            );
            assert!(err.message.contains("final zero-length chunk"), "{err}");
        }
        // Cut inside a size line, inside data, between data and CRLF.
        let body = signed_wire(&[b"123", b"4567", b"89"], None).render();
        for cut in [1, 50, 86, 87, 89, 90, body.len() - 3] {
            let run = run_with(&check_input_signed_expect(), &[&body[..cut]]);
            assert_refused(run, CHECK_INPUT, 8, S3ErrorCode::IncompleteBody);
        }
    }

    #[test]
    fn decoded_length_larger_than_sent() {
        let mut expect = check_input_signed_expect();
        expect.decoded_length = 10;
        let err = tampered_signed(|_| {}, &expect, 8, S3ErrorCode::IncompleteBody);
        assert!(
            err.message.contains("x-amz-decoded-content-length"),
            "{err}"
        );
    }

    #[test]
    fn decoded_length_smaller_than_sent_is_refused_before_the_extra_chunk() {
        let mut expect = check_input_signed_expect();
        expect.decoded_length = 8;
        // "89" would go past 8: refused at its size line, so "4567" stays held back.
        tampered_signed(|_| {}, &expect, 6, S3ErrorCode::InvalidRequest);
        let mut unsigned = expectations(ChunkedMode::UnsignedWithTrailer, 3);
        unsigned.decoded_length = 3;
        let wire = unsigned_wire(&[b"123", b"456"], &[]).render();
        let run = run_with(&unsigned, &[&wire]);
        assert!(run.before_finish.len() < 3);
        assert_eq!(
            run.outcome.map_err(|e| e.code),
            Err(S3ErrorCode::InvalidRequest)
        );
    }

    #[test]
    fn wrong_trailer_checksum_signed_correctly_is_bad_digest() {
        let wire = signed_wire(
            &[b"123", b"4567", b"89"],
            Some(&[
                ("x-amz-checksum-crc32", "AAAAAA=="),
                ("x-amz-checksum-crc32c", CHECK_CRC32C_B64),
            ]),
        );
        let err = tampered_signed(
            |w| *w = wire.clone(),
            &check_input_signed_trailer_expect(),
            8,
            S3ErrorCode::BadDigest,
        );
        assert_eq!(
            err.message,
            "The CRC32 you specified did not match the calculated checksum."
        );
    }

    #[test]
    fn changed_trailer_value_breaks_the_trailer_signature() {
        let err = tampered_signed(
            |wire| wire.trailers[0].1 = "AAAAAA==".into(),
            &check_input_signed_trailer_expect(),
            8,
            S3ErrorCode::SignatureDoesNotMatch,
        );
        assert!(err.message.contains("x-amz-trailer-signature"), "{err}");
    }

    #[test]
    fn wrong_trailer_signature() {
        tampered_signed(
            |wire| wire.trailers[2].1 = SEED.into(),
            &check_input_signed_trailer_expect(),
            8,
            S3ErrorCode::SignatureDoesNotMatch,
        );
    }

    #[test]
    fn missing_trailer_signature() {
        tampered_signed(
            |wire| {
                wire.trailers.pop();
            },
            &check_input_signed_trailer_expect(),
            8,
            S3ErrorCode::InvalidRequest,
        );
    }

    #[test]
    fn missing_declared_trailer_is_named() {
        let wire = signed_wire(
            &[b"123", b"4567", b"89"],
            Some(&[("x-amz-checksum-crc32", CHECK_CRC32_B64)]),
        );
        let err = tampered_signed(
            |w| *w = wire.clone(),
            &check_input_signed_trailer_expect(),
            8,
            S3ErrorCode::InvalidRequest,
        );
        assert!(err.message.contains("x-amz-checksum-crc32c"), "{err}");
    }

    #[test]
    fn undeclared_trailer_is_refused() {
        let mut expect = check_input_signed_trailer_expect();
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        let err = tampered_signed(|_| {}, &expect, 8, S3ErrorCode::InvalidRequest);
        assert!(err.message.contains("x-amz-checksum-crc32c"), "{err}");
        // Unsigned mode: a trailer signature is not declared either.
        let wire = unsigned_wire(&[CHECK_INPUT], &[("x-amz-trailer-signature", SEED)]).render();
        let run = run_with(&expectations(ChunkedMode::UnsignedWithTrailer, 9), &[&wire]);
        assert_refused(run, CHECK_INPUT, 0, S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn repeated_trailer_is_refused() {
        let wire = unsigned_wire(
            &[CHECK_INPUT],
            &[
                ("x-amz-checksum-crc32", CHECK_CRC32_B64),
                ("X-Amz-Checksum-CRC32", CHECK_CRC32_B64),
            ],
        )
        .render();
        let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        let run = run_with(&expect, &[&wire]);
        assert_refused(run, CHECK_INPUT, 0, S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn wrong_unsigned_trailer_checksum() {
        let wire = unsigned_wire(
            &[b"1234", b"56789"],
            &[("x-amz-checksum-crc32", "AAAAAA==")],
        );
        let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        let run = run_with(&expect, &[&wire.render()]);
        let err = assert_refused(run, CHECK_INPUT, 4, S3ErrorCode::BadDigest);
        assert_eq!(
            err.message,
            "The CRC32 you specified did not match the calculated checksum."
        );
    }

    #[test]
    fn undecodable_trailer_value() {
        let wire = unsigned_wire(&[CHECK_INPUT], &[("x-amz-checksum-crc32", "y/Q5Jg")]);
        let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        let err = assert_refused(
            run_with(&expect, &[&wire.render()]),
            CHECK_INPUT,
            0,
            S3ErrorCode::InvalidRequest,
        );
        assert_eq!(
            err.message,
            "Value for x-amz-checksum-crc32 header is invalid."
        );
    }

    #[test]
    fn oversize_chunk_is_refused_before_buffering() {
        let mut expect = check_input_signed_expect();
        expect.max_chunk_size = 3;
        let err = tampered_signed(|_| {}, &expect, 2, S3ErrorCode::EntityTooLarge);
        assert!(err.message.contains("Chunk 2"), "{err}");
        // The size line alone is enough: no data byte of it has arrived.
        let mut verifier = AwsChunkedVerifier::new(check_input_signed_expect()).expect("valid");
        verifier.expect.max_chunk_size = 1024;
        let line = format!("fffff;chunk-signature={SEED}\r\n");
        let err = verifier.feed(Bytes::from(line)).expect_err("too large");
        assert_eq!(err.code, S3ErrorCode::EntityTooLarge);
        assert_eq!(verifier.outbox.staging.capacity(), 0);
    }

    #[test]
    fn bad_hex_in_size() {
        let err = tampered_signed(
            |wire| wire.chunks[1].size_line.replace_range(0..1, "g"),
            &check_input_signed_expect(),
            2,
            S3ErrorCode::InvalidArgument,
        );
        assert!(err.message.contains("chunk 2"), "{err}");
        for bad in [" 4", "4 ", "-4", "0x4", "+4", ""] {
            let wire = unsigned_wire(&[b"1234"], &[]).render();
            let body = [bad.as_bytes(), &wire[1..]].concat();
            let run = run_with(&expectations(ChunkedMode::UnsignedWithTrailer, 4), &[&body]);
            assert_eq!(
                run.outcome.map_err(|e| e.code),
                Err(S3ErrorCode::InvalidArgument),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn too_many_size_digits_and_overflow() {
        let expect = expectations(ChunkedMode::UnsignedWithTrailer, u64::MAX);
        let max = format!("{:x}\r\n", u64::MAX);
        assert!(run_with(&expect, &[max.as_bytes()])
            .outcome
            .is_err_and(|e| e.code == S3ErrorCode::IncompleteBody));
        for bad in ["00000000000000001\r\n", "10000000000000000\r\n"] {
            let err = run_with(&expect, &[bad.as_bytes()]).outcome.expect_err(bad);
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{bad}");
            assert!(err.message.contains("16 hex digits"), "{err}");
        }
    }

    #[test]
    fn missing_crlf_after_data() {
        let valid = signed_wire(&[b"123", b"4567", b"89"], None).render();
        // "3;chunk-signature=<64 hex>\r\n" is 84 bytes; "123" follows, then its CRLF.
        assert_eq!(&valid[84..89], b"123\r\n");
        for broken in ["", "\r", "\n", "x\r\n", "\n\r"] {
            let body = [&valid[..87], broken.as_bytes(), &valid[89..]].concat();
            let run = run_with(&check_input_signed_expect(), &[&body]);
            let err = assert_refused(run, CHECK_INPUT, 0, S3ErrorCode::InvalidArgument);
            assert!(err.message.contains("CRLF"), "{err}");
            assert!(err.message.contains("chunk 1"), "{err}");
        }
    }

    #[test]
    fn bare_lf_and_bad_extensions_are_framing_errors() {
        let cases: [(&str, ChunkedMode); 5] = [
            ("9\n123456789\r\n", ChunkedMode::UnsignedWithTrailer),
            ("9;x\n123456789\r\n", ChunkedMode::UnsignedWithTrailer),
            (
                "9;a\x01b\r\n123456789\r\n",
                ChunkedMode::UnsignedWithTrailer,
            ),
            ("9\r\n123456789\r\n", ChunkedMode::Signed(doc_signer(SEED))),
            (
                "9;chunk-signature=abc\r\n",
                ChunkedMode::Signed(doc_signer(SEED)),
            ),
        ];
        for (body, mode) in cases {
            let err = run_with(&expectations(mode, 9), &[body.as_bytes()])
                .outcome
                .expect_err(body);
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{body:?}: {err}");
        }
        let trailer_cases = [
            "0\r\nx-amz-checksum-crc32\r\n\r\n",
            "0\r\n\n",
            "0\r\nbad name:v\r\n\r\n",
            "0\r\n:v\r\n\r\n",
            "0\r\n\r\r",
        ];
        for body in trailer_cases {
            let err = run_with(
                &expectations(ChunkedMode::UnsignedWithTrailer, 0),
                &[body.as_bytes()],
            )
            .outcome
            .expect_err(body);
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{body:?}: {err}");
        }
    }

    #[test]
    fn size_line_and_trailer_section_limits() {
        let expect = expectations(ChunkedMode::UnsignedWithTrailer, 1);
        let long_extension = format!("1;{}", "x".repeat(MAX_SIZE_LINE_LEN));
        let err = run_with(&expect, &[long_extension.as_bytes()])
            .outcome
            .expect_err("long");
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        let just_fits = format!("1;{}\r\na\r\n0\r\n\r\n", "x".repeat(MAX_SIZE_LINE_LEN - 2));
        assert_released(
            run_with(&expect, &[just_fits.as_bytes()]),
            b"a",
            "4 KiB line",
        );
        let long_trailer = format!(
            "1\r\na\r\n0\r\nx-amz-checksum-crc32:{}",
            " ".repeat(MAX_TRAILER_SECTION_LEN)
        );
        let err = run_with(&expect, &[long_trailer.as_bytes()])
            .outcome
            .expect_err("long");
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        assert!(err.message.contains("trailer section"), "{err}");
    }

    #[test]
    fn bytes_after_the_end_are_refused() {
        let err = tampered_signed(
            |wire| wire.end.push_str("\r\n"),
            &check_input_signed_expect(),
            8,
            S3ErrorCode::InvalidArgument,
        );
        assert!(err.message.contains("after the end"), "{err}");
    }

    // ---- leniencies, each pinned ----

    #[test]
    fn signed_trailer_mode_without_trailers_may_end_after_the_final_chunk() {
        // aws-sdk-rust with an empty trailer set writes nothing after `0;chunk-signature=…\r\n`.
        let mut wire = signed_wire(&[b"123", b"4567", b"89"], None);
        wire.end.clear();
        let expect = expectations(ChunkedMode::SignedWithTrailer(doc_signer(SEED)), 9);
        assert_released(
            run_with(&expect, &[&wire.render()]),
            CHECK_INPUT,
            "no end line",
        );
        wire.end = "\r\n".into();
        assert_released(
            run_with(&expect, &[&wire.render()]),
            CHECK_INPUT,
            "end line",
        );
        // Not when a trailer is declared, and not in the plain signed mode.
        let mut declared = expect.clone();
        declared.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        wire.end.clear();
        let run = run_with(&declared, &[&wire.render()]);
        assert_refused(run, CHECK_INPUT, 8, S3ErrorCode::IncompleteBody);
        let run = run_with(&check_input_signed_expect(), &[&wire.render()]);
        assert_refused(run, CHECK_INPUT, 8, S3ErrorCode::IncompleteBody);
    }

    #[test]
    fn trailer_value_whitespace_and_name_case() {
        let wire = unsigned_wire(
            &[CHECK_INPUT],
            &[("X-Amz-Checksum-Crc32", &format!(" \t{CHECK_CRC32_B64} "))],
        );
        let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        assert_released(run_with(&expect, &[&wire.render()]), CHECK_INPUT, "ows");
    }

    #[test]
    fn trailer_signature_in_wire_order_is_accepted() {
        // crc32c before crc32 on the wire, signed in that order (as aws-c-auth would).
        let mut wire = signed_wire(&[b"123", b"4567", b"89"], None);
        let final_signature = wire.chunks[3].size_line["0;chunk-signature=".len()..].to_string();
        let canonical = format!(
            "x-amz-checksum-crc32c:{CHECK_CRC32C_B64}\nx-amz-checksum-crc32:{CHECK_CRC32_B64}\n"
        );
        let digest: [u8; 32] = Sha256::digest(&canonical).into();
        let signature = doc_signer(SEED).trailer_signature(&final_signature, &digest);
        wire.trailers = vec![
            ("x-amz-checksum-crc32c".into(), CHECK_CRC32C_B64.into()),
            ("x-amz-checksum-crc32".into(), CHECK_CRC32_B64.into()),
            (TRAILER_SIGNATURE_NAME.into(), signature),
        ];
        let expect = check_input_signed_trailer_expect();
        assert_released(
            run_with(&expect, &[&wire.render()]),
            CHECK_INPUT,
            "wire order",
        );
        // aws-sigv4 signs them sorted whatever the order on the wire.
        let mut sorted = check_input_signed_trailer_wire();
        sorted.trailers.swap(0, 1);
        assert_released(
            run_with(&expect, &[&sorted.render()]),
            CHECK_INPUT,
            "sorted",
        );
    }

    #[test]
    fn empty_payload() {
        let wire = signed_wire(&[], None).render();
        let expect = expectations(ChunkedMode::Signed(doc_signer(SEED)), 0);
        assert_released(run_with(&expect, &[&wire]), b"", "empty");
    }

    // ---- construction, reset, failure ----

    #[test]
    fn parse_trailer_header_names() {
        assert_eq!(
            parse_trailer_header("x-amz-checksum-crc32"),
            Ok(vec![ChecksumAlgorithm::Crc32])
        );
        assert_eq!(
            parse_trailer_header(" X-Amz-Checksum-CRC32C , x-amz-checksum-sha256,"),
            Ok(vec![ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Sha256])
        );
        assert_eq!(parse_trailer_header(""), Ok(vec![]));
        let err =
            parse_trailer_header("x-amz-checksum-crc32, x-amz-meta-foo").expect_err("unknown");
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);
        assert!(err.message.contains("x-amz-meta-foo"), "{err}");
        let err =
            parse_trailer_header("x-amz-checksum-crc32,X-AMZ-CHECKSUM-CRC32").expect_err("twice");
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn trailers_need_a_trailer_mode() {
        let mut expect = check_input_signed_expect();
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        assert_eq!(
            AwsChunkedVerifier::new(expect).err().map(|e| e.code),
            Some(S3ErrorCode::InvalidRequest)
        );
        let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 1);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32];
        assert!(AwsChunkedVerifier::new(expect).is_err());
    }

    #[test]
    fn failure_sticks_and_reset_starts_over() {
        let wire = check_input_signed_trailer_wire().render();
        let mut verifier =
            AwsChunkedVerifier::new(check_input_signed_trailer_expect()).expect("valid");
        // A first attempt broken off half way (a retried upstream connection).
        assert!(verifier.feed(Bytes::copy_from_slice(&wire[..100])).is_ok());
        verifier.reset();
        assert_released(run(&mut verifier, &[&wire]), CHECK_INPUT, "after reset");
        // A failed one.
        verifier.reset();
        let err = verifier
            .feed(Bytes::from_static(b"zz"))
            .expect_err("bad hex");
        assert_eq!(
            verifier.feed(Bytes::copy_from_slice(&wire)),
            Err(err.clone())
        );
        assert_eq!(verifier.finish(), Err(err));
        verifier.reset();
        assert_released(run(&mut verifier, &[&wire]), CHECK_INPUT, "after failure");
        // A finished one answers an empty finish, and refuses more bytes.
        assert_eq!(verifier.finish(), Ok(Bytes::new()));
        assert!(verifier.feed(Bytes::from_static(b"0")).is_err());
    }

    // ---- never panics ----

    #[test]
    fn thousands_of_mutated_bodies_never_panic() {
        let seeds = [
            (
                check_input_signed_trailer_wire().render(),
                check_input_signed_trailer_expect(),
            ),
            (
                signed_wire(&[b"123", b"4567", b"89"], None).render(),
                check_input_signed_expect(),
            ),
            (
                unsigned_wire(
                    &[b"1234", b"56789"],
                    &[("x-amz-checksum-crc32", CHECK_CRC32_B64)],
                )
                .render(),
                {
                    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
                    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
                    expect
                },
            ),
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..4000 {
            let (seed, expect) = &seeds[round % seeds.len()];
            let (body, cuts) = mutated_and_cut(seed, &mut rng, b"\r\n;:0aF9");
            let run = run_with(expect, &split_at(&body, &cuts));
            assert!(run.before_finish.len() < CHECK_INPUT.len(), "round {round}");
            if let Ok(tail) = run.outcome {
                // A mutation may hit something without meaning (an ignored extension), but the
                // signed payload can never change.
                let mut all = run.before_finish;
                all.extend_from_slice(&tail);
                if !matches!(expect.mode, ChunkedMode::UnsignedWithTrailer) {
                    assert_eq!(all, CHECK_INPUT, "round {round}");
                }
            }
            // The fuzz entry point, on the mutated body and on noise.
            let mut input = vec![rng.next() as u8, 9, rng.next() as u8, rng.next() as u8];
            if round % 10 == 0 {
                input.extend((0..rng.below(300)).map(|_| rng.next() as u8));
            } else {
                input.extend_from_slice(&body);
            }
            fuzz_one(&input);
        }
    }

    // ---- throughput (release only) ----

    /// A signed body of `payload` in chunks of `chunk` bytes, signed by this module's own
    /// [`ChunkSigner`] (a speed test, not a correctness one).
    fn self_signed_body(payload: &[u8], chunk: usize, signer: &ChunkSigner) -> Vec<u8> {
        let mut wire = Vec::with_capacity(payload.len() + payload.len() / chunk * 100 + 200);
        let mut previous = signer.seed_signature().to_string();
        for data in payload.chunks(chunk).chain([&b""[..]]) {
            let digest: [u8; 32] = Sha256::digest(data).into();
            let signature = signer.chunk_signature(&previous, &digest);
            wire.extend_from_slice(
                format!("{:x};chunk-signature={signature}\r\n", data.len()).as_bytes(),
            );
            wire.extend_from_slice(data);
            wire.extend_from_slice(b"\r\n");
            previous = signature;
        }
        wire.truncate(wire.len() - 2);
        wire.extend_from_slice(b"\r\n");
        wire
    }

    /// Feed `wire` in 64 KiB socket reads; the best of three runs, in seconds.
    fn best_feed_time(expect: &ChunkedExpectations, wire: &Bytes, payload_len: usize) -> f64 {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let mut verifier = AwsChunkedVerifier::new(expect.clone()).expect("valid");
            let started = std::time::Instant::now();
            let mut released = 0;
            let mut at = 0;
            while at < wire.len() {
                let end = (at + 64 * 1024).min(wire.len());
                released += verifier
                    .feed(wire.slice(at..end))
                    .expect("valid body")
                    .len();
                at = end;
            }
            released += verifier.finish().expect("valid body").len();
            best = best.min(started.elapsed().as_secs_f64());
            assert_eq!(released, payload_len);
        }
        best
    }

    /// Run with `cargo test --release --lib body::chunked::tests::throughput -- --ignored
    /// --nocapture`: signed chunks must verify at 0.8x or more of plain SHA-256 on one core.
    #[test]
    #[ignore = "timing; run in release"]
    fn throughput_against_plain_sha256() {
        let payload: Vec<u8> = (0..64 * 1024 * 1024u32)
            .map(|i| (i * 7 + i / 4096) as u8)
            .collect();
        let sha_time = {
            let mut best = f64::MAX;
            for _ in 0..3 {
                let started = std::time::Instant::now();
                let mut hasher = Sha256::new();
                for piece in payload.chunks(64 * 1024) {
                    hasher.update(piece);
                }
                std::hint::black_box(hasher.finalize());
                best = best.min(started.elapsed().as_secs_f64());
            }
            best
        };
        let mb = payload.len() as f64 / 1e6;
        println!("plain SHA-256: {:.0} MB/s", mb / sha_time);
        let signer = doc_signer(SEED);
        for chunk in [8 * 1024, 64 * 1024, 1024 * 1024, 16 * 1024 * 1024] {
            let wire = Bytes::from(self_signed_body(&payload, chunk, &signer));
            let expect = expectations(ChunkedMode::Signed(signer.clone()), payload.len() as u64);
            let time = best_feed_time(&expect, &wire, payload.len());
            let ratio = sha_time / time;
            println!(
                "signed, {chunk}-byte chunks: {:.0} MB/s = {ratio:.2}x SHA-256",
                mb / time
            );
            assert!(ratio >= 0.8, "signed chunks of {chunk} bytes: {ratio:.2}x");
        }
        let mut unsigned = Vec::new();
        for data in payload.chunks(1024 * 1024).chain([&b""[..]]) {
            unsigned.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
            unsigned.extend_from_slice(data);
            if !data.is_empty() {
                unsigned.extend_from_slice(b"\r\n");
            }
        }
        let mut crc = ChecksumAlgorithm::Crc32.checksummer();
        crc.update(&payload);
        unsigned.extend_from_slice(
            format!(
                "x-amz-checksum-crc32:{}\r\n\r\n",
                to_base64(&crc.finalize())
            )
            .as_bytes(),
        );
        let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, payload.len() as u64);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
        let time = best_feed_time(&expect, &Bytes::from(unsigned), payload.len());
        println!("unsigned + crc32, 1 MiB chunks: {:.0} MB/s", mb / time);
    }
}
