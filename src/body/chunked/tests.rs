use super::*;
use crate::auth::sigv4::signing::derive_signing_key;
use crate::body::checksum::to_base64;
use proptest::prelude::*;

// ---- vectors and independent signers ----

/// The S3 documentation examples, as published (see shared/vectors/README.md).
fn doc_vectors() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/s3-doc-examples.json"
    );
    let text = std::fs::read_to_string(path).expect("shared/vectors beside the project");
    serde_json::from_str(&text).expect("vector JSON")
}

fn text<'a>(value: &'a serde_json::Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| panic!("vector field {pointer}"))
}

/// The request date of every streaming example of the S3 documentation.
const DOC_AMZ_DATE: &str = "20130524T000000Z";
const DOC_SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
/// 2013-05-24T00:00:00Z, for aws-sigv4.
const DOC_UNIX_TIME: u64 = 1_369_353_600;

/// The signer of the documentation examples: key derived from the vector's credentials.
fn doc_signer(seed_signature: &str) -> ChunkSigner {
    let vectors = doc_vectors();
    let key = derive_signing_key(
        text(&vectors, "/credentials/secret_access_key"),
        "20130524",
        text(&vectors, "/credentials/region"),
        text(&vectors, "/credentials/service"),
    );
    ChunkSigner::new(key, DOC_AMZ_DATE, DOC_SCOPE, seed_signature)
}

/// AWS's own signer (aws-sigv4), not this module, for the bodies the tests build.
struct AwsSigner {
    identity: aws_smithy_runtime_api::client::identity::Identity,
}

impl AwsSigner {
    fn new() -> AwsSigner {
        let vectors = doc_vectors();
        let credentials = aws_credential_types::Credentials::new(
            text(&vectors, "/credentials/access_key_id"),
            text(&vectors, "/credentials/secret_access_key"),
            None,
            None,
            "tests",
        );
        AwsSigner {
            identity: credentials.into(),
        }
    }

    fn params(&self) -> aws_sigv4::sign::v4::SigningParams<'_, ()> {
        aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&self.identity)
            .region("us-east-1")
            .name("s3")
            .time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(DOC_UNIX_TIME))
            .settings(())
            .build()
            .expect("signing params")
    }

    fn chunk(&self, previous: &str, data: &[u8]) -> String {
        let data = Bytes::copy_from_slice(data);
        aws_sigv4::sign::v4::sign_chunk(&data, previous, &self.params())
            .expect("sign chunk")
            .signature()
            .to_string()
    }

    fn trailers(&self, previous: &str, trailers: &[(&str, &str)]) -> String {
        let mut headers = aws_smithy_runtime_api::http::Headers::new();
        for (name, value) in trailers {
            headers.append(name.to_string(), value.to_string());
        }
        aws_sigv4::sign::v4::sign_trailer(&headers, previous, &self.params())
            .expect("sign trailer")
            .signature()
            .to_string()
    }
}

/// The seed of the signed bodies built here: any signature works as the start of a chain;
/// this is the seed of the documentation's `streaming_signed` example.
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

/// The check input of the CRC catalogue and its CRC-32 / CRC-32C check values
/// (0xCBF43926, 0xE3069283), base64 as S3 writes them.
const CHECK_INPUT: &[u8] = b"123456789";
const CHECK_CRC32_B64: &str = "y/Q5Jg==";
const CHECK_CRC32C_B64: &str = "4waSgw==";

// ---- wire bodies ----

#[derive(Debug, Clone)]
struct WireChunk {
    size_line: String,
    data: Vec<u8>,
}

/// An aws-chunked body as parts, to render or tamper with.
#[derive(Debug, Clone)]
struct Wire {
    /// Every chunk, the final zero-size one included.
    chunks: Vec<WireChunk>,
    trailers: Vec<(String, String)>,
    /// What follows the trailers: the empty line.
    end: String,
}

impl Wire {
    fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in &self.chunks {
            out.extend_from_slice(chunk.size_line.as_bytes());
            out.extend_from_slice(b"\r\n");
            if !chunk.data.is_empty() {
                out.extend_from_slice(&chunk.data);
                out.extend_from_slice(b"\r\n");
            }
        }
        for (name, value) in &self.trailers {
            out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        }
        out.extend_from_slice(self.end.as_bytes());
        out
    }
}

/// A signed body over `pieces` (signatures by aws-sigv4), with `trailers` signed after.
fn signed_wire(pieces: &[&[u8]], trailers: Option<&[(&str, &str)]>) -> Wire {
    let aws = AwsSigner::new();
    let mut previous = SEED.to_string();
    let mut chunks = Vec::new();
    for data in pieces.iter().copied().chain([&b""[..]]) {
        let signature = aws.chunk(&previous, data);
        chunks.push(WireChunk {
            size_line: format!("{:x};chunk-signature={signature}", data.len()),
            data: data.to_vec(),
        });
        previous = signature;
    }
    let mut lines: Vec<(String, String)> = Vec::new();
    if let Some(trailers) = trailers {
        for (name, value) in trailers {
            lines.push((name.to_string(), value.to_string()));
        }
        lines.push((
            TRAILER_SIGNATURE_NAME.to_string(),
            aws.trailers(&previous, trailers),
        ));
    }
    Wire {
        chunks,
        trailers: lines,
        end: "\r\n".into(),
    }
}

/// An unsigned-trailer body: upper-case hex sizes, as aws-sdk-rust writes them.
fn unsigned_wire(pieces: &[&[u8]], trailers: &[(&str, &str)]) -> Wire {
    Wire {
        chunks: pieces
            .iter()
            .copied()
            .chain([&b""[..]])
            .map(|data| WireChunk {
                size_line: format!("{:X}", data.len()),
                data: data.to_vec(),
            })
            .collect(),
        trailers: trailers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        end: "\r\n".into(),
    }
}

/// The check input in three signed chunks ("123", "4567", "89") with signed CRC-32 and
/// CRC-32C trailers.
fn check_input_signed_trailer_wire() -> Wire {
    signed_wire(
        &[b"123", b"4567", b"89"],
        Some(&[
            ("x-amz-checksum-crc32", CHECK_CRC32_B64),
            ("x-amz-checksum-crc32c", CHECK_CRC32C_B64),
        ]),
    )
}

fn expectations(mode: ChunkedMode, decoded_length: u64) -> ChunkedExpectations {
    ChunkedExpectations {
        mode,
        decoded_length,
        declared_trailers: Vec::new(),
        header_checksums: Vec::new(),
        content_md5: None,
        max_chunk_size: 16 * 1024 * 1024,
        compute_md5: false,
    }
}

fn check_input_signed_trailer_expect() -> ChunkedExpectations {
    let mut expect = expectations(ChunkedMode::SignedWithTrailer(doc_signer(SEED)), 9);
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c];
    expect
}

fn check_input_signed_expect() -> ChunkedExpectations {
    expectations(ChunkedMode::Signed(doc_signer(SEED)), 9)
}

// ---- running ----

use crate::body::test_driver::{mutated_and_cut, run, split_at, Rng, Run};

fn run_with(expect: &ChunkedExpectations, pieces: &[&[u8]]) -> Run {
    let mut verifier = AwsChunkedVerifier::new(expect.clone()).expect("valid expectations");
    run(&mut verifier, pieces)
}

/// Success, the whole payload released, and never its last byte before `finish`.
fn assert_released(run: Run, payload: &[u8], context: &str) {
    let tail = run
        .outcome
        .unwrap_or_else(|e| panic!("{context}: refused: {e}"));
    if !payload.is_empty() {
        assert!(
            run.before_finish.len() < payload.len(),
            "{context}: last byte released before finish"
        );
        assert!(!tail.is_empty(), "{context}: nothing held back");
    }
    let mut all = run.before_finish;
    all.extend_from_slice(&tail);
    assert!(
        all == payload,
        "{context}: released bytes differ from the payload"
    );
}

/// Refused with `code`; what was released is a prefix of the payload of at most
/// `max_released` bytes (the chunks verified before the tampered one), never the tail.
fn assert_refused(run: Run, payload: &[u8], max_released: usize, code: S3ErrorCode) -> S3Error {
    let err = run.outcome.expect_err("must be refused");
    assert_eq!(err.code, code, "{err}");
    assert!(
        run.before_finish.len() <= max_released,
        "released {} bytes, at most {max_released} expected",
        run.before_finish.len()
    );
    assert!(run.before_finish.len() < payload.len().max(1));
    assert_eq!(run.before_finish, payload[..run.before_finish.len()]);
    err
}

// ---- the S3 documentation examples ----

/// The 66,560-byte `streaming_signed` example, built from the vector's chunk sizes, bytes
/// and printed signatures.
fn doc_streaming_signed() -> (Vec<u8>, ChunkedExpectations) {
    let vectors = doc_vectors();
    let example = &vectors["streaming_signed"];
    let mut wire = Vec::new();
    for chunk in example["chunks"].as_array().expect("chunks") {
        let size = chunk["size"].as_u64().expect("size") as usize;
        let byte = text(chunk, "/byte").as_bytes()[0];
        let signature = text(chunk, "/expected_signature");
        wire.extend_from_slice(format!("{size:x};chunk-signature={signature}\r\n").as_bytes());
        wire.extend(std::iter::repeat_n(byte, size));
        wire.extend_from_slice(b"\r\n");
    }
    assert_eq!(
        wire.len() as u64,
        example["expected_wire_body_length"]
            .as_u64()
            .expect("length")
    );
    let seed = text(example, "/expected_seed_signature");
    (
        wire,
        expectations(ChunkedMode::Signed(doc_signer(seed)), 66_560),
    )
}

fn doc_streaming_trailer() -> (Vec<u8>, ChunkedExpectations) {
    let vectors = doc_vectors();
    let example = &vectors["streaming_signed_trailer"];
    let mut wire = Vec::new();
    for chunk in example["chunks"].as_array().expect("chunks") {
        let size = chunk["size"].as_u64().expect("size") as usize;
        let signature = text(chunk, "/expected_signature");
        wire.extend_from_slice(format!("{size:x};chunk-signature={signature}\r\n").as_bytes());
        if size > 0 {
            wire.extend(std::iter::repeat_n(b'a', size));
            wire.extend_from_slice(b"\r\n");
        }
    }
    for trailer in example["trailers"].as_array().expect("trailers") {
        let line = format!("{}:{}\r\n", text(trailer, "/0"), text(trailer, "/1"));
        wire.extend_from_slice(line.as_bytes());
    }
    let signature = text(example, "/expected_trailer_signature");
    wire.extend_from_slice(format!("x-amz-trailer-signature:{signature}\r\n\r\n").as_bytes());
    let seed = text(example, "/expected_seed_signature");
    let mut expect = expectations(ChunkedMode::SignedWithTrailer(doc_signer(seed)), 66_560);
    expect.declared_trailers =
        parse_trailer_header(text(example, "/headers/6/1")).expect("x-amz-trailer of the example");
    (wire, expect)
}

#[test]
fn doc_chunk_signatures_are_computed_step_by_step() {
    let vectors = doc_vectors();
    let example = &vectors["streaming_signed"];
    let signer = doc_signer(text(example, "/expected_seed_signature"));
    let mut previous = signer.seed_signature().to_string();
    for chunk in example["chunks"].as_array().expect("chunks") {
        let data_sha256: [u8; 32] = hex::decode(text(chunk, "/data_sha256"))
            .expect("hex")
            .try_into()
            .expect("32 bytes");
        let signature = signer.chunk_signature(&previous, &data_sha256);
        assert_eq!(signature, text(chunk, "/expected_signature"));
        previous = signature;
    }
}

#[test]
fn s3_doc_streaming_signed_releases_66560_bytes_of_a() {
    let (wire, expect) = doc_streaming_signed();
    let payload = vec![b'a'; 66_560];
    assert_released(run_with(&expect, &[&wire]), &payload, "whole");
    // As the proxy sees it: socket reads of up to 64 KiB.
    let pieces: Vec<&[u8]> = wire.chunks(64 * 1024).collect();
    assert_released(run_with(&expect, &pieces), &payload, "64 KiB reads");
    let pieces: Vec<&[u8]> = wire.chunks(1000).collect();
    assert_released(run_with(&expect, &pieces), &payload, "1000-byte reads");
}

#[test]
fn s3_doc_streaming_signed_holds_each_chunk_until_its_signature() {
    let (wire, expect) = doc_streaming_signed();
    let mut verifier = AwsChunkedVerifier::new(expect).expect("valid");
    // Everything up to the last data byte of the first chunk: nothing verified yet.
    // "10000;chunk-signature=<64 hex>\r\n" is 88 bytes.
    let first_chunk_end = 88 + 65_536;
    let released = verifier
        .feed(Bytes::copy_from_slice(&wire[..first_chunk_end]))
        .expect("fine so far");
    assert!(released.is_empty(), "released before the chunk signature");
    // Its CRLF: the first chunk is verified, all of it but the held-back byte goes out.
    let released = verifier
        .feed(Bytes::copy_from_slice(
            &wire[first_chunk_end..first_chunk_end + 2],
        ))
        .expect("signature matches");
    assert_eq!(released.len(), 65_535);
}

#[test]
fn s3_doc_streaming_trailer_example_verifies() {
    let (wire, expect) = doc_streaming_trailer();
    assert_eq!(expect.declared_trailers, vec![ChecksumAlgorithm::Crc32c]);
    let payload = vec![b'a'; 66_560];
    assert_released(run_with(&expect, &[&wire]), &payload, "whole");
    let pieces: Vec<&[u8]> = wire.chunks(4093).collect();
    assert_released(run_with(&expect, &pieces), &payload, "4093-byte reads");
}

#[test]
fn s3_doc_trailer_signature_is_computed_step_by_step() {
    let vectors = doc_vectors();
    let example = &vectors["streaming_signed_trailer"];
    let canonical = "x-amz-checksum-crc32c:sOO8/Q==\n";
    let digest: [u8; 32] = Sha256::digest(canonical).into();
    assert_eq!(
        hex::encode(digest),
        text(example, "/expected_canonical_trailers_sha256")
    );
    let signer = doc_signer(text(example, "/expected_seed_signature"));
    let final_chunk = text(example, "/chunks/2/expected_signature");
    assert_eq!(
        signer.trailer_signature(final_chunk, &digest),
        text(example, "/expected_trailer_signature")
    );
}

#[test]
fn aws_c_auth_trailer_vector_over_several_trailers() {
    let vectors = doc_vectors();
    let example = &vectors["aws_c_auth_trailer_unit_vector"];
    let mut canonical = String::new();
    for trailer in example["trailers"].as_array().expect("trailers") {
        canonical.push_str(&format!(
            "{}:{}\n",
            text(trailer, "/0"),
            text(trailer, "/1")
        ));
    }
    let digest: [u8; 32] = Sha256::digest(&canonical).into();
    let signer = doc_signer(text(example, "/seed_signature"));
    assert_eq!(
        signer.trailer_signature(text(example, "/final_chunk_signature"), &digest),
        text(example, "/expected_trailer_signature")
    );
}

#[test]
fn from_authorized_style_signer_carries_seed_and_scope() {
    let signer = doc_signer(SEED);
    assert_eq!(signer.seed_signature(), SEED);
    let sts = signer.chunk_string_to_sign(SEED, &[0; 32]);
    assert!(sts.starts_with(
        "AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
    ));
    assert!(format!("{signer:?}").contains("<redacted>"));
}

// ---- unsigned with trailer ----

#[test]
fn unsigned_trailer_crc32_check_value() {
    let wire = unsigned_wire(
        &[b"1234", b"56789"],
        &[("x-amz-checksum-crc32", CHECK_CRC32_B64)],
    );
    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    assert_released(run_with(&expect, &[&wire.render()]), CHECK_INPUT, "whole");
}

#[test]
fn unsigned_trailer_ignores_chunk_signature_extensions() {
    let mut wire = unsigned_wire(
        &[b"1234", b"56789"],
        &[("x-amz-checksum-crc32", CHECK_CRC32_B64)],
    );
    for chunk in &mut wire.chunks {
        chunk
            .size_line
            .push_str(&format!(";chunk-signature={SEED}"));
    }
    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    let body = wire.render();
    assert!(body.starts_with(b"4;chunk-signature=4f23"));
    for cut in 0..=body.len() {
        let pieces = split_at(&body, &[cut]);
        assert_released(
            run_with(&expect, &pieces),
            CHECK_INPUT,
            &format!("cut {cut}"),
        );
    }
}

#[test]
fn unsigned_trailer_releases_as_it_arrives_without_copying() {
    let wire = unsigned_wire(&[CHECK_INPUT], &[("x-amz-checksum-crc32", CHECK_CRC32_B64)]);
    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    let mut verifier = AwsChunkedVerifier::new(expect).expect("valid");
    let body = Bytes::from(wire.render());
    // "9\r\n1234" then "5678" then the rest: the first slice is released when the second
    // arrives, as the very same memory.
    assert_eq!(verifier.feed(body.slice(..7)).ok(), Some(Bytes::new()));
    let released = verifier.feed(body.slice(7..11)).expect("fine");
    assert_eq!(&released[..], b"1234");
    assert_eq!(released.as_ptr(), body.slice(3..).as_ptr());
    let released = verifier.feed(body.slice(11..)).expect("fine");
    assert_eq!(&released[..], b"5678");
    assert_eq!(verifier.finish().ok(), Some(Bytes::from_static(b"9")));
}

#[test]
fn header_checksums_are_checked_too() {
    let wire = unsigned_wire(&[CHECK_INPUT], &[]).render();
    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
    expect.header_checksums = vec![(
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc32c
            .decode_value(CHECK_CRC32C_B64.as_bytes())
            .expect("valid"),
    )];
    assert_released(run_with(&expect, &[&wire]), CHECK_INPUT, "crc32c header");
    expect.header_checksums[0].1[3] ^= 1;
    let err = assert_refused(
        run_with(&expect, &[&wire]),
        CHECK_INPUT,
        8,
        S3ErrorCode::BadDigest,
    );
    assert_eq!(
        err.message,
        "The CRC32C you specified did not match the calculated checksum."
    );
}

/// `Content-MD5` on an aws-chunked upload is the MD5 of the decoded payload, checked in every
/// framing before the tail is released. MD5("123456789") = 25f9e794323b453885f5181f1b624d0b
/// (Python's hashlib).
#[test]
fn content_md5_is_checked_against_the_decoded_payload() {
    let md5: [u8; 16] = hex::decode("25f9e794323b453885f5181f1b624d0b")
        .ok()
        .and_then(|v| v.try_into().ok())
        .expect("test constant");
    let signed = signed_wire(&[b"123", b"4567", b"89"], None).render();
    let unsigned = unsigned_wire(&[b"1234", b"56789"], &[]).render();
    let cases = [
        (check_input_signed_expect(), signed),
        (expectations(ChunkedMode::UnsignedWithTrailer, 9), unsigned),
    ];
    for (mut expect, wire) in cases {
        expect.content_md5 = Some(md5);
        let mut verifier = AwsChunkedVerifier::new(expect.clone()).expect("valid");
        assert_released(run(&mut verifier, &[&wire]), CHECK_INPUT, "right md5");
        assert_eq!(
            verifier.md5_hex().as_deref(),
            Some("25f9e794323b453885f5181f1b624d0b"),
            "the Content-MD5 digest is the ETag too"
        );
        for split in 0..=wire.len() {
            let pieces = split_at(&wire, &[split]);
            assert_released(run_with(&expect, &pieces), CHECK_INPUT, "split");
        }
        let mut wrong = expect.clone();
        if let Some(digest) = wrong.content_md5.as_mut() {
            digest[15] ^= 1;
        }
        let err = assert_refused(
            run_with(&wrong, &[&wire]),
            CHECK_INPUT,
            8,
            S3ErrorCode::BadDigest,
        );
        assert_eq!(
            err.message,
            "The Content-MD5 you specified did not match what we received."
        );
    }
}

#[test]
fn md5_is_computed_only_when_asked_and_only_after_finish() {
    let wire = check_input_signed_trailer_wire().render();
    let mut expect = check_input_signed_trailer_expect();
    let mut verifier = AwsChunkedVerifier::new(expect.clone()).expect("valid");
    assert!(run(&mut verifier, &[&wire]).outcome.is_ok());
    assert_eq!(verifier.md5_hex(), None);
    expect.compute_md5 = true;
    let mut verifier = AwsChunkedVerifier::new(expect).expect("valid");
    assert!(verifier.feed(Bytes::from(wire)).is_ok());
    assert_eq!(verifier.md5_hex(), None);
    assert!(verifier.finish().is_ok());
    // RFC 1321 does not list "123456789"; this is the md5sum of the check input.
    assert_eq!(
        verifier.md5_hex().as_deref(),
        Some("25f9e794323b453885f5181f1b624d0b")
    );
}

// ---- splits ----

#[test]
fn signed_trailer_body_split_at_every_offset_and_every_pair() {
    let wire = check_input_signed_trailer_wire().render();
    let expect = check_input_signed_trailer_expect();
    let reference = run_with(&expect, &[&wire]);
    assert_released(
        run_with(&expect, &[&wire]),
        CHECK_INPUT,
        "aws-sigv4 signed body",
    );
    let total = |run: &Run| {
        let mut all = run.before_finish.clone();
        if let Ok(tail) = &run.outcome {
            all.extend_from_slice(tail);
        }
        all
    };
    for first in 0..=wire.len() {
        let run1 = run_with(&expect, &split_at(&wire, &[first]));
        assert_eq!(total(&run1), total(&reference), "cut {first}");
        assert!(run1.outcome.is_ok(), "cut {first}");
        for second in first..=wire.len() {
            let run2 = run_with(&expect, &split_at(&wire, &[first, second]));
            assert!(run2.before_finish.len() < 9, "cuts {first},{second}");
            assert_eq!(total(&run2), total(&reference), "cuts {first},{second}");
        }
    }
}

#[test]
fn signed_body_byte_by_byte() {
    let wire = signed_wire(&[b"123", b"4567", b"89"], None).render();
    let pieces: Vec<&[u8]> = wire.chunks(1).collect();
    assert_released(
        run_with(&check_input_signed_expect(), &pieces),
        CHECK_INPUT,
        "byte by byte",
    );
}

#[test]
fn empty_feeds_change_nothing() {
    let wire = check_input_signed_trailer_wire().render();
    let mut pieces: Vec<&[u8]> = Vec::new();
    for piece in wire.chunks(5) {
        pieces.extend([&b""[..], piece, &b""[..]]);
    }
    assert_released(
        run_with(&check_input_signed_trailer_expect(), &pieces),
        CHECK_INPUT,
        "with empty feeds",
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn doc_example_random_splits(cuts in proptest::collection::vec(0usize..66_824, 0..40)) {
        let (wire, expect) = doc_streaming_trailer();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(wire.len())).collect();
        cuts.sort_unstable();
        let run = run_with(&expect, &split_at(&wire, &cuts));
        prop_assert!(run.outcome.is_ok());
        prop_assert!(run.before_finish.len() < 66_560);
        prop_assert!(run.before_finish.iter().all(|&b| b == b'a'));
    }

    #[test]
    fn any_payload_any_chunking_any_split(
        payload in proptest::collection::vec(any::<u8>(), 0..600),
        chunk_cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        feed_cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        signed in any::<bool>(),
    ) {
        let mut points: Vec<usize> =
            chunk_cuts.iter().map(|c| c.index(payload.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let pieces: Vec<&[u8]> =
            split_at(&payload, &points).into_iter().filter(|p| !p.is_empty()).collect();
        let mut crc = ChecksumAlgorithm::Crc64Nvme.checksummer();
        crc.update(&payload);
        let crc = to_base64(&crc.finalize());
        let trailers = [("x-amz-checksum-crc64nvme", crc.as_str())];
        let (wire, mode) = if signed {
            (signed_wire(&pieces, Some(&trailers)), ChunkedMode::SignedWithTrailer(doc_signer(SEED)))
        } else {
            (unsigned_wire(&pieces, &trailers), ChunkedMode::UnsignedWithTrailer)
        };
        let wire = wire.render();
        let mut expect = expectations(mode, payload.len() as u64);
        expect.declared_trailers = vec![ChecksumAlgorithm::Crc64Nvme];
        let mut cuts: Vec<usize> = feed_cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
        cuts.sort_unstable();
        let run = run_with(&expect, &split_at(&wire, &cuts));
        let tail = run.outcome.map_err(|e| TestCaseError::fail(e.to_string()))?;
        if !payload.is_empty() {
            prop_assert!(run.before_finish.len() < payload.len());
        }
        let mut all = run.before_finish;
        all.extend_from_slice(&tail);
        prop_assert_eq!(all, payload);
    }
}

// ---- tampering, one thing at a time ----

/// The three-chunk signed body, modified by `tamper`, fed whole and byte by byte.
fn tampered_signed(
    tamper: impl Fn(&mut Wire),
    expect: &ChunkedExpectations,
    max_released: usize,
    code: S3ErrorCode,
) -> S3Error {
    let trailer = matches!(expect.mode, ChunkedMode::SignedWithTrailer(_));
    let mut wire = if trailer {
        check_input_signed_trailer_wire()
    } else {
        signed_wire(&[b"123", b"4567", b"89"], None)
    };
    tamper(&mut wire);
    let body = wire.render();
    let byte_by_byte: Vec<&[u8]> = body.chunks(1).collect();
    let err = assert_refused(
        run_with(expect, &byte_by_byte),
        CHECK_INPUT,
        max_released,
        code,
    );
    let whole = assert_refused(run_with(expect, &[&body]), CHECK_INPUT, max_released, code);
    assert_eq!(err, whole);
    err
}

#[test]
fn flipped_data_byte_in_first_middle_and_final_chunk() {
    // Chunks "123", "4567", "89": what was verified before each, minus the held byte.
    for (chunk, released_before) in [(0usize, 0usize), (1, 2), (2, 6)] {
        let err = tampered_signed(
            |wire| wire.chunks[chunk].data[0] ^= 0x01,
            &check_input_signed_expect(),
            released_before,
            S3ErrorCode::SignatureDoesNotMatch,
        );
        assert!(
            err.message.contains(&format!("chunk {}", chunk + 1)),
            "{}",
            err.message
        );
        assert!(err.string_to_sign.is_some());
    }
}

#[test]
fn flipped_byte_in_each_doc_example_chunk() {
    let (wire, expect) = doc_streaming_signed();
    for (offset, chunk) in [(86 + 10, 1), (86 + 65_536 + 2 + 85 + 1000, 2)] {
        let mut body = wire.clone();
        body[offset] = b'b';
        let pieces: Vec<&[u8]> = body.chunks(64 * 1024).collect();
        let payload = vec![b'a'; 66_560];
        let max = if chunk == 1 { 0 } else { 65_535 };
        let err = assert_refused(
            run_with(&expect, &pieces),
            &payload,
            max,
            S3ErrorCode::SignatureDoesNotMatch,
        );
        assert!(
            err.message.contains(&format!("chunk {chunk} ")),
            "{}",
            err.message
        );
    }
}

#[test]
fn flipped_final_chunk_signature() {
    tampered_signed(
        |wire| {
            let line = &mut wire.chunks[3].size_line;
            let last = line.pop().expect("signature");
            line.push(if last == '0' { '1' } else { '0' });
        },
        &check_input_signed_expect(),
        8,
        S3ErrorCode::SignatureDoesNotMatch,
    );
}

#[test]
fn swapped_chunk_signatures() {
    tampered_signed(
        |wire| {
            let first = wire.chunks[0].size_line.split_off(2);
            let second = wire.chunks[1].size_line.split_off(2);
            wire.chunks[0].size_line.push_str(&second);
            wire.chunks[1].size_line.push_str(&first);
        },
        &check_input_signed_expect(),
        0,
        S3ErrorCode::SignatureDoesNotMatch,
    );
}

#[test]
fn repeated_chunk() {
    let mut expect = check_input_signed_expect();
    expect.decoded_length = 12;
    let err = tampered_signed(
        |wire| {
            let again = wire.chunks[0].clone();
            wire.chunks.insert(1, again);
        },
        &expect,
        2,
        S3ErrorCode::SignatureDoesNotMatch,
    );
    assert!(err.message.contains("chunk 2 "), "{}", err.message);
}

#[test]
fn missing_chunk() {
    let mut expect = check_input_signed_expect();
    expect.decoded_length = 5;
    tampered_signed(
        |wire| {
            wire.chunks.remove(1);
        },
        &expect,
        2,
        S3ErrorCode::SignatureDoesNotMatch,
    );
}

#[test]
fn truncated_stream_without_final_chunk() {
    for keep in [1, 2, 3] {
        let err = tampered_signed(
            |wire| {
                wire.chunks.truncate(keep);
                wire.end.clear();
            },
            &check_input_signed_expect(),
            8,
            S3ErrorCode::IncompleteBody,
        );
        assert!(err.message.contains("final zero-length chunk"), "{err}");
    }
    // Cut inside a size line, inside data, between data and CRLF.
    let body = signed_wire(&[b"123", b"4567", b"89"], None).render();
    for cut in [1, 50, 86, 87, 89, 90, body.len() - 3] {
        let run = run_with(&check_input_signed_expect(), &[&body[..cut]]);
        assert_refused(run, CHECK_INPUT, 8, S3ErrorCode::IncompleteBody);
    }
}

#[test]
fn decoded_length_larger_than_sent() {
    let mut expect = check_input_signed_expect();
    expect.decoded_length = 10;
    let err = tampered_signed(|_| {}, &expect, 8, S3ErrorCode::IncompleteBody);
    assert!(
        err.message.contains("x-amz-decoded-content-length"),
        "{err}"
    );
}

#[test]
fn decoded_length_smaller_than_sent_is_refused_before_the_extra_chunk() {
    let mut expect = check_input_signed_expect();
    expect.decoded_length = 8;
    // "89" would go past 8: refused at its size line, so "4567" stays held back.
    tampered_signed(|_| {}, &expect, 6, S3ErrorCode::InvalidRequest);
    let mut unsigned = expectations(ChunkedMode::UnsignedWithTrailer, 3);
    unsigned.decoded_length = 3;
    let wire = unsigned_wire(&[b"123", b"456"], &[]).render();
    let run = run_with(&unsigned, &[&wire]);
    assert!(run.before_finish.len() < 3);
    assert_eq!(
        run.outcome.map_err(|e| e.code),
        Err(S3ErrorCode::InvalidRequest)
    );
}

#[test]
fn wrong_trailer_checksum_signed_correctly_is_bad_digest() {
    let wire = signed_wire(
        &[b"123", b"4567", b"89"],
        Some(&[
            ("x-amz-checksum-crc32", "AAAAAA=="),
            ("x-amz-checksum-crc32c", CHECK_CRC32C_B64),
        ]),
    );
    let err = tampered_signed(
        |w| *w = wire.clone(),
        &check_input_signed_trailer_expect(),
        8,
        S3ErrorCode::BadDigest,
    );
    assert_eq!(
        err.message,
        "The CRC32 you specified did not match the calculated checksum."
    );
}

#[test]
fn changed_trailer_value_breaks_the_trailer_signature() {
    let err = tampered_signed(
        |wire| wire.trailers[0].1 = "AAAAAA==".into(),
        &check_input_signed_trailer_expect(),
        8,
        S3ErrorCode::SignatureDoesNotMatch,
    );
    assert!(err.message.contains("x-amz-trailer-signature"), "{err}");
}

#[test]
fn wrong_trailer_signature() {
    tampered_signed(
        |wire| wire.trailers[2].1 = SEED.into(),
        &check_input_signed_trailer_expect(),
        8,
        S3ErrorCode::SignatureDoesNotMatch,
    );
}

#[test]
fn missing_trailer_signature() {
    tampered_signed(
        |wire| {
            wire.trailers.pop();
        },
        &check_input_signed_trailer_expect(),
        8,
        S3ErrorCode::InvalidRequest,
    );
}

#[test]
fn missing_declared_trailer_is_named() {
    let wire = signed_wire(
        &[b"123", b"4567", b"89"],
        Some(&[("x-amz-checksum-crc32", CHECK_CRC32_B64)]),
    );
    let err = tampered_signed(
        |w| *w = wire.clone(),
        &check_input_signed_trailer_expect(),
        8,
        S3ErrorCode::InvalidRequest,
    );
    assert!(err.message.contains("x-amz-checksum-crc32c"), "{err}");
}

#[test]
fn undeclared_trailer_is_refused() {
    let mut expect = check_input_signed_trailer_expect();
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    let err = tampered_signed(|_| {}, &expect, 8, S3ErrorCode::InvalidRequest);
    assert!(err.message.contains("x-amz-checksum-crc32c"), "{err}");
    // Unsigned mode: a trailer signature is not declared either.
    let wire = unsigned_wire(&[CHECK_INPUT], &[("x-amz-trailer-signature", SEED)]).render();
    let run = run_with(&expectations(ChunkedMode::UnsignedWithTrailer, 9), &[&wire]);
    assert_refused(run, CHECK_INPUT, 0, S3ErrorCode::InvalidRequest);
}

#[test]
fn repeated_trailer_is_refused() {
    let wire = unsigned_wire(
        &[CHECK_INPUT],
        &[
            ("x-amz-checksum-crc32", CHECK_CRC32_B64),
            ("X-Amz-Checksum-CRC32", CHECK_CRC32_B64),
        ],
    )
    .render();
    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    let run = run_with(&expect, &[&wire]);
    assert_refused(run, CHECK_INPUT, 0, S3ErrorCode::InvalidRequest);
}

#[test]
fn wrong_unsigned_trailer_checksum() {
    let wire = unsigned_wire(
        &[b"1234", b"56789"],
        &[("x-amz-checksum-crc32", "AAAAAA==")],
    );
    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    let run = run_with(&expect, &[&wire.render()]);
    let err = assert_refused(run, CHECK_INPUT, 4, S3ErrorCode::BadDigest);
    assert_eq!(
        err.message,
        "The CRC32 you specified did not match the calculated checksum."
    );
}

#[test]
fn undecodable_trailer_value() {
    let wire = unsigned_wire(&[CHECK_INPUT], &[("x-amz-checksum-crc32", "y/Q5Jg")]);
    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    let err = assert_refused(
        run_with(&expect, &[&wire.render()]),
        CHECK_INPUT,
        0,
        S3ErrorCode::InvalidRequest,
    );
    assert_eq!(
        err.message,
        "Value for x-amz-checksum-crc32 header is invalid."
    );
}

#[test]
fn oversize_chunk_is_refused_before_buffering() {
    let mut expect = check_input_signed_expect();
    expect.max_chunk_size = 3;
    let err = tampered_signed(|_| {}, &expect, 2, S3ErrorCode::EntityTooLarge);
    assert!(err.message.contains("Chunk 2"), "{err}");
    // The size line alone is enough: no data byte of it has arrived.
    let mut verifier = AwsChunkedVerifier::new(check_input_signed_expect()).expect("valid");
    verifier.expect.max_chunk_size = 1024;
    let line = format!("fffff;chunk-signature={SEED}\r\n");
    let err = verifier.feed(Bytes::from(line)).expect_err("too large");
    assert_eq!(err.code, S3ErrorCode::EntityTooLarge);
    assert_eq!(verifier.outbox.staging.capacity(), 0);
}

#[test]
fn bad_hex_in_size() {
    let err = tampered_signed(
        |wire| wire.chunks[1].size_line.replace_range(0..1, "g"),
        &check_input_signed_expect(),
        2,
        S3ErrorCode::InvalidArgument,
    );
    assert!(err.message.contains("chunk 2"), "{err}");
    for bad in [" 4", "4 ", "-4", "0x4", "+4", ""] {
        let wire = unsigned_wire(&[b"1234"], &[]).render();
        let body = [bad.as_bytes(), &wire[1..]].concat();
        let run = run_with(&expectations(ChunkedMode::UnsignedWithTrailer, 4), &[&body]);
        assert_eq!(
            run.outcome.map_err(|e| e.code),
            Err(S3ErrorCode::InvalidArgument),
            "{bad:?}"
        );
    }
}

#[test]
fn too_many_size_digits_and_overflow() {
    let expect = expectations(ChunkedMode::UnsignedWithTrailer, u64::MAX);
    let max = format!("{:x}\r\n", u64::MAX);
    assert!(run_with(&expect, &[max.as_bytes()])
        .outcome
        .is_err_and(|e| e.code == S3ErrorCode::IncompleteBody));
    for bad in ["00000000000000001\r\n", "10000000000000000\r\n"] {
        let err = run_with(&expect, &[bad.as_bytes()]).outcome.expect_err(bad);
        assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{bad}");
        assert!(err.message.contains("16 hex digits"), "{err}");
    }
}

#[test]
fn missing_crlf_after_data() {
    let valid = signed_wire(&[b"123", b"4567", b"89"], None).render();
    // "3;chunk-signature=<64 hex>\r\n" is 84 bytes; "123" follows, then its CRLF.
    assert_eq!(&valid[84..89], b"123\r\n");
    for broken in ["", "\r", "\n", "x\r\n", "\n\r"] {
        let body = [&valid[..87], broken.as_bytes(), &valid[89..]].concat();
        let run = run_with(&check_input_signed_expect(), &[&body]);
        let err = assert_refused(run, CHECK_INPUT, 0, S3ErrorCode::InvalidArgument);
        assert!(err.message.contains("CRLF"), "{err}");
        assert!(err.message.contains("chunk 1"), "{err}");
    }
}

#[test]
fn bare_lf_and_bad_extensions_are_framing_errors() {
    let cases: [(&str, ChunkedMode); 5] = [
        ("9\n123456789\r\n", ChunkedMode::UnsignedWithTrailer),
        ("9;x\n123456789\r\n", ChunkedMode::UnsignedWithTrailer),
        (
            "9;a\x01b\r\n123456789\r\n",
            ChunkedMode::UnsignedWithTrailer,
        ),
        ("9\r\n123456789\r\n", ChunkedMode::Signed(doc_signer(SEED))),
        (
            "9;chunk-signature=abc\r\n",
            ChunkedMode::Signed(doc_signer(SEED)),
        ),
    ];
    for (body, mode) in cases {
        let err = run_with(&expectations(mode, 9), &[body.as_bytes()])
            .outcome
            .expect_err(body);
        assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{body:?}: {err}");
    }
    let trailer_cases = [
        "0\r\nx-amz-checksum-crc32\r\n\r\n",
        "0\r\n\n",
        "0\r\nbad name:v\r\n\r\n",
        "0\r\n:v\r\n\r\n",
        "0\r\n\r\r",
    ];
    for body in trailer_cases {
        let err = run_with(
            &expectations(ChunkedMode::UnsignedWithTrailer, 0),
            &[body.as_bytes()],
        )
        .outcome
        .expect_err(body);
        assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{body:?}: {err}");
    }
}

#[test]
fn size_line_and_trailer_section_limits() {
    let expect = expectations(ChunkedMode::UnsignedWithTrailer, 1);
    let long_extension = format!("1;{}", "x".repeat(MAX_SIZE_LINE_LEN));
    let err = run_with(&expect, &[long_extension.as_bytes()])
        .outcome
        .expect_err("long");
    assert_eq!(err.code, S3ErrorCode::InvalidArgument);
    let just_fits = format!("1;{}\r\na\r\n0\r\n\r\n", "x".repeat(MAX_SIZE_LINE_LEN - 2));
    assert_released(
        run_with(&expect, &[just_fits.as_bytes()]),
        b"a",
        "4 KiB line",
    );
    let long_trailer = format!(
        "1\r\na\r\n0\r\nx-amz-checksum-crc32:{}",
        " ".repeat(MAX_TRAILER_SECTION_LEN)
    );
    let err = run_with(&expect, &[long_trailer.as_bytes()])
        .outcome
        .expect_err("long");
    assert_eq!(err.code, S3ErrorCode::InvalidArgument);
    assert!(err.message.contains("trailer section"), "{err}");
}

#[test]
fn bytes_after_the_end_are_refused() {
    let err = tampered_signed(
        |wire| wire.end.push_str("\r\n"),
        &check_input_signed_expect(),
        8,
        S3ErrorCode::InvalidArgument,
    );
    assert!(err.message.contains("after the end"), "{err}");
}

// ---- leniencies, each pinned ----

#[test]
fn signed_trailer_mode_without_trailers_may_end_after_the_final_chunk() {
    // aws-sdk-rust with an empty trailer set writes nothing after `0;chunk-signature=…\r\n`.
    let mut wire = signed_wire(&[b"123", b"4567", b"89"], None);
    wire.end.clear();
    let expect = expectations(ChunkedMode::SignedWithTrailer(doc_signer(SEED)), 9);
    assert_released(
        run_with(&expect, &[&wire.render()]),
        CHECK_INPUT,
        "no end line",
    );
    wire.end = "\r\n".into();
    assert_released(
        run_with(&expect, &[&wire.render()]),
        CHECK_INPUT,
        "end line",
    );
    // Not when a trailer is declared, and not in the plain signed mode.
    let mut declared = expect.clone();
    declared.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    wire.end.clear();
    let run = run_with(&declared, &[&wire.render()]);
    assert_refused(run, CHECK_INPUT, 8, S3ErrorCode::IncompleteBody);
    let run = run_with(&check_input_signed_expect(), &[&wire.render()]);
    assert_refused(run, CHECK_INPUT, 8, S3ErrorCode::IncompleteBody);
}

#[test]
fn trailer_value_whitespace_and_name_case() {
    let wire = unsigned_wire(
        &[CHECK_INPUT],
        &[("X-Amz-Checksum-Crc32", &format!(" \t{CHECK_CRC32_B64} "))],
    );
    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    assert_released(run_with(&expect, &[&wire.render()]), CHECK_INPUT, "ows");
}

#[test]
fn trailer_signature_in_wire_order_is_accepted() {
    // crc32c before crc32 on the wire, signed in that order (as aws-c-auth would).
    let mut wire = signed_wire(&[b"123", b"4567", b"89"], None);
    let final_signature = wire.chunks[3].size_line["0;chunk-signature=".len()..].to_string();
    let canonical = format!(
        "x-amz-checksum-crc32c:{CHECK_CRC32C_B64}\nx-amz-checksum-crc32:{CHECK_CRC32_B64}\n"
    );
    let digest: [u8; 32] = Sha256::digest(&canonical).into();
    let signature = doc_signer(SEED).trailer_signature(&final_signature, &digest);
    wire.trailers = vec![
        ("x-amz-checksum-crc32c".into(), CHECK_CRC32C_B64.into()),
        ("x-amz-checksum-crc32".into(), CHECK_CRC32_B64.into()),
        (TRAILER_SIGNATURE_NAME.into(), signature),
    ];
    let expect = check_input_signed_trailer_expect();
    assert_released(
        run_with(&expect, &[&wire.render()]),
        CHECK_INPUT,
        "wire order",
    );
    // aws-sigv4 signs them sorted whatever the order on the wire.
    let mut sorted = check_input_signed_trailer_wire();
    sorted.trailers.swap(0, 1);
    assert_released(
        run_with(&expect, &[&sorted.render()]),
        CHECK_INPUT,
        "sorted",
    );
}

#[test]
fn empty_payload() {
    let wire = signed_wire(&[], None).render();
    let expect = expectations(ChunkedMode::Signed(doc_signer(SEED)), 0);
    assert_released(run_with(&expect, &[&wire]), b"", "empty");
}

// ---- construction, reset, failure ----

#[test]
fn parse_trailer_header_names() {
    assert_eq!(
        parse_trailer_header("x-amz-checksum-crc32"),
        Ok(vec![ChecksumAlgorithm::Crc32])
    );
    assert_eq!(
        parse_trailer_header(" X-Amz-Checksum-CRC32C , x-amz-checksum-sha256,"),
        Ok(vec![ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Sha256])
    );
    assert_eq!(parse_trailer_header(""), Ok(vec![]));
    let err = parse_trailer_header("x-amz-checksum-crc32, x-amz-meta-foo").expect_err("unknown");
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    assert!(err.message.contains("x-amz-meta-foo"), "{err}");
    let err = parse_trailer_header("x-amz-checksum-crc32,X-AMZ-CHECKSUM-CRC32").expect_err("twice");
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
}

#[test]
fn trailers_need_a_trailer_mode() {
    let mut expect = check_input_signed_expect();
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    assert_eq!(
        AwsChunkedVerifier::new(expect).err().map(|e| e.code),
        Some(S3ErrorCode::InvalidRequest)
    );
    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 1);
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32];
    assert!(AwsChunkedVerifier::new(expect).is_err());
}

#[test]
fn failure_sticks_and_reset_starts_over() {
    let wire = check_input_signed_trailer_wire().render();
    let mut verifier = AwsChunkedVerifier::new(check_input_signed_trailer_expect()).expect("valid");
    // A first attempt broken off half way (a retried upstream connection).
    assert!(verifier.feed(Bytes::copy_from_slice(&wire[..100])).is_ok());
    verifier.reset();
    assert_released(run(&mut verifier, &[&wire]), CHECK_INPUT, "after reset");
    // A failed one.
    verifier.reset();
    let err = verifier
        .feed(Bytes::from_static(b"zz"))
        .expect_err("bad hex");
    assert_eq!(
        verifier.feed(Bytes::copy_from_slice(&wire)),
        Err(err.clone())
    );
    assert_eq!(verifier.finish(), Err(err));
    verifier.reset();
    assert_released(run(&mut verifier, &[&wire]), CHECK_INPUT, "after failure");
    // A finished one answers an empty finish, and refuses more bytes.
    assert_eq!(verifier.finish(), Ok(Bytes::new()));
    assert!(verifier.feed(Bytes::from_static(b"0")).is_err());
}

// ---- never panics ----

#[test]
fn thousands_of_mutated_bodies_never_panic() {
    let seeds = [
        (
            check_input_signed_trailer_wire().render(),
            check_input_signed_trailer_expect(),
        ),
        (
            signed_wire(&[b"123", b"4567", b"89"], None).render(),
            check_input_signed_expect(),
        ),
        (
            unsigned_wire(
                &[b"1234", b"56789"],
                &[("x-amz-checksum-crc32", CHECK_CRC32_B64)],
            )
            .render(),
            {
                let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, 9);
                expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
                expect
            },
        ),
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..4000 {
        let (seed, expect) = &seeds[round % seeds.len()];
        let (body, cuts) = mutated_and_cut(seed, &mut rng, b"\r\n;:0aF9");
        let run = run_with(expect, &split_at(&body, &cuts));
        assert!(run.before_finish.len() < CHECK_INPUT.len(), "round {round}");
        if let Ok(tail) = run.outcome {
            // A mutation may hit something without meaning (an ignored extension), but the
            // signed payload can never change.
            let mut all = run.before_finish;
            all.extend_from_slice(&tail);
            if !matches!(expect.mode, ChunkedMode::UnsignedWithTrailer) {
                assert_eq!(all, CHECK_INPUT, "round {round}");
            }
        }
        // The fuzz entry point, on the mutated body and on noise.
        let mut input = vec![rng.next() as u8, 9, rng.next() as u8, rng.next() as u8];
        if round % 10 == 0 {
            input.extend((0..rng.below(300)).map(|_| rng.next() as u8));
        } else {
            input.extend_from_slice(&body);
        }
        fuzz_one(&input);
    }
}

// ---- throughput (release only) ----

/// A signed body of `payload` in chunks of `chunk` bytes, signed by this module's own
/// [`ChunkSigner`] (a speed test, not a correctness one).
fn self_signed_body(payload: &[u8], chunk: usize, signer: &ChunkSigner) -> Vec<u8> {
    let mut wire = Vec::with_capacity(payload.len() + payload.len() / chunk * 100 + 200);
    let mut previous = signer.seed_signature().to_string();
    for data in payload.chunks(chunk).chain([&b""[..]]) {
        let digest: [u8; 32] = Sha256::digest(data).into();
        let signature = signer.chunk_signature(&previous, &digest);
        wire.extend_from_slice(
            format!("{:x};chunk-signature={signature}\r\n", data.len()).as_bytes(),
        );
        wire.extend_from_slice(data);
        wire.extend_from_slice(b"\r\n");
        previous = signature;
    }
    wire.truncate(wire.len() - 2);
    wire.extend_from_slice(b"\r\n");
    wire
}

/// Feed `wire` in 64 KiB socket reads; the best of three runs, in seconds.
fn best_feed_time(expect: &ChunkedExpectations, wire: &Bytes, payload_len: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let mut verifier = AwsChunkedVerifier::new(expect.clone()).expect("valid");
        let started = std::time::Instant::now();
        let mut released = 0;
        let mut at = 0;
        while at < wire.len() {
            let end = (at + 64 * 1024).min(wire.len());
            released += verifier
                .feed(wire.slice(at..end))
                .expect("valid body")
                .len();
            at = end;
        }
        released += verifier.finish().expect("valid body").len();
        best = best.min(started.elapsed().as_secs_f64());
        assert_eq!(released, payload_len);
    }
    best
}

/// Run with `cargo test --release --lib body::chunked::tests::throughput -- --ignored
/// --nocapture`: signed chunks must verify at 0.8x or more of plain SHA-256 on one core.
#[test]
#[ignore = "timing; run in release"]
fn throughput_against_plain_sha256() {
    let payload: Vec<u8> = (0..64 * 1024 * 1024u32)
        .map(|i| (i * 7 + i / 4096) as u8)
        .collect();
    let sha_time = {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let mut hasher = Sha256::new();
            for piece in payload.chunks(64 * 1024) {
                hasher.update(piece);
            }
            std::hint::black_box(hasher.finalize());
            best = best.min(started.elapsed().as_secs_f64());
        }
        best
    };
    let mb = payload.len() as f64 / 1e6;
    println!("plain SHA-256: {:.0} MB/s", mb / sha_time);
    let signer = doc_signer(SEED);
    for chunk in [8 * 1024, 64 * 1024, 1024 * 1024, 16 * 1024 * 1024] {
        let wire = Bytes::from(self_signed_body(&payload, chunk, &signer));
        let expect = expectations(ChunkedMode::Signed(signer.clone()), payload.len() as u64);
        let time = best_feed_time(&expect, &wire, payload.len());
        let ratio = sha_time / time;
        println!(
            "signed, {chunk}-byte chunks: {:.0} MB/s = {ratio:.2}x SHA-256",
            mb / time
        );
        assert!(ratio >= 0.8, "signed chunks of {chunk} bytes: {ratio:.2}x");
    }
    let mut unsigned = Vec::new();
    for data in payload.chunks(1024 * 1024).chain([&b""[..]]) {
        unsigned.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
        unsigned.extend_from_slice(data);
        if !data.is_empty() {
            unsigned.extend_from_slice(b"\r\n");
        }
    }
    let mut crc = ChecksumAlgorithm::Crc32.checksummer();
    crc.update(&payload);
    unsigned.extend_from_slice(
        format!(
            "x-amz-checksum-crc32:{}\r\n\r\n",
            to_base64(&crc.finalize())
        )
        .as_bytes(),
    );
    let mut expect = expectations(ChunkedMode::UnsignedWithTrailer, payload.len() as u64);
    expect.declared_trailers = vec![ChecksumAlgorithm::Crc32];
    let time = best_feed_time(&expect, &Bytes::from(unsigned), payload.len());
    println!("unsigned + crc32, 1 MiB chunks: {:.0} MB/s", mb / time);
}
