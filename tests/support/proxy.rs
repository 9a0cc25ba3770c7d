//! The real `s3-auth-proxy` binary, configured through its files, in front of an [`Nginx`].

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::http::{self, Request, Response};
use super::nginx::{self, Nginx};
use super::tls::TestCertificate;

/// The binary under test, built by cargo for this test run.
const PROXY_BINARY: &str = env!("CARGO_BIN_EXE_s3-auth-proxy");

/// How long the proxy may take to answer `/healthz` and accept connections after being started.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// One `[[credentials]]` entry of secrets.toml.
#[derive(Debug, Clone)]
pub struct Credential {
    pub access_key: String,
    pub secret_key: String,
    /// `None` writes no `allow` key (everything allowed).
    pub allow: Option<Vec<String>>,
}

impl Credential {
    pub fn new(access_key: &str, secret_key: &str) -> Credential {
        Credential {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            allow: None,
        }
    }

    /// Restricts the credential to these scopes (`read:bucket/glob`, `write:bucket/glob`).
    pub fn allow(mut self, scopes: &[&str]) -> Credential {
        self.allow = Some(scopes.iter().map(|s| s.to_string()).collect());
        self
    }
}

/// What the test wants in proxy.toml and secrets.toml.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    pub credentials: Vec<Credential>,
    /// Also listen for HTTPS (with a fresh test CA and certificate).
    pub tls: bool,
    pub boto2_presign_compat: bool,
    pub virtual_host_suffixes: Vec<String>,
    /// `[auth] region`: one region is written as a string, several as a list.
    pub regions: Vec<String>,
    /// `[log] level`.
    pub log_level: String,
    /// `[log] format`: `text` (default) or `json`.
    pub log_format: String,
    /// Extra lines for the `[auth]` table (keys not written by default only).
    pub extra_auth: String,
    /// Extra lines for the `[server]` table (keys not written by default only).
    pub extra_server: String,
    /// Extra lines for the `[upstream]` table (keys not written by default only).
    pub extra_upstream: String,
    /// Extra tables at the end of the file (`[limits]`, `[[cors]]`).
    pub extra_tables: String,
    /// `upstream.connect_timeout`, `read_timeout`, `write_timeout`.
    pub upstream_timeouts: [String; 3],
}

impl Default for ProxyOptions {
    /// One credential ([`super::ACCESS_KEY`] / [`super::SECRET_KEY`], everything allowed), plain
    /// HTTP only, no compat switches, log level info.
    fn default() -> Self {
        ProxyOptions {
            credentials: vec![Credential::new(super::ACCESS_KEY, super::SECRET_KEY)],
            tls: false,
            boto2_presign_compat: false,
            virtual_host_suffixes: Vec::new(),
            regions: vec!["us-east-1".to_string()],
            log_level: "info".to_string(),
            log_format: "text".to_string(),
            extra_auth: String::new(),
            extra_server: String::new(),
            extra_upstream: String::new(),
            extra_tables: String::new(),
            upstream_timeouts: ["5s".into(), "60s".into(), "60s".into()],
        }
    }
}

impl ProxyOptions {
    pub fn with_tls(mut self) -> Self {
        self.tls = true;
        self
    }

    pub fn with_credentials(mut self, credentials: Vec<Credential>) -> Self {
        self.credentials = credentials;
        self
    }

    pub fn with_boto2_presign_compat(mut self) -> Self {
        self.boto2_presign_compat = true;
        self
    }

    pub fn with_virtual_host_suffix(mut self, suffix: &str) -> Self {
        self.virtual_host_suffixes.push(suffix.to_string());
        self
    }

    pub fn with_regions(mut self, regions: &[&str]) -> Self {
        self.regions = regions.iter().map(|r| r.to_string()).collect();
        self
    }

    pub fn with_log_level(mut self, level: &str) -> Self {
        self.log_level = level.to_string();
        self
    }

    /// `[log] format = "json"`: one JSON object per access-log line.
    pub fn with_json_log(mut self) -> Self {
        self.log_format = "json".to_string();
        self
    }

    /// Appends TOML tables (e.g. `[limits]` or `[[cors]]` with their keys) to the config.
    pub fn with_tables(mut self, toml: &str) -> Self {
        self.extra_tables.push_str(toml);
        self.extra_tables.push('\n');
        self
    }

    /// Adds one line (e.g. `work_stealing = false`) to `[server]`.
    pub fn with_server_setting(mut self, line: &str) -> Self {
        self.extra_server.push_str(line);
        self.extra_server.push('\n');
        self
    }

    /// Adds one line (e.g. `complete_keepalive = "1ms"`) to `[upstream]`.
    pub fn with_upstream_setting(mut self, line: &str) -> Self {
        self.extra_upstream.push_str(line);
        self.extra_upstream.push('\n');
        self
    }

    /// `upstream.connect_timeout`, `read_timeout` and `write_timeout` (default 5s, 60s, 60s).
    pub fn with_upstream_timeouts(mut self, connect: &str, read: &str, write: &str) -> Self {
        self.upstream_timeouts = [connect.into(), read.into(), write.into()];
        self
    }

    /// Adds one line (e.g. `max_presign_expiry = "1h"`) to `[auth]`.
    pub fn with_auth_setting(mut self, line: &str) -> Self {
        self.extra_auth.push_str(line);
        self.extra_auth.push('\n');
        self
    }
}

/// A running proxy; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Proxy {
    dir: TempDir,
    child: Child,
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    metrics_addr: SocketAddr,
    certificate: Option<TestCertificate>,
}

impl Proxy {
    /// Writes the configuration, starts the binary in front of `nginx` and waits until it
    /// answers `/healthz` and accepts connections on every listener.
    pub fn start(nginx: &Nginx, options: ProxyOptions) -> Proxy {
        Proxy::start_in_front_of(nginx.addr(), "http", options)
    }

    /// Like [`Proxy::start`], in front of any backend: `kind` is `upstream.kind` (`"s3"` for a
    /// keyless S3 server).
    pub fn start_in_front_of(upstream: SocketAddr, kind: &str, options: ProxyOptions) -> Proxy {
        // A port picked free may be taken by another process before the proxy binds it: the
        // proxy then exits, and fresh ports are tried.
        let mut last_error = String::new();
        for _ in 0..3 {
            match Proxy::try_start(upstream, kind, &options) {
                Ok(proxy) => return proxy,
                Err(error) => last_error = error,
            }
        }
        panic!("{last_error}");
    }

    fn try_start(
        upstream: SocketAddr,
        kind: &str,
        options: &ProxyOptions,
    ) -> Result<Proxy, String> {
        let dir = tempfile::Builder::new()
            .prefix("proxy-")
            .tempdir()
            .expect("create proxy folder");
        let addr = SocketAddr::from(([127, 0, 0, 1], super::free_port()));
        let metrics_addr = SocketAddr::from(([127, 0, 0, 1], super::free_port()));
        let tls_addr = options
            .tls
            .then(|| SocketAddr::from(([127, 0, 0, 1], super::free_port())));
        let certificate = options.tls.then(|| TestCertificate::create_in(dir.path()));

        fs::write(
            dir.path().join("secrets.toml"),
            secrets_toml(&options.credentials),
        )
        .expect("write secrets.toml");
        let config = proxy_toml(options, addr, tls_addr, metrics_addr, upstream, kind);
        fs::write(dir.path().join("proxy.toml"), &config).expect("write proxy.toml");

        let stderr = fs::File::create(dir.path().join("proxy.log")).expect("create proxy.log");
        let child = Command::new(PROXY_BINARY)
            .arg("--config")
            .arg(dir.path().join("proxy.toml"))
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {PROXY_BINARY}: {e}"));
        let mut proxy = Proxy {
            dir,
            child,
            addr,
            tls_addr,
            metrics_addr,
            certificate,
        };
        proxy.wait_until_ready(&config)?;
        Ok(proxy)
    }

    fn wait_until_ready(&mut self, config: &str) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "s3-auth-proxy exited during start-up ({status})\nproxy.toml:\n{config}\nstderr:\n{}",
                    self.log()
                ));
            }
            if self.healthy()
                && self
                    .listeners()
                    .iter()
                    .all(|a| TcpStream::connect(a).is_ok())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "s3-auth-proxy was not ready within {STARTUP_TIMEOUT:?} (GET /healthz on {} answering 200 \"ok\", \
                     listeners {:?} accepting)\nproxy.toml:\n{config}\nstderr:\n{}",
                    self.metrics_addr,
                    self.listeners(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn healthy(&self) -> bool {
        let Ok(mut connection) = http::Connection::try_open(self.metrics_addr) else {
            return false;
        };
        connection.set_read_timeout(Duration::from_secs(2));
        let request = Request::new("GET", "/healthz")
            .header("host", &self.metrics_addr.to_string())
            .header("connection", "close");
        if connection.write(&request.to_bytes()).is_err() {
            return false;
        }
        matches!(connection.read_response("GET"), Ok(r) if r.status == 200 && r.text().trim() == "ok")
    }

    fn listeners(&self) -> Vec<SocketAddr> {
        std::iter::once(self.addr).chain(self.tls_addr).collect()
    }

    /// The proxy's process id (for its memory and file descriptors in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The plain-HTTP listener.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `https://127.0.0.1:PORT` (panics if started without TLS).
    pub fn https_endpoint(&self) -> String {
        format!(
            "https://{}",
            self.tls_addr.expect("proxy started without tls")
        )
    }

    /// The PEM file of the CA that signed the proxy's certificate (panics without TLS).
    pub fn ca_cert_path(&self) -> &Path {
        &self
            .certificate
            .as_ref()
            .expect("proxy started without tls")
            .ca_cert
    }

    /// The listener of `/healthz`, `/readyz` and `/metrics`.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// The Host header value of path-style requests: `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// A raw request to the plain listener with only a `host` header.
    pub fn request(&self, method: &str, target: &str) -> Request {
        Request::new(method, target).header("host", &self.host())
    }

    /// Sends a raw request to the plain listener on a fresh connection.
    pub fn send(&self, request: &Request) -> Response {
        http::send(self.addr, request)
    }

    /// Everything the proxy wrote to stderr so far.
    pub fn log(&self) -> String {
        // The log's writer thread writes within its batch window (5 ms, `ops::BATCH_WINDOW`):
        // let the lines of the requests just answered reach the file.
        std::thread::sleep(s3_auth_proxy::ops::BATCH_WINDOW * 10);
        fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default()
    }

    /// Runs another subcommand of the binary (`presign`, `post-form`, …) with this proxy's
    /// config; returns its stdout, panicking with stderr if it fails.
    pub fn run_cli(&self, args: &[&str]) -> String {
        let output = Command::new(PROXY_BINARY)
            .arg("--config")
            .arg(self.dir.path().join("proxy.toml"))
            .args(args)
            .output()
            .expect("run s3-auth-proxy");
        assert!(
            output.status.success(),
            "s3-auth-proxy {args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// The proxy's folder (proxy.toml, secrets.toml, proxy.log, PEM files).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // shutdown_grace is 1s in the test configuration.
        nginx::stop(&mut self.child, Duration::from_secs(5));
        if std::thread::panicking() {
            eprintln!("--- s3-auth-proxy stderr ---\n{}\n--- end ---", self.log());
        }
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_string(s)).collect();
    format!("[{}]", items.join(", "))
}

fn secrets_toml(credentials: &[Credential]) -> String {
    let mut out = String::new();
    for credential in credentials {
        out.push_str("[[credentials]]\n");
        let _ = writeln!(out, "access_key = {}", toml_string(&credential.access_key));
        let _ = writeln!(out, "secret_key = {}", toml_string(&credential.secret_key));
        if let Some(allow) = &credential.allow {
            let _ = writeln!(out, "allow = {}", toml_array(allow));
        }
        out.push('\n');
    }
    out
}

fn proxy_toml(
    options: &ProxyOptions,
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    metrics_addr: SocketAddr,
    upstream: SocketAddr,
    kind: &str,
) -> String {
    // Relative paths: the proxy resolves them against this file's folder.
    let tls = match tls_addr {
        Some(tls_addr) => {
            format!("tls_listen = \"{tls_addr}\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n")
        }
        None => String::new(),
    };
    format!(
        r#"[server]
listen = "{addr}"
{tls}metrics_listen = "{metrics_addr}"
threads = 2
shutdown_grace = "1s"
{extra_server}
[upstream]
address = "{upstream}"
kind = "{kind}"
connect_timeout = "{connect}"
read_timeout = "{read}"
write_timeout = "{write}"
{extra_upstream}
[auth]
secrets_file = "secrets.toml"
region = {region}
clock_skew = "15m"
boto2_presign_compat = {boto2}
virtual_host_suffixes = {suffixes}
identity_header = "x-forwarded-user"
signature_diagnostics = true
secrets_poll_interval = "1s"
{extra_auth}
[log]
level = {level}
format = {format}
{extra_tables}
"#,
        extra_tables = options.extra_tables,
        connect = options.upstream_timeouts[0],
        read = options.upstream_timeouts[1],
        write = options.upstream_timeouts[2],
        extra_server = options.extra_server,
        extra_upstream = options.extra_upstream,
        boto2 = options.boto2_presign_compat,
        suffixes = toml_array(&options.virtual_host_suffixes),
        region = match options.regions.as_slice() {
            [one] => toml_string(one),
            many => toml_array(many),
        },
        extra_auth = options.extra_auth,
        level = toml_string(&options.log_level),
        format = toml_string(&options.log_format),
    )
}
