//! Sans-I/O body verifiers: fed the bytes of the client's body in arbitrary pieces, they hand back
//! the bytes that may be forwarded upstream now, and at the end either release the rest or fail.
//!
//! The rule they all keep: **bytes that fail verification never become an object upstream.** The
//! upstream has already seen the request header with its Content-Length, so a verifier can only
//! protect the backend by holding back the final byte(s) until every check has passed: on failure
//! the proxy aborts the upstream request and the backend discards a short body.

pub mod checksum;
pub mod chunked;
pub mod claims;
pub mod delete_list;
pub(crate) mod holdback;
pub mod md5;
pub mod payload;
pub mod plan;

use bytes::Bytes;

use crate::error::S3Error;

/// A streaming verifier of a request body.
pub trait BodyVerifier: Send + Sync {
    /// Take the next piece of the client's body (any split, possibly empty). Returns the bytes
    /// that are safe to forward now (possibly empty). An error means: abort the upstream request.
    fn feed(&mut self, input: Bytes) -> Result<Bytes, S3Error>;

    /// The client's body has ended. Returns the held-back remainder if every check passed.
    fn finish(&mut self) -> Result<Bytes, S3Error>;

    /// Back to the state before the first `feed`, same expectations: a retried upstream request
    /// replays the body from its first byte, so the proxy resets before each attempt.
    fn reset(&mut self);

    /// Lower-case hex MD5 of the payload (the ETag a plain HTTP backend does not give), after a
    /// successful `finish`, when the expectations asked for it.
    fn md5_hex(&self) -> Option<String>;
}

/// Join pieces into one `Bytes`; without copying when there is only one non-empty piece.
pub(crate) fn join(pieces: &mut Vec<Bytes>) -> Bytes {
    pieces.retain(|piece| !piece.is_empty());
    match pieces.len() {
        0 => Bytes::new(),
        1 => pieces.pop().unwrap_or_default(),
        _ => {
            let total = pieces.iter().map(Bytes::len).sum();
            let mut joined = bytes::BytesMut::with_capacity(total);
            for piece in pieces.drain(..) {
                joined.extend_from_slice(&piece);
            }
            joined.freeze()
        }
    }
}

/// A driver for the verifiers' tests: feed pieces, then finish.
#[cfg(test)]
pub(crate) mod test_driver {
    use bytes::Bytes;

    use super::BodyVerifier;
    use crate::error::S3Error;

    /// What happened when a body was fed in the given pieces.
    #[derive(Debug, PartialEq)]
    pub(crate) struct Run {
        /// Everything released by `feed`.
        pub(crate) before_finish: Vec<u8>,
        /// The first error, or what `finish` released.
        pub(crate) outcome: Result<Bytes, S3Error>,
    }

    /// Feed `pieces` one by one, then finish. A failure must stick: `finish` after it returns
    /// the same error.
    pub(crate) fn run(verifier: &mut dyn BodyVerifier, pieces: &[&[u8]]) -> Run {
        let mut before_finish = Vec::new();
        for piece in pieces {
            match verifier.feed(Bytes::copy_from_slice(piece)) {
                Ok(released) => before_finish.extend_from_slice(&released),
                Err(err) => {
                    assert_eq!(
                        verifier.finish().as_ref().err(),
                        Some(&err),
                        "the failure sticks"
                    );
                    return Run {
                        before_finish,
                        outcome: Err(err),
                    };
                }
            }
        }
        Run {
            before_finish,
            outcome: verifier.finish(),
        }
    }

    /// `body` cut at each of `cuts` (ascending offsets).
    pub(crate) fn split_at<'a>(body: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut pieces = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain([&body.len()]) {
            pieces.push(&body[start..cut]);
            start = cut;
        }
        pieces
    }

    /// xorshift64*: deterministic, dependency-free randomness for the no-panic sweeps.
    pub(crate) struct Rng(pub(crate) u64);

    impl Rng {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// `seed` with one to four random edits (a flipped bit, a byte of `alphabet` — the format's
    /// own syntax —, a deletion, an insertion), then cut at up to five random offsets.
    pub(crate) fn mutated_and_cut(
        seed: &[u8],
        rng: &mut Rng,
        alphabet: &[u8; 8],
    ) -> (Vec<u8>, Vec<usize>) {
        let mut body = seed.to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(body.len());
            match rng.below(4) {
                0 => body[at] ^= 1 << rng.below(8),
                1 => body[at] = alphabet[rng.below(8)],
                2 => {
                    body.remove(at);
                }
                _ => body.insert(at, rng.next() as u8),
            }
        }
        let mut cuts: Vec<usize> = (0..rng.below(6))
            .map(|_| rng.below(body.len() + 1))
            .collect();
        cuts.sort_unstable();
        (body, cuts)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::chunked::{AwsChunkedVerifier, ChunkedExpectations, ChunkedMode};
    use super::payload::{PayloadExpectations, PayloadVerifier};
    use super::BodyVerifier;

    /// RFC 1321's MD5 of "abc".
    const ABC_MD5: &str = "900150983cd24fb0d6963f7d28e17f72";

    /// The proxy resets and reads the ETag through the trait, whichever verifier it holds.
    #[test]
    fn reset_and_md5_hex_through_the_trait() {
        let payload = PayloadVerifier::new(PayloadExpectations {
            declared_length: Some(3),
            compute_md5: true,
            ..PayloadExpectations::default()
        });
        let chunked = AwsChunkedVerifier::new(ChunkedExpectations {
            mode: ChunkedMode::UnsignedWithTrailer,
            decoded_length: 3,
            declared_trailers: Vec::new(),
            header_checksums: Vec::new(),
            content_md5: None,
            max_chunk_size: 1024,
            compute_md5: true,
        })
        .expect("valid expectations");
        let cases: [(Box<dyn BodyVerifier>, &[u8]); 2] = [
            (Box::new(payload), b"abc"),
            (Box::new(chunked), b"3\r\nabc\r\n0\r\n\r\n"),
        ];
        for (mut verifier, body) in cases {
            for _attempt in 0..2 {
                let mut released = verifier
                    .feed(Bytes::from_static(body))
                    .expect("valid")
                    .to_vec();
                assert_eq!(verifier.md5_hex(), None, "not before finish");
                released.extend_from_slice(&verifier.finish().expect("valid"));
                assert_eq!(released, b"abc");
                assert_eq!(verifier.md5_hex().as_deref(), Some(ABC_MD5));
                verifier.reset();
                assert_eq!(verifier.md5_hex(), None, "reset forgets the MD5");
            }
        }
    }
}
