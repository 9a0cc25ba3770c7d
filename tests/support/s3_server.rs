//! A keyless S3 server as the backend (`upstream.kind = "s3"`): s3s-fs, a small S3 implementation
//! over a folder, started on a loopback port and stopped when dropped. Objects are files
//! `<root>/<bucket>/<key>`, so the tests look at its disk as they do at nginx's.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running s3s-fs without credentials (every request anonymous and allowed).
pub struct S3Server {
    dir: TempDir,
    addr: SocketAddr,
    child: Child,
}

/// Where `scripts/test.sh` installs it (`cargo install s3s-fs`), or anywhere on PATH.
fn binary() -> PathBuf {
    let in_cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin/s3s-fs"));
    match in_cargo_home {
        Some(path) if path.is_file() => path,
        _ => PathBuf::from("s3s-fs"),
    }
}

impl S3Server {
    /// Starts s3s-fs on a free loopback port and waits until it accepts connections. Panics
    /// (never skips) when it is not installed.
    pub fn start() -> S3Server {
        let dir = tempfile::Builder::new()
            .prefix("s3s-fs-")
            .tempdir()
            .expect("create s3s-fs folder");
        let addr = SocketAddr::from(([127, 0, 0, 1], super::free_port()));
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &addr.port().to_string()])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start s3s-fs ({e}): run scripts/test.sh, which installs it")
            });
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        S3Server { dir, addr, child }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The folder holding `<bucket>/<key>`.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Creates the folder of a bucket (s3s-fs's buckets are its root's folders).
    pub fn create_bucket(&self, bucket: &str) {
        std::fs::create_dir_all(self.root().join(bucket)).expect("create the bucket folder");
    }

    /// The stored bytes of `relative` (`bucket/key`), if any.
    pub fn stored(&self, relative: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root().join(relative)).ok()
    }

    /// No file at all under the root (bucket folders may exist), now and [`SETTLE_TIME`] later.
    /// s3s-fs receives a body into `.tmp.<n>.internal.part` and deletes it when the body ends
    /// unfinished: such a file may be seen while an aborted upload winds down and must be gone
    /// within [`PARTIAL_UPLOAD_GRACE`]; any other file is an object and fails at once.
    pub fn assert_nothing_stored(&self, context: &str) {
        let settled = Instant::now() + SETTLE_TIME;
        let deadline = Instant::now() + PARTIAL_UPLOAD_GRACE;
        loop {
            let (partial, stored): (Vec<_>, Vec<_>) = files_under(self.root())
                .into_iter()
                .partition(|f| is_partial_upload(f));
            assert!(stored.is_empty(), "{context}: s3s-fs stored {stored:?}");
            if Instant::now() > settled && partial.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{context}: s3s-fs kept the partial upload {partial:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// How long a refused upload is watched for a late write.
const SETTLE_TIME: Duration = Duration::from_millis(300);

/// How long s3s-fs may take to delete the file of an aborted upload.
const PARTIAL_UPLOAD_GRACE: Duration = Duration::from_secs(5);

/// s3s-fs's file of a body still being received.
fn is_partial_upload(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(".tmp.") && name.ends_with(".internal.part"))
}

/// Every file under `root`, recursively (folders do not count).
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
