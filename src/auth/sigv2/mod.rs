//! Pure SigV2 verification ("Signing and authenticating REST requests", Amazon S3 API
//! Reference): no I/O, no clock, no global state.
//!
//! Two ways to sign a request: `Authorization: AWS <AccessKeyId>:<Signature>` with the date in
//! `x-amz-date` or `Date`, or the presigned query `AWSAccessKeyId`, `Expires`, `Signature`. The
//! signature is `base64(HMAC-SHA1(secret, StringToSign))`; the string to sign is built by
//! [`canonical`]. [`verify_post_signature`] checks the SigV2 signature of a browser POST form.
//!
//! SigV2 signs much less than SigV4: no Host (the bucket only through the resource), no body,
//! and of the query only the sub-resources: every name that selects an S3 operation, so none can
//! be appended to a signed request ([`sub_resources`]). The proxy dispatches with [`is_sigv2`].

pub mod canonical;
pub mod sub_resources;

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::auth::sigv4::date::unix_seconds_of;
use crate::auth::{AuthSettings, RequestParts};
use crate::error::{S3Error, S3ErrorCode};

/// The scheme word of a SigV2 `Authorization` header, with its space.
pub const AUTHORIZATION_PREFIX: &str = "AWS ";

/// Presigned query parameter: the access key id.
pub const ACCESS_KEY_PARAM: &str = "AWSAccessKeyId";
/// Presigned query parameter: expiry, seconds since the Unix epoch (the Date line).
pub const EXPIRES_PARAM: &str = "Expires";
/// Presigned query parameter: the base64 signature, URL-encoded.
pub const SIGNATURE_PARAM: &str = "Signature";

/// The header whose presence empties the Date line of the string to sign.
pub const AMZ_DATE_HEADER: &str = "x-amz-date";

/// The secret-holding side: implemented by the credential store and by tests. It computes the
/// HMAC itself so the secret never leaves it.
pub trait SigV2Keys {
    /// `HMAC-SHA1(secret of access_key, data)`; `None` when the access key is unknown.
    fn hmac_sha1(&self, access_key: &str, data: &[u8]) -> Option<[u8; 20]>;
}

/// How a SigV2 request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V2Kind {
    /// `Authorization: AWS <AccessKeyId>:<Signature>`.
    Header,
    /// `AWSAccessKeyId`, `Expires` and `Signature` in the query string.
    Presigned,
}

/// Proof that a SigV2 request's head verified. Only [`verify`] constructs it.
#[derive(Debug, Clone, PartialEq, Eq)]
// The private field, not `#[non_exhaustive]`, keeps construction inside this module.
#[allow(clippy::manual_non_exhaustive)]
pub struct AuthorizedV2 {
    /// The access key id that signed.
    pub access_key: String,
    /// Header or presigned.
    pub kind: V2Kind,
    _proof: (),
}

/// `HMAC-SHA1(key, data)`.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    // new_from_slice cannot fail: HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Sign a string to sign with a secret: `base64(HMAC-SHA1(secret, string_to_sign))`. For the
/// `presign` CLI and tests; the proxy itself never holds a secret outside [`SigV2Keys`].
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    encode_signature(&hmac_sha1(secret.as_bytes(), string_to_sign.as_bytes()))
}

fn encode_signature(mac: &[u8; 20]) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac)
}

/// Whether the signature we computed equals the one the client sent, in constant time in the
/// content (a valid signature's length, 28 characters, is no secret).
fn signatures_match(computed: &str, provided: &str) -> bool {
    computed.as_bytes().ct_eq(provided.as_bytes()).into()
}

/// Whether a request uses SigV2 at all: an `Authorization` header starting with `AWS ` or an
/// `AWSAccessKeyId` / `Signature` query parameter. The proxy sends these here and everything
/// else to SigV4 (whose `AWS4-HMAC-SHA256 …` does not start with `AWS `).
pub fn is_sigv2(req: &RequestParts<'_>) -> bool {
    let header = req
        .headers
        .get_all(http::header::AUTHORIZATION)
        .iter()
        .any(|v| v.as_bytes().starts_with(AUTHORIZATION_PREFIX.as_bytes()));
    header || has_presign_params(req.raw_query)
}

fn has_presign_params(raw_query: &str) -> bool {
    canonical::query_params(raw_query)
        .any(|(name, _)| name == ACCESS_KEY_PARAM || name == SIGNATURE_PARAM)
}

/// The string to sign of `req` as text (bytes that are not UTF-8 shown as U+FFFD; the
/// signature is always computed over the exact bytes). `virtual_host_bucket` is the bucket the
/// proxy resolved from the Host (virtual-hosted or CNAME), `None` for path style. `date_line` is
/// the `Date` value, empty when `x-amz-date` is sent, or presigned the `Expires` value. A query
/// carrying `Signature` or `AWSAccessKeyId` is read as presigned (see
/// [`canonical::canonicalized_amz_headers`]).
pub fn string_to_sign(
    req: &RequestParts<'_>,
    virtual_host_bucket: Option<&str>,
    date_line: &str,
) -> String {
    let kind = if has_presign_params(req.raw_query) {
        V2Kind::Presigned
    } else {
        V2Kind::Header
    };
    String::from_utf8_lossy(&string_to_sign_bytes(
        req,
        virtual_host_bucket,
        date_line,
        kind,
    ))
    .into_owned()
}

fn string_to_sign_bytes(
    req: &RequestParts<'_>,
    virtual_host_bucket: Option<&str>,
    date_line: &str,
    kind: V2Kind,
) -> Vec<u8> {
    canonical::string_to_sign_bytes(
        req.method,
        req.raw_path,
        req.raw_query,
        req.headers,
        virtual_host_bucket,
        date_line,
        kind,
    )
}

/// What a request claims, every check but the signature done.
struct Claim {
    kind: V2Kind,
    access_key: String,
    signature: String,
    date_line: String,
}

/// Verify the head of a SigV2 request. Exactly one mechanism (header or query; both →
/// `InvalidArgument`, as S3). Checks, in order: well-formedness, the date (header: within
/// `clock_skew`; presigned: not expired, not further ahead than `max_presign_expiry`), the
/// access key, then the signature (constant time). Does not check `allow` scopes nor the body
/// (SigV2 never signs the body; `Content-MD5`, when sent, is signed and is the backend's to check).
pub fn verify(
    req: &RequestParts<'_>,
    virtual_host_bucket: Option<&str>,
    keys: &dyn SigV2Keys,
    settings: &AuthSettings,
    now: SystemTime,
) -> Result<AuthorizedV2, S3Error> {
    let claim = match mechanism(req)? {
        Some(authorization) => header_claim(req, authorization, settings, now)?,
        None => presigned_claim(req, settings, now)?,
    };
    let string_to_sign =
        string_to_sign_bytes(req, virtual_host_bucket, &claim.date_line, claim.kind);
    if !signs(keys, &claim, &string_to_sign)? {
        let with_slash = bucket_only_path_with_slash(req, virtual_host_bucket).map(|raw_path| {
            let req = RequestParts {
                raw_path: &raw_path,
                ..*req
            };
            string_to_sign_bytes(&req, None, &claim.date_line, claim.kind)
        });
        if !matches!(with_slash, Some(sts) if signs(keys, &claim, &sts)?) {
            return Err(signature_mismatch(
                String::from_utf8_lossy(&string_to_sign).into_owned(),
            ));
        }
    }
    Ok(AuthorizedV2 {
        access_key: claim.access_key,
        kind: claim.kind,
        _proof: (),
    })
}

/// Whether `claim`'s signature is the one its access key makes over `string_to_sign` (constant
/// time); `InvalidAccessKeyId` when the key is unknown.
fn signs(keys: &dyn SigV2Keys, claim: &Claim, string_to_sign: &[u8]) -> Result<bool, S3Error> {
    let Some(mac) = keys.hmac_sha1(&claim.access_key, string_to_sign) else {
        return Err(S3Error::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        ));
    };
    Ok(signatures_match(&encode_signature(&mac), &claim.signature))
}

/// For a path-style request to a bucket itself (`/bucket`, no key, not even the `/`): the path
/// with a `/` appended, which is how S3 and botocore write the bucket's resource. botocore sends
/// `PUT /bucket` but signs `/bucket/` ("If the request URI is ONLY a bucket, the auth_path must
/// be terminated with a '/' character to generate a signature that the server will accept",
/// botocore/handlers.py), for every bucket operation of boto3 with `signature_version='s3'`
/// (create_bucket, list_objects_v2, get_bucket_acl, …) and its presigned bucket URLs. Both
/// resources name the same bucket, so accepting either grants nothing more. `None` otherwise.
fn bucket_only_path_with_slash(
    req: &RequestParts<'_>,
    virtual_host_bucket: Option<&str>,
) -> Option<String> {
    let bucket = req.raw_path.strip_prefix('/')?;
    if virtual_host_bucket.is_some() || bucket.is_empty() || bucket.contains('/') {
        return None;
    }
    Some(format!("{}/", req.raw_path))
}

/// The `Authorization` value for header auth, `None` for presigned.
fn mechanism<'a>(req: &RequestParts<'a>) -> Result<Option<&'a str>, S3Error> {
    let mut values = req.headers.get_all(http::header::AUTHORIZATION).iter();
    let header = values.next();
    if values.next().is_some() {
        return Err(malformed_header());
    }
    // SigV4 query parameters next to a SigV2 signature: two mechanisms, which one authorises?
    if crate::auth::sigv4::presign::is_presigned(req.raw_query) {
        return Err(only_one_mechanism());
    }
    match (header, has_presign_params(req.raw_query)) {
        (Some(_), true) => Err(only_one_mechanism()),
        (None, false) => Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Anonymous access is not allowed",
        )),
        (Some(value), false) => value.to_str().map(Some).map_err(|_| malformed_header()),
        (None, true) => Ok(None),
    }
}

/// S3's answer to a request signed two ways at once.
fn only_one_mechanism() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified",
    )
}

/// What S3 answers for `Authorization: AWS` without a well-formed `id:signature` (code
/// `InvalidArgument`, argument `Authorization`; `AuthorizationHeaderMalformed` is SigV4's code,
/// about the credential scope).
fn malformed_header() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
    )
}

/// Parse `AWS <AccessKeyId>:<Signature>`: exactly one space after `AWS`, both parts non-empty,
/// no further `:` or blank (an access key id and a base64 signature contain neither).
fn parse_authorization(value: &str) -> Result<(&str, &str), S3Error> {
    let rest = value
        .strip_prefix(AUTHORIZATION_PREFIX)
        .ok_or_else(malformed_header)?;
    let (access_key, signature) = rest.split_once(':').ok_or_else(malformed_header)?;
    let clean = |s: &str| !s.is_empty() && !s.contains([':', ' ', '\t']);
    if !clean(access_key) || !clean(signature) {
        return Err(malformed_header());
    }
    Ok((access_key, signature))
}

fn header_claim(
    req: &RequestParts<'_>,
    authorization: &str,
    settings: &AuthSettings,
    now: SystemTime,
) -> Result<Claim, S3Error> {
    let (access_key, signature) = parse_authorization(authorization)?;
    // The date that counts is `x-amz-date` when present (no fallback to `Date`: a client could
    // otherwise slip a second date past the one it signed), else `Date`.
    let has_amz_date = req.headers.contains_key(AMZ_DATE_HEADER);
    let name = if has_amz_date {
        AMZ_DATE_HEADER
    } else {
        http::header::DATE.as_str()
    };
    let no_date = || {
        S3Error::new(
            S3ErrorCode::AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    };
    let mut values = req.headers.get_all(name).iter();
    let value = values.next().ok_or_else(no_date)?;
    if values.next().is_some() {
        // Two dates: which one was signed is anyone's guess.
        return Err(no_date());
    }
    let value = value.to_str().map_err(|_| no_date())?;
    let unix = parse_http_date(value).ok_or_else(no_date)?;
    check_skew(unix, now, settings.clock_skew)?;
    Ok(Claim {
        kind: V2Kind::Header,
        access_key: access_key.to_owned(),
        signature: signature.to_owned(),
        // "if you include the x-amz-date header, use the empty string for the Date when
        // constructing the StringToSign"; otherwise the `Date` value exactly as sent.
        date_line: if has_amz_date {
            String::new()
        } else {
            value.to_owned()
        },
    })
}

/// A SigV2 request date, in seconds since the Unix epoch. Clients send RFC 1123 with `GMT`
/// (botocore's `formatdate(usegmt=True)`, s3cmd) or with a numeric zone (the page's examples,
/// `+0000`); `httpdate` reads the first and the obsolete RFC 850 and asctime forms, `time`'s
/// RFC 2822 parser the numeric zones.
///
/// A date before 1970 is no valid date: S3 answers `AccessDenied` for it, as for a date it
/// cannot read, where a readable date too far from now gets `RequestTimeTooSkewed`
/// (ceph/s3-tests, `test_bucket_create_bad_date_before_epoch_aws2`).
pub fn parse_http_date(value: &str) -> Option<i64> {
    let unix = match httpdate::parse_http_date(value) {
        Ok(at) => {
            let after = at.duration_since(std::time::UNIX_EPOCH).ok()?;
            i64::try_from(after.as_secs()).ok()?
        }
        Err(_) => {
            time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822)
                .ok()?
                .unix_timestamp()
        }
    };
    (unix >= 0).then_some(unix)
}

/// The request date must be within `clock_skew` of `now`, either way (S3 allows 15 minutes).
fn check_skew(date_unix: i64, now: SystemTime, clock_skew: Duration) -> Result<(), S3Error> {
    let difference = (i128::from(date_unix) - unix_seconds_of(now)).abs();
    if difference > i128::from(clock_skew.as_secs()) {
        return Err(S3Error::new(
            S3ErrorCode::RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large.",
        ));
    }
    Ok(())
}

/// The three presigned parameters, each exactly once.
fn presigned_claim(
    req: &RequestParts<'_>,
    settings: &AuthSettings,
    now: SystemTime,
) -> Result<Claim, S3Error> {
    const NAMES: [&str; 3] = [ACCESS_KEY_PARAM, EXPIRES_PARAM, SIGNATURE_PARAM];
    let mut found: [Option<String>; 3] = Default::default();
    for (name, raw_value) in canonical::query_params(req.raw_query) {
        let Some(index) = NAMES.iter().position(|n| *n == name) else {
            continue;
        };
        if found[index].is_some() {
            // With two, the checked one and the signed one could differ.
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("{name} must appear only once"),
            ));
        }
        let value =
            String::from_utf8(canonical::decode_value(raw_value.unwrap_or(""))).map_err(|_| {
                S3Error::new(S3ErrorCode::InvalidArgument, format!("{name} is not UTF-8"))
            })?;
        found[index] = Some(value);
    }
    let [Some(access_key), Some(expires), Some(signature)] = found else {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId \
             parameters",
        ));
    };
    if access_key.is_empty() || signature.is_empty() {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId \
             parameters",
        ));
    }
    check_expires(&expires, now, settings.max_presign_expiry)?;
    Ok(Claim {
        kind: V2Kind::Presigned,
        access_key,
        signature,
        // The `Expires` value takes the place of the date, exactly as sent.
        date_line: expires,
    })
}

/// `Expires` is whole seconds since the epoch (digits only, at most 12 of them so it cannot
/// overflow); `now` past it → expired; further ahead than `max_expiry` → refused, so a leaked URL
/// cannot live longer than the configured limit (`auth.max_presign_expiry`).
fn check_expires(expires: &str, now: SystemTime, max_expiry: Duration) -> Result<(), S3Error> {
    if expires.is_empty() || expires.len() > 12 || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Invalid date (should be seconds since epoch) in the Expires parameter",
        ));
    }
    let expires: i128 = expires.parse().map_err(|_| {
        S3Error::new(
            S3ErrorCode::AccessDenied,
            "Invalid date (should be seconds since epoch) in the Expires parameter",
        )
    })?;
    let now = unix_seconds_of(now);
    if now > expires {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Request has expired",
        ));
    }
    let max = i128::from(max_expiry.as_secs());
    if expires - now > max {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            format!(
                "Request expires too far in the future: Expires may be at most {max} seconds \
                 from now (auth.max_presign_expiry)"
            ),
        ));
    }
    Ok(())
}

/// The SigV2 signature of a browser POST form: `signature` must be
/// `base64(HMAC-SHA1(secret, policy))` where `policy` is the form's base64 policy field as sent
/// ("Upload examples (AWS signature version 2)"). Compared in constant time. The policy's
/// conditions are checked elsewhere (`post`).
pub fn verify_post_signature(
    keys: &dyn SigV2Keys,
    access_key: &str,
    policy_b64: &str,
    signature_b64: &str,
) -> Result<(), S3Error> {
    let Some(mac) = keys.hmac_sha1(access_key, policy_b64.as_bytes()) else {
        return Err(S3Error::new(
            S3ErrorCode::InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records.",
        ));
    };
    if !signatures_match(&encode_signature(&mac), signature_b64) {
        return Err(signature_mismatch(policy_b64.to_owned()));
    }
    Ok(())
}

/// `SignatureDoesNotMatch` with the string to sign we computed. SigV2 has no canonical request.
/// S3 also returns `SignatureProvided`; `S3Error` has no field for it, and the client knows what
/// it sent.
fn signature_mismatch(string_to_sign: String) -> S3Error {
    S3Error {
        string_to_sign: Some(string_to_sign),
        canonical_request: None,
        ..S3Error::signature_mismatch(String::new(), String::new())
    }
}

#[cfg(test)]
mod tests;
