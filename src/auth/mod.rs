//! Authentication: who signed a request, and what their signature covers. Pure and I/O-free.
//!
//! [`authenticate`] is the one entry point for a request's head: it tells a Signature Version 2
//! request from a Version 4 one, hands it to [`sigv2`] or [`sigv4`], and yields one [`Verified`]
//! whatever the scheme. (A browser POST form carries its signature in the body, so its fields are
//! verified by `post::verify_form`, which calls the same two schemes.) [`authorize`] then checks
//! the `allow` scopes: the one call every path makes, forms included.
//!
//! Where a new thing goes: a new signing algorithm (SigV4A) is a sibling folder of `sigv4/` with
//! its own key derivation and its own "claimed signature meets key" function (ECDSA signatures
//! must be verified, not recomputed), plus one branch in [`authenticate`]; a per-credential
//! limit (rate, bandwidth) goes in [`authorize`].

mod authorize;
pub mod sigv2;
pub mod sigv4;

use std::time::{Duration, SystemTime};

pub use authorize::{authorize, Action, Need, Reach, Scopes};

use crate::error::{S3Error, S3ErrorCode};
use sigv4::chunk_signing::ChunkSigner;
use sigv4::{PayloadMode, SigningKey};

/// The parts of a request that SigV4 signs, exactly as received.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// `GET`, `PUT`, … as sent.
    pub method: &'a str,
    /// The path of the raw request target, still percent-encoded as the client sent it, without
    /// the `?` and query. Never normalised (S3 does not normalise).
    pub raw_path: &'a str,
    /// The raw query string without the leading `?`; empty when there is none.
    pub raw_query: &'a str,
    /// Request headers. Must contain `host` (the proxy copies `:authority` there for HTTP/2).
    pub headers: &'a http::HeaderMap,
}

/// Where to get the derived signing key of an access key. Implemented by the credential store
/// (with its cache) and by tests.
pub trait SigningKeys {
    /// `None` when the access key is unknown. `date` is `YYYYMMDD` from the credential scope.
    fn signing_key(
        &self,
        access_key: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> Option<SigningKey>;
}

/// What the verifiers ([`sigv4::verify`], [`sigv2::verify`]) need from the configuration.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Regions a credential scope may name (`auth.region`).
    pub regions: Vec<String>,
    /// Largest allowed difference between the request date and now (`auth.clock_skew`).
    pub clock_skew: Duration,
    /// Largest `X-Amz-Expires` accepted (`auth.max_presign_expiry`, never above 7 days).
    pub max_presign_expiry: Duration,
    /// On a presigned mismatch, retry once with the host's port written twice, as boto 2 did
    /// (`auth.boto2_presign_compat`).
    pub boto2_presign_compat: bool,
}

/// The settings the unit tests verify with: us-east-1, S3's 15-minute skew, 7-day presigns.
#[cfg(test)]
pub(crate) fn test_settings() -> AuthSettings {
    AuthSettings {
        regions: vec!["us-east-1".into()],
        clock_skew: Duration::from_secs(900),
        max_presign_expiry: Duration::from_secs(604_800),
        boto2_presign_compat: false,
    }
}

/// How a request was authenticated: the access log's `auth` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `Authorization: AWS4-HMAC-SHA256 …`
    SigV4Header,
    /// `X-Amz-Signature` and friends in the query.
    SigV4Presigned,
    /// A POST form signed with `x-amz-signature`.
    SigV4Form,
    /// `Authorization: AWS <key>:<signature>`.
    SigV2Header,
    /// `AWSAccessKeyId`, `Expires`, `Signature` in the query.
    SigV2Presigned,
    /// A POST form signed with `AWSAccessKeyId` and `signature`.
    SigV2Form,
}

impl AuthMethod {
    /// The label written to the access log.
    pub fn label(self) -> &'static str {
        match self {
            AuthMethod::SigV4Header => "sigv4-header",
            AuthMethod::SigV4Presigned => "sigv4-presigned",
            AuthMethod::SigV4Form => "sigv4-form",
            AuthMethod::SigV2Header => "sigv2-header",
            AuthMethod::SigV2Presigned => "sigv2-presigned",
            AuthMethod::SigV2Form => "sigv2-form",
        }
    }
}

/// What the signature schemes switched on (`auth.sigv2`) and how they are bounded.
#[derive(Debug, Clone, Copy)]
pub struct Schemes<'a> {
    /// Dates, regions, presign expiry.
    pub settings: &'a AuthSettings,
    /// Whether Signature Version 2 is accepted (`auth.sigv2`).
    pub sigv2: bool,
}

/// A request head whose signature verified: who signed, how, and what the signature says about
/// the body. Only [`authenticate`] makes one.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The access key id that signed.
    pub access_key: String,
    /// Header or presigned, SigV2 or SigV4.
    pub method: AuthMethod,
    /// What the signature covers of the body (`x-amz-content-sha256`); SigV2 signs no body, so
    /// its requests are `Unsigned`.
    pub payload: PayloadMode,
    /// For aws-chunked signed payloads: the key, date, scope and seed signature that the chunk
    /// and trailer signatures chain from.
    pub chunk_signer: Option<ChunkSigner>,
}

/// Verify a request's head. `virtual_host_bucket` is the bucket named by the Host (SigV2 signs it
/// as part of the resource). The SigV2/SigV4 choice is made here and only here.
pub fn authenticate<K: SigningKeys + sigv2::SigV2Keys>(
    req: &RequestParts<'_>,
    virtual_host_bucket: Option<&str>,
    keys: &K,
    schemes: Schemes<'_>,
    now: SystemTime,
) -> Result<Verified, S3Error> {
    if sigv2::is_sigv2(req) {
        if !schemes.sigv2 {
            return Err(sigv2_disabled("requests"));
        }
        let v2 = sigv2::verify(req, virtual_host_bucket, keys, schemes.settings, now)?;
        return Ok(Verified {
            access_key: v2.access_key,
            method: match v2.kind {
                sigv2::V2Kind::Header => AuthMethod::SigV2Header,
                sigv2::V2Kind::Presigned => AuthMethod::SigV2Presigned,
            },
            payload: PayloadMode::Unsigned,
            chunk_signer: None,
        });
    }
    let v4 = sigv4::verify(req, keys, schemes.settings, now)?;
    let chunk_signer = matches!(
        v4.payload,
        PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer
    )
    .then(|| ChunkSigner::from_authorized(&v4));
    Ok(Verified {
        method: match v4.kind {
            sigv4::AuthKind::Header => AuthMethod::SigV4Header,
            sigv4::AuthKind::Presigned => AuthMethod::SigV4Presigned,
        },
        access_key: v4.access_key,
        payload: v4.payload,
        chunk_signer,
    })
}

/// The refusal of a SigV2 signature while `auth.sigv2 = false`; `what` names the thing that
/// was signed (requests, the form's policy).
pub fn sigv2_disabled(what: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessDenied,
        format!(
            "Signature Version 2 is disabled on this endpoint (auth.sigv2 = false): sign {what} \
             with AWS Signature Version 4"
        ),
    )
}

#[cfg(test)]
mod tests {
    //! The entry point's dispatch, on worked examples of the Amazon S3 documentation
    //! (`shared/vectors/`): the signatures are the pages', never computed here.

    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::credentials::CredentialStore;

    const S3_DOC: &str = include_str!("../../../shared/vectors/s3-doc-examples.json");
    const SIGV2_DOC: &str = include_str!("../../../shared/vectors/sigv2-doc-examples.json");

    fn json(text: &str) -> serde_json::Value {
        serde_json::from_str(text).expect("the vectors are JSON")
    }

    fn headers_of(pairs: &serde_json::Value) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for pair in pairs.as_array().expect("a list of headers") {
            let name = pair[0].as_str().expect("name").to_ascii_lowercase();
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                http::HeaderValue::from_str(pair[1].as_str().expect("value")).expect("value"),
            );
        }
        headers
    }

    fn store(access_key: &str, secret: &str) -> CredentialStore {
        CredentialStore::from_toml_str(&format!(
            "[[credentials]]\naccess_key = \"{access_key}\"\nsecret_key = \"{secret}\"\n"
        ))
        .expect("a secrets file")
    }

    /// A SigV4 header-signed example: headers with its Authorization header.
    fn sigv4_example(example: &serde_json::Value, signature: &str) -> http::HeaderMap {
        let mut headers = headers_of(&example["headers"]);
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders={},Signature={signature}",
            example["signed_headers"].as_str().expect("signed headers")
        );
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&authorization).expect("value"),
        );
        headers
    }

    fn doc_keys() -> CredentialStore {
        store(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
    }

    fn may_2013() -> SystemTime {
        // 2013-05-24T00:00:00Z, the examples' x-amz-date.
        UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    #[test]
    fn a_sigv4_header_request_is_verified_with_what_its_signature_covers() {
        let doc = json(S3_DOC);
        let example = &doc["header_auth"][0];
        let headers = sigv4_example(example, example["expected_signature"].as_str().unwrap());
        let parts = RequestParts {
            method: "GET",
            raw_path: "/test.txt",
            raw_query: "",
            headers: &headers,
        };
        let settings = test_settings();
        let schemes = Schemes {
            settings: &settings,
            sigv2: false,
        };
        let verified = authenticate(&parts, None, &doc_keys(), schemes, may_2013()).unwrap();
        assert_eq!(verified.access_key, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(verified.method, AuthMethod::SigV4Header);
        assert_eq!(verified.method.label(), "sigv4-header");
        assert!(matches!(verified.payload, PayloadMode::Sha256(_)));
        assert!(verified.chunk_signer.is_none());

        // One digit of the signature changed: refused.
        let mut tampered = example["expected_signature"].as_str().unwrap().to_owned();
        tampered.replace_range(0..1, if tampered.starts_with('0') { "1" } else { "0" });
        let headers = sigv4_example(example, &tampered);
        let parts = RequestParts {
            headers: &headers,
            ..parts
        };
        let err = authenticate(&parts, None, &doc_keys(), schemes, may_2013()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);
    }

    #[test]
    fn a_signed_streaming_upload_carries_its_chunk_signer_seeded_by_the_head_signature() {
        let doc = json(S3_DOC);
        let example = &doc["streaming_signed"];
        let seed = example["expected_seed_signature"].as_str().unwrap();
        let headers = sigv4_example(example, seed);
        let parts = RequestParts {
            method: "PUT",
            raw_path: example["path"].as_str().unwrap(),
            raw_query: "",
            headers: &headers,
        };
        let settings = test_settings();
        let schemes = Schemes {
            settings: &settings,
            sigv2: true,
        };
        let verified = authenticate(&parts, None, &doc_keys(), schemes, may_2013()).unwrap();
        assert_eq!(verified.payload, PayloadMode::StreamingSigned);
        let signer = verified.chunk_signer.expect("a signed streaming upload");
        assert_eq!(signer.seed_signature(), seed);
    }

    #[test]
    fn a_sigv2_request_goes_to_sigv2_and_is_refused_when_switched_off() {
        let doc = json(SIGV2_DOC);
        let example = &doc["delete_2007"];
        let mut headers = headers_of(&example["headers"]);
        let authorization = format!(
            "AWS {}:{}",
            example["access_key"].as_str().unwrap(),
            example["signature"].as_str().unwrap()
        );
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&authorization).unwrap(),
        );
        let parts = RequestParts {
            method: "DELETE",
            raw_path: example["path"].as_str().unwrap(),
            raw_query: "",
            headers: &headers,
        };
        let keys = store(
            example["access_key"].as_str().unwrap(),
            example["secret_key"].as_str().unwrap(),
        );
        // Tue, 27 Mar 2007 21:20:26 +0000, the example's x-amz-date.
        let now = UNIX_EPOCH + Duration::from_secs(1_175_030_426);
        let settings = test_settings();
        let on = Schemes {
            settings: &settings,
            sigv2: true,
        };
        let verified = authenticate(&parts, None, &keys, on, now).unwrap();
        assert_eq!(verified.method, AuthMethod::SigV2Header);
        assert_eq!(verified.payload, PayloadMode::Unsigned);
        assert!(verified.chunk_signer.is_none());

        let off = Schemes { sigv2: false, ..on };
        let err = authenticate(&parts, None, &keys, off, now).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert!(
            err.message.contains("Signature Version 2 is disabled"),
            "{err}"
        );
    }
}
