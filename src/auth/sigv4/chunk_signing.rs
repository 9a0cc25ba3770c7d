//! The signatures of an aws-chunked body (Amazon S3 API Reference, "Signature Version 4: chunked
//! upload" and "… with trailing headers"): each chunk is signed over the signature before it,
//! starting from the seed (the request's own signature), and the trailers over the final chunk's.
//! They sit here, beside the key derivation, so that `body::chunked` only frames bytes and asks
//! [`ChunkSigner::check_chunk`] / [`ChunkSigner::check_trailer`]; both end in
//! [`signing::signature_is_valid`], the one place a SigV4 signature meets a key.

use super::signing::{self, SigningKey, ALGORITHM};
use super::Authorized;

/// Lower-case hex SHA-256 of the empty string: the fifth line of every chunk string to sign.
const EMPTY_SHA256_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The keys and values that chain the signatures of a signed aws-chunked body: each chunk is
/// signed over the signature before it, starting from the seed (the request's own signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSigner {
    signing_key: SigningKey,
    /// `YYYYMMDDTHHMMSSZ`, the request date.
    amz_date: String,
    /// `YYYYMMDD/region/s3/aws4_request`.
    scope: String,
    /// The verified signature of the request head, lower-case hex.
    seed_signature: String,
}

impl ChunkSigner {
    /// A signer from its parts: the derived signing key, the request date (`YYYYMMDDTHHMMSSZ`),
    /// the credential scope (`YYYYMMDD/region/s3/aws4_request`) and the seed signature.
    pub fn new(
        signing_key: SigningKey,
        amz_date: impl Into<String>,
        scope: impl Into<String>,
        seed_signature: impl Into<String>,
    ) -> ChunkSigner {
        ChunkSigner {
            signing_key,
            amz_date: amz_date.into(),
            scope: scope.into(),
            seed_signature: seed_signature.into(),
        }
    }

    /// The signer of a request whose head `sigv4::verify` accepted.
    pub fn from_authorized(authorized: &Authorized) -> ChunkSigner {
        ChunkSigner::new(
            authorized.signing_key.clone(),
            authorized.amz_date.clone(),
            authorized.scope.to_scope_string(),
            authorized.signature.clone(),
        )
    }

    /// The signature the first chunk is chained to.
    pub fn seed_signature(&self) -> &str {
        &self.seed_signature
    }

    /// The string to sign of one chunk:
    ///
    /// ```text
    /// AWS4-HMAC-SHA256-PAYLOAD\n
    /// <request date>\n
    /// <credential scope>\n
    /// <previous signature>\n
    /// <hex SHA-256 of "">\n
    /// <hex SHA-256 of the chunk data>
    /// ```
    pub fn chunk_string_to_sign(&self, previous_signature: &str, data_sha256: &[u8; 32]) -> String {
        let mut out = self.string_to_sign_head("-PAYLOAD", previous_signature);
        out.push_str(EMPTY_SHA256_HEX);
        out.push('\n');
        out.push_str(&hex::encode(data_sha256));
        out
    }

    /// `hex(HMAC(signing key, chunk string to sign))`.
    pub fn chunk_signature(&self, previous_signature: &str, data_sha256: &[u8; 32]) -> String {
        signing::signature_hex(
            &self.signing_key,
            &self.chunk_string_to_sign(previous_signature, data_sha256),
        )
    }

    /// Whether `claimed` is the signature of a chunk chained to `previous_signature`; on a
    /// mismatch, the string to sign (for the error's diagnostics).
    pub fn check_chunk(
        &self,
        previous_signature: &str,
        data_sha256: &[u8; 32],
        claimed: &str,
    ) -> Result<(), String> {
        self.check(
            self.chunk_string_to_sign(previous_signature, data_sha256),
            claimed,
        )
    }

    /// The string to sign of the trailers:
    ///
    /// ```text
    /// AWS4-HMAC-SHA256-TRAILER\n
    /// <request date>\n
    /// <credential scope>\n
    /// <signature of the final chunk>\n
    /// <hex SHA-256 of the canonical trailers>
    /// ```
    ///
    /// The canonical trailers are `name:value\n` for each trailer but the signature itself, the
    /// name in lower case and the value trimmed.
    pub fn trailer_string_to_sign(
        &self,
        previous_signature: &str,
        canonical_trailers_sha256: &[u8; 32],
    ) -> String {
        let mut out = self.string_to_sign_head("-TRAILER", previous_signature);
        out.push_str(&hex::encode(canonical_trailers_sha256));
        out
    }

    /// `hex(HMAC(signing key, trailer string to sign))`.
    pub fn trailer_signature(
        &self,
        previous_signature: &str,
        canonical_trailers_sha256: &[u8; 32],
    ) -> String {
        signing::signature_hex(
            &self.signing_key,
            &self.trailer_string_to_sign(previous_signature, canonical_trailers_sha256),
        )
    }

    /// Whether `claimed` is the trailer signature over trailers with this canonical SHA-256,
    /// chained to the final chunk's signature; on a mismatch, the string to sign.
    pub fn check_trailer(
        &self,
        previous_signature: &str,
        canonical_trailers_sha256: &[u8; 32],
        claimed: &str,
    ) -> Result<(), String> {
        let string_to_sign =
            self.trailer_string_to_sign(previous_signature, canonical_trailers_sha256);
        self.check(string_to_sign, claimed)
    }

    /// `Ok` when `claimed` signs `string_to_sign` under this key, else the string to sign.
    fn check(&self, string_to_sign: String, claimed: &str) -> Result<(), String> {
        if signing::signature_is_valid(&self.signing_key, &string_to_sign, claimed) {
            Ok(())
        } else {
            Err(string_to_sign)
        }
    }

    /// The first four lines shared by the chunk and trailer strings to sign.
    fn string_to_sign_head(&self, algorithm_suffix: &str, previous_signature: &str) -> String {
        let mut out = String::with_capacity(
            ALGORITHM.len() + 9 + self.amz_date.len() + self.scope.len() + 2 * 64 + 70,
        );
        out.push_str(ALGORITHM);
        out.push_str(algorithm_suffix);
        out.push('\n');
        out.push_str(&self.amz_date);
        out.push('\n');
        out.push_str(&self.scope);
        out.push('\n');
        out.push_str(previous_signature);
        out.push('\n');
        out
    }
}
