//! MD5, the ETag S3 gives a single-part upload and the check behind `Content-MD5`, computed by
//! AWS-LC's assembly.
//!
//! Why not the `md-5` crate: MD5 is the largest cost of a signed upload (it cannot be
//! vectorised: each 64-byte block depends on the last), and AWS-LC's x86-64 code takes 1.53 CPU
//! seconds per GiB where `md-5` with its `asm` feature takes 2.0 (docs/benchmarks.md, "MD5").
//! AWS-LC has no safe Rust interface to MD5 (`aws-lc-rs` offers only SHA digests), so this is
//! the crate's one module allowed `unsafe`: three C calls on a context it owns.
#![allow(unsafe_code)]

use std::fmt;
use std::mem::MaybeUninit;

use aws_lc_sys::{MD5_Final, MD5_Init, MD5_Update, MD5_CTX};

/// A running MD5 digest. Cloning copies the state (a plain C struct), so a clone can be
/// finalized while the original goes on.
#[derive(Clone)]
pub struct Md5 {
    state: MD5_CTX,
}

impl Md5 {
    /// The digest of nothing yet.
    pub fn new() -> Md5 {
        let mut state = MaybeUninit::<MD5_CTX>::uninit();
        // SAFETY: MD5_Init writes every field of the context it is given (AWS-LC's md5.c sets
        // the chaining values, zeroes the counters, the block buffer and its fill) and always
        // returns 1; after it the context is initialized.
        let state = unsafe {
            MD5_Init(state.as_mut_ptr());
            state.assume_init()
        };
        Md5 { state }
    }

    /// Feed the next bytes.
    pub fn update(&mut self, data: &[u8]) {
        // SAFETY: the context is initialized (`new`) and exclusively borrowed; AWS-LC reads
        // exactly `data.len()` bytes from `data`'s pointer, which are valid for this call.
        unsafe {
            MD5_Update(&mut self.state, data.as_ptr().cast(), data.len());
        }
    }

    /// The 16-byte digest of everything fed.
    pub fn finalize(mut self) -> [u8; 16] {
        let mut digest = [0u8; 16];
        // SAFETY: the context is initialized and owned; MD5_Final writes exactly 16 bytes
        // (MD5_DIGEST_LENGTH) to `digest`, which has room for them.
        unsafe {
            MD5_Final(digest.as_mut_ptr(), &mut self.state);
        }
        digest
    }

    /// The digest of `data`, in one call.
    pub fn digest(data: &[u8]) -> [u8; 16] {
        let mut md5 = Md5::new();
        md5.update(data);
        md5.finalize()
    }
}

impl Default for Md5 {
    fn default() -> Md5 {
        Md5::new()
    }
}

impl fmt::Debug for Md5 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Md5 { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::Md5;

    /// RFC 1321, appendix A.5: the test suite's seven strings and their digests.
    const RFC_1321_SUITE: [(&str, &str); 7] = [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        (
            "abcdefghijklmnopqrstuvwxyz",
            "c3fcd3d76192e4007dfb496cca67e13b",
        ),
        (
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "d174ab98d277d9f5a5611c2c9f419d9f",
        ),
        (
            "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
            "57edf4a22be3c955ac49da2e2107b67a",
        ),
    ];

    #[test]
    fn digests_are_rfc_1321_appendix_a5() {
        for (input, expected) in RFC_1321_SUITE {
            assert_eq!(
                hex::encode(Md5::digest(input.as_bytes())),
                expected,
                "{input:?}"
            );
        }
    }

    /// The digest of a million "a", published with the suite in many implementations' tests:
    /// long enough to run the bulk (assembly) loop over many blocks.
    #[test]
    fn a_million_a() {
        let mut md5 = Md5::new();
        for _ in 0..1000 {
            md5.update(&[b'a'; 1000]);
        }
        assert_eq!(
            hex::encode(md5.finalize()),
            "7707d6ae4e027c70eea2a935c2296f21"
        );
    }

    #[test]
    fn any_split_of_the_input_gives_the_same_digest() {
        let (input, expected) = RFC_1321_SUITE[6];
        for split in 0..=input.len() {
            let mut md5 = Md5::new();
            md5.update(&input.as_bytes()[..split]);
            md5.update(&input.as_bytes()[split..]);
            assert_eq!(hex::encode(md5.finalize()), expected, "split at {split}");
        }
    }

    #[test]
    fn a_clone_finalizes_without_disturbing_the_original() {
        let mut md5 = Md5::new();
        md5.update(b"message ");
        assert_eq!(
            hex::encode(md5.clone().finalize()),
            hex::encode(Md5::digest(b"message "))
        );
        md5.update(b"digest");
        assert_eq!(
            hex::encode(md5.finalize()),
            "f96b697d7cb7938d525a2f31aaf161d0"
        );
    }
}
