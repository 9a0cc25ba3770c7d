//! Admission: what a client may hold of the proxy before it has proven who it is.
//!
//! Pingora gives a request head a read timeout that every byte renews and 1 MiB of buffer, so
//! a client trickling a head (or a POST form's fields) holds memory for as long as it likes.
//! This layer sits between the listener and Pingora's HTTP/1 parser, on every accepted
//! connection, and bounds that state:
//!
//! - a deadline for the whole head (`server.header_timeout`) that trickling cannot renew,
//!   from the connection's accept for its first request and from the first byte for later
//!   ones (idle time between requests is `server.keepalive_timeout`'s);
//! - a size cap on the head (`limits.max_header_size`);
//! - one budget shared by all connections (`limits.unauthenticated_memory`) for the bytes held
//!   by requests not yet authenticated. A head is charged when it would wait with bytes held
//!   (a head that arrives whole is parsed at once and never charged, so a client that sends
//!   its request in one go is served even while slow clients fill the budget); a POST form is
//!   charged for its fields until they are verified. A charge the budget cannot take is
//!   refused with `503 SlowDown`;
//! - optionally, the connections one client address may hold open
//!   (`limits.max_connections_per_address`).
//!
//! The bookkeeping is in this module and [`head`] (no I/O); [`stream`] applies it to a
//! connection's bytes and [`app`] puts it in front of Pingora's `HttpProxy`.
//!
//! HTTP/2 (offered on the TLS listener) multiplexes requests on one connection: its heads are
//! not timed or charged here, only capped in size (the h2 settings, [`app`]) and its
//! connections counted per address.

pub mod app;
pub mod head;
pub mod stream;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::error::{new_request_id, S3Error, S3ErrorCode};
use crate::ops::Metrics;

/// What a connection's first head costs while this layer reads it, besides its buffer: the
/// connection's task, socket, timer and state (measured: 21 KiB per connection that has sent
/// nothing, release build, 2,000 connections; README "Before authentication").
pub const FIRST_HEAD_OVERHEAD: usize = 24 * 1024;

/// What a later head on a kept-alive connection costs besides its bytes: Pingora reads it,
/// with its session and the state of its proxy path allocated (measured: 48 KiB).
pub const PINGORA_HEAD_OVERHEAD: usize = 48 * 1024;

/// The limits of this layer, from `[server]` and `[limits]`.
#[derive(Debug, Clone)]
pub struct AdmissionLimits {
    /// `server.header_timeout`.
    pub header_timeout: Duration,
    /// `limits.max_header_size`.
    pub max_header_size: usize,
    /// `limits.unauthenticated_memory`.
    pub unauthenticated_memory: usize,
    /// `limits.max_connections_per_address`.
    pub max_connections_per_address: Option<u32>,
}

impl AdmissionLimits {
    /// The limits a validated config sets.
    pub fn from_config(config: &Config) -> AdmissionLimits {
        AdmissionLimits {
            header_timeout: config.server.header_timeout,
            max_header_size: config.limits.max_header_size,
            unauthenticated_memory: config.limits.unauthenticated_memory,
            max_connections_per_address: config.limits.max_connections_per_address,
        }
    }
}

/// The shared state of admission: limits, the unauthenticated-memory budget, the connections
/// per address.
pub struct Admission {
    limits: AdmissionLimits,
    /// Bytes charged now, summed over every connection.
    held: AtomicUsize,
    /// Open connections per client address, kept only with a per-address cap.
    per_address: Option<Mutex<HashMap<IpAddr, u32>>>,
    metrics: Option<Arc<Metrics>>,
    /// When the last "budget full" warning was logged (seconds since the epoch).
    last_full_warning: AtomicU64,
}

impl Admission {
    /// Admission with these limits; refusals are counted in `metrics` when given.
    pub fn new(limits: AdmissionLimits, metrics: Option<Arc<Metrics>>) -> Admission {
        let per_address = limits
            .max_connections_per_address
            .map(|_| Mutex::new(HashMap::new()));
        Admission {
            limits,
            held: AtomicUsize::new(0),
            per_address,
            metrics,
            last_full_warning: AtomicU64::new(0),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &AdmissionLimits {
        &self.limits
    }

    /// Bytes held now by requests not yet authenticated.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Charge `bytes` to the budget, or refuse (nothing charged) when it cannot take them.
    pub fn try_charge(&self, bytes: usize) -> bool {
        let limit = self.limits.unauthenticated_memory;
        let charged = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes).filter(|&total| total <= limit)
            })
            .is_ok();
        if charged {
            self.set_gauge();
        } else {
            self.warn_full();
        }
        charged
    }

    /// Give back `bytes` charged earlier.
    pub fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.held.fetch_sub(bytes, Ordering::AcqRel);
            self.set_gauge();
        }
    }

    /// Count a refusal made before authentication (the access log never sees these).
    pub fn count_refusal(&self, code: S3ErrorCode) {
        if let Some(m) = &self.metrics {
            m.refused(code);
        }
    }

    /// A place for one more connection from `addr`, or `None` when the address is at its cap.
    /// Without a cap (or an address) every connection has a place.
    pub fn connection_slot(self: &Arc<Self>, addr: Option<IpAddr>) -> Option<ConnectionSlot> {
        let (Some(cap), Some(map), Some(addr)) = (
            self.limits.max_connections_per_address,
            self.per_address.as_ref(),
            addr,
        ) else {
            return Some(ConnectionSlot { owner: None });
        };
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        let open = map.entry(addr).or_insert(0);
        if *open >= cap {
            return None;
        }
        *open += 1;
        Some(ConnectionSlot {
            owner: Some((self.clone(), addr)),
        })
    }

    fn set_gauge(&self) {
        if let Some(m) = &self.metrics {
            m.unauthenticated_bytes.set(self.held() as i64);
        }
    }

    /// Log that the budget is full at most every 10 s: under a flood every refused request
    /// would otherwise write a line.
    fn warn_full(&self) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.last_full_warning.load(Ordering::Relaxed);
        if now >= last + 10
            && self
                .last_full_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                limit = self.limits.unauthenticated_memory,
                "limits.unauthenticated_memory is full: requests that would hold more are refused with 503 SlowDown"
            );
        }
    }
}

/// One connection's place under the per-address cap, given back when dropped.
pub struct ConnectionSlot {
    owner: Option<(Arc<Admission>, IpAddr)>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let Some((admission, addr)) = &self.owner else {
            return;
        };
        if let Some(map) = &admission.per_address {
            let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(open) = map.get_mut(addr) {
                *open -= 1;
                if *open == 0 {
                    map.remove(addr);
                }
            }
        }
    }
}

/// Bytes charged to the budget by one request, given back when dropped (a POST form's fields
/// until they are verified).
pub struct Charge<'a> {
    admission: &'a Admission,
    bytes: usize,
}

impl<'a> Charge<'a> {
    /// Nothing charged yet.
    pub fn new(admission: &'a Admission) -> Charge<'a> {
        Charge {
            admission,
            bytes: 0,
        }
    }

    /// Charge `bytes` more, or refuse with `503 SlowDown` when the budget is full.
    pub fn add(&mut self, bytes: usize) -> Result<(), S3Error> {
        if self.admission.try_charge(bytes) {
            self.bytes += bytes;
            Ok(())
        } else {
            Err(slow_down())
        }
    }
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        self.admission.release(self.bytes);
    }
}

/// The refusal when the unauthenticated-memory budget (or an address's cap) is full.
pub fn slow_down() -> S3Error {
    S3Error::new(S3ErrorCode::SlowDown, "Please reduce your request rate.")
}

/// The refusal of a head (or form fields) not received within `server.header_timeout`.
pub fn request_timeout() -> S3Error {
    S3Error::new(
        S3ErrorCode::RequestTimeout,
        "Your socket connection to the server was not read from or written to within the timeout period.",
    )
}

/// The refusal of a head larger than `limits.max_header_size`.
pub fn header_too_large() -> S3Error {
    S3Error::new(
        S3ErrorCode::RequestHeaderSectionTooLarge,
        "Your request header section exceeds the maximum allowed size.",
    )
}

/// A whole HTTP/1.1 answer carrying `err` as S3 XML, for a connection closed after it: written
/// by this layer itself, as no request was parsed for Pingora to answer.
pub fn closing_answer(err: &S3Error) -> Vec<u8> {
    let request_id = new_request_id();
    let xml = err.to_xml("", &request_id, false);
    let status = err.code.http_status();
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         x-amz-request-id: {request_id}\r\nConnection: close\r\n\r\n",
        xml.len()
    )
    .into_bytes();
    out.extend_from_slice(xml.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(budget: usize, per_address: Option<u32>) -> Arc<Admission> {
        Arc::new(Admission::new(
            AdmissionLimits {
                header_timeout: Duration::from_secs(10),
                max_header_size: 64 * 1024,
                unauthenticated_memory: budget,
                max_connections_per_address: per_address,
            },
            None,
        ))
    }

    #[test]
    fn the_budget_takes_charges_up_to_its_limit_and_no_further() {
        let a = admission(100, None);
        assert!(a.try_charge(60));
        assert!(a.try_charge(40));
        assert!(!a.try_charge(1));
        assert_eq!(a.held(), 100);
        a.release(40);
        assert!(a.try_charge(30));
        assert_eq!(a.held(), 90);
    }

    #[test]
    fn a_charge_gives_its_bytes_back_when_dropped_even_after_a_refusal() {
        let a = admission(100, None);
        {
            let mut c = Charge::new(&a);
            c.add(70).unwrap();
            let err = c.add(31).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::SlowDown);
            assert_eq!(a.held(), 70);
        }
        assert_eq!(a.held(), 0);
    }

    #[test]
    fn the_per_address_cap_counts_open_connections_per_address() {
        let a = admission(100, Some(2));
        let one: IpAddr = "127.0.0.1".parse().unwrap();
        let two: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = a.connection_slot(Some(one)).unwrap();
        let _s2 = a.connection_slot(Some(one)).unwrap();
        assert!(a.connection_slot(Some(one)).is_none());
        assert!(a.connection_slot(Some(two)).is_some());
        drop(s1);
        assert!(a.connection_slot(Some(one)).is_some());
    }

    #[test]
    fn without_a_cap_every_connection_has_a_place() {
        let a = admission(100, None);
        let addr: IpAddr = "127.0.0.1".parse().unwrap();
        let slots: Vec<_> = (0..1000).map(|_| a.connection_slot(Some(addr))).collect();
        assert!(slots.iter().all(Option::is_some));
    }

    #[test]
    fn a_closing_answer_is_one_http_response_with_the_s3_code() {
        let answer = String::from_utf8(closing_answer(&slow_down())).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nConnection: close"));
        assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
        assert!(body.contains("<Code>SlowDown</Code>"), "{body}");
        let timeout = String::from_utf8(closing_answer(&request_timeout())).unwrap();
        assert!(timeout.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(timeout.contains("<Code>RequestTimeout</Code>"));
    }
}
