//! The signature targets: `sigv4_header`, `sigv4_presigned`, `sigv2` (header and presigned). Each
//! reads a [`Head`], verifies it through [`authenticate`] (the proxy's one entry point), and then
//! checks the verifier against itself:
//!
//! - accepted → the same request must be refused when the access key has another secret;
//! - `SignatureDoesNotMatch` → the request is signed again with the string to sign the verifier
//!   reported (so every later check is reached, not only the parsers); that request must then be
//!   accepted, and refused under another secret.
//!
//! The three targets share this driver; they differ in the part of the head they read directly
//! (the `Authorization` value, the query) and in their seeds.

use std::time::Duration;

use base64::Engine as _;
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};

use super::{Head, SUFFIX};
use crate::auth::sigv4::signing::{derive_signing_key, signature_hex};
use crate::auth::sigv4::{authorization, presign, SigningKey};
use crate::auth::{authenticate, sigv2, AuthSettings, RequestParts, Schemes, SigningKeys};
use crate::error::{S3Error, S3ErrorCode};
use crate::request::virtual_host_bucket;

/// The secret of every access key the vectors do not name otherwise: the S3 documentation's.
const DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The secrets of the vectors' other access keys (the aws-c-auth suite, the 2007 SigV2 pages).
const VECTOR_SECRETS: [(&str, &str); 2] = [
    ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    (
        "0PN5J17HBGZHT7JJ3X82",
        "uV3F3YluFJax1cknvbcGwgjvx4QpvB+leU8dUj2o",
    ),
];

/// Access keys starting with this are unknown (`InvalidAccessKeyId`).
const UNKNOWN_PREFIX: &str = "UNKNOWN";

/// A key store in which every access key but the unknown ones has a secret: the vectors' own
/// ([`Keys::Right`]), or one that differs from it ([`Keys::Other`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// The secrets the vectors were signed with.
    Right,
    /// Each of those with one character appended: never the signer's.
    Other,
}

impl Keys {
    /// The secret of `access_key`; `None` when unknown.
    pub fn secret(self, access_key: &str) -> Option<String> {
        if access_key.starts_with(UNKNOWN_PREFIX) {
            return None;
        }
        let secret = VECTOR_SECRETS
            .iter()
            .find(|(key, _)| *key == access_key)
            .map_or(DOC_SECRET, |(_, secret)| secret);
        Some(match self {
            Keys::Right => secret.to_owned(),
            Keys::Other => format!("{secret}x"),
        })
    }
}

impl SigningKeys for Keys {
    fn signing_key(
        &self,
        access_key: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> Option<SigningKey> {
        let secret = self.secret(access_key)?;
        Some(derive_signing_key(&secret, date, region, service))
    }
}

impl sigv2::SigV2Keys for Keys {
    fn hmac_sha1(&self, access_key: &str, data: &[u8]) -> Option<[u8; 20]> {
        let secret = self.secret(access_key)?;
        Some(sigv2::hmac_sha1(secret.as_bytes(), data))
    }
}

/// The settings of the fuzzed verifiers: us-east-1, S3's 15 minutes of skew, 7-day presigns,
/// boto 2's doubled port tried too (the one optional path of the presigned check).
pub fn settings() -> AuthSettings {
    AuthSettings {
        regions: vec!["us-east-1".into()],
        clock_skew: Duration::from_secs(900),
        max_presign_expiry: Duration::from_secs(604_800),
        boto2_presign_compat: true,
    }
}

/// The `sigv4_header` target: the `Authorization: AWS4-HMAC-SHA256 …` value read on its own,
/// then the whole head verified (see the module docs).
pub fn sigv4_header(data: &[u8]) {
    let Some(head) = Head::read(data) else {
        return;
    };
    if let Some(value) = head.headers.get(http::header::AUTHORIZATION) {
        if let Ok(value) = value.to_str() {
            if let Ok(parsed) = authorization::parse(value) {
                // A signature is only ever kept as 64 lower-case hex digits.
                assert!(is_lower_hex_64(&parsed.signature), "{value:?}");
            }
        }
    }
    verify_and_resign(&head);
}

/// The `sigv4_presigned` target: the `X-Amz-*` query read on its own, then the whole head
/// verified (see the module docs).
pub fn sigv4_presigned(data: &[u8]) {
    let Some(head) = Head::read(data) else {
        return;
    };
    if let Ok(target) = std::str::from_utf8(&head.target) {
        let query = target.split_once('?').map_or("", |(_, query)| query);
        if let Ok(parsed) = presign::parse(query, settings().max_presign_expiry) {
            assert!(presign::is_presigned(query), "{query:?}");
            assert!(is_lower_hex_64(&parsed.signature), "{query:?}");
            assert!((1..=604_800).contains(&parsed.expires_seconds), "{query:?}");
        }
    }
    verify_and_resign(&head);
}

/// The `sigv2` target: a SigV2 header or presigned request, verified (see the module docs).
/// SigV2's form signature is reached through the `post_policy` target.
pub fn sigv2(data: &[u8]) {
    let Some(head) = Head::read(data) else {
        return;
    };
    if let Some(value) = head.headers.get(http::header::DATE) {
        if let Ok(value) = value.to_str() {
            let _ = sigv2::parse_http_date(value);
        }
    }
    verify_and_resign(&head);
}

fn is_lower_hex_64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// How [`verify_and_resign`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The head verified as it is.
    Accepted,
    /// Its signature did not match; signed again over the reported string to sign, it verified.
    AcceptedOnceSignedAgain,
    /// Refused before the signature, or with a signature the harness cannot rewrite.
    Refused,
}

/// Verify `head`; on a signature mismatch sign it again with the reported string to sign and
/// verify that. Panics when an invariant of the module docs breaks.
pub fn verify_and_resign(head: &Head) -> Outcome {
    let Ok(target) = std::str::from_utf8(&head.target) else {
        return Outcome::Refused;
    };
    let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let parts = RequestParts {
        method: head.method.as_str(),
        raw_path,
        raw_query,
        headers: &head.headers,
    };
    let error = match verify(head, &parts, Keys::Right) {
        Ok(()) => {
            assert!(
                verify(head, &parts, Keys::Other).is_err(),
                "accepted under another secret"
            );
            return Outcome::Accepted;
        }
        Err(error) => error,
    };
    let Some(resigned) = resign(head, &parts, &error) else {
        return Outcome::Refused;
    };
    let parts = RequestParts {
        raw_query: &resigned.query,
        headers: &resigned.headers,
        ..parts
    };
    if let Err(error) = verify(head, &parts, Keys::Right) {
        panic!("signed over the string to sign the verifier reported, refused: {error:?}");
    }
    assert!(
        verify(head, &parts, Keys::Other).is_err(),
        "a re-signed request accepted under another secret"
    );
    Outcome::AcceptedOnceSignedAgain
}

fn verify(head: &Head, parts: &RequestParts<'_>, keys: Keys) -> Result<(), S3Error> {
    let settings = settings();
    let schemes = Schemes {
        settings: &settings,
        sigv2: true,
    };
    let suffixes = [SUFFIX.to_owned()];
    let bucket = virtual_host_bucket(head.host(), &suffixes);
    authenticate(parts, bucket.as_deref(), &keys, schemes, head.now).map(|_| ())
}

/// A request's query and headers with a new signature.
struct Resigned {
    query: String,
    headers: http::HeaderMap,
}

/// The request signed again by the right key over `error`'s string to sign; `None` when the
/// error is not a signature mismatch or the signature has no place the harness can rewrite.
fn resign(head: &Head, parts: &RequestParts<'_>, error: &S3Error) -> Option<Resigned> {
    if error.code != S3ErrorCode::SignatureDoesNotMatch {
        return None;
    }
    let string_to_sign = error.string_to_sign.as_deref()?;
    // SigV2 reports its (byte) string to sign lossily: a replaced byte cannot be signed again.
    if string_to_sign.contains('\u{fffd}') {
        return None;
    }
    let authorization = head
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (query, header) = if let Some(scope) = sigv4_scope(string_to_sign) {
        let access_key = sigv4_access_key(authorization, parts.raw_query)?;
        let secret = Keys::Right.secret(&access_key)?;
        let [date, region, service] = scope;
        let key = derive_signing_key(&secret, date, region, service);
        let signature = signature_hex(&key, string_to_sign);
        match authorization {
            // A signature cannot cover the header that carries it.
            Some(value) if signs_authorization(value) => return None,
            Some(value) => (
                parts.raw_query.to_owned(),
                Some(replace_after(value, "Signature=", &signature)?),
            ),
            None => (
                replace_param(parts.raw_query, "X-Amz-Signature", &signature)?,
                None,
            ),
        }
    } else {
        let access_key = sigv2_access_key(authorization, parts.raw_query)?;
        let secret = Keys::Right.secret(&access_key)?;
        let mac = sigv2::hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes());
        let signature = base64::engine::general_purpose::STANDARD.encode(mac);
        match authorization {
            Some(value) => {
                let (before, _) = value.rsplit_once(':')?;
                (
                    parts.raw_query.to_owned(),
                    Some(format!("{before}:{signature}")),
                )
            }
            None => (
                replace_param(parts.raw_query, "Signature", &signature)?,
                None,
            ),
        }
    };
    let mut headers = head.headers.clone();
    if let Some(value) = header {
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&value).ok()?,
        );
    }
    Some(Resigned { query, headers })
}

/// Whether an `Authorization` value's `SignedHeaders` names `authorization` itself.
fn signs_authorization(value: &str) -> bool {
    value
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|rest| rest.split([',', ' ']).next())
        .is_some_and(|list| list.split(';').any(|name| name == "authorization"))
}

/// Date, region and service of a SigV4 string to sign (its third line is the scope).
fn sigv4_scope(string_to_sign: &str) -> Option<[&str; 3]> {
    let mut lines = string_to_sign.split('\n');
    if !lines.next()?.starts_with("AWS4-") {
        return None;
    }
    let scope = lines.nth(1)?;
    let mut parts = scope.split('/');
    Some([parts.next()?, parts.next()?, parts.next()?])
}

fn sigv4_access_key(authorization: Option<&str>, raw_query: &str) -> Option<String> {
    let credential = match authorization {
        Some(value) => value.split("Credential=").nth(1)?.to_owned(),
        None => param(raw_query, "X-Amz-Credential")?,
    };
    Some(credential.split('/').next()?.to_owned())
}

fn sigv2_access_key(authorization: Option<&str>, raw_query: &str) -> Option<String> {
    match authorization {
        Some(value) => Some(value.strip_prefix("AWS ")?.split(':').next()?.to_owned()),
        None => param(raw_query, "AWSAccessKeyId"),
    }
}

/// `value` with the value of its `marker` component (up to the next `,` or blank) replaced by
/// `new`.
fn replace_after(value: &str, marker: &str, new: &str) -> Option<String> {
    // The component, not the same text inside another component's value (a Credential that
    // spells `Signature=`): components start after the scheme's blank or a comma, as the
    // verifier splits them.
    let start = value
        .match_indices(marker)
        .map(|(at, _)| at)
        .find(|&at| at > 0 && matches!(value.as_bytes()[at - 1], b',' | b' ' | b'\t'))?
        + marker.len();
    let end = value[start..]
        .find([',', ' ', '\t'])
        .map_or(value.len(), |i| start + i);
    Some(format!("{}{new}{}", &value[..start], &value[end..]))
}

/// The decoded value of the query parameter `name` (its first occurrence).
fn param(raw_query: &str, name: &str) -> Option<String> {
    raw_query.split('&').find_map(|pair| {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode_str(n).decode_utf8_lossy() == name)
            .then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

/// `raw_query` with the value of every parameter `name` replaced by `new`, percent-encoded.
fn replace_param(raw_query: &str, name: &str, new: &str) -> Option<String> {
    let mut found = false;
    let pairs: Vec<String> = raw_query
        .split('&')
        .map(|pair| {
            let n = pair.split_once('=').map_or(pair, |(n, _)| n);
            if percent_decode_str(n).decode_utf8_lossy() == name {
                found = true;
                format!("{n}={}", utf8_percent_encode(new, NON_ALPHANUMERIC))
            } else {
                pair.to_owned()
            }
        })
        .collect();
    found.then(|| pairs.join("&"))
}
