//! The entry points of the cargo-fuzz targets (`fuzz/fuzz_targets/`) for the parsers a network
//! client reaches, one function each. Not part of the proxy's API (hidden from the docs); the
//! aws-chunked body and the form reader have theirs beside their state machines
//! (`body::chunked::fuzz_one`, `fuzz_trailer`; `post::multipart::fuzz_one`).
//!
//! Every entry point must never panic on any input. Where a parser has a cheap invariant the
//! entry point asserts it, so a violation is a crash the fuzzer reports:
//! - the signature verifiers re-sign a request with the string to sign they reported, then must
//!   accept it with the right secret and refuse it with any other ([`auth`]);
//! - the request model re-reads its own upstream target as the same request ([`request`]);
//! - the documents read back what they are re-encoded to ([`documents`]).
//!
//! The head-level targets share one input format, a request head as text, so that seeds are
//! readable and taken straight from the test vectors ([`Head::read`]). `cargo test` replays every
//! committed seed (`fuzz/seeds/<target>/`) through its entry point.

pub mod auth;
pub mod documents;
pub mod request;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use crate::body::chunked::fuzz_trailer;

/// The request time when a head gives none: 2013-05-24T00:00:00Z, the date of the S3
/// documentation's SigV4 examples.
const DEFAULT_NOW: u64 = 1_369_353_600;

/// The virtual-host suffix of the fuzzed requests (the S3 documentation's examples use it).
pub const SUFFIX: &str = "s3.amazonaws.com";

/// A request head read from fuzz input:
///
/// ```text
/// @1369353600                 optional: the verifier's clock, Unix seconds
/// GET /bucket/key?query HTTP/1.1
/// Host: examplebucket.s3.amazonaws.com
/// x-amz-date: 20130524T000000Z
/// ```
///
/// Lines end with LF (a CR before it is dropped). The request line is the method, a space and
/// the raw target (up to the next space; what follows is ignored). Header lines are
/// `name:value` with the value's surrounding blanks trimmed; lines that are not a valid header
/// are skipped, so the fuzzer can try any byte in a value.
#[derive(Debug)]
pub struct Head {
    /// The verifier's clock.
    pub now: SystemTime,
    /// The method.
    pub method: http::Method,
    /// The raw request target, as a client sent it.
    pub target: Vec<u8>,
    /// The headers, in order.
    pub headers: http::HeaderMap,
}

impl Head {
    /// Read a head; `None` when there is no request line with a valid method.
    pub fn read(data: &[u8]) -> Option<Head> {
        let mut lines = data
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
        let mut first = lines.next()?;
        let mut now = UNIX_EPOCH + Duration::from_secs(DEFAULT_NOW);
        if let Some(seconds) = first.strip_prefix(b"@") {
            let seconds = std::str::from_utf8(seconds).ok()?.trim().parse().ok()?;
            now = UNIX_EPOCH.checked_add(Duration::from_secs(seconds))?;
            first = lines.next()?;
        }
        let mut words = first.splitn(3, |&b| b == b' ');
        let method = http::Method::from_bytes(words.next()?).ok()?;
        let target = words.next().unwrap_or_default().to_vec();
        let mut headers = http::HeaderMap::new();
        for line in lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let name = http::HeaderName::from_bytes(&line[..colon]);
            let value = http::HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
            if let (Ok(name), Ok(value)) = (name, value) {
                headers.append(name, value);
            }
        }
        Some(Head {
            now,
            method,
            target,
            headers,
        })
    }

    /// The `Host` header, or `""`.
    pub fn host(&self) -> &str {
        self.headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests;
