//! The integration-test harness: real parts on ephemeral loopback ports.
//!
//! A test reads like a sentence: start an origin ([`Nginx`]), start the proxy in front of it
//! ([`Proxy`]), send with a client (the raw [`http`] client signed by the independent [`Signer`],
//! the AWS SDK, or boto3), then look at what the origin stored on disk.
//!
//! Nothing here is global: every test owns its nginx, its proxy, their temporary folders and their
//! ports, and everything is stopped when the values are dropped.

// Every test binary compiles this module but uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod browser;
pub mod http;
pub mod nginx;
pub mod proxy;
pub mod python;
pub mod s3_server;
pub mod signer;
pub mod streaming;
pub mod tls;

pub use self::http::{Connection, Request, Response};
pub use self::nginx::{Nginx, UpstreamRequest};
pub use self::proxy::{Credential, Proxy, ProxyOptions};
pub use self::signer::{Payload, Signer};

use std::net::TcpListener;

/// The access key of the default credential of [`ProxyOptions::default`].
pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
/// The secret key of the default credential of [`ProxyOptions::default`].
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// A port on 127.0.0.1 that was free a moment ago.
///
/// Pingora cannot report the port it bound, so the proxy's ports are picked here: bind port 0,
/// read the port the kernel chose, release it. Another process could take it in between; the
/// start-up checks of [`Proxy::start`] then fail loudly rather than talk to a stranger.
///
/// No port is handed out twice in one test process: two proxies started at the same moment by
/// parallel tests could otherwise be given the same port, and one's listener answer for the other
/// (seen once: a form posted to a proxy's port answered by another proxy's `/healthz` listener).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        if GIVEN.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
}

/// Lowercase hex SHA-256 of `bytes`, computed here (not by the code under test).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Lowercase hex MD5 of `bytes`: what S3 puts in the ETag of a single-part PUT.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

/// Base64 MD5 of `bytes`: the value of a `Content-MD5` header.
pub fn md5_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    use md5::Digest;
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
}

/// Base64 of the big-endian CRC-32 (IEEE) of `bytes`: the value of `x-amz-checksum-crc32`.
///
/// Computed bit by bit here so the expected value does not come from the checksum library the
/// proxy uses.
pub fn crc32_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    let mut crc: u32 = 0xFFFF_FFFF;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    base64::engine::general_purpose::STANDARD.encode((!crc).to_be_bytes())
}

/// `len` bytes of a repeating, position-dependent pattern, so a shifted or truncated copy never
/// compares equal to the original.
pub fn patterned_bytes(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_published_check_value() {
        // The CRC-32/ISO-HDLC check value of "123456789" is 0xCBF43926 (base64 of its 4 bytes).
        assert_eq!(crc32_base64(b"123456789"), "y/Q5Jg==");
    }
}
