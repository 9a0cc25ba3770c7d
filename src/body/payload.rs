//! The whole-body verifier of a non-streaming upload: the body arrives as plain bytes and every
//! promise the request head made about it (`Content-Length`, the signed `x-amz-content-sha256`,
//! `Content-MD5`, `x-amz-checksum-*`) can only be checked once the last byte is in.
//!
//! Hold-back: the verifier keeps the most recently received piece and releases the one before
//! it, so the upstream never holds the complete body before [`BodyVerifier::finish`] has checked
//! everything. No byte is copied: pieces are `Bytes` handed back as they came in.

use std::mem;

use bytes::Bytes;
use http::header::{HeaderMap, CONTENT_LENGTH};
use sha2::{Digest as _, Sha256};

use super::checksum::{ChecksumAlgorithm, Checksummer};
use super::claims::{ChecksumClaim, IntegrityClaims};
use super::md5::Md5;
use super::BodyVerifier;
use crate::error::{S3Error, S3ErrorCode};

/// What the request head promised about its body. Built by [`PayloadExpectations::from_headers`]
/// or by hand (e.g. from the decoded length of an aws-chunked upload).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadExpectations {
    /// `Content-Length`: exactly this many bytes must arrive, never more are released.
    pub declared_length: Option<u64>,
    /// The signed `x-amz-content-sha256` digest; `None` for `UNSIGNED-PAYLOAD`.
    pub sha256: Option<[u8; 32]>,
    /// The `Content-MD5` digest (RFC 1864).
    pub content_md5: Option<[u8; 16]>,
    /// Each `x-amz-checksum-<algorithm>` value, decoded; at most one per algorithm. The verifier
    /// checks any number; [`IntegrityClaims`] lets at most one through, as S3 does.
    pub checksums: Vec<(ChecksumAlgorithm, Vec<u8>)>,
    /// Compute the MD5 even without `Content-MD5`, because the proxy answers with it as the
    /// ETag. [`from_headers`](Self::from_headers) leaves it `false`; the caller decides.
    pub compute_md5: bool,
}

impl PayloadExpectations {
    /// Read the body promises of a request head's headers ([`from_head`](Self::from_head)
    /// without a query).
    pub fn from_headers(
        headers: &HeaderMap,
        payload_sha256: Option<[u8; 32]>,
    ) -> Result<PayloadExpectations, S3Error> {
        PayloadExpectations::from_head(headers, "", payload_sha256)
    }

    /// Read the body promises of a request head. `payload_sha256` is the digest the signature
    /// covers (`x-amz-content-sha256` when it is a hex digest), already parsed by sigv4;
    /// `raw_query` the query as received (a presigned URL carries claims there).
    ///
    /// - `Content-Length`: ASCII digits only (RFC 9110 §8.6); several fields with one value are
    ///   that value, differing values are refused (RFC 9112 §6.3 calls it unrecoverable).
    /// - `Content-MD5`, `x-amz-checksum-*`, `x-amz-sdk-checksum-algorithm`, from the headers
    ///   and the query: [`IntegrityClaims::from_head`] (at most one checksum algorithm). A
    ///   checksum promised as a trailer cannot come with a plain body: refused.
    pub fn from_head(
        headers: &HeaderMap,
        raw_query: &str,
        payload_sha256: Option<[u8; 32]>,
    ) -> Result<PayloadExpectations, S3Error> {
        let claims = IntegrityClaims::from_head(headers, raw_query)?;
        PayloadExpectations::with_claims(headers, claims, payload_sha256)
    }

    /// The `Content-Length` of `headers` with claims read already (see [`from_head`](Self::from_head)).
    pub fn with_claims(
        headers: &HeaderMap,
        claims: IntegrityClaims,
        payload_sha256: Option<[u8; 32]>,
    ) -> Result<PayloadExpectations, S3Error> {
        let declared_length = single_value(
            headers,
            CONTENT_LENGTH.as_str(),
            S3ErrorCode::InvalidRequest,
            parse_content_length,
        )?;
        PayloadExpectations::from_claims(declared_length, payload_sha256, claims)
    }

    /// The expectations of a plain body of `declared_length` bytes with these claims (also a
    /// POST form's file, whose claims are its fields).
    pub fn from_claims(
        declared_length: Option<u64>,
        payload_sha256: Option<[u8; 32]>,
        claims: IntegrityClaims,
    ) -> Result<PayloadExpectations, S3Error> {
        let checksums = match claims.checksum {
            None => Vec::new(),
            Some(ChecksumClaim::Value(algorithm, digest)) => vec![(algorithm, digest)],
            Some(ChecksumClaim::Trailer(algorithm)) => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!(
                        "The trailer {} needs an aws-chunked body (x-amz-content-sha256 \
                         STREAMING-UNSIGNED-PAYLOAD-TRAILER or \
                         STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER).",
                        algorithm.header_name()
                    ),
                ))
            }
        };
        Ok(PayloadExpectations {
            declared_length,
            sha256: payload_sha256,
            content_md5: claims.content_md5,
            checksums,
            compute_md5: false,
        })
    }
}

/// The value of a header that may be repeated only with the same meaning: every field is parsed,
/// and two fields that parse to different values are refused with `conflict`, the code S3 gives
/// a bad value of that header: the request does not say which one it means.
fn single_value<T: PartialEq>(
    headers: &HeaderMap,
    name: &str,
    conflict: S3ErrorCode,
    parse: impl Fn(&[u8]) -> Result<T, S3Error>,
) -> Result<Option<T>, S3Error> {
    let mut found: Option<T> = None;
    for raw in headers.get_all(name) {
        let value = parse(raw.as_bytes())?;
        match &found {
            Some(earlier) if *earlier != value => {
                return Err(S3Error::new(
                    conflict,
                    format!("The request carries conflicting {name} headers."),
                ));
            }
            _ => found = Some(value),
        }
    }
    Ok(found)
}

/// `Content-Length = 1*DIGIT` (RFC 9110 §8.6). No sign, no spaces inside, no list: a value that
/// proxies along the way might read differently is refused rather than guessed.
fn parse_content_length(raw: &[u8]) -> Result<u64, S3Error> {
    let invalid = || {
        S3Error::new(
            S3ErrorCode::InvalidRequest,
            "The Content-Length HTTP header is not a valid length.",
        )
    };
    let digits = raw.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    // All ASCII digits, so valid UTF-8; parse() does the overflow check.
    std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(invalid)
}

/// Where a [`PayloadVerifier`] is in its life.
#[derive(Debug, Clone)]
enum Phase {
    /// Taking pieces; the last one is held back.
    Receiving,
    /// `finish` checked everything and released the rest.
    Verified,
    /// A check failed; the held-back piece was dropped and nothing more is released.
    Failed(S3Error),
}

/// Verifies a plain (non aws-chunked) body against its [`PayloadExpectations`].
///
/// Every byte goes once through each digest that has something to be compared with (SHA-256,
/// MD5, each `x-amz-checksum-*`). When nothing is expected at all the verifier still holds back
/// the last piece: the length check alone needs it, and one code path is easier to trust.
#[derive(Debug)]
pub struct PayloadVerifier {
    expect: PayloadExpectations,
    digests: RunningDigests,
    /// Bytes accepted so far (released plus held).
    received: u64,
    /// The last piece received, not yet released.
    held: Bytes,
    phase: Phase,
    /// Lower-case hex MD5 of the body, once verified.
    md5_hex: Option<String>,
}

/// The digests being computed, each present only when its result will be used.
#[derive(Debug, Clone)]
struct RunningDigests {
    sha256: Option<Sha256>,
    md5: Option<Md5>,
    /// Parallel to `PayloadExpectations::checksums`.
    checksums: Vec<Checksummer>,
}

impl RunningDigests {
    fn fresh(expect: &PayloadExpectations) -> RunningDigests {
        RunningDigests {
            sha256: expect.sha256.map(|_| Sha256::new()),
            md5: (expect.content_md5.is_some() || expect.compute_md5).then(Md5::new),
            checksums: expect
                .checksums
                .iter()
                .map(|(algorithm, _)| algorithm.checksummer())
                .collect(),
        }
    }

    fn update(&mut self, piece: &[u8]) {
        if let Some(sha256) = &mut self.sha256 {
            sha256.update(piece);
        }
        if let Some(md5) = &mut self.md5 {
            md5.update(piece);
        }
        for checksummer in &mut self.checksums {
            checksummer.update(piece);
        }
    }
}

impl PayloadVerifier {
    /// A verifier expecting `expect`.
    pub fn new(expect: PayloadExpectations) -> PayloadVerifier {
        PayloadVerifier {
            digests: RunningDigests::fresh(&expect),
            expect,
            received: 0,
            held: Bytes::new(),
            phase: Phase::Receiving,
            md5_hex: None,
        }
    }

    /// What this verifier checks.
    pub fn expectations(&self) -> &PayloadExpectations {
        &self.expect
    }

    /// Back to the state of [`new`](Self::new): the proxy calls it before each upstream attempt,
    /// because a Pingora retry replays the body from its first byte.
    pub fn reset(&mut self) {
        self.digests = RunningDigests::fresh(&self.expect);
        self.received = 0;
        self.held = Bytes::new();
        self.phase = Phase::Receiving;
        self.md5_hex = None;
    }

    /// Lower-case hex MD5 of the body (the S3 ETag of a single-part upload), after a successful
    /// [`finish`](BodyVerifier::finish), when `Content-MD5` or `compute_md5` asked for it.
    pub fn md5_hex(&self) -> Option<String> {
        self.md5_hex.clone()
    }

    /// Bytes accepted so far.
    pub fn received_len(&self) -> u64 {
        self.received
    }

    /// Record a failure: the held-back piece is dropped so it can never be released.
    fn fail(&mut self, err: S3Error) -> S3Error {
        self.held = Bytes::new();
        self.phase = Phase::Failed(err.clone());
        err
    }

    /// Every check, in the order S3 reports them: length, SHA-256, MD5, checksums.
    ///
    /// The digests compared here are not secrets (the client sent both the body and the value),
    /// so a plain comparison is fine.
    fn check_all(&self) -> Result<Option<String>, S3Error> {
        if let Some(declared) = self.expect.declared_length {
            if self.received < declared {
                return Err(S3Error::new(
                    S3ErrorCode::IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length \
                     HTTP header.",
                ));
            }
        }
        if let (Some(expected), Some(sha256)) = (&self.expect.sha256, &self.digests.sha256) {
            if sha256.clone().finalize().as_slice() != expected.as_slice() {
                return Err(S3Error::new(
                    S3ErrorCode::XAmzContentSHA256Mismatch,
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                ));
            }
        }
        let md5 = self.digests.md5.as_ref().map(|md5| md5.clone().finalize());
        if let (Some(expected), Some(computed)) = (&self.expect.content_md5, &md5) {
            if computed.as_slice() != expected.as_slice() {
                return Err(S3Error::new(
                    S3ErrorCode::BadDigest,
                    "The Content-MD5 you specified did not match what we received.",
                ));
            }
        }
        for ((algorithm, expected), checksummer) in
            self.expect.checksums.iter().zip(&self.digests.checksums)
        {
            if checksummer.finalize() != *expected {
                return Err(S3Error::new(
                    S3ErrorCode::BadDigest,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        algorithm.algorithm_name()
                    ),
                ));
            }
        }
        Ok(md5.map(hex::encode))
    }
}

impl BodyVerifier for PayloadVerifier {
    fn feed(&mut self, input: Bytes) -> Result<Bytes, S3Error> {
        match &self.phase {
            Phase::Receiving => {}
            Phase::Failed(err) => return Err(err.clone()),
            Phase::Verified => {
                return Err(S3Error::new(
                    S3ErrorCode::InternalError,
                    "Body bytes arrived after the body was finished.",
                ))
            }
        }
        // An empty piece must not push the held piece out: the last real bytes stay held.
        if input.is_empty() {
            return Ok(Bytes::new());
        }
        // usize always fits in u64 on the platforms Rust supports.
        let piece_len = input.len() as u64;
        let received = match self.received.checked_add(piece_len) {
            Some(total)
                if self
                    .expect
                    .declared_length
                    .is_none_or(|declared| total <= declared) =>
            {
                total
            }
            _ => {
                // Refused before hashing or releasing any of it: the upstream, which was told
                // the Content-Length, never gets more than that and never gets the last byte.
                return Err(self.fail(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "The request body is longer than the Content-Length HTTP header says.",
                )));
            }
        };
        self.digests.update(&input);
        self.received = received;
        Ok(mem::replace(&mut self.held, input))
    }

    fn finish(&mut self) -> Result<Bytes, S3Error> {
        match &self.phase {
            Phase::Receiving => {}
            Phase::Failed(err) => return Err(err.clone()),
            // Everything was released by the first finish.
            Phase::Verified => return Ok(Bytes::new()),
        }
        match self.check_all() {
            Ok(md5_hex) => {
                self.md5_hex = md5_hex;
                self.phase = Phase::Verified;
                Ok(mem::take(&mut self.held))
            }
            Err(err) => Err(self.fail(err)),
        }
    }

    fn reset(&mut self) {
        PayloadVerifier::reset(self);
    }

    fn md5_hex(&self) -> Option<String> {
        PayloadVerifier::md5_hex(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::checksum::to_base64;
    use http::HeaderValue;
    use proptest::prelude::*;

    /// The body of the PUT Object example of the S3 SigV4 documentation
    /// (/work/shared/vectors/s3-doc-examples.json) and its published `x-amz-content-sha256`.
    const S3_DOC_BODY: &[u8] = b"Welcome to Amazon S3.";
    const S3_DOC_BODY_SHA256: &str =
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    /// SHA-256 of the empty string (FIPS 180 / the S3 docs' GET examples).
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    /// RFC 1321 test suite.
    const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
    const ABC_MD5: &str = "900150983cd24fb0d6963f7d28e17f72";
    /// FIPS 180: SHA-256("abc") and SHA-1("abc").
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const ABC_SHA1: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";
    /// CRC catalogue check values, over "123456789".
    const CHECK_INPUT: &[u8] = b"123456789";
    const CHECK_CRC32: &str = "cbf43926";
    const CHECK_CRC32C: &str = "e3069283";
    const CHECK_CRC64NVME: &str = "ae8b14860a799888";

    fn sha256(hex_digest: &str) -> [u8; 32] {
        hex::decode(hex_digest)
            .ok()
            .and_then(|v| v.try_into().ok())
            .expect("test constant")
    }

    fn md5(hex_digest: &str) -> [u8; 16] {
        hex::decode(hex_digest)
            .ok()
            .and_then(|v| v.try_into().ok())
            .expect("test constant")
    }

    fn from_hex(hex_digest: &str) -> Vec<u8> {
        hex::decode(hex_digest).expect("test constant")
    }

    /// Expectations of "123456789" with every checksum from the CRC catalogue, and length.
    fn check_input_expectations() -> PayloadExpectations {
        PayloadExpectations {
            declared_length: Some(CHECK_INPUT.len() as u64),
            checksums: vec![
                (ChecksumAlgorithm::Crc32, from_hex(CHECK_CRC32)),
                (ChecksumAlgorithm::Crc32c, from_hex(CHECK_CRC32C)),
                (ChecksumAlgorithm::Crc64Nvme, from_hex(CHECK_CRC64NVME)),
            ],
            ..Default::default()
        }
    }

    /// Expectations of "abc": length, SHA-256, MD5, SHA-1 and SHA-256 checksums.
    fn abc_expectations() -> PayloadExpectations {
        PayloadExpectations {
            declared_length: Some(3),
            sha256: Some(sha256(ABC_SHA256)),
            content_md5: Some(md5(ABC_MD5)),
            checksums: vec![
                (ChecksumAlgorithm::Sha1, from_hex(ABC_SHA1)),
                (ChecksumAlgorithm::Sha256, from_hex(ABC_SHA256)),
            ],
            compute_md5: false,
        }
    }

    use crate::body::test_driver::{run, Run};

    fn run_whole(expect: PayloadExpectations, body: &[u8]) -> Run {
        run(&mut PayloadVerifier::new(expect), &[body])
    }

    /// Assert success and that the released bytes are the body, with the tail only at finish.
    fn assert_released_whole_body(run: Run, body: &[u8], context: &str) {
        let tail = run.outcome.unwrap_or_else(|e| panic!("{context}: {e}"));
        if !body.is_empty() {
            assert!(
                run.before_finish.len() < body.len(),
                "{context}: last byte released early"
            );
            assert!(!tail.is_empty(), "{context}: finish released nothing");
        }
        let mut all = run.before_finish;
        all.extend_from_slice(&tail);
        assert_eq!(all, body, "{context}");
    }

    /// Assert the error code and that the body's last byte never went out.
    fn assert_refused(run: Run, body: &[u8], code: S3ErrorCode) -> S3Error {
        let err = run.outcome.expect_err("must be refused");
        assert_eq!(err.code, code, "{err}");
        assert!(
            run.before_finish.len() < body.len().max(1),
            "the held-back tail was released"
        );
        assert_eq!(
            run.before_finish,
            body[..run.before_finish.len()],
            "released wrong bytes"
        );
        err
    }

    #[test]
    fn s3_doc_body_passes_its_published_sha256_at_every_split() {
        let body = S3_DOC_BODY;
        let expect = PayloadExpectations {
            declared_length: Some(body.len() as u64),
            sha256: Some(sha256(S3_DOC_BODY_SHA256)),
            compute_md5: true,
            ..Default::default()
        };
        for split in 0..=body.len() {
            let mut verifier = PayloadVerifier::new(expect.clone());
            let run = run(&mut verifier, &[&body[..split], &body[split..]]);
            assert_released_whole_body(run, body, &format!("split at {split}"));
            assert!(verifier.md5_hex().is_some());
        }
    }

    #[test]
    fn every_check_passes_at_every_pair_of_splits() {
        for (expect, body) in [
            (abc_expectations(), &b"abc"[..]),
            (check_input_expectations(), CHECK_INPUT),
        ] {
            for first in 0..=body.len() {
                for second in first..=body.len() {
                    let pieces = [&body[..first], &body[first..second], &body[second..]];
                    let run = run(&mut PayloadVerifier::new(expect.clone()), &pieces);
                    assert_released_whole_body(run, body, &format!("splits {first},{second}"));
                }
            }
        }
    }

    #[test]
    fn one_byte_pieces_release_everything_but_the_last_byte_before_finish() {
        let pieces: Vec<&[u8]> = CHECK_INPUT.chunks(1).collect();
        let run = run(
            &mut PayloadVerifier::new(check_input_expectations()),
            &pieces,
        );
        assert_eq!(run.before_finish, &CHECK_INPUT[..CHECK_INPUT.len() - 1]);
        assert_released_whole_body(run, CHECK_INPUT, "one byte pieces");
    }

    #[test]
    fn md5_hex_is_the_rfc_1321_value_and_only_after_finish() {
        let expect = PayloadExpectations {
            compute_md5: true,
            ..Default::default()
        };
        let mut verifier = PayloadVerifier::new(expect);
        assert!(verifier.feed(Bytes::from_static(b"abc")).is_ok());
        assert_eq!(verifier.md5_hex(), None);
        assert!(verifier.finish().is_ok());
        assert_eq!(verifier.md5_hex().as_deref(), Some(ABC_MD5));
    }

    #[test]
    fn md5_is_not_computed_when_nobody_needs_it() {
        let expect = PayloadExpectations {
            sha256: Some(sha256(ABC_SHA256)),
            ..Default::default()
        };
        let mut verifier = PayloadVerifier::new(expect);
        assert_released_whole_body(run(&mut verifier, &[b"abc"]), b"abc", "abc");
        assert_eq!(verifier.md5_hex(), None);
    }

    #[test]
    fn zero_length_body_checks_the_digests_of_the_empty_string() {
        let expect = PayloadExpectations {
            declared_length: Some(0),
            sha256: Some(sha256(EMPTY_SHA256)),
            content_md5: Some(md5(EMPTY_MD5)),
            ..Default::default()
        };
        let mut verifier = PayloadVerifier::new(expect.clone());
        assert_eq!(verifier.finish().ok(), Some(Bytes::new()));
        assert_eq!(verifier.md5_hex().as_deref(), Some(EMPTY_MD5));

        let wrong_sha = PayloadExpectations {
            sha256: Some(sha256(ABC_SHA256)),
            ..expect.clone()
        };
        let err = PayloadVerifier::new(wrong_sha)
            .finish()
            .expect_err("not the empty digest");
        assert_eq!(err.code, S3ErrorCode::XAmzContentSHA256Mismatch);

        let wrong_md5 = PayloadExpectations {
            content_md5: Some(md5(ABC_MD5)),
            ..expect
        };
        let err = PayloadVerifier::new(wrong_md5)
            .finish()
            .expect_err("not the empty digest");
        assert_eq!(err.code, S3ErrorCode::BadDigest);
    }

    #[test]
    fn empty_pieces_release_nothing_and_keep_the_tail_held() {
        let mut verifier = PayloadVerifier::new(abc_expectations());
        assert_eq!(
            verifier.feed(Bytes::from_static(b"abc")).ok(),
            Some(Bytes::new())
        );
        assert_eq!(verifier.feed(Bytes::new()).ok(), Some(Bytes::new()));
        assert_eq!(verifier.finish().ok(), Some(Bytes::from_static(b"abc")));
    }

    #[test]
    fn pieces_are_released_without_copying() {
        let first = Bytes::from_static(b"ab");
        let mut verifier = PayloadVerifier::new(abc_expectations());
        assert_eq!(verifier.feed(first.clone()).ok(), Some(Bytes::new()));
        let released = verifier.feed(Bytes::from_static(b"c")).expect("fits");
        assert_eq!(
            released.as_ptr(),
            first.as_ptr(),
            "the very same buffer comes back"
        );
    }

    // ---- each check tampered with exactly once ----

    #[test]
    fn flipped_body_byte_fails_sha256() {
        let expect = PayloadExpectations {
            sha256: Some(sha256(S3_DOC_BODY_SHA256)),
            ..Default::default()
        };
        let mut body = S3_DOC_BODY.to_vec();
        body[7] ^= 0x01;
        let err = assert_refused(
            run_whole(expect, &body),
            &body,
            S3ErrorCode::XAmzContentSHA256Mismatch,
        );
        assert_eq!(
            err.message,
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        );
    }

    #[test]
    fn flipped_body_byte_fails_content_md5() {
        let expect = PayloadExpectations {
            content_md5: Some(md5(ABC_MD5)),
            ..Default::default()
        };
        assert_refused(run_whole(expect, b"abd"), b"abd", S3ErrorCode::BadDigest);
    }

    #[test]
    fn flipped_body_byte_fails_each_checksum() {
        let mut body = CHECK_INPUT.to_vec();
        body[0] ^= 0x80;
        for (algorithm, digest) in check_input_expectations().checksums {
            let expect = PayloadExpectations {
                checksums: vec![(algorithm, digest)],
                ..Default::default()
            };
            let err = assert_refused(run_whole(expect, &body), &body, S3ErrorCode::BadDigest);
            assert!(err.message.contains(algorithm.algorithm_name()), "{err}");
        }
    }

    #[test]
    fn wrong_declared_sha256_is_refused() {
        let mut expect = abc_expectations();
        expect.sha256 = Some(sha256(EMPTY_SHA256));
        assert_refused(
            run_whole(expect, b"abc"),
            b"abc",
            S3ErrorCode::XAmzContentSHA256Mismatch,
        );
    }

    #[test]
    fn wrong_content_md5_is_refused() {
        let mut expect = abc_expectations();
        expect.content_md5 = Some(md5(EMPTY_MD5));
        let err = assert_refused(run_whole(expect, b"abc"), b"abc", S3ErrorCode::BadDigest);
        assert_eq!(
            err.message,
            "The Content-MD5 you specified did not match what we received."
        );
    }

    #[test]
    fn each_wrong_checksum_is_refused_naming_its_algorithm() {
        let cases = [
            (abc_expectations(), &b"abc"[..]),
            (check_input_expectations(), CHECK_INPUT),
        ];
        for (expect, body) in cases {
            for index in 0..expect.checksums.len() {
                let mut tampered = expect.clone();
                tampered.checksums[index].1[0] ^= 0x01;
                let algorithm = tampered.checksums[index].0;
                let err = assert_refused(run_whole(tampered, body), body, S3ErrorCode::BadDigest);
                assert_eq!(
                    err.message,
                    format!(
                        "The {} you specified did not match the calculated checksum.",
                        algorithm.algorithm_name()
                    )
                );
            }
        }
    }

    #[test]
    fn crc32_mismatch_message_is_the_one_s3_sends() {
        let expect = PayloadExpectations {
            checksums: vec![(ChecksumAlgorithm::Crc32, vec![0; 4])],
            ..Default::default()
        };
        let err = run_whole(expect, CHECK_INPUT)
            .outcome
            .expect_err("wrong crc");
        assert_eq!(
            err.message,
            "The CRC32 you specified did not match the calculated checksum."
        );
    }

    #[test]
    fn short_body_is_incomplete() {
        let mut expect = abc_expectations();
        expect.declared_length = Some(4);
        let err = assert_refused(
            run_whole(expect, b"abc"),
            b"abc",
            S3ErrorCode::IncompleteBody,
        );
        assert_eq!(
            err.message,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        );
    }

    #[test]
    fn long_body_is_refused_at_once_and_never_over_released() {
        let mut expect = abc_expectations();
        expect.declared_length = Some(2);
        for split in 0..=3 {
            let mut verifier = PayloadVerifier::new(expect.clone());
            let run = run(&mut verifier, &[&b"abc"[..split], &b"abc"[split..]]);
            assert!(
                run.before_finish.len() < 2,
                "split {split}: released past the length"
            );
            let err = run.outcome.expect_err("too long");
            assert_eq!(err.code, S3ErrorCode::InvalidRequest);
            // The failure sticks: finishing afterwards releases nothing.
            assert_eq!(
                verifier.finish().err().map(|e| e.code),
                Some(S3ErrorCode::InvalidRequest)
            );
        }
    }

    #[test]
    fn length_is_checked_before_digests() {
        let mut expect = abc_expectations();
        expect.declared_length = Some(4);
        expect.sha256 = Some(sha256(EMPTY_SHA256));
        let err = run_whole(expect, b"abc")
            .outcome
            .expect_err("short and wrong");
        assert_eq!(err.code, S3ErrorCode::IncompleteBody);
    }

    #[test]
    fn sha256_is_checked_before_md5_and_md5_before_checksums() {
        let mut expect = abc_expectations();
        expect.sha256 = Some(sha256(EMPTY_SHA256));
        expect.content_md5 = Some(md5(EMPTY_MD5));
        expect.checksums[0].1[0] ^= 1;
        let err = run_whole(expect.clone(), b"abc")
            .outcome
            .expect_err("all wrong");
        assert_eq!(err.code, S3ErrorCode::XAmzContentSHA256Mismatch);
        expect.sha256 = Some(sha256(ABC_SHA256));
        let err = run_whole(expect, b"abc")
            .outcome
            .expect_err("md5 and checksum wrong");
        assert_eq!(
            err.message,
            "The Content-MD5 you specified did not match what we received."
        );
    }

    #[test]
    fn failure_drops_the_tail_and_sticks() {
        let mut expect = abc_expectations();
        expect.sha256 = Some(sha256(EMPTY_SHA256));
        let mut verifier = PayloadVerifier::new(expect);
        assert_eq!(
            verifier.feed(Bytes::from_static(b"abc")).ok(),
            Some(Bytes::new())
        );
        assert!(verifier.finish().is_err());
        assert!(verifier.finish().is_err());
        assert!(verifier.feed(Bytes::from_static(b"x")).is_err());
        assert_eq!(verifier.md5_hex(), None);
    }

    #[test]
    fn reset_replays_like_a_fresh_verifier() {
        let mut verifier = PayloadVerifier::new(abc_expectations());
        // First attempt: broken off after part of the body (a retried upstream connection).
        assert!(verifier.feed(Bytes::from_static(b"ab")).is_ok());
        verifier.reset();
        assert_released_whole_body(run(&mut verifier, &[b"a", b"bc"]), b"abc", "after reset");
        // Even a failed verifier comes back.
        verifier.reset();
        assert!(verifier.feed(Bytes::from_static(b"abcd")).is_err());
        verifier.reset();
        assert_eq!(verifier.md5_hex(), None);
        assert_released_whole_body(run(&mut verifier, &[b"abc"]), b"abc", "after failure");
        assert_eq!(verifier.md5_hex().as_deref(), Some(ABC_MD5));
    }

    #[test]
    fn without_any_expectation_the_tail_is_still_held_until_finish() {
        let mut verifier = PayloadVerifier::new(PayloadExpectations::default());
        assert_released_whole_body(run(&mut verifier, &[b"ab", b"c"]), b"abc", "no checks");
    }

    // ---- from_headers ----

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let name = http::HeaderName::from_bytes(name.as_bytes()).expect("test header name");
            map.append(
                name,
                HeaderValue::from_str(value).expect("test header value"),
            );
        }
        map
    }

    /// One checksum algorithm per request (S3 refuses two, see `body::claims`): each of the
    /// catalogue's CRCs in turn, with the length, the MD5 and the headers that are no claims.
    #[test]
    fn from_headers_reads_length_md5_and_every_checksum() {
        let md5_b64 = to_base64(&md5(ABC_MD5));
        let header_names = [
            "X-Amz-Checksum-CRC32",
            "x-amz-checksum-crc32c",
            "x-amz-checksum-crc64nvme",
        ];
        let wanted = check_input_expectations().checksums;
        assert_eq!(wanted.len(), header_names.len());
        for (name, (algorithm, digest)) in header_names.into_iter().zip(wanted) {
            let value = to_base64(&digest);
            let map = headers(&[
                ("Content-Length", "9"),
                ("Content-MD5", &md5_b64),
                (name, &value),
                ("x-amz-checksum-type", "FULL_OBJECT"),
                ("x-amz-sdk-checksum-algorithm", algorithm.algorithm_name()),
            ]);
            let expect = PayloadExpectations::from_headers(&map, None).expect("valid headers");
            assert_eq!(expect.declared_length, Some(9));
            assert_eq!(expect.content_md5, Some(md5(ABC_MD5)));
            assert_eq!(expect.sha256, None);
            assert!(!expect.compute_md5);
            assert_eq!(
                expect.checksums,
                vec![(algorithm, digest.clone())],
                "{name}"
            );
            // The md5 is of "abc", the body "123456789": the md5 check is what fails.
            let err = run_whole(expect.clone(), CHECK_INPUT)
                .outcome
                .expect_err("md5 of other body");
            assert_eq!(err.code, S3ErrorCode::BadDigest);
            assert!(err.message.contains("Content-MD5"));
            // Without the MD5, the checksum passes the body it was computed from.
            let without_md5 = PayloadExpectations {
                content_md5: None,
                ..expect
            };
            assert_released_whole_body(run_whole(without_md5, CHECK_INPUT), CHECK_INPUT, name);
        }
    }

    #[test]
    fn from_head_reads_the_claims_of_a_presigned_query() {
        // botocore's SigV2 presigned PUT with ContentMD5: `content-md5` in the query.
        let map = headers(&[("content-length", "3")]);
        let query = "AWSAccessKeyId=AKID&content-md5=kAFQmDzST7DWlj99KOF%2Fcg%3D%3D&Expires=1";
        let expect = PayloadExpectations::from_head(&map, query, None).expect("valid query");
        assert_eq!(expect.content_md5, Some(md5(ABC_MD5)));
        assert_released_whole_body(run_whole(expect.clone(), b"abc"), b"abc", "md5 in query");
        assert_refused(run_whole(expect, b"abd"), b"abd", S3ErrorCode::BadDigest);
        // A hoisted x-amz-checksum-sha256 (SHA-256 of "abc", FIPS 180, in base64).
        let query = "x-amz-checksum-sha256=ungWv48Bz%2BpBQUDeXa4iI7ADYaOWF3qctBD%2FYfIAFa0%3D";
        let expect = PayloadExpectations::from_head(&map, query, None).expect("valid query");
        assert_eq!(
            expect.checksums,
            vec![(ChecksumAlgorithm::Sha256, from_hex(ABC_SHA256))]
        );
        assert_refused(run_whole(expect, b"abd"), b"abd", S3ErrorCode::BadDigest);
    }

    #[test]
    fn a_trailer_cannot_come_with_a_plain_body() {
        let map = headers(&[
            ("content-length", "3"),
            ("x-amz-trailer", "x-amz-checksum-crc32"),
        ]);
        let err = PayloadExpectations::from_headers(&map, None).expect_err("no trailer section");
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);
        assert!(err.message.contains("x-amz-checksum-crc32"), "{err}");
    }

    #[test]
    fn s3_doc_streaming_trailer_crc32c_verifies_66560_bytes_of_a() {
        // sigv4-streaming-trailers example: the decoded body is 66,560 bytes of 'a' and its
        // x-amz-checksum-crc32c is sOO8/Q==.
        let map = headers(&[
            ("content-length", "66560"),
            ("x-amz-checksum-crc32c", "sOO8/Q=="),
        ]);
        let expect = PayloadExpectations::from_headers(&map, None).expect("valid headers");
        let body = vec![b'a'; 66_560];
        let run = run(
            &mut PayloadVerifier::new(expect),
            &[&body[..65_536], &body[65_536..]],
        );
        assert_released_whole_body(run, &body, "doc example");
    }

    #[test]
    fn from_headers_passes_the_signed_sha256_through() {
        let digest = sha256(S3_DOC_BODY_SHA256);
        let expect = PayloadExpectations::from_headers(&HeaderMap::new(), Some(digest));
        assert_eq!(expect.map(|e| e.sha256), Ok(Some(digest)));
    }

    #[test]
    fn content_length_must_be_plain_digits() {
        for bad in [
            "",
            "-1",
            "+3",
            "1 2",
            "0x10",
            "3, 3",
            "18446744073709551616",
            "1.0",
        ] {
            let err = PayloadExpectations::from_headers(&headers(&[("content-length", bad)]), None)
                .expect_err(bad);
            assert_eq!(err.code, S3ErrorCode::InvalidRequest, "{bad:?}");
        }
        let max = headers(&[("content-length", "18446744073709551615")]);
        assert_eq!(
            PayloadExpectations::from_headers(&max, None).map(|e| e.declared_length),
            Ok(Some(u64::MAX))
        );
    }

    #[test]
    fn repeated_content_length_must_agree() {
        let same = headers(&[("content-length", "3"), ("content-length", "3")]);
        assert_eq!(
            PayloadExpectations::from_headers(&same, None).map(|e| e.declared_length),
            Ok(Some(3))
        );
        let differing = headers(&[("content-length", "3"), ("content-length", "4")]);
        let err = PayloadExpectations::from_headers(&differing, None).expect_err("conflict");
        assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    }

    #[test]
    fn bad_content_md5_is_invalid_digest() {
        let fifteen_bytes = to_base64(&[0u8; 15]);
        for bad in [
            "",
            "not base64!",
            fifteen_bytes.as_str(),
            "kAFQmDzST7DWlj99KOF/cg",
        ] {
            let err = PayloadExpectations::from_headers(&headers(&[("content-md5", bad)]), None)
                .expect_err(bad);
            assert_eq!(err.code, S3ErrorCode::InvalidDigest, "{bad:?}");
        }
        let differing = headers(&[
            ("content-md5", &to_base64(&md5(ABC_MD5))),
            ("content-md5", &to_base64(&md5(EMPTY_MD5))),
        ]);
        let err = PayloadExpectations::from_headers(&differing, None).expect_err("conflict");
        assert_eq!(err.code, S3ErrorCode::InvalidDigest);
    }

    #[test]
    fn bad_checksum_value_is_invalid_request_naming_the_header() {
        for algorithm in ChecksumAlgorithm::ALL {
            let too_short = to_base64(&vec![0u8; algorithm.digest_len() - 1]);
            for bad in ["%%%%", too_short.as_str()] {
                let map = headers(&[(algorithm.header_name(), bad)]);
                let err = PayloadExpectations::from_headers(&map, None).expect_err(bad);
                assert_eq!(err.code, S3ErrorCode::InvalidRequest);
                assert_eq!(
                    err.message,
                    format!("Value for {} header is invalid.", algorithm.header_name())
                );
            }
        }
    }

    proptest! {
        #[test]
        fn any_split_releases_exactly_the_body(
            body in proptest::collection::vec(any::<u8>(), 0..3000),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            points.sort_unstable();
            let mut pieces: Vec<&[u8]> = Vec::new();
            let mut start = 0;
            for point in points.into_iter().chain([body.len()]) {
                pieces.push(&body[start..point]);
                start = point;
            }
            let mut expect = PayloadExpectations {
                declared_length: Some(body.len() as u64),
                sha256: Some(Sha256::digest(&body).into()),
                content_md5: Some(Md5::digest(&body)),
                checksums: Vec::new(),
                compute_md5: false,
            };
            for algorithm in ChecksumAlgorithm::ALL {
                let mut checksummer = algorithm.checksummer();
                checksummer.update(&body);
                expect.checksums.push((algorithm, checksummer.finalize()));
            }
            let run = run(&mut PayloadVerifier::new(expect), &pieces);
            let tail = run.outcome.map_err(|e| TestCaseError::fail(e.to_string()))?;
            if !body.is_empty() {
                prop_assert!(run.before_finish.len() < body.len());
            }
            let mut all = run.before_finish;
            all.extend_from_slice(&tail);
            prop_assert_eq!(all, body);
        }
    }
}
