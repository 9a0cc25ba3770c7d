//! The entry point of the `aws_chunked` fuzz target.

use bytes::Bytes;

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
