//! Running the Python scripts of `tests/python/` (boto3, requests) against a proxy and nginx.
//!
//! Each script checks its results against nginx's folder itself and exits non-zero on the first
//! failure; the interpreter is `PYTHON` (scripts/test.sh points it at its venv) or `python3`.

use std::path::Path;
use std::process::Command;

use super::{Nginx, ACCESS_KEY, SECRET_KEY};

pub fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Fails (never skips) when boto3 or requests cannot be imported: this suite is part of the
/// contract, a machine without it must not look green.
pub fn assert_boto3_is_importable() {
    let python = python();
    let output = Command::new(&python)
        .args(["-c", "import boto3, requests; print(boto3.__version__)"])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {python:?} ({e}): run scripts/test.sh, or set PYTHON")
        });
    assert!(
        output.status.success(),
        "boto3/requests are not importable by {python:?}: run scripts/test.sh (it creates .venv-test \
         and sets PYTHON), or set PYTHON to an interpreter that has them\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `tests/python/<script>` against `endpoint` and asserts it exits 0.
pub fn run_script(script: &str, nginx: &Nginx, endpoint: &str, ca_bundle: Option<&Path>) {
    run_script_with(script, nginx, endpoint, ca_bundle, &[]);
}

/// Like [`run_script`], with extra environment variables.
pub fn run_script_with(
    script: &str,
    nginx: &Nginx,
    endpoint: &str,
    ca_bundle: Option<&Path>,
    env: &[(&str, &str)],
) {
    run_script_against(script, &nginx.root(), endpoint, ca_bundle, env);
}

/// Like [`run_script_with`], for any backend that stores `<bucket>/<key>` as files under
/// `storage_root` (nginx's root, or a keyless S3 server's folder).
pub fn run_script_against(
    script: &str,
    storage_root: &Path,
    endpoint: &str,
    ca_bundle: Option<&Path>,
    env: &[(&str, &str)],
) {
    assert_boto3_is_importable();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let mut command = Command::new(python());
    command
        .arg(scripts.join(script))
        .current_dir(&scripts)
        .env("ENDPOINT", endpoint)
        .env(
            "CA_BUNDLE",
            ca_bundle
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        )
        .env("ACCESS_KEY", ACCESS_KEY)
        .env("SECRET_KEY", SECRET_KEY)
        .env("NGINX_ROOT", storage_root)
        // Hermetic: no AWS profile, credentials or CA from the machine, no HTTP proxy.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CA_BUNDLE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REQUEST_CHECKSUM_CALCULATION",
        "REQUESTS_CA_BUNDLE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("run the python script");
    assert!(
        output.status.success(),
        "{script} against {endpoint} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // common.run prints this only after every test of the script ran: an early exit 0 is no pass.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(" passed against "),
        "{script} exited 0 without running its tests\n--- stdout ---\n{stdout}"
    );
}

/// Runs the AWS CLI of the test virtualenv (beside `PYTHON`, else `aws` on PATH) against
/// `endpoint` with these credentials and nothing from the machine's own AWS configuration.
pub fn aws_cli(endpoint: &str, key: &str, secret: &str, args: &[&str]) -> std::process::Output {
    let python = std::path::PathBuf::from(python());
    let beside = python.parent().map(|dir| dir.join("aws"));
    let program = match beside {
        Some(path) if path.is_file() => path,
        _ => std::path::PathBuf::from("aws"),
    };
    Command::new(&program)
        .args(["--endpoint-url", endpoint, "--region", "us-east-1"])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program:?} ({e}): run scripts/test.sh"))
}
