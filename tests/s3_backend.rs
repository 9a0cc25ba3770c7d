//! The proxy in front of a keyless S3 server (`upstream.kind = "s3"`): s3s-fs on loopback, boto3
//! as the client (tests/python/s3_backend.py), the server's folder checked after each write.
//! Buckets, listing and multipart uploads pass through; every request is still verified.

mod support;

use support::python::run_script_against;
use support::s3_server::S3Server;
use support::{Proxy, ProxyOptions};

#[test]
fn boto3_through_the_proxy_to_a_keyless_s3_server() {
    let server = S3Server::start();
    let proxy = Proxy::start_in_front_of(server.addr(), "s3", ProxyOptions::default());

    run_script_against("s3_backend.py", server.root(), &proxy.endpoint(), None, &[]);
}

#[test]
fn aws_chunked_uploads_reach_a_keyless_s3_server_as_plain_bodies() {
    let server = S3Server::start();
    let proxy = Proxy::start_in_front_of(server.addr(), "s3", ProxyOptions::default().with_tls());

    // Over HTTPS with its default checksums boto3 sends every upload aws-chunked
    // (STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer); the server, which is not told
    // of any of it, must store exactly the payload (the script compares its folder's bytes).
    run_script_against(
        "s3_backend.py",
        server.root(),
        &proxy.https_endpoint(),
        Some(proxy.ca_cert_path()),
        &[("CHECKSUMS", "default")],
    );
}
