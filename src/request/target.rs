//! Where a request points, read the one way the backend will read it: the bucket (S3's naming
//! rules, from the path or from `Host`), the key as decoded UTF-8 (no `.`, `..` or empty
//! segments, which a backend that stores objects as files would resolve to another key), the
//! query as decoded parameters. The backend then receives a request target re-encoded from
//! these values, never the client's bytes, so what it acts on is what was authorized.

use std::net::Ipv4Addr;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::query::Query;
use crate::error::{S3Error, S3ErrorCode};

/// S3's longest key, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// Characters kept as they are in an upstream path: RFC 3986 unreserved and `/`.
const PATH_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The object (or bucket) a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The bucket, a valid S3 bucket name; empty for the service root (`GET /`).
    pub bucket: String,
    /// The decoded key; empty for a bucket-level request.
    pub key: String,
    /// The query parameters, decoded, without the presigned-auth ones.
    pub query: Query,
    /// The bucket named by a virtual-hosted-style Host, as written there (SigV2 signs it as part
    /// of the resource); `None` for path-style requests.
    pub virtual_host_bucket: Option<String>,
}

impl Target {
    /// `raw_path` (origin-form, starting with `/`) and `raw_query` as received; `host` is the
    /// Host (or `:authority`) value. A host `<bucket>.<suffix>` (for a configured suffix) is
    /// virtual-hosted style.
    pub fn resolve(
        raw_path: &str,
        raw_query: &str,
        host: &str,
        suffixes: &[String],
    ) -> Result<Target, S3Error> {
        let Some(path) = raw_path.strip_prefix('/') else {
            return Err(invalid_uri());
        };
        let virtual_host_bucket = virtual_host_bucket(host, suffixes);
        let (bucket, raw_key) = match &virtual_host_bucket {
            Some(bucket) => (bucket.clone(), path),
            None => {
                let (raw_bucket, raw_key) = path.split_once('/').unwrap_or((path, ""));
                (decode(raw_bucket)?, raw_key)
            }
        };
        let key = decode(raw_key)?;
        if bucket.is_empty() {
            if !key.is_empty() {
                return Err(invalid_uri());
            }
        } else {
            check_bucket_name(&bucket)?;
            check_key(&key)?;
        }
        Ok(Target {
            bucket,
            key,
            query: Query::parse(raw_query)?,
            virtual_host_bucket,
        })
    }

    /// Path and query for the backend, path-style, re-encoded from the decoded values.
    pub fn upstream_target(&self) -> String {
        let path = upstream_path(&self.bucket, &self.key);
        if self.query.is_empty() {
            path
        } else {
            format!("{path}?{}", self.query.encode())
        }
    }
}

/// `/{bucket}/{key}` (`/{bucket}` for a bucket, `/` for the service) from decoded names,
/// percent-encoded for a request target or a URL.
pub fn upstream_path(bucket: &str, key: &str) -> String {
    match (bucket.is_empty(), key.is_empty()) {
        (true, _) => "/".to_string(),
        (false, true) => format!("/{}", utf8_percent_encode(bucket, PATH_KEEP)),
        (false, false) => format!(
            "/{}/{}",
            utf8_percent_encode(bucket, PATH_KEEP),
            utf8_percent_encode(key, PATH_KEEP)
        ),
    }
}

/// Refuse a bucket name S3's naming rules do not allow: 3 to 63 lowercase letters, digits,
/// `.` and `-`, starting and ending with a letter or digit, no `..`, not an IPv4 address, none
/// of the reserved prefixes and suffixes. The rules keep `/`, `?`, `#`, `%` and dots-only names
/// out, so a bucket can never reach into another's path.
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let bytes = name.as_bytes();
    let valid = (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && name.parse::<Ipv4Addr>().is_err()
        && !["xn--", "sthree-"].iter().any(|p| name.starts_with(p))
        && !["-s3alias", "--ol-s3"].iter().any(|s| name.ends_with(s));
    if valid {
        Ok(())
    } else {
        Err(S3Error::new(
            S3ErrorCode::InvalidBucketName,
            "The specified bucket is not valid.",
        ))
    }
}

/// Refuse a key that a backend storing objects as files (nginx, s3s-fs, MinIO) would read as
/// another key: a `.` or `..` segment (resolved: `allowed/../other` is `other`) or an empty
/// segment anywhere but at the end (`a//b` is `a/b`; a trailing `/` is a folder marker and
/// stays). `a..b`, `.hidden` and `...` are ordinary names. Also S3's 1,024-byte limit.
pub fn check_key(key: &str) -> Result<(), S3Error> {
    if key.len() > MAX_KEY_BYTES {
        return Err(S3Error::new(
            S3ErrorCode::KeyTooLongError,
            "Your key is too long.",
        ));
    }
    if key.is_empty() {
        return Ok(());
    }
    let segments: Vec<&str> = key.split('/').collect();
    let last = segments.len() - 1;
    let unsafe_segment = segments
        .iter()
        .enumerate()
        .any(|(i, s)| *s == "." || *s == ".." || (s.is_empty() && i != last));
    if unsafe_segment {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            "Keys with '.', '..' or empty path segments are refused: a backend that stores \
             objects as files would read them as another key.",
        ));
    }
    Ok(())
}

/// Percent-decode a path part into UTF-8 (S3 keys and bucket names are UTF-8).
fn decode(raw: &str) -> Result<String, S3Error> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| invalid_uri())
}

pub(super) fn invalid_uri() -> S3Error {
    S3Error::new(S3ErrorCode::InvalidURI, "Couldn't parse the specified URI.")
}

/// The bucket of a virtual-hosted-style Host, if the host is `<bucket>.<suffix>` (not yet
/// checked against the naming rules).
pub fn virtual_host_bucket(host: &str, suffixes: &[String]) -> Option<String> {
    let host = strip_port(host).to_ascii_lowercase();
    suffixes.iter().find_map(|suffix| {
        let bucket = host.strip_suffix(suffix.as_str())?.strip_suffix('.')?;
        (!bucket.is_empty()).then(|| bucket.to_string())
    })
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // [v6]:port
        return host
            .split_once(']')
            .map(|(h, _)| &host[..h.len() + 1])
            .unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}
