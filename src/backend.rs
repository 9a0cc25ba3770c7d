//! The backend: what each `upstream.kind` can store, how it is reached, the request head it
//! receives and how its answers become S3's. Every rule that depends on the kind lives here, so
//! a new kind of backend is one more arm in these functions.
//!
//! Whatever the kind, the backend receives a request rebuilt from the request model (path and
//! query re-encoded, source headers re-encoded, auth and stripped headers gone, the identity
//! set once), and its `Server` header and a redirect's `Location` never reach clients.
//!
//! - `kind = "s3"`: an S3 server without auth; its answers otherwise pass through.
//! - `kind = "http"`: a plain HTTP/WebDAV store (nginx): plain objects (no sub-resources or
//!   folder keys), and its answers are made S3-like (PUT → 200 with an MD5 ETag, DELETE of a
//!   missing key → 204, errors and redirects → S3 XML); the requests `store::BucketOp` names
//!   (listings, buckets, DeleteObjects, CopyObject) are answered by the proxy from the store,
//!   the others are `NotImplemented`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::header;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use pingora::ErrorType;

use crate::config::{Config, UpstreamConfig, UpstreamKind};
use crate::error::{S3Error, S3ErrorCode};
use crate::request::{
    is_single_header, upstream_path, S3Request, SourceObject, Target, OPERATION_MODIFIERS,
};
use crate::store::multipart::MultipartOp;
pub use crate::store::RESERVED_SEGMENT;
use crate::store::{check_object_key, BucketOp};

/// The backend and the header that tells it who signed.
#[derive(Debug, Clone)]
pub struct Backend {
    /// `[upstream]`.
    pub upstream: UpstreamConfig,
    /// `auth.identity_header`.
    pub identity_header: String,
}

/// How the body of a PUT reaches the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamLength {
    /// Exactly this many bytes (`Content-Length`).
    Exact(u64),
    /// Length unknown when the head is sent: `Transfer-Encoding: chunked`.
    Chunked,
}

/// The most request-body bytes Pingora 0.9 keeps to send again on a retry (its
/// `BODY_BUF_LIMIT`, not exported). Past it the retry buffer is "truncated" and Pingora's
/// default `error_while_proxy` gives up instead of retrying.
pub const PINGORA_RETRY_BUFFER: u64 = 64 * 1024;

/// Which backend connection a proxied request goes on.
///
/// A pooled connection can have been closed by the backend (its keepalive expired, it
/// restarted, a NAT or load balancer in between forgot the flow) while it still looks alive
/// to the proxy: the request then fails on it. Pingora retries such a failure on a new
/// connection, replaying the body from its retry buffer through `upstream_request_filter`
/// (which resets the body check) and `request_body_filter` (which verifies it again), but only
/// for an idempotent method whose body it still holds whole. A request it could not retry
/// never takes the risk: it goes on a connection of its own. So a stale pooled connection
/// costs a retry at most, never an upload; the bytes that reach the backend are always the
/// verified ones, replayed or not. `upstream.pool_idle_timeout` (shorter than the backend's
/// keepalive) keeps the retries rare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionUse {
    /// An idle pooled connection if there is one, pooled again afterwards for
    /// `upstream.pool_idle_timeout`.
    Pooled,
    /// A new connection, never taken from or left in the pool: a non-idempotent method, or a
    /// body longer than [`PINGORA_RETRY_BUFFER`] or of unknown length.
    OneShot,
}

impl ConnectionUse {
    /// The connection for a request with this method, whether a body follows its head, and
    /// its head's headers (`Content-Length`).
    pub fn for_request(
        method: &http::Method,
        body_follows: bool,
        headers: &http::HeaderMap,
    ) -> ConnectionUse {
        let body_length = if body_follows {
            headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        } else {
            Some(0)
        };
        let replayable = body_length.is_some_and(|len| len <= PINGORA_RETRY_BUFFER);
        if method.is_idempotent() && replayable {
            ConnectionUse::Pooled
        } else {
            ConnectionUse::OneShot
        }
    }
}

/// The pool group of the next one-shot connection: each gets its own (group 0 is the shared
/// pool), so no other request ever finds it.
static NEXT_ONE_SHOT_GROUP: AtomicU64 = AtomicU64::new(1);

/// The S3 error for a failure to reach or hear from the backend: it cannot be reached
/// (refused, unreachable, no address: 503 `ServiceUnavailable`, which clients retry later),
/// it did not answer or take bytes within `upstream.read_timeout` / `write_timeout`
/// (504 `GatewayTimeout`), or it broke off the exchange (502 `BadGateway`).
pub fn upstream_failure(etype: &ErrorType) -> S3Error {
    match etype {
        ErrorType::ConnectTimedout
        | ErrorType::ConnectRefused
        | ErrorType::ConnectNoRoute
        | ErrorType::ConnectError
        | ErrorType::BindError
        | ErrorType::SocketError => S3Error::backend_unavailable(),
        ErrorType::ReadTimedout | ErrorType::WriteTimedout => S3Error::backend_timed_out(),
        _ => S3Error::backend_failed(),
    }
}

/// What to make of the backend's answer to a proxied request.
#[derive(Debug, PartialEq)]
pub enum AnswerMapping {
    /// Pass it on as it is.
    Unchanged,
    /// A stored PUT: 200, `ETag` = the payload's MD5, empty body.
    PutStored,
    /// A DELETE of a missing key: 204, as S3 deletes it successfully.
    DeletedMissing,
    /// An error: replace the answer by this S3 XML error.
    Error(S3Error),
}

impl Backend {
    /// The backend of a configuration.
    pub fn new(config: &Config) -> Backend {
        Backend {
            upstream: config.upstream.clone(),
            identity_header: config.auth.identity_header.clone(),
        }
    }

    /// Whether this is a plain HTTP store (`kind = "http"`).
    pub fn is_plain_store(&self) -> bool {
        self.upstream.kind == UpstreamKind::Http
    }

    /// Refuse what this kind of backend cannot do for a request; `Ok(Some(op))` for a request
    /// the proxy answers itself from a plain store (`store::bucket`: bucket-level requests,
    /// DeleteObjects, CopyObject), `Ok(None)` for one that goes to the backend.
    pub fn check_request(&self, request: &S3Request<'_>) -> Result<Option<BucketOp>, S3Error> {
        if !self.is_plain_store() {
            return Ok(None);
        }
        let target = &request.target;
        let method = request.method;
        // A plain HTTP store has objects only: the bucket-level requests it can answer are
        // answered from its folders; no multipart or sub-resources.
        if target.bucket.is_empty() || target.key.is_empty() {
            if let Some(op) = BucketOp::of(method, target)? {
                return Ok(Some(op));
            }
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "This backend stores objects only: bucket-level requests are not supported.",
            ));
        }
        // No reserved segment, no folder (a trailing '/').
        check_object_key(&target.key)?;
        if let Some(op) = MultipartOp::of(method, target)? {
            if let Some(source) = request.sources.first() {
                return Err(S3Error::new(
                    S3ErrorCode::NotImplemented,
                    format!(
                        "{}: copying into a part (UploadPartCopy) is not supported by this backend.",
                        source.header
                    ),
                ));
            }
            return Ok(Some(BucketOp::Multipart(op)));
        }
        if !matches!(method.as_str(), "GET" | "HEAD" | "PUT" | "DELETE") {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                format!("{method} on objects is not supported by this backend."),
            ));
        }
        // It would ignore the operation and act on the object itself: a PUT ?tagging would
        // overwrite the object with the tag document (an UploadPartCopy is refused here too).
        let operation = target.query.operation()?.or_else(|| {
            OPERATION_MODIFIERS
                .iter()
                .copied()
                .find(|name| target.query.has(name))
        });
        if let Some(name) = operation {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                format!("?{name} is not supported by this backend."),
            ));
        }
        // The store would save an empty file for a copy: the proxy answers it (`store::objects`).
        if let Some(op) = BucketOp::of_object(method, target, &request.sources, &request.headers)? {
            return Ok(Some(op));
        }
        if let Some(source) = request.sources.first() {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                format!(
                    "{}: copying is not supported by this backend.",
                    source.header
                ),
            ));
        }
        Ok(None)
    }

    /// Whether the payload's MD5 must be computed for a request: the ETag of a PUT to a plain
    /// store, which does not give one (`upstream.md5_etag`).
    pub fn wants_md5_etag(&self) -> bool {
        self.is_plain_store() && self.upstream.md5_etag
    }

    /// The backend's address with the configured timeouts, for a connection used as `usage`
    /// says; `None` when the name does not resolve. Resolved per connection, as compose and
    /// Kubernetes names may move.
    pub async fn peer(&self, usage: ConnectionUse) -> Option<HttpPeer> {
        let up = &self.upstream;
        let addr = tokio::net::lookup_host(up.address.as_str())
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())?;
        let mut peer = HttpPeer::new(addr, false, String::new());
        peer.options.connection_timeout = Some(up.connect_timeout);
        peer.options.read_timeout = Some(up.read_timeout);
        peer.options.write_timeout = Some(up.write_timeout);
        match usage {
            ConnectionUse::Pooled => peer.options.idle_timeout = Some(up.pool_idle_timeout),
            ConnectionUse::OneShot => {
                // A group of its own (nothing pooled to take), and closed as soon as it is
                // released instead of waiting in the pool.
                peer.group_key = NEXT_ONE_SHOT_GROUP.fetch_add(1, Ordering::Relaxed);
                peer.options.idle_timeout = Some(Duration::ZERO);
            }
        }
        Some(peer)
    }

    /// Turn the client's head into the backend's: the path-style target re-encoded from the
    /// request model (auth parameters gone), source headers re-encoded the same way, no
    /// `Authorization` or `Expect`, none of `upstream.strip_headers`, for aws-chunked uploads the plain payload's length and no
    /// framing headers, the backend's own `Host`, and the identity header.
    pub fn rewrite_head(
        &self,
        upstream: &mut RequestHeader,
        target: &Target,
        sources: &[SourceObject],
        access_key: &str,
        decoded_length: Option<u64>,
    ) -> pingora::Result<()> {
        upstream.set_raw_path(target.upstream_target().as_bytes())?;
        for source in sources {
            upstream.insert_header(source.header, source.encode())?;
        }
        upstream.remove_header(&header::AUTHORIZATION);
        upstream.remove_header(&header::EXPECT);
        fold_repeated_headers(upstream)?;
        if let Some(decoded_length) = decoded_length {
            strip_aws_chunked_framing(upstream, decoded_length)?;
        }
        upstream.insert_header(header::HOST, self.upstream.address.as_str())?;
        for name in &self.upstream.strip_headers {
            remove_every_spelling(upstream, name);
        }
        remove_every_spelling(upstream, &self.identity_header);
        upstream.insert_header(self.identity_header.clone(), access_key)?;
        Ok(())
    }

    /// The head of the `PUT` that stores a POST form's file: `/{bucket}/{key}`, its length, the
    /// form's header fields and the identity header.
    pub fn form_put_head(
        &self,
        bucket: &str,
        key: &str,
        length: UpstreamLength,
        headers: &[(String, String)],
        access_key: &str,
    ) -> Result<RequestHeader, S3Error> {
        let path = upstream_path(bucket, key);
        let mut head = RequestHeader::build("PUT", path.as_bytes(), Some(8 + headers.len()))
            .map_err(|_| S3Error::internal())?;
        let mut set = |name: &str, value: &str| -> Result<(), S3Error> {
            head.insert_header(name.to_string(), value)
                .map(|_| ())
                .map_err(|_| {
                    S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        format!("The form field {name} is not a valid header value."),
                    )
                })
        };
        set("host", &self.upstream.address)?;
        match length {
            UpstreamLength::Exact(n) => set("content-length", &n.to_string())?,
            UpstreamLength::Chunked => set("transfer-encoding", "chunked")?,
        }
        for (name, value) in headers {
            set(name, value)?;
        }
        set(&self.identity_header, access_key)?;
        Ok(head)
    }

    /// Headers of an answer with `status` that must not reach clients, whatever the kind: the
    /// backend's software (`Server: nginx/…`), and a redirect's `Location`, which names the
    /// backend's own address (a client following it would go around the proxy).
    pub fn hidden_answer_headers(&self, status: u16) -> &'static [http::HeaderName] {
        let is_redirect = (300..400).contains(&status) && status != 304;
        if is_redirect {
            &[header::SERVER, header::LOCATION]
        } else {
            &[header::SERVER]
        }
    }

    /// What the answer of `status` to a `method` request becomes.
    pub fn map_answer(&self, method: &http::Method, status: u16) -> AnswerMapping {
        if !self.is_plain_store() {
            return AnswerMapping::Unchanged;
        }
        if method == http::Method::PUT && matches!(status, 200 | 201 | 204) {
            // S3 answers a PUT with 200 and the payload's MD5 as ETag; s3cmd and minio check it.
            AnswerMapping::PutStored
        } else if method == http::Method::DELETE && status == 404 {
            AnswerMapping::DeletedMissing
        } else if matches!(status, 301 | 302 | 303 | 307 | 308) {
            // A store redirects a "folder" to its slash form, naming its own address: S3 has no
            // folders, so the key does not exist (304 Not Modified is an answer, not a redirect).
            AnswerMapping::Error(S3Error::new(
                S3ErrorCode::NoSuchKey,
                "The specified key does not exist.",
            ))
        } else if status >= 400 {
            AnswerMapping::Error(status_error(status))
        } else {
            AnswerMapping::Unchanged
        }
    }
}

/// The S3 error for a backend's error status.
pub fn status_error(status: u16) -> S3Error {
    let code = S3ErrorCode::from_backend_status(status);
    let message = match code {
        S3ErrorCode::NoSuchKey => "The specified key does not exist.".to_string(),
        _ => format!("The backend answered {status}."),
    };
    S3Error::new(code, message)
}

/// A header the client repeated reaches the backend as one: a single header (identical
/// values, `request::SINGLE_HEADERS`) once, any other as the comma-joined value that SigV4 and
/// SigV2 sign (`x-amz-meta-reviewedby: a` twice is `a,b`), which S3 servers such as s3s-fs take
/// where they refuse the repetition.
fn fold_repeated_headers(upstream: &mut RequestHeader) -> pingora::Result<()> {
    let repeated: Vec<http::HeaderName> = upstream
        .headers
        .keys()
        .filter(|name| upstream.headers.get_all(*name).iter().nth(1).is_some())
        .cloned()
        .collect();
    for name in repeated {
        let values: Vec<&[u8]> = upstream
            .headers
            .get_all(&name)
            .iter()
            .map(|v| v.as_bytes().trim_ascii())
            .collect();
        let folded = if is_single_header(name.as_str()) {
            values[0].to_vec()
        } else {
            values.join(&b","[..])
        };
        let value = http::HeaderValue::from_bytes(&folded).map_err(|_| {
            pingora::Error::explain(pingora::ErrorType::InvalidHTTPHeader, "unfoldable header")
        })?;
        upstream.insert_header(name, value)?;
    }
    Ok(())
}

/// Remove every header a backend could read as `name`, however spelled: CGI, WSGI and many
/// frameworks map `x_forwarded_user` and `x-forwarded-user` to the same name, so a client-sent
/// underscore spelling would stand beside (or before) the one the proxy sets.
fn remove_every_spelling(upstream: &mut RequestHeader, identity: &str) {
    let same = |name: &str| {
        name.len() == identity.len()
            && name.bytes().zip(identity.bytes()).all(|(a, b)| {
                let fold = |c: u8| {
                    if c == b'_' {
                        b'-'
                    } else {
                        c.to_ascii_lowercase()
                    }
                };
                fold(a) == fold(b)
            })
    };
    let spellings: Vec<http::HeaderName> = upstream
        .headers
        .keys()
        .filter(|name| same(name.as_str()))
        .cloned()
        .collect();
    for name in spellings {
        upstream.remove_header(&name);
    }
}

/// The backend gets an aws-chunked upload's plain payload: its exact length, no aws-chunked
/// framing, coding or trailer headers.
fn strip_aws_chunked_framing(
    upstream: &mut RequestHeader,
    decoded_length: u64,
) -> pingora::Result<()> {
    upstream.remove_header(&header::TRANSFER_ENCODING);
    upstream.insert_header(header::CONTENT_LENGTH, decoded_length.to_string())?;
    upstream.remove_header("x-amz-decoded-content-length");
    upstream.remove_header("x-amz-trailer");
    upstream.insert_header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")?;
    let remaining = upstream
        .headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(without_aws_chunked);
    match remaining {
        Some(rest) if !rest.is_empty() => {
            upstream.insert_header(header::CONTENT_ENCODING, rest)?;
        }
        _ => {
            upstream.remove_header(&header::CONTENT_ENCODING);
        }
    }
    Ok(())
}

/// A Content-Encoding value without the `aws-chunked` token (other codings such as gzip stay).
fn without_aws_chunked(value: &str) -> String {
    value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn backend(kind: UpstreamKind) -> Backend {
        Backend {
            upstream: UpstreamConfig {
                address: "127.0.0.1:9000".into(),
                kind,
                connect_timeout: Duration::from_secs(5),
                read_timeout: Duration::from_secs(60),
                write_timeout: Duration::from_secs(60),
                readiness_probe: false,
                md5_etag: true,
                strip_headers: vec!["x-real-ip".into()],
                multipart_expiry: std::time::Duration::from_secs(60),
                complete_keepalive: std::time::Duration::from_secs(10),
                pool_idle_timeout: std::time::Duration::from_secs(30),
            },
            identity_header: "x-forwarded-user".into(),
        }
    }

    /// The check of a request with `headers` (besides Host) in front of `backend`.
    fn check(
        backend: &Backend,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Result<Option<BucketOp>, S3Error> {
        let method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut map = http::HeaderMap::new();
        map.insert(
            header::HOST,
            http::HeaderValue::from_static("127.0.0.1:8080"),
        );
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        let request = S3Request::parse(&method, target.as_bytes(), None, &map, &[])?;
        backend.check_request(&request)
    }

    #[test]
    fn a_plain_store_takes_plain_object_requests_only() {
        let http = backend(UpstreamKind::Http);
        for method in ["GET", "HEAD", "PUT", "DELETE"] {
            assert_eq!(check(&http, method, "/bkt/k", &[]), Ok(None), "{method}");
        }
        // Listings and buckets are answered by the proxy from the store's folders.
        for (method, target) in [
            ("GET", "/"),
            ("GET", "/bkt"),
            ("GET", "/bkt/"),
            ("GET", "/bkt?list-type=2&prefix=a/&delimiter="),
            ("HEAD", "/bkt"),
            ("PUT", "/bkt"),
            ("DELETE", "/bkt"),
            ("GET", "/bkt?location"),
            ("GET", "/bkt?versioning"),
            ("GET", "/bkt?uploads"),
            ("GET", "/bkt?versions"),
            ("POST", "/bkt/k?uploads"),
            ("PUT", "/bkt/k?partNumber=1&uploadId=AAAAAAAAAAAAAAAAAAAAAA"),
            ("POST", "/bkt/k?uploadId=AAAAAAAAAAAAAAAAAAAAAA"),
            ("POST", "/bkt?delete"),
        ] {
            assert!(
                matches!(check(&http, method, target, &[]), Ok(Some(_))),
                "{method} {target}"
            );
        }
        assert!(matches!(
            check(&http, "PUT", "/bkt/k", &[("x-amz-copy-source", "/bkt/src")]),
            Ok(Some(BucketOp::CopyObject(_)))
        ));
        assert!(check(&http, "GET", "/bkt/k", &[("x-id", "GetObject")]).is_ok());
        assert!(check(&http, "GET", "/bkt/k?x-id=GetObject", &[]).is_ok());
        for (method, target, headers) in [
            ("POST", "/bkt/k", &[][..]),
            // Bucket-level requests the store cannot answer (yet).
            ("PUT", "/bkt?policy", &[]),
            ("DELETE", "/bkt?cors", &[]),
            ("HEAD", "/", &[]),
            // It would overwrite the object with the tag document, or ignore the version.
            ("PUT", "/bkt/k?tagging", &[]),
            ("GET", "/bkt/k?versionId=3", &[]),
            (
                "PUT",
                "/bkt/k?partNumber=1&uploadId=AAAAAAAAAAAAAAAAAAAAAA",
                &[("x-amz-copy-source", "/bkt/src")],
            ),
            ("GET", "/bkt/k?attributes", &[]),
            // Names from the one list of S3 operations (auth::sigv2::sub_resources), however
            // recent: nginx would overwrite the object with what was meant as an append.
            ("PUT", "/bkt/k?append&position=0", &[]),
            ("GET", "/bkt/k?part=1", &[]),
            // A folder: deleting it would delete every key inside, reading it lists them.
            ("DELETE", "/bkt/dir/", &[]),
            ("GET", "/bkt/dir/", &[]),
            // Copies the store cannot make as asked: a version, a condition, a part.
            (
                "PUT",
                "/bkt/k",
                &[("x-amz-copy-source", "/bkt/src?versionId=1")],
            ),
            (
                "PUT",
                "/bkt/k",
                &[
                    ("x-amz-copy-source", "/bkt/src"),
                    ("x-amz-copy-source-if-match", "\"e\""),
                ],
            ),
        ] {
            let err = check(&http, method, target, headers).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::NotImplemented, "{method} {target}");
        }
        // An upload id that cannot be one never reaches a path on the store.
        let err = check(&http, "PUT", "/bkt/k?partNumber=1&uploadId=u", &[]).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::NoSuchUpload);
        // The proxy's own name on the store (nginx's `index` points into it).
        for target in ["/bkt/.s3-auth-proxy/no-index", "/bkt/a/.s3-auth-proxy"] {
            let err = check(&http, "PUT", target, &[]).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{target}");
            // Nor can a copy read it.
            let source = [("x-amz-copy-source", target)];
            let err = check(&http, "PUT", "/bkt/k", &source).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{target}");
        }
        let s3 = backend(UpstreamKind::S3);
        assert_eq!(check(&s3, "GET", "/", &[]), Ok(None));
        assert_eq!(check(&s3, "PUT", "/bkt/k?tagging", &[]), Ok(None));
        assert_eq!(
            check(&s3, "PUT", "/bkt/k", &[("x-amz-copy-source", "/bkt/src")]),
            Ok(None)
        );
        assert!(!s3.wants_md5_etag());
        assert!(http.wants_md5_etag());
    }

    #[test]
    fn a_plain_stores_answers_are_mapped_to_s3s() {
        let http = backend(UpstreamKind::Http);
        for status in [200, 201, 204] {
            assert_eq!(
                http.map_answer(&http::Method::PUT, status),
                AnswerMapping::PutStored
            );
        }
        assert_eq!(
            http.map_answer(&http::Method::DELETE, 404),
            AnswerMapping::DeletedMissing
        );
        match http.map_answer(&http::Method::GET, 404) {
            AnswerMapping::Error(err) => assert_eq!(err.code, S3ErrorCode::NoSuchKey),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            http.map_answer(&http::Method::GET, 200),
            AnswerMapping::Unchanged
        );
        for status in [301, 302, 303, 307, 308] {
            match http.map_answer(&http::Method::GET, status) {
                AnswerMapping::Error(err) => assert_eq!(err.code, S3ErrorCode::NoSuchKey),
                other => panic!("{status}: {other:?}"),
            }
        }
        assert_eq!(
            http.map_answer(&http::Method::GET, 304),
            AnswerMapping::Unchanged
        );
        for kind in [UpstreamKind::Http, UpstreamKind::S3] {
            let b = backend(kind);
            assert_eq!(b.hidden_answer_headers(200), &[header::SERVER]);
            assert_eq!(b.hidden_answer_headers(304), &[header::SERVER]);
            for status in [301, 302, 307] {
                assert_eq!(
                    b.hidden_answer_headers(status),
                    &[header::SERVER, header::LOCATION]
                );
            }
        }
        let s3 = backend(UpstreamKind::S3);
        assert_eq!(
            s3.map_answer(&http::Method::GET, 404),
            AnswerMapping::Unchanged
        );
        assert_eq!(
            s3.map_answer(&http::Method::PUT, 201),
            AnswerMapping::Unchanged
        );
    }

    #[test]
    fn the_upstream_head_is_path_style_without_auth_and_with_the_identity() {
        let http = backend(UpstreamKind::Http);
        let mut head = RequestHeader::build("PUT", b"/k?X-Amz-Signature=x", None).unwrap();
        for (name, value) in [
            ("host", "bkt.s3.example.test"),
            ("authorization", "AWS4-HMAC-SHA256 …"),
            ("expect", "100-continue"),
            ("content-encoding", "aws-chunked, gzip"),
            ("x-amz-decoded-content-length", "5"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("x-forwarded-user", "someone-else"),
            ("x_forwarded_user", "admin"),
            ("X_Forwarded-USER", "admin"),
            ("x-forwarded-users", "kept"),
        ] {
            head.insert_header(name, value).unwrap();
        }
        head.insert_header("x-amz-copy-source", "bkt/a%2Fb%20c")
            .unwrap();
        head.append_header("x-amz-meta-reviewedby", "joe@johnsmith.net")
            .unwrap();
        head.append_header("x-amz-meta-reviewedby", " jane@johnsmith.net")
            .unwrap();
        head.append_header("content-type", "text/plain").unwrap();
        head.append_header("content-type", "text/plain").unwrap();
        head.insert_header("X_Real_IP", "10.0.0.1").unwrap();
        let target = Target::resolve(
            "/k%2Fj",
            "X-Amz-Signature=x&uploadId=a+b",
            "bkt.s3.example.test",
            &["s3.example.test".to_string()],
        )
        .unwrap();
        let sources = vec![SourceObject {
            header: "x-amz-copy-source",
            bucket: "bkt".into(),
            key: "a/b c".into(),
            version_id: Some("v 1".into()),
        }];
        http.rewrite_head(&mut head, &target, &sources, "AKID", Some(5))
            .unwrap();
        assert_eq!(head.raw_path(), b"/bkt/k/j?uploadId=a%2Bb");
        let h = |name: &str| {
            head.headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(h("host").as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(h("authorization"), None);
        assert_eq!(h("expect"), None);
        assert_eq!(h("content-length").as_deref(), Some("5"));
        assert_eq!(h("content-encoding").as_deref(), Some("gzip"));
        assert_eq!(h("x-amz-decoded-content-length"), None);
        assert_eq!(h("x-amz-trailer"), None);
        assert_eq!(
            h("x-amz-content-sha256").as_deref(),
            Some("UNSIGNED-PAYLOAD")
        );
        assert_eq!(h("x-forwarded-user").as_deref(), Some("AKID"));
        assert_eq!(head.headers.get_all("x-forwarded-user").iter().count(), 1);
        assert_eq!(
            h("x_forwarded_user"),
            None,
            "an underscore spelling of the identity"
        );
        assert_eq!(
            h("x_forwarded-user"),
            None,
            "a mixed spelling of the identity"
        );
        assert_eq!(h("x-forwarded-users").as_deref(), Some("kept"));
        assert_eq!(
            h("x-amz-copy-source").as_deref(),
            Some("/bkt/a/b%20c?versionId=v%201")
        );
        assert_eq!(h("x_real_ip"), None, "an operator-stripped header");
        let all = |name: &str| -> Vec<String> {
            head.headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(all("content-type"), ["text/plain"]);
        assert_eq!(
            all("x-amz-meta-reviewedby"),
            ["joe@johnsmith.net,jane@johnsmith.net"]
        );
    }

    fn usage(method: &str, body_follows: bool, content_length: Option<&str>) -> ConnectionUse {
        let mut headers = http::HeaderMap::new();
        if let Some(len) = content_length {
            headers.insert(header::CONTENT_LENGTH, len.parse().unwrap());
        }
        ConnectionUse::for_request(&method.parse().unwrap(), body_follows, &headers)
    }

    #[test]
    fn only_requests_pingora_can_replay_go_on_a_pooled_connection() {
        use ConnectionUse::{OneShot, Pooled};
        let limit = PINGORA_RETRY_BUFFER.to_string();
        let over = (PINGORA_RETRY_BUFFER + 1).to_string();
        assert_eq!(usage("GET", false, None), Pooled);
        assert_eq!(usage("HEAD", false, None), Pooled);
        assert_eq!(usage("DELETE", false, None), Pooled);
        assert_eq!(usage("PUT", true, Some("10")), Pooled);
        assert_eq!(usage("PUT", true, Some(&limit)), Pooled);
        // Past the retry buffer, or of unknown length (chunked, h2 without Content-Length).
        assert_eq!(usage("PUT", true, Some(&over)), OneShot);
        assert_eq!(usage("PUT", true, None), OneShot);
        assert_eq!(usage("PUT", true, Some("ten")), OneShot);
        // Pingora never retries a non-idempotent method.
        assert_eq!(usage("POST", false, None), OneShot);
        assert_eq!(usage("POST", true, Some("10")), OneShot);
    }

    #[tokio::test]
    async fn a_one_shot_peer_shares_no_pool_and_is_not_kept() {
        let backend = backend(UpstreamKind::Http);
        let pooled = backend.peer(ConnectionUse::Pooled).await.unwrap();
        let again = backend.peer(ConnectionUse::Pooled).await.unwrap();
        assert_eq!(pooled.group_key, again.group_key);
        assert_eq!(pooled.options.idle_timeout, Some(Duration::from_secs(30)));
        let one = backend.peer(ConnectionUse::OneShot).await.unwrap();
        let two = backend.peer(ConnectionUse::OneShot).await.unwrap();
        assert_ne!(one.group_key, pooled.group_key);
        assert_ne!(one.group_key, two.group_key);
        assert_eq!(one.options.idle_timeout, Some(Duration::ZERO));
    }

    #[test]
    fn backend_failures_are_unavailable_timed_out_or_bad_gateway() {
        for (etype, status, code) in [
            (
                ErrorType::ConnectRefused,
                503,
                S3ErrorCode::ServiceUnavailable,
            ),
            (
                ErrorType::ConnectTimedout,
                503,
                S3ErrorCode::ServiceUnavailable,
            ),
            (
                ErrorType::ConnectNoRoute,
                503,
                S3ErrorCode::ServiceUnavailable,
            ),
            (ErrorType::ReadTimedout, 504, S3ErrorCode::GatewayTimeout),
            (ErrorType::WriteTimedout, 504, S3ErrorCode::GatewayTimeout),
            (ErrorType::ConnectionClosed, 502, S3ErrorCode::BadGateway),
            (ErrorType::ReadError, 502, S3ErrorCode::BadGateway),
            (ErrorType::InvalidHTTPHeader, 502, S3ErrorCode::BadGateway),
        ] {
            let err = upstream_failure(&etype);
            assert_eq!(
                (err.code, err.code.http_status()),
                (code, status),
                "{etype:?}"
            );
        }
    }
}
