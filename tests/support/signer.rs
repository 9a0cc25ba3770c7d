//! An independent SigV4 signer for raw requests: AWS's own Rust implementation (`aws-sigv4`),
//! never the proxy's code, so a bug shared by signer and verifier cannot hide.
//!
//! Settings are those the AWS SDK uses for S3: the path is taken as sent (single encoding, no
//! normalisation), every header present at signing time is signed (except the ones `aws-sigv4`
//! always leaves out: authorization, user-agent, x-amzn-trace-id, transfer-encoding).

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::http::Request;

/// What the signature says about the body (the `x-amz-content-sha256` header).
#[derive(Debug, Clone)]
pub enum Payload {
    /// The SHA-256 of the request's body at signing time.
    Hashed,
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// This exact hex digest, whatever the body is.
    Declared(String),
}

/// RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `s` as SigV4 wants query values (and as S3 wants key path segments, minus '/').
pub fn uri_encode(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// Percent-encodes an object key for a path: each segment encoded, `/` kept.
pub fn encode_key(key: &str) -> String {
    key.split('/').map(uri_encode).collect::<Vec<_>>().join("/")
}

/// Who signs, for which region and service, at what time.
#[derive(Debug, Clone)]
pub struct Signer {
    access_key: String,
    secret_key: String,
    region: String,
    service: String,
    time: Option<SystemTime>,
}

impl Default for Signer {
    fn default() -> Self {
        Signer::new(super::ACCESS_KEY, super::SECRET_KEY)
    }
}

impl Signer {
    /// A signer for these credentials, region us-east-1, service s3, signing at "now".
    pub fn new(access_key: &str, secret_key: &str) -> Signer {
        Signer {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            region: "us-east-1".to_string(),
            service: "s3".to_string(),
            time: None,
        }
    }

    pub fn region(mut self, region: &str) -> Signer {
        self.region = region.to_string();
        self
    }

    pub fn service(mut self, service: &str) -> Signer {
        self.service = service.to_string();
        self
    }

    /// Signs as if the clock said `time`.
    pub fn at(mut self, time: SystemTime) -> Signer {
        self.time = Some(time);
        self
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256` and `authorization` to `request`, signing every
    /// header it holds now (so add `host` first, and `expect` only afterwards).
    pub fn sign(&self, request: &mut Request, payload: Payload) {
        let body = match &payload {
            Payload::Hashed => SignableBody::Bytes(&request.body),
            Payload::Unsigned => SignableBody::UnsignedPayload,
            Payload::Declared(hex) => SignableBody::Precomputed(hex.clone()),
        };
        let mut settings = s3_settings();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let instructions = self.instructions(request, &request.headers, body, settings);
        for (name, value) in instructions.headers() {
            request.set_header(name, value);
        }
    }

    /// Turns `request` into a presigned URL valid for `expires_in`: appends the `X-Amz-*` query
    /// parameters to its target, signing every header it holds now (normally only `host`).
    pub fn presign(&self, request: &mut Request, expires_in: Duration) {
        self.presign_with_host(request, None, expires_in)
    }

    /// Like [`Signer::presign`], but signs `host` as this value instead of the request's own
    /// (boto2 signed `127.0.0.1:PORT:PORT` for an endpoint with a port).
    pub fn presign_with_host(
        &self,
        request: &mut Request,
        signed_host: Option<&str>,
        expires_in: Duration,
    ) {
        let mut settings = s3_settings();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires_in);
        let mut headers = request.headers.clone();
        if let Some(host) = signed_host {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case("host"));
            headers.push(("host".to_string(), host.to_string()));
        }
        let instructions =
            self.instructions(request, &headers, SignableBody::UnsignedPayload, settings);
        let mut target = request.target.clone();
        for (name, value) in instructions.params() {
            target.push(if target.contains('?') { '&' } else { '?' });
            target.push_str(name);
            target.push('=');
            target.push_str(&uri_encode(value));
        }
        request.target = target;
    }

    /// Makes `request` a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` upload of `chunks` (aws-chunked,
    /// each chunk signed with `aws-sigv4`'s `sign_chunk`, chained from the seed signature of the
    /// Authorization header, then the final empty chunk). Sets the aws-chunked headers and the
    /// encoded Content-Length before signing the head, as SDKs do.
    pub fn sign_streaming(&self, request: &mut Request, chunks: &[&[u8]]) {
        const SIGNATURE_LINE: usize = ";chunk-signature=".len() + 64 + 2;
        let decoded: usize = chunks.iter().map(|c| c.len()).sum();
        let encoded: usize = chunks
            .iter()
            .map(|c| format!("{:x}", c.len()).len() + SIGNATURE_LINE + c.len() + 2)
            .sum::<usize>()
            + 1
            + SIGNATURE_LINE
            + 2;
        request.set_header("content-encoding", "aws-chunked");
        request.set_header("x-amz-decoded-content-length", &decoded.to_string());
        request.set_header("content-length", &encoded.to_string());
        let time = self.time.unwrap_or_else(SystemTime::now);
        let signer = self.clone().at(time);
        signer.sign(
            request,
            Payload::Declared("STREAMING-AWS4-HMAC-SHA256-PAYLOAD".to_string()),
        );

        let identity: Identity =
            Credentials::new(&self.access_key, &self.secret_key, None, None, "tests").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(time)
            .settings(())
            .build()
            .expect("chunk signing params");
        let mut previous =
            signature_of(request.header_value("authorization").expect("signed")).to_string();
        let mut body = Vec::with_capacity(encoded);
        for chunk in chunks.iter().copied().chain(std::iter::once(&b""[..])) {
            let signature =
                v4::sign_chunk(&bytes::Bytes::copy_from_slice(chunk), &previous, &params)
                    .expect("sign chunk")
                    .signature()
                    .to_string();
            body.extend_from_slice(
                format!("{:x};chunk-signature={signature}\r\n", chunk.len()).as_bytes(),
            );
            body.extend_from_slice(chunk);
            body.extend_from_slice(b"\r\n");
            previous = signature;
        }
        assert_eq!(
            body.len(),
            encoded,
            "encoded length computed before signing"
        );
        request.body = body;
    }

    fn instructions(
        &self,
        request: &Request,
        headers: &[(String, String)],
        body: SignableBody<'_>,
        settings: SigningSettings,
    ) -> aws_sigv4::http_request::SigningInstructions {
        let identity: Identity =
            Credentials::new(&self.access_key, &self.secret_key, None, None, "tests").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.service)
            .time(self.time.unwrap_or_else(SystemTime::now))
            .settings(settings)
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new(
            &request.method,
            request.target.as_str(),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            body,
        )
        .expect("signable request");
        let (instructions, _signature) = sign(signable, &params).expect("sign").into_parts();
        instructions
    }
}

/// The settings the AWS SDK uses for S3.
fn s3_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

/// The hex signature inside an `authorization` header or an `X-Amz-Signature` value.
pub fn signature_of(authorization: &str) -> &str {
    authorization
        .rsplit_once("Signature=")
        .map(|(_, s)| s)
        .unwrap_or(authorization)
}

/// `hex` with its first digit changed to another hex digit.
pub fn with_one_hex_digit_changed(hex: &str) -> String {
    let mut chars: Vec<char> = hex.chars().collect();
    chars[0] = if chars[0] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

/// The harness's signer reproduces the worked examples of the Amazon S3 API Reference
/// ("Signature Calculations for the Authorization Header" and "Query String Authentication";
/// copied in ../shared/vectors/s3-doc-examples.json), so its settings are S3's.
#[cfg(test)]
mod tests {
    use super::*;

    /// 2013-05-24T00:00:00Z, the time of every S3 documentation example.
    fn doc_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    #[test]
    fn signs_the_s3_doc_get_object_example() {
        let mut get = Request::new("GET", "/test.txt")
            .header("Host", "examplebucket.s3.amazonaws.com")
            .header("Range", "bytes=0-9");
        Signer::default()
            .at(doc_time())
            .sign(&mut get, Payload::Hashed);

        let authorization = get.header_value("authorization").expect("authorization");
        assert!(authorization.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"));
        assert_eq!(
            signature_of(authorization),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn signs_the_s3_doc_put_object_example() {
        let mut put = Request::new("PUT", "/test%24file.text")
            .header("Host", "examplebucket.s3.amazonaws.com")
            .header("Date", "Fri, 24 May 2013 00:00:00 GMT")
            .header("x-amz-storage-class", "REDUCED_REDUNDANCY");
        put.body = b"Welcome to Amazon S3.".to_vec();
        Signer::default()
            .at(doc_time())
            .sign(&mut put, Payload::Hashed);

        assert_eq!(
            signature_of(put.header_value("authorization").expect("authorization")),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    #[test]
    fn presigns_the_s3_doc_presigned_url_example() {
        let mut get =
            Request::new("GET", "/test.txt").header("Host", "examplebucket.s3.amazonaws.com");
        Signer::default()
            .at(doc_time())
            .presign(&mut get, Duration::from_secs(86_400));

        assert_eq!(
            get.query_param("X-Amz-Credential").as_deref(),
            Some("AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request")
        );
        assert_eq!(
            get.query_param("X-Amz-Signature").as_deref(),
            Some("aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        );
    }

    #[test]
    fn signs_the_s3_doc_streaming_example() {
        // "Signature Calculations for the Authorization Header: Transferring Payload in Multiple
        // Chunks": 66,560 bytes of 'a' in chunks of 65,536 and 1,024.
        let mut put = Request::new("PUT", "/examplebucket/chunkObject.txt")
            .header("Host", "s3.amazonaws.com")
            .header("x-amz-storage-class", "REDUCED_REDUNDANCY");
        let first = vec![b'a'; 65_536];
        let second = vec![b'a'; 1_024];
        Signer::default()
            .at(doc_time())
            .sign_streaming(&mut put, &[&first, &second]);

        assert_eq!(put.header_value("content-length"), Some("66824"));
        assert_eq!(
            signature_of(put.header_value("authorization").expect("authorization")),
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        );
        let body = String::from_utf8_lossy(&put.body);
        for signature in [
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
        ] {
            assert!(
                body.contains(&format!("chunk-signature={signature}\r\n")),
                "{signature}"
            );
        }
    }

    #[test]
    fn a_changed_example_signs_differently() {
        let mut get = Request::new("GET", "/test.txt")
            .header("Host", "examplebucket.s3.amazonaws.com")
            .header("Range", "bytes=0-8");
        Signer::default()
            .at(doc_time())
            .sign(&mut get, Payload::Hashed);

        assert_ne!(
            signature_of(get.header_value("authorization").expect("authorization")),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }
}
