//! Authorization: may this access key do this to these objects? The one check every path makes
//! after authentication (header, presigned and POST-form requests alike), so a per-credential
//! rule added here (a rate limit, a quota) cannot be missed by any of them.

use crate::error::{S3Error, S3ErrorCode};

/// What a request does to the store, for `allow` scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `GET`, `HEAD`: `read:` scopes.
    Read,
    /// `PUT`, `POST`, `DELETE`: `write:` scopes.
    Write,
}

impl Action {
    /// The action of an HTTP method; `None` for methods the proxy does not forward (`OPTIONS`,
    /// `PATCH`, …). Methods are case-sensitive (RFC 9110 §9.1).
    pub fn for_method(method: &str) -> Option<Action> {
        match method {
            "GET" | "HEAD" => Some(Action::Read),
            "PUT" | "POST" | "DELETE" => Some(Action::Write),
            _ => None,
        }
    }
}

/// Where the `allow` scopes of the access keys are kept (the credential store; tests).
pub trait Scopes {
    /// Whether `access_key` may do `action` on `bucket/key` (`key` empty for bucket-level
    /// requests). Unknown keys may do nothing.
    fn is_allowed(&self, access_key: &str, action: Action, bucket: &str, key: &str) -> bool;
}

/// Whether `access_key` may do `action` on `bucket/key` by its `allow` scopes (`AccessDenied`
/// when not). `key` is empty for bucket-level requests.
pub fn authorize(
    scopes: &dyn Scopes,
    access_key: &str,
    action: Action,
    bucket: &str,
    key: &str,
) -> Result<(), S3Error> {
    if scopes.is_allowed(access_key, action, bucket, key) {
        Ok(())
    } else {
        Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_of_methods() {
        assert_eq!(Action::for_method("GET"), Some(Action::Read));
        assert_eq!(Action::for_method("HEAD"), Some(Action::Read));
        for method in ["PUT", "POST", "DELETE"] {
            assert_eq!(Action::for_method(method), Some(Action::Write));
        }
        for method in ["OPTIONS", "PATCH", "get", "PROPFIND", ""] {
            assert_eq!(Action::for_method(method), None, "{method}");
        }
    }

    struct OnlyReads;

    impl Scopes for OnlyReads {
        fn is_allowed(&self, _: &str, action: Action, _: &str, _: &str) -> bool {
            action == Action::Read
        }
    }

    #[test]
    fn a_refusal_is_access_denied() {
        assert!(authorize(&OnlyReads, "AK", Action::Read, "b", "k").is_ok());
        let err = authorize(&OnlyReads, "AK", Action::Write, "b", "k").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
    }
}
