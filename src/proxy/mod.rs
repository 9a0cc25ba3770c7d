//! The Pingora shell: each hook hands the request to the parts that decide (`request`, `auth`,
//! `body::plan`, `backend`) and acts on their answer. Nothing clever happens here; see
//! `../shared/PINGORA-NOTES.md` for why the body path is shaped as it is.
//!
//! Request path: `request_filter` (CORS, browser forms, else `AuthProxy::admit`: read the
//! request, authenticate, authorize, the backend's rules, the body plan; answer errors itself) →
//! `upstream_peer` → `upstream_request_filter` (the backend's head; reset the body check per
//! attempt) → `request_body_filter` (stream through the verifier, holding back the tail) →
//! response filters (S3-shaped answers for `kind = "http"`) → `logging`.
//!
//! `ctx` holds what the hooks share, `respond` the answers the proxy writes itself,
//! `form_upload` the browser POST exchange (driven from `request_filter`), `access` the access
//! log and request metrics.

mod access;
mod ctx;
pub mod form_upload;
mod respond;
mod staged_part;
pub mod store_client;

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use http::header;
use pingora::connectors::http::v1::Connector;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;

pub use ctx::RequestCtx;

use crate::admission::Admission;
use crate::auth::{self, Schemes, Verified};
use crate::backend::{self, AnswerMapping, Backend, ConnectionUse};
use crate::body::delete_list;
use crate::body::plan::{self, PlanOptions};
use crate::body::BodyVerifier;
use crate::config::Config;
use crate::cors::Preflight;
use crate::credentials::CredentialStore;
use crate::error::{S3Error, S3ErrorCode};
use crate::ops::{method_label, Lifecycle, Metrics};
use crate::request::{self, is_form_upload, S3Request, Target};
use crate::store::bucket::{self as store_bucket, OpContext};
use crate::store::multipart::MultipartOp;
use crate::store::BucketOp;
use crate::store::{etags, Store};
use form_upload::FormUpload;
use staged_part::StagedPart;
use store_client::PlainStore;

/// Largest body read whole before contacting the backend (the framing and trailers of an empty
/// aws-chunked upload, which Pingora's 64 KiB retry buffer replays upstream), and the default
/// for the requests the proxy answers from a plain store (DeleteObjects has its own limit).
const MAX_BODY_VERIFIED_FIRST: usize = 60 * 1024;

/// The proxy service.
pub struct AuthProxy {
    config: Arc<Config>,
    credentials: Arc<CredentialStore>,
    backend: Backend,
    lifecycle: Arc<Lifecycle>,
    metrics: Arc<Metrics>,
    /// Pooled connections for the requests the proxy makes itself (`store_client`).
    connector: Connector,
    /// A plain store's ETag records read lately (`store::etags`).
    records: crate::store::etags::RecordsCache,
    /// The unauthenticated-memory budget and head deadline, shared with the connections'
    /// admission layer: a POST form's fields are charged to it until verified.
    admission: Arc<Admission>,
}

impl AuthProxy {
    /// A proxy with its configuration, credential store, lifecycle, metrics and admission.
    pub fn new(
        config: Arc<Config>,
        credentials: Arc<CredentialStore>,
        lifecycle: Arc<Lifecycle>,
        metrics: Arc<Metrics>,
        admission: Arc<Admission>,
    ) -> Self {
        AuthProxy {
            admission,
            backend: Backend::new(&config),
            config,
            credentials,
            lifecycle,
            metrics,
            connector: Connector::new(None),
            records: crate::store::etags::RecordsCache::default(),
        }
    }

    /// Everything `request_filter` decides for a request that takes the proxy path; an `Err`
    /// is answered to the client as S3 XML.
    async fn admit(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<(), S3Error> {
        // Whether any body bytes will follow the head (Content-Length > 0, chunked, or h2 DATA).
        let body_follows = !session.is_body_empty();
        let request = self.read_request(session.req_header())?;
        let verified = self.authenticate(&request)?;
        ctx.identity.verified(&verified, &request);
        let needs = request.needs()?;
        auth::authorize(self.credentials.as_ref(), &verified.access_key, &needs)?;
        ctx.store_op = self.backend.check_request(&request)?;
        let is_part = matches!(
            ctx.store_op,
            Some(BucketOp::Multipart(MultipartOp::UploadPart { .. }))
        );
        let options = PlanOptions {
            max_chunk_size: self.config.limits.max_chunk_size,
            // A part's MD5 is its ETag, and recorded for the multipart ETag.
            compute_md5: self.backend.wants_md5_etag() || is_part,
            delete_list: request
                .is_delete_objects()
                .then_some(self.config.limits.max_delete_body),
        };
        let plan = plan::plan(
            request.method,
            &request.headers,
            request.raw_query,
            &verified,
            options,
        )?;
        ctx.body.start(plan, body_follows)
    }

    /// The request as received, read once.
    fn read_request<'a>(&self, req: &'a RequestHeader) -> Result<S3Request<'a>, S3Error> {
        S3Request::parse(
            &req.method,
            req.raw_path(),
            req.uri.authority().map(|a| a.as_str()),
            &req.headers,
            &self.config.auth.virtual_host_suffixes,
        )
    }

    /// Verify the head's signature, timing it for the verification histogram.
    fn authenticate(&self, request: &S3Request<'_>) -> Result<Verified, S3Error> {
        let started = Instant::now();
        let verified = auth::authenticate(
            &request.parts(),
            request.target.virtual_host_bucket.as_deref(),
            self.credentials.as_ref(),
            self.schemes(),
            SystemTime::now(),
        );
        self.metrics
            .verification_duration
            .with_label_values(&[if verified.is_ok() { "ok" } else { "refused" }])
            .observe(started.elapsed().as_secs_f64());
        verified
    }

    /// The signature schemes the configuration allows.
    fn schemes(&self) -> Schemes<'_> {
        Schemes {
            settings: &self.config.auth.settings,
            sigv2: self.config.auth.sigv2,
        }
    }

    /// Read the whole body, at most `limit` bytes as received (aws-chunked framing included;
    /// `too_long` refuses more), verify it, and return the verified payload. For the bodies
    /// checked before anything else happens: those of the requests the proxy answers itself
    /// (a DeleteObjects list…) and an empty aws-chunked upload.
    async fn read_verified_body(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        limit: usize,
        too_long: fn(usize) -> S3Error,
    ) -> Result<Bytes, S3Error> {
        let Some(check) = ctx.body.check.as_mut() else {
            return Ok(Bytes::new());
        };
        let mut total = 0usize;
        let mut verified = Vec::new();
        loop {
            let piece = session
                .read_request_body()
                .await
                .map_err(|_| S3Error::incomplete_body())?;
            let Some(piece) = piece else { break };
            total += piece.len();
            if total > limit {
                return Err(too_long(limit));
            }
            verified.push(check.feed(piece)?);
        }
        verified.push(check.finish()?);
        ctx.body.md5 = check.md5_hex();
        Ok(crate::body::join(&mut verified))
    }

    /// A plain store for the request's identity.
    fn plain_store<'a>(&'a self, access_key: &'a str) -> PlainStore<'a> {
        PlainStore {
            backend: &self.backend,
            connector: &self.connector,
            access_key,
        }
    }

    /// An UploadPart to a plain store: check its upload id against the request's bucket and
    /// key and choose the part's staging name; the request then goes to the backend.
    async fn stage_part(&self, ctx: &mut RequestCtx) -> Result<(), S3Error> {
        let Some(BucketOp::Multipart(MultipartOp::UploadPart {
            upload_id,
            part_number,
        })) = &ctx.store_op
        else {
            return Ok(());
        };
        let (Some(target), Some(access_key)) = (&ctx.identity.target, &ctx.identity.access_key)
        else {
            return Err(S3Error::internal());
        };
        let store = self.plain_store(access_key);
        let staged =
            StagedPart::prepare(&store, &target.bucket, &target.key, upload_id, *part_number)
                .await?;
        ctx.staged_part = Some(staged);
        ctx.store_op = None;
        Ok(())
    }

    /// After a verified head: answer `Expect: 100-continue` (only now may the client send the
    /// body), and verify a body that must be checked before the backend hears of it.
    async fn proceed(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        if let Err(err) = self.stage_part(ctx).await {
            self.write_error(session, ctx, &err).await?;
            return Ok(true);
        }
        let expects_continue = session
            .req_header()
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if expects_continue {
            session.write_continue_response().await?;
        }
        if ctx.store_op.is_some() {
            // A request the proxy answers from the store: its body (CreateBucket's
            // configuration, DeleteObjects' keys) is read and verified whole, and its keys
            // authorized, before the store is touched.
            match self.read_store_body(session, ctx).await {
                Ok(body) => self.answer_from_store(session, ctx, body).await?,
                Err(err) => self.write_error(session, ctx, &err).await?,
            }
            return Ok(true);
        }
        if ctx.body.verify_first {
            // Verified whole, then replayed upstream (Pingora's retry buffer, at most 64 KiB)
            // through the reset check, which releases it.
            session.enable_retry_buffering();
            let verified = self
                .read_verified_body(session, ctx, MAX_BODY_VERIFIED_FIRST, body_too_long)
                .await;
            if let Err(err) = verified {
                self.write_error(session, ctx, &err).await?;
                return Ok(true);
            }
            if let Some(check) = ctx.body.check.as_mut() {
                check.reset();
            }
        }
        Ok(false)
    }

    /// The verified body of a request answered from the store, within its operation's limit,
    /// once every key it names is authorized.
    async fn read_store_body(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Bytes, S3Error> {
        let (limit, too_long): (usize, fn(usize) -> S3Error) = match ctx.store_op {
            Some(BucketOp::DeleteObjects) => {
                (self.config.limits.max_delete_body, delete_list::too_long)
            }
            Some(BucketOp::Multipart(MultipartOp::Complete { .. })) => {
                (self.config.limits.max_complete_body, body_too_long)
            }
            _ => (MAX_BODY_VERIFIED_FIRST, body_too_long),
        };
        let body = self
            .read_verified_body(session, ctx, limit, too_long)
            .await?;
        let keys_read = ctx.body.check.as_ref().and_then(|c| c.named_keys());
        if matches!(ctx.store_op, Some(BucketOp::DeleteObjects)) && keys_read.is_none() {
            // Never delete what was not authorized key by key.
            return Err(S3Error::internal());
        }
        self.authorize_named_keys(ctx)?;
        Ok(body)
    }

    /// A request in front of a plain store answered by the proxy from the store
    /// (`store::bucket`), with its verified body.
    async fn answer_from_store(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        body: Bytes,
    ) -> Result<()> {
        let (Some(op), Some(target), Some(access_key)) = (
            ctx.store_op.take(),
            ctx.identity.target.as_ref(),
            ctx.identity.access_key.as_deref(),
        ) else {
            return self.write_error(session, ctx, &S3Error::internal()).await;
        };
        let store = self.plain_store(access_key);
        let region = self.config.auth.settings.regions.first();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let cx = OpContext {
            bucket: &target.bucket,
            region: region.map_or("us-east-1", String::as_str),
            max_folder_index: self.config.limits.max_folder_index,
            key: &target.key,
            access_key,
            now,
            multipart_expiry: self.backend.upstream.multipart_expiry,
            body,
            records: &self.records,
        };
        ctx.upstream_started = Some(Instant::now());
        if let BucketOp::Multipart(MultipartOp::Complete { .. }) = op {
            let run = store_bucket::run(&op, &store, &cx);
            let keepalive = self.backend.upstream.complete_keepalive;
            let diagnostics = self.config.auth.signature_diagnostics;
            return respond::write_store_answer_patiently(
                session,
                &mut ctx.reply,
                run,
                keepalive,
                diagnostics,
            )
            .await;
        }
        match store_bucket::run(&op, &store, &cx).await {
            Ok(answer) => respond::write_store_answer(session, &ctx.reply, &answer).await,
            Err(err) => self.write_error(session, ctx, &err).await,
        }
    }

    /// CORS: answer a preflight (`Some(true)`: answered), or note the headers the answer to an
    /// actual request from an allowed origin must carry (`None`: go on).
    async fn cors(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<Option<bool>> {
        let req = session.req_header();
        let Some(origin) = req
            .headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(None);
        };
        let bucket = self.target_of(req).map(|t| t.bucket).unwrap_or_default();
        let cors = &self.config.cors;
        let requested_method = req
            .headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| v.to_str().ok());
        let Some(requested_method) =
            requested_method.filter(|_| req.method == http::Method::OPTIONS)
        else {
            ctx.reply.cors_headers = cors.actual(&bucket, origin, req.method.as_str());
            return Ok(None);
        };
        let requested_headers = req
            .headers
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok());
        match cors.preflight(&bucket, origin, requested_method, requested_headers) {
            Preflight::Allowed(headers) => {
                respond::write_preflight(session, &ctx.reply, &headers).await?;
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
        request::target_of(
            req.raw_path(),
            req.uri.authority().map(|a| a.as_str()),
            &req.headers,
            &self.config.auth.virtual_host_suffixes,
        )
    }

    /// The target of a browser POST upload (`POST` of a multipart form to a bucket), if this
    /// request is one.
    fn form_upload_target(&self, session: &Session) -> Option<Target> {
        let req = session.req_header();
        if req.method != http::Method::POST {
            return None;
        }
        let target = self.target_of(req)?;
        (!target.bucket.is_empty() && is_form_upload(&req.method, &req.headers, &target.key))
            .then_some(target)
    }

    /// A browser POST upload, answered here from start to end (see `form_upload`).
    async fn form_upload(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        target: Target,
    ) -> Result<()> {
        let bucket = target.bucket.clone();
        // The key is the form's: filled in once its fields verified.
        ctx.identity.target = Some(target);
        let upload = FormUpload {
            credentials: &self.credentials,
            backend: &self.backend,
            schemes: self.schemes(),
            limits: &self.config.limits,
            admission: &self.admission,
            bucket: &bucket,
        };
        let result = upload.run(session, ctx).await;
        if let Err(err) = result {
            ctx.reply.error_code = Some(err.code);
            // Writing the success answer itself may be what failed: then the client is gone
            // and there is nothing more to say.
            if session.response_written().is_none() {
                // The rest of a refused form is read (up to a limit) so a browser, which reads
                // no answer before it has sent its form, sees the error; not when the refusal is
                // for holding the proxy too long or too much before authentication.
                let unauthenticated_refusal = matches!(
                    err.code,
                    S3ErrorCode::SlowDown | S3ErrorCode::RequestTimeout
                );
                if !session.is_body_done() && !unauthenticated_refusal {
                    form_upload::drain_body(session).await;
                }
                self.write_error(session, ctx, &err).await?;
            }
        }
        Ok(())
    }

    /// The keys a finished DeleteObjects body names, each authorized as a write of that
    /// object (and held to the key rules of a request path) before the body is released.
    fn authorize_named_keys(&self, ctx: &RequestCtx) -> Result<(), S3Error> {
        let Some(keys) = ctx.body.check.as_ref().and_then(|c| c.named_keys()) else {
            return Ok(());
        };
        let (Some(target), Some(access_key)) = (&ctx.identity.target, &ctx.identity.access_key)
        else {
            return Err(S3Error::internal());
        };
        let needs = request::delete_needs(&target.bucket, keys)?;
        auth::authorize(self.credentials.as_ref(), access_key, &needs)
    }

    /// An object the backend stored: record its ETag (the payload's MD5) for listings. A
    /// failure costs only the record (listings show nginx's ETag): logged, not answered.
    async fn record_etag(&self, ctx: &RequestCtx) {
        let (Some(md5), Some(access_key), Some(target), Some(stamp)) = (
            &ctx.body.md5,
            &ctx.identity.access_key,
            &ctx.identity.target,
            ctx.put_stamp,
        ) else {
            return;
        };
        let Some(size) = stamp.size else { return };
        let Some(path) = etags::record_path(&target.bucket, &target.key, md5, stamp.mtime, size)
        else {
            return;
        };
        let store = self.plain_store(access_key);
        if let Err(err) = store.write_file(&path, Bytes::new()).await {
            tracing::warn!(path, "could not record an object's ETag: {err}");
        }
        self.records.forget(&target.bucket, &target.key);
    }

    /// A part the backend stored: give it the name that records its MD5.
    async fn commit_part(&self, part: &StagedPart, ctx: &RequestCtx) -> Result<(), S3Error> {
        let (Some(md5), Some(access_key)) = (&ctx.body.md5, &ctx.identity.access_key) else {
            return Err(S3Error::internal());
        };
        part.commit(&self.plain_store(access_key), md5).await
    }

    async fn write_error(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        err: &S3Error,
    ) -> Result<()> {
        let diagnostics = self.config.auth.signature_diagnostics;
        respond::write_error(session, &mut ctx.reply, err, diagnostics).await
    }
}

/// A body longer than the proxy reads whole for this request.
fn body_too_long(limit: usize) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidArgument,
        format!("The request body is too long for this request (more than {limit} bytes)."),
    )
}

/// Keep a body error for `fail_to_proxy` and tell Pingora to abort the upstream request.
fn body_error(e: S3Error, ctx: &mut RequestCtx) -> Box<Error> {
    let code = e.code;
    ctx.body.error = Some(e);
    Error::explain(
        ErrorType::HTTPStatus(code.http_status()),
        "request body failed verification",
    )
}

#[async_trait]
impl ProxyHttp for AuthProxy {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new(self.lifecycle.begin_request())
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
            Ok(()) => self.proceed(session, ctx).await,
            Err(err) => {
                self.write_error(session, ctx, &err).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        ctx.upstream_started = Some(Instant::now());
        // A request Pingora could not replay never goes on a pooled connection that may be
        // stale (see `ConnectionUse`).
        let body_follows = !session.is_body_empty();
        let req = session.req_header();
        let usage = ConnectionUse::for_request(&req.method, body_follows, &req.headers);
        let peer = self.backend.peer(usage).await.ok_or_else(|| {
            Error::explain(
                ErrorType::ConnectNoRoute,
                format!("cannot resolve upstream {}", self.backend.upstream.address),
            )
            .into_up()
        })?;
        Ok(Box::new(peer))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // Runs once per attempt: a retry replays the body from the start, so the check must too
        // (tests/upstream_faults.rs: a PUT retried after a stale connection, half-way included).
        if let Some(check) = ctx.body.check.as_mut() {
            check.reset();
        }
        let (Some(target), Some(access_key)) = (&ctx.identity.target, &ctx.identity.access_key)
        else {
            return Error::e_explain(
                ErrorType::InternalError,
                "request reached upstream unverified",
            );
        };
        self.backend.rewrite_head(
            upstream,
            target,
            &ctx.identity.sources,
            access_key,
            ctx.body.decoded_length,
        )?;
        if self.backend.is_plain_store() && upstream.method == http::Method::PUT {
            ctx.put_stamp = Some(stamp_put(upstream)?);
        }
        if let Some(part) = &ctx.staged_part {
            let path = part.upstream_path();
            upstream.set_uri(
                path.parse()
                    .map_err(|_| Error::explain(ErrorType::InternalError, "staging path"))?,
            );
        }
        Ok(())
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let Some(check) = ctx.body.check.as_mut() else {
            return Ok(());
        };
        let input = body.take().unwrap_or_default();
        let released = match check.feed_piece(input, end_of_stream) {
            Ok(released) => released,
            Err(e) => return Err(body_error(e, ctx)),
        };
        if end_of_stream {
            ctx.body.md5 = check.md5_hex();
            if let Err(e) = self.authorize_named_keys(ctx) {
                return Err(body_error(e, ctx));
            }
        }
        ctx.body.bytes_forwarded += released.len() as u64;
        // Always hand back Some(..): None before the end would end the upstream body.
        *body = Some(released);
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        resp: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let method = &session.req_header().method;
        if let Some(started) = ctx.upstream_started {
            self.metrics
                .upstream_duration
                .with_label_values(&[method_label(method)])
                .observe(started.elapsed().as_secs_f64());
        }
        for name in self.backend.hidden_answer_headers(resp.status.as_u16()) {
            resp.remove_header(name);
        }
        let mut mapping = self.backend.map_answer(method, resp.status.as_u16());
        if let (Some(part), AnswerMapping::PutStored) = (&ctx.staged_part, &mapping) {
            if let Err(err) = self.commit_part(part, ctx).await {
                mapping = AnswerMapping::Error(err);
            }
        } else if matches!(mapping, AnswerMapping::PutStored) {
            self.record_etag(ctx).await;
        }
        match mapping {
            AnswerMapping::Unchanged => {}
            AnswerMapping::PutStored => {
                resp.set_status(200)?;
                if let Some(md5) = &ctx.body.md5 {
                    resp.insert_header(header::ETAG, format!("\"{md5}\""))?;
                }
                resp.insert_header(header::CONTENT_LENGTH, "0")?;
                resp.remove_header(&header::LOCATION);
            }
            AnswerMapping::DeletedMissing => {
                resp.set_status(204)?;
                resp.insert_header(header::CONTENT_LENGTH, "0")?;
                ctx.reply.replacement_body = Some(Bytes::new());
            }
            AnswerMapping::Error(err) => {
                let resource = session.req_header().uri.path().to_string();
                replace_with_error(resp, &mut ctx.reply, &err, &resource, method)?;
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
        resp.insert_header("x-amz-request-id", ctx.reply.request_id.as_str())?;
        for (name, value) in &ctx.reply.cors_headers {
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
        if let Some(replacement) = &ctx.reply.replacement_body {
            *body = end_of_stream.then(|| replacement.clone());
        }
        Ok(None)
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let err = ctx.body.error.take().unwrap_or_else(|| failure_error(e));
        let mut error_code = err.code.http_status();
        ctx.reply.error_code = Some(err.code);
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
        access::log_request(session, e, ctx);
        access::count_request(&self.metrics, session, ctx);
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, _error: &Error) -> bool {
        // Refusals of bad client input are expected traffic, logged once in the access log;
        // only the proxy's own and the backend's failures are errors.
        ctx.reply
            .error_code
            .is_some_and(|code| code.http_status() < 500)
    }

    fn request_summary(&self, session: &Session, _ctx: &RequestCtx) -> String {
        // Never the query string: presigned URLs carry signatures there.
        let req = session.req_header();
        format!("{} {}", req.method, req.uri.path())
    }
}

/// Give a PUT to a plain store the proxy's time as its `Date`, which nginx's WebDAV PUT makes
/// the file's modification time (a client's own `Date` would otherwise set it), and note it
/// with the length the backend is told.
fn stamp_put(upstream: &mut RequestHeader) -> Result<ctx::PutStamp> {
    let now = SystemTime::now();
    upstream.insert_header(header::DATE, httpdate::fmt_http_date(now))?;
    let mtime = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let size = upstream
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    Ok(ctx::PutStamp { mtime, size })
}

/// The S3 error of a failure Pingora reports (no body error was kept).
fn failure_error(e: &Error) -> S3Error {
    match e.esource() {
        ErrorSource::Upstream => backend::upstream_failure(e.etype()),
        ErrorSource::Downstream => S3Error::incomplete_body(),
        _ => S3Error::internal(),
    }
}

/// Replace a plain store's error answer by the S3 XML document of `err` (no body for HEAD).
fn replace_with_error(
    resp: &mut ResponseHeader,
    reply: &mut ctx::Reply,
    err: &S3Error,
    resource: &str,
    method: &http::Method,
) -> Result<()> {
    reply.error_code = Some(err.code);
    let xml = Bytes::from(err.to_xml(resource, &reply.request_id, false));
    resp.set_status(err.code.http_status())?;
    resp.insert_header(header::CONTENT_TYPE, "application/xml")?;
    resp.remove_header(&header::TRANSFER_ENCODING);
    // A redirect's target is the backend's own address: never the client's business.
    resp.remove_header(&header::LOCATION);
    if method == http::Method::HEAD {
        resp.remove_header(&header::CONTENT_LENGTH);
        reply.replacement_body = Some(Bytes::new());
    } else {
        resp.insert_header(header::CONTENT_LENGTH, xml.len().to_string())?;
        reply.replacement_body = Some(xml);
    }
    Ok(())
}
