//! Whether the process takes traffic, and how many requests it is serving: shared by the proxy,
//! the ops endpoints and the shutdown drain.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

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
}
