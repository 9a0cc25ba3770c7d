//! Browser POST uploads through the proxy to a real nginx: forms signed by boto3's
//! `generate_presigned_post` and sent with requests (tests/python/post_forms.py), over plain HTTP
//! and HTTPS; the pages of `s3-auth-proxy post-form` submitted by a real headless Chromium; CORS
//! preflights and cross-origin uploads from a page on another origin.

mod support;

use support::python::run_script;
use support::{Nginx, Proxy, ProxyOptions};

#[test]
fn boto3_presigned_post_forms_over_http() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());

    run_script("post_forms.py", &nginx, &proxy.endpoint(), None);
}

#[test]
fn boto3_presigned_post_forms_over_https() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default().with_tls());

    run_script(
        "post_forms.py",
        &nginx,
        &proxy.https_endpoint(),
        Some(proxy.ca_cert_path()),
    );
}
