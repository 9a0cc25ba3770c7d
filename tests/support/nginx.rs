//! A real Debian nginx with WebDAV PUT/DELETE: the unauthenticated backend the proxy protects.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Where Debian's `nginx-core` package puts the binary.
const NGINX_BINARY: &str = "/usr/sbin/nginx";

/// How long nginx may take to answer on its port after being started.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How long [`Nginx::assert_nothing_stored`] keeps looking. The proxy may answer its client a
/// moment before nginx has finished with the upstream request, so "empty right now" is not
/// enough; "still empty after this long" is what the attack tests assert.
const SETTLE_TIME: Duration = Duration::from_millis(500);

/// One request as nginx saw it, from its access log.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct UpstreamRequest {
    pub method: String,
    /// The request target as received, query string included.
    pub uri: String,
    pub status: String,
    pub host: String,
    pub authorization: String,
    pub forwarded_user: String,
    pub expect: String,
    pub content_length: String,
    pub x_amz_content_sha256: String,
    pub content_type: String,
    /// `x-amz-meta-owner`, the metadata header the form tests send.
    pub meta_owner: String,
    /// Request line, headers and body bytes nginx read.
    pub request_length: String,
    /// `Transfer-Encoding` (`chunked` for a body of unknown length).
    pub transfer_encoding: String,
}

/// A running nginx in its own temporary prefix; stopped when dropped.
pub struct Nginx {
    dir: TempDir,
    addr: SocketAddr,
    child: Child,
}

impl Nginx {
    /// Starts nginx on a free 127.0.0.1 port, serving and storing under [`Nginx::root`].
    pub fn start() -> Nginx {
        Nginx::start_with("")
    }

    /// Like [`Nginx::start`], with extra directives for the `http` block (e.g.
    /// `keepalive_timeout 1s;`).
    pub fn start_with(http_directives: &str) -> Nginx {
        assert!(
            Path::new(NGINX_BINARY).exists(),
            "{NGINX_BINARY} is missing: install Debian's nginx-core (scripts/test.sh does)"
        );
        // The port was free when picked but another process may take it before nginx binds it:
        // then nginx exits, and a new port is tried.
        let mut last_error = String::new();
        for _ in 0..3 {
            match Nginx::try_start(http_directives) {
                Ok(nginx) => return nginx,
                Err(error) => last_error = error,
            }
        }
        panic!("{last_error}");
    }

    fn try_start(http_directives: &str) -> Result<Nginx, String> {
        let dir = tempfile::Builder::new()
            .prefix("nginx-")
            .tempdir()
            .expect("create nginx prefix");
        let prefix = dir.path();
        for sub in [
            "root",
            "logs",
            "client_body_temp",
            "proxy_temp",
            "fastcgi_temp",
            "uwsgi_temp",
            "scgi_temp",
        ] {
            fs::create_dir_all(prefix.join(sub)).expect("create nginx folder");
        }
        let port = super::free_port();
        let conf = prefix.join("nginx.conf");
        fs::write(&conf, config(prefix, port, http_directives)).expect("write nginx.conf");
        let child = spawn(prefix);
        let mut nginx = Nginx {
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
        };
        nginx.wait_until_listening()?;
        Ok(nginx)
    }

    /// Stops nginx (SIGTERM, then SIGKILL): its port refuses connections until
    /// [`Nginx::restart`].
    pub fn stop(&mut self) {
        stop(&mut self.child, Duration::from_secs(5));
    }

    /// Starts nginx again after [`Nginx::stop`], on the same port, root and configuration.
    pub fn restart(&mut self) {
        self.child = spawn(self.dir.path());
        self.wait_until_listening()
            .unwrap_or_else(|e| panic!("nginx did not restart: {e}"));
    }

    /// SIGSTOPs nginx's master and workers: the kernel still accepts connections on its port
    /// and takes bytes into its buffers, but nothing answers until [`Nginx::resume`].
    pub fn pause(&self) {
        self.signal_all("STOP");
    }

    /// SIGCONTs what [`Nginx::pause`] stopped.
    pub fn resume(&self) {
        self.signal_all("CONT");
    }

    /// Sends a signal to our master and its children (the workers), by process id.
    fn signal_all(&self, signal: &str) {
        let pid = self.child.id();
        let children =
            fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{signal} {pid} {children}"))
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid} {children} failed");
    }

    /// Ready = our master wrote its pid file (it does so after binding) and the port answers.
    fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let pid_file = self.dir.path().join("nginx.pid");
        let our_pid = self.child.id().to_string();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "nginx exited during start-up ({status}):\n{}",
                    self.error_log()
                ));
            }
            let pid_written = fs::read_to_string(&pid_file).is_ok_and(|pid| pid.trim() == our_pid);
            if pid_written
                && TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "nginx did not listen on {} within {STARTUP_TIMEOUT:?}:\n{}",
                    self.addr,
                    self.error_log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The address nginx listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The folder nginx serves from and stores PUT bodies in.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The folder nginx buffers request bodies in before a PUT is committed (outside the root).
    pub fn body_temp_dir(&self) -> PathBuf {
        self.dir.path().join("client_body_temp")
    }

    /// Every object file under the root, as (path relative to the root with `/` separators,
    /// contents), sorted by path. For a path-style request `/bucket/key` the path is
    /// `bucket/key`. The proxy's own files under the reserved `/.s3-auth-proxy/` (ETag records,
    /// staged parts and copies) are no objects and are left out: tests of those look there
    /// themselves ([`Nginx::reserved_files`]).
    pub fn stored_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        collect_files(&self.root(), "", &mut files);
        files.retain(|(path, _)| !path.starts_with(".s3-auth-proxy/"));
        files.sort();
        files
    }

    /// The proxy's own files under `/.s3-auth-proxy/`, relative to the root, sorted.
    pub fn reserved_files(&self) -> Vec<String> {
        let mut files = Vec::new();
        collect_files(&self.root(), "", &mut files);
        let mut paths: Vec<String> = files
            .into_iter()
            .map(|(path, _)| path)
            .filter(|path| path.starts_with(".s3-auth-proxy/"))
            .collect();
        paths.sort();
        paths
    }

    /// The contents of one stored file, if it exists.
    pub fn stored(&self, relative: &str) -> Option<Vec<u8>> {
        fs::read(self.root().join(relative)).ok()
    }

    /// Places a file under the root directly (not through any HTTP path), for GET tests.
    pub fn put_file(&self, relative: &str, contents: &[u8]) {
        let path = self.root().join(relative);
        fs::create_dir_all(path.parent().expect("relative path has a parent"))
            .expect("create dirs");
        fs::write(path, contents).expect("write file under nginx root");
    }

    /// Asserts that the root holds nothing at all (no file, no folder) and still holds nothing
    /// after [`SETTLE_TIME`]; the proxy's own reserved `/.s3-auth-proxy/` (ETag records of
    /// earlier uploads, staging) holds no objects and is not looked at.
    pub fn assert_nothing_stored(&self) {
        let deadline = Instant::now() + SETTLE_TIME;
        let reserved = self.root().join(".s3-auth-proxy");
        loop {
            let mut entries = all_entries(&self.root());
            entries.retain(|path| !path.starts_with(&reserved));
            assert!(
                entries.is_empty(),
                "nginx's root should hold nothing, but holds {entries:?}\nnginx saw: {:#?}",
                self.upstream_requests()
            );
            if Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asserts that nginx's body temp folder is empty: an aborted upload left no partial file.
    pub fn assert_no_partial_upload_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let entries = all_entries(&self.body_temp_dir());
            if entries.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx kept partial uploads: {entries:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The requests nginx has finished for clients' requests, oldest first, from its access
    /// log: not the proxy's own housekeeping under `/.s3-auth-proxy/` (a plain store's ETag
    /// records after an upload, staging: [`Nginx::all_upstream_requests`]).
    pub fn upstream_requests(&self) -> Vec<UpstreamRequest> {
        let mut requests = self.all_upstream_requests();
        requests.retain(|r| !r.uri.starts_with("/.s3-auth-proxy/"));
        requests
    }

    /// Every request nginx has finished, oldest first, from its access log.
    pub fn all_upstream_requests(&self) -> Vec<UpstreamRequest> {
        let log = fs::read_to_string(self.dir.path().join("logs/access.log")).unwrap_or_default();
        log.lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("bad access log line {line:?}: {e}"))
            })
            .collect()
    }

    /// Waits until nginx has logged at least `count` requests and returns them all.
    pub fn wait_for_upstream_requests(&self, count: usize) -> Vec<UpstreamRequest> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let requests = self.upstream_requests();
            if requests.len() >= count {
                return requests;
            }
            assert!(
                Instant::now() < deadline,
                "nginx logged {} requests, expected at least {count}: {requests:#?}",
                requests.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// nginx's error log (its stderr), for failure messages.
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("logs/stderr.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // A paused nginx would ignore SIGTERM until continued.
        if self.child.try_wait().is_ok_and(|status| status.is_none()) {
            self.resume();
        }
        stop(&mut self.child, Duration::from_secs(5));
    }
}

/// Asks a child to stop with SIGTERM, waits up to `grace`, then SIGKILLs it.
///
/// SIGTERM goes through `sh`'s `kill` builtin: std can only SIGKILL, libc is not a dependency,
/// and minimal Debian images have no `/bin/kill` (procps).
pub(crate) fn stop(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -TERM {}", child.id()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether this process runs as root (uid 0), read from /proc (no libc here).
fn running_as_root() -> bool {
    let mut status = String::new();
    fs::File::open("/proc/self/status")
        .and_then(|mut f| f.read_to_string(&mut status))
        .map(|_| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                == Some("0")
        })
        .unwrap_or(false)
}

/// Starts the nginx master in the foreground for the prefix's `nginx.conf`, its stderr
/// appended to `logs/stderr.log`.
fn spawn(prefix: &Path) -> Child {
    let stderr = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(prefix.join("logs/stderr.log"))
        .expect("open stderr log");
    Command::new(NGINX_BINARY)
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(prefix.join("nginx.conf"))
        .arg("-g")
        .arg("daemon off; error_log stderr info;")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn nginx")
}

fn config(prefix: &Path, port: u16, http_directives: &str) -> String {
    let p = prefix.display();
    // Workers run as root when we are root, so they can write into the tempdir we created.
    let user = if running_as_root() { "user root;" } else { "" };
    format!(
        r#"{user}
worker_processes 1;
pid {p}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    log_format upstream escape=json '{{"method":"$request_method","uri":"$request_uri","status":"$status",'
        '"host":"$http_host","authorization":"$http_authorization","forwarded_user":"$http_x_forwarded_user",'
        '"expect":"$http_expect","content_length":"$http_content_length",'
        '"x_amz_content_sha256":"$http_x_amz_content_sha256","content_type":"$content_type",'
        '"meta_owner":"$http_x_amz_meta_owner","request_length":"$request_length",'
        '"transfer_encoding":"$http_transfer_encoding"}}';
    access_log {p}/logs/access.log upstream;
    # Take header names with underscores, as CGI/WSGI-style backends do (nginx drops them by
    # default): `x_forwarded_user` then reads as `$http_x_forwarded_user`, the identity.
    underscores_in_headers on;
    {http_directives}
    # Outside the root: a partial body buffered here must never look like a stored object.
    client_body_temp_path {p}/client_body_temp;
    proxy_temp_path {p}/proxy_temp;
    fastcgi_temp_path {p}/fastcgi_temp;
    uwsgi_temp_path {p}/uwsgi_temp;
    scgi_temp_path {p}/scgi_temp;
    server {{
        listen 127.0.0.1:{port};
        root {p}/root;
        location / {{
            dav_methods PUT DELETE MKCOL COPY MOVE;
            # Folder indexes as JSON: the proxy answers S3 listings from them (names
            # starting with '.' are never listed).
            autoindex on;
            autoindex_format json;
            # No index file: a key named index.html must not stand in for its folder's
            # listing. The proxy refuses every key with a .s3-auth-proxy segment.
            index .s3-auth-proxy/no-index;
            create_full_put_path on;
            client_max_body_size 0;
        }}
    }}
}}
"#
    )
}

fn collect_files(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, &relative, out);
        } else {
            out.push((relative, fs::read(&path).unwrap_or_default()));
        }
    }
}

fn all_entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(all_entries(&path));
        }
        out.push(path);
    }
    out
}
