//! Pure SigV4 verification: no I/O, no clock, no global state.
//!
//! The proxy hands [`verify`] the request head as received (raw path and query, headers), a way to
//! obtain signing keys, the settings and the current time; it returns an [`Authorized`] proof or an
//! [`S3Error`] that maps straight to the wire.
//!
//! Layout: `authorization` (the `Authorization` header), `presign` (the `X-Amz-*` query),
//! `date` (request dates), `credential` (the credential and its scope), `canonical` (canonical
//! request), `signing` (string to sign, key derivation, HMAC, and `signature_is_valid`, where
//! every claimed signature meets a key), `chunk_signing` (aws-chunked chunk and trailer
//! signatures), `content_sha256` (what `x-amz-content-sha256` says about the body).

pub mod authorization;
pub mod canonical;
pub mod chunk_signing;
pub mod content_sha256;
pub mod credential;
pub mod date;
pub mod presign;
pub mod signing;

use std::time::SystemTime;

use crate::error::{S3Error, S3ErrorCode};
pub use canonical::SignedHeaders;
pub use content_sha256::PayloadMode;
pub use credential::CredentialScope;
pub use signing::SigningKey;

use super::{AuthSettings, RequestParts, SigningKeys};

/// How the request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `Authorization: AWS4-HMAC-SHA256 …`
    Header,
    /// `X-Amz-Signature` and friends in the query string.
    Presigned,
}

impl AuthKind {
    /// The error S3 gives when a part of the signature's metadata is malformed: for the header
    /// `AuthorizationHeaderMalformed`, for the query `AuthorizationQueryParametersError` naming
    /// the `X-Amz-<field>` parameter.
    pub fn malformed(self, field: &str, detail: impl std::fmt::Display) -> S3Error {
        match self {
            AuthKind::Header => S3Error::new(
                S3ErrorCode::AuthorizationHeaderMalformed,
                format!("The authorization header is malformed; {detail}"),
            ),
            AuthKind::Presigned => S3Error::new(
                S3ErrorCode::AuthorizationQueryParametersError,
                format!("Error parsing the X-Amz-{field} parameter; {detail}"),
            ),
        }
    }
}

/// Proof that a request's head carried a valid signature. Only [`verify`] constructs it.
#[derive(Debug, Clone)]
// Not `#[non_exhaustive]`: that would still let every module of this crate build one; the
// private field confines construction to this module.
#[allow(clippy::manual_non_exhaustive)]
pub struct Authorized {
    /// The access key id that signed.
    pub access_key: String,
    /// Header or presigned.
    pub kind: AuthKind,
    /// What the signature says about the body (`x-amz-content-sha256`).
    pub payload: PayloadMode,
    /// The scope of the credential.
    pub scope: CredentialScope,
    /// The request date as `YYYYMMDDTHHMMSSZ` (needed to chain aws-chunked signatures).
    pub amz_date: String,
    /// The verified signature, lower-case hex (the seed of aws-chunked chunk signatures).
    pub signature: String,
    /// The key that produced it (for chunk and trailer signatures).
    pub signing_key: SigningKey,
    _proof: (),
}

/// Verify the head of a request. Tries the `Authorization` header or the presigned query
/// (both at once → refused; neither → `AccessDenied`). Checks, in order: well-formedness, date
/// and skew (or presign expiry), scope (date equals request date, region configured, service
/// `s3`), that `host` and every `x-amz-*` header present are signed, the access key, then the
/// signature (constant time). Does **not** check scopes of `allow` nor the body.
pub fn verify(
    req: &RequestParts<'_>,
    keys: &dyn SigningKeys,
    settings: &AuthSettings,
    now: SystemTime,
) -> Result<Authorized, S3Error> {
    let claim = match mechanism(req)? {
        Mechanism::Header(value) => header_claim(req, value, settings, now)?,
        Mechanism::Presigned => presigned_claim(req, settings, now)?,
    };
    check_signature(req, claim, keys, settings)
}

/// Which of the two ways of signing a request uses.
enum Mechanism<'a> {
    /// The `Authorization` header, with this value.
    Header(&'a str),
    /// The `X-Amz-*` query parameters.
    Presigned,
}

/// Exactly one mechanism, as S3 insists: with both, which one would authorise the request?
fn mechanism<'a>(req: &RequestParts<'a>) -> Result<Mechanism<'a>, S3Error> {
    let mut authorization = req.headers.get_all(http::header::AUTHORIZATION).iter();
    let header = authorization.next();
    if authorization.next().is_some() {
        return Err(
            AuthKind::Header.malformed("Authorization", "more than one Authorization header")
        );
    }
    match (header, presign::is_presigned(req.raw_query)) {
        (Some(_), true) => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified",
        )),
        (None, false) => Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Anonymous access is not allowed: sign the request with AWS Signature Version 4",
        )),
        (Some(value), false) => value.to_str().map(Mechanism::Header).map_err(|_| {
            AuthKind::Header.malformed("Authorization", "the header is not visible ASCII")
        }),
        (None, true) => Ok(Mechanism::Presigned),
    }
}

/// What a request claims about its signature, with every check done except the signature.
struct Claim {
    kind: AuthKind,
    credential: credential::Credential,
    date: date::RequestDate,
    signed_headers: SignedHeaders,
    signature: String,
    payload: PayloadMode,
    /// The HashedPayload line: the `x-amz-content-sha256` value verbatim.
    hashed_payload: String,
}

fn header_claim(
    req: &RequestParts<'_>,
    authorization_value: &str,
    settings: &AuthSettings,
    now: SystemTime,
) -> Result<Claim, S3Error> {
    let header = authorization::parse(authorization_value)?;
    let (payload, hashed_payload) = content_sha256::header_auth_payload(req.headers)?;
    let request_date = date::header_request_date(req.headers)?;
    date::check_skew(&request_date, now, settings.clock_skew)?;
    credential::check_scope(
        &header.credential.scope,
        &request_date,
        settings,
        AuthKind::Header,
    )?;
    Ok(Claim {
        kind: AuthKind::Header,
        credential: header.credential,
        date: request_date,
        signed_headers: header.signed_headers,
        signature: header.signature,
        payload,
        hashed_payload: hashed_payload.to_owned(),
    })
}

fn presigned_claim(
    req: &RequestParts<'_>,
    settings: &AuthSettings,
    now: SystemTime,
) -> Result<Claim, S3Error> {
    let query = presign::parse(req.raw_query, settings.max_presign_expiry)?;
    presign::check_validity(&query.date, query.expires_seconds, now, settings.clock_skew)?;
    credential::check_scope(
        &query.credential.scope,
        &query.date,
        settings,
        AuthKind::Presigned,
    )?;
    // The query parameter is part of the signed query; the header, when present, must be signed
    // (see `check_headers_signed`); with neither, the body is not covered.
    let hashed_payload = match query.content_sha256 {
        Some(value) => value,
        None => content_sha256::content_sha256_header(req.headers)?
            .unwrap_or(content_sha256::UNSIGNED_PAYLOAD)
            .to_owned(),
    };
    Ok(Claim {
        kind: AuthKind::Presigned,
        credential: query.credential,
        date: query.date,
        signed_headers: query.signed_headers,
        signature: query.signature,
        payload: PayloadMode::parse(&hashed_payload)?,
        hashed_payload,
    })
}

/// `host` and every `x-amz-*` header the request carries must be signed. An unsigned `x-amz-*`
/// header could be added by anyone who captured the request and would change what S3-compatible
/// backends do (ACLs, copy sources, storage classes, metadata): a privilege escalation.
fn check_headers_signed(headers: &http::HeaderMap, signed: &SignedHeaders) -> Result<(), S3Error> {
    if !signed.contains(http::header::HOST.as_str()) {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "The host header must be signed",
        ));
    }
    let mut unsigned: Vec<&str> = headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|name| name.starts_with("x-amz-") && !signed.contains(name))
        .collect();
    if unsigned.is_empty() {
        return Ok(());
    }
    unsigned.sort_unstable();
    Err(S3Error::new(
        S3ErrorCode::AccessDenied,
        format!(
            "There were headers present in the request which were not signed: {}",
            unsigned.join(", ")
        ),
    ))
}

/// The canonical request of `req` as the claim describes it.
fn canonical_request_of(
    req: &RequestParts<'_>,
    headers: &http::HeaderMap,
    claim: &Claim,
) -> Result<String, S3Error> {
    let canonical_headers = canonical::canonical_headers(headers, &claim.signed_headers)
        .map_err(|e| e.into_s3_error(claim.kind))?;
    Ok(canonical::canonical_request(
        req.method,
        &canonical::canonical_uri(req.raw_path),
        &canonical::canonical_query(req.raw_query, claim.kind == AuthKind::Presigned),
        &canonical_headers,
        claim.signed_headers.as_str(),
        &claim.hashed_payload,
    ))
}

/// The signing key of a credential's access key for its scope; `InvalidAccessKeyId` (S3's
/// wording) when the key is unknown.
pub(crate) fn signing_key_of(
    keys: &dyn SigningKeys,
    credential: &credential::Credential,
) -> Result<SigningKey, S3Error> {
    let scope = &credential.scope;
    keys.signing_key(
        &credential.access_key,
        &scope.date,
        &scope.region,
        &scope.service,
    )
    .ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    })
}

fn check_signature(
    req: &RequestParts<'_>,
    claim: Claim,
    keys: &dyn SigningKeys,
    settings: &AuthSettings,
) -> Result<Authorized, S3Error> {
    check_headers_signed(req.headers, &claim.signed_headers)?;
    let canonical_request = canonical_request_of(req, req.headers, &claim)?;
    let scope = &claim.credential.scope;
    let signing_key = signing_key_of(keys, &claim.credential)?;
    let scope_string = scope.to_scope_string();
    let string_to_sign =
        signing::string_to_sign(claim.date.as_amz(), &scope_string, &canonical_request);
    let mut matched = signing::signature_is_valid(&signing_key, &string_to_sign, &claim.signature);
    if !matched && claim.kind == AuthKind::Presigned && settings.boto2_presign_compat {
        matched = boto2_signature_matches(req, &claim, &signing_key, &scope_string)?;
    }
    if !matched {
        // The diagnostics are those of the standard computation, never the boto 2 variant.
        return Err(S3Error::signature_mismatch(
            string_to_sign,
            canonical_request,
        ));
    }
    Ok(Authorized {
        access_key: claim.credential.access_key,
        kind: claim.kind,
        payload: claim.payload,
        amz_date: claim.date.as_amz().to_owned(),
        scope: claim.credential.scope,
        signature: claim.signature,
        signing_key,
        _proof: (),
    })
}

/// boto 2 presigned URLs for a host with a port were signed over `host:port:port` (it appended
/// the port to a host value that already carried it). With `auth.boto2_presign_compat` such a URL
/// is accepted by recomputing with that host value once.
fn boto2_signature_matches(
    req: &RequestParts<'_>,
    claim: &Claim,
    signing_key: &SigningKey,
    scope_string: &str,
) -> Result<bool, S3Error> {
    let Some(host) = req
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return Ok(false);
    };
    let Some(doubled) = host_with_port_twice(host) else {
        return Ok(false);
    };
    let Ok(doubled) = http::HeaderValue::from_str(&doubled) else {
        return Ok(false);
    };
    let mut headers = req.headers.clone();
    headers.insert(http::header::HOST, doubled);
    let canonical_request = canonical_request_of(req, &headers, claim)?;
    let string_to_sign =
        signing::string_to_sign(claim.date.as_amz(), scope_string, &canonical_request);
    Ok(signing::signature_is_valid(
        signing_key,
        &string_to_sign,
        &claim.signature,
    ))
}

/// `example.com:9000` → `example.com:9000:9000`; `None` when the host has no port.
fn host_with_port_twice(host: &str) -> Option<String> {
    let (name, port) = host.rsplit_once(':')?;
    let port_ok = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    let name_ok = if name.starts_with('[') {
        name.ends_with(']')
    } else {
        !name.is_empty() && !name.contains(':')
    };
    (port_ok && name_ok).then(|| format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_a_host_with_a_port_gets_it_twice() {
        assert_eq!(
            host_with_port_twice("example.com:9000").as_deref(),
            Some("example.com:9000:9000")
        );
        assert_eq!(
            host_with_port_twice("[::1]:9000").as_deref(),
            Some("[::1]:9000:9000")
        );
        for none in [
            "example.com",
            "[::1]",
            "::1",
            "example.com:",
            ":9000",
            "a:b:9000",
            "h:9x",
        ] {
            assert_eq!(host_with_port_twice(none), None, "{none}");
        }
    }

    struct NoKeys;
    impl SigningKeys for NoKeys {
        fn signing_key(&self, _: &str, _: &str, _: &str, _: &str) -> Option<SigningKey> {
            Some(SigningKey::from_bytes([7; 32]))
        }
    }

    proptest::proptest! {
        /// Whatever the client sends, `verify` answers with an error, never a panic.
        #[test]
        fn verify_never_panics(
            method in "[A-Z]{0,8}",
            raw_path in ".{0,40}",
            raw_query in "((X-Amz-[A-Za-z]{0,12}|[a-z%0-9+]{0,6})(=[A-Za-z0-9%/;:+-]{0,24})?&?){0,8}",
            authorization in proptest::option::of(
                "AWS4-HMAC-SHA256 (Credential=[A-Za-z0-9/_-]{0,40}|SignedHeaders=[a-z;-]{0,20}|Signature=[0-9a-f]{0,64}|, ?){0,7}"
            ),
            amz_date in "[0-9TZ]{0,17}",
            content_sha256 in "(UNSIGNED-PAYLOAD|[0-9a-f]{64}|STREAMING-[A-Z0-9-]{0,40}|.{0,10})",
            host in "[a-z.:0-9\\[\\]]{0,20}",
            now_secs in 0u64..4_000_000_000,
            boto2 in proptest::bool::ANY,
        ) {
            let mut headers = http::HeaderMap::new();
            let mut put = |name: &'static str, value: &str| {
                if let Ok(v) = http::HeaderValue::from_str(value) {
                    headers.append(name, v);
                }
            };
            if let Some(a) = &authorization {
                put("authorization", a);
            }
            put("x-amz-date", &amz_date);
            put("x-amz-content-sha256", &content_sha256);
            put("host", &host);
            let req = RequestParts { method: &method, raw_path: &raw_path, raw_query: &raw_query, headers: &headers };
            let settings = AuthSettings {
                regions: vec!["us-east-1".into()],
                clock_skew: Duration::from_secs(900),
                max_presign_expiry: Duration::from_secs(604_800),
                boto2_presign_compat: boto2,
            };
            let now = std::time::UNIX_EPOCH + Duration::from_secs(now_secs);
            let _ = verify(&req, &NoKeys, &settings, now);
        }
    }

    #[test]
    fn malformed_names_the_field_for_presigned_requests() {
        let e = AuthKind::Presigned.malformed("Date", "bad");
        assert_eq!(e.code, S3ErrorCode::AuthorizationQueryParametersError);
        assert_eq!(e.message, "Error parsing the X-Amz-Date parameter; bad");
        let e = AuthKind::Header.malformed("Date", "bad");
        assert_eq!(e.code, S3ErrorCode::AuthorizationHeaderMalformed);
        assert_eq!(e.message, "The authorization header is malformed; bad");
    }
}
