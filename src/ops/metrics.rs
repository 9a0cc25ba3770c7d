//! The proxy's Prometheus metrics in their own registry, and the closed sets their labels come
//! from.

use prometheus::core::Collector;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::credentials::CredentialStore;
use crate::error::S3ErrorCode;

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
    /// Bytes held by requests not yet authenticated (`limits.unauthenticated_memory`'s use).
    pub unauthenticated_bytes: IntGauge,
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
        let metrics = Metrics {
            requests: counter_vec(
                &registry,
                "s3_proxy_requests_total",
                "Requests by method and status class",
                &["method", "status"],
            )?,
            refusals: counter_vec(
                &registry,
                "s3_proxy_refusals_total",
                "Refused or failed requests by S3 error code",
                &["code"],
            )?,
            bytes_received: counter(
                &registry,
                "s3_proxy_received_bytes_total",
                "Request body bytes received from clients",
            )?,
            bytes_forwarded: counter(
                &registry,
                "s3_proxy_forwarded_bytes_total",
                "Request body bytes forwarded to the backend",
            )?,
            bytes_sent: counter(
                &registry,
                "s3_proxy_sent_bytes_total",
                "Response body bytes sent to clients",
            )?,
            request_duration: histogram_vec(
                &registry,
                HistogramOpts::new("s3_proxy_request_duration_seconds", "Whole-request latency")
                    .buckets(LATENCY_BUCKETS.to_vec()),
                &["method"],
            )?,
            upstream_duration: histogram_vec(
                &registry,
                HistogramOpts::new(
                    "s3_proxy_upstream_duration_seconds",
                    "From choosing the backend to its response header",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["method"],
            )?,
            verification_duration: histogram_vec(
                &registry,
                HistogramOpts::new(
                    "s3_proxy_verification_duration_seconds",
                    "Time to verify a request's head",
                )
                .buckets(VERIFICATION_BUCKETS.to_vec()),
                &["result"],
            )?,
            in_flight: gauge(
                &registry,
                "s3_proxy_in_flight_requests",
                "Requests being served",
            )?,
            unauthenticated_bytes: gauge(
                &registry,
                "s3_proxy_unauthenticated_bytes",
                "Bytes held by requests not yet authenticated: waiting heads, POST form fields",
            )?,
            secrets_reloads: counter_vec(
                &registry,
                "s3_proxy_secrets_reloads_total",
                "Reloads of the secrets file by outcome",
                &["outcome"],
            )?,
            signing_key_cache: counter_vec(
                &registry,
                "s3_proxy_signing_key_cache_total",
                "Signing-key cache lookups by outcome",
                &["outcome"],
            )?,
            registry,
        };
        // Series that exist from the start, so dashboards see zeros rather than gaps.
        for outcome in ["ok", "failed"] {
            metrics.secrets_reloads.with_label_values(&[outcome]);
        }
        for outcome in ["hit", "miss"] {
            metrics.signing_key_cache.with_label_values(&[outcome]);
        }
        Ok(metrics)
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

/// Buckets (seconds) of the whole-request and upstream latency histograms.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Buckets (seconds) of the verification histogram: a request's head is verified in
/// microseconds.
const VERIFICATION_BUCKETS: &[f64] = &[
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2,
];

/// Add a metric to the registry and hand it back.
fn register<M: Collector + Clone + 'static>(
    registry: &Registry,
    metric: M,
) -> Result<M, prometheus::Error> {
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// A registered counter without labels.
fn counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, prometheus::Error> {
    register(registry, IntCounter::new(name, help)?)
}

/// A registered gauge without labels.
fn gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, prometheus::Error> {
    register(registry, IntGauge::new(name, help)?)
}

/// A registered family of counters with the given labels.
fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    register(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

/// A registered family of histograms with the given labels.
fn histogram_vec(
    registry: &Registry,
    opts: HistogramOpts,
    labels: &[&str],
) -> Result<HistogramVec, prometheus::Error> {
    register(registry, HistogramVec::new(opts, labels)?)
}

/// Raise a counter to a monotonic total kept elsewhere.
fn sync_counter(counter: &IntCounter, total: u64) {
    let current = counter.get();
    if total > current {
        counter.inc_by(total - current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
