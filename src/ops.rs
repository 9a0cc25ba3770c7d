//! What operators see and control: readiness, in-flight requests, graceful shutdown, and the
//! Prometheus metrics served with `/healthz` and `/readyz` on `server.metrics_listen`.
//!
//! Metric labels come from closed sets only (method names, status classes, S3 error codes,
//! outcomes): never keys, access keys or paths, so the series count stays bounded.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::credentials::CredentialStore;
use crate::error::S3ErrorCode;

/// Shared state of the process's life: whether it takes traffic and how many requests are
/// being served.
#[derive(Debug, Default)]
pub struct Lifecycle {
    shutting_down: AtomicBool,
    in_flight: AtomicUsize,
}

impl Lifecycle {
    /// A request started; the guard ends it when dropped (whatever path the request took).
    pub fn begin_request(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Requests being served now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// SIGTERM arrived: readiness turns false at once.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether SIGTERM has arrived.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// Counts one request as in flight while it lives.
#[derive(Debug)]
pub struct InFlight(Arc<Lifecycle>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The proxy's Prometheus metrics, in their own registry.
pub struct Metrics {
    registry: Registry,
    /// Requests by method and status class (`2xx`…`5xx`).
    pub requests: IntCounterVec,
    /// Refused or failed requests by S3 error code.
    pub refusals: IntCounterVec,
    /// Request body bytes received from clients.
    pub bytes_received: IntCounter,
    /// Request body bytes forwarded to the backend.
    pub bytes_forwarded: IntCounter,
    /// Response body bytes sent to clients.
    pub bytes_sent: IntCounter,
    /// Whole-request latency by method.
    pub request_duration: HistogramVec,
    /// From choosing the backend to its response header, by method.
    pub upstream_duration: HistogramVec,
    /// Time to verify a request's head (signature, date, scope).
    pub verification_duration: HistogramVec,
    /// Requests being served.
    pub in_flight: IntGauge,
    secrets_reloads: IntCounterVec,
    signing_key_cache: IntCounterVec,
}

/// A method label from a closed set.
pub fn method_label(method: &http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "PUT" => "PUT",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// The status class label of an HTTP status (`0` when no response was written).
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "none",
    }
}

impl Metrics {
    /// Create and register every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let latency_buckets = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            30.0, 60.0,
        ];
        let requests = IntCounterVec::new(
            Opts::new(
                "s3_proxy_requests_total",
                "Requests by method and status class",
            ),
            &["method", "status"],
        )?;
        let refusals = IntCounterVec::new(
            Opts::new(
                "s3_proxy_refusals_total",
                "Refused or failed requests by S3 error code",
            ),
            &["code"],
        )?;
        let bytes_received = IntCounter::new(
            "s3_proxy_received_bytes_total",
            "Request body bytes received from clients",
        )?;
        let bytes_forwarded = IntCounter::new(
            "s3_proxy_forwarded_bytes_total",
            "Request body bytes forwarded to the backend",
        )?;
        let bytes_sent = IntCounter::new(
            "s3_proxy_sent_bytes_total",
            "Response body bytes sent to clients",
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new("s3_proxy_request_duration_seconds", "Whole-request latency")
                .buckets(latency_buckets.clone()),
            &["method"],
        )?;
        let upstream_duration = HistogramVec::new(
            HistogramOpts::new(
                "s3_proxy_upstream_duration_seconds",
                "From choosing the backend to its response header",
            )
            .buckets(latency_buckets),
            &["method"],
        )?;
        let verification_duration = HistogramVec::new(
            HistogramOpts::new(
                "s3_proxy_verification_duration_seconds",
                "Time to verify a request's head",
            )
            .buckets(vec![
                1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2,
            ]),
            &["result"],
        )?;
        let in_flight = IntGauge::new("s3_proxy_in_flight_requests", "Requests being served")?;
        let secrets_reloads = IntCounterVec::new(
            Opts::new(
                "s3_proxy_secrets_reloads_total",
                "Reloads of the secrets file by outcome",
            ),
            &["outcome"],
        )?;
        let signing_key_cache = IntCounterVec::new(
            Opts::new(
                "s3_proxy_signing_key_cache_total",
                "Signing-key cache lookups by outcome",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(refusals.clone()))?;
        registry.register(Box::new(bytes_received.clone()))?;
        registry.register(Box::new(bytes_forwarded.clone()))?;
        registry.register(Box::new(bytes_sent.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(upstream_duration.clone()))?;
        registry.register(Box::new(verification_duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(secrets_reloads.clone()))?;
        registry.register(Box::new(signing_key_cache.clone()))?;
        // Series that exist from the start, so dashboards see zeros rather than gaps.
        for outcome in ["ok", "failed"] {
            secrets_reloads.with_label_values(&[outcome]);
        }
        for outcome in ["hit", "miss"] {
            signing_key_cache.with_label_values(&[outcome]);
        }
        Ok(Metrics {
            registry,
            requests,
            refusals,
            bytes_received,
            bytes_forwarded,
            bytes_sent,
            request_duration,
            upstream_duration,
            verification_duration,
            in_flight,
            secrets_reloads,
            signing_key_cache,
        })
    }

    /// Count a refusal by its S3 code.
    pub fn refused(&self, code: S3ErrorCode) {
        self.refusals.with_label_values(&[code.as_str()]).inc();
    }

    /// Prometheus text format, with the credential store's counters brought up to date.
    pub fn render(&self, credentials: &CredentialStore) -> Vec<u8> {
        sync_counter(
            &self.secrets_reloads.with_label_values(&["ok"]),
            credentials.reloads_ok(),
        );
        sync_counter(
            &self.secrets_reloads.with_label_values(&["failed"]),
            credentials.reloads_failed(),
        );
        sync_counter(
            &self.signing_key_cache.with_label_values(&["hit"]),
            credentials.cache_hits(),
        );
        sync_counter(
            &self.signing_key_cache.with_label_values(&["miss"]),
            credentials.cache_misses(),
        );
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!("cannot encode metrics: {e}");
        }
        out
    }
}

/// Raise a counter to a monotonic total kept elsewhere.
fn sync_counter(counter: &IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

/// Serves `/healthz`, `/readyz` and `/metrics` on the metrics port.
pub struct OpsApp {
    /// For readiness and its counters.
    pub credentials: Arc<CredentialStore>,
    /// For readiness during shutdown.
    pub lifecycle: Arc<Lifecycle>,
    /// What `/metrics` shows.
    pub metrics: Arc<Metrics>,
    /// When set, `/readyz` also needs a TCP connection to this backend address.
    pub upstream_probe: Option<(String, Duration)>,
}

impl OpsApp {
    async fn ready(&self) -> Result<(), &'static str> {
        if self.lifecycle.is_shutting_down() {
            return Err("shutting down");
        }
        if !self.credentials.is_loaded() {
            return Err("secrets not loaded");
        }
        if let Some((address, timeout)) = &self.upstream_probe {
            let connect = tokio::net::TcpStream::connect(address.as_str());
            match tokio::time::timeout(*timeout, connect).await {
                Ok(Ok(_)) => {}
                _ => return Err("upstream not answering"),
            }
        }
        Ok(())
    }
}

impl OpsApp {
    /// Status, content type and body for a path.
    async fn answer(&self, path: &str) -> (u16, &'static str, Vec<u8>) {
        match path {
            "/healthz" => (200, "text/plain", b"ok\n".to_vec()),
            "/readyz" => match self.ready().await {
                Ok(()) => (200, "text/plain", b"ready\n".to_vec()),
                Err(why) => (
                    503,
                    "text/plain",
                    format!("not ready: {why}\n").into_bytes(),
                ),
            },
            "/metrics" => {
                self.metrics
                    .in_flight
                    .set(self.lifecycle.in_flight() as i64);
                (
                    200,
                    "text/plain; version=0.0.4",
                    self.metrics.render(&self.credentials),
                )
            }
            _ => (404, "text/plain", b"not found\n".to_vec()),
        }
    }

    /// Serve the ops endpoints on `addr` from a thread of their own. They are deliberately not
    /// a Pingora service: Pingora closes its listeners at SIGTERM, and `/readyz` must keep
    /// answering 503 while requests in flight drain.
    pub fn spawn(self, addr: std::net::SocketAddr) -> std::io::Result<()> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let app = Arc::new(self);
        std::thread::Builder::new()
            .name("ops".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!("ops endpoints not served: cannot start a runtime: {e}");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("ops endpoints not served: {e}");
                            return;
                        }
                    };
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let app = app.clone();
                        tokio::spawn(async move {
                            let _ =
                                tokio::time::timeout(OPS_REQUEST_TIMEOUT, app.serve_one(stream))
                                    .await;
                        });
                    }
                });
            })?;
        Ok(())
    }

    /// One request per connection: read the head (bounded), answer, close.
    async fn serve_one(&self, mut stream: tokio::net::TcpStream) -> std::io::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut head = Vec::with_capacity(512);
        let mut buf = [0u8; 512];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 || head.len() + n > MAX_OPS_REQUEST_HEAD {
                return Ok(());
            }
            head.extend_from_slice(&buf[..n]);
        }
        let request_line = head.split(|&b| b == b'\r').next().unwrap_or_default();
        let mut words = request_line.split(|&b| b == b' ');
        let method = words.next().unwrap_or_default();
        let path = std::str::from_utf8(words.next().unwrap_or_default()).unwrap_or("");
        let path = path.split('?').next().unwrap_or(path);
        let (status, content_type, body) = if method == b"GET" || method == b"HEAD" {
            self.answer(path).await
        } else {
            (405, "text/plain", b"method not allowed\n".to_vec())
        };
        let reason = match status {
            200 => "OK",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Service Unavailable",
        };
        let mut response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        if method != b"HEAD" {
            response.extend_from_slice(&body);
        }
        stream.write_all(&response).await?;
        stream.shutdown().await
    }
}

/// Largest request head the ops endpoints read.
const MAX_OPS_REQUEST_HEAD: usize = 8 * 1024;
/// How long one ops request may take.
const OPS_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// SIGTERM: readiness false at once, listeners closed (Pingora's graceful terminate), and the
/// process exits 0 as soon as the requests in flight have finished, or when
/// `server.shutdown_grace` runs out (Pingora itself would always wait the whole grace period).
/// SIGINT: stop at once.
pub struct GracefulShutdown {
    /// Shared with the proxy and the ops app.
    pub lifecycle: Arc<Lifecycle>,
    /// `server.shutdown_grace`.
    pub grace: Duration,
}

/// How often the drain watcher looks at the in-flight count.
const DRAIN_POLL: Duration = Duration::from_millis(50);

#[async_trait]
impl ShutdownSignalWatch for GracefulShutdown {
    async fn recv(&self) -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers; stopping");
            return ShutdownSignal::FastShutdown;
        };
        tokio::select! {
            _ = term.recv() => {
                tracing::info!(
                    in_flight = self.lifecycle.in_flight(),
                    grace_seconds = self.grace.as_secs(),
                    "SIGTERM: not ready any more, finishing requests in flight"
                );
                self.lifecycle.begin_shutdown();
                let lifecycle = self.lifecycle.clone();
                let grace = self.grace;
                std::thread::spawn(move || {
                    let started = Instant::now();
                    // Let Pingora close the listeners before the first look.
                    std::thread::sleep(DRAIN_POLL);
                    while started.elapsed() < grace {
                        if lifecycle.in_flight() == 0 {
                            tracing::info!("all requests finished; exiting");
                            std::process::exit(0);
                        }
                        std::thread::sleep(DRAIN_POLL);
                    }
                    // Pingora's own grace period ends now too and it exits.
                });
                ShutdownSignal::GracefulTerminate
            }
            _ = int.recv() => ShutdownSignal::FastShutdown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_guard_counts_until_dropped() {
        let life = Arc::new(Lifecycle::default());
        let a = life.begin_request();
        let b = life.begin_request();
        assert_eq!(life.in_flight(), 2);
        drop(a);
        assert_eq!(life.in_flight(), 1);
        drop(b);
        assert_eq!(life.in_flight(), 0);
    }

    #[test]
    fn labels_come_from_closed_sets() {
        assert_eq!(
            method_label(&http::Method::from_bytes(b"BREW").unwrap()),
            "other"
        );
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(0), "none");
    }

    #[test]
    fn metrics_render_in_prometheus_text_format() {
        let m = Metrics::new().unwrap();
        m.requests.with_label_values(&["PUT", "2xx"]).inc();
        m.refused(S3ErrorCode::SignatureDoesNotMatch);
        let store = CredentialStore::from_toml_str("credentials = []\n").unwrap();
        let text = String::from_utf8(m.render(&store)).unwrap();
        assert!(
            text.contains("s3_proxy_requests_total{method=\"PUT\",status=\"2xx\"} 1"),
            "{text}"
        );
        assert!(text.contains("s3_proxy_refusals_total{code=\"SignatureDoesNotMatch\"} 1"));
        assert!(text.contains("s3_proxy_secrets_reloads_total{outcome=\"failed\"} 0"));
    }
}
