//! The `request_target` target: the request model (`request::S3Request::parse`, which runs
//! `Target::resolve` and `Query::parse`), what the store makes of it (`BucketOp::of`,
//! `MultipartOp::of`), and "one request, one meaning": the upstream target the proxy writes, read
//! again, is the same request.

use super::{Head, SUFFIX};
use crate::request::{source_objects, target_of, Query, S3Request, Target};
use crate::store::multipart::MultipartOp;
use crate::store::BucketOp;

/// A header the fuzz input may carry to stand for HTTP/2's `:authority` (removed from the
/// headers before parsing).
const AUTHORITY_HEADER: &str = "x-fuzz-authority";

/// The `request_target` entry point: a [`Head`] read as the proxy reads every request.
///
/// Checked: the resolved target, re-encoded for the backend and resolved again (path-style,
/// no suffix), gives the same bucket, key and query; the query re-encoded parses to itself;
/// the source headers re-encoded name the same objects; `request::target_of` (used before
/// authentication, for CORS and forms) sees the same target as the full parse.
pub fn request_target(data: &[u8]) {
    let Some(mut head) = Head::read(data) else {
        return;
    };
    let authority = head
        .headers
        .remove(AUTHORITY_HEADER)
        .and_then(|v| v.to_str().ok().map(str::to_owned));
    let suffixes = [SUFFIX.to_owned()];
    if let Ok(raw) = std::str::from_utf8(&head.target) {
        // The parts on their own, as other callers use them.
        let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
        let _ = Target::resolve(path, query, head.host(), &suffixes);
        if let Ok(query) = Query::parse(query) {
            let _ = query.operation();
            assert_eq!(Query::parse(&query.encode()).ok(), Some(query));
        }
    }
    let parsed = S3Request::parse(
        &head.method,
        &head.target,
        authority.as_deref(),
        &head.headers,
        &suffixes,
    );
    let Ok(request) = parsed else {
        return;
    };
    let _ = request.needs();
    let _ = request.is_delete_objects();
    let _ = BucketOp::of(request.method, &request.target);
    let _ = MultipartOp::of(request.method, &request.target);

    let target = &request.target;
    let upstream = target.upstream_target();
    let (path, query) = upstream.split_once('?').unwrap_or((&upstream, ""));
    let again = Target::resolve(path, query, "", &[]);
    let expected = Target {
        virtual_host_bucket: None,
        ..target.clone()
    };
    assert_eq!(again.as_ref().ok(), Some(&expected), "{upstream:?}");

    let early = target_of(&head.target, authority.as_deref(), &head.headers, &suffixes);
    assert_eq!(early.as_ref(), Some(target), "target_of disagrees");

    let mut headers = http::HeaderMap::new();
    for source in &request.sources {
        let value = http::HeaderValue::from_str(&source.encode());
        headers.insert(source.header, value.expect("an encoded source is ASCII"));
    }
    assert_eq!(
        source_objects(&headers).ok().as_ref(),
        Some(&request.sources),
        "re-encoded sources"
    );
}
