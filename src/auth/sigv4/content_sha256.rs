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

use crate::error::{S3Error, S3ErrorCode};

/// The header that carries the payload mode (and, for presigned requests, the query parameter
/// `X-Amz-Content-Sha256` may carry it instead).
pub const CONTENT_SHA256_HEADER: &str = "x-amz-content-sha256";

/// The hashed-payload line of a presigned request that names no payload hash.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

impl PayloadMode {
    /// Parse an `x-amz-content-sha256` value. The names are case-sensitive, as S3 has them; a hash
    /// is 64 hex digits in either case (the canonical request keeps the value verbatim, so the case
    /// the client used is what it signed).
    pub fn parse(value: &str) -> Result<PayloadMode, S3Error> {
        let mode = match value {
            UNSIGNED_PAYLOAD => PayloadMode::Unsigned,
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => PayloadMode::StreamingSigned,
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => PayloadMode::StreamingSignedTrailer,
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => PayloadMode::StreamingUnsignedTrailer,
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
            | "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER" => PayloadMode::StreamingEcdsa,
            hash => {
                let mut digest = [0u8; 32];
                // decode_to_slice insists on exactly 64 hex digits for 32 bytes.
                match hex::decode_to_slice(hash, &mut digest) {
                    Ok(()) => PayloadMode::Sha256(digest),
                    Err(_) => return Err(invalid_content_sha256()),
                }
            }
        };
        Ok(mode)
    }
}

/// S3's answer to an `x-amz-content-sha256` it does not understand.
fn invalid_content_sha256() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, \
         STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER, \
         STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD[-TRAILER], or a valid sha256 value.",
    )
}

/// The single `x-amz-content-sha256` header value, if present. Two copies are refused rather
/// than joined: the hashed-payload line must be one value, and two would let the line and the
/// body verifier disagree about which one counts.
pub fn content_sha256_header(headers: &http::HeaderMap) -> Result<Option<&str>, S3Error> {
    let mut values = headers.get_all(CONTENT_SHA256_HEADER).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "x-amz-content-sha256 must be sent at most once",
        ));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| invalid_content_sha256())
}

/// For header auth: the header is required, and its value verbatim is the hashed-payload line.
pub fn header_auth_payload(headers: &http::HeaderMap) -> Result<(PayloadMode, &str), S3Error> {
    let Some(value) = content_sha256_header(headers)? else {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: x-amz-content-sha256",
        ));
    };
    Ok((PayloadMode::parse(value)?, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn names_map_to_their_modes() {
        assert_eq!(
            PayloadMode::parse("UNSIGNED-PAYLOAD").unwrap(),
            PayloadMode::Unsigned
        );
        assert_eq!(
            PayloadMode::parse("STREAMING-AWS4-HMAC-SHA256-PAYLOAD").unwrap(),
            PayloadMode::StreamingSigned
        );
        assert_eq!(
            PayloadMode::parse("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER").unwrap(),
            PayloadMode::StreamingSignedTrailer
        );
        assert_eq!(
            PayloadMode::parse("STREAMING-UNSIGNED-PAYLOAD-TRAILER").unwrap(),
            PayloadMode::StreamingUnsignedTrailer
        );
        assert_eq!(
            PayloadMode::parse("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD").unwrap(),
            PayloadMode::StreamingEcdsa
        );
        assert_eq!(
            PayloadMode::parse("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER").unwrap(),
            PayloadMode::StreamingEcdsa
        );
    }

    #[test]
    fn a_hash_in_either_case_is_sha256() {
        let PayloadMode::Sha256(lower) = PayloadMode::parse(EMPTY_SHA256).unwrap() else {
            panic!("not Sha256")
        };
        let upper = PayloadMode::parse(&EMPTY_SHA256.to_uppercase()).unwrap();
        assert_eq!(upper, PayloadMode::Sha256(lower));
        assert_eq!(lower[0], 0xe3);
        assert_eq!(lower[31], 0x55);
    }

    #[test]
    fn anything_else_is_invalid_argument() {
        for bad in [
            "",
            "unsigned-payload",
            "UNSIGNED-PAYLOAD ",
            &EMPTY_SHA256[..63],
            &format!("{EMPTY_SHA256}0"),
            &format!("{}g", &EMPTY_SHA256[..63]),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILERS",
        ] {
            let err = PayloadMode::parse(bad).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{bad:?}");
            assert!(err.message.starts_with("x-amz-content-sha256 must be"));
        }
    }

    #[test]
    fn header_auth_requires_the_header() {
        let err = header_auth_payload(&HeaderMap::new()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);
        assert_eq!(
            err.message,
            "Missing required header for this request: x-amz-content-sha256"
        );
    }

    #[test]
    fn header_value_is_kept_verbatim_for_the_canonical_request() {
        let mut headers = HeaderMap::new();
        let upper = EMPTY_SHA256.to_uppercase();
        headers.insert(
            CONTENT_SHA256_HEADER,
            HeaderValue::from_str(&upper).unwrap(),
        );
        let (_, line) = header_auth_payload(&headers).unwrap();
        assert_eq!(line, upper);
    }

    #[test]
    fn two_content_sha256_headers_are_refused() {
        let mut headers = HeaderMap::new();
        headers.append(
            CONTENT_SHA256_HEADER,
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        headers.append(
            CONTENT_SHA256_HEADER,
            HeaderValue::from_static("UNSIGNED-PAYLOAD"),
        );
        assert_eq!(
            header_auth_payload(&headers).unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(value in ".*") {
            let _ = PayloadMode::parse(&value);
        }
    }
}
