//! Authorization: may this access key do this to these objects? The one check every path makes
//! after authentication (header, presigned and POST-form requests alike), so a per-credential
//! rule added here (a rate limit, a quota) cannot be missed by any of them.

use crate::credentials::{Action, CredentialStore};
use crate::error::{S3Error, S3ErrorCode};

/// Whether `access_key` may do `action` on `bucket/key` by its `allow` scopes (`AccessDenied`
/// when not). `key` is empty for bucket-level requests.
pub fn authorize(
    credentials: &CredentialStore,
    access_key: &str,
    action: Action,
    bucket: &str,
    key: &str,
) -> Result<(), S3Error> {
    if credentials.is_allowed(access_key, action, bucket, key) {
        Ok(())
    } else {
        Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"))
    }
}
