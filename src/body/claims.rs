//! The integrity claims a request makes about its payload, wherever they travel: request headers,
//! the query of a presigned URL, the `x-amz-trailer` declaration of an aws-chunked upload, the
//! fields of a browser POST form. Pure: read once here, checked by the body verifiers.
//!
//! What S3 accepts, and so what is accepted here (the checks and messages of Amazon S3 as
//! reproduced by OpenStack Swift's s3api `_validate_checksum_headers`, which is tested against
//! it):
//!
//! - `Content-MD5`: base64 of 16 bytes, else `InvalidDigest`.
//! - **One** `x-amz-checksum-<algorithm>` with `<algorithm>` one of `crc32`, `crc32c`,
//!   `crc64nvme`, `sha1`, `sha256`; its value base64 of the digest, else `InvalidRequest`
//!   "Value for x-amz-checksum-crc32 header is invalid.". Two algorithms at once are refused
//!   ("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."),
//!   and so is a value sent up front together with a trailer ("Expecting a single
//!   x-amz-checksum- header"). Another `x-amz-checksum-<name>` is refused ("The algorithm type
//!   you specified in x-amz-checksum- header is invalid."): a value nobody can check must not
//!   pass as if it had been. `x-amz-checksum-type`, `-algorithm` and `-mode` name algorithms or
//!   modes, carry no value, and are not claims.
//! - `x-amz-sdk-checksum-algorithm` names the algorithm of the checksum the request carries:
//!   without one it is refused ("x-amz-sdk-checksum-algorithm specified, but no corresponding
//!   x-amz-checksum-* or x-amz-trailer headers were found."), naming another it is refused
//!   ("Value for x-amz-sdk-checksum-algorithm header is invalid.").
//!
//! A presigned URL carries claims in its query exactly as headers: botocore's SigV2 presigner
//! moves `Content-MD5` and every `x-amz-*` header into the URL, the Go and JavaScript SigV4
//! presigners hoist `x-amz-*` headers there. The same claim given twice (two header fields, a
//! header and a query parameter) must say the same thing, else the request does not say which
//! one it means and is refused.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::HeaderMap;
use percent_encoding::percent_decode_str;

use super::checksum::{to_base64, ChecksumAlgorithm};
use super::chunked::parse_trailer_header;
use crate::error::{S3Error, S3ErrorCode};

/// `Content-MD5`, as a header, query parameter or form field name (case-insensitive).
pub const CONTENT_MD5: &str = "content-md5";

/// Names the algorithm of the checksum a request carries.
pub const SDK_CHECKSUM_ALGORITHM: &str = "x-amz-sdk-checksum-algorithm";

/// The prefix of every checksum header (and trailer) name.
pub const CHECKSUM_PREFIX: &str = "x-amz-checksum-";

/// `x-amz-checksum-<suffix>` names that carry no checksum value: the algorithm of a multipart
/// upload (`algorithm`), its checksum type (`type`), and the GET switch (`mode`).
const NOT_CHECKSUM_VALUES: [&str; 3] = ["algorithm", "type", "mode"];

/// The declaration of the aws-chunked trailers.
const TRAILER_HEADER: &str = "x-amz-trailer";

/// The one checksum of a request, if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumClaim {
    /// The value came with the head (header, query parameter or form field), decoded.
    Value(ChecksumAlgorithm, Vec<u8>),
    /// The value follows the body as an aws-chunked trailer named in `x-amz-trailer`.
    Trailer(ChecksumAlgorithm),
}

impl ChecksumClaim {
    /// The algorithm claimed.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self {
            ChecksumClaim::Value(algorithm, _) | ChecksumClaim::Trailer(algorithm) => *algorithm,
        }
    }
}

/// Everything a request claims about its payload's integrity, each claim at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityClaims {
    /// The `Content-MD5` digest (RFC 1864).
    pub content_md5: Option<[u8; 16]>,
    /// The checksum: at most one algorithm per request, as S3 has it.
    pub checksum: Option<ChecksumClaim>,
}

impl IntegrityClaims {
    /// The claims of a request head: its headers, its query (`raw_query` as received, without
    /// the `?`) and its `x-amz-trailer` declaration.
    pub fn from_head(headers: &HeaderMap, raw_query: &str) -> Result<IntegrityClaims, S3Error> {
        let collector = Collector::default();
        collector.read_head(headers, raw_query)
    }

    /// The claims of a CompleteMultipartUpload head (`POST /bucket/key?uploadId=…`): its
    /// `x-amz-checksum-*` headers (and `x-amz-checksum-type`, `x-amz-mp-object-size`) describe
    /// the object the parts make, which the backend assembles and checks, not the XML body that
    /// lists the parts (S3 API Reference, CompleteMultipartUpload); composite values even end in
    /// `-<parts>`. Only `Content-MD5` is a claim about this body.
    pub fn of_multipart_completion(
        headers: &HeaderMap,
        raw_query: &str,
    ) -> Result<IntegrityClaims, S3Error> {
        let collector = Collector {
            body_checksums: false,
            ..Collector::default()
        };
        collector.read_head(headers, raw_query)
    }

    /// The claims of a browser POST form's fields (name, value), names case-insensitive. A form
    /// has no trailers.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<IntegrityClaims, S3Error> {
        let mut collector = Collector::default();
        for (name, value) in fields {
            collector.add(name, value)?;
        }
        collector.finish(None)
    }

    /// The claims as the headers of an upstream `PUT` (lower-case names, canonical base64), for
    /// a backend that checks them too. A trailer claim has no header.
    pub fn upstream_headers(&self) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        if let Some(md5) = &self.content_md5 {
            headers.push((CONTENT_MD5.to_owned(), to_base64(md5)));
        }
        if let Some(ChecksumClaim::Value(algorithm, digest)) = &self.checksum {
            headers.push((algorithm.header_name().to_owned(), to_base64(digest)));
        }
        headers
    }
}

/// Whether a query parameter's name is one that carries an integrity claim.
fn is_claim_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == CONTENT_MD5 || lower == SDK_CHECKSUM_ALGORITHM || lower.starts_with(CHECKSUM_PREFIX)
}

/// The claims found so far, raw: values are decoded and cross-checked by [`Collector::finish`],
/// after the names, in the order S3 checks them (unknown algorithm, then how many, then values).
#[derive(Debug)]
struct Collector {
    /// Whether `x-amz-checksum-*` and `x-amz-sdk-checksum-algorithm` describe this body (all
    /// requests but CompleteMultipartUpload).
    body_checksums: bool,
    content_md5: Vec<Vec<u8>>,
    /// Each algorithm named, with every value given for it.
    checksums: Vec<(ChecksumAlgorithm, Vec<Vec<u8>>)>,
    sdk_algorithm: Vec<Vec<u8>>,
}

impl Default for Collector {
    fn default() -> Collector {
        Collector {
            body_checksums: true,
            content_md5: Vec::new(),
            checksums: Vec::new(),
            sdk_algorithm: Vec::new(),
        }
    }
}

impl Collector {
    /// Every header, every claim of the query, and the `x-amz-trailer` declaration.
    fn read_head(
        mut self,
        headers: &HeaderMap,
        raw_query: &str,
    ) -> Result<IntegrityClaims, S3Error> {
        for (name, value) in headers {
            self.add(name.as_str(), value.as_bytes())?;
        }
        for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode_str(name).decode_utf8_lossy();
            if is_claim_name(&name) {
                let value: Vec<u8> = percent_decode_str(value).collect();
                self.add(&name, &value)?;
            }
        }
        let trailer = declared_trailer(headers)?;
        self.finish(trailer)
    }

    /// One header, query parameter or form field; names that are no claim are skipped.
    fn add(&mut self, name: &str, value: &[u8]) -> Result<(), S3Error> {
        let lower = name.to_ascii_lowercase();
        if lower == CONTENT_MD5 {
            self.content_md5.push(value.to_vec());
        } else if !self.body_checksums {
            // The object's checksums, not this body's: the backend's to check.
        } else if lower == SDK_CHECKSUM_ALGORITHM {
            self.sdk_algorithm.push(value.to_vec());
        } else if let Some(suffix) = lower.strip_prefix(CHECKSUM_PREFIX) {
            if NOT_CHECKSUM_VALUES.contains(&suffix) {
                return Ok(());
            }
            let algorithm = ChecksumAlgorithm::from_header_name(&lower).ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "The algorithm type you specified in x-amz-checksum- header is invalid.",
                )
            })?;
            match self.checksums.iter_mut().find(|(a, _)| *a == algorithm) {
                Some((_, values)) => values.push(value.to_vec()),
                None => self.checksums.push((algorithm, vec![value.to_vec()])),
            }
        }
        Ok(())
    }

    /// Decode and cross-check everything collected, with the trailer `x-amz-trailer` declares.
    fn finish(self, trailer: Option<ChecksumAlgorithm>) -> Result<IntegrityClaims, S3Error> {
        if self.checksums.len() > 1 {
            return Err(multiple_checksums());
        }
        let content_md5 = agreed(
            &self.content_md5,
            S3ErrorCode::InvalidDigest,
            CONTENT_MD5,
            parse_content_md5,
        )?;
        let value = match self.checksums.into_iter().next() {
            Some((algorithm, values)) => {
                let digest = agreed(
                    &values,
                    S3ErrorCode::InvalidRequest,
                    algorithm.header_name(),
                    |raw| algorithm.decode_value(raw),
                )?;
                digest.map(|digest| (algorithm, digest))
            }
            None => None,
        };
        let checksum = match (value, trailer) {
            (Some(_), Some(_)) => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "Expecting a single x-amz-checksum- header",
                ))
            }
            (Some((algorithm, digest)), None) => Some(ChecksumClaim::Value(algorithm, digest)),
            (None, Some(algorithm)) => Some(ChecksumClaim::Trailer(algorithm)),
            (None, None) => None,
        };
        let sdk_algorithm = agreed(
            &self.sdk_algorithm,
            S3ErrorCode::InvalidRequest,
            SDK_CHECKSUM_ALGORITHM,
            parse_sdk_algorithm,
        )?;
        if let Some(named) = sdk_algorithm {
            match &checksum {
                None => {
                    return Err(S3Error::new(
                        S3ErrorCode::InvalidRequest,
                        "x-amz-sdk-checksum-algorithm specified, but no corresponding \
                         x-amz-checksum-* or x-amz-trailer headers were found.",
                    ))
                }
                Some(claim) if claim.algorithm() != named => return Err(invalid_sdk_algorithm()),
                Some(_) => {}
            }
        }
        Ok(IntegrityClaims {
            content_md5,
            checksum,
        })
    }
}

/// The one value of a claim given `raws.len()` times: every one is parsed (a bad one refused
/// with its own error), and two that parse to different values are refused with `conflict`,
/// the code S3 gives a bad value of that claim.
fn agreed<T: PartialEq>(
    raws: &[Vec<u8>],
    conflict: S3ErrorCode,
    name: &str,
    parse: impl Fn(&[u8]) -> Result<T, S3Error>,
) -> Result<Option<T>, S3Error> {
    let mut found: Option<T> = None;
    for raw in raws {
        let value = parse(raw)?;
        match &found {
            Some(earlier) if *earlier != value => {
                return Err(S3Error::new(
                    conflict,
                    format!("The request carries conflicting {name} values."),
                ));
            }
            _ => found = Some(value),
        }
    }
    Ok(found)
}

/// `Content-MD5`: base64 of the 16-byte MD5 digest (RFC 1864), strict padding; surrounding
/// spaces and tabs are not part of a field value (RFC 9110 §5.5).
pub fn parse_content_md5(raw: &[u8]) -> Result<[u8; 16], S3Error> {
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidDigest,
            "The Content-MD5 you specified was not valid.",
        )
    };
    let digest = BASE64.decode(raw.trim_ascii()).map_err(|_| invalid())?;
    <[u8; 16]>::try_from(digest.as_slice()).map_err(|_| invalid())
}

/// `x-amz-sdk-checksum-algorithm`: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1` or `SHA256`.
fn parse_sdk_algorithm(raw: &[u8]) -> Result<ChecksumAlgorithm, S3Error> {
    std::str::from_utf8(raw.trim_ascii())
        .ok()
        .and_then(ChecksumAlgorithm::from_algorithm_name)
        .ok_or_else(invalid_sdk_algorithm)
}

fn invalid_sdk_algorithm() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        "Value for x-amz-sdk-checksum-algorithm header is invalid.",
    )
}

fn multiple_checksums() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
    )
}

/// The checksum trailer `x-amz-trailer` declares (every field of it, as one list): at most one,
/// as S3 has it.
fn declared_trailer(headers: &HeaderMap) -> Result<Option<ChecksumAlgorithm>, S3Error> {
    let mut list = String::new();
    for value in headers.get_all(TRAILER_HEADER) {
        let text = value.to_str().map_err(|_| {
            S3Error::new(S3ErrorCode::InvalidArgument, "x-amz-trailer is not ASCII.")
        })?;
        list.push_str(text);
        list.push(',');
    }
    let declared = parse_trailer_header(&list)?;
    if declared.len() > 1 {
        return Err(multiple_checksums());
    }
    Ok(declared.first().copied())
}

#[cfg(test)]
mod tests;
