//! The one error type of the proxy and its mapping to what goes on the wire.
//!
//! Every refusal the proxy makes is an [`S3Error`]: a closed [`S3ErrorCode`] (which decides the
//! HTTP status and the metric label, so labels stay bounded) plus a human message and, for
//! signature mismatches, the diagnostic strings AWS itself returns.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// The S3 error codes this proxy can answer with. Names and statuses follow the Amazon S3 API
/// Reference, "Error responses" (List of error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum S3ErrorCode {
    AccessDenied,
    /// A CORS preflight no rule allows.
    AccessForbidden,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    BadDigest,
    /// CreateBucket of a bucket that exists (the proxy's buckets all have one owner).
    BucketAlreadyOwnedByYou,
    /// DeleteBucket of a bucket that still holds objects.
    BucketNotEmpty,
    EntityTooLarge,
    EntityTooSmall,
    IncompleteBody,
    InternalError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidBucketName,
    InvalidDigest,
    /// CompleteMultipartUpload names a part that was not uploaded, or with another ETag.
    InvalidPart,
    /// CompleteMultipartUpload lists its parts out of ascending order.
    InvalidPartOrder,
    InvalidPolicyDocument,
    InvalidRange,
    InvalidRequest,
    InvalidURI,
    KeyTooLongError,
    MalformedPOSTRequest,
    MalformedXML,
    /// The form fields before the file are larger than `limits.post_max_prefix` (S3's
    /// `MaxPostPreDataLengthExceededError`).
    MaxPostPreDataLengthExceeded,
    MethodNotAllowed,
    MissingContentLength,
    MissingSecurityHeader,
    NoSuchBucket,
    NoSuchKey,
    /// An upload id that names no multipart upload of this bucket and key.
    NoSuchUpload,
    /// The bucket-configuration queries S3 answers with "none configured" (a plain store has
    /// no such configuration).
    NoSuchBucketPolicy,
    NoSuchCORSConfiguration,
    NoSuchLifecycleConfiguration,
    NoSuchPublicAccessBlockConfiguration,
    NoSuchTagSet,
    NoSuchWebsiteConfiguration,
    ObjectLockConfigurationNotFoundError,
    OwnershipControlsNotFoundError,
    ReplicationConfigurationNotFoundError,
    ServerSideEncryptionConfigurationNotFoundError,
    NotImplemented,
    PreconditionFailed,
    /// A request head larger than `limits.max_header_size`.
    RequestHeaderSectionTooLarge,
    /// A request head not received whole within `server.header_timeout` (S3's code for a
    /// client too slow to send).
    RequestTimeout,
    RequestTimeTooSkewed,
    ServiceUnavailable,
    SignatureDoesNotMatch,
    SlowDown,
    XAmzContentSHA256Mismatch,
    /// The upstream could not be reached or failed mid-request (S3 has no exact code; AWS answers
    /// `InternalError` / 503 `ServiceUnavailable` in these cases).
    BadGateway,
    /// The upstream did not answer, or take the body, within `upstream.read_timeout` /
    /// `write_timeout` (a gateway's 504; S3 has no such code).
    GatewayTimeout,
}

impl S3ErrorCode {
    /// The `<Code>` element, exactly as S3 spells it.
    pub fn as_str(self) -> &'static str {
        use S3ErrorCode::*;
        match self {
            AccessDenied => "AccessDenied",
            AccessForbidden => "AccessForbidden",
            AuthorizationHeaderMalformed => "AuthorizationHeaderMalformed",
            AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            BadDigest => "BadDigest",
            BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
            BucketNotEmpty => "BucketNotEmpty",
            EntityTooLarge => "EntityTooLarge",
            EntityTooSmall => "EntityTooSmall",
            IncompleteBody => "IncompleteBody",
            InternalError => "InternalError",
            InvalidAccessKeyId => "InvalidAccessKeyId",
            InvalidArgument => "InvalidArgument",
            InvalidBucketName => "InvalidBucketName",
            InvalidDigest => "InvalidDigest",
            InvalidPart => "InvalidPart",
            InvalidPartOrder => "InvalidPartOrder",
            InvalidPolicyDocument => "InvalidPolicyDocument",
            InvalidRange => "InvalidRange",
            InvalidRequest => "InvalidRequest",
            InvalidURI => "InvalidURI",
            KeyTooLongError => "KeyTooLongError",
            MalformedPOSTRequest => "MalformedPOSTRequest",
            MalformedXML => "MalformedXML",
            MaxPostPreDataLengthExceeded => "MaxPostPreDataLengthExceededError",
            MethodNotAllowed => "MethodNotAllowed",
            MissingContentLength => "MissingContentLength",
            MissingSecurityHeader => "MissingSecurityHeader",
            NoSuchBucket => "NoSuchBucket",
            NoSuchKey => "NoSuchKey",
            NoSuchUpload => "NoSuchUpload",
            NoSuchBucketPolicy => "NoSuchBucketPolicy",
            NoSuchCORSConfiguration => "NoSuchCORSConfiguration",
            NoSuchLifecycleConfiguration => "NoSuchLifecycleConfiguration",
            NoSuchPublicAccessBlockConfiguration => "NoSuchPublicAccessBlockConfiguration",
            NoSuchTagSet => "NoSuchTagSet",
            NoSuchWebsiteConfiguration => "NoSuchWebsiteConfiguration",
            ObjectLockConfigurationNotFoundError => "ObjectLockConfigurationNotFoundError",
            OwnershipControlsNotFoundError => "OwnershipControlsNotFoundError",
            ReplicationConfigurationNotFoundError => "ReplicationConfigurationNotFoundError",
            ServerSideEncryptionConfigurationNotFoundError => {
                "ServerSideEncryptionConfigurationNotFoundError"
            }
            NotImplemented => "NotImplemented",
            PreconditionFailed => "PreconditionFailed",
            RequestTimeTooSkewed => "RequestTimeTooSkewed",
            RequestHeaderSectionTooLarge => "RequestHeaderSectionTooLarge",
            RequestTimeout => "RequestTimeout",
            ServiceUnavailable => "ServiceUnavailable",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            SlowDown => "SlowDown",
            XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            BadGateway => "BadGateway",
            GatewayTimeout => "GatewayTimeout",
        }
    }

    /// The HTTP status S3 uses for this code.
    pub fn http_status(self) -> u16 {
        use S3ErrorCode::*;
        match self {
            AccessDenied
            | AccessForbidden
            | InvalidAccessKeyId
            | SignatureDoesNotMatch
            | RequestTimeTooSkewed => 403,
            AuthorizationHeaderMalformed
            | AuthorizationQueryParametersError
            | BadDigest
            | EntityTooLarge
            | EntityTooSmall
            | IncompleteBody
            | InvalidArgument
            | InvalidBucketName
            | InvalidDigest
            | InvalidPart
            | InvalidPartOrder
            | InvalidPolicyDocument
            | InvalidRequest
            | InvalidURI
            | KeyTooLongError
            | MalformedPOSTRequest
            | MalformedXML
            | MaxPostPreDataLengthExceeded
            | MissingSecurityHeader
            | RequestHeaderSectionTooLarge
            | RequestTimeout
            | XAmzContentSHA256Mismatch => 400,
            MissingContentLength => 411,
            NoSuchBucket
            | NoSuchKey
            | NoSuchUpload
            | NoSuchBucketPolicy
            | NoSuchCORSConfiguration
            | NoSuchLifecycleConfiguration
            | NoSuchPublicAccessBlockConfiguration
            | NoSuchTagSet
            | NoSuchWebsiteConfiguration
            | ObjectLockConfigurationNotFoundError
            | OwnershipControlsNotFoundError
            | ReplicationConfigurationNotFoundError
            | ServerSideEncryptionConfigurationNotFoundError => 404,
            BucketAlreadyOwnedByYou | BucketNotEmpty => 409,
            MethodNotAllowed => 405,
            PreconditionFailed => 412,
            InvalidRange => 416,
            InternalError => 500,
            NotImplemented => 501,
            BadGateway => 502,
            GatewayTimeout => 504,
            ServiceUnavailable | SlowDown => 503,
        }
    }

    /// The code for an HTTP error status of a backend that is not an S3 server (`kind = "http"`).
    pub fn from_backend_status(status: u16) -> S3ErrorCode {
        use S3ErrorCode::*;
        match status {
            401 | 403 => AccessDenied,
            404 | 410 => NoSuchKey,
            405 => MethodNotAllowed,
            411 => MissingContentLength,
            412 => PreconditionFailed,
            413 => EntityTooLarge,
            416 => InvalidRange,
            400 | 409 | 414 | 415 | 422 => InvalidRequest,
            501 => NotImplemented,
            503 | 507 => ServiceUnavailable,
            429 => SlowDown,
            _ => InternalError,
        }
    }
}

impl fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: the code decides status and label, the message tells the user why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// What kind of refusal this is.
    pub code: S3ErrorCode,
    /// Human-readable reason; never contains a secret or a full signature.
    pub message: String,
    /// For `SignatureDoesNotMatch`: the string to sign the proxy computed (AWS returns it too).
    pub string_to_sign: Option<String>,
    /// For `SignatureDoesNotMatch`: the canonical request the proxy computed.
    pub canonical_request: Option<String>,
    /// For a credential scope naming another region: the region to sign for (S3's `<Region>`
    /// element, which s3cmd and botocore read to sign again for the right one).
    pub region: Option<String>,
}

impl S3Error {
    /// An error with a message and no diagnostics.
    pub fn new(code: S3ErrorCode, message: impl Into<String>) -> Self {
        S3Error {
            code,
            message: message.into(),
            string_to_sign: None,
            canonical_request: None,
            region: None,
        }
    }

    /// The same error, naming the region requests must be signed for.
    pub fn with_region(mut self, region: &str) -> Self {
        self.region = Some(region.to_string());
        self
    }

    /// The client's body ended or broke before it was complete.
    pub fn incomplete_body() -> Self {
        S3Error::new(
            S3ErrorCode::IncompleteBody,
            "The request body could not be read completely.",
        )
    }

    /// The backend could not be reached, or failed while answering.
    pub fn backend_failed() -> Self {
        S3Error::new(
            S3ErrorCode::BadGateway,
            "The storage backend could not be reached or failed.",
        )
    }

    /// The backend cannot be reached now (refused, unreachable, no address): try again later.
    pub fn backend_unavailable() -> Self {
        S3Error::new(
            S3ErrorCode::ServiceUnavailable,
            "The storage backend cannot be reached. Please try again.",
        )
    }

    /// The backend did not answer in time.
    pub fn backend_timed_out() -> Self {
        S3Error::new(
            S3ErrorCode::GatewayTimeout,
            "The storage backend did not answer in time.",
        )
    }

    /// The proxy's own failure (never the client's input).
    pub fn internal() -> Self {
        S3Error::new(
            S3ErrorCode::InternalError,
            "We encountered an internal error. Please try again.",
        )
    }

    /// A signature mismatch carrying the strings the client can compare with its own.
    pub fn signature_mismatch(string_to_sign: String, canonical_request: String) -> Self {
        S3Error {
            code: S3ErrorCode::SignatureDoesNotMatch,
            message: "The request signature we calculated does not match the signature you \
                      provided. Check your key and signing method."
                .into(),
            string_to_sign: Some(string_to_sign),
            canonical_request: Some(canonical_request),
            region: None,
        }
    }

    /// The S3 XML error document. `include_diagnostics = false` leaves out `StringToSign` and
    /// `CanonicalRequest` (config `auth.signature_diagnostics`).
    pub fn to_xml(&self, resource: &str, request_id: &str, include_diagnostics: bool) -> String {
        let mut xml = String::with_capacity(256);
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        xml.push_str(self.code.as_str());
        xml.push_str("</Code><Message>");
        xml_escape_into(&mut xml, &self.message);
        xml.push_str("</Message>");
        if include_diagnostics {
            if let Some(sts) = &self.string_to_sign {
                xml.push_str("<StringToSign>");
                xml_escape_into(&mut xml, sts);
                xml.push_str("</StringToSign>");
            }
            if let Some(cr) = &self.canonical_request {
                xml.push_str("<CanonicalRequest>");
                xml_escape_into(&mut xml, cr);
                xml.push_str("</CanonicalRequest>");
            }
        }
        if let Some(region) = &self.region {
            xml.push_str("<Region>");
            xml_escape_into(&mut xml, region);
            xml.push_str("</Region>");
        }
        xml.push_str("<Resource>");
        xml_escape_into(&mut xml, resource);
        xml.push_str("</Resource><RequestId>");
        xml_escape_into(&mut xml, request_id);
        xml.push_str("</RequestId></Error>");
        xml
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for S3Error {}

/// Escape text for an XML element body.
pub fn xml_escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A request id unique within this process and unlikely to repeat across restarts.
pub fn new_request_id() -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "{:016X}",
        t.rotate_left(17) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_carries_code_message_resource_and_request_id_escaped() {
        let e = S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist.");
        let xml = e.to_xml("/b/a&b", "req-1", true);
        assert!(xml.contains("<Code>NoSuchKey</Code>"));
        assert!(xml.contains("<Resource>/b/a&amp;b</Resource>"));
        assert!(xml.contains("<RequestId>req-1</RequestId>"));
        assert_eq!(S3ErrorCode::NoSuchKey.http_status(), 404);
    }

    #[test]
    fn diagnostics_can_be_left_out() {
        let e = S3Error::signature_mismatch("sts".into(), "creq".into());
        assert!(e
            .to_xml("/", "r", true)
            .contains("<StringToSign>sts</StringToSign>"));
        let quiet = e.to_xml("/", "r", false);
        assert!(!quiet.contains("StringToSign") && !quiet.contains("CanonicalRequest"));
    }
}
