//! Where a request points: bucket and key, from a path-style or virtual-hosted-style request, and
//! the request target the backend receives (always path-style, without the auth parameters).

use percent_encoding::percent_decode_str;

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
        }
    }
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
}
