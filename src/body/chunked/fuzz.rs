//! The entry point of the `aws_chunked` fuzz target.

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use super::{AwsChunkedVerifier, ChunkSigner, ChunkedExpectations, ChunkedMode};
use crate::body::checksum::ChecksumAlgorithm;
use crate::body::BodyVerifier;

/// The fuzz target's entry point (`fuzz/fuzz_targets/aws_chunked.rs`), also swept by a plain
/// test: decode `data` as a verifier configuration plus a body, feed the body in pieces, then
/// finish. Never panics on any input; it panics only if the verifier breaks a promise (released
/// more than the decoded length, or the last byte before `finish`).
///
/// Layout of `data`: byte 0 chooses the mode (`% 3`: signed, signed with trailer, unsigned),
/// bit 2 `compute_md5`, bits 3..=7 the declared trailers (one bit per algorithm, ignored for
/// the signed mode); byte 1 the decoded length; byte 2 `max_chunk_size`; byte 3 seeds the split
/// sizes (0: one piece); the rest is the body. The signer is the S3 documentation's example
/// credential scope with a fixed key, so a corpus can hold correctly signed bodies.
pub fn fuzz_one(data: &[u8]) {
    let [config, decoded_length, max_chunk_size, split_seed, body @ ..] = data else {
        return;
    };
    let signer = ChunkSigner::new(
        crate::auth::sigv4::SigningKey::from_bytes([0x5a; 32]),
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    );
    let mode = match config % 3 {
        0 => ChunkedMode::Signed(signer),
        1 => ChunkedMode::SignedWithTrailer(signer),
        _ => ChunkedMode::UnsignedWithTrailer,
    };
    let declared_trailers = match mode {
        ChunkedMode::Signed(_) => Vec::new(),
        _ => ChecksumAlgorithm::ALL
            .into_iter()
            .enumerate()
            .filter(|(bit, _)| config & (0x08 << bit) != 0)
            .map(|(_, algorithm)| algorithm)
            .collect(),
    };
    let expect = ChunkedExpectations {
        mode,
        decoded_length: u64::from(*decoded_length),
        declared_trailers,
        header_checksums: Vec::new(),
        content_md5: None,
        max_chunk_size: u64::from(*max_chunk_size),
        compute_md5: config & 0x04 != 0,
    };
    let Ok(mut verifier) = AwsChunkedVerifier::new(expect) else {
        return;
    };
    let limit = usize::from(*decoded_length);
    let mut released = 0usize;
    let mut state = u64::from(*split_seed);
    let mut rest = body;
    while !rest.is_empty() {
        let take = if state == 0 {
            rest.len()
        } else {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            1 + (state % 40) as usize
        };
        let (piece, after) = rest.split_at(take.min(rest.len()));
        rest = after;
        match verifier.feed(Bytes::copy_from_slice(piece)) {
            Ok(out) => released += out.len(),
            Err(_) => break,
        }
        assert!(
            released < limit || released == 0,
            "released the last byte before finish"
        );
    }
    if let Ok(out) = verifier.finish() {
        released += out.len();
        assert_eq!(
            released, limit,
            "a verified body is exactly the decoded length"
        );
    }
}

/// The secret of the S3 documentation's examples, whose streaming-with-trailer example signs
/// the trailer `x-amz-checksum-crc32c:sOO8/Q==`.
const DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The signature of the doc example's second chunk: the final (empty) chunk chains to it, so
/// the example's trailer signature verifies here.
const DOC_SECOND_CHUNK_SIGNATURE: &str =
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7";

/// The `chunked_trailer` fuzz target's entry point (`fuzz/fuzz_targets/chunked_trailer.rs`): an
/// empty aws-chunked body whose final chunk is valid, followed by `data`'s trailer section.
///
/// Layout of `data`: byte 0: bit 0 the mode (0: signed with trailer, as the doc example's key
/// and chain; 1: unsigned with trailer), bits 1..=5 the declared trailers (one bit per
/// algorithm), bit 6: the harness replaces every `x-amz-trailer-signature` value by the right
/// signature of the trailers, bit 7: by a signature made with another key; byte 1 seeds the
/// split of the body; the rest is the trailer section, sent after the final chunk's line.
///
/// Checked: the body fed whole and fed in pieces ends the same way; a trailer signed with
/// another key is never accepted; nothing is released (the decoded length is 0).
#[doc(hidden)]
pub fn fuzz_trailer(data: &[u8]) {
    let [config, split_seed, trailer @ ..] = data else {
        return;
    };
    let signer = |secret: &str| {
        ChunkSigner::new(
            crate::auth::sigv4::signing::derive_signing_key(secret, "20130524", "us-east-1", "s3"),
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            DOC_SECOND_CHUNK_SIGNATURE,
        )
    };
    let right = signer(DOC_SECRET);
    let final_chunk_signature =
        right.chunk_signature(right.seed_signature(), &Sha256::digest(b"").into());
    let signed = config & 0x01 == 0;
    let mut body = match signed {
        true => format!("0;chunk-signature={final_chunk_signature}\r\n").into_bytes(),
        false => b"0\r\n".to_vec(),
    };
    let other_key = config & 0x80 != 0;
    match (config & 0x40 != 0, other_key) {
        (_, true) => {
            let other = signer("another secret");
            body.extend(resign_trailers(trailer, &other, &final_chunk_signature));
        }
        (true, false) => body.extend(resign_trailers(trailer, &right, &final_chunk_signature)),
        (false, false) => body.extend_from_slice(trailer),
    }
    let expect = ChunkedExpectations {
        mode: match signed {
            true => ChunkedMode::SignedWithTrailer(right),
            false => ChunkedMode::UnsignedWithTrailer,
        },
        decoded_length: 0,
        declared_trailers: ChecksumAlgorithm::ALL
            .into_iter()
            .enumerate()
            .filter(|(bit, _)| config & (0x02 << bit) != 0)
            .map(|(_, algorithm)| algorithm)
            .collect(),
        header_checksums: Vec::new(),
        content_md5: None,
        max_chunk_size: 64,
        compute_md5: false,
    };
    let whole = run_trailer(&expect, &body, 0);
    let split = run_trailer(&expect, &body, u64::from(*split_seed) | 1);
    assert_eq!(whole, split, "fed whole and fed in pieces end differently");
    if signed && other_key && has_trailer_signature(trailer) {
        assert!(
            whole.is_err(),
            "a trailer signed with another key was accepted"
        );
    }
}

/// Feed `body` (whole when `state` is 0, else in pieces of 1 to 16 bytes) and finish: `Ok` or
/// the error's code. Panics if a byte is released.
fn run_trailer(
    expect: &ChunkedExpectations,
    body: &[u8],
    mut state: u64,
) -> Result<(), crate::error::S3ErrorCode> {
    let Ok(mut verifier) = AwsChunkedVerifier::new(expect.clone()) else {
        return Ok(());
    };
    let mut rest = body;
    while !rest.is_empty() {
        let take = if state == 0 {
            rest.len()
        } else {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            1 + (state % 16) as usize
        };
        let (piece, after) = rest.split_at(take.min(rest.len()));
        rest = after;
        let out = verifier
            .feed(Bytes::copy_from_slice(piece))
            .map_err(|e| e.code)?;
        assert!(out.is_empty(), "released a byte of an empty body");
    }
    let out = verifier.finish().map_err(|e| e.code)?;
    assert!(out.is_empty(), "released a byte of an empty body");
    Ok(())
}

fn is_signature_line(line: &[u8]) -> bool {
    line.split(|&b| b == b':').next().is_some_and(|name| {
        name.trim_ascii()
            .eq_ignore_ascii_case(TRAILER_SIGNATURE.as_bytes())
    })
}

fn has_trailer_signature(trailer: &[u8]) -> bool {
    trailer.split(|&b| b == b'\n').any(is_signature_line)
}

const TRAILER_SIGNATURE: &str = super::TRAILER_SIGNATURE_NAME;

/// `trailer` with every `x-amz-trailer-signature` line's value replaced by `signer`'s signature
/// of the other lines (lower-case name, `:`, trimmed value, in the order sent).
fn resign_trailers(trailer: &[u8], signer: &ChunkSigner, previous: &str) -> Vec<u8> {
    let mut canonical = Vec::new();
    for line in trailer.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if is_signature_line(line) {
            continue;
        }
        canonical.extend(line[..colon].to_ascii_lowercase());
        canonical.push(b':');
        canonical.extend_from_slice(line[colon + 1..].trim_ascii());
        canonical.push(b'\n');
    }
    let signature = signer.trailer_signature(previous, &Sha256::digest(&canonical).into());
    let mut out = Vec::with_capacity(trailer.len());
    for (i, line) in trailer.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if is_signature_line(line) {
            let cr = line.ends_with(b"\r");
            out.extend_from_slice(format!("{TRAILER_SIGNATURE}:{signature}").as_bytes());
            if cr {
                out.push(b'\r');
            }
        } else {
            out.extend_from_slice(line);
        }
    }
    out
}
