//! Attack tests: a correctly signed request with exactly one thing changed must be refused with
//! S3's status and error code, and nginx's root must hold nothing afterwards.
//!
//! Requests are built with the raw client and signed by `aws-sigv4` (AWS's implementation, not
//! the proxy's). The untampered versions of the same constructions are shown to succeed in the
//! `untampered_*` tests, so each refusal below is caused by the one change it makes.

mod support;

use std::time::{Duration, SystemTime};

use support::http::{xml_element, Connection};
use support::signer::{signature_of, with_one_hex_digit_changed};
use support::{
    crc32_base64, md5_base64, patterned_bytes, sha256_hex, Credential, Nginx, Payload, Proxy,
    ProxyOptions, Request, Signer, ACCESS_KEY, SECRET_KEY,
};

/// Larger than pingora's 64 KiB reads, so the body reaches nginx in several pieces before the
/// proxy can know the hash is wrong.
const LARGE: usize = 300 * 1024;
const SMALL: usize = 1024;
const ONE_HOUR: Duration = Duration::from_secs(3600);

fn nginx_and_proxy() -> (Nginx, Proxy) {
    nginx_and_proxy_with(ProxyOptions::default())
}

fn nginx_and_proxy_with(options: ProxyOptions) -> (Nginx, Proxy) {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, options);
    (nginx, proxy)
}

/// A PUT of `body` to `target`, signed over its body hash with the default credential.
fn signed_put(proxy: &Proxy, target: &str, body: &[u8]) -> Request {
    let mut put = proxy.request("PUT", target).body(body.to_vec());
    Signer::default().sign(&mut put, Payload::Hashed);
    put
}

/// A presigned PUT URL for `target` (valid one hour), with `body` attached after presigning.
fn presigned_put(proxy: &Proxy, target: &str, body: &[u8]) -> Request {
    let mut put = proxy.request("PUT", target);
    Signer::default().presign(&mut put, ONE_HOUR);
    put.body(body.to_vec())
}

// ---------------------------------------------------------------------------------------------
// The premise: nginx commits a PUT only when the whole declared body arrived. Every body attack
// below relies on it, since the proxy can only withhold the last byte(s), not the request head.
// ---------------------------------------------------------------------------------------------

#[test]
fn nginx_stores_a_complete_put() {
    let nginx = Nginx::start();
    let body = patterned_bytes(100_000);

    let response = support::http::send(
        nginx.addr(),
        &Request::new("PUT", "/bucket/dir/object")
            .header("host", &nginx.addr().to_string())
            .body(body.clone()),
    );

    response.assert_success();
    assert_eq!(
        nginx.stored_files(),
        vec![("bucket/dir/object".to_string(), body)]
    );
}

#[test]
fn nginx_discards_a_short_body() {
    let nginx = Nginx::start();
    let body = patterned_bytes(200_000);
    let put = Request::new("PUT", "/bucket/object")
        .header("host", &nginx.addr().to_string())
        .body(body.clone());

    let mut connection = Connection::open(nginx.addr());
    connection.write(&put.head_bytes()).expect("write head");
    connection
        .write(&body[..body.len() - 1])
        .expect("write all but the last byte");
    // Give nginx time to buffer everything it got, then go away, as the proxy does on abort.
    std::thread::sleep(Duration::from_millis(300));
    drop(connection);

    nginx.wait_for_upstream_requests(1);
    nginx.assert_nothing_stored();
    nginx.assert_no_partial_upload_left();
}

// ---------------------------------------------------------------------------------------------
// The untampered constructions succeed.
// ---------------------------------------------------------------------------------------------

#[test]
fn untampered_signed_puts_are_stored() {
    let (nginx, proxy) = nginx_and_proxy();
    let small = patterned_bytes(SMALL);
    let large = patterned_bytes(LARGE);

    proxy
        .send(&signed_put(&proxy, "/bucket/small", &small))
        .assert_success();
    proxy
        .send(&signed_put(&proxy, "/bucket/large", &large))
        .assert_success();
    proxy
        .send(&signed_put(&proxy, "/bucket/empty", b""))
        .assert_success();

    assert_eq!(
        nginx.stored_files(),
        vec![
            ("bucket/empty".to_string(), Vec::new()),
            ("bucket/large".to_string(), large),
            ("bucket/small".to_string(), small),
        ]
    );
    // Beside them, the proxy's ETag record of each (store::etags): the payload's MD5.
    let records = nginx.reserved_files();
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(records
        .iter()
        .all(|r| r.starts_with(".s3-auth-proxy/etags/bucket/")));
    let empty_md5 = "d41d8cd98f00b204e9800998ecf8427e";
    assert!(records.iter().any(|r| r.contains(empty_md5)), "{records:?}");
}

#[test]
fn untampered_presigned_put_is_stored() {
    let (nginx, proxy) = nginx_and_proxy();

    proxy
        .send(&presigned_put(&proxy, "/bucket/presigned", b"hello"))
        .assert_success();

    assert_eq!(
        nginx.stored("bucket/presigned").as_deref(),
        Some(&b"hello"[..])
    );
}

#[test]
fn untampered_put_with_expect_100_continue_gets_100_then_is_stored() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/expected", b"payload");
    put.headers
        .push(("Expect".to_string(), "100-continue".to_string()));

    let mut connection = Connection::open(proxy.addr());
    connection.write(&put.head_bytes()).expect("write head");
    let (status, _) = connection.read_head().expect("an interim answer");
    assert_eq!(
        status, 100,
        "the proxy should invite the body after checking the head"
    );
    connection.write(&put.body).expect("write body");
    let response = connection.read_response("PUT").expect("final answer");

    response.assert_success();
    assert_eq!(
        nginx.stored("bucket/expected").as_deref(),
        Some(&b"payload"[..])
    );
}

#[test]
fn untampered_puts_with_content_md5_and_crc32_are_stored() {
    let (nginx, proxy) = nginx_and_proxy();
    let body = patterned_bytes(LARGE);
    let mut with_md5 = proxy
        .request("PUT", "/bucket/md5")
        .header("content-md5", &md5_base64(&body))
        .body(body.clone());
    Signer::default().sign(&mut with_md5, Payload::Hashed);
    let mut with_crc32 = proxy
        .request("PUT", "/bucket/crc32")
        .header("x-amz-checksum-crc32", &crc32_base64(&body))
        .body(body.clone());
    Signer::default().sign(&mut with_crc32, Payload::Hashed);

    proxy.send(&with_md5).assert_success();
    proxy.send(&with_crc32).assert_success();

    assert_eq!(
        nginx.stored_files(),
        vec![
            ("bucket/crc32".to_string(), body.clone()),
            ("bucket/md5".to_string(), body)
        ]
    );
}

#[test]
fn untampered_put_with_odd_header_name_casing_is_stored() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/casing", b"any case");

    // Header names are case-insensitive: the signature covers their lowercase form.
    for (name, _) in put.headers.iter_mut() {
        *name = match name.as_str() {
            "host" => "hOsT".to_string(),
            "x-amz-date" => "X-AMZ-DATE".to_string(),
            "x-amz-content-sha256" => "X-Amz-Content-Sha256".to_string(),
            "authorization" => "AUTHORIZATION".to_string(),
            other => other.to_ascii_uppercase(),
        };
    }
    proxy.send(&put).assert_success();

    assert_eq!(
        nginx.stored("bucket/casing").as_deref(),
        Some(&b"any case"[..])
    );
}

#[test]
fn untampered_signature_for_a_second_configured_region_is_stored() {
    let (nginx, proxy) =
        nginx_and_proxy_with(ProxyOptions::default().with_regions(&["us-east-1", "eu-west-1"]));
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .body(b"body".to_vec());
    Signer::default()
        .region("eu-west-1")
        .sign(&mut put, Payload::Hashed);

    proxy.send(&put).assert_success();

    assert_eq!(nginx.stored("bucket/object").as_deref(), Some(&b"body"[..]));
}

// ---------------------------------------------------------------------------------------------
// The body.
// ---------------------------------------------------------------------------------------------

fn assert_body_byte_flip_is_refused(len: usize, position: usize) {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/object", &patterned_bytes(len));

    put.body[position] ^= 0x01;
    let response = proxy.send(&put);

    response.assert_s3_error(400, "XAmzContentSHA256Mismatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_changed_byte_in_a_small_body_is_refused() {
    assert_body_byte_flip_is_refused(SMALL, SMALL / 2);
}

#[test]
fn a_changed_byte_in_the_middle_of_a_large_body_is_refused() {
    assert_body_byte_flip_is_refused(LARGE, LARGE / 2);
}

#[test]
fn a_changed_first_byte_of_a_large_body_is_refused() {
    assert_body_byte_flip_is_refused(LARGE, 0);
}

#[test]
fn a_changed_last_byte_of_a_large_body_is_refused() {
    assert_body_byte_flip_is_refused(LARGE, LARGE - 1);
}

#[test]
fn an_empty_body_signed_as_a_non_empty_one_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy.request("PUT", "/bucket/object").body(Vec::new());
    Signer::default().sign(&mut put, Payload::Declared(sha256_hex(b"x")));

    let response = proxy.send(&put);

    response.assert_s3_error(400, "XAmzContentSHA256Mismatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_changed_declared_content_sha256_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/object", b"signed body");

    put.set_header("x-amz-content-sha256", &sha256_hex(b"other body"));
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_wrong_content_md5_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let body = b"the body".to_vec();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .header("content-md5", &md5_base64(b"another body"))
        .body(body);
    Signer::default().sign(&mut put, Payload::Hashed);

    let response = proxy.send(&put);

    response.assert_s3_error(400, "BadDigest");
    nginx.assert_nothing_stored();
}

#[test]
fn a_wrong_content_md5_on_a_large_body_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let body = patterned_bytes(LARGE);
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .header("content-md5", &md5_base64(&body[1..]))
        .body(body);
    Signer::default().sign(&mut put, Payload::Unsigned);

    let response = proxy.send(&put);

    response.assert_s3_error(400, "BadDigest");
    nginx.assert_nothing_stored();
}

#[test]
fn a_wrong_x_amz_checksum_crc32_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .header("x-amz-checksum-crc32", &crc32_base64(b"another body"))
        .body(b"the body".to_vec());
    Signer::default().sign(&mut put, Payload::Hashed);

    let response = proxy.send(&put);

    response.assert_s3_error(400, "BadDigest");
    nginx.assert_nothing_stored();
}

#[test]
fn a_body_shorter_than_its_content_length_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let body = patterned_bytes(LARGE);
    let put = signed_put(&proxy, "/bucket/object", &body);

    let mut connection = Connection::open(proxy.addr());
    connection.write(&put.head_bytes()).expect("write head");
    connection
        .write(&body[..LARGE - 100])
        .expect("write most of the body");
    connection.shutdown_write();
    let response = connection
        .read_response("PUT")
        .expect("an answer before the proxy closes");

    response.assert_s3_error(400, "IncompleteBody");
    nginx.assert_nothing_stored();
    nginx.assert_no_partial_upload_left();
}

#[test]
fn a_put_without_content_length_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy.request("PUT", "/bucket/object");
    Signer::default().sign(&mut put, Payload::Hashed);
    assert!(put.header_value("content-length").is_none());

    let response = proxy.send(&put);

    response.assert_s3_error(411, "MissingContentLength");
    nginx.assert_nothing_stored();
}

/// Sends `put` as a client using `Expect: 100-continue` does: the head, then (after the interim
/// 100) the body; returns the final answer.
fn send_after_100_continue(proxy: &Proxy, put: &Request) -> support::Response {
    let mut put = put.clone();
    put.headers
        .push(("Expect".to_string(), "100-continue".to_string()));
    let mut connection = Connection::open(proxy.addr());
    connection.write(&put.head_bytes()).expect("write head");
    let (status, _) = connection.read_head().expect("an interim answer");
    assert_eq!(
        status, 100,
        "a correctly signed head should be invited to send its body"
    );
    let _ = connection.write(&put.body);
    connection
        .read_response("PUT")
        .unwrap_or_else(|e| panic!("no final answer after 100 Continue and the body: {e}"))
}

#[test]
fn a_changed_body_byte_sent_after_100_continue_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/object", &patterned_bytes(LARGE));

    put.body[LARGE / 2] ^= 0x01;
    let response = send_after_100_continue(&proxy, &put);

    response.assert_s3_error(400, "XAmzContentSHA256Mismatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_wrong_content_md5_sent_after_100_continue_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .header("content-md5", &md5_base64(b"another body"))
        .body(b"the body".to_vec());
    Signer::default().sign(&mut put, Payload::Hashed);

    let response = send_after_100_continue(&proxy, &put);

    response.assert_s3_error(400, "BadDigest");
    nginx.assert_nothing_stored();
}

// aws-chunked uploads.

/// Three chunks: two of 64 KiB and a short one, so the body crosses pingora's read boundaries.
fn streaming_chunks() -> Vec<Vec<u8>> {
    let body = patterned_bytes(2 * 65_536 + 1_000);
    body.chunks(65_536).map(<[u8]>::to_vec).collect()
}

fn signed_streaming_put(proxy: &Proxy, target: &str, chunks: &[Vec<u8>]) -> Request {
    let mut put = proxy.request("PUT", target);
    let chunks: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    Signer::default().sign_streaming(&mut put, &chunks);
    put
}

/// A `STREAMING-UNSIGNED-PAYLOAD-TRAILER` upload of `data` in one chunk (none when empty), then
/// the final chunk with this `x-amz-checksum-crc32` trailer value.
fn unsigned_trailer_put(proxy: &Proxy, target: &str, data: &[u8], crc32_trailer: &str) -> Request {
    support::streaming::unsigned_trailer_put(
        proxy,
        target,
        data,
        data.len(),
        "x-amz-checksum-crc32",
        &[("x-amz-checksum-crc32", crc32_trailer.to_string())],
    )
}

#[test]
fn untampered_signed_streaming_upload_is_stored_decoded() {
    let (nginx, proxy) = nginx_and_proxy();
    let chunks = streaming_chunks();

    proxy
        .send(&signed_streaming_put(&proxy, "/bucket/streamed", &chunks))
        .assert_success();

    assert_eq!(
        nginx.stored_files(),
        vec![("bucket/streamed".to_string(), chunks.concat())]
    );
}

#[test]
fn a_changed_byte_in_a_signed_chunk_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_streaming_put(&proxy, "/bucket/streamed", &streaming_chunks());

    // A data byte of the second chunk (past the first chunk and the second chunk's header).
    let position = put.body.len() - 2_000;
    put.body[position] ^= 0x01;
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_wrong_crc32_trailer_on_an_empty_streaming_upload_is_refused() {
    // Zero decoded bytes: there is no last byte to hold back, the trailer comes after them all.
    let (nginx, proxy) = nginx_and_proxy();

    let response = proxy.send(&unsigned_trailer_put(
        &proxy,
        "/bucket/empty",
        b"",
        &crc32_base64(b"x"),
    ));

    response.assert_s3_error(400, "BadDigest");
    nginx.assert_nothing_stored();
}

#[test]
fn a_changed_final_chunk_signature_on_an_empty_signed_streaming_upload_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_streaming_put(&proxy, "/bucket/empty", &[]);

    let body = String::from_utf8(put.body.clone()).expect("ascii framing");
    let signature = body.split("chunk-signature=").nth(1).expect("final chunk")[..64].to_string();
    put.body = body
        .replace(&signature, &with_one_hex_digit_changed(&signature))
        .into_bytes();
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_changed_final_chunk_signature_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_streaming_put(&proxy, "/bucket/streamed", &streaming_chunks());

    let body = String::from_utf8_lossy(&put.body).into_owned();
    let final_signature = body
        .rsplit("0;chunk-signature=")
        .next()
        .expect("final chunk")[..64]
        .to_string();
    let at = put.body.len() - 4 - 64;
    assert_eq!(&put.body[at..at + 64], final_signature.as_bytes());
    put.body[at..at + 64].copy_from_slice(with_one_hex_digit_changed(&final_signature).as_bytes());
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn untampered_unsigned_trailer_upload_is_stored_decoded() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(100_000);

    proxy
        .send(&unsigned_trailer_put(
            &proxy,
            "/bucket/trailer",
            &data,
            &crc32_base64(&data),
        ))
        .assert_success();

    assert_eq!(
        nginx.stored_files(),
        vec![("bucket/trailer".to_string(), data)]
    );
}

#[test]
fn a_wrong_crc32_trailer_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(100_000);

    let response = proxy.send(&unsigned_trailer_put(
        &proxy,
        "/bucket/trailer",
        &data,
        &crc32_base64(&data[1..]),
    ));

    response.assert_s3_error(400, "BadDigest");
    nginx.assert_nothing_stored();
}

// ---------------------------------------------------------------------------------------------
// The signed head.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_changed_signed_header_value_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .header("x-amz-meta-owner", "alice")
        .body(b"body".to_vec());
    Signer::default().sign(&mut put, Payload::Hashed);

    put.set_header("x-amz-meta-owner", "mallory");
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_changed_method_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    // Signed as a GET (with the same body and headers), sent as a PUT.
    let mut request = proxy
        .request("GET", "/bucket/object")
        .body(b"body".to_vec());
    Signer::default().sign(&mut request, Payload::Hashed);

    request.method = "PUT".to_string();
    let response = proxy.send(&request);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_changed_key_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/signed-key", b"body");

    put.target = "/bucket/other-key".to_string();
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_changed_bucket_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/key", b"body");

    put.target = "/other-bucket/key".to_string();
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_changed_query_parameter_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/object?note=signed", b"body");

    put.set_query_param("note", "changed");
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn an_added_query_parameter_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/object", b"body");

    put.target.push_str("?note=added");
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_date_too_far_in_the_past_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .body(b"body".to_vec());
    Signer::default()
        .at(SystemTime::now() - Duration::from_secs(20 * 60))
        .sign(&mut put, Payload::Hashed);

    let response = proxy.send(&put);

    response.assert_s3_error(403, "RequestTimeTooSkewed");
    nginx.assert_nothing_stored();
}

#[test]
fn a_date_too_far_in_the_future_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .body(b"body".to_vec());
    Signer::default()
        .at(SystemTime::now() + Duration::from_secs(20 * 60))
        .sign(&mut put, Payload::Hashed);

    let response = proxy.send(&put);

    response.assert_s3_error(403, "RequestTimeTooSkewed");
    nginx.assert_nothing_stored();
}

#[test]
fn a_changed_x_amz_date_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/object", b"body");

    // One second off: same day, well within the allowed skew, but not what was signed.
    let signed = put
        .header_value("x-amz-date")
        .expect("x-amz-date")
        .to_string();
    put.set_header("x-amz-date", &one_second_off(&signed));
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_scope_date_other_than_the_request_date_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let now = SystemTime::now();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .body(b"body".to_vec());
    Signer::default().at(now).sign(&mut put, Payload::Hashed);

    let authorization = put
        .header_value("authorization")
        .expect("authorization")
        .to_string();
    let today = format_yyyymmdd(now);
    let yesterday = format_yyyymmdd(now - Duration::from_secs(86_400));
    assert!(
        authorization.contains(&format!("/{today}/")),
        "{authorization}"
    );
    put.set_header(
        "authorization",
        &authorization.replace(&format!("/{today}/"), &format!("/{yesterday}/")),
    );
    let response = proxy.send(&put);

    response.assert_s3_error(400, "AuthorizationHeaderMalformed");
    nginx.assert_nothing_stored();
}

#[test]
fn a_signature_for_another_region_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .body(b"body".to_vec());
    Signer::default()
        .region("eu-west-1")
        .sign(&mut put, Payload::Hashed);

    let response = proxy.send(&put);

    response.assert_s3_error(400, "AuthorizationHeaderMalformed");
    nginx.assert_nothing_stored();
}

#[test]
fn a_signature_for_another_service_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .body(b"body".to_vec());
    Signer::default()
        .service("ec2")
        .sign(&mut put, Payload::Hashed);

    let response = proxy.send(&put);

    response.assert_s3_error(400, "AuthorizationHeaderMalformed");
    nginx.assert_nothing_stored();
}

#[test]
fn an_unknown_access_key_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .body(b"body".to_vec());
    Signer::new("AKIAUNKNOWNKEY000000", SECRET_KEY).sign(&mut put, Payload::Hashed);

    let response = proxy.send(&put);

    response.assert_s3_error(403, "InvalidAccessKeyId");
    nginx.assert_nothing_stored();
}

#[test]
fn a_signature_made_with_the_wrong_secret_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy
        .request("PUT", "/bucket/object")
        .body(b"body".to_vec());
    Signer::new(ACCESS_KEY, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGKEY00")
        .sign(&mut put, Payload::Hashed);

    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn one_changed_signature_digit_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/object", b"body");

    let authorization = put
        .header_value("authorization")
        .expect("authorization")
        .to_string();
    let signature = signature_of(&authorization).to_string();
    put.set_header(
        "authorization",
        &authorization.replace(&signature, &with_one_hex_digit_changed(&signature)),
    );
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn an_added_unsigned_x_amz_header_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = signed_put(&proxy, "/bucket/object", b"body");

    put.headers
        .push(("x-amz-meta-role".to_string(), "admin".to_string()));
    let response = proxy.send(&put);

    response.assert_s3_error(403, "AccessDenied");
    nginx.assert_nothing_stored();
}

#[test]
fn an_authorization_header_and_a_presigned_signature_together_are_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let header_signed = signed_put(&proxy, "/bucket/object", b"body");
    let mut put = presigned_put(&proxy, "/bucket/object", b"body");

    put.set_header(
        "authorization",
        header_signed
            .header_value("authorization")
            .expect("authorization"),
    );
    let response = proxy.send(&put);

    response.assert_s3_error(400, "InvalidArgument");
    nginx.assert_nothing_stored();
}

#[test]
fn a_put_without_any_credentials_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let put = proxy
        .request("PUT", "/bucket/object")
        .body(b"body".to_vec());

    let response = proxy.send(&put);

    response.assert_s3_error(403, "AccessDenied");
    nginx.assert_nothing_stored();
}

#[test]
fn a_bad_signature_with_expect_100_continue_is_refused_without_inviting_the_body() {
    for expect in ["100-continue", "100-Continue", "100-CONTINUE"] {
        let (nginx, proxy) = nginx_and_proxy();
        let mut put = signed_put(&proxy, "/bucket/object", b"payload");
        let authorization = put
            .header_value("authorization")
            .expect("authorization")
            .to_string();
        let signature = signature_of(&authorization).to_string();
        put.set_header(
            "authorization",
            &authorization.replace(&signature, &with_one_hex_digit_changed(&signature)),
        );
        put.headers.push(("EXPECT".to_string(), expect.to_string()));

        let mut connection = Connection::open(proxy.addr());
        connection.write(&put.head_bytes()).expect("write head");
        let response = connection
            .read_response("PUT")
            .expect("an answer without sending the body");

        assert_eq!(
            response.interim,
            Vec::<u16>::new(),
            "no 100 Continue for a bad head ({expect})"
        );
        response.assert_s3_error(403, "SignatureDoesNotMatch");
        nginx.assert_nothing_stored();
    }
}

// ---------------------------------------------------------------------------------------------
// Presigned URLs.
// ---------------------------------------------------------------------------------------------

#[test]
fn an_expired_presigned_url_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy.request("PUT", "/bucket/object");
    Signer::default()
        .at(SystemTime::now() - 2 * ONE_HOUR)
        .presign(&mut put, ONE_HOUR);
    let put = put.body(b"body".to_vec());

    let response = proxy.send(&put);

    response.assert_s3_error(403, "AccessDenied");
    assert_eq!(
        response.s3_error_message().as_deref(),
        Some("Request has expired")
    );
    nginx.assert_nothing_stored();
}

#[test]
fn a_presigned_url_valid_for_more_than_seven_days_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = proxy.request("PUT", "/bucket/object");
    Signer::default().presign(&mut put, Duration::from_secs(604_801));
    let put = put.body(b"body".to_vec());

    let response = proxy.send(&put);

    response.assert_s3_error(400, "AuthorizationQueryParametersError");
    nginx.assert_nothing_stored();
}

#[test]
fn a_presigned_url_valid_for_longer_than_max_presign_expiry_is_refused() {
    let (nginx, proxy) = nginx_and_proxy_with(
        ProxyOptions::default().with_auth_setting("max_presign_expiry = \"1h\""),
    );
    let mut put = proxy.request("PUT", "/bucket/object");
    Signer::default().presign(&mut put, 2 * ONE_HOUR);
    let put = put.body(b"body".to_vec());

    let response = proxy.send(&put);

    response.assert_s3_error(400, "AuthorizationQueryParametersError");
    nginx.assert_nothing_stored();
}

#[test]
fn a_presigned_url_with_a_longer_x_amz_expires_than_signed_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = presigned_put(&proxy, "/bucket/object", b"body");

    put.set_query_param("X-Amz-Expires", "86400");
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_presigned_url_with_a_changed_signature_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = presigned_put(&proxy, "/bucket/object", b"body");

    let signature = put.query_param("X-Amz-Signature").expect("X-Amz-Signature");
    put.set_query_param("X-Amz-Signature", &with_one_hex_digit_changed(&signature));
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_presigned_url_for_another_key_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = presigned_put(&proxy, "/bucket/signed-key", b"body");

    put.target = put
        .target
        .replace("/bucket/signed-key?", "/bucket/other-key?");
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

/// boto 2 signed `host:port:port` for endpoints with a port.
fn boto2_presigned_put(proxy: &Proxy) -> Request {
    let mut put = proxy.request("PUT", "/bucket/object");
    let double_port = format!("{}:{}", proxy.host(), proxy.addr().port());
    Signer::default().presign_with_host(&mut put, Some(&double_port), ONE_HOUR);
    put.body(b"body".to_vec())
}

#[test]
fn a_boto2_double_port_presigned_url_is_refused_without_the_compat_switch() {
    let (nginx, proxy) = nginx_and_proxy();

    let response = proxy.send(&boto2_presigned_put(&proxy));

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_boto2_double_port_presigned_url_is_accepted_with_the_compat_switch() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default().with_boto2_presign_compat());

    proxy.send(&boto2_presigned_put(&proxy)).assert_success();

    assert_eq!(nginx.stored("bucket/object").as_deref(), Some(&b"body"[..]));
}

// ---------------------------------------------------------------------------------------------
// Scopes.
// ---------------------------------------------------------------------------------------------

fn scoped_options() -> ProxyOptions {
    ProxyOptions::default().with_credentials(vec![Credential::new(ACCESS_KEY, SECRET_KEY)
        .allow(&["read:public/*", "write:uploads/incoming/*"])])
}

#[test]
fn a_put_inside_the_allowed_scope_is_stored() {
    let (nginx, proxy) = nginx_and_proxy_with(scoped_options());

    proxy
        .send(&signed_put(&proxy, "/uploads/incoming/deep/file", b"ok"))
        .assert_success();

    assert_eq!(
        nginx.stored("uploads/incoming/deep/file").as_deref(),
        Some(&b"ok"[..])
    );
}

#[test]
fn a_put_outside_the_allowed_scope_is_refused() {
    let (nginx, proxy) = nginx_and_proxy_with(scoped_options());

    let response = proxy.send(&signed_put(&proxy, "/uploads/elsewhere/file", b"no"));

    response.assert_s3_error(403, "AccessDenied");
    nginx.assert_nothing_stored();
}

#[test]
fn a_put_where_only_reading_is_allowed_is_refused() {
    let (nginx, proxy) = nginx_and_proxy_with(scoped_options());

    let response = proxy.send(&signed_put(&proxy, "/public/file", b"no"));

    response.assert_s3_error(403, "AccessDenied");
    nginx.assert_nothing_stored();
}

#[test]
fn a_presigned_put_outside_the_allowed_scope_is_refused() {
    let (nginx, proxy) = nginx_and_proxy_with(scoped_options());

    let response = proxy.send(&presigned_put(&proxy, "/public/file", b"no"));

    response.assert_s3_error(403, "AccessDenied");
    nginx.assert_nothing_stored();
}

// ---------------------------------------------------------------------------------------------
// Secrets stay secret.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_secret_key_never_appears_in_the_log() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default().with_log_level("debug"));

    // A success, signature failures with diagnostics, a body mismatch, a presigned URL.
    proxy
        .send(&signed_put(&proxy, "/bucket/ok", b"fine"))
        .assert_success();
    let mut bad_body = signed_put(&proxy, "/bucket/bad-body", &patterned_bytes(LARGE));
    bad_body.body[10] ^= 1;
    proxy
        .send(&bad_body)
        .assert_s3_error(400, "XAmzContentSHA256Mismatch");
    let mut bad_header = signed_put(&proxy, "/bucket/bad-header", b"x");
    bad_header
        .headers
        .push(("x-amz-meta-a".to_string(), "b".to_string()));
    proxy.send(&bad_header).assert_s3_error(403, "AccessDenied");
    let mut wrong_secret = proxy.request("PUT", "/bucket/wrong").body(b"x".to_vec());
    Signer::new(ACCESS_KEY, "not-the-secret").sign(&mut wrong_secret, Payload::Hashed);
    let mismatch = proxy.send(&wrong_secret);
    mismatch.assert_s3_error(403, "SignatureDoesNotMatch");
    proxy
        .send(&presigned_put(&proxy, "/bucket/presigned", b"y"))
        .assert_success();

    let log = proxy.log();
    assert!(
        !log.trim().is_empty(),
        "the proxy logged nothing at debug level"
    );
    assert!(
        !log.contains(SECRET_KEY),
        "the secret key appears in the proxy's log:\n{log}"
    );
    assert!(
        !mismatch.text().contains(SECRET_KEY),
        "the secret key appears in an error body: {}",
        mismatch.text()
    );
    // The diagnostics are there, and they are about what was signed, not about the key.
    assert!(
        xml_element(&mismatch.text(), "StringToSign").is_some(),
        "{}",
        mismatch.text()
    );
    assert_eq!(nginx.stored_files().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Date helpers (independent of the proxy's code).
// ---------------------------------------------------------------------------------------------

/// `YYYYMMDD` of a UTC time (civil-from-days, H. Hinnant's algorithm).
fn format_yyyymmdd(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}{m:02}{d:02}")
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// An `x-amz-date` (`YYYYMMDDTHHMMSSZ`) one second off: only the seconds field changes (59 goes
/// back to 58), so the date, hour and minute stay equal.
fn one_second_off(amz_date: &str) -> String {
    let ss: u32 = amz_date[13..15].parse().expect("seconds");
    let ss = if ss == 59 { 58 } else { ss + 1 };
    format!("{}{ss:02}Z", &amz_date[..13])
}

#[test]
fn the_date_helpers_agree_with_known_dates() {
    // 2013-05-24T00:00:00Z is the date of the AWS S3 documentation's signing examples.
    assert_eq!(
        format_yyyymmdd(SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600)),
        "20130524"
    );
    assert_eq!(format_yyyymmdd(SystemTime::UNIX_EPOCH), "19700101");
    assert_eq!(one_second_off("20130524T000000Z"), "20130524T000001Z");
    assert_eq!(one_second_off("20130524T235959Z"), "20130524T235958Z");
}

#[test]
fn untampered_empty_streaming_uploads_are_stored_empty() {
    // Control for the two empty-upload attacks above: the body is verified before the backend
    // is contacted, then replayed to it, so a valid empty upload still becomes an empty object.
    let (nginx, proxy) = nginx_and_proxy();

    proxy
        .send(&signed_streaming_put(&proxy, "/bucket/empty-signed", &[]))
        .assert_success();
    proxy
        .send(&unsigned_trailer_put(
            &proxy,
            "/bucket/empty-unsigned",
            b"",
            &crc32_base64(b""),
        ))
        .assert_success();

    let mut stored = nginx.stored_files();
    stored.sort();
    assert_eq!(
        stored,
        vec![
            ("bucket/empty-signed".to_string(), Vec::new()),
            ("bucket/empty-unsigned".to_string(), Vec::new()),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// SigV2 and its switch
// ---------------------------------------------------------------------------------------------

/// A SigV2 header-signed PUT of `body`, signed here with the page's recipe: HMAC-SHA1 over
/// `PUT\n\n\n<Date>\n/<bucket>/<key>` (no Content-MD5, no Content-Type, no x-amz headers).
fn sigv2_put(proxy: &Proxy, target: &str, body: &[u8]) -> Request {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let string_to_sign = format!("PUT\n\n\n{date}\n{target}");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(support::SECRET_KEY.as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    proxy
        .request("PUT", target)
        .header("Date", &date)
        .header(
            "Authorization",
            &format!("AWS {}:{signature}", support::ACCESS_KEY),
        )
        .body(body.to_vec())
}

#[test]
fn sigv2_is_verified_by_default() {
    let (nginx, proxy) = nginx_and_proxy();

    proxy
        .send(&sigv2_put(&proxy, "/bucket/v2.txt", b"signed with SigV2"))
        .assert_success();

    assert_eq!(
        nginx.stored("bucket/v2.txt").as_deref(),
        Some(&b"signed with SigV2"[..])
    );
}

#[test]
fn sigv2_switched_off_refuses_a_valid_sigv2_request_and_names_sigv2() {
    let (nginx, proxy) =
        nginx_and_proxy_with(ProxyOptions::default().with_auth_setting("sigv2 = false"));

    let response = proxy.send(&sigv2_put(&proxy, "/bucket/v2.txt", b"signed with SigV2"));

    response.assert_s3_error(403, "AccessDenied");
    let message = response.s3_error_message().unwrap();
    assert!(message.contains("Signature Version 2"), "{message}");
    nginx.assert_nothing_stored();
}

#[test]
fn sigv2_with_a_flipped_signature_byte_is_refused_with_the_string_to_sign() {
    let (nginx, proxy) = nginx_and_proxy();
    let mut put = sigv2_put(&proxy, "/bucket/v2.txt", b"x");
    let authorization = put.header_value("Authorization").unwrap().to_string();
    let flipped = if authorization.ends_with("A=") {
        authorization.replace("A=", "B=")
    } else {
        format!("{}A=", &authorization[..authorization.len() - 2])
    };
    put.set_header("Authorization", &flipped);

    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    assert!(
        response.text().contains("<StringToSign>PUT\n"),
        "{}",
        response.text()
    );
    nginx.assert_nothing_stored();
}

// ---------------------------------------------------------------------------------------------
// Dot segments: nginx resolves `..`, so a key must not climb out of the scope that was checked
// ---------------------------------------------------------------------------------------------

#[test]
fn a_key_with_dot_dot_segments_cannot_escape_its_write_scope() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default().with_credentials(vec![
        support::Credential::new(support::ACCESS_KEY, support::SECRET_KEY)
            .allow(&["write:bucket/allowed/*"]),
    ]));

    // Signed correctly, and `bucket/allowed/../secret/x` matches the scope's pattern as text.
    for target in [
        "/bucket/allowed/../secret/x",
        "/bucket/allowed/%2E%2E/secret/x",
    ] {
        let response = proxy.send(&signed_put(&proxy, target, b"escape"));
        response.assert_s3_error(400, "InvalidArgument");
    }

    nginx.assert_nothing_stored();
    assert!(nginx.upstream_requests().is_empty());
}
