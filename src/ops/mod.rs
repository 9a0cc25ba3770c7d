//! What operators see and control: readiness, in-flight requests, graceful shutdown, and the
//! Prometheus metrics served with `/healthz` and `/readyz` on `server.metrics_listen`.
//!
//! Metric labels come from closed sets only (method names, status classes, S3 error codes,
//! outcomes): never keys, access keys or paths, so the series count stays bounded.
//!
//! `lifecycle` keeps readiness and the in-flight count, `metrics` the Prometheus registry and its
//! closed label sets, `endpoints` the small HTTP server for `/healthz`, `/readyz` and `/metrics`,
//! `shutdown` the SIGTERM drain, and `log_writer` the log's own writer thread. Everything is re-exported here: callers name
//! `crate::ops::Metrics`, never the file it lives in.

mod endpoints;
mod lifecycle;
mod log_writer;
mod metrics;
mod shutdown;

pub use endpoints::OpsApp;
pub use lifecycle::{InFlight, Lifecycle};
pub use log_writer::{spawn_log_writer, LogFlushGuard, LogWriter, BATCH_WINDOW, MAX_PENDING};
pub use metrics::{method_label, status_class, Metrics};
pub use shutdown::GracefulShutdown;
