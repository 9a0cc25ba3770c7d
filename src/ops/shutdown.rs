//! Graceful shutdown: SIGTERM turns readiness off and exits once the requests in flight are done.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::{ShutdownSignal, ShutdownSignalWatch};

use super::lifecycle::Lifecycle;

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
