//! Authorization: may this access key do this to these objects? The one check every path makes
//! after authentication (header, presigned and POST-form requests alike), so a per-credential
//! rule added here (a rate limit, a quota) cannot be missed by any of them.
//!
//! A request rarely touches one object only: a copy reads its source, a DeleteObjects body names
//! up to a thousand keys, a listing reveals every key under its prefix, a bucket-level write
//! changes the whole bucket. The request model (`request::S3Request::needs`) lists each of
//! them as a [`Need`]; a request is allowed only when every one of its needs is.

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

/// Which `bucket/key` resources a scope check is about, given a resource text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// That resource alone (an object).
    Exactly,
    /// Every resource that starts with it (a listing by prefix, a whole bucket).
    EveryExtension,
    /// At least one resource that starts with it (reading a bucket's own settings).
    SomeExtension,
}

/// One thing a request does that the scopes must allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// `action` on one object (the target, a copy source, a key of a DeleteObjects body).
    Object {
        /// Read or write.
        action: Action,
        /// Its bucket.
        bucket: String,
        /// Its key (decoded).
        key: String,
    },
    /// Read every key of `bucket` that starts with `prefix`: what a listing can return.
    Listing {
        /// The bucket listed.
        bucket: String,
        /// The listing's `prefix` (decoded; empty for all).
        prefix: String,
    },
    /// `action` on the whole bucket: creating, deleting or configuring it.
    WholeBucket {
        /// Read or write.
        action: Action,
        /// The bucket.
        bucket: String,
    },
    /// `action` on at least one key of the bucket: reading a bucket's own information (HEAD,
    /// location, versioning…), or sending a DeleteObjects whose keys are checked one by one.
    SomeKeyIn {
        /// Read or write.
        action: Action,
        /// The bucket.
        bucket: String,
    },
    /// List the buckets: only a key that may read every bucket.
    AllBuckets,
}

impl Need {
    /// The action, resource text and reach this need asks the scopes about.
    fn question(&self) -> (Action, String, Reach) {
        match self {
            Need::Object {
                action,
                bucket,
                key,
            } => (*action, format!("{bucket}/{key}"), Reach::Exactly),
            Need::Listing { bucket, prefix } => (
                Action::Read,
                format!("{bucket}/{prefix}"),
                Reach::EveryExtension,
            ),
            Need::WholeBucket { action, bucket } => {
                (*action, format!("{bucket}/"), Reach::EveryExtension)
            }
            Need::SomeKeyIn { action, bucket } => {
                (*action, format!("{bucket}/"), Reach::SomeExtension)
            }
            Need::AllBuckets => (Action::Read, String::new(), Reach::EveryExtension),
        }
    }
}

/// Where the `allow` scopes of the access keys are kept (the credential store; tests).
pub trait Scopes {
    /// Whether `access_key` may do `action` on the `bucket/key` resources that `reach` names
    /// from `resource`. Unknown keys may do nothing.
    fn grants(&self, access_key: &str, action: Action, resource: &str, reach: Reach) -> bool;
}

/// Whether `access_key` may do everything in `needs` by its `allow` scopes (`AccessDenied`
/// when not, without saying which need failed: that would reveal the scopes). A request that
/// names nothing is refused too: every request touches something, so that would be a bug.
pub fn authorize(scopes: &dyn Scopes, access_key: &str, needs: &[Need]) -> Result<(), S3Error> {
    let allowed = !needs.is_empty()
        && needs.iter().all(|need| {
            let (action, resource, reach) = need.question();
            scopes.grants(access_key, action, &resource, reach)
        });
    if allowed {
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

    /// Read access to objects under `bkt/allowed/` only, as a scope list would give it.
    struct AllowedPrefixReads;

    impl Scopes for AllowedPrefixReads {
        fn grants(&self, _: &str, action: Action, resource: &str, reach: Reach) -> bool {
            let inside = resource.starts_with("bkt/allowed/");
            action == Action::Read
                && match reach {
                    Reach::Exactly | Reach::EveryExtension => inside,
                    Reach::SomeExtension => inside || "bkt/allowed/".starts_with(resource),
                }
        }
    }

    fn object(action: Action, key: &str) -> Need {
        Need::Object {
            action,
            bucket: "bkt".into(),
            key: key.into(),
        }
    }

    #[test]
    fn every_need_must_be_allowed() {
        let scopes = AllowedPrefixReads;
        assert!(authorize(&scopes, "AK", &[object(Action::Read, "allowed/a")]).is_ok());
        // A copy into an allowed key from a key outside: the read of the source fails.
        let copy = [
            object(Action::Read, "allowed/a"),
            object(Action::Read, "secret/b"),
        ];
        let err = authorize(&scopes, "AK", &copy).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::AccessDenied);
        assert!(authorize(&scopes, "AK", &[object(Action::Write, "allowed/a")]).is_err());
    }

    #[test]
    fn listings_bucket_info_and_whole_buckets_ask_the_right_question() {
        let scopes = AllowedPrefixReads;
        let listing = |prefix: &str| Need::Listing {
            bucket: "bkt".into(),
            prefix: prefix.into(),
        };
        assert!(authorize(&scopes, "AK", &[listing("allowed/")]).is_ok());
        assert!(authorize(&scopes, "AK", &[listing("allowed/sub")]).is_ok());
        assert!(authorize(&scopes, "AK", &[listing("")]).is_err());
        assert!(authorize(&scopes, "AK", &[listing("allow")]).is_err());
        let info = Need::SomeKeyIn {
            action: Action::Read,
            bucket: "bkt".into(),
        };
        assert!(authorize(&scopes, "AK", &[info]).is_ok());
        let whole = Need::WholeBucket {
            action: Action::Read,
            bucket: "bkt".into(),
        };
        assert!(authorize(&scopes, "AK", &[whole]).is_err());
        assert!(authorize(&scopes, "AK", &[Need::AllBuckets]).is_err());
        // Needs that were never listed are not a permission.
        assert!(authorize(&scopes, "AK", &[]).is_err());
    }
}
