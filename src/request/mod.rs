//! What a request is, read once from its head: method, raw path and query (as signed), the
//! headers (with `host` on HTTP/2 too), and what it means: the bucket and key it points at
//! (`target`), its decoded query and operation (`query`), the other objects it names and what
//! the scopes must allow for it (`needs`). Authentication, authorization, the body plan and the
//! upstream head are all built from this one value, and the backend receives a request
//! re-encoded from it, so the backend cannot read the request differently from the proxy.

mod needs;
mod query;
mod target;

use std::borrow::Cow;

use http::header;

pub use needs::{delete_needs, is_delete_objects, source_objects, SourceObject, SOURCE_HEADERS};
pub use query::{is_operation, Param, Query, AUTH_QUERY_PARAMS, OPERATION_MODIFIERS};
pub use target::{
    check_bucket_name, check_key, upstream_path, virtual_host_bucket, Target, MAX_KEY_BYTES,
};

use crate::auth::{Need, RequestParts};
use crate::error::{S3Error, S3ErrorCode};

/// Headers a request carries once: two different values would let the proxy and the backend
/// each read another one (which Content-Length, which date, which digest). Identical repeats
/// (rclone sends `Content-Length` twice) are one value and reach the backend once.
pub const SINGLE_HEADERS: &[&str] = &[
    "authorization",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "expect",
    "host",
    "range",
    "x-amz-content-sha256",
    "x-amz-copy-source",
    "x-amz-copy-source-range",
    "x-amz-date",
    "x-amz-decoded-content-length",
    "x-amz-rename-source",
    "x-amz-sdk-checksum-algorithm",
    "x-amz-security-token",
    "x-amz-trailer",
];

/// Whether a header may occur once only (see [`SINGLE_HEADERS`]; every `x-amz-checksum-*`).
pub fn is_single_header(name: &str) -> bool {
    SINGLE_HEADERS.contains(&name) || name.starts_with("x-amz-checksum-")
}

/// Refuse a single header given twice with different values (surrounding spaces aside).
fn check_single_headers(headers: &http::HeaderMap) -> Result<(), S3Error> {
    for name in headers.keys() {
        if !is_single_header(name.as_str()) {
            continue;
        }
        let mut values = headers
            .get_all(name)
            .iter()
            .map(|v| v.as_bytes().trim_ascii());
        let first = values.next();
        if values.any(|v| Some(v) != first) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("The header {name} is given more than once with different values."),
            ));
        }
    }
    Ok(())
}

/// A request as received, before anything about it is verified.
#[derive(Debug)]
pub struct S3Request<'a> {
    /// The method as sent.
    pub method: &'a http::Method,
    /// The path of the request target (origin-form), still percent-encoded, without `?` and
    /// query: what SigV4 canonicalises.
    pub raw_path: &'a str,
    /// The raw query without the leading `?`; empty when there is none.
    pub raw_query: &'a str,
    /// The headers; on HTTP/2 a copy with `host` set from `:authority` (that is what is signed).
    pub headers: Cow<'a, http::HeaderMap>,
    /// Where the request points.
    pub target: Target,
    /// The objects its headers name besides the target (copy and rename sources).
    pub sources: Vec<SourceObject>,
}

impl<'a> S3Request<'a> {
    /// Read a request head: `raw_target` is the request target as received, `authority` the
    /// URI's authority (HTTP/2's `:authority`), `suffixes` the configured virtual-host
    /// suffixes. Refused here: a target that is not UTF-8, not origin-form (absolute-form only
    /// when its authority is the Host), an invalid bucket name or an unsafe key, a malformed
    /// query or source header.
    pub fn parse(
        method: &'a http::Method,
        raw_target: &'a [u8],
        authority: Option<&str>,
        headers: &'a http::HeaderMap,
        suffixes: &[String],
    ) -> Result<S3Request<'a>, S3Error> {
        check_single_headers(headers)?;
        let headers = with_host_from_authority(headers, authority);
        let host = host_of(&headers);
        let (raw_path, raw_query) = split_target(raw_target, host)?;
        let target = Target::resolve(raw_path, raw_query, host, suffixes)?;
        let sources = source_objects(&headers)?;
        Ok(S3Request {
            method,
            raw_path,
            raw_query,
            headers,
            target,
            sources,
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

    /// Everything the scopes must allow for this request (see `needs::needs`). Methods S3
    /// does not have are refused.
    pub fn needs(&self) -> Result<Vec<Need>, S3Error> {
        needs::needs(self.method, &self.target, &self.sources)
    }

    /// Whether this is DeleteObjects: its body names more keys to authorize.
    pub fn is_delete_objects(&self) -> bool {
        is_delete_objects(self.method, &self.target)
    }
}

/// Where a request points, before anything about it is verified (CORS rules, recognising a form
/// upload): like [`S3Request::parse`] without copying the headers; `None` when the request
/// would be refused there.
pub fn target_of(
    raw_target: &[u8],
    authority: Option<&str>,
    headers: &http::HeaderMap,
    suffixes: &[String],
) -> Option<Target> {
    let host = effective_host(headers, authority);
    let (raw_path, raw_query) = split_target(raw_target, host).ok()?;
    Target::resolve(raw_path, raw_query, host, suffixes).ok()
}

/// Path and query of a request target. Origin-form (`/path?query`) as S3 clients send it;
/// absolute-form (`http://host/path`, what a client sends to a forward proxy) only when its
/// authority is the `Host`, since the signature covers the `Host` and the backend would act on
/// the path alone.
fn split_target<'t>(raw_target: &'t [u8], host: &str) -> Result<(&'t str, &'t str), S3Error> {
    let raw = std::str::from_utf8(raw_target).map_err(|_| {
        S3Error::new(
            S3ErrorCode::InvalidURI,
            "The request target is not valid UTF-8.",
        )
    })?;
    let origin_form = if raw.starts_with('/') {
        raw
    } else {
        let rest = strip_scheme(raw).ok_or_else(target::invalid_uri)?;
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, origin) = rest.split_at(split);
        if !authority.eq_ignore_ascii_case(host) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "An absolute-form request target must name the Host.",
            ));
        }
        if !origin.starts_with('/') {
            return Err(target::invalid_uri());
        }
        origin
    };
    Ok(origin_form.split_once('?').unwrap_or((origin_form, "")))
}

/// `http://` or `https://` (any case) stripped, or `None`.
fn strip_scheme(raw: &str) -> Option<&str> {
    ["http://", "https://"].iter().find_map(|scheme| {
        let head = raw.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &raw[scheme.len()..])
    })
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

/// The host [`S3Request::parse`] reads (see `with_host_from_authority`): the `Host` header when
/// there is one, even one that is not visible ASCII (then `""`), else the authority. `target_of`
/// must read the same, or a request could name one bucket to CORS and another to the backend.
fn effective_host<'a>(headers: &'a http::HeaderMap, authority: Option<&'a str>) -> &'a str {
    match headers.get(header::HOST) {
        Some(_) => host_of(headers),
        None => authority
            .filter(|a| http::HeaderValue::from_str(a).is_ok())
            .unwrap_or(""),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Action;

    fn resolve(path: &str, query: &str) -> Result<Target, S3Error> {
        Target::resolve(path, query, "127.0.0.1:8080", &[])
    }

    fn code(result: Result<Target, S3Error>) -> S3ErrorCode {
        result.expect_err("refused").code
    }

    #[test]
    fn unsafe_key_segments_are_refused_after_decoding_and_odd_names_are_kept() {
        for path in [
            "/bkt/..",
            "/bkt/a/../b",
            "/bkt/a/./b",
            "/bkt/a/..",
            "/bkt/./a",
            "/bkt/a/%2E%2E/c",
            "/bkt/a%2F..%2Fc",
            "/bkt/a//b",
            "/bkt//a",
            "/bkt/a%2F%2Fb",
        ] {
            assert_eq!(
                code(resolve(path, "")),
                S3ErrorCode::InvalidArgument,
                "{path}"
            );
        }
        for (path, key) in [
            ("/bkt/a..b", "a..b"),
            ("/bkt/a/.b/c", "a/.b/c"),
            ("/bkt/...", "..."),
            ("/bkt/a/b.", "a/b."),
            ("/bkt/.hidden", ".hidden"),
            ("/bkt/dir/", "dir/"),
            ("/bkt/a%2Fb", "a/b"),
            ("/bkt/%E2%82%AC", "€"),
        ] {
            assert_eq!(resolve(path, "").unwrap().key, key, "{path}");
        }
        assert_eq!(code(resolve("/bkt/%FF", "")), S3ErrorCode::InvalidURI);
        let long = format!("/bkt/{}", "k".repeat(MAX_KEY_BYTES + 1));
        assert_eq!(code(resolve(&long, "")), S3ErrorCode::KeyTooLongError);
        assert!(resolve(&format!("/bkt/{}", "k".repeat(MAX_KEY_BYTES)), "").is_ok());
    }

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for name in ["bkt", "my.bucket-1", "a1b", &"b".repeat(63)] {
            assert!(check_bucket_name(name).is_ok(), "{name}");
        }
        for name in [
            "ab",
            &"b".repeat(64),
            "Bkt",
            "bk_t",
            "-bkt",
            "bkt-",
            ".bkt",
            "bk..t",
            "192.168.1.1",
            "xn--bkt",
            "sthree-bkt",
            "bkt-s3alias",
            "bkt--ol-s3",
            "bkt/other",
            "bkt%2F",
            "bk t",
            "",
        ] {
            assert!(check_bucket_name(name).is_err(), "{name}");
        }
        // An encoded slash in the first segment is part of the bucket name, so refused.
        assert_eq!(
            code(resolve("/bkt%2F..%2Fother/k", "")),
            S3ErrorCode::InvalidBucketName
        );
        assert_eq!(code(resolve("/BKT/k", "")), S3ErrorCode::InvalidBucketName);
        assert_eq!(code(resolve("//k", "")), S3ErrorCode::InvalidURI);
        assert_eq!(code(resolve("bkt/k", "")), S3ErrorCode::InvalidURI);
    }

    #[test]
    fn the_upstream_target_is_re_encoded_from_the_decoded_values() {
        let t = resolve(
            "/photos/a%20b/c+d%2Be.jpg",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&x-id=GetObject&X-Amz-Signature=abc&X-Amz-Credential=x%2Fy",
        )
        .unwrap();
        assert_eq!(t.bucket, "photos");
        assert_eq!(t.key, "a b/c+d+e.jpg");
        assert_eq!(
            t.upstream_target(),
            "/photos/a%20b/c%2Bd%2Be.jpg?x-id=GetObject"
        );
        // A key's encoded slash becomes a real one: the backend reads the same key.
        assert_eq!(
            resolve("/bkt/a%2Fb", "").unwrap().upstream_target(),
            "/bkt/a/b"
        );
        // Query names and values are decoded and encoded anew; a raw `+` is the plus that
        // was signed, sent as `%2B` so no backend reads a space.
        let t = resolve(
            "/bkt",
            "list-type=2&prefix=a+b%20c%2Fd&delimiter=%2F&uploads",
        )
        .unwrap();
        assert_eq!(t.query.get("prefix"), Some("a+b c/d"));
        assert_eq!(
            t.upstream_target(),
            "/bkt?list-type=2&prefix=a%2Bb%20c%2Fd&delimiter=%2F&uploads"
        );
    }

    #[test]
    fn the_query_is_read_one_way_only() {
        let err = resolve("/bkt", "prefix=a&prefix=b").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        let err = resolve("/bkt", "%75ploads&uploads").unwrap_err();
        assert_eq!(
            err.code,
            S3ErrorCode::InvalidArgument,
            "decoded names repeat"
        );
        let err = resolve("/bkt", "Uploads").unwrap_err();
        assert_eq!(
            err.code,
            S3ErrorCode::InvalidArgument,
            "a sub-resource in another case"
        );
        let err = resolve("/bkt", "prefix=%FF").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument);
        let t = resolve("/bkt/k", "tagging&versionId=3").unwrap();
        assert_eq!(t.query.operation().unwrap(), Some("tagging"));
        let t = resolve("/bkt", "uploads&delete").unwrap();
        assert_eq!(
            t.query.operation().unwrap_err().code,
            S3ErrorCode::InvalidRequest
        );
        // Every name SigV2 signs as an operation is one here too (one list for both).
        let t = resolve("/bkt/k", "append&position=0&tagging").unwrap();
        assert_eq!(
            t.query.operation().unwrap_err().code,
            S3ErrorCode::InvalidRequest
        );
        let t = resolve("/bkt/k", "versionId=3&response-content-type=a&partNumber=1").unwrap();
        assert_eq!(
            t.query.operation().unwrap(),
            None,
            "modifiers and overrides"
        );
        let err = resolve("/bkt", "Prefix=a").unwrap_err();
        assert_eq!(
            err.code,
            S3ErrorCode::InvalidArgument,
            "a listing argument in another case"
        );
    }

    #[test]
    fn virtual_hosted_style_becomes_path_style_and_its_bucket_is_checked() {
        let sfx = vec!["s3.example.test".to_string()];
        let t = Target::resolve("/dir/file.txt", "", "Photos.S3.Example.Test:8080", &sfx).unwrap();
        assert_eq!(t.bucket, "photos");
        assert_eq!(t.key, "dir/file.txt");
        assert_eq!(t.upstream_target(), "/photos/dir/file.txt");
        // The suffix alone is path-style.
        let t = Target::resolve("/b/k", "", "s3.example.test", &sfx);
        assert_eq!(t.unwrap_err().code, S3ErrorCode::InvalidBucketName);
        let t = Target::resolve("/bkt/k", "", "s3.example.test", &sfx).unwrap();
        assert_eq!((t.bucket.as_str(), t.key.as_str()), ("bkt", "k"));
        // A Host bucket with characters that would reach into another path.
        for host in [
            "a/b.s3.example.test",
            "x?y.s3.example.test",
            "a#b.s3.example.test",
            "..s3.example.test",
            "a..b.s3.example.test",
        ] {
            let err = Target::resolve("/k", "", host, &sfx).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidBucketName, "{host}");
        }
    }

    #[test]
    fn bucket_level_and_root_requests_have_empty_keys() {
        let t = resolve("/bucket", "list-type=2&prefix=").unwrap();
        assert_eq!((t.bucket.as_str(), t.key.as_str()), ("bucket", ""));
        assert_eq!(t.upstream_target(), "/bucket?list-type=2&prefix=");
        let t = resolve("/bucket/", "").unwrap();
        assert_eq!((t.bucket.as_str(), t.key.as_str()), ("bucket", ""));
        let t = resolve("/", "").unwrap();
        assert_eq!((t.bucket.as_str(), t.key.as_str()), ("", ""));
        assert_eq!(t.upstream_target(), "/");
    }

    #[test]
    fn ipv6_host_port_is_not_a_virtual_host() {
        assert_eq!(virtual_host_bucket("[::1]:8080", &["1]".to_string()]), None);
    }

    fn parse_with<'a>(
        method: &'a http::Method,
        target: &'a [u8],
        headers: &'a http::HeaderMap,
    ) -> Result<S3Request<'a>, S3Error> {
        S3Request::parse(method, target, None, headers, &[])
    }

    fn host(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(header::HOST, http::HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn absolute_form_only_when_its_authority_is_the_host() {
        let get = http::Method::GET;
        let headers = host("127.0.0.1:8080");
        let r = parse_with(&get, b"http://127.0.0.1:8080/bkt/k?x-id=1", &headers).unwrap();
        assert_eq!((r.raw_path, r.raw_query), ("/bkt/k", "x-id=1"));
        assert_eq!(r.target.key, "k");
        let r = parse_with(&get, b"HTTPS://127.0.0.1:8080/bkt/k", &headers).unwrap();
        assert_eq!(r.raw_path, "/bkt/k");
        let err = parse_with(&get, b"http://other.test/bkt/k", &headers).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);
        for target in [
            &b"http://127.0.0.1:8080"[..],
            b"*",
            b"bkt/k",
            b"ftp://127.0.0.1:8080/bkt/k",
        ] {
            assert!(parse_with(&get, target, &headers).is_err(), "{target:?}");
        }
        assert_eq!(
            parse_with(&get, b"/b/\xff", &headers).unwrap_err().code,
            S3ErrorCode::InvalidURI
        );
    }

    #[test]
    fn target_of_reads_host_then_authority_and_agrees_with_parse() {
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

    #[test]
    fn target_of_does_not_fall_back_to_the_authority_when_the_host_is_not_ascii() {
        // Found by the request_target fuzz target: on HTTP/2 with a Host header holding a
        // non-ASCII byte, target_of took the authority's virtual-host bucket while the full
        // parse read the (unreadable) Host as none: two buckets for one request.
        let sfx = vec!["s3.example.test".to_string()];
        let mut headers = http::HeaderMap::new();
        headers.insert(
            header::HOST,
            http::HeaderValue::from_bytes(b"s\xd7.example.test").unwrap(),
        );
        let method = http::Method::DELETE;
        let authority = Some("bkt.s3.example.test");
        let parsed = S3Request::parse(&method, b"/joh7", authority, &headers, &sfx).unwrap();
        assert_eq!(parsed.target.bucket, "joh7");
        assert_eq!(
            target_of(b"/joh7", authority, &headers, &sfx),
            Some(parsed.target)
        );
    }

    #[test]
    fn a_single_header_may_repeat_only_with_the_same_value() {
        let put = http::Method::PUT;
        let mut headers = host("127.0.0.1:8080");
        headers.append("content-length", http::HeaderValue::from_static("5"));
        headers.append("content-length", http::HeaderValue::from_static(" 5"));
        headers.append("x-amz-meta-reviewedby", http::HeaderValue::from_static("a"));
        headers.append("x-amz-meta-reviewedby", http::HeaderValue::from_static("b"));
        assert!(parse_with(&put, b"/bkt/k", &headers).is_ok());
        for (name, other) in [
            ("content-length", "6"),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-checksum-crc32", "AAAAAA=="),
        ] {
            let mut twice = headers.clone();
            twice.append(name, http::HeaderValue::from_static("1"));
            twice.append(name, http::HeaderValue::from_str(other).unwrap());
            let err = parse_with(&put, b"/bkt/k", &twice).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{name}");
        }
        let mut hosts = headers.clone();
        hosts.append(header::HOST, http::HeaderValue::from_static("other.test"));
        assert!(parse_with(&put, b"/bkt/k", &hosts).is_err());
    }

    fn needs_of(method: &str, target: &str, extra: &[(&str, &str)]) -> Result<Vec<Need>, S3Error> {
        let method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut headers = host("127.0.0.1:8080");
        for (name, value) in extra {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        let request = parse_with(&method, target.as_bytes(), &headers)?;
        request.needs()
    }

    fn object(action: Action, bucket: &str, key: &str) -> Need {
        Need::Object {
            action,
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    #[test]
    fn object_requests_need_their_object_and_every_source() {
        assert_eq!(
            needs_of("GET", "/bkt/k", &[]).unwrap(),
            [object(Action::Read, "bkt", "k")]
        );
        assert_eq!(
            needs_of("HEAD", "/bkt/k?tagging", &[]).unwrap(),
            [object(Action::Read, "bkt", "k")]
        );
        assert_eq!(
            needs_of("DELETE", "/bkt/k", &[]).unwrap(),
            [object(Action::Write, "bkt", "k")]
        );
        assert_eq!(
            needs_of("POST", "/bkt/k?select&select-type=2", &[]).unwrap(),
            [object(Action::Read, "bkt", "k")]
        );
        assert_eq!(
            needs_of("POST", "/bkt/k?uploads", &[]).unwrap(),
            [object(Action::Write, "bkt", "k")]
        );
        let copy = needs_of(
            "PUT",
            "/bkt/allowed/x",
            &[("x-amz-copy-source", "/other-bkt/secret%20file?versionId=v1")],
        )
        .unwrap();
        assert_eq!(
            copy,
            [
                object(Action::Write, "bkt", "allowed/x"),
                object(Action::Read, "other-bkt", "secret file")
            ]
        );
        let part_copy = needs_of(
            "PUT",
            "/bkt/k?partNumber=1&uploadId=u",
            &[("x-amz-copy-source", "bkt/src")],
        )
        .unwrap();
        assert_eq!(part_copy[1], object(Action::Read, "bkt", "src"));
        let rename = needs_of(
            "PUT",
            "/bkt/new?renameObject",
            &[("x-amz-rename-source", "/bkt/old")],
        )
        .unwrap();
        assert_eq!(
            rename[1..],
            [
                object(Action::Read, "bkt", "old"),
                object(Action::Write, "bkt", "old")
            ]
        );
        for (source, expected) in [
            ("/bkt/a/../secret", S3ErrorCode::InvalidArgument),
            ("/bkt/a%2F..%2Fsecret", S3ErrorCode::InvalidArgument),
            ("/BKT/k", S3ErrorCode::InvalidBucketName),
            ("/bkt%2F..%2Fx/k", S3ErrorCode::InvalidBucketName),
            ("/bkt", S3ErrorCode::InvalidArgument),
            ("/bkt/k?other=1", S3ErrorCode::InvalidArgument),
            (
                "arn:aws:s3:us-east-1:1:accesspoint/ap/object/k",
                S3ErrorCode::NotImplemented,
            ),
        ] {
            let err = needs_of("PUT", "/bkt/k", &[("x-amz-copy-source", source)]).unwrap_err();
            assert_eq!(err.code, expected, "{source}");
        }
        let twice = [
            ("x-amz-copy-source", "/bkt/a"),
            ("x-amz-copy-source", "/bkt/b"),
        ];
        assert_eq!(
            needs_of("PUT", "/bkt/k", &twice).unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
        let on_get = needs_of("GET", "/bkt/k", &[("x-amz-copy-source", "/bkt/a")]);
        assert_eq!(on_get.unwrap_err().code, S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn bucket_and_service_requests_need_what_they_reveal_or_change() {
        let listing = |prefix: &str| Need::Listing {
            bucket: "bkt".into(),
            prefix: prefix.into(),
        };
        assert_eq!(needs_of("GET", "/bkt", &[]).unwrap(), [listing("")]);
        assert_eq!(
            needs_of("GET", "/bkt/?list-type=2&prefix=photos%2F", &[]).unwrap(),
            [listing("photos/")]
        );
        assert_eq!(
            needs_of("GET", "/bkt?versions&prefix=a", &[]).unwrap(),
            [listing("a")]
        );
        assert_eq!(
            needs_of("GET", "/bkt?uploads&prefix=u", &[]).unwrap(),
            [listing("u")]
        );
        let info = Need::SomeKeyIn {
            action: Action::Read,
            bucket: "bkt".into(),
        };
        assert_eq!(
            needs_of("HEAD", "/bkt", &[]).unwrap(),
            std::slice::from_ref(&info)
        );
        assert_eq!(needs_of("GET", "/bkt?location", &[]).unwrap(), [info]);
        let whole = Need::WholeBucket {
            action: Action::Write,
            bucket: "bkt".into(),
        };
        for (method, target) in [
            ("PUT", "/bkt"),
            ("DELETE", "/bkt"),
            ("PUT", "/bkt?policy"),
            ("POST", "/bkt?anything"),
        ] {
            assert_eq!(
                needs_of(method, target, &[]).unwrap(),
                std::slice::from_ref(&whole),
                "{method} {target}"
            );
        }
        let delete = needs_of("POST", "/bkt?delete", &[]).unwrap();
        assert_eq!(
            delete,
            [Need::SomeKeyIn {
                action: Action::Write,
                bucket: "bkt".into()
            }]
        );
        assert_eq!(needs_of("GET", "/", &[]).unwrap(), [Need::AllBuckets]);
        assert_eq!(
            needs_of("PUT", "/", &[]).unwrap_err().code,
            S3ErrorCode::MethodNotAllowed
        );
        assert_eq!(
            needs_of("PATCH", "/bkt/k", &[]).unwrap_err().code,
            S3ErrorCode::MethodNotAllowed
        );
    }
}
