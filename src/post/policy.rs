//! POST policy documents: parsing, the form's signature and condition evaluation.
//!
//! Amazon S3 "Browser-based uploads using POST": the form carries a base64 JSON *policy* and a
//! signature of that base64 text. The signature proves the key holder wrote the policy; the policy
//! says which form fields (and which file sizes) the key holder allows. Both must hold before a
//! single file byte goes upstream.
//!
//! Flow for a SigV4 form ([`verify_sigv4_form`]):
//!
//! 1. the signature fields are present and well-formed (`x-amz-algorithm`, `x-amz-credential`,
//!    `x-amz-date`, `x-amz-signature`, `policy`);
//! 2. the credential scope names the `x-amz-date` day, a configured region and `s3`;
//! 3. the access key is known;
//! 4. `x-amz-signature` = hex HMAC-SHA256(signing key, base64 policy *as sent*), compared in
//!    constant time ([`sign_policy_v4`] is the inverse, for the form generator);
//! 5. only then is the policy decoded ([`PostPolicy::parse_base64`]) — unauthenticated clients
//!    never reach the JSON parser — and evaluated ([`evaluate_policy`]): expiration, every
//!    condition, then the coverage rule (every field must be named by a condition);
//! 6. [`form_outcome`] builds what the proxy needs: the key, the headers for the upstream `PUT`,
//!    the size range to enforce while streaming and the answer to give.
//!
//! Steps 5 and 6 do not depend on the signature kind; the SigV2 form verifier calls them after
//! its own signature check. Everything here is pure: no I/O, no clock (`now` is an argument).

use std::collections::HashSet;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;

use super::FormPrefix;
use crate::auth::sigv4::credential::{check_scope, Credential};
use crate::auth::sigv4::date::{unix_seconds_of, utc_unix_seconds, RequestDate};
use crate::auth::sigv4::signing::{signature_hex, signature_is_valid, ALGORITHM};
use crate::auth::sigv4::{AuthKind, SigningKey};
use crate::auth::{AuthSettings, SigningKeys};
use crate::body::claims::IntegrityClaims;
use crate::error::{S3Error, S3ErrorCode};

/// The field carrying the base64 policy document.
pub const POLICY_FIELD: &str = "policy";
/// The field carrying the file (never a text field; always exempt from the coverage rule).
pub const FILE_FIELD: &str = "file";
/// Fields whose names start with this are ignored by S3's coverage rule ("x-ignore-" in the
/// "Creating an HTML form" section: for fields a page needs but the policy should not name).
pub const IGNORED_FIELD_PREFIX: &str = "x-ignore-";
/// The SigV4 form fields.
pub const X_AMZ_ALGORITHM: &str = "x-amz-algorithm";
/// See [`X_AMZ_ALGORITHM`].
pub const X_AMZ_CREDENTIAL: &str = "x-amz-credential";
/// See [`X_AMZ_ALGORITHM`].
pub const X_AMZ_DATE: &str = "x-amz-date";
/// See [`X_AMZ_ALGORITHM`]. Exempt from the coverage rule: a policy cannot name its own signature.
pub const X_AMZ_SIGNATURE: &str = "x-amz-signature";
/// The SigV2 form fields, which a SigV2 caller passes as `exempt` to [`evaluate_policy`]
/// (S3 does not require a policy to name them).
pub const SIGV2_EXEMPT_FIELDS: &[&str] = &["awsaccesskeyid", "signature"];
/// Form fields that S3 turns into headers of the stored object (besides `x-amz-meta-*`).
pub const UPSTREAM_HEADER_FIELDS: &[&str] = &[
    "content-type",
    "cache-control",
    "content-disposition",
    "expires",
    "content-encoding",
];
/// The placeholder in `key` that S3 replaces with the uploaded file's name.
pub const FILENAME_PLACEHOLDER: &str = "${filename}";
/// `success_action_status` when the form does not give a valid one (S3's default).
pub const DEFAULT_SUCCESS_STATUS: u16 = 204;

/// One entry of the policy's `conditions` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `["eq", "$field", "value"]` or the shorthand `{"field": "value"}`: the field's value must
    /// be exactly `value` (an absent field counts as the empty string). `field` is lower-case,
    /// without the `$`, because form field names are case-insensitive.
    Eq {
        /// Lower-case field name, without `$`.
        field: String,
        /// The exact value required.
        value: String,
    },
    /// `["starts-with", "$field", "prefix"]`: the value must start with `prefix`; `""` allows
    /// any value, including an absent field. For `content-type` every comma-separated value must.
    StartsWith {
        /// Lower-case field name, without `$`.
        field: String,
        /// The required prefix.
        prefix: String,
    },
    /// `["content-length-range", min, max]`: the file's size in bytes, inclusive. Not checked by
    /// [`evaluate_policy`] (the file has not arrived yet); returned in [`VerifiedForm`].
    ContentLengthRange {
        /// Smallest allowed size.
        min: u64,
        /// Largest allowed size.
        max: u64,
    },
}

impl Condition {
    /// The field an `eq` or `starts-with` condition names.
    pub fn field(&self) -> Option<&str> {
        match self {
            Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => Some(field),
            Condition::ContentLengthRange { .. } => None,
        }
    }

    /// Whether `value` (the field's value, `None` when absent) satisfies the condition.
    /// `content-length-range` is always satisfied here.
    fn is_met_by(&self, value: Option<&str>) -> bool {
        match self {
            Condition::Eq { value: wanted, .. } => value.unwrap_or("") == wanted,
            Condition::StartsWith { prefix, .. } if prefix.is_empty() => true,
            Condition::StartsWith { field, prefix } => match value {
                None => false,
                // S3: "If the value is a comma-separated list, each value must satisfy the
                // condition" (`Content-Type` of the condition-matching table).
                Some(value) if field == "content-type" => value
                    .split(',')
                    .all(|part| part.trim_matches(' ').starts_with(prefix.as_str())),
                Some(value) => value.starts_with(prefix.as_str()),
            },
            Condition::ContentLengthRange { .. } => true,
        }
    }

    /// The condition in the array form of the policy language, as S3 quotes it in
    /// "Policy Condition failed: …".
    pub fn to_policy_json(&self) -> String {
        let quote = |s: &str| Value::String(s.to_owned()).to_string();
        match self {
            Condition::Eq { field, value } => {
                format!(
                    "[\"eq\", {}, {}]",
                    quote(&format!("${field}")),
                    quote(value)
                )
            }
            Condition::StartsWith { field, prefix } => format!(
                "[\"starts-with\", {}, {}]",
                quote(&format!("${field}")),
                quote(prefix)
            ),
            Condition::ContentLengthRange { min, max } => {
                format!("[\"content-length-range\", {min}, {max}]")
            }
        }
    }
}

/// A decoded policy document: `{"expiration": "…", "conditions": [ … ]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    /// `expiration` in seconds since the Unix epoch (fractions of a second dropped).
    pub expiration_unix: i64,
    /// The conditions, in document order.
    pub conditions: Vec<Condition>,
}

/// `InvalidPolicyDocument` (400), with S3's "Invalid Policy: " prefix.
fn invalid_policy(detail: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidPolicyDocument,
        format!("Invalid Policy: {detail}"),
    )
}

impl PostPolicy {
    /// Decode the `policy` field: base64, then JSON. Bad base64, bad JSON or a document of the
    /// wrong shape → `InvalidPolicyDocument`.
    ///
    /// ASCII whitespace inside the base64 text is skipped: some generators line-wrap it (Ruby's
    /// `Base64.encode64`, Python's `encodebytes`). That widens nothing: the signature covers the
    /// text exactly as sent.
    pub fn parse_base64(policy_b64: &str) -> Result<PostPolicy, S3Error> {
        let compact: Vec<u8> = policy_b64
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let json = BASE64
            .decode(&compact)
            .map_err(|e| invalid_policy(format_args!("Invalid Base64 Encoding ({e}).")))?;
        PostPolicy::parse_json(&json)
    }

    /// Parse the decoded JSON document. Strict on purpose: the keys are `expiration` and
    /// `conditions`, both required; anything else is refused, so a typo in a policy is an error
    /// the author sees rather than a condition silently not applied.
    pub fn parse_json(json: &[u8]) -> Result<PostPolicy, S3Error> {
        let document: Value = serde_json::from_slice(json)
            .map_err(|e| invalid_policy(format_args!("Invalid JSON ({e}).")))?;
        let Value::Object(document) = document else {
            return Err(invalid_policy("the policy must be a JSON object."));
        };
        if let Some(unknown) = document
            .keys()
            .find(|k| *k != "expiration" && *k != "conditions")
        {
            return Err(invalid_policy(format_args!(
                "Unexpected field {} in the policy; only \"expiration\" and \"conditions\" are \
                 allowed.",
                Value::String(unknown.clone())
            )));
        }
        let expiration = match document.get("expiration") {
            None => return Err(invalid_policy("Policy missing expiration.")),
            Some(Value::String(s)) => s,
            Some(other) => {
                return Err(invalid_policy(format_args!(
                    "Invalid 'expiration' value: {other} is not a string."
                )))
            }
        };
        let expiration_unix = parse_expiration(expiration).ok_or_else(|| {
            invalid_policy(format_args!(
                "Invalid 'expiration' value: '{expiration}'; expecting ISO 8601 UTC such as \
                 2015-12-30T12:00:00.000Z."
            ))
        })?;
        let conditions = match document.get("conditions") {
            None => return Err(invalid_policy("Policy missing conditions.")),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(invalid_policy("'conditions' must be an array.")),
        };
        let mut parsed = Vec::with_capacity(conditions.len());
        for item in conditions {
            parse_condition(item, &mut parsed)?;
        }
        Ok(PostPolicy {
            expiration_unix,
            conditions: parsed,
        })
    }

    /// The intersection of every `content-length-range` (S3 checks each one, so the file must
    /// satisfy all). `None` without any. The intersection may be empty (`min > max`): then no
    /// size passes, which the streaming check reports as too small or too large, as S3 would.
    pub fn content_length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().fold(None, |acc, c| match c {
            Condition::ContentLengthRange { min, max } => Some(match acc {
                None => (*min, *max),
                Some((lo, hi)) => (lo.max(*min), hi.min(*max)),
            }),
            _ => acc,
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` → Unix seconds. The policy language asks for "ISO 8601
/// UTC"; every SDK writes this form, with or without milliseconds.
fn parse_expiration(value: &str) -> Option<i64> {
    let bytes = value.as_bytes();
    if bytes.len() < 20 || bytes[bytes.len() - 1] != b'Z' {
        return None;
    }
    let separators_ok = bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':';
    if !separators_ok {
        return None;
    }
    // Between the seconds and the `Z`: nothing, or `.` and 1 to 9 digits.
    let fraction = &bytes[19..bytes.len() - 1];
    if let Some((b'.', digits)) = fraction.split_first() {
        if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
    } else if !fraction.is_empty() {
        return None;
    }
    utc_unix_seconds(bytes, [0..4, 5..7, 8..10, 11..13, 14..16, 17..19])
}

/// One entry of `conditions`: an object of `"field": "value"` pairs (each an exact match) or an
/// array `[operator, …]`. The pairs of one object are taken in the JSON map's order (sorted by
/// name); that only decides which failing condition an error names first.
fn parse_condition(item: &Value, out: &mut Vec<Condition>) -> Result<(), S3Error> {
    match item {
        Value::Object(pairs) => {
            if pairs.is_empty() {
                return Err(invalid_policy("Empty condition object {}."));
            }
            for (field, value) in pairs {
                let Value::String(value) = value else {
                    return Err(invalid_policy(format_args!(
                        "Condition {item} must have a string value."
                    )));
                };
                if field.is_empty() {
                    return Err(invalid_policy(format_args!(
                        "Condition {item} names no field."
                    )));
                }
                out.push(Condition::Eq {
                    field: field.to_ascii_lowercase(),
                    value: value.clone(),
                });
            }
            Ok(())
        }
        Value::Array(parts) => {
            out.push(parse_array_condition(item, parts)?);
            Ok(())
        }
        other => Err(invalid_policy(format_args!(
            "Condition {other} must be an object or an array."
        ))),
    }
}

fn parse_array_condition(item: &Value, parts: &[Value]) -> Result<Condition, S3Error> {
    let [Value::String(operator), first, second] = parts else {
        return Err(invalid_policy(format_args!(
            "Condition {item} must have three elements, the first a string operator."
        )));
    };
    let operator = operator.to_ascii_lowercase();
    if operator == "content-length-range" {
        let (Some(min), Some(max)) = (length_bound(first), length_bound(second)) else {
            return Err(invalid_policy(format_args!(
                "Condition {item}: the bounds must be non-negative integers."
            )));
        };
        if min > max {
            return Err(invalid_policy(format_args!(
                "Condition {item}: the minimum is larger than the maximum."
            )));
        }
        return Ok(Condition::ContentLengthRange { min, max });
    }
    let (Value::String(field), Value::String(value)) = (first, second) else {
        return Err(invalid_policy(format_args!(
            "Condition {item}: the field and the value must be strings."
        )));
    };
    let field = match field.strip_prefix('$') {
        Some(name) if !name.is_empty() => name.to_ascii_lowercase(),
        _ => {
            return Err(invalid_policy(format_args!(
                "Condition {item}: the field must be written \"$name\"."
            )))
        }
    };
    let value = value.clone();
    match operator.as_str() {
        "eq" => Ok(Condition::Eq { field, value }),
        "starts-with" => Ok(Condition::StartsWith {
            field,
            prefix: value,
        }),
        _ => Err(invalid_policy(format_args!(
            "Condition {item}: unknown operator; expecting \"eq\", \"starts-with\" or \
             \"content-length-range\"."
        ))),
    }
}

/// A `content-length-range` bound: a JSON integer ≥ 0 or a string of decimal digits (S3's own
/// examples write numbers; several SDKs write strings).
fn length_bound(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// Which signature a form carries. `#[non_exhaustive]` for whatever comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormSignature {
    /// `x-amz-algorithm`, `x-amz-credential`, `x-amz-date`, `x-amz-signature`.
    V4,
    /// `AWSAccessKeyId` and `signature` (HMAC-SHA1 of the base64 policy).
    V2,
}

/// Decide which verifier a form goes to. Fields of both kinds → `InvalidArgument` (which one
/// would authorise the upload?); neither → `AccessDenied`: this proxy never accepts an
/// anonymous POST, even one without a policy.
pub fn form_signature(prefix: &FormPrefix) -> Result<FormSignature, S3Error> {
    let v4 = [X_AMZ_ALGORITHM, X_AMZ_CREDENTIAL, X_AMZ_SIGNATURE]
        .iter()
        .any(|f| prefix.field(f).is_some());
    let v2 = SIGV2_EXEMPT_FIELDS
        .iter()
        .any(|f| prefix.field(f).is_some());
    match (v4, v2) {
        (true, true) => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Only one auth mechanism allowed; the form carries both SigV4 (x-amz-signature) and \
             SigV2 (AWSAccessKeyId, signature) fields",
        )),
        (true, false) => Ok(FormSignature::V4),
        (false, true) => Ok(FormSignature::V2),
        (false, false) => Err(S3Error::new(
            S3ErrorCode::AccessDenied,
            "Anonymous POST uploads are not allowed: the form must carry a policy and its \
             signature",
        )),
    }
}

/// What the proxy needs once a form has passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedForm {
    /// The access key that signed the policy (for the proxy's `allow` check).
    pub access_key: String,
    /// The object key: the `key` field with `${filename}` replaced.
    pub key: String,
    /// Headers for the upstream `PUT`, names lower-case, in form order: `x-amz-meta-*`,
    /// `content-type`, `cache-control`, `content-disposition`, `expires`, `content-encoding`.
    pub upstream_headers: Vec<(String, String)>,
    /// The file size allowed, inclusive (intersection of every `content-length-range`); the
    /// proxy enforces it while streaming. May be empty (`min > max`): then every size fails.
    pub content_length_range: Option<(u64, u64)>,
    /// What the form's `Content-MD5`, `x-amz-checksum-*` (and `x-amz-sdk-checksum-algorithm`)
    /// fields claim about the file: checked against it before its last byte goes upstream.
    pub integrity: IntegrityClaims,
    /// What to answer after a successful upload.
    pub success: SuccessAction,
}

/// The answer to a successful POST upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuccessAction {
    /// `303 See Other` to this URL (S3 appends `bucket`, `key` and `etag` to its query).
    Redirect(String),
    /// An empty 204, a 200, or a 201 with the `PostResponse` XML document.
    Status(u16),
}

/// A SigV4 field missing: `AccessDenied` naming it, except the signature itself, which S3
/// refuses as 400 `InvalidArgument` in the same words (ceph/s3-tests
/// `test_post_object_missing_signature`). Fields after the file are ignored, so a field sent
/// there is as good as missing; S3's message says so.
fn missing_field(name: &str) -> S3Error {
    let code = match name.eq_ignore_ascii_case(X_AMZ_SIGNATURE) {
        true => S3ErrorCode::InvalidArgument,
        false => S3ErrorCode::AccessDenied,
    };
    S3Error::new(
        code,
        format!(
            "Bucket POST must contain a field named '{name}'. If it is specified, please check \
             the order of the fields."
        ),
    )
}

/// The SigV4 fields of a form, each checked for shape.
struct SigV4Fields<'a> {
    credential: Credential,
    date: RequestDate,
    signature: &'a str,
    policy: &'a str,
}

impl<'a> SigV4Fields<'a> {
    /// Presence first (each missing field → `AccessDenied` naming it), then shape. Malformed
    /// fields get the presigned-URL errors (`AuthorizationQueryParametersError` naming
    /// `X-Amz-<field>`): the form fields have the same names and the same formats.
    fn parse(prefix: &'a FormPrefix) -> Result<SigV4Fields<'a>, S3Error> {
        let get = |name: &str| prefix.field(name).ok_or_else(|| missing_field(name));
        let policy = get(POLICY_FIELD)?;
        let algorithm = get(X_AMZ_ALGORITHM)?;
        let credential = get(X_AMZ_CREDENTIAL)?;
        let date = get(X_AMZ_DATE)?;
        let signature = get(X_AMZ_SIGNATURE)?;
        let kind = AuthKind::Presigned;
        if algorithm != ALGORITHM {
            return Err(kind.malformed(
                "Algorithm",
                format!("the algorithm '{algorithm}' is not supported; expecting '{ALGORITHM}'."),
            ));
        }
        let credential = Credential::parse(credential, kind)?;
        let date = RequestDate::parse_amz(date).ok_or_else(|| {
            kind.malformed(
                "Date",
                "the date must be in ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'.",
            )
        })?;
        let signature_ok = signature.len() == 64
            && signature
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !signature_ok {
            return Err(kind.malformed(
                "Signature",
                "the signature must be 64 lower-case hexadecimal digits.",
            ));
        }
        Ok(SigV4Fields {
            credential,
            date,
            signature,
            policy,
        })
    }
}

/// `hex(HMAC-SHA256(signing key, policy_b64))`: the SigV4 signature of a POST policy. The string
/// to sign is the base64 text itself, not the JSON and not a canonical request ("Calculating a
/// signature" in the POST section of the SigV4 documentation).
pub fn sign_policy_v4(signing_key: &SigningKey, policy_b64: &str) -> String {
    signature_hex(signing_key, policy_b64)
}

/// Verify a SigV4 form (fields `x-amz-algorithm` = `AWS4-HMAC-SHA256`, `x-amz-credential`,
/// `x-amz-date`, `x-amz-signature`, `policy`; `x-amz-security-token` is not checked here, but
/// like every field it must be named by the policy). Checks in order:
///
/// 1. no field is sent twice ([`reject_repeated_fields`]);
/// 2. required fields present (`AccessDenied` naming the first missing) and well-formed;
/// 3. the scope: day of `x-amz-date`, a configured region, service `s3`. There is no clock-skew
///    check: a form is made to be filled in later, and the policy's `expiration` bounds it;
/// 4. the access key is known (`InvalidAccessKeyId`);
/// 5. the signature over the base64 policy as sent, in constant time (`SignatureDoesNotMatch`
///    whose string to sign is that base64 text);
/// 6. the policy: decoded only now, so unauthenticated input never reaches the JSON parser, and
///    evaluated by [`evaluate_policy`];
/// 7. [`form_outcome`].
pub fn verify_sigv4_form(
    prefix: &FormPrefix,
    bucket: &str,
    keys: &dyn SigningKeys,
    settings: &AuthSettings,
    now: SystemTime,
) -> Result<VerifiedForm, S3Error> {
    reject_repeated_fields(prefix)?;
    let fields = SigV4Fields::parse(prefix)?;
    let scope = &fields.credential.scope;
    check_scope(scope, &fields.date, settings, AuthKind::Presigned)?;
    let signing_key = crate::auth::sigv4::signing_key_of(keys, &fields.credential)?;
    // The string to sign of a form is the base64 policy itself (see `sign_policy_v4`).
    if !signature_is_valid(&signing_key, fields.policy, fields.signature) {
        return Err(S3Error::signature_mismatch(
            fields.policy.to_owned(),
            String::new(),
        ));
    }
    let policy = PostPolicy::parse_base64(fields.policy)?;
    evaluate_policy(&policy, prefix, bucket, now, &[])?;
    form_outcome(&policy, prefix, &fields.credential.access_key)
}

/// A field sent twice → `InvalidArgument`. The conditions, the signature check and the headers
/// sent upstream must all read the same value; with two, one check could read one and the
/// upload use the other.
pub fn reject_repeated_fields(prefix: &FormPrefix) -> Result<(), S3Error> {
    let mut seen = HashSet::with_capacity(prefix.fields.len());
    for field in &prefix.fields {
        if !seen.insert(field.name.to_ascii_lowercase()) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("The form field '{}' appears more than once.", field.name),
            ));
        }
    }
    Ok(())
}

/// `AccessDenied` "Invalid according to Policy: …", S3's wording for every policy refusal.
fn policy_refusal(detail: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        S3ErrorCode::AccessDenied,
        format!("Invalid according to Policy: {detail}"),
    )
}

/// The value a condition on `field` (lower-case) is compared with. `bucket` is the bucket of the
/// URL: that is where the object goes, whatever a `bucket` field says. `key` is the key after
/// `${filename}` substitution: the policy constrains the object actually written.
fn condition_subject(
    prefix: &FormPrefix,
    bucket: &str,
    key: Option<&str>,
    field: &str,
) -> Option<String> {
    match field {
        "bucket" => Some(bucket.to_owned()),
        "key" => key.map(str::to_owned),
        _ => prefix.field(field).map(str::to_owned),
    }
}

/// Evaluate a (signature-checked) policy against the form. Shared by SigV4 and SigV2 forms.
///
/// 1. Expiration: `now` after `expiration` → `AccessDenied` "Policy expired.".
/// 2. Every `eq` / `starts-with` condition, in document order; the first that fails →
///    `AccessDenied` quoting it. Field names compare case-insensitively.
/// 3. Coverage: every field except `policy`, `x-amz-signature`, `file`, `x-ignore-*` and the
///    `exempt` names (lower-case; the SigV2 caller passes [`SIGV2_EXEMPT_FIELDS`]) must be named
///    by an `eq` or `starts-with` condition, else `AccessDenied` "Extra input fields: …". This is
///    what stops a holder of a form from adding, say, `x-amz-meta-*` or `Content-Type` fields
///    the signer never approved.
///
/// `content-length-range` is not checked here: the file streams later (see [`VerifiedForm`]).
pub fn evaluate_policy(
    policy: &PostPolicy,
    prefix: &FormPrefix,
    bucket: &str,
    now: SystemTime,
    exempt: &[&str],
) -> Result<(), S3Error> {
    reject_repeated_fields(prefix)?;
    if unix_seconds_of(now) > i128::from(policy.expiration_unix) {
        return Err(policy_refusal("Policy expired."));
    }
    let key = substituted_key(prefix);
    for condition in &policy.conditions {
        let Some(field) = condition.field() else {
            continue;
        };
        let subject = condition_subject(prefix, bucket, key.as_deref(), field);
        if !condition.is_met_by(subject.as_deref()) {
            return Err(policy_refusal(format_args!(
                "Policy Condition failed: {}",
                condition.to_policy_json()
            )));
        }
    }
    let uncovered: Vec<&str> = prefix
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .filter(|name| {
            let lower = name.to_ascii_lowercase();
            let always_exempt = [POLICY_FIELD, X_AMZ_SIGNATURE, FILE_FIELD]
                .contains(&lower.as_str())
                || lower.starts_with(IGNORED_FIELD_PREFIX)
                || exempt.iter().any(|e| e.eq_ignore_ascii_case(&lower));
            !always_exempt && !policy.conditions.iter().any(|c| c.field() == Some(&lower))
        })
        .collect();
    if !uncovered.is_empty() {
        return Err(policy_refusal(format_args!(
            "Extra input fields: {}",
            uncovered.join(", ")
        )));
    }
    Ok(())
}

/// The file's name as `${filename}` uses it: its last path component, because old Internet
/// Explorer versions sent the full client path (`C:\Users\me\photo.jpg`). Empty when the file
/// part has no `filename`.
fn file_basename(prefix: &FormPrefix) -> &str {
    let name = prefix.file.filename.as_deref().unwrap_or("");
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

/// The `key` field with every `${filename}` replaced; `None` without a `key` field.
fn substituted_key(prefix: &FormPrefix) -> Option<String> {
    let key = prefix.field("key")?;
    Some(key.replace(FILENAME_PLACEHOLDER, file_basename(prefix)))
}

/// Build the [`VerifiedForm`] parts that do not depend on the signature kind. Call it only after
/// the signature and [`evaluate_policy`] passed: it checks nothing of the policy but the
/// content-length ranges it copies.
///
/// - `key` is required (`InvalidArgument`, S3's message); `${filename}` is replaced by the file's
///   base name; an empty result → `InvalidArgument`.
/// - Header fields become upstream headers (lower-case names). A name that is not an HTTP token
///   or a value with control characters (CR, LF, NUL…) → `InvalidArgument`: they would split or
///   corrupt the upstream request head. The file part's own `Content-Type` is not forwarded:
///   a policy can only constrain the `Content-Type` field, so a type the signer never approved
///   must not reach the object.
/// - `Content-MD5` and `x-amz-checksum-*` fields are the file's integrity claims
///   ([`IntegrityClaims::from_fields`]: one checksum algorithm, a known one, well-formed
///   values; `InvalidDigest` / `InvalidRequest` otherwise). The policy must allow them like any
///   field; the proxy checks them against the file.
/// - `success_action_redirect` (or the legacy `redirect`) when it is an `http(s)` URL of visible
///   ASCII, else `success_action_status` 200 / 201 / 204; anything else → 204. S3 ignores an
///   invalid redirect or status the same way.
pub fn form_outcome(
    policy: &PostPolicy,
    prefix: &FormPrefix,
    access_key: &str,
) -> Result<VerifiedForm, S3Error> {
    let key = substituted_key(prefix).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the \
             order of the fields.",
        )
    })?;
    if key.is_empty() {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "User key must have a length greater than 0.",
        ));
    }
    Ok(VerifiedForm {
        access_key: access_key.to_owned(),
        key,
        upstream_headers: upstream_headers(prefix)?,
        content_length_range: policy.content_length_range(),
        integrity: IntegrityClaims::from_fields(
            prefix
                .fields
                .iter()
                .map(|f| (f.name.as_str(), f.value.as_bytes())),
        )?,
        success: success_action(prefix),
    })
}

fn upstream_headers(prefix: &FormPrefix) -> Result<Vec<(String, String)>, S3Error> {
    let mut headers = Vec::new();
    for field in &prefix.fields {
        let name = field.name.to_ascii_lowercase();
        if !name.starts_with("x-amz-meta-") && !UPSTREAM_HEADER_FIELDS.contains(&name.as_str()) {
            continue;
        }
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() || name == "x-amz-meta-" {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!(
                    "The form field name '{}' is not a valid header name.",
                    field.name
                ),
            ));
        }
        if http::HeaderValue::from_bytes(field.value.as_bytes()).is_err() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!(
                    "The value of the form field '{}' contains characters not allowed in a \
                     header.",
                    field.name
                ),
            ));
        }
        headers.push((name, field.value.clone()));
    }
    Ok(headers)
}

fn success_action(prefix: &FormPrefix) -> SuccessAction {
    let usable_url = |url: &&str| {
        let lower = url.to_ascii_lowercase();
        (lower.starts_with("http://") || lower.starts_with("https://"))
            && url.bytes().all(|b| b.is_ascii_graphic())
    };
    let redirect = prefix
        .field("success_action_redirect")
        .filter(usable_url)
        .or_else(|| prefix.field("redirect").filter(usable_url));
    if let Some(url) = redirect {
        return SuccessAction::Redirect(url.to_owned());
    }
    let status = match prefix.field("success_action_status") {
        Some("200") => 200,
        Some("201") => 201,
        _ => DEFAULT_SUCCESS_STATUS,
    };
    SuccessAction::Status(status)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::auth::sigv4::signing::derive_signing_key;
    use crate::auth::test_settings as settings;
    use crate::post::{FilePart, FormField};

    const VECTORS: &str = include_str!("../../../shared/vectors/s3-doc-examples.json");

    /// 2015-12-30T12:00:00Z, the expiration of the AWS example policy.
    const DOC_EXPIRATION_UNIX: u64 = 1_451_476_800;

    fn vectors() -> Value {
        serde_json::from_str(VECTORS).expect("the vector file is JSON")
    }

    fn text(v: &Value, key: &str) -> String {
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("vector key {key} is a string"))
            .to_owned()
    }

    /// A key store that knows one access key and derives its signing keys from the secret.
    struct TestKeys {
        access_key: String,
        secret: String,
    }

    impl TestKeys {
        fn from_vectors() -> TestKeys {
            let v = vectors();
            TestKeys {
                access_key: text(&v["credentials"], "access_key_id"),
                secret: text(&v["credentials"], "secret_access_key"),
            }
        }
    }

    impl SigningKeys for TestKeys {
        fn signing_key(
            &self,
            access_key: &str,
            date: &str,
            region: &str,
            service: &str,
        ) -> Option<SigningKey> {
            (access_key == self.access_key)
                .then(|| derive_signing_key(&self.secret, date, region, service))
        }
    }

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    /// A moment the doc policy is valid: the day it was signed, noon.
    fn doc_now() -> SystemTime {
        at(DOC_EXPIRATION_UNIX - 86_400)
    }

    fn form(fields: &[(&str, &str)], filename: Option<&str>) -> FormPrefix {
        FormPrefix {
            fields: fields
                .iter()
                .map(|(name, value)| FormField {
                    name: (*name).to_owned(),
                    value: (*value).to_owned(),
                })
                .collect(),
            file: FilePart {
                filename: filename.map(str::to_owned),
                content_type: None,
            },
            bytes_before_file: 0,
        }
    }

    /// The form of the AWS example, placeholders filled from the vector, file "photo.jpg".
    fn doc_form() -> FormPrefix {
        let v = &vectors()["post_policy"];
        let policy = text(v, "policy_base64");
        let signature = text(v, "expected_signature");
        let fields: Vec<(String, String)> = v["form_fields"]
            .as_object()
            .expect("form_fields is an object")
            .iter()
            .map(|(name, value)| {
                let value = value.as_str().expect("field values are strings");
                let value = match value {
                    "<policy_base64>" => policy.clone(),
                    "<expected_signature>" => signature.clone(),
                    other => other.to_owned(),
                };
                (name.clone(), value)
            })
            .collect();
        let borrowed: Vec<(&str, &str)> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        form(&borrowed, Some("photo.jpg"))
    }

    fn doc_bucket() -> String {
        text(&vectors()["post_policy"], "bucket")
    }

    fn set_field(prefix: &mut FormPrefix, name: &str, value: &str) {
        let field = prefix
            .fields
            .iter_mut()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("the form has {name}"));
        field.value = value.to_owned();
    }

    fn remove_field(prefix: &mut FormPrefix, name: &str) {
        prefix.fields.retain(|f| !f.name.eq_ignore_ascii_case(name));
    }

    fn verify_doc(prefix: &FormPrefix) -> Result<VerifiedForm, S3Error> {
        verify_sigv4_form(
            prefix,
            &doc_bucket(),
            &TestKeys::from_vectors(),
            &settings(),
            doc_now(),
        )
    }

    /// Flip one character of a field's value to another of the same alphabet.
    fn tamper(value: &str, index: usize) -> String {
        let mut bytes = value.as_bytes().to_vec();
        bytes[index] = if bytes[index] == b'a' { b'b' } else { b'a' };
        String::from_utf8(bytes).expect("ASCII")
    }

    // ---- the AWS documentation example ----

    #[test]
    fn doc_policy_parses_with_its_eleven_conditions() {
        let policy = PostPolicy::parse_base64(&text(&vectors()["post_policy"], "policy_base64"))
            .expect("the doc policy parses");
        assert_eq!(policy.expiration_unix, DOC_EXPIRATION_UNIX as i64);
        assert_eq!(policy.conditions.len(), 11);
        assert_eq!(
            policy.conditions[0],
            Condition::Eq {
                field: "bucket".into(),
                value: "sigv4examplebucket".into()
            }
        );
        assert_eq!(
            policy.conditions[4],
            Condition::StartsWith {
                field: "content-type".into(),
                prefix: "image/".into()
            }
        );
        assert_eq!(policy.content_length_range(), None);
        // The base64 text decodes to the CRLF JSON of the vector.
        let json =
            PostPolicy::parse_json(text(&vectors()["post_policy"], "policy_json_crlf").as_bytes())
                .expect("the JSON parses");
        assert_eq!(json, policy);
    }

    #[test]
    fn doc_policy_signature_matches_the_documented_one() {
        let v = vectors();
        let p = &v["post_policy"];
        let credential = Credential::parse(&text(p, "credential"), AuthKind::Presigned).unwrap();
        let key = derive_signing_key(
            &text(&v["credentials"], "secret_access_key"),
            &credential.scope.date,
            &credential.scope.region,
            &credential.scope.service,
        );
        assert_eq!(
            sign_policy_v4(&key, &text(p, "policy_base64")),
            text(p, "expected_signature")
        );
    }

    #[test]
    fn doc_form_verifies() {
        let verified = verify_doc(&doc_form()).expect("the doc form verifies");
        assert_eq!(verified.access_key, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(verified.key, "user/user1/photo.jpg");
        let mut headers = verified.upstream_headers.clone();
        headers.sort();
        assert_eq!(
            headers,
            vec![
                ("content-type".to_owned(), "image/jpeg".to_owned()),
                ("x-amz-meta-tag".to_owned(), String::new()),
                ("x-amz-meta-uuid".to_owned(), "14365123651274".to_owned()),
            ]
        );
        assert_eq!(verified.content_length_range, None);
        assert_eq!(
            verified.success,
            SuccessAction::Redirect(
                "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html".into()
            )
        );
    }

    #[test]
    fn doc_form_with_one_policy_byte_changed_is_a_signature_mismatch() {
        let original = doc_form();
        let policy = original.field("policy").unwrap().to_owned();
        for index in [0, policy.len() / 2, policy.len() - 2] {
            let mut prefix = original.clone();
            let tampered = tamper(&policy, index);
            set_field(&mut prefix, "policy", &tampered);
            let err = verify_doc(&prefix).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch, "{index}");
            assert_eq!(err.string_to_sign.as_deref(), Some(tampered.as_str()));
        }
    }

    #[test]
    fn doc_form_with_one_signature_digit_changed_is_a_signature_mismatch() {
        let original = doc_form();
        let signature = original.field("x-amz-signature").unwrap().to_owned();
        for index in [0, 31, 63] {
            let mut prefix = original.clone();
            set_field(&mut prefix, "x-amz-signature", &tamper(&signature, index));
            let err = verify_doc(&prefix).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::SignatureDoesNotMatch);
            assert_eq!(err.code.http_status(), 403);
        }
    }

    #[test]
    fn doc_form_after_expiration_is_refused() {
        let err = verify_sigv4_form(
            &doc_form(),
            &doc_bucket(),
            &TestKeys::from_vectors(),
            &settings(),
            at(DOC_EXPIRATION_UNIX + 1),
        )
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert_eq!(err.message, "Invalid according to Policy: Policy expired.");
        // At the second of expiration it is still valid.
        assert!(verify_sigv4_form(
            &doc_form(),
            &doc_bucket(),
            &TestKeys::from_vectors(),
            &settings(),
            at(DOC_EXPIRATION_UNIX),
        )
        .is_ok());
    }

    #[test]
    fn doc_form_to_another_bucket_fails_the_bucket_condition() {
        let err = verify_sigv4_form(
            &doc_form(),
            "otherbucket",
            &TestKeys::from_vectors(),
            &settings(),
            doc_now(),
        )
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert_eq!(
            err.message,
            "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$bucket\", \
             \"sigv4examplebucket\"]"
        );
    }

    #[test]
    fn doc_form_with_an_added_field_is_refused_and_x_ignore_is_not() {
        let mut prefix = doc_form();
        prefix.fields.push(FormField {
            name: "x-amz-meta-extra".into(),
            value: "1".into(),
        });
        let err = verify_doc(&prefix).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert_eq!(
            err.message,
            "Invalid according to Policy: Extra input fields: x-amz-meta-extra"
        );

        let mut prefix = doc_form();
        prefix.fields.push(FormField {
            name: "X-Ignore-Tracking".into(),
            value: "1".into(),
        });
        assert!(verify_doc(&prefix).is_ok());
    }

    // ---- the SigV4 fields ----

    #[test]
    fn each_missing_signature_field_is_refused_naming_it() {
        for (name, code) in [
            ("policy", S3ErrorCode::AccessDenied),
            ("x-amz-algorithm", S3ErrorCode::AccessDenied),
            ("x-amz-credential", S3ErrorCode::AccessDenied),
            ("x-amz-date", S3ErrorCode::AccessDenied),
            // S3 answers 400 for the signature (ceph/s3-tests test_post_object_missing_signature).
            ("x-amz-signature", S3ErrorCode::InvalidArgument),
        ] {
            let mut prefix = doc_form();
            remove_field(&mut prefix, name);
            let err = verify_doc(&prefix).unwrap_err();
            assert_eq!(err.code, code, "{name}");
            assert!(
                err.message.contains(&format!("named '{name}'")),
                "{name}: {}",
                err.message
            );
        }
    }

    #[test]
    fn bad_algorithm_is_refused() {
        for algorithm in [
            "AWS4-HMAC-SHA1",
            "aws4-hmac-sha256",
            "",
            "AWS4-ECDSA-P256-SHA256",
        ] {
            let mut prefix = doc_form();
            set_field(&mut prefix, "x-amz-algorithm", algorithm);
            let err = verify_doc(&prefix).unwrap_err();
            assert_eq!(
                err.code,
                S3ErrorCode::AuthorizationQueryParametersError,
                "{algorithm:?}"
            );
            assert!(err.message.contains("X-Amz-Algorithm"), "{}", err.message);
        }
    }

    #[test]
    fn malformed_credential_date_or_signature_is_refused() {
        let cases = [
            (
                "x-amz-credential",
                "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3",
                "X-Amz-Credential",
            ),
            ("x-amz-date", "2015-12-29T00:00:00Z", "X-Amz-Date"),
            ("x-amz-date", "20151229T000000", "X-Amz-Date"),
            (
                "x-amz-signature",
                "8AFDBF4008C03F22C2CD3CDB72E4AFBB1F6A588F3255AC628749A66D7F09699E",
                "X-Amz-Signature",
            ),
            ("x-amz-signature", "8afdbf40", "X-Amz-Signature"),
            ("x-amz-signature", "", "X-Amz-Signature"),
        ];
        for (name, value, named) in cases {
            let mut prefix = doc_form();
            set_field(&mut prefix, name, value);
            let err = verify_doc(&prefix).unwrap_err();
            assert_eq!(
                err.code,
                S3ErrorCode::AuthorizationQueryParametersError,
                "{value}"
            );
            assert!(err.message.contains(named), "{}", err.message);
        }
    }

    #[test]
    fn scope_with_another_day_region_or_service_is_refused() {
        let cases = [
            (
                "AKIAIOSFODNN7EXAMPLE/20151230/us-east-1/s3/aws4_request",
                "20151230",
            ),
            (
                "AKIAIOSFODNN7EXAMPLE/20151229/eu-west-1/s3/aws4_request",
                "eu-west-1",
            ),
            (
                "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/iam/aws4_request",
                "iam",
            ),
        ];
        for (credential, named) in cases {
            let mut prefix = doc_form();
            set_field(&mut prefix, "x-amz-credential", credential);
            let err = verify_doc(&prefix).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::AuthorizationQueryParametersError);
            assert!(err.message.contains(named), "{}", err.message);
        }
        // The date field disagreeing with the credential's day: same error.
        let mut prefix = doc_form();
        set_field(&mut prefix, "x-amz-date", "20151228T000000Z");
        let err = verify_doc(&prefix).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AuthorizationQueryParametersError);
        assert!(err.message.contains("20151229"), "{}", err.message);
    }

    #[test]
    fn unknown_access_key_is_invalid_access_key_id() {
        let mut prefix = doc_form();
        set_field(
            &mut prefix,
            "x-amz-credential",
            "AKIDUNKNOWN/20151229/us-east-1/s3/aws4_request",
        );
        let err = verify_doc(&prefix).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidAccessKeyId);
        assert_eq!(err.code.http_status(), 403);
    }

    #[test]
    fn a_repeated_field_is_refused_before_anything_else() {
        let mut prefix = doc_form();
        prefix.fields.push(FormField {
            name: "KEY".into(),
            value: "user/user1/other".into(),
        });
        let err = verify_doc(&prefix).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        assert!(err.message.contains("'KEY'"), "{}", err.message);
    }

    #[test]
    fn signature_kind_is_told_by_the_fields() {
        assert_eq!(form_signature(&doc_form()).unwrap(), FormSignature::V4);
        let v2 = form(
            &[
                ("AWSAccessKeyId", "AK"),
                ("Signature", "x"),
                ("policy", "e30="),
            ],
            None,
        );
        assert_eq!(form_signature(&v2).unwrap(), FormSignature::V2);
        let mut both = doc_form();
        both.fields.push(FormField {
            name: "AWSAccessKeyId".into(),
            value: "AK".into(),
        });
        assert_eq!(
            form_signature(&both).unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
        let anonymous = form(&[("key", "k"), ("policy", "e30=")], None);
        assert_eq!(
            form_signature(&anonymous).unwrap_err().code,
            S3ErrorCode::AccessDenied
        );
    }

    /// Sign an arbitrary policy with the vector's credential: a whole verify run on our own forms.
    #[test]
    fn a_policy_of_our_own_verifies_end_to_end() {
        let keys = TestKeys::from_vectors();
        let json = r#"{"expiration": "2015-12-30T12:00:00Z", "conditions": [
            ["eq", "$bucket", "b"], ["starts-with", "$key", "in/"],
            ["content-length-range", 1, "1048576"], ["content-length-range", "10", 2000000],
            {"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-date": "20151229T000000Z"},
            ["starts-with", "$x-amz-credential", "AKIAIOSFODNN7EXAMPLE/"],
            {"success_action_status": "201"}]}"#;
        let policy_b64 = BASE64.encode(json);
        let key = keys
            .signing_key("AKIAIOSFODNN7EXAMPLE", "20151229", "us-east-1", "s3")
            .unwrap();
        let signature = sign_policy_v4(&key, &policy_b64);
        let prefix = form(
            &[
                ("Key", "in/${filename}"),
                ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                (
                    "X-Amz-Credential",
                    "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request",
                ),
                ("X-Amz-Date", "20151229T000000Z"),
                ("success_action_status", "201"),
                ("Policy", &policy_b64),
                ("X-Amz-Signature", &signature),
            ],
            Some("C:\\Users\\me\\report.pdf"),
        );
        let verified = verify_sigv4_form(&prefix, "b", &keys, &settings(), doc_now()).unwrap();
        assert_eq!(verified.key, "in/report.pdf");
        assert_eq!(verified.content_length_range, Some((10, 1_048_576)));
        assert_eq!(verified.success, SuccessAction::Status(201));
        assert!(verified.upstream_headers.is_empty());
    }

    // ---- policy documents ----

    fn policy(conditions: &str) -> PostPolicy {
        let json =
            format!(r#"{{"expiration": "2015-12-30T12:00:00.000Z", "conditions": {conditions}}}"#);
        PostPolicy::parse_json(json.as_bytes())
            .unwrap_or_else(|e| panic!("{conditions} parses: {e}"))
    }

    fn invalid(json: &str) -> S3Error {
        let err = PostPolicy::parse_json(json.as_bytes()).expect_err(json);
        assert_eq!(err.code, S3ErrorCode::InvalidPolicyDocument, "{json}");
        assert_eq!(err.code.http_status(), 400);
        assert!(
            err.message.starts_with("Invalid Policy: "),
            "{}",
            err.message
        );
        err
    }

    #[test]
    fn malformed_policy_documents_are_invalid_policy_document() {
        const E: &str = r#""expiration": "2015-12-30T12:00:00Z""#;
        for json in [
            "",
            "not json",
            "[]",
            "\"x\"",
            r#"{"conditions": []}"#,
            &format!("{{{E}}}"),
            &format!(r#"{{{E}, "conditions": {{}}}}"#),
            &format!(r#"{{{E}, "conditions": [], "extra": 1}}"#),
            r#"{"expiration": 1451476800, "conditions": []}"#,
            r#"{"expiration": "2015-12-30", "conditions": []}"#,
            r#"{"expiration": "2015-12-30T12:00:00", "conditions": []}"#,
            r#"{"expiration": "2015-12-30T12:00:00+01:00", "conditions": []}"#,
            r#"{"expiration": "2015-12-30T12:00:00.Z", "conditions": []}"#,
            r#"{"expiration": "2015-12-30 12:00:00Z", "conditions": []}"#,
            r#"{"expiration": "2015-02-30T12:00:00Z", "conditions": []}"#,
            r#"{"expiration": "2015-12-30T24:00:00Z", "conditions": []}"#,
            r#"{"expiration": "2015-12-30T12:00:00.0000000000Z", "conditions": []}"#,
            &format!(r#"{{{E}, "conditions": ["eq"]}}"#),
            &format!(r#"{{{E}, "conditions": [1]}}"#),
            &format!(r#"{{{E}, "conditions": [{{}}]}}"#),
            &format!(r#"{{{E}, "conditions": [{{"acl": 1}}]}}"#),
            &format!(r#"{{{E}, "conditions": [{{"": "x"}}]}}"#),
            &format!(r#"{{{E}, "conditions": [["eq", "$key"]]}}"#),
            &format!(r#"{{{E}, "conditions": [["eq", "$key", "a", "b"]]}}"#),
            &format!(r#"{{{E}, "conditions": [["eq", "key", "a"]]}}"#),
            &format!(r#"{{{E}, "conditions": [["eq", "$", "a"]]}}"#),
            &format!(r#"{{{E}, "conditions": [["eq", "$key", 1]]}}"#),
            &format!(r#"{{{E}, "conditions": [["eq", 1, "a"]]}}"#),
            &format!(r#"{{{E}, "conditions": [[1, "$key", "a"]]}}"#),
            &format!(r#"{{{E}, "conditions": [["ends-with", "$key", "a"]]}}"#),
            &format!(r#"{{{E}, "conditions": [["content-length-range", 10, 1]]}}"#),
            &format!(r#"{{{E}, "conditions": [["content-length-range", -1, 10]]}}"#),
            &format!(r#"{{{E}, "conditions": [["content-length-range", 1.5, 10]]}}"#),
            &format!(r#"{{{E}, "conditions": [["content-length-range", "1e3", 10]]}}"#),
            &format!(r#"{{{E}, "conditions": [["content-length-range", "", 10]]}}"#),
            &format!(r#"{{{E}, "conditions": [["content-length-range", 0]]}}"#),
        ] {
            invalid(json);
        }
    }

    #[test]
    fn bad_base64_is_invalid_policy_document() {
        for b64 in ["!!!!", "e30", "e3=0", "eyJ"] {
            let err = PostPolicy::parse_base64(b64).expect_err(b64);
            assert_eq!(err.code, S3ErrorCode::InvalidPolicyDocument, "{b64}");
        }
        // Valid base64 of something that is not a policy.
        let err = PostPolicy::parse_base64(&BASE64.encode("{}")).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidPolicyDocument);
    }

    #[test]
    fn line_wrapped_base64_is_decoded() {
        let json = r#"{"expiration": "2015-12-30T12:00:00Z", "conditions": [{"acl": "private"}]}"#;
        let b64 = BASE64.encode(json);
        let wrapped = format!("{}\n{}\r\n", &b64[..20], &b64[20..]);
        assert_eq!(
            PostPolicy::parse_base64(&wrapped).unwrap(),
            PostPolicy::parse_base64(&b64).unwrap()
        );
    }

    #[test]
    fn expiration_with_and_without_fraction() {
        let secs = |e: &str| parse_expiration(e);
        assert_eq!(
            secs("2015-12-30T12:00:00Z"),
            Some(DOC_EXPIRATION_UNIX as i64)
        );
        assert_eq!(
            secs("2015-12-30T12:00:00.000Z"),
            Some(DOC_EXPIRATION_UNIX as i64)
        );
        assert_eq!(
            secs("2015-12-30T12:00:00.999999999Z"),
            Some(DOC_EXPIRATION_UNIX as i64)
        );
        assert_eq!(secs("2024-02-29T23:59:59.5Z"), Some(1_709_251_199));
        assert_eq!(secs("2015-12-30T12:00:00z"), None);
        assert_eq!(secs("2015-12-30T12:00:00.00aZ"), None);
        assert_eq!(secs("+015-12-30T12:00:00Z"), None);
    }

    #[test]
    fn conditions_parse_with_case_insensitive_names_and_operators() {
        let p = policy(
            r#"[{"ACL": "b", "Content-Type": "a"}, ["Starts-With", "$X-Amz-Meta-Tag", ""],
                ["EQ", "$Key", "K"], ["content-length-range", "0", 5]]"#,
        );
        assert_eq!(
            p.conditions,
            vec![
                Condition::Eq {
                    field: "acl".into(),
                    value: "b".into()
                },
                Condition::Eq {
                    field: "content-type".into(),
                    value: "a".into()
                },
                Condition::StartsWith {
                    field: "x-amz-meta-tag".into(),
                    prefix: String::new()
                },
                Condition::Eq {
                    field: "key".into(),
                    value: "K".into()
                },
                Condition::ContentLengthRange { min: 0, max: 5 },
            ]
        );
    }

    // ---- condition evaluation ----

    /// Evaluate `conditions` against `fields` (bucket "b", file "f.txt", before expiration).
    fn eval(conditions: &str, fields: &[(&str, &str)]) -> Result<(), S3Error> {
        evaluate_policy(
            &policy(conditions),
            &form(fields, Some("f.txt")),
            "b",
            doc_now(),
            &[],
        )
    }

    fn fails_condition(result: Result<(), S3Error>, quoted: &str) {
        let err = result.expect_err(quoted);
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert_eq!(
            err.message,
            format!("Invalid according to Policy: Policy Condition failed: {quoted}")
        );
    }

    #[test]
    fn eq_passes_only_on_the_exact_value() {
        let c = r#"[["eq", "$acl", "private"]]"#;
        assert!(eval(c, &[("acl", "private")]).is_ok());
        fails_condition(
            eval(c, &[("acl", "private ")]),
            r#"["eq", "$acl", "private"]"#,
        );
        fails_condition(
            eval(c, &[("acl", "Private")]),
            r#"["eq", "$acl", "private"]"#,
        );
        fails_condition(eval(c, &[]), r#"["eq", "$acl", "private"]"#);
        // An absent field is the empty string.
        assert!(eval(r#"[["eq", "$acl", ""]]"#, &[]).is_ok());
    }

    #[test]
    fn shorthand_eq_is_eq() {
        let c = r#"[{"acl": "private"}]"#;
        assert!(eval(c, &[("acl", "private")]).is_ok());
        fails_condition(
            eval(c, &[("acl", "public-read")]),
            r#"["eq", "$acl", "private"]"#,
        );
    }

    #[test]
    fn starts_with_is_a_prefix_match_and_empty_matches_anything() {
        let c = r#"[["starts-with", "$key", "user/"]]"#;
        assert!(eval(c, &[("key", "user/x")]).is_ok());
        assert!(eval(c, &[("key", "user/")]).is_ok());
        fails_condition(
            eval(c, &[("key", "users/x")]),
            r#"["starts-with", "$key", "user/"]"#,
        );
        fails_condition(eval(c, &[]), r#"["starts-with", "$key", "user/"]"#);
        let any = r#"[["starts-with", "$x-amz-meta-tag", ""]]"#;
        assert!(eval(any, &[("x-amz-meta-tag", "")]).is_ok());
        assert!(eval(any, &[("x-amz-meta-tag", "whatever")]).is_ok());
        assert!(eval(any, &[]).is_ok());
    }

    #[test]
    fn starts_with_on_content_type_applies_to_each_listed_value() {
        let c = r#"[["starts-with", "$Content-Type", "image/"]]"#;
        assert!(eval(c, &[("Content-Type", "image/jpeg")]).is_ok());
        assert!(eval(c, &[("content-type", "image/jpeg, image/png")]).is_ok());
        assert!(eval(c, &[("content-type", "image/jpeg,image/png")]).is_ok());
        let quoted = r#"["starts-with", "$content-type", "image/"]"#;
        fails_condition(
            eval(c, &[("content-type", "image/jpeg, text/html")]),
            quoted,
        );
        fails_condition(eval(c, &[("content-type", "text/html")]), quoted);
        // Only Content-Type is a list: elsewhere a comma is just a character.
        let k = r#"[["starts-with", "$key", "a"]]"#;
        assert!(eval(k, &[("key", "ab, c")]).is_ok());
        // eq on Content-Type compares the whole value.
        let e = r#"[["eq", "$content-type", "image/jpeg"]]"#;
        assert!(eval(e, &[("CONTENT-TYPE", "image/jpeg")]).is_ok());
        assert!(eval(e, &[("content-type", "image/jpeg, image/png")]).is_err());
    }

    #[test]
    fn bucket_conditions_compare_with_the_url_bucket_not_a_field() {
        let c = r#"[{"bucket": "b"}]"#;
        assert!(eval(c, &[]).is_ok());
        // A form field cannot stand in for the URL's bucket.
        let other = evaluate_policy(
            &policy(c),
            &form(&[("bucket", "b")], None),
            "other",
            doc_now(),
            &[],
        );
        fails_condition(other, r#"["eq", "$bucket", "b"]"#);
        assert!(eval(r#"[["starts-with", "$bucket", ""]]"#, &[("bucket", "x")]).is_ok());
    }

    #[test]
    fn key_conditions_see_the_key_after_filename_substitution() {
        let c = r#"[["eq", "$key", "up/f.txt"]]"#;
        assert!(eval(c, &[("key", "up/${filename}")]).is_ok());
        assert!(eval(c, &[("key", "up/f.txt")]).is_ok());
        fails_condition(
            eval(c, &[("key", "up/other")]),
            r#"["eq", "$key", "up/f.txt"]"#,
        );
    }

    #[test]
    fn field_names_are_case_insensitive_both_ways() {
        let c = r#"[["eq", "$X-Amz-Meta-Uuid", "1"], {"CACHE-control": "no-cache"}]"#;
        assert!(eval(
            c,
            &[("x-amz-meta-uuid", "1"), ("Cache-Control", "no-cache")]
        )
        .is_ok());
        assert!(eval(
            c,
            &[("X-AMZ-META-UUID", "1"), ("cache-control", "no-cache")]
        )
        .is_ok());
    }

    #[test]
    fn content_length_range_is_not_checked_here_but_returned_and_intersected() {
        let p = policy(r#"[["content-length-range", 0, 10]]"#);
        assert!(evaluate_policy(&p, &form(&[], None), "b", doc_now(), &[]).is_ok());
        assert_eq!(p.content_length_range(), Some((0, 10)));
        let p = policy(
            r#"[["content-length-range", 5, 100], ["content-length-range", "0", "50"],
                ["content-length-range", 7, 1000]]"#,
        );
        assert_eq!(p.content_length_range(), Some((7, 50)));
        // Disjoint ranges: an empty intersection, which no size satisfies.
        let p = policy(r#"[["content-length-range", 0, 5], ["content-length-range", 6, 9]]"#);
        assert_eq!(p.content_length_range(), Some((6, 5)));
        let p = policy(r#"[["content-length-range", 0, 18446744073709551615]]"#);
        assert_eq!(p.content_length_range(), Some((0, u64::MAX)));
        let outcome = form_outcome(&p, &form(&[("key", "k")], None), "AK").unwrap();
        assert_eq!(outcome.content_length_range, Some((0, u64::MAX)));
    }

    #[test]
    fn the_first_failing_condition_is_the_one_named() {
        let c = r#"[{"acl": "a"}, {"key": "k"}]"#;
        fails_condition(
            eval(c, &[("acl", "x"), ("key", "x")]),
            r#"["eq", "$acl", "a"]"#,
        );
        fails_condition(
            eval(c, &[("acl", "a"), ("key", "x")]),
            r#"["eq", "$key", "k"]"#,
        );
    }

    #[test]
    fn condition_values_are_quoted_as_json_in_messages() {
        let c = r#"[["eq", "$key", "a\"b\\c"]]"#;
        fails_condition(eval(c, &[("key", "x")]), r#"["eq", "$key", "a\"b\\c"]"#);
    }

    #[test]
    fn expired_policy_is_refused_before_conditions() {
        let p = policy(r#"[{"acl": "a"}]"#);
        let err = evaluate_policy(&p, &form(&[], None), "b", at(DOC_EXPIRATION_UNIX + 1), &[])
            .unwrap_err();
        assert_eq!(err.message, "Invalid according to Policy: Policy expired.");
        assert!(evaluate_policy(
            &p,
            &form(&[("acl", "a")], None),
            "b",
            at(DOC_EXPIRATION_UNIX),
            &[]
        )
        .is_ok());
    }

    // ---- coverage ----

    #[test]
    fn every_field_must_be_named_by_a_condition() {
        let c = r#"[["starts-with", "$key", ""]]"#;
        assert!(eval(c, &[("key", "k")]).is_ok());
        let err = eval(
            c,
            &[("key", "k"), ("acl", "public-read"), ("Content-Type", "x")],
        )
        .unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert_eq!(
            err.message,
            "Invalid according to Policy: Extra input fields: acl, Content-Type"
        );
    }

    #[test]
    fn content_length_range_does_not_cover_a_field() {
        let c = r#"[["content-length-range", 0, 5]]"#;
        assert!(eval(c, &[("content-length-range", "1")]).is_err());
    }

    #[test]
    fn policy_signature_file_and_x_ignore_fields_need_no_condition() {
        let fields = [
            ("Policy", "p"),
            ("X-Amz-Signature", "s"),
            ("file", "f"),
            ("x-ignore-a", "1"),
            ("X-IGNORE-b", "2"),
        ];
        assert!(eval("[]", &fields).is_ok());
        // x-amz-security-token and the other x-amz fields are not exempt.
        assert!(eval("[]", &[("x-amz-security-token", "t")]).is_err());
        assert!(eval("[]", &[("x-amz-date", "t")]).is_err());
    }

    #[test]
    fn exempt_names_are_honoured_case_insensitively() {
        let p = policy("[]");
        let prefix = form(&[("AWSAccessKeyId", "AK"), ("Signature", "s")], None);
        assert!(evaluate_policy(&p, &prefix, "b", doc_now(), SIGV2_EXEMPT_FIELDS).is_ok());
        let err = evaluate_policy(&p, &prefix, "b", doc_now(), &[]).unwrap_err();
        assert!(
            err.message.ends_with("AWSAccessKeyId, Signature"),
            "{}",
            err.message
        );
    }

    // ---- the outcome ----

    fn outcome(fields: &[(&str, &str)], filename: Option<&str>) -> Result<VerifiedForm, S3Error> {
        form_outcome(&policy("[]"), &form(fields, filename), "AK")
    }

    /// A form's `Content-MD5` and `x-amz-checksum-*` fields are the file's integrity claims;
    /// the same rules as headers (values: MD5("abc") from RFC 1321, CRC-32 of "123456789" from
    /// the CRC catalogue, SHA-1 of "123456789" from Python's hashlib, all base64).
    #[test]
    fn integrity_fields_become_the_forms_claims() {
        use crate::body::checksum::ChecksumAlgorithm;
        use crate::body::claims::ChecksumClaim;
        let o = outcome(
            &[
                ("key", "k"),
                ("Content-MD5", "kAFQmDzST7DWlj99KOF/cg=="),
                ("x-amz-checksum-crc32", "y/Q5Jg=="),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            o.integrity.content_md5.map(hex::encode).as_deref(),
            Some("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(
            o.integrity.checksum,
            Some(ChecksumClaim::Value(
                ChecksumAlgorithm::Crc32,
                vec![0xCB, 0xF4, 0x39, 0x26]
            ))
        );
        assert!(
            !o.upstream_headers.iter().any(|(n, _)| n == "content-md5"),
            "the proxy decides where the claims go"
        );
        assert_eq!(
            outcome(&[("key", "k")], None).unwrap().integrity,
            IntegrityClaims::default()
        );
        let refusals = [
            (
                &[
                    ("x-amz-checksum-crc32", "y/Q5Jg=="),
                    ("x-amz-checksum-sha1", "98O8HYCOBHMq32eZZczDTKeuNEE="),
                ][..],
                S3ErrorCode::InvalidRequest,
            ),
            (
                &[("x-amz-checksum-md5", "y/Q5Jg==")][..],
                S3ErrorCode::InvalidRequest,
            ),
            (
                &[("x-amz-checksum-crc32", "y/Q5Jg")][..],
                S3ErrorCode::InvalidRequest,
            ),
            (
                &[("Content-MD5", "kAFQmDzST7DWlj99KOF")][..],
                S3ErrorCode::InvalidDigest,
            ),
        ];
        for (fields, code) in refusals {
            let mut all = vec![("key", "k")];
            all.extend_from_slice(fields);
            assert_eq!(
                outcome(&all, None).map_err(|e| e.code).err(),
                Some(code),
                "{fields:?}"
            );
        }
    }

    #[test]
    fn key_is_required_and_filename_is_substituted_with_its_base_name() {
        let err = outcome(&[], None).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        assert!(err.message.contains("field named 'key'"), "{}", err.message);
        for (filename, key) in [
            (Some("photo.jpg"), "u/photo.jpg-photo.jpg"),
            (
                Some("C:\\Documents and Settings\\me\\photo.jpg"),
                "u/photo.jpg-photo.jpg",
            ),
            (Some("/home/me/photo.jpg"), "u/photo.jpg-photo.jpg"),
            (Some("dir/"), "u/-"),
            (None, "u/-"),
        ] {
            assert_eq!(
                outcome(&[("key", "u/${filename}-${filename}")], filename)
                    .unwrap()
                    .key,
                key
            );
        }
        assert_eq!(
            outcome(&[("Key", "plain")], Some("x")).unwrap().key,
            "plain"
        );
        for empty in [("key", ""), ("key", "${filename}")] {
            let err = outcome(&[empty], None).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument);
            assert!(
                err.message.contains("length greater than 0"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn header_fields_become_upstream_headers_in_lower_case() {
        let o = outcome(
            &[
                ("key", "k"),
                ("Content-Type", "text/plain"),
                ("Cache-Control", "no-cache"),
                ("Content-Disposition", "attachment"),
                ("Expires", "Thu, 01 Dec 2094 16:00:00 GMT"),
                ("Content-Encoding", "gzip"),
                ("X-Amz-Meta-Owner", "me"),
                ("acl", "private"),
                ("x-amz-server-side-encryption", "AES256"),
                ("x-amz-security-token", "t"),
                ("success_action_status", "201"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            o.upstream_headers,
            vec![
                ("content-type".to_owned(), "text/plain".to_owned()),
                ("cache-control".to_owned(), "no-cache".to_owned()),
                ("content-disposition".to_owned(), "attachment".to_owned()),
                (
                    "expires".to_owned(),
                    "Thu, 01 Dec 2094 16:00:00 GMT".to_owned()
                ),
                ("content-encoding".to_owned(), "gzip".to_owned()),
                ("x-amz-meta-owner".to_owned(), "me".to_owned()),
            ]
        );
    }

    #[test]
    fn header_fields_that_would_corrupt_the_upstream_head_are_refused() {
        for field in [
            ("x-amz-meta-a", "x\r\nx-amz-acl: public-read"),
            ("content-type", "a\nb"),
            ("x-amz-meta-a", "nul\0"),
            ("x-amz-meta-a b", "v"),
            ("x-amz-meta-", "v"),
        ] {
            let err = outcome(&[("key", "k"), field], None).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{field:?}");
        }
        // The file part's own Content-Type is not a header source.
        let mut prefix = form(&[("key", "k")], Some("a.html"));
        prefix.file.content_type = Some("text/html".into());
        let o = form_outcome(&policy("[]"), &prefix, "AK").unwrap();
        assert!(o.upstream_headers.is_empty());
        // UTF-8 metadata is passed on as is.
        assert!(outcome(&[("key", "k"), ("x-amz-meta-name", "Zoë")], None).is_ok());
    }

    #[test]
    fn success_action_redirect_wins_then_status_then_204() {
        let action = |fields: &[(&str, &str)]| {
            let mut all = vec![("key", "k")];
            all.extend_from_slice(fields);
            outcome(&all, None).unwrap().success
        };
        let url = "https://example.com/done?x=1";
        assert_eq!(
            action(&[
                ("success_action_redirect", url),
                ("success_action_status", "201")
            ]),
            SuccessAction::Redirect(url.into())
        );
        assert_eq!(
            action(&[("redirect", url)]),
            SuccessAction::Redirect(url.into())
        );
        assert_eq!(
            action(&[
                ("success_action_redirect", url),
                ("redirect", "http://legacy/")
            ]),
            SuccessAction::Redirect(url.into())
        );
        // An unusable redirect is ignored, as S3 does.
        assert_eq!(
            action(&[
                ("success_action_redirect", "javascript:alert(1)"),
                ("success_action_status", "200")
            ]),
            SuccessAction::Status(200)
        );
        assert_eq!(
            action(&[("success_action_redirect", "http://a/\r\nSet-Cookie: x")]),
            SuccessAction::Status(204)
        );
        assert_eq!(
            action(&[("success_action_status", "201")]),
            SuccessAction::Status(201)
        );
        assert_eq!(
            action(&[("success_action_status", "200")]),
            SuccessAction::Status(200)
        );
        for invalid in ["204", "302", "", "abc", "2010"] {
            assert_eq!(
                action(&[("success_action_status", invalid)]),
                SuccessAction::Status(204)
            );
        }
        assert_eq!(action(&[]), SuccessAction::Status(204));
    }

    proptest::proptest! {
        /// Whatever the policy text, parsing answers, never panics.
        #[test]
        fn parse_never_panics(text in ".{0,200}") {
            let _ = PostPolicy::parse_base64(&text);
            let _ = PostPolicy::parse_json(text.as_bytes());
            let _ = parse_expiration(&text);
        }

        /// Policies built from the grammar's pieces parse or fail with InvalidPolicyDocument.
        #[test]
        fn near_policies_fail_only_with_invalid_policy_document(
            expiration in "[0-9T:.Z-]{0,26}",
            op in "(eq|starts-with|content-length-range|EQ|x)",
            a in "(\"\\$[a-z-]{0,8}\"|-?[0-9]{1,3}|\"[0-9]{0,3}\")",
            b in "(\"[a-z/]{0,8}\"|-?[0-9]{1,3}|\"[0-9]{0,3}\")",
        ) {
            let json = format!(r#"{{"expiration": "{expiration}", "conditions": [["{op}", {a}, {b}]]}}"#);
            if let Err(e) = PostPolicy::parse_json(json.as_bytes()) {
                proptest::prop_assert_eq!(e.code, S3ErrorCode::InvalidPolicyDocument);
            }
        }
    }
}
