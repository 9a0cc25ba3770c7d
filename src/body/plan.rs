//! Which body verifier a request needs, decided from its verified head: pure, no I/O.
//!
//! The mode comes from `x-amz-content-sha256` alone (what the signature covers): minio-go sends
//! signed chunks without `Content-Encoding: aws-chunked`, the CRT client the trailer mode with a
//! Content-Length. A plain body gets the whole-payload verifier (SHA-256, Content-MD5,
//! `x-amz-checksum-*`), an aws-chunked one the chunked decoder (chunk signatures, trailers,
//! Content-MD5 and checksums of the decoded payload). Both get the same integrity claims, read
//! once by `body::claims` from the headers and the query.

use bytes::Bytes;
use http::header;

use super::chunked::{AwsChunkedVerifier, ChunkedExpectations, ChunkedMode};
use super::claims::{ChecksumClaim, IntegrityClaims};
use super::delete_list::DeleteListCheck;
use super::payload::{PayloadExpectations, PayloadVerifier};
use super::BodyVerifier;
use crate::auth::sigv4::PayloadMode;
use crate::auth::Verified;
use crate::error::{S3Error, S3ErrorCode};

/// The body verifier a request needs.
// One per request, inside its context: the size difference of the variants costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum BodyCheck {
    /// A plain body: whole-payload digest, Content-MD5, checksums.
    Whole(PayloadVerifier),
    /// An aws-chunked body: framing stripped, chunk signatures and trailers verified.
    Chunked(AwsChunkedVerifier),
    /// A DeleteObjects body: verified as above, held whole, its keys read at the end.
    DeleteList(DeleteListCheck),
}

impl BodyCheck {
    /// The verifier, to feed and finish.
    fn verifier(&mut self) -> &mut dyn BodyVerifier {
        match self {
            BodyCheck::Whole(v) => v,
            BodyCheck::Chunked(v) => v,
            BodyCheck::DeleteList(v) => v,
        }
    }

    /// The keys a DeleteObjects body names, once it has been finished: the proxy authorizes
    /// each before it releases the body.
    pub fn named_keys(&self) -> Option<&[String]> {
        match self {
            BodyCheck::DeleteList(v) => v.keys(),
            _ => None,
        }
    }

    /// Feed a piece; at the end of the body also finish, returning everything now releasable.
    pub fn feed_piece(&mut self, input: Bytes, end_of_stream: bool) -> Result<Bytes, S3Error> {
        let verifier = self.verifier();
        let released = verifier.feed(input)?;
        if !end_of_stream {
            return Ok(released);
        }
        let tail = verifier.finish()?;
        Ok(super::join(&mut vec![released, tail]))
    }
}

impl BodyVerifier for BodyCheck {
    fn feed(&mut self, input: Bytes) -> Result<Bytes, S3Error> {
        self.verifier().feed(input)
    }

    fn finish(&mut self) -> Result<Bytes, S3Error> {
        self.verifier().finish()
    }

    fn reset(&mut self) {
        self.verifier().reset();
    }

    fn md5_hex(&self) -> Option<String> {
        match self {
            BodyCheck::Whole(v) => v.md5_hex(),
            BodyCheck::Chunked(v) => v.md5_hex(),
            BodyCheck::DeleteList(v) => v.md5_hex(),
        }
    }
}

/// What the proxy's configuration adds to the decision.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    /// `limits.max_chunk_size`.
    pub max_chunk_size: u64,
    /// Compute the payload's MD5 (the ETag a plain HTTP backend does not give).
    pub compute_md5: bool,
    /// A DeleteObjects request: hold its body whole, at most this many bytes, and read its keys.
    pub delete_list: Option<usize>,
}

/// The verifier of a request's body, and for aws-chunked uploads the decoded length (the
/// upstream `Content-Length`).
pub struct BodyPlan {
    /// The streaming check.
    pub check: BodyCheck,
    /// `x-amz-decoded-content-length` of an aws-chunked upload.
    pub decoded_length: Option<u64>,
}

/// Decide the body verifier of a request whose head verified. `raw_query` is the query as
/// received: a presigned URL carries integrity claims there, treated as headers are.
pub fn plan(
    method: &http::Method,
    headers: &http::HeaderMap,
    raw_query: &str,
    verified: &Verified,
    options: PlanOptions,
) -> Result<BodyPlan, S3Error> {
    let plan = payload_plan(method, headers, raw_query, verified, options)?;
    let Some(limit) = options.delete_list else {
        return Ok(plan);
    };
    let claims = IntegrityClaims::from_head(headers, raw_query)?;
    if claims.content_md5.is_none() && claims.checksum.is_none() {
        // S3 requires one: the list of keys to delete must arrive as it was sent.
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Missing required header for this request: Content-Md5.",
        ));
    }
    Ok(BodyPlan {
        check: BodyCheck::DeleteList(DeleteListCheck::new(plan.check, limit)),
        decoded_length: plan.decoded_length,
    })
}

/// The verifier of the payload itself: whole or aws-chunked.
fn payload_plan(
    method: &http::Method,
    headers: &http::HeaderMap,
    raw_query: &str,
    verified: &Verified,
    options: PlanOptions,
) -> Result<BodyPlan, S3Error> {
    let chunked_mode = chunked_mode(verified)?;
    if chunked_mode.is_none() && has_aws_chunked_coding(headers) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Content-Encoding: aws-chunked needs an x-amz-content-sha256 of STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] or STREAMING-UNSIGNED-PAYLOAD-TRAILER.",
        ));
    }
    let is_put = method == http::Method::PUT;
    let compute_md5 = is_put && options.compute_md5;
    let claims = if is_multipart_completion(method, raw_query) {
        IntegrityClaims::of_multipart_completion(headers, raw_query)?
    } else {
        IntegrityClaims::from_head(headers, raw_query)?
    };
    match chunked_mode {
        Some(mode) => {
            let decoded_length = decoded_content_length(headers)?;
            let (declared_trailers, header_checksums) = match claims.checksum {
                None => (Vec::new(), Vec::new()),
                Some(ChecksumClaim::Trailer(algorithm)) => (vec![algorithm], Vec::new()),
                Some(ChecksumClaim::Value(algorithm, digest)) => {
                    (Vec::new(), vec![(algorithm, digest)])
                }
            };
            let verifier = AwsChunkedVerifier::new(ChunkedExpectations {
                mode,
                decoded_length,
                declared_trailers,
                header_checksums,
                content_md5: claims.content_md5,
                max_chunk_size: options.max_chunk_size,
                compute_md5,
            })?;
            Ok(BodyPlan {
                check: BodyCheck::Chunked(verifier),
                decoded_length: Some(decoded_length),
            })
        }
        None => {
            if is_put && !headers.contains_key(header::CONTENT_LENGTH) {
                return Err(S3Error::new(
                    S3ErrorCode::MissingContentLength,
                    "You must provide the Content-Length HTTP header.",
                ));
            }
            let sha256 = match verified.payload {
                PayloadMode::Sha256(digest) => Some(digest),
                _ => None,
            };
            let mut expectations = PayloadExpectations::with_claims(headers, claims, sha256)?;
            expectations.compute_md5 = compute_md5;
            Ok(BodyPlan {
                check: BodyCheck::Whole(PayloadVerifier::new(expectations)),
                decoded_length: None,
            })
        }
    }
}

/// CompleteMultipartUpload: `POST` with an `uploadId` query parameter (S3 API Reference; the
/// other POSTs on an object, `?uploads`, `?restore`, `?select`, have none).
fn is_multipart_completion(method: &http::Method, raw_query: &str) -> bool {
    method == http::Method::POST
        && raw_query
            .split('&')
            .any(|pair| pair.split_once('=').map_or(pair, |(name, _)| name) == "uploadId")
}

/// The aws-chunked framing the signature announced, if any.
fn chunked_mode(verified: &Verified) -> Result<Option<ChunkedMode>, S3Error> {
    let signer = || {
        verified.chunk_signer.clone().ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InternalError,
                "A signed aws-chunked upload has no chunk signer.",
            )
        })
    };
    Ok(match verified.payload {
        PayloadMode::StreamingSigned => Some(ChunkedMode::Signed(signer()?)),
        PayloadMode::StreamingSignedTrailer => Some(ChunkedMode::SignedWithTrailer(signer()?)),
        PayloadMode::StreamingUnsignedTrailer => Some(ChunkedMode::UnsignedWithTrailer),
        PayloadMode::StreamingEcdsa => {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "SigV4A (ECDSA) streaming uploads are not supported.",
            ))
        }
        PayloadMode::Unsigned | PayloadMode::Sha256(_) => None,
    })
}

/// Whether Content-Encoding names `aws-chunked`.
pub fn has_aws_chunked_coding(headers: &http::HeaderMap) -> bool {
    headers.get_all(header::CONTENT_ENCODING).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|c| c.trim().eq_ignore_ascii_case("aws-chunked"))
        })
    })
}

/// `x-amz-decoded-content-length`: required for aws-chunked uploads.
fn decoded_content_length(headers: &http::HeaderMap) -> Result<u64, S3Error> {
    let value = headers.get("x-amz-decoded-content-length").ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::MissingContentLength,
            "You must provide the x-amz-decoded-content-length header for aws-chunked uploads.",
        )
    })?;
    value
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "x-amz-decoded-content-length must be a decimal number of bytes.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::chunk_signing::ChunkSigner;
    use crate::auth::sigv4::SigningKey;
    use crate::auth::AuthMethod;

    fn verified(payload: PayloadMode, signer: Option<ChunkSigner>) -> Verified {
        Verified {
            access_key: "AKIDEXAMPLE".into(),
            method: AuthMethod::SigV4Header,
            payload,
            chunk_signer: signer,
        }
    }

    fn signer() -> ChunkSigner {
        ChunkSigner::new(
            SigningKey::from_bytes([7; 32]),
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            "00".repeat(32),
        )
    }

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, http::HeaderValue::from_str(value).unwrap());
        }
        h
    }

    const OPTIONS: PlanOptions = PlanOptions {
        max_chunk_size: 1 << 20,
        compute_md5: true,
        delete_list: None,
    };

    fn plan_of(
        method: http::Method,
        h: &http::HeaderMap,
        v: &Verified,
    ) -> Result<BodyPlan, S3Error> {
        plan(&method, h, "", v, OPTIONS)
    }

    #[test]
    fn a_plain_put_gets_the_whole_payload_verifier_and_needs_a_length() {
        let v = verified(PayloadMode::Unsigned, None);
        let with_length = headers(&[("content-length", "3")]);
        let p = plan_of(http::Method::PUT, &with_length, &v).unwrap();
        assert!(matches!(p.check, BodyCheck::Whole(_)));
        assert_eq!(p.decoded_length, None);
        let err = plan_of(http::Method::PUT, &headers(&[]), &v).err().unwrap();
        assert_eq!(err.code, S3ErrorCode::MissingContentLength);
        // A GET without a length is fine.
        assert!(plan_of(http::Method::GET, &headers(&[]), &v).is_ok());
    }

    #[test]
    fn the_signed_sha256_is_what_the_whole_body_must_hash_to() {
        let digest = [0u8; 32];
        let v = verified(PayloadMode::Sha256(digest), None);
        let h = headers(&[("content-length", "3")]);
        let BodyCheck::Whole(mut verifier) = plan_of(http::Method::PUT, &h, &v).unwrap().check
        else {
            panic!("a whole-body check");
        };
        verifier.feed(Bytes::from_static(b"abc")).unwrap();
        assert_eq!(
            verifier.finish().unwrap_err().code,
            S3ErrorCode::XAmzContentSHA256Mismatch
        );
    }

    #[test]
    fn streaming_modes_get_the_chunked_verifier_with_the_decoded_length() {
        let plain = headers(&[("x-amz-decoded-content-length", "66560")]);
        let with_trailer = headers(&[
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-trailer", "x-amz-checksum-crc32c"),
        ]);
        for (payload, h) in [
            (PayloadMode::StreamingSigned, &plain),
            (PayloadMode::StreamingSignedTrailer, &with_trailer),
            (PayloadMode::StreamingUnsignedTrailer, &with_trailer),
        ] {
            let p = plan_of(http::Method::PUT, h, &verified(payload, Some(signer()))).unwrap();
            assert!(matches!(p.check, BodyCheck::Chunked(_)), "{payload:?}");
            assert_eq!(p.decoded_length, Some(66560));
        }
    }

    #[test]
    fn streaming_refusals_name_what_is_wrong() {
        let streaming = verified(PayloadMode::StreamingUnsignedTrailer, None);
        let cases = [
            (
                verified(PayloadMode::StreamingEcdsa, None),
                headers(&[("x-amz-decoded-content-length", "1")]),
                S3ErrorCode::NotImplemented,
            ),
            (
                verified(PayloadMode::Unsigned, None),
                headers(&[
                    ("content-encoding", "gzip, aws-chunked"),
                    ("content-length", "1"),
                ]),
                S3ErrorCode::InvalidArgument,
            ),
            (
                streaming.clone(),
                headers(&[]),
                S3ErrorCode::MissingContentLength,
            ),
            (
                verified(PayloadMode::StreamingSigned, Some(signer())),
                headers(&[
                    ("x-amz-decoded-content-length", "1"),
                    ("x-amz-trailer", "x-amz-checksum-crc32"),
                ]),
                S3ErrorCode::InvalidRequest,
            ),
            (
                verified(PayloadMode::StreamingSigned, None),
                headers(&[("x-amz-decoded-content-length", "1")]),
                S3ErrorCode::InternalError,
            ),
            (
                streaming.clone(),
                headers(&[("x-amz-decoded-content-length", "-1")]),
                S3ErrorCode::InvalidArgument,
            ),
            (
                streaming,
                headers(&[
                    ("x-amz-decoded-content-length", "1"),
                    ("x-amz-trailer", "x-amz-checksum-md5"),
                ]),
                S3ErrorCode::InvalidRequest,
            ),
        ];
        for (v, h, code) in cases {
            let err = plan_of(http::Method::PUT, &h, &v).err().unwrap();
            assert_eq!(err.code, code, "{h:?}: {err}");
        }
    }

    /// Feed `body` whole to the plan's check and finish.
    fn outcome(plan: Result<BodyPlan, S3Error>, body: &'static [u8]) -> Result<Bytes, S3Error> {
        let mut check = plan?.check;
        let released = check.feed_piece(Bytes::from_static(body), true)?;
        Ok(released)
    }

    /// MD5("abc") (RFC 1321) and MD5("abd") (Python's hashlib), base64.
    const ABC_MD5_B64: &str = "kAFQmDzST7DWlj99KOF/cg==";
    const ABD_MD5_B64: &str = "SRHlFuWqIdMnUS4Mixl2Fg==";

    #[test]
    fn content_md5_is_checked_on_aws_chunked_uploads_too() {
        let v = verified(PayloadMode::StreamingUnsignedTrailer, None);
        let wire: &[u8] = b"3\r\nabc\r\n0\r\n\r\n";
        for (md5, ok) in [(ABC_MD5_B64, true), (ABD_MD5_B64, false)] {
            let h = headers(&[("x-amz-decoded-content-length", "3"), ("content-md5", md5)]);
            let result = outcome(plan_of(http::Method::PUT, &h, &v), wire);
            match ok {
                true => assert_eq!(result, Ok(Bytes::from_static(b"abc"))),
                false => assert_eq!(result.map_err(|e| e.code), Err(S3ErrorCode::BadDigest)),
            }
        }
    }

    #[test]
    fn the_query_of_a_presigned_url_carries_claims_in_every_body_mode() {
        let plain = verified(PayloadMode::Unsigned, None);
        let streaming = verified(PayloadMode::StreamingUnsignedTrailer, None);
        let plain_h = headers(&[("content-length", "3")]);
        let chunked_h = headers(&[("x-amz-decoded-content-length", "3")]);
        let wire: &'static [u8] = b"3\r\nabc\r\n0\r\n\r\n";
        // CRC-32 of "abc" is 0x352441C2 (zlib): NSRBwg== in base64.
        for query in [
            "x-amz-checksum-crc32=NSRBwg%3D%3D",
            "content-md5=kAFQmDzST7DWlj99KOF%2Fcg%3D%3D",
        ] {
            let cases: [(&Verified, &http::HeaderMap, &'static [u8]); 2] =
                [(&plain, &plain_h, b"abc"), (&streaming, &chunked_h, wire)];
            for (v, h, body) in cases {
                let p = plan(&http::Method::PUT, h, query, v, OPTIONS);
                assert_eq!(outcome(p, body), Ok(Bytes::from_static(b"abc")), "{query}");
                let tampered: &'static [u8] = if body == b"abc" {
                    b"abd"
                } else {
                    b"3\r\nabd\r\n0\r\n\r\n"
                };
                let p = plan(&http::Method::PUT, h, query, v, OPTIONS);
                let err = outcome(p, tampered).expect_err("tampered");
                assert_eq!(err.code, S3ErrorCode::BadDigest, "{query}: {err}");
            }
        }
    }

    #[test]
    fn one_checksum_per_request_in_every_body_mode() {
        let streaming = verified(PayloadMode::StreamingUnsignedTrailer, None);
        let plain = verified(PayloadMode::Unsigned, None);
        let cases = [
            (
                &streaming,
                headers(&[
                    ("x-amz-decoded-content-length", "3"),
                    ("x-amz-trailer", "x-amz-checksum-crc32c"),
                    ("x-amz-checksum-crc32", "NSRBwg=="),
                ]),
                "",
            ),
            (
                &streaming,
                headers(&[
                    ("x-amz-decoded-content-length", "3"),
                    (
                        "x-amz-trailer",
                        "x-amz-checksum-crc32,x-amz-checksum-crc32c",
                    ),
                ]),
                "",
            ),
            (
                &plain,
                headers(&[
                    ("content-length", "3"),
                    ("x-amz-checksum-crc32", "NSRBwg=="),
                ]),
                "x-amz-checksum-crc32c=Nks%2Ftw%3D%3D",
            ),
            (
                &plain,
                headers(&[
                    ("content-length", "3"),
                    ("x-amz-checksum-crc33", "NSRBwg=="),
                ]),
                "",
            ),
        ];
        for (v, h, query) in cases {
            let err = plan(&http::Method::PUT, &h, query, v, OPTIONS)
                .err()
                .expect("refused");
            assert_eq!(
                err.code,
                S3ErrorCode::InvalidRequest,
                "{h:?} {query}: {err}"
            );
        }
    }

    /// CompleteMultipartUpload's checksum headers describe the assembled object (its value
    /// may be composite: base64, `-`, the number of parts); its XML body is checked by its
    /// signed SHA-256 and Content-MD5 only. Any other POST's checksum is its body's.
    #[test]
    fn the_checksum_of_a_multipart_completion_is_the_objects_not_the_bodys() {
        let v = verified(PayloadMode::Unsigned, None);
        let object_claims = headers(&[
            ("content-length", "3"),
            ("x-amz-checksum-crc32", "NSRBwg==-2"),
            ("x-amz-checksum-type", "COMPOSITE"),
        ]);
        let complete = plan(
            &http::Method::POST,
            &object_claims,
            "uploadId=abc",
            &v,
            OPTIONS,
        );
        assert_eq!(outcome(complete, b"xyz"), Ok(Bytes::from_static(b"xyz")));
        let delete = plan(&http::Method::POST, &object_claims, "delete", &v, OPTIONS);
        assert_eq!(
            delete.err().map(|e| e.code),
            Some(S3ErrorCode::InvalidRequest)
        );
        let part = plan(
            &http::Method::PUT,
            &object_claims,
            "partNumber=1&uploadId=abc",
            &v,
            OPTIONS,
        );
        assert_eq!(
            part.err().map(|e| e.code),
            Some(S3ErrorCode::InvalidRequest)
        );
        // Content-MD5 is about the XML body, also on a completion: MD5("abd") is not "xyz"'s.
        let md5 = headers(&[("content-length", "3"), ("content-md5", ABD_MD5_B64)]);
        let complete = plan(&http::Method::POST, &md5, "uploadId=abc", &v, OPTIONS);
        assert_eq!(
            outcome(complete, b"xyz").map_err(|e| e.code),
            Err(S3ErrorCode::BadDigest)
        );
    }

    #[test]
    fn aws_chunked_is_found_among_other_codings_in_any_case() {
        assert!(has_aws_chunked_coding(&headers(&[(
            "content-encoding",
            "gzip,AWS-Chunked"
        )])));
        assert!(has_aws_chunked_coding(&headers(&[
            ("content-encoding", "gzip"),
            ("content-encoding", "aws-chunked"),
        ])));
        assert!(!has_aws_chunked_coding(&headers(&[(
            "content-encoding",
            "gzip"
        )])));
    }
}
