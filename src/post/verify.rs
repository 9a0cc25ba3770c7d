//! A form's signature and policy, whichever scheme signed it: the form's counterpart of
//! `auth::authenticate`, and the only place a form's SigV2/SigV4 choice is made. Pure.

use std::time::SystemTime;

use super::policy::{self, FormSignature, PostPolicy, VerifiedForm};
use super::FormPrefix;
use crate::auth::{self, sigv2, AuthMethod, Schemes, SigningKeys};
use crate::error::{S3Error, S3ErrorCode};

/// How the form says it is signed, for the access log before (or without) verification: a form
/// whose kind cannot be told counts as SigV4, the scheme S3 documents first.
pub fn form_auth_method(prefix: &FormPrefix) -> AuthMethod {
    match policy::form_signature(prefix) {
        Ok(FormSignature::V2) => AuthMethod::SigV2Form,
        _ => AuthMethod::SigV4Form,
    }
}

/// Verify a form's signature and policy for `bucket` (the URL's). SigV4 forms carry
/// `x-amz-signature`, SigV2 forms `AWSAccessKeyId` and `signature`; both share one policy
/// evaluator. Scopes are not checked here (`auth::authorize` does, after).
pub fn verify_form<K: SigningKeys + sigv2::SigV2Keys>(
    prefix: &FormPrefix,
    bucket: &str,
    keys: &K,
    schemes: Schemes<'_>,
    now: SystemTime,
) -> Result<VerifiedForm, S3Error> {
    match policy::form_signature(prefix)? {
        FormSignature::V4 => policy::verify_sigv4_form(prefix, bucket, keys, schemes.settings, now),
        FormSignature::V2 => {
            if !schemes.sigv2 {
                return Err(auth::sigv2_disabled("the form's policy"));
            }
            verify_sigv2_form(prefix, bucket, keys, now)
        }
    }
}

/// A SigV2 form: the HMAC-SHA1 of the base64 policy, then the same policy evaluation as SigV4
/// (minus the SigV2 signature fields, which need no condition).
fn verify_sigv2_form(
    prefix: &FormPrefix,
    bucket: &str,
    keys: &dyn sigv2::SigV2Keys,
    now: SystemTime,
) -> Result<VerifiedForm, S3Error> {
    policy::reject_repeated_fields(prefix)?;
    // S3 refuses a form without its signature as 400 `InvalidArgument`, the other missing
    // fields as `AccessDenied`, in the same words (ceph/s3-tests
    // test_post_object_missing_signature).
    let missing = |name: &str| {
        let code = match name {
            "signature" => S3ErrorCode::InvalidArgument,
            _ => S3ErrorCode::AccessDenied,
        };
        S3Error::new(
            code,
            format!("Bucket POST must contain a field named '{name}'."),
        )
    };
    let access_key = prefix
        .field("AWSAccessKeyId")
        .ok_or_else(|| missing("AWSAccessKeyId"))?;
    let policy_b64 = prefix.field("policy").ok_or_else(|| missing("policy"))?;
    let signature = prefix
        .field("signature")
        .ok_or_else(|| missing("signature"))?;
    sigv2::verify_post_signature(keys, access_key, policy_b64, signature)?;
    // Only a signed policy reaches the parser and the evaluator.
    let policy = PostPolicy::parse_base64(policy_b64)?;
    policy::evaluate_policy(&policy, prefix, bucket, now, policy::SIGV2_EXEMPT_FIELDS)?;
    policy::form_outcome(&policy, prefix, access_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::{FilePart, FormField};

    struct NoKeys;

    impl sigv2::SigV2Keys for NoKeys {
        fn hmac_sha1(&self, _access_key: &str, _data: &[u8]) -> Option<[u8; 20]> {
            None
        }
    }

    fn sigv2_form(fields: &[(&str, &str)]) -> FormPrefix {
        FormPrefix {
            fields: fields
                .iter()
                .map(|(name, value)| FormField {
                    name: name.to_string(),
                    value: value.to_string(),
                })
                .collect(),
            file: FilePart {
                filename: None,
                content_type: None,
            },
            bytes_before_file: 0,
        }
    }

    #[test]
    fn a_sigv2_form_without_its_signature_is_invalid_argument_the_others_access_denied() {
        let err = verify_sigv2_form(
            &sigv2_form(&[("AWSAccessKeyId", "AKID"), ("policy", "e30=")]),
            "bucket",
            &NoKeys,
            SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        assert_eq!(err.code.http_status(), 400);
        assert_eq!(
            err.message,
            "Bucket POST must contain a field named 'signature'."
        );
        let err = verify_sigv2_form(
            &sigv2_form(&[("AWSAccessKeyId", "AKID"), ("signature", "c2ln")]),
            "bucket",
            &NoKeys,
            SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert_eq!(
            err.message,
            "Bucket POST must contain a field named 'policy'."
        );
    }
}
