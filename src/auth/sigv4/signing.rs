//! String to sign, signing-key derivation and HMAC (SigV4 "Calculate the signature").
//!
//! The three steps after the canonical request, each a pure function so the vector tests can
//! compare them one at a time: [`string_to_sign`], [`derive_signing_key`], [`signature_hex`].
//! [`signature_is_valid`] is the one place a client's SigV4 signature meets a key: the header,
//! presigned, chunk, trailer and POST-form checks all end there (SigV4A, whose ECDSA signatures
//! are randomized and must be verified rather than recomputed, will have its own sibling).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// The only algorithm this module signs with, as it appears in the `Authorization` header, the
/// `X-Amz-Algorithm` parameter and the first line of the string to sign.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

type HmacSha256 = Hmac<Sha256>;

/// A derived SigV4 signing key (`kSigning`). Redacted in `Debug`, zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// Wrap raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SigningKey(bytes)
    }
    /// The raw key bytes, for HMAC.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // new_from_slice cannot fail: HMAC accepts keys of any length.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn derive_signing_key(secret: &str, date: &str, region: &str, service: &str) -> SigningKey {
    let mut k_secret = format!("AWS4{secret}").into_bytes();
    let k_date = hmac_sha256(&k_secret, date.as_bytes());
    k_secret.zeroize();
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    SigningKey(hmac_sha256(&k_service, b"aws4_request"))
}

/// The SigV4 string to sign:
///
/// ```text
/// AWS4-HMAC-SHA256\n
/// <request date, YYYYMMDDTHHMMSSZ>\n
/// <credential scope, YYYYMMDD/region/service/aws4_request>\n
/// <lower-case hex SHA-256 of the canonical request>
/// ```
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let hashed_request = Sha256::digest(canonical_request.as_bytes());
    let mut out = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 67);
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(amz_date);
    out.push('\n');
    out.push_str(scope);
    out.push('\n');
    push_lower_hex(&mut out, &hashed_request);
    out
}

/// `hex(HMAC(kSigning, string_to_sign))`, lower-case as clients send it.
pub fn signature_hex(key: &SigningKey, string_to_sign: &str) -> String {
    let mut out = String::with_capacity(64);
    push_lower_hex(
        &mut out,
        &hmac_sha256(key.as_bytes(), string_to_sign.as_bytes()),
    );
    out
}

/// Append lower-case hex; on the hot path of every request, so without `hex`'s per-char
/// iterator.
fn push_lower_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
}

/// Whether `claimed_hex` is the signature of `string_to_sign` under `key`: recomputed, then
/// compared in constant time. Every SigV4 signature check goes through here.
pub fn signature_is_valid(key: &SigningKey, string_to_sign: &str, claimed_hex: &str) -> bool {
    signatures_match(&signature_hex(key, string_to_sign), claimed_hex)
}

/// Whether the signature we computed equals the one the client sent. Constant time in the
/// content, so a client cannot learn a valid signature byte by byte from response timings; the
/// length is not secret (every valid signature is 64 hex digits).
fn signatures_match(computed_hex: &str, provided_hex: &str) -> bool {
    computed_hex
        .as_bytes()
        .ct_eq(provided_hex.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of the SigV4 documentation ("Examples of how to derive a signing key"):
    // secret, date, region and service below give this kSigning.
    #[test]
    fn derives_the_documented_signing_key() {
        let key = derive_signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key.as_bytes()),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn string_to_sign_has_four_lines_ending_with_the_request_hash() {
        let sts = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", "");
        assert_eq!(
            sts,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn signatures_match_only_when_identical() {
        let a = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
        let mut b = a.to_string();
        assert!(signatures_match(a, &b));
        b.replace_range(63..64, "0");
        assert!(!signatures_match(a, &b));
        assert!(!signatures_match(a, &a[..63]));
        assert!(!signatures_match(a, ""));
    }

    #[test]
    fn debug_of_a_signing_key_hides_the_bytes() {
        let key = SigningKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "SigningKey(<redacted>)");
    }
}
