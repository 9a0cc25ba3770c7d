//! What a request touches, for the scopes: its target, and every other object it names (a copy
//! or rename source, a listing's prefix, the whole bucket for bucket-level writes). The keys of
//! a DeleteObjects body come later, from the body (`body::delete_list`).

use http::header::HeaderMap;

use super::target::{check_bucket_name, check_key, Target};
use crate::auth::{Action, Need};
use crate::error::{S3Error, S3ErrorCode};

/// Headers that name a source object: `x-amz-copy-source` (CopyObject, UploadPartCopy) reads it;
/// `x-amz-rename-source` (RenameObject) reads and removes it.
pub const SOURCE_HEADERS: &[(&str, &[Action])] = &[
    ("x-amz-copy-source", &[Action::Read]),
    ("x-amz-rename-source", &[Action::Read, Action::Write]),
];

/// An object named by a header (`x-amz-copy-source: /bucket/key?versionId=v`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceObject {
    /// The header that named it.
    pub header: &'static str,
    /// Its bucket (a valid name).
    pub bucket: String,
    /// Its key (decoded, checked like a target's).
    pub key: String,
    /// `versionId`, if given.
    pub version_id: Option<String>,
}

impl SourceObject {
    /// The header value for the backend, re-encoded from the decoded names.
    pub fn encode(&self) -> String {
        let path = super::target::upstream_path(&self.bucket, &self.key);
        match &self.version_id {
            Some(v) => format!(
                "{path}?versionId={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            ),
            None => path,
        }
    }
}

/// The source objects a request's headers name. A header given twice, or naming an access
/// point ARN or an invalid bucket or key, is refused.
pub fn source_objects(headers: &HeaderMap) -> Result<Vec<SourceObject>, S3Error> {
    let mut sources = Vec::new();
    for (name, _) in SOURCE_HEADERS {
        let mut values = headers.get_all(*name).iter();
        let Some(value) = values.next() else {
            continue;
        };
        if values.next().is_some() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("The header {name} is given more than once."),
            ));
        }
        let value = value.to_str().map_err(|_| bad_source(name))?;
        sources.push(parse_source(name, value)?);
    }
    Ok(sources)
}

/// `[/]bucket/key[?versionId=v]`, URL-encoded (the S3 API reference's form; `?` separates the
/// version because a key's own `?` is encoded).
fn parse_source(header: &'static str, value: &str) -> Result<SourceObject, S3Error> {
    if value.starts_with("arn:") {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            format!("{header}: access point ARNs are not supported."),
        ));
    }
    let (path, query) = value.split_once('?').unwrap_or((value, ""));
    let path = path.strip_prefix('/').unwrap_or(path);
    let (raw_bucket, raw_key) = path.split_once('/').ok_or_else(|| bad_source(header))?;
    let decode = |raw: &str| {
        percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| bad_source(header))
    };
    let bucket = decode(raw_bucket)?;
    let key = decode(raw_key)?;
    check_bucket_name(&bucket)?;
    if key.is_empty() {
        return Err(bad_source(header));
    }
    check_key(&key)?;
    let version_id = match query {
        "" => None,
        q => Some(decode(
            q.strip_prefix("versionId=")
                .ok_or_else(|| bad_source(header))?,
        )?),
    };
    Ok(SourceObject {
        header,
        bucket,
        key,
        version_id,
    })
}

fn bad_source(header: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        format!("{header} must be a URL-encoded /bucket/key, optionally with ?versionId=."),
    )
}

/// Everything the scopes must allow for a request (its head; a DeleteObjects body adds its
/// keys when it has been read).
///
/// - Service root: `GET`/`HEAD` lists the buckets (a key that may read everything).
/// - Bucket level: a listing (`GET` without an operation, `?versions`, `?uploads`) reads every
///   key under its `prefix`; `HEAD` and the other reads (`?location`, `?versioning`…) need a
///   read scope somewhere in the bucket; DeleteObjects (`POST ?delete`) a write scope somewhere
///   (its keys are checked one by one from the body); every other write the whole bucket.
/// - Object level: read (`GET`, `HEAD`, `POST ?select`) or write (the rest) of the target,
///   and each source object with what its header does to it.
pub fn needs(
    method: &http::Method,
    target: &Target,
    sources: &[SourceObject],
) -> Result<Vec<Need>, S3Error> {
    let action = Action::for_method(method.as_str()).ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::MethodNotAllowed,
            format!("The method {method} is not allowed."),
        )
    })?;
    let operation = target.query.operation()?;
    let bucket = target.bucket.clone();
    if !sources.is_empty() && (method != http::Method::PUT || target.key.is_empty()) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidRequest,
            "Only a PUT of an object can name a source object.",
        ));
    }
    if bucket.is_empty() {
        return match action {
            Action::Read => Ok(vec![Need::AllBuckets]),
            Action::Write => Err(S3Error::new(
                S3ErrorCode::MethodNotAllowed,
                format!("The method {method} is not allowed on the service."),
            )),
        };
    }
    if target.key.is_empty() {
        return Ok(vec![bucket_need(
            method, action, operation, target, bucket,
        )?]);
    }
    let action = match operation {
        // SelectObjectContent only reads the object it queries.
        Some("select") if method == http::Method::POST => Action::Read,
        _ => action,
    };
    let mut needs = vec![Need::Object {
        action,
        bucket,
        key: target.key.clone(),
    }];
    for source in sources {
        let actions = SOURCE_HEADERS
            .iter()
            .find(|(name, _)| *name == source.header)
            .map(|(_, actions)| *actions)
            .unwrap_or(&[Action::Read, Action::Write]);
        needs.extend(actions.iter().map(|action| Need::Object {
            action: *action,
            bucket: source.bucket.clone(),
            key: source.key.clone(),
        }));
    }
    Ok(needs)
}

/// The need of a bucket-level request (see [`needs`]).
fn bucket_need(
    method: &http::Method,
    action: Action,
    operation: Option<&str>,
    target: &Target,
    bucket: String,
) -> Result<Need, S3Error> {
    let is_listing = matches!(operation, None | Some("versions") | Some("uploads"));
    Ok(match action {
        Action::Read if method == http::Method::GET && is_listing => Need::Listing {
            bucket,
            prefix: target.query.get("prefix").unwrap_or("").to_string(),
        },
        Action::Read => Need::SomeKeyIn {
            action: Action::Read,
            bucket,
        },
        Action::Write if method == http::Method::POST && operation == Some("delete") => {
            Need::SomeKeyIn {
                action: Action::Write,
                bucket,
            }
        }
        Action::Write => Need::WholeBucket {
            action: Action::Write,
            bucket,
        },
    })
}

/// Whether a request is DeleteObjects (`POST /bucket?delete`): its body names the keys.
pub fn is_delete_objects(method: &http::Method, target: &Target) -> bool {
    method == http::Method::POST
        && !target.bucket.is_empty()
        && target.key.is_empty()
        && target.query.has("delete")
}

/// The needs of the keys a DeleteObjects body names: a write of each, every key held to the
/// rules of a request path's key.
pub fn delete_needs(bucket: &str, keys: &[String]) -> Result<Vec<Need>, S3Error> {
    keys.iter()
        .map(|key| {
            check_key(key)?;
            Ok(Need::Object {
                action: Action::Write,
                bucket: bucket.to_string(),
                key: key.clone(),
            })
        })
        .collect()
}
