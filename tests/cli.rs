//! The command line as a user meets it: help text, `check-config` on the shipped config and on
//! a broken one (exit code and every problem named).

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_s3-auth-proxy"))
}

/// `check-config` on a proxy.toml with `text`, written into `dir` (beside any secrets file).
fn check_config(dir: &std::path::Path, text: &str) -> std::process::Output {
    let path = dir.join("proxy.toml");
    std::fs::write(&path, text).unwrap();
    bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("runs")
}

#[test]
fn help_explains_the_subcommands() {
    let out = bin().arg("--help").output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["serve", "check-config", "--config", "Signature Version 4"] {
        assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
    }
}

#[test]
fn the_shipped_config_is_valid() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/proxy.toml");
    let out = bin()
        .args(["check-config", "--config", shipped])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "shipped proxy.toml fails check-config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_names_every_problem_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = check_config(
        dir.path(),
        r#"
[server]
listen = "not-an-address"
[upstream]
address = "127.0.0.1:9000"
kind = "http"
[auth]
secrets_file = "missing-secrets.toml"
region = "us-east-1"
clock_skew = "fortnight"
"#,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "server.listen",
        "\"not-an-address\"",
        "auth.secrets_file",
        "auth.clock_skew",
        "fortnight",
    ] {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
}

#[test]
fn check_config_names_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secrets.toml"), "credentials = []\n").unwrap();
    let out = check_config(
        dir.path(),
        "[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n[upstream]\naddress = \"127.0.0.1:2\"\nkind = \"http\"\n\
         [auth]\nsecrets_file = \"secrets.toml\"\nregion = \"us-east-1\"\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
}

#[test]
fn check_config_reports_a_broken_secrets_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("secrets.toml"),
        "[[credentials]]\naccess_key = \"AK\"\n",
    )
    .unwrap();
    let out = check_config(
        dir.path(),
        "[server]\nlisten = \"127.0.0.1:1\"\n[upstream]\naddress = \"127.0.0.1:2\"\nkind = \"http\"\n\
         [auth]\nsecrets_file = \"secrets.toml\"\nregion = \"us-east-1\"\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("secrets.toml") && err.contains("secret_key"),
        "{err}"
    );
}

fn config_with_metrics(dir: &std::path::Path, metrics: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("secrets.toml"), "credentials = []\n").unwrap();
    let path = dir.join("proxy.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:1\"\nmetrics_listen = \"{metrics}\"\n[upstream]\n\
             address = \"127.0.0.1:2\"\nkind = \"http\"\n[auth]\nsecrets_file = \"secrets.toml\"\n\
             region = \"us-east-1\"\n"
        ),
    )
    .unwrap();
    path
}

/// A one-shot HTTP server answering `status_line`, standing in for the metrics port.
fn one_shot_server(status_line: &'static str) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            // Read the whole request head first: closing with unread bytes would send a RST
            // that can overtake the answer.
            let mut head = Vec::new();
            let mut buf = [0u8; 256];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(s, "{status_line}\r\nContent-Length: 0\r\n\r\n");
        }
    });
    addr
}

#[test]
fn healthcheck_exits_zero_on_200_and_one_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let ok = config_with_metrics(dir.path(), &one_shot_server("HTTP/1.1 200 OK").to_string());
    assert_eq!(
        bin()
            .args(["healthcheck", "--config"])
            .arg(&ok)
            .status()
            .unwrap()
            .code(),
        Some(0)
    );

    let dir = tempfile::tempdir().unwrap();
    let unready = config_with_metrics(
        dir.path(),
        &one_shot_server("HTTP/1.1 503 Service Unavailable").to_string(),
    );
    assert_eq!(
        bin()
            .args(["healthcheck", "--ready", "--config"])
            .arg(&unready)
            .status()
            .unwrap()
            .code(),
        Some(1)
    );

    // Nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let down = config_with_metrics(dir.path(), &closed.to_string());
    assert_eq!(
        bin()
            .args(["healthcheck", "--config"])
            .arg(&down)
            .status()
            .unwrap()
            .code(),
        Some(1)
    );
}

/// Runs a subcommand against the shipped proxy.toml (its secrets file is examples/secrets.toml).
fn with_shipped_config(args: &[&str]) -> std::process::Output {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/proxy.toml");
    bin()
        .args(["--config", shipped])
        .args(args)
        .output()
        .expect("runs")
}

#[test]
fn presign_prints_a_sigv4_url_for_the_shipped_setup() {
    let out = with_shipped_config(&[
        "presign",
        "--key-id",
        "AKIAIOSFODNN7EXAMPLE",
        "--method",
        "put",
        "--expires",
        "15m",
        "s3://demo/a b.txt",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8_lossy(&out.stdout);
    assert!(
        url.starts_with("http://127.0.0.1:8080/demo/a%20b.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&"),
        "{url}"
    );
    assert!(url.contains("&X-Amz-Expires=900&"), "{url}");
    assert!(url.contains("&X-Amz-Signature="), "{url}");
}

#[test]
fn presign_and_post_form_name_what_is_wrong_and_exit_2() {
    for (args, needle) in [
        (
            vec!["presign", "--key-id", "NOPE", "s3://demo/k"],
            "--key-id NOPE",
        ),
        (
            vec!["presign", "--key-id", "AKIAIOSFODNN7EXAMPLE", "demo/k"],
            "s3://bucket/key",
        ),
        (
            vec![
                "presign",
                "--key-id",
                "AKIAIOSFODNN7EXAMPLE",
                "--expires",
                "8d",
                "s3://demo/k",
            ],
            "auth.max_presign_expiry",
        ),
        (
            vec![
                "presign",
                "--key-id",
                "AKIAIOSFODNN7EXAMPLE",
                "--method",
                "PATCH",
                "s3://d/k",
            ],
            "--method",
        ),
        (
            vec![
                "post-form",
                "--key-id",
                "AKIAIOSFODNN7EXAMPLE",
                "--bucket",
                "d",
                "--max-size",
                "lots",
            ],
            "--max-size",
        ),
        (
            vec![
                "post-form",
                "--key-id",
                "AKIAIOSFODNN7EXAMPLE",
                "--bucket",
                "d",
                "--endpoint",
                "ftp://x",
            ],
            "--endpoint",
        ),
    ] {
        let out = with_shipped_config(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
