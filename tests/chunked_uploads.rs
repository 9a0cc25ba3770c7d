//! aws-chunked streaming uploads through the real proxy to a real nginx: sizes stored byte-exact,
//! signed-chunk attacks, trailer attacks and framing edge cases.
//!
//! Requests are built with the raw client; the head is signed by the harness's `aws-sigv4`
//! signer and every chunk and trailer signature by `aws-sigv4`'s own `sign_chunk` /
//! `sign_trailer` (AWS's implementation, never the proxy's). Checksums are computed bit by bit
//! here. Every attack asserts the status, the S3 `<Code>` and that nginx stored nothing.

mod support;

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::http::Headers;
use support::signer::{signature_of, with_one_hex_digit_changed};
use support::streaming::unsigned_trailer_put;
use support::{
    crc32_base64, patterned_bytes, Nginx, Payload, Proxy, ProxyOptions, Request, Signer,
    ACCESS_KEY, SECRET_KEY,
};

const SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn nginx_and_proxy() -> (Nginx, Proxy) {
    nginx_and_proxy_with(ProxyOptions::default())
}

fn nginx_and_proxy_with(options: ProxyOptions) -> (Nginx, Proxy) {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, options);
    (nginx, proxy)
}

// ---------------------------------------------------------------------------------------------
// Independent checksums
// ---------------------------------------------------------------------------------------------

/// Reflected CRC-32 with this polynomial, bit by bit.
fn crc32_reflected(poly: u32, bytes: &[u8]) -> u32 {
    let mut crc: u32 = 0xFFFF_FFFF;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (poly & mask);
        }
    }
    !crc
}

/// Base64 of the big-endian CRC-32C (Castagnoli) of `bytes`: `x-amz-checksum-crc32c`.
fn crc32c_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(crc32_reflected(0x82F6_3B78, bytes).to_be_bytes())
}

#[test]
fn the_checksum_helpers_match_published_check_values() {
    // CRC-32C check value of "123456789" is 0xE3069283.
    assert_eq!(crc32_reflected(0x82F6_3B78, b"123456789"), 0xE306_9283);
    assert_eq!(crc32_reflected(0xEDB8_8320, b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32_base64(b"123456789"), "y/Q5Jg==");
}

// ---------------------------------------------------------------------------------------------
// Body building (signatures from aws-sigv4)
// ---------------------------------------------------------------------------------------------

/// A signed request head of a streaming upload, with what is needed to chain chunk signatures.
struct Stream {
    put: Request,
    time: SystemTime,
}

/// How the head is written.
struct Head<'a> {
    mode: &'a str,
    decoded_len: usize,
    /// `None`: no Content-Length (Transfer-Encoding: chunked is the caller's business).
    content_length: Option<usize>,
    aws_chunked_header: bool,
    extra: Vec<(&'a str, String)>,
}

impl<'a> Head<'a> {
    fn new(mode: &'a str, decoded_len: usize, content_length: usize) -> Head<'a> {
        Head {
            mode,
            decoded_len,
            content_length: Some(content_length),
            aws_chunked_header: true,
            extra: Vec::new(),
        }
    }
}

impl Stream {
    fn start(proxy: &Proxy, target: &str, head: Head<'_>) -> Stream {
        let time = SystemTime::now();
        let mut put = proxy.request("PUT", target);
        if head.aws_chunked_header {
            put = put.header("content-encoding", "aws-chunked");
        }
        put = put.header(
            "x-amz-decoded-content-length",
            &head.decoded_len.to_string(),
        );
        if let Some(len) = head.content_length {
            put = put.header("content-length", &len.to_string());
        }
        for (name, value) in &head.extra {
            put = put.header(name, value);
        }
        Signer::default()
            .at(time)
            .sign(&mut put, Payload::Declared(head.mode.to_string()));
        Stream { put, time }
    }

    fn seed(&self) -> String {
        signature_of(self.put.header_value("authorization").expect("signed")).to_string()
    }

    fn with_params<T>(&self, f: impl FnOnce(&v4::SigningParams<'_, ()>) -> T) -> T {
        let identity: Identity =
            Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "tests").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(self.time)
            .settings(())
            .build()
            .expect("chunk signing params");
        f(&params)
    }

    /// The chained signatures of `chunks` (give the final empty chunk explicitly), from the seed.
    fn chunk_signatures(&self, chunks: &[&[u8]]) -> Vec<String> {
        self.with_params(|params| {
            let mut previous = self.seed();
            let mut out = Vec::new();
            for chunk in chunks {
                let signature =
                    v4::sign_chunk(&bytes::Bytes::copy_from_slice(chunk), &previous, params)
                        .expect("sign chunk")
                        .signature()
                        .to_string();
                out.push(signature.clone());
                previous = signature;
            }
            out
        })
    }

    /// `x-amz-trailer-signature` over `trailers`, chained from the final chunk's signature.
    fn trailer_signature(&self, previous: &str, trailers: &[(&str, &str)]) -> String {
        let mut headers = Headers::new();
        for (name, value) in trailers {
            headers.insert(name.to_string(), value.to_string());
        }
        self.with_params(|params| {
            v4::sign_trailer(&headers, previous, params)
                .expect("sign trailer")
                .signature()
                .to_string()
        })
    }

    fn with_body(mut self, body: Vec<u8>) -> Request {
        if let Some(len) = self.put.header_value("content-length") {
            assert_eq!(
                len,
                body.len().to_string(),
                "content-length signed up front"
            );
        }
        self.put.body = body;
        self.put
    }
}

/// One signed frame: `<hex size>;chunk-signature=<sig>\r\n<data>\r\n`.
fn frame(data: &[u8], signature: &str) -> Vec<u8> {
    let mut out = format!("{:x};chunk-signature={signature}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// Length of [`frame`] for a chunk of `size` bytes.
fn frame_len(size: usize) -> usize {
    format!("{size:x}").len() + ";chunk-signature=".len() + 64 + 2 + size + 2
}

/// Length of a signed body of chunks of these sizes plus the final empty chunk.
fn signed_body_len(sizes: &[usize]) -> usize {
    sizes.iter().map(|&s| frame_len(s)).sum::<usize>() + frame_len(0)
}

fn split(data: &[u8], chunk: usize) -> Vec<&[u8]> {
    data.chunks(chunk).collect()
}

/// A correct `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` upload of `data` in chunks of `chunk` bytes,
/// built by the harness's `sign_streaming`.
fn signed_streaming_put(proxy: &Proxy, target: &str, data: &[u8], chunk: usize) -> Request {
    let mut put = proxy.request("PUT", target);
    Signer::default().sign_streaming(&mut put, &split(data, chunk));
    put
}

fn assert_stored(nginx: &Nginx, path: &str, data: &[u8]) {
    let files = nginx.stored_files();
    assert_eq!(
        files.len(),
        1,
        "one file stored, got {:?}",
        files.iter().map(|f| (&f.0, f.1.len())).collect::<Vec<_>>()
    );
    assert_eq!(files[0].0, path);
    assert!(
        files[0].1 == data,
        "stored {} bytes differ from the {} sent",
        files[0].1.len(),
        data.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 1. Sizes, stored byte-exact
// ---------------------------------------------------------------------------------------------

fn assert_signed_size_stored(len: usize, chunk: usize) {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(len);
    let response = proxy.send(&signed_streaming_put(&proxy, "/bucket/sized", &data, chunk));
    response.assert_success();
    // The ETag is the payload's MD5, as S3's (computed here, not by the proxy).
    assert_eq!(
        response.header("etag"),
        Some(format!("\"{}\"", support::md5_hex(&data)).as_str()),
        "ETag of a {len}-byte upload"
    );
    assert_stored(&nginx, "bucket/sized", &data);
}

#[test]
fn signed_one_byte_upload_is_stored() {
    assert_signed_size_stored(1, 64 * KIB);
}

#[test]
fn signed_exactly_one_64_kib_chunk_is_stored() {
    assert_signed_size_stored(64 * KIB, 64 * KIB);
}

#[test]
fn signed_200_kib_in_64_kib_chunks_is_stored() {
    assert_signed_size_stored(200 * KIB, 64 * KIB);
}

#[test]
fn signed_100_bytes_in_one_byte_chunks_is_stored() {
    assert_signed_size_stored(100, 1);
}

#[test]
fn signed_50_mib_in_1_mib_chunks_is_stored() {
    assert_signed_size_stored(50 * MIB, MIB);
}

fn assert_unsigned_trailer_size_stored(len: usize) {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(len);
    proxy
        .send(&unsigned_trailer_put(
            &proxy,
            "/bucket/sized",
            &data,
            64 * KIB,
            "x-amz-checksum-crc32",
            &[("x-amz-checksum-crc32", crc32_base64(&data))],
        ))
        .assert_success();
    assert_stored(&nginx, "bucket/sized", &data);
}

#[test]
fn unsigned_trailer_one_byte_upload_is_stored() {
    assert_unsigned_trailer_size_stored(1);
}

#[test]
fn unsigned_trailer_200_kib_upload_is_stored() {
    assert_unsigned_trailer_size_stored(200 * KIB);
}

#[test]
fn signed_upload_inside_http_transfer_encoding_chunked_is_stored() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(150 * KIB);
    let chunks = split(&data, 64 * KIB);
    let mut head = Head::new(SIGNED, data.len(), 0);
    head.content_length = None;
    head.extra
        .push(("transfer-encoding", "chunked".to_string()));
    let stream = Stream::start(&proxy, "/bucket/te", head);
    let mut all: Vec<&[u8]> = chunks.clone();
    all.push(b"");
    let signatures = stream.chunk_signatures(&all);
    let mut aws_chunked = Vec::new();
    for (chunk, signature) in all.iter().zip(&signatures) {
        aws_chunked.extend(frame(chunk, signature));
    }
    // HTTP/1.1 chunked framing around it, in pieces that do not line up with the aws chunks.
    let mut http = Vec::new();
    for piece in aws_chunked.chunks(10_000) {
        http.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        http.extend_from_slice(piece);
        http.extend_from_slice(b"\r\n");
    }
    http.extend_from_slice(b"0\r\n\r\n");
    let put = stream.with_body(http);
    assert!(put.header_value("content-length").is_none());

    proxy.send(&put).assert_success();
    assert_stored(&nginx, "bucket/te", &data);
}

#[test]
fn signed_upload_without_content_encoding_header_is_stored() {
    // minio-go: the mode comes from x-amz-content-sha256 alone.
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(100 * KIB);
    let chunks = split(&data, 64 * KIB);
    let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
    let mut head = Head::new(SIGNED, data.len(), signed_body_len(&sizes));
    head.aws_chunked_header = false;
    let stream = Stream::start(&proxy, "/bucket/minio", head);
    let mut all = chunks.clone();
    all.push(b"");
    let signatures = stream.chunk_signatures(&all);
    let body: Vec<u8> = all
        .iter()
        .zip(&signatures)
        .flat_map(|(c, s)| frame(c, s))
        .collect();
    let put = stream.with_body(body);
    assert!(put.header_value("content-encoding").is_none());

    proxy.send(&put).assert_success();
    assert_stored(&nginx, "bucket/minio", &data);
}

// ---------------------------------------------------------------------------------------------
// 2. Attacks on signed chunks
// ---------------------------------------------------------------------------------------------

/// Three 64 KiB chunks and a short one (equal sizes, so moving them keeps every length).
fn attack_data() -> Vec<u8> {
    patterned_bytes(3 * 64 * KIB + 500)
}

/// Sends frames `order` (indexes into the signed chunks, data and signature taken from
/// `signature_of_frame(i)`), then the final chunk; the head declares exactly what is sent.
fn send_rearranged(
    proxy: &Proxy,
    data: &[u8],
    frames: impl Fn(&[&[u8]], &[String]) -> Vec<(usize, usize)>,
) -> support::Response {
    // (data index, signature index) pairs, computed on the legitimate chain.
    let chunks = split(data, 64 * KIB);
    // First pass with a throwaway head to know the frames; lengths do not depend on signatures.
    let dummy: Vec<String> = (0..=chunks.len()).map(|_| "0".repeat(64)).collect();
    let plan = frames(&chunks, &dummy);
    let sizes: Vec<usize> = plan.iter().map(|&(d, _)| chunks[d].len()).collect();
    let decoded: usize = sizes.iter().sum();
    let stream = Stream::start(
        proxy,
        "/bucket/attacked",
        Head::new(SIGNED, decoded, signed_body_len(&sizes)),
    );
    let mut all = chunks.clone();
    all.push(b"");
    let signatures = stream.chunk_signatures(&all);
    let mut body = Vec::new();
    for &(d, s) in &plan {
        body.extend(frame(chunks[d], &signatures[s]));
    }
    body.extend(frame(b"", &signatures[chunks.len()]));
    proxy.send(&stream.with_body(body))
}

#[test]
fn untampered_rearrangement_plan_is_stored() {
    // The premise of the attacks below: the identity plan through the same builder is stored.
    let (nginx, proxy) = nginx_and_proxy();
    let data = attack_data();
    send_rearranged(&proxy, &data, |chunks, _| {
        (0..chunks.len()).map(|i| (i, i)).collect()
    })
    .assert_success();
    assert_stored(&nginx, "bucket/attacked", &data);
}

#[test]
fn two_swapped_chunk_signatures_are_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let response = send_rearranged(&proxy, &attack_data(), |_, _| {
        vec![(0, 1), (1, 0), (2, 2), (3, 3)]
    });
    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn reordered_chunks_with_their_signatures_are_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let response = send_rearranged(&proxy, &attack_data(), |_, _| {
        vec![(1, 1), (0, 0), (2, 2), (3, 3)]
    });
    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_missing_chunk_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let response = send_rearranged(&proxy, &attack_data(), |_, _| vec![(0, 0), (2, 2), (3, 3)]);
    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_repeated_chunk_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let response = send_rearranged(&proxy, &attack_data(), |_, _| {
        vec![(0, 0), (1, 1), (1, 1), (2, 2), (3, 3)]
    });
    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_stream_truncated_before_the_final_chunk_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = attack_data();
    let chunks = split(&data, 64 * KIB);
    // All data chunks, no final zero chunk; headers declare exactly that body.
    let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
    let stream = Stream::start(
        &proxy,
        "/bucket/attacked",
        Head::new(
            SIGNED,
            data.len(),
            sizes.iter().map(|&s| frame_len(s)).sum(),
        ),
    );
    let signatures = stream.chunk_signatures(&chunks);
    let body: Vec<u8> = chunks
        .iter()
        .zip(&signatures)
        .flat_map(|(c, s)| frame(c, s))
        .collect();
    let response = proxy.send(&stream.with_body(body));

    response.assert_s3_error(400, "IncompleteBody");
    nginx.assert_nothing_stored();
}

fn send_with_declared_decoded_length(
    proxy: &Proxy,
    data: &[u8],
    declared: usize,
) -> support::Response {
    let chunks = split(data, 64 * KIB);
    let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
    let stream = Stream::start(
        proxy,
        "/bucket/attacked",
        Head::new(SIGNED, declared, signed_body_len(&sizes)),
    );
    let mut all = chunks.clone();
    all.push(b"");
    let signatures = stream.chunk_signatures(&all);
    let body: Vec<u8> = all
        .iter()
        .zip(&signatures)
        .flat_map(|(c, s)| frame(c, s))
        .collect();
    proxy.send(&stream.with_body(body))
}

#[test]
fn a_decoded_content_length_larger_than_the_payload_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = attack_data();
    let response = send_with_declared_decoded_length(&proxy, &data, data.len() + 1);
    response.assert_s3_error(400, "IncompleteBody");
    nginx.assert_nothing_stored();
}

#[test]
fn a_decoded_content_length_smaller_than_the_payload_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = attack_data();
    let response = send_with_declared_decoded_length(&proxy, &data, data.len() - 1);
    response.assert_s3_error(400, "InvalidRequest");
    nginx.assert_nothing_stored();
}

#[test]
fn a_chunk_larger_than_the_configured_max_chunk_size_is_refused() {
    let options = ProxyOptions {
        // extra_server is written at the end of [server]: a new table may start there.
        extra_server: "\n[limits]\nmax_chunk_size = 4096\n".to_string(),
        ..ProxyOptions::default()
    };
    let (nginx, proxy) = nginx_and_proxy_with(options);
    let data = patterned_bytes(10_000);

    // A 4 KiB-chunked upload is within the limit (the premise)...
    proxy
        .send(&signed_streaming_put(&proxy, "/bucket/ok", &data, 4096))
        .assert_success();
    assert_stored(&nginx, "bucket/ok", &data);
    std::fs::remove_file(nginx.root().join("bucket/ok")).expect("remove");
    std::fs::remove_dir(nginx.root().join("bucket")).expect("remove dir");

    // ...one 4097-byte chunk is not.
    let response = proxy.send(&signed_streaming_put(&proxy, "/bucket/big", &data, 4097));
    response.assert_s3_error(400, "EntityTooLarge");
    nginx.assert_nothing_stored();
}

#[test]
fn a_declared_chunk_size_above_the_default_limit_is_refused_before_its_data() {
    let (nginx, proxy) = nginx_and_proxy();
    // 16 MiB + 1 declared; only the size line (and a little data) is sent.
    let size = 16 * MIB + 1;
    let content_length = frame_len(size) + frame_len(0);
    let stream = Stream::start(
        &proxy,
        "/bucket/huge",
        Head::new(SIGNED, size, content_length),
    );
    let signature = stream.chunk_signatures(&[b""])[0].clone();
    let mut put = stream.put;
    put.body = format!("{size:x};chunk-signature={signature}\r\n").into_bytes();
    put.body.extend_from_slice(&[b'a'; 100]);
    // Write head and partial body, then half-close: the answer must come without more data.
    let mut connection = support::Connection::open(proxy.addr());
    let _ = connection.write(&put.to_bytes());
    let response = connection.read_response("PUT").expect("an answer");

    response.assert_s3_error(400, "EntityTooLarge");
    nginx.assert_nothing_stored();
}

fn assert_flipped_byte_refused(position_in_chunk: impl Fn(usize) -> usize, chunk_index: usize) {
    let (nginx, proxy) = nginx_and_proxy();
    let data = attack_data();
    let mut put = signed_streaming_put(&proxy, "/bucket/attacked", &data, 64 * KIB);
    let chunks = split(&data, 64 * KIB);
    // The chunk's first data byte follows its size line: hex + ";chunk-signature=" + 64 + CRLF.
    let header =
        format!("{:x}", chunks[chunk_index].len()).len() + ";chunk-signature=".len() + 64 + 2;
    let before: usize = chunks[..chunk_index]
        .iter()
        .map(|c| frame_len(c.len()))
        .sum();
    let at = before + header + position_in_chunk(chunks[chunk_index].len());
    assert_eq!(
        put.body[at],
        chunks[chunk_index][position_in_chunk(chunks[chunk_index].len())]
    );
    put.body[at] ^= 0x01;
    let response = proxy.send(&put);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

#[test]
fn a_flipped_byte_in_the_first_chunk_is_refused() {
    assert_flipped_byte_refused(|_| 0, 0);
}

#[test]
fn a_flipped_last_byte_in_the_final_data_chunk_is_refused() {
    assert_flipped_byte_refused(|len| len - 1, 3);
}

// ---------------------------------------------------------------------------------------------
// 3. Trailers
// ---------------------------------------------------------------------------------------------

#[test]
fn a_declared_trailer_that_is_missing_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(100 * KIB);
    let response = proxy.send(&unsigned_trailer_put(
        &proxy,
        "/bucket/trailer",
        &data,
        64 * KIB,
        "x-amz-checksum-crc32",
        &[],
    ));
    response.assert_s3_error(400, "InvalidRequest");
    nginx.assert_nothing_stored();
}

#[test]
fn an_undeclared_extra_trailer_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(100 * KIB);
    let response = proxy.send(&unsigned_trailer_put(
        &proxy,
        "/bucket/trailer",
        &data,
        64 * KIB,
        "x-amz-checksum-crc32",
        &[
            ("x-amz-checksum-crc32", crc32_base64(&data)),
            ("x-amz-checksum-crc32c", crc32c_base64(&data)),
        ],
    ));
    response.assert_s3_error(400, "InvalidRequest");
    nginx.assert_nothing_stored();
}

#[test]
fn a_correct_crc32c_trailer_is_stored() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(100 * KIB);
    proxy
        .send(&unsigned_trailer_put(
            &proxy,
            "/bucket/trailer",
            &data,
            64 * KIB,
            "x-amz-checksum-crc32c",
            &[("x-amz-checksum-crc32c", crc32c_base64(&data))],
        ))
        .assert_success();
    assert_stored(&nginx, "bucket/trailer", &data);
}

#[test]
fn a_wrong_crc32c_trailer_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(100 * KIB);
    let response = proxy.send(&unsigned_trailer_put(
        &proxy,
        "/bucket/trailer",
        &data,
        64 * KIB,
        "x-amz-checksum-crc32c",
        &[("x-amz-checksum-crc32c", crc32c_base64(&data[1..]))],
    ));
    response.assert_s3_error(400, "BadDigest");
    nginx.assert_nothing_stored();
}

/// A `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` upload with a crc32 trailer, its trailer
/// signature passed through `tamper`.
fn signed_trailer_put(
    proxy: &Proxy,
    target: &str,
    data: &[u8],
    tamper: impl Fn(String) -> String,
) -> Request {
    let chunks = split(data, 64 * KIB);
    let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
    let crc = crc32_base64(data);
    let trailer_line = format!("x-amz-checksum-crc32:{crc}\r\n");
    let signature_line_len = "x-amz-trailer-signature:".len() + 64 + 2;
    // The final chunk's size line ends the chunks; trailers follow, then the empty line.
    let content_length = signed_body_len(&sizes) - 2 + trailer_line.len() + signature_line_len + 2;
    let mut head = Head::new(SIGNED_TRAILER, data.len(), content_length);
    head.extra
        .push(("x-amz-trailer", "x-amz-checksum-crc32".to_string()));
    let stream = Stream::start(proxy, target, head);
    let mut all = chunks.clone();
    all.push(b"");
    let signatures = stream.chunk_signatures(&all);
    let final_signature = signatures.last().expect("final").clone();
    let trailer_signature =
        tamper(stream.trailer_signature(&final_signature, &[("x-amz-checksum-crc32", &crc)]));
    let mut body = Vec::new();
    for (chunk, signature) in chunks.iter().zip(&signatures) {
        body.extend(frame(chunk, signature));
    }
    body.extend_from_slice(format!("0;chunk-signature={final_signature}\r\n").as_bytes());
    body.extend_from_slice(trailer_line.as_bytes());
    body.extend_from_slice(format!("x-amz-trailer-signature:{trailer_signature}\r\n").as_bytes());
    body.extend_from_slice(b"\r\n");
    stream.with_body(body)
}

#[test]
fn signed_trailer_upload_is_stored() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(150 * KIB);
    proxy
        .send(&signed_trailer_put(
            &proxy,
            "/bucket/signed-trailer",
            &data,
            |s| s,
        ))
        .assert_success();
    assert_stored(&nginx, "bucket/signed-trailer", &data);
}

#[test]
fn a_wrong_trailer_signature_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(150 * KIB);
    let response = proxy.send(&signed_trailer_put(
        &proxy,
        "/bucket/signed-trailer",
        &data,
        |s| with_one_hex_digit_changed(&s),
    ));
    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
}

// ---------------------------------------------------------------------------------------------
// 4. aws-chunked with a plain payload hash
// ---------------------------------------------------------------------------------------------

#[test]
fn aws_chunked_with_a_plain_payload_hash_is_refused() {
    let (nginx, proxy) = nginx_and_proxy();
    let data = patterned_bytes(1000);
    let mut body = format!("{:x}\r\n", data.len()).into_bytes();
    body.extend_from_slice(&data);
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    let mut put = proxy
        .request("PUT", "/bucket/plain")
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &data.len().to_string())
        .body(body);
    // A plain hex hash of the body as sent: the signature itself is valid.
    Signer::default().sign(&mut put, Payload::Hashed);
    let response = proxy.send(&put);

    response.assert_s3_error(400, "InvalidArgument");
    nginx.assert_nothing_stored();
}
