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
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
