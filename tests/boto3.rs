//! boto3 (the Python SDK) through the proxy to a real nginx, over plain HTTP and HTTPS.
//!
//! Each test starts nginx and the proxy, then runs one script of `tests/python/` with the
//! interpreter named by `PYTHON` (scripts/test.sh points it at its venv) or `python3`. The script
//! checks its results against nginx's folder itself and exits non-zero on the first failure.

mod support;

use std::process::Command;

use support::python::{python, run_script, run_script_with};
use support::{Nginx, Proxy, ProxyOptions};

#[test]
fn boto3_round_trips_objects_over_http() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());

    run_script("roundtrip.py", &nginx, &proxy.endpoint(), None);
}

#[test]
fn boto3_round_trips_objects_over_https() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default().with_tls());

    run_script(
        "roundtrip.py",
        &nginx,
        &proxy.https_endpoint(),
        Some(proxy.ca_cert_path()),
    );
}

#[test]
fn boto3_presigned_urls_work_over_http() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());

    run_script("presigned.py", &nginx, &proxy.endpoint(), None);
}

#[test]
fn boto3_presigned_urls_work_over_https() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default().with_tls());

    run_script(
        "presigned.py",
        &nginx,
        &proxy.https_endpoint(),
        Some(proxy.ca_cert_path()),
    );
}

#[test]
fn boto3_reports_s3_error_codes_over_http() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());

    run_script("errors.py", &nginx, &proxy.endpoint(), None);
}

#[test]
fn boto3_reports_s3_error_codes_over_https() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default().with_tls());

    run_script(
        "errors.py",
        &nginx,
        &proxy.https_endpoint(),
        Some(proxy.ca_cert_path()),
    );
}

#[test]
fn boto3_with_its_default_checksums_round_trips_objects_over_http() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());

    run_script_with(
        "roundtrip.py",
        &nginx,
        &proxy.endpoint(),
        None,
        &[("CHECKSUMS", "default")],
    );
}

#[test]
fn boto3_with_its_default_checksums_round_trips_objects_over_https() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default().with_tls());

    run_script_with(
        "roundtrip.py",
        &nginx,
        &proxy.https_endpoint(),
        Some(proxy.ca_cert_path()),
        &[("CHECKSUMS", "default")],
    );
}

#[test]
fn boto3_checksum_algorithms_as_aws_chunked_trailers_over_https() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default().with_tls());
    // CRC32C and CRC64NVME need awscrt in botocore; checksums.py skips them without it. Say so
    // here too, since a passing script's output is not shown.
    let has_crt = Command::new(python())
        .args(["-c", "import awscrt"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_crt {
        eprintln!(
            "NOTE: awscrt is not importable by {:?}: CRC32C and CRC64NVME are skipped, only \
             CRC32 and SHA256 are tested",
            python()
        );
    }

    run_script(
        "checksums.py",
        &nginx,
        &proxy.https_endpoint(),
        Some(proxy.ca_cert_path()),
    );
}

#[test]
fn sigv2_from_real_clients_at_their_defaults_and_attacks_on_each_signed_element() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());

    run_script("sigv2_clients.py", &nginx, &proxy.endpoint(), None);

    // The clients really signed with SigV2, each way.
    let log = proxy.log();
    for auth in ["sigv2-header", "sigv2-presigned", "sigv2-form"] {
        assert!(
            log.contains(&format!("auth=\"{auth}\"")) || log.contains(&format!("auth={auth}")),
            "no {auth} request in the access log"
        );
    }
}
