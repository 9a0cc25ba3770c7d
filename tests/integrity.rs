//! Every integrity claim a signature covers is checked against the body, whatever carries it
//! (header, presigned query, trailer, form field) and whatever the body mode (plain, aws-chunked,
//! form), in front of real nginx (`kind = "http"`) and a real keyless S3 server (s3s-fs,
//! `kind = "s3"`, which on its own stores a body even when it answers `BadDigest`).
//!
//! Each attack tampers with exactly one thing, asserts the S3 error and that the backend's folder
//! holds nothing; its legitimate neighbour then stores exactly its bytes. Digests are computed
//! here (bit-by-bit CRCs, the `md5`/`sha2` crates), never by the proxy's code; requests are
//! signed by `aws-sigv4` (support::signer) or by boto3 (tests/python/integrity.py).

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::python::run_script_against;
use support::s3_server::S3Server;
use support::signer::uri_encode;
use support::streaming::{unsigned_chunked_body, UNSIGNED_TRAILER};
use support::{
    crc32_base64, md5_base64, patterned_bytes, Nginx, Payload, Proxy, ProxyOptions, Request,
    Response, Signer,
};

const BUCKET: &str = "bucket";

/// The backend behind the proxy, and how to look at its folder.
enum Store {
    Nginx(Nginx),
    S3(S3Server),
}

/// A backend with the proxy in front of it.
struct Setup {
    store: Store,
    proxy: Proxy,
}

impl Setup {
    fn nginx() -> Setup {
        let nginx = Nginx::start();
        let proxy = Proxy::start(&nginx, ProxyOptions::default());
        Setup {
            store: Store::Nginx(nginx),
            proxy,
        }
    }

    /// s3s-fs with the bucket already there (a folder of its root).
    fn s3s_fs() -> Setup {
        let server = S3Server::start();
        std::fs::create_dir_all(server.root().join(BUCKET)).expect("create the bucket folder");
        let proxy = Proxy::start_in_front_of(server.addr(), "s3", ProxyOptions::default());
        Setup {
            store: Store::S3(server),
            proxy,
        }
    }

    fn name(&self) -> &'static str {
        match self.store {
            Store::Nginx(_) => "nginx",
            Store::S3(_) => "s3s-fs",
        }
    }

    fn root(&self) -> PathBuf {
        match &self.store {
            Store::Nginx(nginx) => nginx.root(),
            Store::S3(server) => server.root().to_path_buf(),
        }
    }

    /// The bytes stored for `BUCKET/key`.
    fn stored(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root().join(BUCKET).join(key)).ok()
    }

    /// No file at all under the backend's folder (nginx: not even a folder), now and a moment
    /// later. s3s-fs receives a body into `.tmp.<n>.internal.part` and deletes it when the body
    /// ends short: such a file may be seen while the aborted upload winds down, and must be gone
    /// soon after; any other file is an object (or its metadata) and fails at once.
    fn assert_nothing_stored(&self, context: &str) {
        match &self.store {
            Store::Nginx(nginx) => nginx.assert_nothing_stored(),
            Store::S3(server) => server.assert_nothing_stored(context),
        }
    }

    fn request(&self, method: &str, key: &str) -> Request {
        self.proxy.request(method, &format!("/{BUCKET}/{key}"))
    }

    fn send(&self, request: &Request) -> Response {
        self.proxy.send(request)
    }

    /// Refused with `code`, and nothing reached the backend's folder.
    fn assert_refused(&self, request: &Request, status: u16, code: &str, context: &str) {
        let response = self.send(request);
        assert_eq!(
            response.s3_error_code().as_deref(),
            Some(code),
            "{} {context}: {}",
            self.name(),
            response.text()
        );
        response.assert_s3_error(status, code);
        self.assert_nothing_stored(&format!("{} {context}", self.name()));
    }

    /// Accepted, and exactly `body` stored under `key`.
    fn assert_stored(&self, request: &Request, key: &str, body: &[u8]) {
        let response = self.send(request);
        assert_eq!(
            response.status,
            200,
            "{} {key}: {}",
            self.name(),
            response.text()
        );
        assert_eq!(
            self.stored(key).as_deref(),
            Some(body),
            "{} {key}",
            self.name()
        );
    }
}

/// The test runs in front of nginx, then in front of s3s-fs, each with a fresh backend.
fn on_both_backends(test: impl Fn(&Setup)) {
    for setup in [Setup::nginx(), Setup::s3s_fs()] {
        test(&setup);
    }
}

/// Base64 of the big-endian CRC-32C (Castagnoli) of `bytes`, bit by bit.
fn crc32c_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    let mut crc: u32 = 0xFFFF_FFFF;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    base64::engine::general_purpose::STANDARD.encode((!crc).to_be_bytes())
}

/// A plain PUT of `body`, every header given signed with the body's SHA-256.
fn signed_put(setup: &Setup, key: &str, body: &[u8], headers: &[(&str, &str)]) -> Request {
    let mut put = setup.request("PUT", key);
    for (name, value) in headers {
        put = put.header(name, value);
    }
    let mut put = put.body(body.to_vec());
    Signer::default().sign(&mut put, Payload::Hashed);
    put
}

/// A signed aws-chunked (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) PUT of `data` in 64 KiB chunks,
/// with `headers` signed too.
fn streaming_put(setup: &Setup, key: &str, data: &[u8], headers: &[(&str, &str)]) -> Request {
    let mut put = setup.request("PUT", key);
    for (name, value) in headers {
        put = put.header(name, value);
    }
    let chunks: Vec<&[u8]> = data.chunks(64 * 1024).collect();
    Signer::default().sign_streaming(&mut put, &chunks);
    put
}

/// A `STREAMING-UNSIGNED-PAYLOAD-TRAILER` PUT of `data`, declaring `declared` (if any) in
/// x-amz-trailer and sending `trailers`; `headers` are signed with the head.
fn unsigned_trailer_put(
    setup: &Setup,
    key: &str,
    data: &[u8],
    declared: Option<&str>,
    trailers: &[(&str, String)],
    headers: &[(&str, &str)],
) -> Request {
    let body = unsigned_chunked_body(data, 64 * 1024, trailers);
    let mut put = setup
        .request("PUT", key)
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &data.len().to_string());
    if let Some(declared) = declared {
        put = put.header("x-amz-trailer", declared);
    }
    for (name, value) in headers {
        put = put.header(name, value);
    }
    let mut put = put.body(body);
    Signer::default().sign(&mut put, Payload::Declared(UNSIGNED_TRAILER.to_string()));
    put
}

// ---------------------------------------------------------------------------------------------
// 1. Content-MD5 on aws-chunked uploads: the MD5 of the decoded payload
// ---------------------------------------------------------------------------------------------

#[test]
fn content_md5_of_a_signed_aws_chunked_upload_is_checked() {
    on_both_backends(|setup| {
        let data = patterned_bytes(150 * 1024);
        let mut other = data.clone();
        other[100_000] ^= 1;
        let wrong = md5_base64(&other);
        let put = streaming_put(setup, "chunked.bin", &data, &[("content-md5", &wrong)]);
        setup.assert_refused(&put, 400, "BadDigest", "wrong Content-MD5, signed chunks");
        let fifteen_bytes = "AAAAAAAAAAAAAAAAAAAA";
        let put = streaming_put(
            setup,
            "chunked.bin",
            &data,
            &[("content-md5", fifteen_bytes)],
        );
        setup.assert_refused(&put, 400, "InvalidDigest", "malformed Content-MD5");

        let right = md5_base64(&data);
        let put = streaming_put(setup, "chunked.bin", &data, &[("content-md5", &right)]);
        setup.assert_stored(&put, "chunked.bin", &data);
    });
}

#[test]
fn content_md5_of_an_unsigned_trailer_upload_is_checked() {
    on_both_backends(|setup| {
        let data = patterned_bytes(100 * 1024);
        let crc = [("x-amz-checksum-crc32", crc32_base64(&data))];
        let declared = Some("x-amz-checksum-crc32");
        // The CRC trailer is right; only the MD5 is of other bytes.
        let wrong = md5_base64(&data[1..]);
        let put = unsigned_trailer_put(
            setup,
            "trailer.bin",
            &data,
            declared,
            &crc,
            &[("content-md5", &wrong)],
        );
        setup.assert_refused(&put, 400, "BadDigest", "wrong Content-MD5, trailer mode");

        let right = md5_base64(&data);
        let put = unsigned_trailer_put(
            setup,
            "trailer.bin",
            &data,
            declared,
            &crc,
            &[("content-md5", &right)],
        );
        setup.assert_stored(&put, "trailer.bin", &data);
    });
}

// ---------------------------------------------------------------------------------------------
// 2. Claims in a presigned URL's query (SigV4, hoisted as the Go and JS presigners do)
// ---------------------------------------------------------------------------------------------

/// A SigV4 presigned PUT of `body` whose query carries `query` (already encoded) and whose
/// signed headers are `headers`.
fn presigned_put(
    setup: &Setup,
    key: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Request {
    let mut put = setup
        .proxy
        .request("PUT", &format!("/{BUCKET}/{key}?{query}"));
    for (name, value) in headers {
        put = put.header(name, value);
    }
    Signer::default().presign(&mut put, Duration::from_secs(300));
    put.body(body.to_vec())
}

#[test]
fn a_checksum_in_a_sigv4_presigned_query_is_checked() {
    on_both_backends(|setup| {
        let body = patterned_bytes(70_000);
        let mut tampered = body.clone();
        tampered[69_999] ^= 0x80;
        for (name, value) in [
            ("x-amz-checksum-crc32", crc32_base64(&body)),
            ("x-amz-checksum-crc32c", crc32c_base64(&body)),
        ] {
            let query = format!("{name}={}", uri_encode(&value));
            let put = presigned_put(setup, "pre.bin", &query, &[], &tampered);
            setup.assert_refused(&put, 400, "BadDigest", name);
        }
        let query = format!("content-md5={}", uri_encode(&md5_base64(&body)));
        let put = presigned_put(setup, "pre.bin", &query, &[], &tampered);
        setup.assert_refused(&put, 400, "BadDigest", "content-md5 in the query");

        // A signed header and a signed query parameter that disagree: which one is meant?
        let query = format!("x-amz-checksum-crc32={}", uri_encode(&crc32_base64(&body)));
        let other = crc32_base64(&tampered);
        let put = presigned_put(
            setup,
            "pre.bin",
            &query,
            &[("x-amz-checksum-crc32", &other)],
            &body,
        );
        setup.assert_refused(&put, 400, "InvalidRequest", "header and query differ");

        let put = presigned_put(setup, "pre.bin", &query, &[], &body);
        setup.assert_stored(&put, "pre.bin", &body);
    });
}

// ---------------------------------------------------------------------------------------------
// 4. One checksum per request; unknown names refused
// ---------------------------------------------------------------------------------------------

#[test]
fn two_checksum_algorithms_at_once_are_refused_as_s3_refuses_them() {
    on_both_backends(|setup| {
        let body = patterned_bytes(10_000);
        let crc32 = crc32_base64(&body);
        let crc32c = crc32c_base64(&body);
        // Both values right: the refusal is for there being two.
        let two_headers = signed_put(
            setup,
            "two.bin",
            &body,
            &[
                ("x-amz-checksum-crc32", &crc32),
                ("x-amz-checksum-crc32c", &crc32c),
            ],
        );
        setup.assert_refused(&two_headers, 400, "InvalidRequest", "two headers");
        let response = setup.send(&two_headers);
        assert_eq!(
            response.s3_error_message().as_deref(),
            Some(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not \
                 allowed."
            )
        );

        let query = format!("x-amz-checksum-crc32c={}", uri_encode(&crc32c));
        let header_and_query = presigned_put(
            setup,
            "two.bin",
            &query,
            &[("x-amz-checksum-crc32", &crc32)],
            &body,
        );
        setup.assert_refused(&header_and_query, 400, "InvalidRequest", "header + query");

        let trailer_and_header = unsigned_trailer_put(
            setup,
            "two.bin",
            &body,
            Some("x-amz-checksum-crc32c"),
            &[("x-amz-checksum-crc32c", crc32c.clone())],
            &[("x-amz-checksum-crc32", &crc32)],
        );
        setup.assert_refused(
            &trailer_and_header,
            400,
            "InvalidRequest",
            "trailer + header",
        );

        let two_trailers = unsigned_trailer_put(
            setup,
            "two.bin",
            &body,
            Some("x-amz-checksum-crc32,x-amz-checksum-crc32c"),
            &[
                ("x-amz-checksum-crc32", crc32.clone()),
                ("x-amz-checksum-crc32c", crc32c.clone()),
            ],
            &[],
        );
        setup.assert_refused(&two_trailers, 400, "InvalidRequest", "two trailers");

        // The neighbours: one algorithm, wherever it travels.
        let one_header = signed_put(setup, "one.bin", &body, &[("x-amz-checksum-crc32", &crc32)]);
        setup.assert_stored(&one_header, "one.bin", &body);
        let one_trailer = unsigned_trailer_put(
            setup,
            "one-trailer.bin",
            &body,
            Some("x-amz-checksum-crc32c"),
            &[("x-amz-checksum-crc32c", crc32c.clone())],
            &[("x-amz-sdk-checksum-algorithm", "CRC32C")],
        );
        setup.assert_stored(&one_trailer, "one-trailer.bin", &body);
    });
}

#[test]
fn an_unknown_checksum_algorithm_is_refused_and_names_that_carry_no_value_pass() {
    on_both_backends(|setup| {
        let body = patterned_bytes(5_000);
        let md5 = md5_base64(&body);
        for name in ["x-amz-checksum-md5", "x-amz-checksum-crc64"] {
            let put = signed_put(setup, "unknown.bin", &body, &[(name, &md5)]);
            setup.assert_refused(&put, 400, "InvalidRequest", name);
        }
        let crc32 = crc32_base64(&body);
        let mismatched_sdk_name = signed_put(
            setup,
            "unknown.bin",
            &body,
            &[
                ("x-amz-checksum-crc32", &crc32),
                ("x-amz-sdk-checksum-algorithm", "SHA256"),
            ],
        );
        setup.assert_refused(
            &mismatched_sdk_name,
            400,
            "InvalidRequest",
            "x-amz-sdk-checksum-algorithm names another algorithm",
        );

        let put = signed_put(
            setup,
            "known.bin",
            &body,
            &[
                ("x-amz-checksum-crc32", &crc32),
                ("x-amz-sdk-checksum-algorithm", "CRC32"),
                ("x-amz-checksum-type", "FULL_OBJECT"),
            ],
        );
        setup.assert_stored(&put, "known.bin", &body);
    });
}

// ---------------------------------------------------------------------------------------------
// boto3: presigned URLs (SigV4 with ChecksumCRC32 / ChecksumSHA256, SigV2 with ContentMD5) and
// POST forms with Content-MD5 and x-amz-checksum-* fields (tests/python/integrity.py)
// ---------------------------------------------------------------------------------------------

#[test]
fn boto3_presigned_urls_and_forms_in_front_of_nginx() {
    let setup = Setup::nginx();
    run_script_against(
        "integrity.py",
        &setup.root(),
        &setup.proxy.endpoint(),
        None,
        &[("BACKEND", "http")],
    );
}

#[test]
fn boto3_presigned_urls_and_forms_in_front_of_s3s_fs() {
    let setup = Setup::s3s_fs();
    run_script_against(
        "integrity.py",
        &setup.root(),
        &setup.proxy.endpoint(),
        None,
        &[("BACKEND", "s3")],
    );
}
