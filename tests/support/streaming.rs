//! aws-chunked request bodies for the tests that need a hand-framed upload.

use super::proxy::Proxy;
use super::{Payload, Request, Signer};

/// `x-amz-content-sha256` of an unsigned aws-chunked upload with trailers.
pub const UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";

/// A `STREAMING-UNSIGNED-PAYLOAD-TRAILER` upload of `data` in chunks of `chunk` bytes (none when
/// `data` is empty), declaring `declared` in x-amz-trailer and sending `trailers` after the final
/// chunk. The head is signed by the independent [`Signer`].
pub fn unsigned_trailer_put(
    proxy: &Proxy,
    target: &str,
    data: &[u8],
    chunk: usize,
    declared: &str,
    trailers: &[(&str, String)],
) -> Request {
    let body = unsigned_chunked_body(data, chunk, trailers);
    let mut put = proxy
        .request("PUT", target)
        .header("content-encoding", "aws-chunked")
        .header("x-amz-decoded-content-length", &data.len().to_string())
        .header("x-amz-trailer", declared)
        .body(body);
    Signer::default().sign(&mut put, Payload::Declared(UNSIGNED_TRAILER.to_string()));
    put
}

/// The aws-chunked framing of an unsigned upload: `data` in chunks of `chunk` bytes (none when
/// empty), the final empty chunk, then `trailers` as `name:value` lines and the closing line.
pub fn unsigned_chunked_body(data: &[u8], chunk: usize, trailers: &[(&str, String)]) -> Vec<u8> {
    let mut body = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        body.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        body.extend_from_slice(piece);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n");
    for (name, value) in trailers {
        body.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body
}
