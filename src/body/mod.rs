//! Sans-I/O body verifiers: fed the bytes of the client's body in arbitrary pieces, they hand back
//! the bytes that may be forwarded upstream now, and at the end either release the rest or fail.
//!
//! The rule they all keep: **bytes that fail verification never become an object upstream.** The
//! upstream has already seen the request header with its Content-Length, so a verifier can only
//! protect the backend by holding back the final byte(s) until every check has passed: on failure
//! the proxy aborts the upstream request and the backend discards a short body.

pub mod checksum;
pub mod chunked;
pub mod payload;

use bytes::Bytes;

use crate::error::S3Error;

/// A streaming verifier of a request body.
pub trait BodyVerifier: Send + Sync {
    /// Take the next piece of the client's body (any split, possibly empty). Returns the bytes
    /// that are safe to forward now (possibly empty). An error means: abort the upstream request.
    fn feed(&mut self, input: Bytes) -> Result<Bytes, S3Error>;

    /// The client's body has ended. Returns the held-back remainder if every check passed.
    fn finish(&mut self) -> Result<Bytes, S3Error>;
}
