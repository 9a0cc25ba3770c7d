//! Pure SigV4 verification: no I/O, no clock, no global state.
//!
//! The proxy hands [`verify`] the request head as received (raw path and query, headers), a way to
//! obtain signing keys, the settings and the current time; it returns an [`Authorized`] proof or an
//! [`S3Error`] that maps straight to the wire.
//!
//! Layout: `authorization` (the `Authorization` header), `presign` (the `X-Amz-*` query),
//! `date` (request dates and credential scope), `canonical` (canonical request), `signing`
//! (string to sign, key derivation, HMAC), `payload` (the `x-amz-content-sha256` modes).

pub mod authorization;
pub mod canonical;
pub mod date;
pub mod payload;
pub mod presign;
pub mod signing;

use std::time::{Duration, SystemTime};

use crate::error::S3Error;
pub use payload::PayloadMode;
pub use signing::SigningKey;

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
    fn signing_key(&self, access_key: &str, date: &str, region: &str, service: &str)
        -> Option<SigningKey>;
}

/// What [`verify`] needs from the configuration.
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

/// How the request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `Authorization: AWS4-HMAC-SHA256 …`
    Header,
    /// `X-Amz-Signature` and friends in the query string.
    Presigned,
}

/// The credential scope `date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    /// `YYYYMMDD`.
    pub date: String,
    /// e.g. `us-east-1`.
    pub region: String,
    /// Always `s3` once verified.
    pub service: String,
}

impl CredentialScope {
    /// `YYYYMMDD/region/service/aws4_request`, as in the string to sign.
    pub fn to_scope_string(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// Proof that a request's head carried a valid signature. Only [`verify`] constructs it.
#[derive(Debug, Clone)]
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
    let _ = (req, keys, settings, now);
    todo!("implemented in the sigv4 work")
}
