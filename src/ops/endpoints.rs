//! The ops HTTP server: `/healthz`, `/readyz` and `/metrics` on `server.metrics_listen`, one
//! request per connection, on a thread of its own.

use std::sync::Arc;
use std::time::Duration;

use super::lifecycle::Lifecycle;
use super::metrics::Metrics;
use crate::credentials::CredentialStore;

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
