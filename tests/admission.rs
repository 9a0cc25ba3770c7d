//! What a client may hold before it is authenticated (issue 15, "bounded pre-auth state"),
//! against the real binary in front of a real nginx: the head deadline that trickling cannot
//! renew (`server.header_timeout`), the head size cap (`limits.max_header_size`), the budget
//! shared by all unauthenticated requests (`limits.unauthenticated_memory`: heads that wait
//! and POST forms' fields) and the per-address connection cap.
//!
//! Every refusal is checked for its S3 answer, for nothing reaching nginx, and for the proxy
//! logging no ERROR line (before this layer every client that went away mid-head did).

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use support::http::{self, Connection, Request, Response};
use support::{Nginx, Payload, Proxy, ProxyOptions, Signer};

const KIB: usize = 1024;

/// nginx with one object, and the proxy with `server` lines and `[limits]` lines added.
fn setup(server: &str, limits: &str) -> (Nginx, Proxy) {
    let nginx = Nginx::start();
    nginx.put_file("bucket/hello.txt", b"hello");
    let options = ProxyOptions {
        extra_server: server.to_string(),
        ..ProxyOptions::default()
    }
    .with_tables(&format!("[limits]\n{limits}\n"));
    let proxy = Proxy::start(&nginx, options);
    (nginx, proxy)
}

/// A signed GET of the stored object.
fn signed_get(proxy: &Proxy) -> Request {
    let mut get = proxy.request("GET", "/bucket/hello.txt");
    Signer::default().sign(&mut get, Payload::Hashed);
    get
}

/// The value of one series on `/metrics`.
fn metric(proxy: &Proxy, series: &str) -> f64 {
    let request = Request::new("GET", "/metrics").header("host", "localhost");
    let text = http::send(proxy.metrics_addr(), &request).text();
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
}

/// The proxy's resident memory in KiB.
fn rss_kib(proxy: &Proxy) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", proxy.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn assert_no_error_logged(proxy: &Proxy) {
    let log = proxy.log();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(
        errors.is_empty(),
        "the proxy logged errors:\n{}",
        errors.join("\n")
    );
}

/// Sends `bytes` one at a time, `gap` apart, until the server answers or closes (a write
/// fails or an answer is readable); returns when that happened.
fn trickle(connection: &mut Connection, bytes: &[u8], gap: Duration) -> Instant {
    for b in bytes {
        if connection.write(std::slice::from_ref(b)).is_err() {
            break;
        }
        if connection.is_closed_by_server(gap) {
            break;
        }
    }
    Instant::now()
}

/// A connection that sent `prefix` of a head and holds it (the proxy waits for the rest).
fn holding(proxy: &Proxy, prefix: &[u8]) -> Connection {
    let mut c = Connection::open(proxy.addr());
    c.write(prefix).unwrap();
    c
}

/// A head that will not end: a request line and one long header without its line end.
fn endless_head(proxy: &Proxy, len: usize) -> Vec<u8> {
    let mut head = format!(
        "GET /bucket/hello.txt HTTP/1.1\r\nHost: {}\r\nX-Pad: ",
        proxy.host()
    )
    .into_bytes();
    head.resize(len, b'a');
    head
}

// --- the head deadline ------------------------------------------------------------------------

#[test]
fn a_trickled_head_is_refused_at_the_header_timeout_however_it_trickles() {
    let (nginx, proxy) = setup("header_timeout = \"1s\"\nread_timeout = \"30s\"", "");
    let head = signed_get(&proxy).to_bytes();
    let mut c = Connection::open(proxy.addr());
    let start = Instant::now();
    // One byte every 100 ms: each renews Pingora's own read timeout, never the deadline.
    trickle(&mut c, &head, Duration::from_millis(100));
    let response = c.read_response("GET").expect("an answer before the close");
    let took = start.elapsed();
    response.assert_s3_error(400, "RequestTimeout");
    assert!(took >= Duration::from_millis(900), "refused after {took:?}");
    assert!(took < Duration::from_secs(5), "refused only after {took:?}");
    assert!(c.is_closed_by_server(Duration::from_secs(2)));
    assert!(nginx.upstream_requests().is_empty());
    assert_no_error_logged(&proxy);
}

#[test]
fn a_silent_connection_is_closed_at_the_header_timeout_without_an_answer() {
    let (_nginx, proxy) = setup("header_timeout = \"1s\"", "");
    let mut stream = TcpStream::connect(proxy.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let took = start.elapsed();
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_no_error_logged(&proxy);
}

/// A connection that made one signed GET and then stayed idle 1.5 s, past a 1 s head deadline
/// (the proxy's `header_timeout`), within its 30 s keep-alive.
fn idle_after_one_request(proxy: &Proxy) -> Connection {
    let mut c = Connection::open(proxy.addr());
    c.write(&signed_get(proxy).to_bytes()).unwrap();
    c.read_response("GET").unwrap().assert_success();
    thread::sleep(Duration::from_millis(1500));
    c
}

const KEPT_ALIVE: &str = "header_timeout = \"1s\"\nkeepalive_timeout = \"30s\"";

#[test]
fn a_kept_alive_connection_may_idle_past_the_header_timeout_before_its_next_head() {
    let (_nginx, proxy) = setup(KEPT_ALIVE, "");
    // Idle between requests is the keep-alive timeout's; the deadline starts at the first byte.
    let mut c = idle_after_one_request(&proxy);
    c.write(&signed_get(&proxy).to_bytes()).unwrap();
    let second = c.read_response("GET").unwrap();
    second.assert_success();
    assert_eq!(second.body, b"hello");
}

#[test]
fn the_next_head_on_a_kept_alive_connection_is_timed_from_its_first_byte() {
    let (nginx, proxy) = setup(KEPT_ALIVE, "");
    let mut c = idle_after_one_request(&proxy);
    let start = Instant::now();
    trickle(
        &mut c,
        &signed_get(&proxy).to_bytes(),
        Duration::from_millis(100),
    );
    let took = start.elapsed();
    c.read_response("GET")
        .unwrap()
        .assert_s3_error(400, "RequestTimeout");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(nginx.upstream_requests().len(), 1, "only the first request");
    assert_no_error_logged(&proxy);
}

#[test]
fn a_client_that_goes_away_mid_head_costs_no_error_line() {
    let (_nginx, proxy) = setup("", "");
    for _ in 0..5 {
        let mut c = holding(&proxy, b"GET /bucket/hello.txt HTTP/1.1\r\nHost: x\r\n");
        c.shutdown_write();
        assert!(c.is_closed_by_server(Duration::from_secs(5)));
    }
    proxy.send(&signed_get(&proxy)).assert_success();
    assert_no_error_logged(&proxy);
}

// --- the head size cap ------------------------------------------------------------------------

#[test]
fn a_head_over_max_header_size_is_refused_and_one_under_it_served() {
    let (nginx, proxy) = setup("", "max_header_size = \"2KiB\"");
    let big = signed_get(&proxy).header("x-pad", &"a".repeat(3 * KIB));
    let response = proxy.send(&big);
    response.assert_s3_error(400, "RequestHeaderSectionTooLarge");
    assert!(nginx.upstream_requests().is_empty());
    let mut fits = proxy
        .request("GET", "/bucket/hello.txt")
        .header("x-pad", &"a".repeat(KIB));
    Signer::default().sign(&mut fits, Payload::Hashed);
    proxy.send(&fits).assert_success();
    // A head that trickles past the cap is refused as it crosses it.
    let mut c = Connection::open(proxy.addr());
    c.write(&endless_head(&proxy, 2 * KIB + 100)).unwrap();
    c.read_response("GET")
        .unwrap()
        .assert_s3_error(400, "RequestHeaderSectionTooLarge");
    assert_no_error_logged(&proxy);
}

// --- the unauthenticated-memory budget --------------------------------------------------------

/// Reads an answer that must come at once (within 3 s), or `None` if the connection is
/// still waiting.
fn answer_now(c: &mut Connection) -> Option<Response> {
    c.set_read_timeout(Duration::from_secs(3));
    c.read_response("GET").ok()
}

#[test]
fn waiting_heads_beyond_the_budget_get_slow_down_while_whole_requests_are_served() {
    let (nginx, proxy) = setup(
        "header_timeout = \"60s\"",
        "unauthenticated_memory = \"1MiB\"\nmax_header_size = \"64KiB\"",
    );
    // Each holds 10 KiB of head in a 16 KiB buffer, plus the per-head overhead: about 25 fit
    // in 1 MiB.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let mut c = holding(&proxy, &endless_head(&proxy, 10 * KIB));
        c.set_read_timeout(Duration::from_millis(300));
        match c.read_response("GET") {
            Ok(r) => {
                r.assert_s3_error(503, "SlowDown");
                refused += 1;
            }
            Err(_) => held.push(c),
        }
    }
    assert!(refused >= 10, "only {refused} of 40 refused");
    assert!(held.len() >= 15, "only {} held", held.len());
    let charged = metric(&proxy, "s3_proxy_unauthenticated_bytes");
    assert!(charged > 15.0 * 10.0 * KIB as f64, "{charged}");
    assert!(charged <= (1024 * KIB) as f64, "{charged}");
    // The budget is full, yet a request that arrives whole is served at once.
    let start = Instant::now();
    proxy.send(&signed_get(&proxy)).assert_success();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // A new head that would wait is refused at once.
    let mut late = holding(&proxy, &endless_head(&proxy, 40 * KIB));
    answer_now(&mut late)
        .expect("refused at once")
        .assert_s3_error(503, "SlowDown");
    // The held heads give their charge back when they go.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&proxy, "s3_proxy_unauthenticated_bytes") > 0.0 {
        assert!(Instant::now() < deadline, "the charge was not given back");
        thread::sleep(Duration::from_millis(50));
    }
    assert!(metric(&proxy, "s3_proxy_refusals_total{code=\"SlowDown\"}") >= refused as f64 + 1.0);
    assert_eq!(nginx.upstream_requests().len(), 1, "only the whole GET");
    assert_no_error_logged(&proxy);
}

/// The head of a POST form upload to `bucket`, and its first field without its end.
fn form_start(proxy: &Proxy, field_len: usize) -> Vec<u8> {
    let boundary = "b0undary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n")
        .into_bytes();
    body.resize(body.len() + field_len, b'k');
    let mut form = format!(
        "POST /bucket HTTP/1.1\r\nHost: {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\
         Content-Length: {}\r\n\r\n",
        proxy.host(),
        body.len() + 10_000,
    )
    .into_bytes();
    form.extend_from_slice(&body);
    form
}

#[test]
fn a_forms_fields_are_charged_to_the_budget_and_timed_until_verified() {
    let (nginx, proxy) = setup(
        "header_timeout = \"2s\"",
        "unauthenticated_memory = \"1MiB\"\npost_max_field_size = \"2MiB\"\npost_max_prefix = \"2MiB\"",
    );
    // 900 KiB of one field, waiting for the rest of the form.
    let mut first = holding(&proxy, &form_start(&proxy, 900 * KIB));
    let deadline = Instant::now() + Duration::from_secs(3);
    while metric(&proxy, "s3_proxy_unauthenticated_bytes") < (900 * KIB) as f64 {
        assert!(
            Instant::now() < deadline,
            "the form's fields were not charged"
        );
        thread::sleep(Duration::from_millis(20));
    }
    // A second form cannot hold 200 KiB more.
    let mut second = holding(&proxy, &form_start(&proxy, 200 * KIB));
    answer_now(&mut second)
        .expect("refused at once")
        .assert_s3_error(503, "SlowDown");
    // The first never finishes its fields: refused at the deadline, its charge given back.
    first.set_read_timeout(Duration::from_secs(10));
    first
        .read_response("POST")
        .expect("an answer")
        .assert_s3_error(400, "RequestTimeout");
    assert_eq!(metric(&proxy, "s3_proxy_unauthenticated_bytes"), 0.0);
    assert!(nginx.upstream_requests().is_empty());
    let stored: Vec<String> = nginx.stored_files().into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        stored,
        ["bucket/hello.txt"],
        "only the object stored by the setup"
    );
}

// --- the per-address cap ----------------------------------------------------------------------

#[test]
fn connections_per_address_are_capped_only_when_configured() {
    let (_nginx, proxy) = setup("", "max_connections_per_address = 3");
    // Four connections at once: the proxy takes their places in the order it gets to them,
    // so one of the four (any) is refused.
    let mut open: Vec<Connection> = (0..4).map(|_| Connection::open(proxy.addr())).collect();
    thread::sleep(Duration::from_millis(500));
    let mut refused = 0;
    for c in &mut open {
        c.set_read_timeout(Duration::from_millis(500));
        if let Ok(r) = c.read_response("GET") {
            r.assert_s3_error(503, "SlowDown");
            refused += 1;
        }
    }
    assert_eq!(refused, 1);
    drop(open);
    thread::sleep(Duration::from_millis(200));
    proxy.send(&signed_get(&proxy)).assert_success();

    // Off by default: a hundred idle connections and one more request.
    let (_nginx, proxy) = setup("", "");
    let idle: Vec<Connection> = (0..100).map(|_| Connection::open(proxy.addr())).collect();
    proxy.send(&signed_get(&proxy)).assert_success();
    drop(idle);
}

// --- 2,000 slow connections ("done when" of issue 15) ------------------------------------------

#[test]
fn two_thousand_slow_heads_stay_within_the_budget_and_a_fresh_request_is_answered_at_once() {
    // The defaults (32 MiB budget, 64 KiB heads) but a deadline long enough for the test.
    let (_nginx, proxy) = setup("header_timeout = \"60s\"", "");
    proxy.send(&signed_get(&proxy)).assert_success();
    let rss_before = rss_kib(&proxy);
    let head = endless_head(&proxy, 8 * KIB);
    let mut slow = Vec::new();
    let mut refused = 0;
    for _ in 0..2000 {
        slow.push(holding(&proxy, &head));
    }
    // Let the proxy read every head; those it refused are answered and closed.
    thread::sleep(Duration::from_secs(2));
    let slow: Vec<Connection> = slow
        .into_iter()
        .filter_map(
            |mut c| match c.is_closed_by_server(Duration::from_millis(1)) {
                true => {
                    refused += 1;
                    None
                }
                false => Some(c),
            },
        )
        .collect();
    let charged = metric(&proxy, "s3_proxy_unauthenticated_bytes");
    let rss_growth_kib = rss_kib(&proxy).saturating_sub(rss_before);
    eprintln!(
        "2000 slow heads of 8 KiB: {refused} refused at once, {charged} bytes charged, RSS +{rss_growth_kib} KiB"
    );
    assert!(charged <= (32 * 1024 * KIB) as f64);
    assert!(refused > 0, "2,000 heads of 8 KiB do not fit in 32 MiB");
    // The budget, and a quarter more for what the allocator keeps of the 1,000 or so
    // connections refused on the way (measured: +33 to +36 MiB, docs/soak.md).
    assert!(
        rss_growth_kib <= 40 * 1024,
        "RSS grew {rss_growth_kib} KiB, over the 32 MiB budget"
    );
    let start = Instant::now();
    proxy.send(&signed_get(&proxy)).assert_success();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    drop(slow);
    assert_no_error_logged(&proxy);
}

// --- HTTP/2 ------------------------------------------------------------------------------------

/// curl over HTTP/2 to the HTTPS listener, a SigV4-signed GET (curl signs it) with an `x-pad`
/// header of `pad` bytes: (status and HTTP version, stderr).
fn curl_h2_get(proxy: &Proxy, pad: usize) -> (String, String) {
    let output = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--noproxy", "*", "--http2"])
        .args(["--cacert", &proxy.ca_cert_path().display().to_string()])
        .args(["--aws-sigv4", "aws:amz:us-east-1:s3"])
        .args([
            "--user",
            &format!("{}:{}", support::ACCESS_KEY, support::SECRET_KEY),
        ])
        .args([
            "--header",
            &format!("x-amz-content-sha256: {}", support::sha256_hex(b"")),
        ])
        .args(["--header", &format!("x-pad: {}", "a".repeat(pad))])
        .args([
            "--output",
            "/dev/null",
            "--write-out",
            "%{http_code} %{http_version}",
        ])
        .arg(format!("{}/bucket/hello.txt", proxy.https_endpoint()))
        .output()
        .expect("run curl (scripts/test.sh installs it)");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn http2_header_lists_are_capped_at_max_header_size_too() {
    let nginx = Nginx::start();
    nginx.put_file("bucket/hello.txt", b"hello");
    let options = ProxyOptions::default()
        .with_tls()
        .with_tables("[limits]\nmax_header_size = \"8KiB\"\n");
    let proxy = Proxy::start(&nginx, options);
    let (fits, stderr) = curl_h2_get(&proxy, 4 * KIB);
    assert_eq!(
        fits, "200 2",
        "a 4 KiB header over HTTP/2; stderr: {stderr}"
    );
    let (over, stderr) = curl_h2_get(&proxy, 12 * KIB);
    assert!(
        !over.starts_with("200"),
        "a 12 KiB header over HTTP/2 was served: {over}; stderr: {stderr}"
    );
    assert_eq!(nginx.upstream_requests().len(), 1, "only the first GET");
}
