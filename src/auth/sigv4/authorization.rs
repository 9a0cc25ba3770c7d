//! The `Authorization` header of a header-signed request:
//!
//! ```text
//! AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-date,Signature=<64 hex>
//! ```
//!
//! Parsed strictly: one algorithm, the three components exactly once and in the order every SDK
//! writes them. Leniency here buys nothing (no real client needs it) and every accepted variant
//! is one more way two parsers of the same header could disagree.

use super::credential::Credential;
use super::signing::ALGORITHM;
use super::{AuthKind, SignedHeaders};
use crate::error::{S3Error, S3ErrorCode};

/// SigV4A (ECDSA P-256) header algorithm; recognised so it can be answered `NotImplemented`.
pub const ECDSA_ALGORITHM: &str = "AWS4-ECDSA-P256-SHA256";

/// A parsed SigV4 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// `Credential=`: access key and scope.
    pub credential: Credential,
    /// `SignedHeaders=`.
    pub signed_headers: SignedHeaders,
    /// `Signature=`: 64 lower-case hex digits.
    pub signature: String,
}

/// The components, in the order they must appear.
const COMPONENTS: [&str; 3] = ["Credential", "SignedHeaders", "Signature"];

/// Parse an `Authorization` header value.
///
/// - `AWS4-HMAC-SHA256 …` → the parsed header, or `AuthorizationHeaderMalformed` naming the fault.
/// - `AWS4-ECDSA-P256-SHA256 …` (SigV4A) → `NotImplemented`.
/// - `AWS AK:sig` (Signature Version 2) → `AccessDenied`, not supported yet.
/// - anything else → `AuthorizationHeaderMalformed`.
pub fn parse(value: &str) -> Result<AuthorizationHeader, S3Error> {
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    match algorithm {
        ALGORITHM => {}
        ECDSA_ALGORITHM => {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "AWS4-ECDSA-P256-SHA256 (Signature Version 4A) is not supported",
            ))
        }
        "AWS" => {
            return Err(S3Error::new(
                S3ErrorCode::AccessDenied,
                "Signature Version 2 is not supported",
            ))
        }
        other => {
            return Err(malformed(format!(
                "the algorithm '{other}' is not supported; expecting '{ALGORITHM}'"
            )))
        }
    }

    // Components are separated by `,`, optionally followed by spaces: SDKs write ", ", the S3
    // documentation prints ",".
    let mut values: [Option<&str>; 3] = [None; 3];
    let mut last_index: Option<usize> = None;
    for component in rest.split(',').map(|c| c.trim_start_matches(' ')) {
        let Some((name, component_value)) = component.split_once('=') else {
            return Err(malformed(format!(
                "the component '{component}' is not of the form Name=value"
            )));
        };
        let Some(index) = COMPONENTS.iter().position(|c| *c == name) else {
            return Err(malformed(format!("unknown component '{name}'")));
        };
        if values[index].is_some() {
            return Err(malformed(format!("{name} appears more than once")));
        }
        if let Some(last) = last_index {
            if index < last {
                return Err(malformed(format!(
                    "{name} must come before {}; expecting Credential, SignedHeaders, Signature",
                    COMPONENTS[last]
                )));
            }
        }
        values[index] = Some(component_value);
        last_index = Some(index);
    }
    let [Some(credential), Some(signed_headers), Some(signature)] = values else {
        let missing: Vec<&str> = COMPONENTS
            .iter()
            .zip(values.iter())
            .filter(|(_, v)| v.is_none())
            .map(|(name, _)| *name)
            .collect();
        return Err(malformed(format!("missing {}", missing.join(", "))));
    };

    Ok(AuthorizationHeader {
        credential: Credential::parse(credential, AuthKind::Header)?,
        signed_headers: SignedHeaders::parse(signed_headers, AuthKind::Header)?,
        signature: parse_signature(signature, AuthKind::Header)?.to_owned(),
    })
}

/// A signature is exactly 64 lower-case hex digits, as every SDK writes it. Checked before any
/// key lookup, so garbage never reaches the comparison.
pub fn parse_signature(value: &str, kind: AuthKind) -> Result<&str, S3Error> {
    let ok = value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(value)
    } else {
        Err(kind.malformed(
            "Signature",
            "the Signature must be 64 lower-case hexadecimal digits",
        ))
    }
}

fn malformed(detail: String) -> S3Error {
    AuthKind::Header.malformed("Authorization", detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    const CRED: &str = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";

    fn header(sep: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential={CRED},{sep}SignedHeaders=host;range;x-amz-date,{sep}Signature={SIG}")
    }

    fn malformed_message(value: &str) -> String {
        let err = parse(value).unwrap_err();
        assert_eq!(
            err.code,
            S3ErrorCode::AuthorizationHeaderMalformed,
            "{value:?}: {err}"
        );
        err.message
    }

    #[test]
    fn parses_with_and_without_spaces_after_commas() {
        for sep in ["", " ", "  "] {
            let h = parse(&header(sep)).unwrap();
            assert_eq!(h.credential.access_key, "AKIAIOSFODNN7EXAMPLE");
            assert_eq!(h.credential.scope.region, "us-east-1");
            assert_eq!(h.signed_headers.as_str(), "host;range;x-amz-date");
            assert_eq!(h.signature, SIG);
        }
    }

    #[test]
    fn sigv4a_is_not_implemented_and_sigv2_is_refused() {
        let v4a =
            format!("AWS4-ECDSA-P256-SHA256 Credential={CRED}, SignedHeaders=host, Signature=00");
        assert_eq!(parse(&v4a).unwrap_err().code, S3ErrorCode::NotImplemented);
        let v2 = parse("AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=").unwrap_err();
        assert_eq!(v2.code, S3ErrorCode::AccessDenied);
        assert_eq!(v2.message, "Signature Version 2 is not supported");
    }

    #[test]
    fn other_algorithms_are_malformed() {
        for bad in [
            "",
            "AWS4-HMAC-SHA256",
            "aws4-hmac-sha256 Credential=x",
            "AWS4-HMAC-SHA512 Credential=x",
            "Bearer token",
        ] {
            let _ = malformed_message(bad);
        }
        assert!(malformed_message("Bearer x").contains("'Bearer'"));
    }

    #[test]
    fn a_missing_component_is_named() {
        let no_sig = format!("AWS4-HMAC-SHA256 Credential={CRED}, SignedHeaders=host");
        assert!(malformed_message(&no_sig).contains("missing Signature"));
        let no_cred = format!("AWS4-HMAC-SHA256 SignedHeaders=host, Signature={SIG}");
        assert!(malformed_message(&no_cred).contains("missing Credential"));
        let only_cred = format!("AWS4-HMAC-SHA256 Credential={CRED}");
        assert!(malformed_message(&only_cred).contains("missing SignedHeaders, Signature"));
    }

    #[test]
    fn a_duplicated_component_is_named() {
        let twice = format!("{}, Signature={SIG}", header(" "));
        assert!(malformed_message(&twice).contains("Signature appears more than once"));
        let cred_twice = format!(
            "AWS4-HMAC-SHA256 Credential={CRED}, Credential={CRED}, SignedHeaders=host, Signature={SIG}"
        );
        assert!(malformed_message(&cred_twice).contains("Credential appears more than once"));
    }

    #[test]
    fn components_must_come_in_order() {
        let swapped =
            format!("AWS4-HMAC-SHA256 SignedHeaders=host, Credential={CRED}, Signature={SIG}");
        assert!(malformed_message(&swapped).contains("Credential must come before SignedHeaders"));
    }

    #[test]
    fn unknown_and_shapeless_components_are_malformed() {
        let extra = format!("{}, Extra=1", header(" "));
        assert!(malformed_message(&extra).contains("unknown component 'Extra'"));
        let trailing = format!("{},", header(" "));
        assert!(malformed_message(&trailing).contains("not of the form"));
        let lower = header(" ").replace("Signature=", "signature=");
        assert!(malformed_message(&lower).contains("unknown component 'signature'"));
        let tab = header(" ").replace(", Signature", ",\tSignature");
        let _ = malformed_message(&tab);
    }

    #[test]
    fn the_signature_must_be_64_lower_case_hex() {
        for bad in [
            &SIG[..63],
            &format!("{SIG}0"),
            &SIG.to_uppercase(),
            &format!("{}g", &SIG[..63]),
            "",
        ] {
            let value = header(" ").replace(SIG, bad);
            assert!(
                malformed_message(&value).contains("64 lower-case hexadecimal"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn credential_and_signed_headers_errors_come_through() {
        let bad_cred = header(" ").replace("/aws4_request", "/aws4");
        assert!(malformed_message(&bad_cred).contains("Credential is mal-formed"));
        let bad_signed = header(" ").replace("host;range;x-amz-date", "range;host");
        assert!(malformed_message(&bad_signed).contains("not sorted"));
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(value in ".*") {
            let _ = parse(&value);
        }

        #[test]
        fn parse_never_panics_on_near_misses(
            value in "AWS4-HMAC-SHA256 (Credential|SignedHeaders|Signature|[a-z/;0-9=, ]){0,12}"
        ) {
            let _ = parse(&value);
        }
    }
}
