//! A real headless Chromium for the browser tests (POST uploads from an HTML form, CORS).
//!
//! Why a real browser: what a browser sends for a form upload (multipart framing, field order,
//! file name and type) and what it refuses to do across origins (preflights, unexposed headers,
//! blocked responses) is exactly what these features must get right, and a hand-written client
//! would only repeat our own reading of the specs. So the tests run Debian's `/usr/bin/chromium`
//! through `tests/browser/driver.mjs` (Node + playwright-core), which prints one JSON object per
//! run; see the top of that file for its commands and the fields of its answer.
//!
//! Installed by `scripts/install-browser-deps.sh`. A test calls [`require_browser`] first: a
//! missing browser fails the test with the install command, it never skips it silently.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Debian's Chromium; the driver launches this build, never one of Playwright's downloads.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The command that installs everything [`browser_available`] looks for.
pub const INSTALL_COMMAND: &str = "scripts/install-browser-deps.sh";

/// How long one driver run may take before it is killed. Its own waits default to 30 s (the
/// `--timeout-ms` flag), so this only catches a driver or browser that hangs outright; a test
/// then fails instead of hanging the whole suite.
pub const DRIVER_TIMEOUT: Duration = Duration::from_secs(60);

/// `tests/browser` in this crate: the driver and its `node_modules`.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// What is missing for the browser tests, one entry per missing part (empty when all is there).
fn missing_parts() -> Vec<String> {
    let mut missing = Vec::new();
    let node_runs = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    if !node_runs {
        missing.push("node (Node.js 20 or newer) on PATH".to_string());
    }
    if !Path::new(CHROMIUM).exists() {
        missing.push(CHROMIUM.to_string());
    }
    let playwright = browser_dir().join("node_modules/playwright-core/package.json");
    if !playwright.exists() {
        missing.push(playwright.display().to_string());
    }
    missing
}

/// Whether node, Debian's Chromium and the installed playwright-core are all present.
///
/// For information only: a test must call [`require_browser`] instead of skipping on `false`,
/// or a machine without a browser would pass the browser tests without running them.
pub fn browser_available() -> bool {
    missing_parts().is_empty()
}

/// Panics, naming what is missing and the install command, unless [`browser_available`].
///
/// Browser tests call this first so that a machine without the browser fails them loudly: a
/// silent skip would let CI report green while testing nothing of the browser paths.
pub fn require_browser() {
    let missing = missing_parts();
    assert!(
        missing.is_empty(),
        "the browser tests need a real headless Chromium, but these are missing: {}.\n\
         Install them with `{INSTALL_COMMAND}` (as root; it apt-installs chromium and runs \
         npm ci in tests/browser).",
        missing.join(", ")
    );
}

/// Runs `node tests/browser/driver.mjs ARGS...` from the crate root and returns the one JSON
/// object it printed.
///
/// The driver exits 0 whenever the browser did its part, including when the server refused the
/// upload or CORS blocked the fetch: the JSON says what happened, and the test asserts on it. Any
/// other exit, output that is not JSON, or a run longer than [`DRIVER_TIMEOUT`] (the driver and
/// its browser are then killed) is a broken harness, and panics with the driver's stderr.
pub fn run_driver(args: &[&str]) -> serde_json::Value {
    require_browser();
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new("node")
        .arg("tests/browser/driver.mjs")
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout kills Chromium's processes along with node's.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start node tests/browser/driver.mjs: {error}"));

    // Read both pipes while waiting: a driver blocked on a full pipe would never exit.
    let stdout = read_in_background(child.stdout.take().expect("piped stdout"));
    let stderr = read_in_background(child.stderr.take().expect("piped stderr"));

    let deadline = Instant::now() + DRIVER_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => thread::sleep(Duration::from_millis(50)),
            Err(error) => panic!("waiting for the browser driver: {error}"),
        }
    };
    if status.is_none() {
        // Negative pid: the whole group (node and the browser it launched).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");

    let Some(status) = status else {
        panic!(
            "browser driver {args:?} still running after {DRIVER_TIMEOUT:?}, killed.\n\
             stderr:\n{stderr}\nstdout:\n{stdout}"
        );
    };
    if !status.success() {
        panic!("browser driver {args:?} failed ({status}).\nstderr:\n{stderr}\nstdout:\n{stdout}");
    }
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
        panic!(
            "browser driver {args:?} printed no JSON object ({error}).\n\
             stdout:\n{stdout}\nstderr:\n{stderr}"
        )
    })
}

fn read_in_background(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
