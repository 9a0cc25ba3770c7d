//! What `x-amz-content-sha256` (or presigned `X-Amz-Content-Sha256`) says about the body.

/// The payload modes of SigV4 for S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// A hex SHA-256 of the whole body: checked as it streams.
    Sha256([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: signed aws-chunked framing.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks plus signed trailers.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: unsigned chunks plus checksum trailers.
    StreamingUnsignedTrailer,
    /// `STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD[-TRAILER]`: SigV4A, not implemented.
    StreamingEcdsa,
}
