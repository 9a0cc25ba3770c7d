//! The backend fails: refused, unreachable, stalled, reset mid-upload, or a pooled connection
//! that went stale while it still looks alive. Each case runs against a real nginx (stopped,
//! SIGSTOPped, with `keepalive_timeout 1s`, or behind the [`Relay`] below) and checks what the
//! client is told (an S3 XML error with a fitting status, within the configured timeouts) and
//! what the backend kept (nothing, unless the upload succeeded byte-exact).

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::http::{self, Connection, Request, Response};
use support::{patterned_bytes, Nginx, Payload, Proxy, ProxyOptions, Signer};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The relay: a connection that still looks alive after its backend side is gone
// ---------------------------------------------------------------------------------------------

/// How many bytes a severed connection swallows before it closes: more than Pingora's 64 KiB
/// retry buffer, so a body that went this far on the stale connection cannot be replayed.
const SWALLOW_LIMIT: usize = 256 * KIB;

/// How long a severed connection waits for more bytes before it closes.
const SWALLOW_QUIET: Duration = Duration::from_millis(200);

/// A TCP relay on loopback between the proxy and nginx.
///
/// [`Relay::sever`] closes the nginx side of every connection it carries but keeps the proxy's
/// side open and silent, so Pingora's pool (which watches idle connections for a FIN) still
/// holds them as alive. The next request on such a connection is taken in (up to
/// [`SWALLOW_LIMIT`] bytes, or until the sender pauses for [`SWALLOW_QUIET`]) and answered with
/// a close, as a backend that vanished, a NAT that forgot the flow or a load balancer that
/// dropped it would. [`Relay::cut_uploads_after`] instead resets a connection in the middle of
/// the body it carries (nginx sees a short body).
struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    links: Mutex<Vec<Arc<Link>>>,
    /// Connections accepted from the proxy.
    accepted: AtomicUsize,
    /// Bytes taken in by severed connections (a request sent on a stale connection).
    swallowed: AtomicUsize,
    /// When non-zero, a connection is cut after forwarding this many bytes to nginx.
    cut_after: AtomicUsize,
    /// Connections cut by `cut_after`.
    cut: AtomicUsize,
}

/// One proxied connection: the nginx side, and whether it has been severed.
struct Link {
    upstream: TcpStream,
    severed: AtomicBool,
}

impl Relay {
    fn start(backend: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let shared = Arc::new(Shared::default());
        let accept_shared = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                accept_shared.accepted.fetch_add(1, Ordering::SeqCst);
                let Ok(upstream) = TcpStream::connect(backend) else {
                    continue;
                };
                relay_connection(client, upstream, accept_shared.clone());
            }
        });
        Relay { addr, shared }
    }

    /// Makes every connection open now stale: nginx's side closed, the proxy's side silent.
    fn sever(&self) {
        for link in self.shared.links.lock().unwrap().drain(..) {
            link.severed.store(true, Ordering::SeqCst);
            let _ = link.upstream.shutdown(Shutdown::Both);
        }
    }

    /// Cuts each connection that has forwarded more than `bytes` towards nginx.
    fn cut_uploads_after(&self, bytes: usize) {
        self.shared.cut_after.store(bytes, Ordering::SeqCst);
    }

    fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    fn swallowed(&self) -> usize {
        self.shared.swallowed.load(Ordering::SeqCst)
    }

    fn cut(&self) -> usize {
        self.shared.cut.load(Ordering::SeqCst)
    }
}

fn relay_connection(client: TcpStream, upstream: TcpStream, shared: Arc<Shared>) {
    let link = Arc::new(Link {
        upstream: upstream.try_clone().expect("clone upstream"),
        severed: AtomicBool::new(false),
    });
    shared.links.lock().unwrap().push(link.clone());
    let (client_reader, mut client_writer) = (client.try_clone().expect("clone client"), client);
    let mut upstream_reader = upstream.try_clone().expect("clone upstream");
    let back_link = link.clone();
    // nginx → proxy. When severed, the proxy must not see a FIN: the connection stays
    // "alive" in its pool.
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * KIB];
        loop {
            match upstream_reader.read(&mut buf) {
                Ok(n) if n > 0 && !back_link.severed.load(Ordering::SeqCst) => {
                    if client_writer.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
                _ => {
                    if !back_link.severed.load(Ordering::SeqCst) {
                        let _ = client_writer.shutdown(Shutdown::Write);
                    }
                    return;
                }
            }
        }
    });
    // proxy → nginx, or into the hole once severed.
    std::thread::spawn(move || forward_requests(client_reader, upstream, &link, &shared));
}

fn forward_requests(mut client: TcpStream, mut upstream: TcpStream, link: &Link, shared: &Shared) {
    let mut buf = vec![0u8; 64 * KIB];
    let mut forwarded = 0usize;
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = upstream.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        if link.severed.load(Ordering::SeqCst) {
            shared.swallowed.fetch_add(n, Ordering::SeqCst);
            return swallow_then_close(client, n, shared);
        }
        forwarded += n;
        let cut_after = shared.cut_after.load(Ordering::SeqCst);
        if cut_after > 0 && forwarded > cut_after {
            shared.cut.fetch_add(1, Ordering::SeqCst);
            link.severed.store(true, Ordering::SeqCst);
            let _ = upstream.shutdown(Shutdown::Both);
            // Unread bytes in the receive buffer make this close a reset.
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        if upstream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Takes in what a sender writes on a stale connection until it pauses or has sent
/// [`SWALLOW_LIMIT`], then closes (a reset, if more is arriving).
fn swallow_then_close(mut client: TcpStream, mut taken: usize, shared: &Shared) {
    let _ = client.set_read_timeout(Some(SWALLOW_QUIET));
    let mut buf = vec![0u8; 64 * KIB];
    while taken < SWALLOW_LIMIT {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                taken += n;
                shared.swallowed.fetch_add(n, Ordering::SeqCst);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(_) => break,
        }
    }
    let _ = client.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

fn signed_put(proxy: &Proxy, key: &str, body: Vec<u8>) -> Request {
    let mut put = proxy.request("PUT", &format!("/bucket/{key}")).body(body);
    Signer::default().sign(&mut put, Payload::Hashed);
    put
}

fn signed_get(proxy: &Proxy, key: &str) -> Request {
    let mut get = proxy.request("GET", &format!("/bucket/{key}"));
    Signer::default().sign(&mut get, Payload::Hashed);
    get
}

/// A `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` upload of `data` in 64 KiB chunks.
fn streaming_put(proxy: &Proxy, key: &str, data: &[u8]) -> Request {
    let mut put = proxy.request("PUT", &format!("/bucket/{key}"));
    let chunks: Vec<&[u8]> = data.chunks(64 * KIB).collect();
    Signer::default().sign_streaming(&mut put, &chunks);
    put
}

/// A few requests through the proxy so its pool holds connections to the backend.
fn fill_the_pool(proxy: &Proxy) {
    let put = signed_put(proxy, "warm", b"warm".to_vec());
    proxy.send(&put).assert_success();
    for _ in 0..3 {
        proxy.send(&signed_get(proxy, "warm")).assert_success();
    }
}

#[track_caller]
fn assert_stored(nginx: &Nginx, key: &str, data: &[u8]) {
    let stored = nginx.stored(&format!("bucket/{key}"));
    assert!(
        stored.as_deref() == Some(data),
        "bucket/{key}: stored {:?} bytes, sent {}",
        stored.map(|s| s.len()),
        data.len()
    );
}

#[track_caller]
fn assert_not_stored(nginx: &Nginx, key: &str) {
    std::thread::sleep(Duration::from_millis(300));
    let stored = nginx.stored(&format!("bucket/{key}"));
    assert!(
        stored.is_none(),
        "bucket/{key}: {} bytes stored",
        stored.map_or(0, |s| s.len())
    );
}

/// The proxy survived: nothing in its log says a thread panicked.
#[track_caller]
fn assert_no_panic(proxy: &Proxy) {
    let log = proxy.log();
    assert!(!log.contains("panicked"), "the proxy panicked:\n{log}");
}

#[track_caller]
fn assert_within(started: Instant, limit: Duration) {
    let took = started.elapsed();
    assert!(took < limit, "answered after {took:?}, limit {limit:?}");
}

/// Sends `request` in two writes with a pause between them, long enough for a stale connection
/// that took the first part to give up: the retry then has only part of the body buffered
/// and reads the rest from the client.
fn send_in_two_parts(proxy: &Proxy, request: &Request, first: usize, pause: Duration) -> Response {
    let mut connection = Connection::open(proxy.addr());
    let bytes = request.to_bytes();
    let split = request.head_bytes().len() + first;
    connection.write(&bytes[..split]).expect("write first part");
    std::thread::sleep(pause);
    connection.write(&bytes[split..]).expect("write the rest");
    connection.read_response(&request.method).expect("answer")
}

// ---------------------------------------------------------------------------------------------
// A pooled connection gone stale
// ---------------------------------------------------------------------------------------------

fn nginx_relay_proxy() -> (Nginx, Relay, Proxy) {
    let nginx = Nginx::start();
    let relay = Relay::start(nginx.addr());
    let proxy = Proxy::start_in_front_of(relay.addr, "http", ProxyOptions::default());
    (nginx, relay, proxy)
}

/// Pingora's retry buffer holds 64 KiB: a body larger than that cannot be replayed on a fresh
/// connection once it went out on a stale one. Such a body never goes on a pooled connection.
#[test]
fn a_large_signed_put_after_the_pool_went_stale_is_stored() {
    let (nginx, relay, proxy) = nginx_relay_proxy();
    for (i, len) in [200 * KIB, 3 * MIB].into_iter().enumerate() {
        fill_the_pool(&proxy);
        relay.sever();
        let data = patterned_bytes(len);
        let key = format!("large-{i}");
        let answer = proxy.send(&signed_put(&proxy, &key, data.clone()));
        answer.assert_success();
        assert_stored(&nginx, &key, &data);
    }
    assert_no_panic(&proxy);
}

#[test]
fn a_large_aws_chunked_put_after_the_pool_went_stale_is_stored() {
    let (nginx, relay, proxy) = nginx_relay_proxy();
    fill_the_pool(&proxy);
    relay.sever();
    let data = patterned_bytes(4 * MIB + 17);
    proxy
        .send(&streaming_put(&proxy, "chunked", &data))
        .assert_success();
    assert_stored(&nginx, "chunked", &data);
}

/// A small body does go on a pooled connection; on a stale one Pingora retries, replaying it
/// from its buffer through `upstream_request_filter`, which resets the verifier. Were the
/// verifier not reset, the replayed bytes would be hashed after the first attempt's and the
/// upload refused.
#[test]
fn a_small_put_on_a_stale_connection_is_retried_and_verified_again() {
    let (nginx, relay, proxy) = nginx_relay_proxy();
    fill_the_pool(&proxy);
    relay.sever();
    let accepted = relay.accepted();
    let data = patterned_bytes(20 * KIB);
    proxy
        .send(&signed_put(&proxy, "small", data.clone()))
        .assert_success();
    assert_stored(&nginx, "small", &data);
    assert!(
        relay.swallowed() > 0,
        "the first attempt used the stale connection"
    );
    assert!(
        relay.accepted() > accepted,
        "the retry used a new connection"
    );
}

/// A GET and a DELETE have no body to replay: retried on a new connection, answered as usual.
#[test]
fn reads_and_deletes_on_a_stale_connection_are_retried() {
    let (nginx, relay, proxy) = nginx_relay_proxy();
    fill_the_pool(&proxy);
    relay.sever();
    let got = proxy.send(&signed_get(&proxy, "warm"));
    got.assert_success();
    assert_eq!(got.body, b"warm");
    assert!(
        relay.swallowed() > 0,
        "the first attempt used the stale connection"
    );

    fill_the_pool(&proxy);
    relay.sever();
    let swallowed = relay.swallowed();
    let mut delete = proxy.request("DELETE", "/bucket/warm");
    Signer::default().sign(&mut delete, Payload::Hashed);
    assert_eq!(proxy.send(&delete).status, 204);
    assert!(
        relay.swallowed() > swallowed,
        "the first attempt used the stale connection"
    );
    assert_not_stored(&nginx, "warm");
}

/// The first attempt dies on the stale connection half-way through the body; the retry
/// replays the buffered half and reads the rest from the client. Both halves go through the
/// reset verifier: the right body is stored byte-exact, a tampered one is refused and nothing
/// is stored.
#[test]
fn a_put_retried_half_way_is_verified_from_the_start() {
    let (nginx, relay, proxy) = nginx_relay_proxy();
    let data = patterned_bytes(40 * KIB);
    let pause = SWALLOW_QUIET * 3;

    fill_the_pool(&proxy);
    relay.sever();
    let swallowed = relay.swallowed();
    let good = signed_put(&proxy, "halves", data.clone());
    send_in_two_parts(&proxy, &good, 20 * KIB, pause).assert_success();
    assert!(
        relay.swallowed() > swallowed,
        "the first attempt used the stale connection"
    );
    assert_stored(&nginx, "halves", &data);

    fill_the_pool(&proxy);
    relay.sever();
    let swallowed = relay.swallowed();
    let mut tampered = signed_put(&proxy, "tampered", data.clone());
    tampered.body[30 * KIB] ^= 1;
    let answer = send_in_two_parts(&proxy, &tampered, 20 * KIB, pause);
    answer.assert_s3_error(400, "XAmzContentSHA256Mismatch");
    assert!(
        relay.swallowed() > swallowed,
        "the first attempt used the stale connection"
    );
    assert_not_stored(&nginx, "tampered");
    assert_no_panic(&proxy);
}

/// A small aws-chunked upload retried from Pingora's buffer: its chunk signatures are checked
/// again from the seed, and a tampered chunk is still refused.
#[test]
fn a_small_aws_chunked_put_on_a_stale_connection_is_verified_again() {
    let (nginx, relay, proxy) = nginx_relay_proxy();
    let data = patterned_bytes(30 * KIB);

    fill_the_pool(&proxy);
    relay.sever();
    let put = streaming_put(&proxy, "small-chunked", &data);
    send_in_two_parts(&proxy, &put, 10 * KIB, SWALLOW_QUIET * 3).assert_success();
    assert!(
        relay.swallowed() > 0,
        "the first attempt used the stale connection"
    );
    assert_stored(&nginx, "small-chunked", &data);

    fill_the_pool(&proxy);
    relay.sever();
    let mut tampered = streaming_put(&proxy, "tampered-chunked", &data);
    let at = tampered.body.len() - 200;
    tampered.body[at] ^= 1;
    let answer = send_in_two_parts(&proxy, &tampered, 10 * KIB, SWALLOW_QUIET * 3);
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert_not_stored(&nginx, "tampered-chunked");
}

/// With `upstream.pool_idle_timeout` shorter than the time the pool sat idle, the next request
/// never meets the connection that went stale meanwhile: the proxy had closed it already.
#[test]
fn pooled_connections_are_closed_after_the_pool_idle_timeout() {
    let nginx = Nginx::start();
    let relay = Relay::start(nginx.addr());
    let options = ProxyOptions::default().with_upstream_setting("pool_idle_timeout = \"500ms\"");
    let proxy = Proxy::start_in_front_of(relay.addr, "http", options);
    fill_the_pool(&proxy);
    std::thread::sleep(Duration::from_millis(1500));
    relay.sever();
    let accepted = relay.accepted();
    let data = patterned_bytes(20 * KIB);
    proxy
        .send(&signed_put(&proxy, "after-idle", data.clone()))
        .assert_success();
    assert_stored(&nginx, "after-idle", &data);
    assert_eq!(
        relay.swallowed(),
        0,
        "no request went on a stale connection"
    );
    // The PUT, and the ETag record the proxy writes beside the object.
    assert!(relay.accepted() > accepted, "new connections");
}

/// nginx closes idle connections after 1 s; after 1.5 s idle, uploads of every size and reads
/// still succeed.
#[test]
fn uploads_after_the_backends_keepalive_expired_succeed() {
    let nginx = Nginx::start_with("keepalive_timeout 1s;");
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    for (i, len) in [10 * KIB, 200 * KIB, 3 * MIB].into_iter().enumerate() {
        fill_the_pool(&proxy);
        std::thread::sleep(Duration::from_millis(1500));
        let data = patterned_bytes(len);
        let key = format!("after-idle-{i}");
        proxy
            .send(&signed_put(&proxy, &key, data.clone()))
            .assert_success();
        assert_stored(&nginx, &key, &data);
        std::thread::sleep(Duration::from_millis(1500));
        let key = format!("after-idle-chunked-{i}");
        proxy
            .send(&streaming_put(&proxy, &key, &data))
            .assert_success();
        assert_stored(&nginx, &key, &data);
        std::thread::sleep(Duration::from_millis(1500));
        let got = proxy.send(&signed_get(&proxy, &key));
        got.assert_success();
        assert!(got.body == data, "GET after idle: wrong bytes");
    }
}

// ---------------------------------------------------------------------------------------------
// Backend down, unreachable, stalled, reset
// ---------------------------------------------------------------------------------------------

/// The answer to a request while the backend is down, and how long it took.
fn timed(proxy: &Proxy, request: &Request) -> (Response, Instant) {
    let started = Instant::now();
    (proxy.send(request), started)
}

#[test]
fn a_stopped_backend_is_a_503_at_once() {
    let mut nginx = Nginx::start();
    let proxy = Proxy::start(
        &nginx,
        ProxyOptions::default().with_upstream_timeouts("1s", "2s", "2s"),
    );
    fill_the_pool(&proxy);
    nginx.stop();
    let (answer, started) = timed(&proxy, &signed_get(&proxy, "warm"));
    answer.assert_s3_error(503, "ServiceUnavailable");
    assert_within(started, Duration::from_secs(2));
    let (answer, started) = timed(&proxy, &signed_put(&proxy, "k", patterned_bytes(MIB)));
    answer.assert_s3_error(503, "ServiceUnavailable");
    assert_within(started, Duration::from_secs(2));
    nginx.restart();
    proxy.send(&signed_get(&proxy, "warm")).assert_success();
    assert_no_panic(&proxy);
}

/// A backend whose connections are never accepted (its accept queue is full, so the kernel drops
/// the SYNs, as for an unreachable host): 503 within `connect_timeout`.
#[test]
fn an_unreachable_backend_is_a_503_within_the_connect_timeout() {
    let (listener, _held) = full_listener();
    let proxy = Proxy::start_in_front_of(
        listener.local_addr().unwrap(),
        "http",
        ProxyOptions::default().with_upstream_timeouts("1s", "2s", "2s"),
    );
    let (answer, started) = timed(&proxy, &signed_get(&proxy, "k"));
    answer.assert_s3_error(503, "ServiceUnavailable");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_within(started, Duration::from_secs(3));
    assert_no_panic(&proxy);
}

/// A listener that never accepts, with its accept queue filled: further connects hang.
fn full_listener() -> (TcpListener, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    for _ in 0..4096 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => held.push(stream),
            Err(_) => return (listener, held),
        }
    }
    panic!("the accept queue never filled");
}

/// A SIGSTOPped nginx: connections are accepted by the kernel, nothing answers. After
/// `read_timeout`: 504 GatewayTimeout. A 504 to a PUT says the outcome is unknown, as on S3:
/// the kernel may have taken the whole verified body for nginx, which stores it when it runs
/// again (clients retry the idempotent PUT). A tampered body never reaches its end there: it
/// is refused and nothing is stored.
#[test]
fn a_stalled_backend_is_a_504_after_the_read_timeout() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(
        &nginx,
        ProxyOptions::default().with_upstream_timeouts("1s", "2s", "2s"),
    );
    fill_the_pool(&proxy);
    nginx.pause();
    let (answer, started) = timed(&proxy, &signed_get(&proxy, "warm"));
    answer.assert_s3_error(504, "GatewayTimeout");
    assert!(started.elapsed() >= Duration::from_millis(1900));
    assert_within(started, Duration::from_secs(5));

    let data = patterned_bytes(MIB);
    let (answer, started) = timed(&proxy, &signed_put(&proxy, "stalled", data.clone()));
    answer.assert_s3_error(504, "GatewayTimeout");
    assert_within(started, Duration::from_secs(5));

    let mut tampered = signed_put(&proxy, "stalled-tampered", data.clone());
    tampered.body[MIB / 2] ^= 1;
    let answer = proxy.send(&tampered);
    let code = answer.s3_error_code();
    assert!(
        matches!(
            (answer.status, code.as_deref()),
            (400, Some("XAmzContentSHA256Mismatch")) | (504, Some("GatewayTimeout"))
        ),
        "{} {code:?}",
        answer.status
    );

    nginx.resume();
    proxy.send(&signed_get(&proxy, "warm")).assert_success();
    assert_not_stored(&nginx, "stalled-tampered");
    if let Some(stored) = nginx.stored("bucket/stalled") {
        assert!(stored == data, "a PUT answered 504 stored other bytes");
    }
    assert_no_panic(&proxy);
}

/// The backend connection is reset half-way through an upload: the client gets an error,
/// nginx keeps nothing.
#[test]
fn an_upload_reset_half_way_is_an_error_and_nothing_is_stored() {
    let (nginx, relay, proxy) = nginx_relay_proxy();
    relay.cut_uploads_after(MIB);
    for (key, put) in [
        (
            "reset",
            signed_put(&proxy, "reset", patterned_bytes(4 * MIB)),
        ),
        (
            "reset-chunked",
            streaming_put(&proxy, "reset-chunked", &patterned_bytes(4 * MIB)),
        ),
    ] {
        let cut = relay.cut();
        let answer = proxy.send(&put);
        answer.assert_s3_error(502, "BadGateway");
        assert!(relay.cut() > cut, "the relay cut the upload");
        assert_not_stored(&nginx, key);
    }
    nginx.assert_no_partial_upload_left();
    assert_no_panic(&proxy);
}

// ---------------------------------------------------------------------------------------------
// /readyz
// ---------------------------------------------------------------------------------------------

fn readyz(proxy: &Proxy) -> u16 {
    let request = Request::new("GET", "/readyz")
        .header("host", &proxy.metrics_addr().to_string())
        .header("connection", "close");
    http::send(proxy.metrics_addr(), &request).status
}

#[test]
fn readyz_follows_the_backend_with_the_readiness_probe() {
    let mut nginx = Nginx::start();
    let proxy = Proxy::start(
        &nginx,
        ProxyOptions::default().with_upstream_setting("readiness_probe = true"),
    );
    assert_eq!(readyz(&proxy), 200);
    nginx.stop();
    assert_eq!(readyz(&proxy), 503);
    nginx.restart();
    assert_eq!(readyz(&proxy), 200);
    proxy
        .send(&signed_get(&proxy, "missing"))
        .assert_s3_error(404, "NoSuchKey");
}
