//! The access log line and the request metrics, written once per request from `logging`.

use pingora::prelude::*;
use pingora::proxy::Session;

use super::ctx::RequestCtx;
use crate::ops::{method_label, status_class, Metrics};

/// One access log line (target `access`): never secrets, signatures or the query string.
pub fn log_request(session: &Session, e: Option<&Error>, ctx: &RequestCtx) {
    let status = answered_status(session);
    let (bucket, key) = ctx
        .identity
        .target
        .as_ref()
        .map(|t| (t.bucket.as_str(), t.key.as_str()))
        .unwrap_or(("", ""));
    let access_key = ctx.identity.access_key.as_deref().unwrap_or("-");
    tracing::info!(
        target: "access",
        request_id = %ctx.reply.request_id,
        remote = %session.client_addr().map(|a| a.to_string()).unwrap_or_default(),
        access_key,
        auth = ctx.identity.auth_label,
        method = %session.req_header().method,
        bucket,
        key,
        status,
        error_code = ctx.reply.error_code.map(|c| c.as_str()).unwrap_or("-"),
        bytes_in = session.body_bytes_read(),
        bytes_out = session.body_bytes_sent(),
        duration_ms = ctx.started.elapsed().as_millis() as u64,
        failure = e.map(|e| e.etype().as_str()).unwrap_or("-"),
        "request"
    );
}

/// The request counters and histograms.
pub fn count_request(metrics: &Metrics, session: &Session, ctx: &RequestCtx) {
    let status = answered_status(session);
    let method = method_label(&session.req_header().method);
    metrics
        .requests
        .with_label_values(&[method, status_class(status)])
        .inc();
    if let Some(code) = ctx.reply.error_code {
        metrics.refused(code);
    }
    metrics
        .bytes_received
        .inc_by(session.body_bytes_read() as u64);
    metrics.bytes_forwarded.inc_by(ctx.body.bytes_forwarded);
    metrics.bytes_sent.inc_by(session.body_bytes_sent() as u64);
    metrics
        .request_duration
        .with_label_values(&[method])
        .observe(ctx.started.elapsed().as_secs_f64());
}

/// The status answered, 0 when nothing was.
fn answered_status(session: &Session) -> u16 {
    session
        .response_written()
        .map(|r| r.status.as_u16())
        .unwrap_or(0)
}
