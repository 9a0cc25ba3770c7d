//! The trailer section of an aws-chunked body: each `name:value` line as received, checked
//! against `x-amz-trailer`, and the trailer signature over the canonical trailers, chained to the
//! final chunk's signature.

use sha2::{Digest as _, Sha256};

use super::{AwsChunkedVerifier, ChunkSigner, ChunkedMode, MAX_TRAILERS, TRAILER_SIGNATURE_NAME};
use crate::body::checksum::ChecksumAlgorithm;
use crate::error::{S3Error, S3ErrorCode};

/// One trailer as received.
#[derive(Debug, Clone)]
pub(super) struct ReceivedTrailer {
    pub(super) algorithm: ChecksumAlgorithm,
    /// The trimmed value as sent (for the canonical trailers).
    pub(super) value: String,
    /// The decoded digest.
    pub(super) digest: Vec<u8>,
}

impl AwsChunkedVerifier {
    /// One `name:value` trailer line: well-formed, declared, not repeated, decodable.
    pub(super) fn add_trailer(&mut self, line: &[u8]) -> Result<(), S3Error> {
        self.counts.trailer_count += 1;
        if self.counts.trailer_count > MAX_TRAILERS {
            return Err(self.trailer_error(format_args!("more than {MAX_TRAILERS} trailers")));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(self.trailer_error("a trailer line has no ':'"));
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.is_empty() || !name.iter().all(|&b| is_token_byte(b)) {
            return Err(self.trailer_error("a trailer name is not a valid field name"));
        }
        if !value
            .iter()
            .all(|b| b.is_ascii_graphic() || *b == b' ' || *b == b'\t')
        {
            return Err(self.trailer_error("a trailer value holds a control or non-ASCII byte"));
        }
        // Token bytes and visible ASCII: valid UTF-8.
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let value = String::from_utf8_lossy(value).into_owned();

        if name == TRAILER_SIGNATURE_NAME {
            if !matches!(self.expect.mode, ChunkedMode::SignedWithTrailer(_)) {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    "The trailer x-amz-trailer-signature is only allowed with \
                     STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.",
                ));
            }
            if self.trailer_signature.is_some() {
                return Err(repeated_trailer(&name));
            }
            self.trailer_signature = Some(value);
            return Ok(());
        }
        let algorithm = ChecksumAlgorithm::from_header_name(&name)
            .filter(|algorithm| self.expect.declared_trailers.contains(algorithm))
            .ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::InvalidRequest,
                    format!("The trailer {name} was not declared in x-amz-trailer."),
                )
            })?;
        if self.trailers.iter().any(|t| t.algorithm == algorithm) {
            return Err(repeated_trailer(&name));
        }
        let digest = algorithm.decode_value(value.as_bytes())?;
        self.trailers.push(ReceivedTrailer {
            algorithm,
            value,
            digest,
        });
        Ok(())
    }

    /// The `x-amz-trailer-signature` over the canonical trailers, chained to the final chunk.
    /// Required when a trailer is declared (see the leniencies in the
    /// [module docs](super) for the other case).
    pub(super) fn check_trailer_signature(&self, signer: &ChunkSigner) -> Result<(), S3Error> {
        let Some(claimed) = &self.trailer_signature else {
            if self.expect.declared_trailers.is_empty() {
                return Ok(());
            }
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The trailer x-amz-trailer-signature is missing.",
            ));
        };
        let mut sorted: Vec<&ReceivedTrailer> = self.trailers.iter().collect();
        sorted.sort_by_key(|t| t.algorithm.header_name());
        let wire_order: Vec<&ReceivedTrailer> = self.trailers.iter().collect();
        let mut first_string_to_sign = None;
        for order in [sorted, wire_order] {
            let canonical_sha256: [u8; 32] = Sha256::digest(canonical_trailers(&order)).into();
            match signer.check_trailer(&self.previous_signature, &canonical_sha256, claimed) {
                Ok(()) => return Ok(()),
                Err(string_to_sign) => {
                    first_string_to_sign.get_or_insert(string_to_sign);
                }
            }
        }
        Err(S3Error {
            code: S3ErrorCode::SignatureDoesNotMatch,
            message: "The trailer signature (x-amz-trailer-signature) does not match the \
                      signature we calculated. Check your key and signing method."
                .into(),
            string_to_sign: first_string_to_sign,
            canonical_request: None,
            region: None,
        })
    }
}

/// `name:value\n` for each trailer, in the given order.
fn canonical_trailers(trailers: &[&ReceivedTrailer]) -> String {
    let mut out = String::new();
    for trailer in trailers {
        out.push_str(trailer.algorithm.header_name());
        out.push(':');
        out.push_str(&trailer.value);
        out.push('\n');
    }
    out
}

fn repeated_trailer(name: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidRequest,
        format!("The trailer {name} is sent more than once."),
    )
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
