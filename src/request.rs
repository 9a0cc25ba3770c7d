//! What a request is, read once from its head: method, raw path and query (as signed), the
//! headers (with `host` on HTTP/2 too), and where it points: bucket and key, from a path-style or
//! virtual-hosted-style request, and the request target the backend receives (always
//! path-style, without the auth parameters). Authentication, authorization, the body plan and
//! the upstream head are all built from this one value.

use std::borrow::Cow;

use http::header;
use percent_encoding::percent_decode_str;

use crate::auth::{Action, RequestParts};
use crate::error::{S3Error, S3ErrorCode};

/// Query parameters that carry presigned-URL authentication: never forwarded upstream.
pub const AUTH_QUERY_PARAMS: &[&str] = &[
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
    // SigV2 presigned URLs.
    "awsaccesskeyid",
    "expires",
    "signature",
];

/// The object (or bucket) a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Decoded bucket name; empty for the service root (`GET /`).
    pub bucket: String,
    /// Decoded key; empty for a bucket-level request.
    pub key: String,
    /// Path and query for the backend: `/{bucket}/{key}` still percent-encoded as the client
    /// sent it, with the auth query parameters removed.
    pub upstream_target: String,
    /// The bucket named by a virtual-hosted-style Host, as written there (SigV2 signs it as part
    /// of the resource); `None` for path-style requests.
    pub virtual_host_bucket: Option<String>,
}

impl Target {
    /// `raw_path` and `raw_query` as received; `host` is the Host (or `:authority`) value.
    /// A host `<bucket>.<suffix>` (for a configured suffix) is virtual-hosted style.
    pub fn resolve(raw_path: &str, raw_query: &str, host: &str, suffixes: &[String]) -> Target {
        let path = if raw_path.is_empty() { "/" } else { raw_path };
        let vhost_bucket = virtual_host_bucket(host, suffixes);
        let upstream_path = match &vhost_bucket {
            Some(bucket) => format!("/{bucket}{path}"),
            None => path.to_string(),
        };
        // upstream_path is "/bucket/key…" in both styles now.
        let rest = upstream_path.strip_prefix('/').unwrap_or(&upstream_path);
        let (raw_bucket, raw_key) = rest.split_once('/').unwrap_or((rest, ""));
        let query = strip_auth_params(raw_query);
        let upstream_target = if query.is_empty() {
            upstream_path.clone()
        } else {
            format!("{upstream_path}?{query}")
        };
        Target {
            bucket: decode(raw_bucket),
            key: decode(raw_key),
            upstream_target,
            virtual_host_bucket: vhost_bucket,
        }
    }
}

/// A request as received, before anything about it is verified.
#[derive(Debug)]
pub struct S3Request<'a> {
    /// The method as sent.
    pub method: &'a http::Method,
    /// The path of the raw request target, still percent-encoded, without `?` and query.
    pub raw_path: &'a str,
    /// The raw query without the leading `?`; empty when there is none.
    pub raw_query: &'a str,
    /// The headers; on HTTP/2 a copy with `host` set from `:authority` (that is what is signed).
    pub headers: Cow<'a, http::HeaderMap>,
    /// Where the request points.
    pub target: Target,
}

impl<'a> S3Request<'a> {
    /// Read a request head: `raw_target` is the request target as received (path and query),
    /// `authority` the URI's authority (HTTP/2's `:authority`), `suffixes` the configured
    /// virtual-host suffixes. Only a request target that is not UTF-8 is refused here.
    pub fn parse(
        method: &'a http::Method,
        raw_target: &'a [u8],
        authority: Option<&str>,
        headers: &'a http::HeaderMap,
        suffixes: &[String],
    ) -> Result<S3Request<'a>, S3Error> {
        let (raw_path, raw_query) = split_target(raw_target).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The request target is not valid UTF-8.",
            )
        })?;
        let headers = with_host_from_authority(headers, authority);
        let host = host_of(&headers);
        let target = Target::resolve(raw_path, raw_query, host, suffixes);
        Ok(S3Request {
            method,
            raw_path,
            raw_query,
            headers,
            target,
        })
    }

    /// The `Host` value (on HTTP/2, `:authority`); empty when absent.
    pub fn host(&self) -> &str {
        host_of(&self.headers)
    }

    /// The parts a signature covers, for the verifiers.
    pub fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            method: self.method.as_str(),
            raw_path: self.raw_path,
            raw_query: self.raw_query,
            headers: &self.headers,
        }
    }

    /// Read or write: what the scopes are checked for. Methods S3 does not have are refused.
    pub fn action(&self) -> Result<Action, S3Error> {
        Action::for_method(self.method.as_str()).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::MethodNotAllowed,
                format!("The method {} is not allowed.", self.method),
            )
        })
    }
}

/// Where a request points, before anything about it is verified (CORS rules, recognising a form
/// upload): like [`S3Request::parse`] without copying the headers; `None` when the request
/// target is not UTF-8.
pub fn target_of(
    raw_target: &[u8],
    authority: Option<&str>,
    headers: &http::HeaderMap,
    suffixes: &[String],
) -> Option<Target> {
    let (raw_path, raw_query) = split_target(raw_target)?;
    let host = match host_of(headers) {
        "" => authority.unwrap_or(""),
        host => host,
    };
    Some(Target::resolve(raw_path, raw_query, host, suffixes))
}

/// Path and query of a request target (`None` when it is not UTF-8).
fn split_target(raw_target: &[u8]) -> Option<(&str, &str)> {
    let raw = std::str::from_utf8(raw_target).ok()?;
    Some(raw.split_once('?').unwrap_or((raw, "")))
}

/// On HTTP/2 the signed `host` is `:authority`: a copy of the headers with it, only then.
fn with_host_from_authority<'a>(
    headers: &'a http::HeaderMap,
    authority: Option<&str>,
) -> Cow<'a, http::HeaderMap> {
    match authority {
        Some(authority) if !headers.contains_key(header::HOST) => {
            let mut h = headers.clone();
            if let Ok(v) = http::HeaderValue::from_str(authority) {
                h.insert(header::HOST, v);
            }
            Cow::Owned(h)
        }
        _ => Cow::Borrowed(headers),
    }
}

fn host_of(headers: &http::HeaderMap) -> &str {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Whether a request is a browser POST upload: `POST` of `multipart/form-data` to a bucket.
pub fn is_form_upload(method: &http::Method, headers: &http::HeaderMap, key: &str) -> bool {
    method == http::Method::POST
        && key.is_empty()
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            })
}

/// Whether a key has a `.` or `..` path segment (after percent-decoding). S3 stores such keys
/// as they are, but a path-based backend (nginx) resolves them: `allowed/../other/x` would land
/// in `other/x`, outside the scope that was checked. Refused in front of `kind = "http"`.
pub fn has_dot_segments(key: &str) -> bool {
    key.split('/')
        .any(|segment| segment == "." || segment == "..")
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The bucket of a virtual-hosted-style Host, if the host is `<bucket>.<suffix>`.
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

/// The raw query without the presigned-auth parameters (compared case-insensitively, decoded).
pub fn strip_auth_params(raw_query: &str) -> String {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| {
            let name = pair.split_once('=').map(|(k, _)| k).unwrap_or(pair);
            let name = percent_decode_str(name)
                .decode_utf8_lossy()
                .to_ascii_lowercase();
            !AUTH_QUERY_PARAMS.contains(&name.as_str())
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_found_after_decoding() {
        for key in ["..", "a/../b", "a/./b", "a/..", "./a"] {
            assert!(has_dot_segments(key), "{key}");
        }
        for key in ["a..b", "a/.b/c", "...", "a/b.", ".hidden"] {
            assert!(!has_dot_segments(key), "{key}");
        }
        let t = Target::resolve("/b/a/%2E%2E/c", "", "h", &[]);
        assert!(has_dot_segments(&t.key));
    }

    #[test]
    fn path_style_keeps_the_encoded_key_and_drops_auth_params() {
        let t = Target::resolve(
            "/photos/a%20b/c%2Bd.jpg",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&x-id=GetObject&X-Amz-Signature=abc&X-Amz-Credential=x%2Fy",
            "127.0.0.1:8080",
            &[],
        );
        assert_eq!(t.bucket, "photos");
        assert_eq!(t.key, "a b/c+d.jpg");
        assert_eq!(t.upstream_target, "/photos/a%20b/c%2Bd.jpg?x-id=GetObject");
    }

    #[test]
    fn virtual_hosted_style_becomes_path_style() {
        let sfx = vec!["s3.example.test".to_string()];
        let t = Target::resolve("/dir/file.txt", "", "Photos.S3.Example.Test:8080", &sfx);
        assert_eq!(t.bucket, "photos");
        assert_eq!(t.key, "dir/file.txt");
        assert_eq!(t.upstream_target, "/photos/dir/file.txt");
        // The suffix alone is path-style.
        let t = Target::resolve("/b/k", "", "s3.example.test", &sfx);
        assert_eq!((t.bucket.as_str(), t.key.as_str()), ("b", "k"));
    }

    #[test]
    fn bucket_level_and_root_requests_have_empty_keys() {
        let t = Target::resolve("/bucket", "list-type=2&prefix=", "h", &[]);
        assert_eq!((t.bucket.as_str(), t.key.as_str()), ("bucket", ""));
        assert_eq!(t.upstream_target, "/bucket?list-type=2&prefix=");
        let t = Target::resolve("/", "", "h", &[]);
        assert_eq!((t.bucket.as_str(), t.key.as_str()), ("", ""));
    }

    #[test]
    fn ipv6_host_port_is_not_a_virtual_host() {
        assert_eq!(virtual_host_bucket("[::1]:8080", &["1]".to_string()]), None);
    }

    #[test]
    fn target_of_reads_host_then_authority_and_refuses_non_utf8() {
        let sfx = vec!["s3.example.test".to_string()];
        let mut headers = http::HeaderMap::new();
        // HTTP/2: no Host, the authority names the virtual host.
        let t = target_of(b"/k?x=1", Some("bkt.s3.example.test"), &headers, &sfx).unwrap();
        assert_eq!((t.bucket.as_str(), t.key.as_str()), ("bkt", "k"));
        // A Host header wins.
        headers.insert(
            header::HOST,
            http::HeaderValue::from_static("other.s3.example.test"),
        );
        let t = target_of(b"/k", Some("bkt.s3.example.test"), &headers, &sfx).unwrap();
        assert_eq!(t.bucket, "other");
        assert_eq!(target_of(b"/b/\xff", None, &headers, &sfx), None);
        // The same target as the full parse.
        let method = http::Method::GET;
        let parsed = S3Request::parse(&method, b"/k", None, &headers, &sfx).unwrap();
        assert_eq!(target_of(b"/k", None, &headers, &sfx), Some(parsed.target));
    }
}
