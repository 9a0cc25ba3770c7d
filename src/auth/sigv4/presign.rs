//! Presigned requests: the signature and its inputs travel in the query string
//! (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`,
//! `X-Amz-Signature`, optionally `X-Amz-Security-Token` and `X-Amz-Content-Sha256`).
//!
//! Names are matched case-sensitively after percent-decoding, as S3 does. Every one of them may
//! appear at most once: with two `X-Amz-Date`s the signed one and the checked one could differ.

use std::time::{Duration, SystemTime};

use percent_encoding::percent_decode_str;

use super::credential::Credential;
use super::date::{unix_seconds_of, RequestDate};
use super::signing::ALGORITHM;
use super::{AuthKind, SignedHeaders};
use crate::error::{S3Error, S3ErrorCode};

/// `X-Amz-Expires` can never exceed seven days (SigV4 query-string authentication).
pub const MAX_EXPIRES_SECONDS: u64 = 604_800;

/// The parameters whose presence makes a request presigned.
pub const MARKER_PARAMS: [&str; 3] = ["X-Amz-Signature", "X-Amz-Credential", "X-Amz-Algorithm"];

/// The parameters this module reads; each may appear once.
const AUTH_PARAMS: [&str; 8] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
];
const ALGORITHM_IX: usize = 0;
const CREDENTIAL_IX: usize = 1;
const DATE_IX: usize = 2;
const EXPIRES_IX: usize = 3;
const SIGNED_HEADERS_IX: usize = 4;
const SIGNATURE_IX: usize = 5;
const CONTENT_SHA256_IX: usize = 7;

/// The parsed authentication parameters of a presigned request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedQuery {
    /// `X-Amz-Credential`.
    pub credential: Credential,
    /// `X-Amz-Date`.
    pub date: RequestDate,
    /// `X-Amz-Expires`, in seconds: 1 to 604800 and at most the configured maximum.
    pub expires_seconds: u64,
    /// `X-Amz-SignedHeaders`.
    pub signed_headers: SignedHeaders,
    /// `X-Amz-Signature`: 64 lower-case hex digits.
    pub signature: String,
    /// `X-Amz-Content-Sha256`, when sent: then it is the hashed-payload line.
    pub content_sha256: Option<String>,
}

/// Split a raw query into `(decoded name, raw value)` pairs.
fn params(raw_query: &str) -> impl Iterator<Item = (std::borrow::Cow<'_, str>, &str)> {
    raw_query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            (percent_decode_str(name).decode_utf8_lossy(), value)
        })
}

/// Whether the query carries any presigned-auth parameter (then the request is presigned, or
/// malformed, never anonymous).
pub fn is_presigned(raw_query: &str) -> bool {
    params(raw_query).any(|(name, _)| MARKER_PARAMS.contains(&name.as_ref()))
}

fn query_error(message: impl Into<String>) -> S3Error {
    S3Error::new(S3ErrorCode::AuthorizationQueryParametersError, message)
}

/// Parse the presigned parameters. `max_expiry` is `auth.max_presign_expiry`.
pub fn parse(raw_query: &str, max_expiry: Duration) -> Result<PresignedQuery, S3Error> {
    let mut found: [Option<String>; AUTH_PARAMS.len()] = Default::default();
    for (name, raw_value) in params(raw_query) {
        let Some(index) = AUTH_PARAMS.iter().position(|p| *p == name) else {
            continue;
        };
        if found[index].is_some() {
            return Err(query_error(format!("{name} must appear only once")));
        }
        let value = percent_decode_str(raw_value)
            .decode_utf8()
            .map_err(|_| query_error(format!("{name} is not valid UTF-8")))?;
        found[index] = Some(value.into_owned());
    }

    let required = [
        ALGORITHM_IX,
        CREDENTIAL_IX,
        DATE_IX,
        EXPIRES_IX,
        SIGNED_HEADERS_IX,
        SIGNATURE_IX,
    ];
    let missing: Vec<&str> = required
        .iter()
        .filter(|&&i| found[i].is_none())
        .map(|&i| AUTH_PARAMS[i])
        .collect();
    if !missing.is_empty() {
        return Err(query_error(format!(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and \
             X-Amz-Expires parameters; missing: {}",
            missing.join(", ")
        )));
    }
    let get = |i: usize| found[i].as_deref().unwrap_or_default();

    match get(ALGORITHM_IX) {
        ALGORITHM => {}
        super::authorization::ECDSA_ALGORITHM => {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "AWS4-ECDSA-P256-SHA256 (Signature Version 4A) is not supported",
            ))
        }
        _ => {
            return Err(query_error(format!(
                "X-Amz-Algorithm only supports \"{ALGORITHM}\""
            )))
        }
    }
    let credential = Credential::parse(get(CREDENTIAL_IX), AuthKind::Presigned)?;
    let date = RequestDate::parse_amz(get(DATE_IX)).ok_or_else(|| {
        query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    })?;
    let expires_seconds = parse_expires(get(EXPIRES_IX), max_expiry)?;
    let signed_headers = SignedHeaders::parse(get(SIGNED_HEADERS_IX), AuthKind::Presigned)?;
    let signature =
        super::authorization::parse_signature(get(SIGNATURE_IX), AuthKind::Presigned)?.to_owned();
    Ok(PresignedQuery {
        credential,
        date,
        expires_seconds,
        signed_headers,
        signature,
        content_sha256: found[CONTENT_SHA256_IX].take(),
    })
}

/// `X-Amz-Expires`: decimal digits only, 1 to 604800 (seven days), and at most `max_expiry`.
fn parse_expires(value: &str, max_expiry: Duration) -> Result<u64, S3Error> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(query_error("X-Amz-Expires should be a number"));
    }
    // Digits only; an absurdly long number overflows and is simply too large.
    let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
    if seconds == 0 {
        return Err(query_error("X-Amz-Expires must be at least 1 second"));
    }
    if seconds > MAX_EXPIRES_SECONDS {
        return Err(query_error(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    if seconds > max_expiry.as_secs() {
        return Err(query_error(format!(
            "X-Amz-Expires must be at most {} seconds on this server",
            max_expiry.as_secs()
        )));
    }
    Ok(seconds)
}

/// A presigned URL is valid from its date (give or take `clock_skew`, for clients whose clock
/// runs ahead) until date + expires. S3 answers `AccessDenied` on both sides.
pub fn check_validity(
    date: &RequestDate,
    expires_seconds: u64,
    now: SystemTime,
    clock_skew: Duration,
) -> Result<(), S3Error> {
    let now = unix_seconds_of(now);
    let signed_at = i128::from(date.unix_seconds());
    if signed_at - now > i128::from(clock_skew.as_secs()) {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Request is not valid yet",
        ));
    }
    if now > signed_at + i128::from(expires_seconds) {
        return Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Request has expired",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const WEEK: Duration = Duration::from_secs(604_800);
    const SIG: &str = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    fn query_with(replace: &str, by: &str) -> String {
        let q = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature={SIG}"
        );
        if replace.is_empty() {
            q
        } else {
            q.replace(replace, by)
        }
    }

    fn query_error_of(query: &str) -> String {
        let err = parse(query, WEEK).unwrap_err();
        assert_eq!(
            err.code,
            S3ErrorCode::AuthorizationQueryParametersError,
            "{query}: {err}"
        );
        err.message
    }

    #[test]
    fn parses_the_documented_example() {
        let p = parse(&query_with("", ""), WEEK).unwrap();
        assert_eq!(p.credential.access_key, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(
            p.credential.scope.to_scope_string(),
            "20130524/us-east-1/s3/aws4_request"
        );
        assert_eq!(p.date.as_amz(), "20130524T000000Z");
        assert_eq!(p.expires_seconds, 86400);
        assert_eq!(p.signed_headers.as_str(), "host");
        assert_eq!(p.signature, SIG);
        assert_eq!(p.content_sha256, None);
    }

    #[test]
    fn presence_of_any_marker_makes_it_presigned() {
        assert!(is_presigned("a=1&X-Amz-Signature=x"));
        assert!(is_presigned("X-Amz-Credential"));
        assert!(is_presigned("X%2DAmz-Algorithm=AWS4-HMAC-SHA256"));
        assert!(!is_presigned(
            "x-amz-signature=1&X-Amz-Date=2&X-Amz-Expires=3"
        ));
        assert!(!is_presigned(""));
    }

    #[test]
    fn each_missing_param_is_named() {
        for name in [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
        ] {
            let q = query_with(&format!("{name}="), "X-Amz-Unrelated=");
            let message = query_error_of(&q);
            assert!(message.ends_with(&format!("missing: {name}")), "{message}");
        }
    }

    #[test]
    fn a_duplicated_param_is_refused() {
        let q = format!("{}&X-Amz-Date=20130524T000000Z", query_with("", ""));
        assert!(query_error_of(&q).contains("X-Amz-Date must appear only once"));
        let q = format!(
            "{}&X-Amz-Security-Token=a&X-Amz-Security-Token=a",
            query_with("", "")
        );
        assert!(query_error_of(&q).contains("X-Amz-Security-Token must appear only once"));
    }

    #[test]
    fn optional_params_are_read() {
        let q = format!(
            "{}&X-Amz-Content-Sha256=UNSIGNED-PAYLOAD&X-Amz-Security-Token=tok%2B",
            query_with("", "")
        );
        let p = parse(&q, WEEK).unwrap();
        assert_eq!(p.content_sha256.as_deref(), Some("UNSIGNED-PAYLOAD"));
    }

    #[test]
    fn algorithm_must_be_hmac_sha256() {
        let q = query_with("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1");
        assert!(query_error_of(&q).contains("only supports"));
        let q = query_with("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
        assert_eq!(
            parse(&q, WEEK).unwrap_err().code,
            S3ErrorCode::NotImplemented
        );
    }

    #[test]
    fn malformed_values_are_query_errors() {
        let _ = query_error_of(&query_with(
            "X-Amz-Date=20130524T000000Z",
            "X-Amz-Date=20130524",
        ));
        let _ = query_error_of(&query_with("%2Faws4_request", "%2Faws4"));
        let _ = query_error_of(&query_with("SignedHeaders=host", "SignedHeaders=Host"));
        let _ = query_error_of(&query_with(SIG, &SIG[1..]));
        let _ = query_error_of(&query_with("us-east-1", "%FF"));
    }

    #[test]
    fn expires_is_bounded() {
        for bad in [
            "0",
            "604801",
            "-1",
            "1.5",
            "",
            "+5",
            "99999999999999999999999",
        ] {
            let q = query_with("X-Amz-Expires=86400", &format!("X-Amz-Expires={bad}"));
            let _ = query_error_of(&q);
        }
        for ok in ["1", "604800", "0086400"] {
            let q = query_with("X-Amz-Expires=86400", &format!("X-Amz-Expires={ok}"));
            assert!(parse(&q, WEEK).is_ok(), "{ok}");
        }
        let hour = Duration::from_secs(3600);
        let q = query_with("X-Amz-Expires=86400", "X-Amz-Expires=3601");
        let err = parse(&q, hour).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AuthorizationQueryParametersError);
        assert!(err.message.contains("at most 3600"));
        let q = query_with("X-Amz-Expires=86400", "X-Amz-Expires=3600");
        assert!(parse(&q, hour).is_ok());
    }

    #[test]
    fn validity_window() {
        let date = RequestDate::parse_amz("20130524T000000Z").unwrap();
        let signed_at = UNIX_EPOCH + Duration::from_secs(1_369_353_600);
        let skew = Duration::from_secs(900);
        let at = |offset: i64| {
            if offset >= 0 {
                signed_at + Duration::from_secs(offset as u64)
            } else {
                signed_at - Duration::from_secs(offset.unsigned_abs())
            }
        };
        assert!(check_validity(&date, 60, at(0), skew).is_ok());
        assert!(check_validity(&date, 60, at(60), skew).is_ok());
        let err = check_validity(&date, 60, at(61), skew).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (S3ErrorCode::AccessDenied, "Request has expired")
        );
        assert!(check_validity(&date, 60, at(-900), skew).is_ok());
        let err = check_validity(&date, 60, at(-901), skew).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (S3ErrorCode::AccessDenied, "Request is not valid yet")
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(query in ".*") {
            let _ = is_presigned(&query);
            let _ = parse(&query, WEEK);
        }

        #[test]
        fn parse_never_panics_on_near_misses(
            query in "(X-Amz-(Algorithm|Credential|Date|Expires|SignedHeaders|Signature)=[A-Za-z0-9%/;-]{0,20}&?){0,8}"
        ) {
            let _ = parse(&query, WEEK);
        }
    }
}
