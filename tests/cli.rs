//! The command line as a user meets it: help text, `check-config` on the shipped config and on
//! a broken one (exit code and every problem named).

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_s3-auth-proxy"))
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
    let path = dir.path().join("proxy.toml");
    std::fs::write(
        &path,
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
    )
    .unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("runs");
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
    let path = dir.path().join("proxy.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n[upstream]\naddress = \"127.0.0.1:2\"\nkind = \"http\"\n\
         [auth]\nsecrets_file = \"secrets.toml\"\nregion = \"us-east-1\"\n",
    )
    .unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("runs");
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
    let path = dir.path().join("proxy.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:1\"\n[upstream]\naddress = \"127.0.0.1:2\"\nkind = \"http\"\n\
         [auth]\nsecrets_file = \"secrets.toml\"\nregion = \"us-east-1\"\n",
    )
    .unwrap();
    let out = bin()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("secrets.toml") && err.contains("secret_key"),
        "{err}"
    );
}
