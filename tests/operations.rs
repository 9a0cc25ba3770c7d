//! Operating the real binary: graceful shutdown with an upload in flight, readiness before the
//! secrets exist and during shutdown, metrics that move by exactly the requests made, the JSON
//! access log, and a Kubernetes-style secret rotation picked up without a restart.

mod support;

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use support::{
    free_port, patterned_bytes, Connection, Nginx, Payload, Proxy, ProxyOptions, Request, Signer,
};

const AK: &str = support::ACCESS_KEY;
const SK: &str = support::SECRET_KEY;

/// The proxy binary run with a config this file writes, so the test controls the process
/// (signals, exit status), the metrics port and the log format.
struct RunningProxy {
    child: Child,
    dir: tempfile::TempDir,
    addr: SocketAddr,
    metrics: SocketAddr,
}

fn secrets(pairs: &[(&str, &str, Option<&str>)]) -> String {
    pairs
        .iter()
        .map(|(ak, sk, allow)| {
            let allow = allow
                .map(|a| format!("allow = [\"{a}\"]\n"))
                .unwrap_or_default();
            format!("[[credentials]]\naccess_key = \"{ak}\"\nsecret_key = \"{sk}\"\n{allow}\n")
        })
        .collect()
}

impl RunningProxy {
    /// `secrets_file` is written into the config as is (relative to the proxy's folder).
    fn start(nginx: &Nginx, secrets_file: &str, extra: &str, setup: impl FnOnce(&Path)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let config = format!(
            "[server]\nlisten = \"{addr}\"\nmetrics_listen = \"{metrics}\"\nshutdown_grace = \"20s\"\n\
             [upstream]\naddress = \"{}\"\nkind = \"http\"\n\
             [auth]\nsecrets_file = \"{secrets_file}\"\nregion = \"us-east-1\"\nsecrets_poll_interval = \"200ms\"\n{extra}",
            nginx.addr()
        );
        fs::write(dir.path().join("proxy.toml"), config).unwrap();
        let log = fs::File::create(dir.path().join("proxy.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_s3-auth-proxy"))
            .arg("--config")
            .arg(dir.path().join("proxy.toml"))
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let proxy = RunningProxy {
            child,
            dir,
            addr,
            metrics,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while proxy.ops("/healthz").0 != 200 || TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "proxy did not start:\n{}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    }

    fn log(&self) -> String {
        // The log's writer thread writes within its batch window (5 ms, `ops::BATCH_WINDOW`):
        // let the lines of the requests just answered reach the file.
        std::thread::sleep(s3_auth_proxy::ops::BATCH_WINDOW * 10);
        fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default()
    }

    /// GET on the ops port: status and body (status 0 when nothing answers).
    fn ops(&self, path: &str) -> (u16, String) {
        let Ok(mut c) = Connection::try_open(self.metrics) else {
            return (0, String::new());
        };
        c.set_read_timeout(Duration::from_secs(5));
        let req = Request::new("GET", path)
            .header("host", "ops")
            .header("connection", "close");
        if c.write(&req.to_bytes()).is_err() {
            return (0, String::new());
        }
        match c.read_response("GET") {
            Ok(r) => (r.status, r.text()),
            Err(_) => (0, String::new()),
        }
    }

    fn metric(&self, series: &str) -> f64 {
        let (_, text) = self.ops("/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    }

    fn request(&self, method: &str, target: &str) -> Request {
        Request::new(method, target).header("host", &self.addr.to_string())
    }

    fn send(&self, req: &Request) -> support::Response {
        support::http::send(self.addr, req)
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn wait_until(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signed_put(proxy: &RunningProxy, target: &str, body: &[u8], signer: &Signer) -> Request {
    let mut put = proxy.request("PUT", target).body(body.to_vec());
    signer.sign(&mut put, Payload::Hashed);
    put
}

#[test]
fn sigterm_lets_a_100_mib_upload_in_flight_finish_refuses_new_connections_and_exits_zero() {
    let nginx = Nginx::start();
    let mut proxy = RunningProxy::start(&nginx, "secrets.toml", "", |d| {
        fs::write(d.join("secrets.toml"), secrets(&[(AK, SK, None)])).unwrap()
    });
    let body = patterned_bytes(100 * 1024 * 1024);
    let put = signed_put(&proxy, "/bucket/big.bin", &body, &Signer::new(AK, SK));

    let mut upload = Connection::open(proxy.addr);
    upload.write(&put.head_bytes()).unwrap();
    let (first, rest) = body.split_at(10 * 1024 * 1024);
    upload.write(first).unwrap();

    proxy.signal("TERM");
    proxy.wait_until("readiness to turn false", || proxy.ops("/readyz").0 == 503);
    assert_eq!(proxy.ops("/healthz").0, 200, "still alive while draining");
    // Readiness flips first; Pingora closes its listener a moment later.
    proxy.wait_until("new connections to be refused after SIGTERM", || {
        TcpStream::connect(proxy.addr).is_err()
    });

    upload.write(rest).unwrap();
    upload.set_read_timeout(Duration::from_secs(30));
    let response = upload.read_response("PUT").expect("the upload is answered");
    assert_eq!(response.status, 200, "{}", response.text());

    let status = proxy
        .wait_exit(Duration::from_secs(20))
        .expect("exits within the grace");
    assert!(status.success(), "exit status {status}");
    assert!(
        nginx.stored("bucket/big.bin") == Some(body),
        "stored bytes differ"
    );
}

/// The access log is written by a thread of its own (issue 16): on SIGTERM every line still
/// pending is written before the process exits, the last request's included.
#[test]
fn after_sigterm_the_log_holds_the_access_line_of_every_request_up_to_the_last() {
    let nginx = Nginx::start();
    let mut proxy =
        RunningProxy::start(&nginx, "secrets.toml", "[log]\nformat = \"json\"\n", |d| {
            fs::write(d.join("secrets.toml"), secrets(&[(AK, SK, None)])).unwrap()
        });
    let signer = Signer::new(AK, SK);
    proxy
        .send(&signed_put(&proxy, "/bucket/k", b"x", &signer))
        .assert_success();
    // Many requests back to back on one connection, then SIGTERM at once: lines are still
    // pending in the writer when the signal comes, if they ever are.
    let mut conn = Connection::open(proxy.addr);
    let mut ids = Vec::new();
    for _ in 0..300 {
        let mut get = proxy.request("GET", "/bucket/k");
        signer.sign(&mut get, Payload::Hashed);
        conn.write(&get.head_bytes()).unwrap();
        let response = conn.read_response("GET").expect("answered");
        assert_eq!(response.status, 200, "{}", response.text());
        ids.push(response.header("x-amz-request-id").unwrap().to_string());
    }
    proxy.signal("TERM");
    drop(conn);
    let status = proxy
        .wait_exit(Duration::from_secs(20))
        .expect("exits within the grace");
    assert!(status.success(), "exit status {status}");
    let log = proxy.log();
    let logged: std::collections::HashSet<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "access")
        .filter_map(|v| v["fields"]["request_id"].as_str().map(str::to_string))
        .collect();
    let missing: Vec<&String> = ids.iter().filter(|id| !logged.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "no access line for {missing:?} (the last: {:?})",
        ids.last()
    );
}

#[test]
fn readyz_is_503_until_the_secrets_file_exists_then_200() {
    let nginx = Nginx::start();
    let proxy = RunningProxy::start(&nginx, "secrets/secrets.toml", "", |_| {});
    assert_eq!(proxy.ops("/healthz").0, 200);
    let (status, text) = proxy.ops("/readyz");
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("secrets"), "{text}");
    // Without secrets every key is unknown.
    let refused = proxy.send(&signed_put(&proxy, "/bucket/a", b"x", &Signer::new(AK, SK)));
    refused.assert_s3_error(403, "InvalidAccessKeyId");

    fs::create_dir_all(proxy.dir.path().join("secrets")).unwrap();
    fs::write(
        proxy.dir.path().join("secrets/secrets.toml"),
        secrets(&[(AK, SK, None)]),
    )
    .unwrap();
    proxy.wait_until("readiness", || proxy.ops("/readyz").0 == 200);
    proxy
        .send(&signed_put(&proxy, "/bucket/a", b"x", &Signer::new(AK, SK)))
        .assert_success();
    assert_eq!(nginx.stored("bucket/a"), Some(b"x".to_vec()));
}

#[test]
fn metrics_move_by_exactly_the_requests_made() {
    let nginx = Nginx::start();
    let reader = (
        "AKIDREADONLYEXAMPLE",
        "readonly-secret-key-example",
        Some("read:*"),
    );
    let proxy = RunningProxy::start(&nginx, "secrets.toml", "", |d| {
        fs::write(d.join("secrets.toml"), secrets(&[(AK, SK, None), reader])).unwrap()
    });
    let put_2xx = r#"s3_proxy_requests_total{method="PUT",status="2xx"}"#;
    let put_4xx = r#"s3_proxy_requests_total{method="PUT",status="4xx"}"#;
    let mismatch = r#"s3_proxy_refusals_total{code="SignatureDoesNotMatch"}"#;
    let denied = r#"s3_proxy_refusals_total{code="AccessDenied"}"#;
    let before: Vec<f64> = [put_2xx, put_4xx, mismatch, denied]
        .iter()
        .map(|s| proxy.metric(s))
        .collect();

    proxy
        .send(&signed_put(
            &proxy,
            "/bucket/ok",
            b"fine",
            &Signer::new(AK, SK),
        ))
        .assert_success();
    proxy
        .send(&signed_put(
            &proxy,
            "/bucket/bad",
            b"x",
            &Signer::new(AK, "not-the-secret"),
        ))
        .assert_s3_error(403, "SignatureDoesNotMatch");
    proxy
        .send(&signed_put(
            &proxy,
            "/bucket/denied",
            b"x",
            &Signer::new(reader.0, reader.1),
        ))
        .assert_s3_error(403, "AccessDenied");

    // A request is counted in Pingora's logging hook, which may run just after the client has
    // its answer: wait until all three are counted, then demand exactly these deltas.
    let deltas = || -> Vec<f64> {
        [put_2xx, put_4xx, mismatch, denied]
            .iter()
            .zip(&before)
            .map(|(s, b)| proxy.metric(s) - b)
            .collect()
    };
    proxy.wait_until("the three requests to be counted", || {
        deltas().iter().sum::<f64>() >= 5.0
    });
    std::thread::sleep(Duration::from_millis(200));
    let delta = deltas();
    assert_eq!(
        delta,
        vec![1.0, 2.0, 1.0, 1.0],
        "PUT 2xx, PUT 4xx, SignatureDoesNotMatch, AccessDenied"
    );
    assert!(proxy.metric("s3_proxy_forwarded_bytes_total") >= 4.0);
    let (_, text) = proxy.ops("/metrics");
    assert!(
        !text.contains(AK) && !text.contains("bucket/"),
        "metrics carry keys or paths:\n{text}"
    );
}

#[test]
fn the_json_access_log_holds_the_fields_and_never_the_secret_or_signature() {
    let nginx = Nginx::start();
    let proxy = RunningProxy::start(&nginx, "secrets.toml", "[log]\nformat = \"json\"\n", |d| {
        fs::write(d.join("secrets.toml"), secrets(&[(AK, SK, None)])).unwrap()
    });
    let put = signed_put(&proxy, "/bucket/logged.txt", b"hello", &Signer::new(AK, SK));
    let response = proxy.send(&put);
    response.assert_success();
    let request_id = response
        .header("x-amz-request-id")
        .expect("request id header")
        .to_string();
    let mut get = proxy.request("GET", "/bucket/logged.txt");
    Signer::new(AK, SK).presign(&mut get, Duration::from_secs(60));
    proxy.send(&get).assert_success();
    let signatures = [
        put.header_value("authorization")
            .unwrap()
            .rsplit('=')
            .next()
            .unwrap()
            .to_string(),
        get.query_param("X-Amz-Signature").unwrap(),
    ];

    std::thread::sleep(Duration::from_millis(200));
    let log = proxy.log();
    let access: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "access")
        .collect();
    assert_eq!(access.len(), 2, "two access lines expected:\n{log}");
    let put_line = access
        .iter()
        .find(|v| v["fields"]["request_id"] == request_id.as_str())
        .expect("the PUT's line carries its x-amz-request-id");
    let fields = &put_line["fields"];
    for field in [
        "remote",
        "access_key",
        "method",
        "bucket",
        "key",
        "status",
        "error_code",
        "bytes_in",
        "bytes_out",
        "duration_ms",
    ] {
        assert!(
            !fields[field].is_null(),
            "field {field} missing in {put_line}"
        );
    }
    assert_eq!(fields["access_key"], AK);
    assert_eq!(fields["key"], "logged.txt");
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["bytes_in"], 5);
    assert!(!log.contains(SK), "the secret key is in the log");
    for signature in &signatures {
        assert!(
            !log.contains(signature.as_str()),
            "a signature is in the log"
        );
    }
}

/// Kubernetes' secret volume: files behind a `..data` symlink switched atomically to a new
/// timestamped folder.
fn swap_secret_version(dir: &Path, version: &str, content: &str) {
    let versioned = dir.join(version);
    fs::create_dir_all(&versioned).unwrap();
    fs::write(versioned.join("secrets.toml"), content).unwrap();
    let tmp = dir.join("..data_tmp");
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(version, &tmp).unwrap();
    fs::rename(&tmp, dir.join("..data")).unwrap();
}

#[test]
fn a_kubernetes_secret_rotation_is_picked_up_without_restart() {
    let nginx = Nginx::start();
    let new_key = ("AKIDROTATEDEXAMPLE", "rotated-secret-key-example");
    let proxy = RunningProxy::start(&nginx, "secret-volume/secrets.toml", "", |d| {
        let volume: PathBuf = d.join("secret-volume");
        fs::create_dir_all(&volume).unwrap();
        swap_secret_version(&volume, "..2026_11_23_01", &secrets(&[(AK, SK, None)]));
        std::os::unix::fs::symlink("..data/secrets.toml", volume.join("secrets.toml")).unwrap();
    });
    let pid = proxy.child.id();
    proxy
        .send(&signed_put(
            &proxy,
            "/bucket/old",
            b"1",
            &Signer::new(AK, SK),
        ))
        .assert_success();

    swap_secret_version(
        &proxy.dir.path().join("secret-volume"),
        "..2026_11_23_02",
        &secrets(&[(new_key.0, new_key.1, None)]),
    );
    proxy.wait_until("the new key to work", || {
        proxy
            .send(&signed_put(
                &proxy,
                "/bucket/new",
                b"2",
                &Signer::new(new_key.0, new_key.1),
            ))
            .status
            == 200
    });
    proxy
        .send(&signed_put(
            &proxy,
            "/bucket/old2",
            b"3",
            &Signer::new(AK, SK),
        ))
        .assert_s3_error(403, "InvalidAccessKeyId");
    assert_eq!(proxy.child.id(), pid);
    assert!(proxy.metric(r#"s3_proxy_secrets_reloads_total{outcome="ok"}"#) >= 1.0);
    assert_eq!(nginx.stored("bucket/new"), Some(b"2".to_vec()));
    assert_eq!(nginx.stored("bucket/old2"), None);
}

/// `server.work_stealing = false` runs Pingora's other runtime (one per thread, each connection
/// kept on the thread it was given): eight uploads at once, every other one with a byte changed
/// after signing, are verified as with the default: the intact ones stored exactly, the
/// tampered ones refused with `XAmzContentSHA256Mismatch` and nothing of them stored.
#[test]
fn without_work_stealing_parallel_uploads_are_verified_as_with_it() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(
        &nginx,
        ProxyOptions::default().with_server_setting("work_stealing = false"),
    );
    let signer = Signer::new(AK, SK);
    std::thread::scope(|scope| {
        for i in 0..8 {
            let (proxy, signer) = (&proxy, &signer);
            scope.spawn(move || {
                let body = patterned_bytes(2 * 1024 * 1024 + i);
                let mut put = proxy
                    .request("PUT", &format!("/bucket/parallel-{i}.bin"))
                    .body(body.clone());
                signer.sign(&mut put, Payload::Hashed);
                let tampered = i % 2 == 1;
                if tampered {
                    put.body[1024 * 1024] ^= 1;
                }
                let response = proxy.send(&put);
                if tampered {
                    response.assert_s3_error(400, "XAmzContentSHA256Mismatch");
                } else {
                    response.assert_success();
                }
            });
        }
    });
    for i in 0..8 {
        let stored = nginx.stored(&format!("bucket/parallel-{i}.bin"));
        if i % 2 == 1 {
            assert_eq!(stored, None, "tampered upload {i} stored");
        } else {
            assert!(
                stored == Some(patterned_bytes(2 * 1024 * 1024 + i)),
                "upload {i} stored differently"
            );
        }
    }
}
