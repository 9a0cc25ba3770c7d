//! The SigV2 string to sign ("Signing and authenticating REST requests", S3 API Reference):
//!
//! ```text
//! StringToSign = HTTP-Verb + "\n" + Content-MD5 + "\n" + Content-Type + "\n" + Date + "\n"
//!              + CanonicalizedAmzHeaders + CanonicalizedResource
//! ```
//!
//! Built as bytes: header values and decoded query values need not be UTF-8, and the signature
//! is over exactly the bytes the client signed. Mapping them to a `String` lossily first would
//! let two different requests share one string to sign.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use super::{sub_resources, V2Kind};

/// `http` has no constant for it.
pub const CONTENT_MD5: &str = "content-md5";

/// The prefix of the headers that go into CanonicalizedAmzHeaders.
pub const AMZ_PREFIX: &str = "x-amz-";

/// Split a raw query into `(decoded name, raw value)`; `None` for a parameter without `=`.
/// Empty segments (`a&&b`, a trailing `&`) carry no parameter.
pub fn query_params(raw_query: &str) -> impl Iterator<Item = (Cow<'_, str>, Option<&str>)> {
    raw_query
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| match segment.split_once('=') {
            Some((name, value)) => (percent_decode_str(name).decode_utf8_lossy(), Some(value)),
            None => (percent_decode_str(segment).decode_utf8_lossy(), None),
        })
}

/// `%XX`-decode a query value. A raw `+` stays `+` (it is not form encoding: a base64
/// signature or a value botocore quoted with `quote` never uses `+` for a space).
pub fn decode_value(raw: &str) -> Vec<u8> {
    percent_decode_str(raw).collect()
}

/// The full string to sign of `kind`, as bytes. `date_line` is the `Date` header value (empty
/// when `x-amz-date` is sent) or, presigned, the `Expires` value.
pub fn string_to_sign_bytes(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &http::HeaderMap,
    virtual_host_bucket: Option<&str>,
    date_line: &str,
    kind: V2Kind,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + raw_path.len());
    // HTTP-Verb "\n"
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    // Content-MD5 "\n" and Content-Type "\n": the header value, empty when absent.
    for name in [CONTENT_MD5, http::header::CONTENT_TYPE.as_str()] {
        out.extend_from_slice(&plain_header_line(headers, raw_query, name, kind));
        out.push(b'\n');
    }
    // Date "\n"
    out.extend_from_slice(date_line.as_bytes());
    out.push(b'\n');
    // CanonicalizedAmzHeaders: each `name:value\n`.
    out.extend_from_slice(&canonicalized_amz_headers(headers, raw_query, kind));
    // CanonicalizedResource
    out.extend_from_slice(&canonicalized_resource(
        virtual_host_bucket,
        raw_path,
        raw_query,
    ));
    out
}

/// The Content-MD5 or Content-Type line. Repeated headers are joined with `,` so every value
/// the request carries is signed. Presigned, a client that sent none may have signed the value
/// it put in the query instead: botocore's `HmacV1QueryAuth._inject_signature` moves
/// `content-md5` and `content-type` from the signed headers into the URL, so the browser that
/// uses the URL does not have to send them.
fn plain_header_line(
    headers: &http::HeaderMap,
    raw_query: &str,
    name: &str,
    kind: V2Kind,
) -> Vec<u8> {
    let mut values = headers.get_all(name).iter().peekable();
    if values.peek().is_some() {
        return join_values(values.map(|v| v.as_bytes()));
    }
    if kind == V2Kind::Presigned {
        let from_query: Vec<Vec<u8>> = query_params(raw_query)
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| decode_value(v.unwrap_or("")))
            .collect();
        return join_values(from_query.iter().map(Vec::as_slice));
    }
    Vec::new()
}

/// Values joined with `,` (no space), each with folding whitespace removed.
fn join_values<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, value) in values.enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&unfold(value));
    }
    out
}

/// "Unfold long headers that span multiple lines (as allowed by RFC 2616, section 4.2) by
/// replacing the folding whitespace (including new-line) by a single space", then trim.
///
/// Only *folding* whitespace (a line break with the blanks around it) becomes one space; a run
/// of spaces inside a value is kept. That is what the page's rule says and what botocore
/// (`v.strip()`) and boto 2 sign; collapsing inner runs as SigV4 does would reject their
/// requests and let a value be changed (`a b` → `a  b`) without breaking the signature.
/// (`http::HeaderValue` cannot hold CR or LF, so folding only survives from other sources.)
pub fn unfold(value: &[u8]) -> Cow<'_, [u8]> {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let trimmed = trim(value);
    if !trimmed.iter().any(|b| *b == b'\r' || *b == b'\n') {
        return Cow::Borrowed(trimmed);
    }
    let mut out: Vec<u8> = Vec::with_capacity(trimmed.len());
    let mut i = 0;
    while let Some(&b) = trimmed.get(i) {
        if b == b'\r' || b == b'\n' {
            // Drop the blanks before the break, the break itself and the blanks after it.
            while out.last().is_some_and(blank) {
                out.pop();
            }
            while trimmed
                .get(i)
                .is_some_and(|c| *c == b'\r' || *c == b'\n' || blank(c))
            {
                i += 1;
            }
            out.push(b' ');
            continue;
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

/// Leading and trailing spaces, tabs and line breaks removed.
fn trim(value: &[u8]) -> &[u8] {
    let ws = |b: &u8| matches!(*b, b' ' | b'\t' | b'\r' | b'\n');
    let start = value.iter().position(|b| !ws(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !ws(b)).map_or(start, |i| i + 1);
    &value[start..end]
}

/// CanonicalizedAmzHeaders: every `x-amz-*` header, name lower-cased, sorted by name, repeated
/// headers' values joined with `,`, each value unfolded and trimmed, each `name:value\n`.
///
/// Presigned, `x-amz-*` query parameters count as headers too: botocore's `HmacV1QueryAuth`
/// signs them as headers and then moves them into the URL (`x-amz-acl`, `x-amz-meta-*`,
/// `x-amz-security-token`), so a URL it made only verifies if they are read back from there.
/// Signing more than a client sent can only make a request fail, never pass unsigned data.
pub fn canonicalized_amz_headers(
    headers: &http::HeaderMap,
    raw_query: &str,
    kind: V2Kind,
) -> Vec<u8> {
    // (lower-case name, values in the order received; header values before query values).
    let mut entries: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    let mut add = |name: &str, value: Vec<u8>| {
        match entries.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value),
            None => entries.push((name.to_owned(), vec![value])),
        };
    };
    for (name, value) in headers {
        // `http` stores header names lower-cased already.
        if name.as_str().starts_with(AMZ_PREFIX) {
            add(name.as_str(), value.as_bytes().to_vec());
        }
    }
    if kind == V2Kind::Presigned {
        for (name, value) in query_params(raw_query) {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with(AMZ_PREFIX) {
                add(&lower, decode_value(value.unwrap_or("")));
            }
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (name, values) in &entries {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&join_values(values.iter().map(Vec::as_slice)));
        out.push(b'\n');
    }
    out
}

/// CanonicalizedResource: `/bucket` when the bucket came from the Host (virtual-hosted or
/// CNAME), then the path exactly as sent (still percent-encoded, not normalised), then the
/// signed sub-resources.
///
/// Sub-resources (every name [`sub_resources::is_signed`] accepts: what clients sign and every
/// other name that selects an S3 operation) are sorted by name (stable: repeats keep their
/// order), written `?name` or `?name=value` (`&` between), as botocore's `canonical_resource`
/// and boto 2's `canonical_string` do: a parameter sent without `=` is signed without `=`, and
/// the value is percent-*decoded* (`unquote_v`). The page agrees for the `response-*`
/// overrides ("When signing, you do not encode these values"); for `uploadId`, `versionId` and
/// `partNumber` the clients decode too, and their values are URL-safe in practice, so decoding
/// all of them is the one rule that matches every client. The name is matched after decoding,
/// so `?%61cl` cannot reach the backend as an unsigned `?acl`.
pub fn canonicalized_resource(
    virtual_host_bucket: Option<&str>,
    raw_path: &str,
    raw_query: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw_path.len() + 32);
    if let Some(bucket) = virtual_host_bucket {
        out.push(b'/');
        out.extend_from_slice(bucket.as_bytes());
    }
    out.extend_from_slice(raw_path.as_bytes());
    let mut signed: Vec<(Cow<'_, str>, Option<&str>)> = query_params(raw_query)
        .filter(|(name, _)| sub_resources::is_signed(name))
        .collect();
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    for (n, (name, value)) in signed.iter().enumerate() {
        out.push(if n == 0 { b'?' } else { b'&' });
        out.extend_from_slice(name.as_bytes());
        if let Some(value) = value {
            out.push(b'=');
            out.extend_from_slice(&decode_value(value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(bucket: Option<&str>, path: &str, query: &str) -> String {
        String::from_utf8(canonicalized_resource(bucket, path, query)).expect("utf-8")
    }

    #[test]
    fn only_sub_resources_are_in_the_resource() {
        assert_eq!(resource(None, "/b/k", "foo=bar"), "/b/k");
        assert_eq!(resource(None, "/b/k", "foo=bar&acl"), "/b/k?acl");
        assert_eq!(
            resource(Some("b"), "/k", "uploadId=abc&partNumber=2&x=1"),
            "/b/k?partNumber=2&uploadId=abc"
        );
        // Byte order: `versionId` < `versioning` < `versions`.
        assert_eq!(
            resource(None, "/b", "versions&versioning&versionId=v"),
            "/b?versionId=v&versioning&versions"
        );
    }

    #[test]
    fn operation_selectors_are_in_the_resource_listing_parameters_are_not() {
        assert_eq!(
            resource(
                None,
                "/b/k",
                "retention&prefix=a&list-type=2&x-id=GetObject&id=7"
            ),
            "/b/k?retention"
        );
        assert_eq!(
            resource(None, "/b", "publicAccessBlock&acl&max-keys=2"),
            "/b?acl&publicAccessBlock"
        );
        // Another case is signed as it was sent.
        assert_eq!(resource(None, "/b/k", "Retention=x"), "/b/k?Retention=x");
    }

    #[test]
    fn sub_resource_values_are_decoded_and_names_matched_decoded() {
        assert_eq!(
            resource(
                None,
                "/b/k",
                "response-content-disposition=attachment%3B%20filename%3D%22a%2Bb.txt%22"
            ),
            "/b/k?response-content-disposition=attachment; filename=\"a+b.txt\""
        );
        assert_eq!(resource(None, "/b/k", "%61cl"), "/b/k?acl");
        // `acl=` keeps its `=`: what was sent is what is signed.
        assert_eq!(resource(None, "/b/k", "acl="), "/b/k?acl=");
        // A plus is a plus.
        assert_eq!(
            resource(None, "/b/k", "versionId=a+b"),
            "/b/k?versionId=a+b"
        );
    }

    #[test]
    fn path_is_kept_as_sent() {
        assert_eq!(resource(None, "/b/a%2fb/../c%7E", ""), "/b/a%2fb/../c%7E");
    }

    #[test]
    fn unfolding_trims_and_replaces_line_folds_only() {
        assert_eq!(unfold(b"  a  b \t").as_ref(), b"a  b");
        assert_eq!(unfold(b"a \r\n   b\n\tc").as_ref(), b"a b c");
        assert_eq!(unfold(b"   ").as_ref(), b"");
    }

    #[test]
    fn amz_headers_are_lower_cased_sorted_and_joined() {
        let mut h = http::HeaderMap::new();
        h.append("X-Amz-Meta-B", http::HeaderValue::from_static(" two "));
        h.append("x-amz-meta-a", http::HeaderValue::from_static("1"));
        h.append("X-Amz-Meta-B", http::HeaderValue::from_static("three"));
        h.append("x-other", http::HeaderValue::from_static("no"));
        let out = canonicalized_amz_headers(&h, "x-amz-meta-c=q", V2Kind::Header);
        assert_eq!(out, b"x-amz-meta-a:1\nx-amz-meta-b:two,three\n");
        let out =
            canonicalized_amz_headers(&h, "X-Amz-Meta-C=q%20r&x-amz-meta-a=2", V2Kind::Presigned);
        assert_eq!(
            out,
            b"x-amz-meta-a:1,2\nx-amz-meta-b:two,three\nx-amz-meta-c:q r\n"
        );
    }
}
