//! What the request head promised about an aws-chunked body: its framing ([`ChunkedMode`], from
//! `x-amz-content-sha256`) and the rest of [`ChunkedExpectations`] (`x-amz-decoded-content-length`,
//! `x-amz-trailer`, checksums sent as headers, the chunk size limit).

use super::ChunkSigner;
use crate::body::checksum::ChecksumAlgorithm;
use crate::error::{S3Error, S3ErrorCode};

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
    pub(super) fn signer(&self) -> Option<&ChunkSigner> {
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
    /// `x-amz-checksum-*` sent as headers (or presigned query parameters) rather than trailers,
    /// decoded: checked too. The verifier checks any number; `body::claims` lets at most one
    /// checksum through, trailer or header, as S3 does.
    pub header_checksums: Vec<(ChecksumAlgorithm, Vec<u8>)>,
    /// `Content-MD5` (RFC 1864): the MD5 of the decoded payload, not of the aws-chunked body.
    pub content_md5: Option<[u8; 16]>,
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
