//! The S3-style `ETag` of a PUT to a plain HTTP backend: the hex MD5 of the payload.
//!
//! It is not a verification (the body's checks run in `body`), only a number S3 clients expect
//! back; yet MD5 costs more CPU per byte than SHA-256 here (~770 MB/s against ~1.9 GB/s), so on
//! the upload path it halved throughput when computed inline. For large uploads the proxy hashes
//! the bytes it releases on a blocking thread instead, in parallel with the verifier's SHA-256 on
//! the request's own thread. The channel is bounded, so a slow hasher slows the upload rather
//! than buffering it: memory stays at most [`QUEUED_PIECES`] pieces per request.

use bytes::Bytes;
use md5::{Digest, Md5};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Uploads at least this large hash their ETag on a second thread; smaller ones inline (a thread
/// hand-off per piece costs more than it saves on a small body).
pub const OFFLOAD_MIN_SIZE: u64 = 4 * 1024 * 1024;

/// Pieces (each at most one socket read, 64 KiB) waiting for the hasher.
pub const QUEUED_PIECES: usize = 32;

/// An MD5 running on a blocking thread, fed the released bytes in order.
pub struct Md5Offload {
    sender: Option<mpsc::Sender<Bytes>>,
    hasher: Option<JoinHandle<String>>,
}

impl Md5Offload {
    /// Start the hasher (on tokio's blocking pool).
    pub fn start() -> Self {
        let (sender, mut receiver) = mpsc::channel::<Bytes>(QUEUED_PIECES);
        let hasher = tokio::task::spawn_blocking(move || {
            let mut md5 = Md5::new();
            while let Some(piece) = receiver.blocking_recv() {
                md5.update(&piece);
            }
            hex::encode(md5.finalize())
        });
        Md5Offload {
            sender: Some(sender),
            hasher: Some(hasher),
        }
    }

    /// Hash these bytes next (waits while the hasher is [`QUEUED_PIECES`] behind).
    pub async fn feed(&mut self, bytes: &Bytes) {
        if bytes.is_empty() {
            return;
        }
        if let Some(sender) = &self.sender {
            // The hasher only stops when the sender is dropped: a send cannot fail before.
            let _ = sender.send(bytes.clone()).await;
        }
    }

    /// Every byte was fed: the hex MD5 (`None` if the hasher was lost, e.g. at shutdown).
    pub async fn finish(&mut self) -> Option<String> {
        self.sender.take();
        self.hasher.take()?.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_the_pieces_in_order() {
        let mut offload = Md5Offload::start();
        for piece in [
            &b"The quick brown fox "[..],
            b"",
            b"jumps over the lazy dog",
        ] {
            offload.feed(&Bytes::copy_from_slice(piece)).await;
        }
        // RFC 1321's test suite value for this sentence is widely published.
        assert_eq!(
            offload.finish().await.as_deref(),
            Some("9e107d9d372bb6826bd81d3542a419d6")
        );
    }

    #[tokio::test]
    async fn an_empty_body_has_the_md5_of_nothing() {
        let mut offload = Md5Offload::start();
        assert_eq!(
            offload.finish().await.as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
    }
}
