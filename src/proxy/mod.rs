//! The Pingora shell: each hook hands the request to the pure parts (`sigv4`, `body`, `target`)
//! and acts on their answer. Nothing clever happens here; see `../shared/PINGORA-NOTES.md` for why
//! the body path is shaped as it is.
//!
//! Request path: `request_filter` (verify the head, check scopes, decide the body verifier,
//! answer errors itself) → `upstream_peer` → `upstream_request_filter` (path-style target, strip
//! auth, identity header, reset body state per attempt) → `request_body_filter` (stream through
//! the verifier, holding back the tail) → response filters (S3-shaped answers for `kind = "http"`)
//! → `logging`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderValue};
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;

use crate::auth::sigv2;
use crate::auth::sigv4::{self, PayloadMode, RequestParts};
use crate::body::chunked::{
    parse_trailer_header, AwsChunkedVerifier, ChunkedExpectations, ChunkedMode,
};
use crate::body::payload::{PayloadExpectations, PayloadVerifier};
use crate::body::BodyVerifier;
use crate::config::{Config, UpstreamKind};
use crate::cors::Preflight;
use crate::credentials::{Action, CredentialStore};
use crate::error::{S3Error, S3ErrorCode};
pub mod form_upload;

use crate::ops::{method_label, status_class, InFlight, Lifecycle, Metrics};
use crate::request::{has_dot_segments, virtual_host_bucket, Target};
use form_upload::{FormOutcome, FormUpload};

/// The proxy service.
pub struct AuthProxy {
    config: Arc<Config>,
    credentials: Arc<CredentialStore>,
    lifecycle: Arc<Lifecycle>,
    metrics: Arc<Metrics>,
}

impl AuthProxy {
    /// A proxy with its configuration, credential store, lifecycle and metrics.
    pub fn new(
        config: Arc<Config>,
        credentials: Arc<CredentialStore>,
        lifecycle: Arc<Lifecycle>,
        metrics: Arc<Metrics>,
    ) -> Self {
        AuthProxy {
            config,
            credentials,
            lifecycle,
            metrics,
        }
    }
}

/// Per-request state shared by the hooks.
pub struct RequestCtx {
    request_id: String,
    started: Instant,
    /// Keeps the request counted as in flight (graceful shutdown waits for these).
    _in_flight: InFlight,
    /// When the backend was chosen, for the upstream latency histogram.
    upstream_started: Option<Instant>,
    /// Body bytes handed to the backend.
    bytes_forwarded: u64,
    /// Bucket and key, once the head verified (also for the access log of a later refusal).
    target: Option<Target>,
    /// The streaming body check, if the request has a body.
    verifier: Option<BodyCheck>,
    /// `x-amz-decoded-content-length` of an aws-chunked upload: the upstream Content-Length.
    decoded_length: Option<u64>,
    /// Read and verify the whole body in `request_filter`, before the backend hears of it.
    verify_body_first: bool,
    /// An error found in a body hook, to be written by `fail_to_proxy`.
    body_error: Option<S3Error>,
    /// The error answered, for the access log.
    answered_error: Option<S3ErrorCode>,
    /// ETag to return for a PUT to a plain HTTP backend (hex MD5 of the payload).
    put_md5: Option<String>,
    /// `kind = "http"`: replace the backend's error body by this S3 XML document.
    replacement_body: Option<Bytes>,
    /// CORS headers every answer to this request gets (its Origin matched a `[[cors]]` rule).
    cors_headers: Vec<(&'static str, String)>,
    /// The access key that signed (header, presigned or form), for the access log.
    access_key: Option<String>,
    /// How the request was authenticated, for the access log (`sigv4-header`, `sigv2-form`…).
    auth_label: &'static str,
}

/// The body verifier a request needs.
// One per request, inside its context: the size difference of the variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum BodyCheck {
    /// A plain body: whole-payload digest, Content-MD5, checksums.
    Whole(PayloadVerifier),
    /// An aws-chunked body: framing stripped, chunk signatures and trailers verified.
    Chunked(AwsChunkedVerifier),
}

impl BodyCheck {
    fn verifier(&mut self) -> &mut dyn BodyVerifier {
        match self {
            BodyCheck::Whole(v) => v,
            BodyCheck::Chunked(v) => v,
        }
    }

    fn reset(&mut self) {
        match self {
            BodyCheck::Whole(v) => v.reset(),
            BodyCheck::Chunked(v) => v.reset(),
        }
    }

    fn md5_hex(&self) -> Option<String> {
        match self {
            BodyCheck::Whole(v) => v.md5_hex(),
            BodyCheck::Chunked(v) => v.md5_hex(),
        }
    }
}

/// Whether Content-Encoding names `aws-chunked`.
fn has_aws_chunked_coding(headers: &http::HeaderMap) -> bool {
    headers.get_all(header::CONTENT_ENCODING).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|c| c.trim().eq_ignore_ascii_case("aws-chunked"))
        })
    })
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

/// `x-amz-decoded-content-length`: required for aws-chunked uploads.
fn decoded_content_length(headers: &http::HeaderMap) -> Result<u64, S3Error> {
    let value = headers.get("x-amz-decoded-content-length").ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::MissingContentLength,
            "You must provide the x-amz-decoded-content-length header for aws-chunked uploads.",
        )
    })?;
    value
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "x-amz-decoded-content-length must be a decimal number of bytes.",
            )
        })
}

/// How much of a refused form is still read (and discarded) so the browser sees the error.
const FORM_DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

/// Largest body read whole before contacting the backend (the framing and trailers of an empty
/// aws-chunked upload); within Pingora's 64 KiB retry buffer, which replays it upstream.
const MAX_BODY_VERIFIED_FIRST: usize = 60 * 1024;

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A request id unique within this process and unlikely to repeat across restarts.
fn new_request_id() -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "{:016X}",
        t.rotate_left(17) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    )
}

impl AuthProxy {
    /// Everything `request_filter` decides; an `Err` is answered to the client as S3 XML.
    async fn admit(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<(), S3Error> {
        // Whether any body bytes will follow the head (Content-Length > 0, chunked, or h2 DATA).
        let body_follows = !session.is_body_empty();
        let req = session.req_header();
        let raw = std::str::from_utf8(req.raw_path()).map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The request target is not valid UTF-8.",
            )
        })?;
        let (raw_path, raw_query) = raw.split_once('?').unwrap_or((raw, ""));

        // On HTTP/2 the signed `host` is `:authority`.
        let mut h2_headers = None;
        if !req.headers.contains_key(header::HOST) {
            if let Some(authority) = req.uri.authority() {
                let mut h = req.headers.clone();
                if let Ok(v) = HeaderValue::from_str(authority.as_str()) {
                    h.insert(header::HOST, v);
                }
                h2_headers = Some(h);
            }
        }
        let headers = h2_headers.as_ref().unwrap_or(&req.headers);
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let target = Target::resolve(
            raw_path,
            raw_query,
            host,
            &self.config.auth.virtual_host_suffixes,
        );

        let parts = RequestParts {
            method: req.method.as_str(),
            raw_path,
            raw_query,
            headers,
        };
        let verify_started = Instant::now();
        let verified = if sigv2::is_sigv2(&parts) {
            self.verify_sigv2(&parts, host).map(|v2| {
                ctx.auth_label = match v2.kind {
                    sigv2::V2Kind::Header => "sigv2-header",
                    sigv2::V2Kind::Presigned => "sigv2-presigned",
                };
                (v2.access_key, None)
            })
        } else {
            sigv4::verify(
                &parts,
                self.credentials.as_ref(),
                &self.config.auth.settings,
                SystemTime::now(),
            )
            .map(|v4| {
                ctx.auth_label = match v4.kind {
                    sigv4::AuthKind::Header => "sigv4-header",
                    sigv4::AuthKind::Presigned => "sigv4-presigned",
                };
                (v4.access_key.clone(), Some(v4))
            })
        };
        self.metrics
            .verification_duration
            .with_label_values(&[if verified.is_ok() { "ok" } else { "refused" }])
            .observe(verify_started.elapsed().as_secs_f64());
        // `v4` is None for SigV2, whose signature says nothing about the body.
        let (access_key, v4) = verified?;
        ctx.access_key = Some(access_key.clone());
        // Known from here on, for the access log of a later refusal too.
        ctx.target = Some(target.clone());

        let action = Action::for_method(req.method.as_str()).ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::MethodNotAllowed,
                format!("The method {} is not allowed.", req.method),
            )
        })?;
        if !self
            .credentials
            .is_allowed(&access_key, action, &target.bucket, &target.key)
        {
            return Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"));
        }

        let payload = v4.as_ref().map_or(PayloadMode::Unsigned, |a| a.payload);
        if payload == PayloadMode::StreamingEcdsa {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                "SigV4A (ECDSA) streaming uploads are not supported.",
            ));
        }
        let chunked_mode = v4.as_ref().and_then(ChunkedMode::from_authorized);
        if chunked_mode.is_none() && has_aws_chunked_coding(&req.headers) {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "Content-Encoding: aws-chunked needs an x-amz-content-sha256 of STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] or STREAMING-UNSIGNED-PAYLOAD-TRAILER.",
            ));
        }

        if self.config.upstream.kind == UpstreamKind::Http {
            // A plain HTTP store has objects only: no listing, buckets, multipart or sub-resources.
            if target.bucket.is_empty() || target.key.is_empty() {
                return Err(S3Error::new(
                    S3ErrorCode::NotImplemented,
                    "This backend stores objects only: bucket-level requests are not supported.",
                ));
            }
            if has_dot_segments(&target.key) {
                return Err(dot_segment_error());
            }
            if !matches!(req.method.as_str(), "GET" | "HEAD" | "PUT" | "DELETE") {
                return Err(S3Error::new(
                    S3ErrorCode::NotImplemented,
                    format!(
                        "{} on objects is not supported by this backend.",
                        req.method
                    ),
                ));
            }
        }

        let is_put = req.method == http::Method::PUT;
        let compute_md5 = is_put
            && self.config.upstream.kind == UpstreamKind::Http
            && self.config.upstream.md5_etag;
        let mut check = match chunked_mode {
            Some(mode) => {
                // The mode comes from x-amz-content-sha256 alone: minio-go sends signed chunks
                // without Content-Encoding, the CRT client trailer mode with a Content-Length.
                let decoded_length = decoded_content_length(&req.headers)?;
                let declared_trailers = match req.headers.get("x-amz-trailer") {
                    Some(v) => parse_trailer_header(v.to_str().map_err(|_| {
                        S3Error::new(S3ErrorCode::InvalidArgument, "x-amz-trailer is not ASCII.")
                    })?)?,
                    None => Vec::new(),
                };
                let header_checksums =
                    PayloadExpectations::from_headers(&req.headers, None)?.checksums;
                ctx.decoded_length = Some(decoded_length);
                BodyCheck::Chunked(AwsChunkedVerifier::new(ChunkedExpectations {
                    mode,
                    decoded_length,
                    declared_trailers,
                    header_checksums,
                    max_chunk_size: self.config.limits.max_chunk_size,
                    compute_md5,
                })?)
            }
            None => {
                if is_put && !req.headers.contains_key(header::CONTENT_LENGTH) {
                    return Err(S3Error::new(
                        S3ErrorCode::MissingContentLength,
                        "You must provide the Content-Length HTTP header.",
                    ));
                }
                let sha256 = match payload {
                    PayloadMode::Sha256(digest) => Some(digest),
                    _ => None,
                };
                let mut expectations = PayloadExpectations::from_headers(&req.headers, sha256)?;
                expectations.compute_md5 = compute_md5;
                BodyCheck::Whole(PayloadVerifier::new(expectations))
            }
        };
        if body_follows {
            // An aws-chunked upload of 0 bytes has no payload byte to hold back: the backend would
            // store the empty object as soon as it saw the head. Its whole (small) body is read
            // and verified before the backend is contacted.
            ctx.verify_body_first = ctx.decoded_length == Some(0);
            ctx.verifier = Some(check);
        } else {
            // No body will stream: every check runs now, before the backend hears of it.
            check.verifier().finish()?;
            ctx.put_md5 = check.md5_hex();
        }
        Ok(())
    }

    /// Read the whole body (bounded), verify it, and leave it for Pingora to replay into
    /// `request_body_filter` (where a fresh verifier checks it again and releases it).
    async fn verify_whole_body(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<(), S3Error> {
        let Some(check) = ctx.verifier.as_mut() else {
            return Ok(());
        };
        session.enable_retry_buffering();
        let mut total = 0usize;
        loop {
            let piece = session.read_request_body().await.map_err(|_| {
                S3Error::new(
                    S3ErrorCode::IncompleteBody,
                    "The request body could not be read completely.",
                )
            })?;
            let Some(piece) = piece else { break };
            total += piece.len();
            if total > MAX_BODY_VERIFIED_FIRST {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "The aws-chunked body of an empty upload is too long.",
                ));
            }
            check.verifier().feed(piece)?;
        }
        check.verifier().finish()?;
        check.reset();
        Ok(())
    }

    /// A SigV2 request (header or presigned), if `auth.sigv2` allows them.
    fn verify_sigv2(
        &self,
        parts: &RequestParts<'_>,
        host: &str,
    ) -> Result<sigv2::AuthorizedV2, S3Error> {
        if !self.config.auth.sigv2 {
            return Err(S3Error::new(
                S3ErrorCode::AccessDenied,
                "Signature Version 2 is disabled on this endpoint (auth.sigv2 = false): sign \
                 requests with AWS Signature Version 4",
            ));
        }
        let vhost_bucket = virtual_host_bucket(host, &self.config.auth.virtual_host_suffixes);
        sigv2::verify(
            parts,
            vhost_bucket.as_deref(),
            self.credentials.as_ref(),
            &self.config.auth.settings,
            SystemTime::now(),
        )
    }

    /// CORS: answer a preflight (`Some(true)`: answered), or note the headers the answer to an
    /// actual request from an allowed origin must carry (`None`: go on).
    async fn cors(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<Option<bool>> {
        let req = session.req_header();
        let Some(origin) = req
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            return Ok(None);
        };
        let bucket = self.target_of(req).map(|t| t.bucket).unwrap_or_default();
        let requested_method = req
            .headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok());
        if req.method != http::Method::OPTIONS || requested_method.is_none() {
            ctx.cors_headers = self
                .config
                .cors
                .actual(&bucket, &origin, req.method.as_str());
            return Ok(None);
        }
        let requested_headers = req
            .headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok());
        match self.config.cors.preflight(
            &bucket,
            &origin,
            requested_method.unwrap_or(""),
            requested_headers,
        ) {
            Preflight::Allowed(headers) => {
                let mut resp = ResponseHeader::build(200, Some(headers.len() + 2))?;
                for (name, value) in &headers {
                    resp.insert_header(*name, value.as_str())?;
                }
                resp.insert_header(header::CONTENT_LENGTH, "0")?;
                resp.insert_header("x-amz-request-id", ctx.request_id.as_str())?;
                session.write_response_header(Box::new(resp), true).await?;
            }
            Preflight::Refused(message) => {
                let err = S3Error::new(S3ErrorCode::AccessForbidden, message);
                self.write_error(session, ctx, &err).await?;
            }
        }
        Ok(Some(true))
    }

    /// Bucket and key a request addresses, before any verification (for CORS rules and to
    /// recognise a form upload); `None` when the request target is not UTF-8.
    fn target_of(&self, req: &RequestHeader) -> Option<Target> {
        let raw = std::str::from_utf8(req.raw_path()).ok()?;
        let (raw_path, raw_query) = raw.split_once('?').unwrap_or((raw, ""));
        let host = req
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        Some(Target::resolve(
            raw_path,
            raw_query,
            host,
            &self.config.auth.virtual_host_suffixes,
        ))
    }

    /// The target of a browser POST upload (`POST` of a multipart form to a bucket), if this
    /// request is one.
    fn form_upload_target(&self, session: &Session) -> Option<Target> {
        let req = session.req_header();
        if req.method != http::Method::POST {
            return None;
        }
        let target = self.target_of(req)?;
        (!target.bucket.is_empty()
            && form_upload::is_form_upload(&req.method, &req.headers, &target.key))
        .then_some(target)
    }

    /// A browser POST upload, answered here from start to end (see `form_upload`).
    async fn form_upload(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        mut target: Target,
    ) -> Result<()> {
        let upload = FormUpload {
            config: &self.config,
            credentials: &self.credentials,
            bucket: &target.bucket,
            request_id: &ctx.request_id,
            cors_headers: &ctx.cors_headers,
        };
        let mut outcome = FormOutcome::default();
        let result = upload.run(session, &mut outcome).await;
        ctx.access_key = outcome.access_key;
        ctx.auth_label = outcome.auth_label;
        ctx.bytes_forwarded = outcome.bytes_forwarded;
        target.key = outcome.key.unwrap_or_default();
        ctx.target = Some(target);
        if let Err(err) = result {
            ctx.answered_error = Some(err.code);
            // Writing the success answer itself may be what failed: then the client is gone
            // and there is nothing more to say.
            if session.response_written().is_none() {
                if !session.is_body_done() {
                    form_upload::drain_body(session, FORM_DRAIN_LIMIT).await;
                }
                self.write_error(session, ctx, &err).await?;
            }
        }
        Ok(())
    }

    async fn write_error(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        err: &S3Error,
    ) -> Result<()> {
        ctx.answered_error = Some(err.code);
        let resource = session.req_header().uri.path().to_string();
        let xml = err.to_xml(
            &resource,
            &ctx.request_id,
            self.config.auth.signature_diagnostics,
        );
        let is_head = session.req_header().method == http::Method::HEAD;
        let mut resp = ResponseHeader::build(err.code.http_status(), Some(4))?;
        resp.insert_header(header::CONTENT_TYPE, "application/xml")?;
        resp.insert_header(header::CONTENT_LENGTH, xml.len().to_string())?;
        resp.insert_header("x-amz-request-id", ctx.request_id.as_str())?;
        for (name, value) in &ctx.cors_headers {
            resp.insert_header(*name, value.as_str())?;
        }
        session.set_keepalive(None);
        session
            .write_response_header(Box::new(resp), is_head)
            .await?;
        if !is_head {
            session
                .write_response_body(Some(Bytes::from(xml)), true)
                .await?;
        }
        Ok(())
    }
}

/// A key with `.`/`..` segments in front of a path-based backend (see `has_dot_segments`).
pub(crate) fn dot_segment_error() -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        "Keys with '.' or '..' path segments cannot be stored by this backend.",
    )
}

fn bad_request_error(e: S3Error, ctx: &mut RequestCtx) -> Box<Error> {
    let code = e.code;
    ctx.body_error = Some(e);
    Error::explain(
        ErrorType::HTTPStatus(code.http_status()),
        "request body failed verification",
    )
}

#[async_trait]
impl ProxyHttp for AuthProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            request_id: new_request_id(),
            started: Instant::now(),
            _in_flight: self.lifecycle.begin_request(),
            upstream_started: None,
            bytes_forwarded: 0,
            target: None,
            verifier: None,
            decoded_length: None,
            verify_body_first: false,
            body_error: None,
            answered_error: None,
            put_md5: None,
            replacement_body: None,
            cors_headers: Vec::new(),
            access_key: None,
            auth_label: "-",
        }
    }

    async fn early_request_filter(
        &self,
        session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<()> {
        session.set_read_timeout(Some(self.config.server.read_timeout));
        // How long an idle client connection is kept for its next request.
        session.set_keepalive(Some(self.config.server.keepalive_timeout.as_secs()));
        session.set_write_timeout(Some(self.config.server.write_timeout));
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        if let Some(answered) = self.cors(session, ctx).await? {
            return Ok(answered);
        }
        if let Some(target) = self.form_upload_target(session) {
            self.form_upload(session, ctx, target).await?;
            return Ok(true);
        }
        match self.admit(session, ctx).await {
            Ok(()) => {
                let expects_continue = session
                    .req_header()
                    .headers
                    .get(header::EXPECT)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
                if expects_continue {
                    // Only now that the head is verified may the client start sending the body.
                    session.write_continue_response().await?;
                }
                if ctx.verify_body_first {
                    if let Err(err) = self.verify_whole_body(session, ctx).await {
                        self.write_error(session, ctx, &err).await?;
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Err(err) => {
                self.write_error(session, ctx, &err).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        ctx.upstream_started = Some(Instant::now());
        let up = &self.config.upstream;
        let addr = tokio::net::lookup_host(up.address.as_str())
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| {
                Error::explain(
                    ErrorType::ConnectNoRoute,
                    format!("cannot resolve upstream {}", up.address),
                )
            })?;
        let mut peer = HttpPeer::new(addr, false, String::new());
        peer.options.connection_timeout = Some(up.connect_timeout);
        peer.options.read_timeout = Some(up.read_timeout);
        peer.options.write_timeout = Some(up.write_timeout);
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // Runs once per attempt: a retry replays the body from the start, so the verifier must too.
        if let Some(v) = ctx.verifier.as_mut() {
            v.reset();
        }
        let (Some(target), Some(access_key)) = (&ctx.target, &ctx.access_key) else {
            return Error::e_explain(
                ErrorType::InternalError,
                "request reached upstream unverified",
            );
        };
        upstream.set_raw_path(target.upstream_target.as_bytes())?;
        upstream.remove_header(&header::AUTHORIZATION);
        upstream.remove_header(&header::EXPECT);
        if let Some(decoded_length) = ctx.decoded_length {
            // The backend gets the plain payload: its exact length, no aws-chunked framing.
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
        }
        upstream.insert_header(header::HOST, self.config.upstream.address.as_str())?;
        upstream.insert_header(
            self.config.auth.identity_header.clone(),
            access_key.as_str(),
        )?;
        Ok(())
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(check) = ctx.verifier.as_mut() else {
            return Ok(());
        };
        let verifier = check.verifier();
        let input = body.take().unwrap_or_default();
        let released = match verifier.feed(input) {
            Ok(b) => b,
            Err(e) => return Err(bad_request_error(e, ctx)),
        };
        if !end_of_stream {
            // Always hand back Some(..): None before the end would end the upstream body.
            ctx.bytes_forwarded += released.len() as u64;
            *body = Some(released);
            return Ok(());
        }
        let tail = match verifier.finish() {
            Ok(b) => b,
            Err(e) => return Err(bad_request_error(e, ctx)),
        };
        ctx.put_md5 = check.md5_hex();
        ctx.bytes_forwarded += (released.len() + tail.len()) as u64;
        *body = Some(if released.is_empty() {
            tail
        } else if tail.is_empty() {
            released
        } else {
            let mut joined = BytesMut::with_capacity(released.len() + tail.len());
            joined.extend_from_slice(&released);
            joined.extend_from_slice(&tail);
            joined.freeze()
        });
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(started) = ctx.upstream_started {
            self.metrics
                .upstream_duration
                .with_label_values(&[method_label(&session.req_header().method)])
                .observe(started.elapsed().as_secs_f64());
        }
        if self.config.upstream.kind != UpstreamKind::Http {
            return Ok(());
        }
        let method = session.req_header().method.clone();
        let status = resp.status.as_u16();
        if method == http::Method::PUT && (status == 201 || status == 204 || status == 200) {
            // S3 answers a PUT with 200 and the payload's MD5 as ETag; s3cmd and minio check it.
            resp.set_status(200)?;
            if let Some(md5) = &ctx.put_md5 {
                resp.insert_header(header::ETAG, format!("\"{md5}\""))?;
            }
            resp.insert_header(header::CONTENT_LENGTH, "0")?;
            resp.remove_header(&header::LOCATION);
        } else if method == http::Method::DELETE && status == 404 {
            // S3 deletes a missing key successfully.
            resp.set_status(204)?;
            resp.insert_header(header::CONTENT_LENGTH, "0")?;
            ctx.replacement_body = Some(Bytes::new());
        } else if status >= 400 {
            let code = S3ErrorCode::from_backend_status(status);
            let message = match code {
                S3ErrorCode::NoSuchKey => "The specified key does not exist.".to_string(),
                _ => format!("The backend answered {status}."),
            };
            let err = S3Error::new(code, message);
            ctx.answered_error = Some(code);
            let resource = session.req_header().uri.path().to_string();
            let xml = Bytes::from(err.to_xml(&resource, &ctx.request_id, false));
            resp.set_status(code.http_status())?;
            resp.insert_header(header::CONTENT_TYPE, "application/xml")?;
            resp.remove_header(&header::TRANSFER_ENCODING);
            if method == http::Method::HEAD {
                resp.remove_header(&header::CONTENT_LENGTH);
                ctx.replacement_body = Some(Bytes::new());
            } else {
                resp.insert_header(header::CONTENT_LENGTH, xml.len().to_string())?;
                ctx.replacement_body = Some(xml);
            }
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        resp.insert_header("x-amz-request-id", ctx.request_id.as_str())?;
        for (name, value) in &ctx.cors_headers {
            resp.insert_header(*name, value.as_str())?;
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<std::time::Duration>> {
        if let Some(replacement) = &ctx.replacement_body {
            *body = if end_of_stream {
                Some(replacement.clone())
            } else {
                None
            };
        }
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let err = ctx.body_error.take().unwrap_or_else(|| match e.esource() {
            ErrorSource::Upstream => S3Error::new(
                S3ErrorCode::BadGateway,
                "The storage backend could not be reached or failed.",
            ),
            ErrorSource::Downstream => S3Error::new(
                S3ErrorCode::IncompleteBody,
                "The request body could not be read completely.",
            ),
            _ => S3Error::new(
                S3ErrorCode::InternalError,
                "We encountered an internal error. Please try again.",
            ),
        });
        let mut error_code = err.code.http_status();
        ctx.answered_error = Some(err.code);
        // A client that closed only its sending side (or sent a short body) can still read why.
        let downstream_gone =
            e.esource() == &ErrorSource::Downstream && matches!(e.etype(), ErrorType::WriteError);
        // A `100 Continue` is not an answer: the final status can still be written after it.
        let answered = session
            .response_written()
            .is_some_and(|r| !r.status.is_informational());
        if downstream_gone || answered {
            error_code = 0;
        } else if let Err(write_err) = self.write_error(session, ctx, &err).await {
            tracing::debug!("could not write the error response: {write_err}");
            error_code = 0;
        }
        FailToProxy {
            error_code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        let (bucket, key) = ctx
            .target
            .as_ref()
            .map(|t| (t.bucket.as_str(), t.key.as_str()))
            .unwrap_or(("", ""));
        let access_key = ctx.access_key.as_deref().unwrap_or("-");
        tracing::info!(
            target: "access",
            request_id = %ctx.request_id,
            remote = %session.client_addr().map(|a| a.to_string()).unwrap_or_default(),
            access_key,
            auth = ctx.auth_label,
            method = %session.req_header().method,
            bucket,
            key,
            status,
            error_code = ctx.answered_error.map(|c| c.as_str()).unwrap_or("-"),
            bytes_in = session.body_bytes_read(),
            bytes_out = session.body_bytes_sent(),
            duration_ms = ctx.started.elapsed().as_millis() as u64,
            failure = e.map(|e| e.etype().as_str()).unwrap_or("-"),
            "request"
        );
        let method = method_label(&session.req_header().method);
        let m = &self.metrics;
        m.requests
            .with_label_values(&[method, status_class(status)])
            .inc();
        if let Some(code) = ctx.answered_error {
            m.refused(code);
        }
        m.bytes_received.inc_by(session.body_bytes_read() as u64);
        m.bytes_forwarded.inc_by(ctx.bytes_forwarded);
        m.bytes_sent.inc_by(session.body_bytes_sent() as u64);
        m.request_duration
            .with_label_values(&[method])
            .observe(ctx.started.elapsed().as_secs_f64());
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, _error: &Error) -> bool {
        // Refusals of bad client input are expected traffic, logged once in the access log;
        // only the proxy's own and the backend's failures are errors.
        ctx.answered_error
            .is_some_and(|code| code.http_status() < 500)
    }

    fn request_summary(&self, session: &Session, _ctx: &RequestCtx) -> String {
        // Never the query string: presigned URLs carry signatures there.
        let req = session.req_header();
        format!("{} {}", req.method, req.uri.path())
    }
}
