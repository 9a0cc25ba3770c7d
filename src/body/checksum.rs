//! S3 "additional checksums": the `x-amz-checksum-*` values a client may send with an upload
//! (as a header or as an aws-chunked trailer), and the incremental digests that check them.
//!
//! S3 carries every value as standard base64 (with padding) of the **big-endian** digest bytes:
//! CRC-32 and CRC-32C 4 bytes, CRC-64/NVME 8 bytes, SHA-1 20 bytes, SHA-256 32 bytes
//! (Amazon S3 User Guide, "Checking object integrity"). The CRC parameter sets are the ones of
//! the CRC catalogue: CRC-32/ISO-HDLC, CRC-32/ISCSI and CRC-64/NVME.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use crc_fast::CrcAlgorithm;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

use crate::error::{S3Error, S3ErrorCode};

/// One of the checksum algorithms S3 accepts in `x-amz-checksum-<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    /// CRC-32/ISO-HDLC (the zlib / Ethernet CRC), `x-amz-checksum-crc32`.
    Crc32,
    /// CRC-32/ISCSI (Castagnoli), `x-amz-checksum-crc32c`.
    Crc32c,
    /// CRC-64/NVME, `x-amz-checksum-crc64nvme`.
    Crc64Nvme,
    /// SHA-1, `x-amz-checksum-sha1`.
    Sha1,
    /// SHA-256, `x-amz-checksum-sha256`.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in the order checks are reported.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// The algorithm whose value travels in the header (or trailer) `name`, e.g.
    /// `x-amz-checksum-crc32`. Case-insensitive, as HTTP field names are. `None` for every other
    /// name, including `x-amz-checksum-type` and `x-amz-checksum-algorithm`, which carry
    /// algorithm names rather than values.
    pub fn from_header_name(name: &str) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.header_name().eq_ignore_ascii_case(name))
    }

    /// The algorithm named in `x-amz-sdk-checksum-algorithm` / `x-amz-checksum-algorithm`
    /// (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`; case-insensitive).
    pub fn from_algorithm_name(name: &str) -> Option<ChecksumAlgorithm> {
        ChecksumAlgorithm::ALL
            .into_iter()
            .find(|algorithm| algorithm.algorithm_name().eq_ignore_ascii_case(name))
    }

    /// The lower-case header (and trailer) name carrying this algorithm's value.
    pub fn header_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The name S3 uses for the algorithm in headers and error messages (`CRC32`, …).
    pub fn algorithm_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// Length in bytes of the digest (and of the decoded header value).
    pub fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }

    /// A fresh incremental digest for this algorithm.
    pub fn checksummer(self) -> Checksummer {
        Checksummer::new(self)
    }

    /// Decode a header or trailer value: standard base64 with padding of exactly
    /// [`digest_len`](Self::digest_len) bytes. Surrounding spaces and tabs are not part of an
    /// HTTP field value (RFC 9110 §5.5) and are ignored; anything else wrong is refused with the
    /// message S3 gives, because a value we cannot decode is a value we cannot verify.
    pub fn decode_value(self, value: &[u8]) -> Result<Vec<u8>, S3Error> {
        let invalid = || {
            S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!("Value for {} header is invalid.", self.header_name()),
            )
        };
        let trimmed = value.trim_ascii();
        // Strict decoding: padding required, non-canonical trailing bits refused, so that one
        // digest has exactly one accepted spelling.
        let digest = BASE64.decode(trimmed).map_err(|_| invalid())?;
        if digest.len() != self.digest_len() {
            return Err(invalid());
        }
        Ok(digest)
    }
}

/// The running state of one checksum over a body fed in pieces.
#[derive(Clone)]
pub struct Checksummer {
    algorithm: ChecksumAlgorithm,
    state: ChecksumState,
}

/// The hash crate doing the work for each algorithm.
#[derive(Clone)]
enum ChecksumState {
    /// crc-fast computes all three CRCs (SIMD where the CPU has it); the final value is the low
    /// `digest_len` bytes of its `u64`.
    Crc(crc_fast::Digest),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Checksummer {
    /// A fresh digest for `algorithm`.
    pub fn new(algorithm: ChecksumAlgorithm) -> Checksummer {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => {
                ChecksumState::Crc(crc_fast::Digest::new(CrcAlgorithm::Crc32IsoHdlc))
            }
            ChecksumAlgorithm::Crc32c => {
                ChecksumState::Crc(crc_fast::Digest::new(CrcAlgorithm::Crc32Iscsi))
            }
            ChecksumAlgorithm::Crc64Nvme => {
                ChecksumState::Crc(crc_fast::Digest::new(CrcAlgorithm::Crc64Nvme))
            }
            ChecksumAlgorithm::Sha1 => ChecksumState::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => ChecksumState::Sha256(Sha256::new()),
        };
        Checksummer { algorithm, state }
    }

    /// Which algorithm this computes.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// Add the next piece of the body.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            ChecksumState::Crc(digest) => digest.update(data),
            ChecksumState::Sha1(hasher) => hasher.update(data),
            ChecksumState::Sha256(hasher) => hasher.update(data),
        }
    }

    /// The digest of everything fed so far, big-endian, [`ChecksumAlgorithm::digest_len`]
    /// bytes. Leaves the state untouched, so more data may still follow.
    pub fn finalize(&self) -> Vec<u8> {
        match &self.state {
            ChecksumState::Crc(digest) => {
                let value = digest.finalize().to_be_bytes();
                // A u64 is 8 bytes and digest_len of a CRC is 4 or 8: the slice is in range.
                value[value.len() - self.algorithm.digest_len()..].to_vec()
            }
            ChecksumState::Sha1(hasher) => hasher.clone().finalize().to_vec(),
            ChecksumState::Sha256(hasher) => hasher.clone().finalize().to_vec(),
        }
    }

    /// Back to the digest of nothing.
    pub fn reset(&mut self) {
        *self = Checksummer::new(self.algorithm);
    }
}

impl std::fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checksummer")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The wire form of a digest: standard base64 with padding, as S3 writes it.
pub fn to_base64(digest: &[u8]) -> String {
    BASE64.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check input of the CRC catalogue (reveng.sourceforge.io/crc-catalogue).
    const CRC_CHECK_INPUT: &[u8] = b"123456789";

    fn digest_of(algorithm: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
        let mut checksummer = algorithm.checksummer();
        checksummer.update(data);
        checksummer.finalize()
    }

    #[test]
    fn crc32_matches_catalogue_check_value() {
        // CRC-32/ISO-HDLC check = 0xCBF43926.
        assert_eq!(
            digest_of(ChecksumAlgorithm::Crc32, CRC_CHECK_INPUT),
            0xCBF4_3926u32.to_be_bytes()
        );
    }

    #[test]
    fn crc32c_matches_catalogue_check_value() {
        // CRC-32/ISCSI check = 0xE3069283.
        assert_eq!(
            digest_of(ChecksumAlgorithm::Crc32c, CRC_CHECK_INPUT),
            0xE306_9283u32.to_be_bytes()
        );
    }

    #[test]
    fn crc64nvme_matches_catalogue_check_value() {
        // CRC-64/NVME check = 0xAE8B14860A799888.
        assert_eq!(
            digest_of(ChecksumAlgorithm::Crc64Nvme, CRC_CHECK_INPUT),
            0xAE8B_1486_0A79_9888u64.to_be_bytes()
        );
    }

    #[test]
    fn sha1_matches_fips_180_abc() {
        assert_eq!(
            hex::encode(digest_of(ChecksumAlgorithm::Sha1, b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn sha256_matches_fips_180_abc() {
        assert_eq!(
            hex::encode(digest_of(ChecksumAlgorithm::Sha256, b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn crc32c_of_s3_streaming_trailer_example_is_the_documented_trailer_value() {
        // Amazon S3 API Reference, sigv4-streaming-trailers: 65,536 + 1,024 bytes of 'a' carry
        // the trailer `x-amz-checksum-crc32c:sOO8/Q==`.
        let body = vec![b'a'; 66_560];
        let mut checksummer = ChecksumAlgorithm::Crc32c.checksummer();
        checksummer.update(&body[..65_536]);
        checksummer.update(&body[65_536..]);
        assert_eq!(to_base64(&checksummer.finalize()), "sOO8/Q==");
        assert_eq!(
            ChecksumAlgorithm::Crc32c.decode_value(b"sOO8/Q==").ok(),
            Some(checksummer.finalize())
        );
    }

    #[test]
    fn digest_does_not_depend_on_how_the_input_is_split() {
        for algorithm in ChecksumAlgorithm::ALL {
            let whole = digest_of(algorithm, CRC_CHECK_INPUT);
            for split in 0..=CRC_CHECK_INPUT.len() {
                let mut checksummer = algorithm.checksummer();
                checksummer.update(&CRC_CHECK_INPUT[..split]);
                checksummer.update(&CRC_CHECK_INPUT[split..]);
                assert_eq!(
                    checksummer.finalize(),
                    whole,
                    "{algorithm:?} split at {split}"
                );
            }
        }
    }

    #[test]
    fn finalize_leaves_state_and_reset_restores_the_empty_digest() {
        for algorithm in ChecksumAlgorithm::ALL {
            let empty = algorithm.checksummer().finalize();
            assert_eq!(empty.len(), algorithm.digest_len());
            let mut checksummer = algorithm.checksummer();
            checksummer.update(b"12345");
            let _ = checksummer.finalize();
            checksummer.update(b"6789");
            assert_eq!(
                checksummer.finalize(),
                digest_of(algorithm, CRC_CHECK_INPUT)
            );
            checksummer.reset();
            assert_eq!(checksummer.finalize(), empty);
        }
    }

    #[test]
    fn header_names_round_trip_case_insensitively() {
        for algorithm in ChecksumAlgorithm::ALL {
            assert_eq!(
                ChecksumAlgorithm::from_header_name(algorithm.header_name()),
                Some(algorithm)
            );
            let upper = algorithm.header_name().to_ascii_uppercase();
            assert_eq!(ChecksumAlgorithm::from_header_name(&upper), Some(algorithm));
            let lower = algorithm.algorithm_name().to_ascii_lowercase();
            assert_eq!(
                ChecksumAlgorithm::from_algorithm_name(&lower),
                Some(algorithm)
            );
        }
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-type"),
            None
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-algorithm"),
            None
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-crc3"),
            None
        );
    }

    #[test]
    fn decode_value_refuses_bad_base64_and_wrong_length() {
        let crc32 = ChecksumAlgorithm::Crc32;
        assert_eq!(
            crc32.decode_value(b"y/Q5Jg==").ok(),
            Some(vec![0xCB, 0xF4, 0x39, 0x26])
        );
        assert!(
            crc32.decode_value(b" y/Q5Jg==\t").is_ok(),
            "optional whitespace is not value"
        );
        for bad in [
            &b"y/Q5Jg"[..],
            b"y/Q5Jg=",
            b"y/Q5J*==",
            b"AAAAAAA=",
            b"",
            b"y/Q5Jh==",
        ] {
            let err = crc32.decode_value(bad).expect_err("must be refused");
            assert_eq!(err.code, S3ErrorCode::InvalidRequest);
            assert_eq!(
                err.message,
                "Value for x-amz-checksum-crc32 header is invalid."
            );
        }
        // A SHA-256 value must be 32 bytes: a CRC-sized value is refused.
        assert!(ChecksumAlgorithm::Sha256.decode_value(b"y/Q5Jg==").is_err());
    }
}
