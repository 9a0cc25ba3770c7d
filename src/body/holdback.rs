//! The one outbox of the body verifiers: bytes released by the current feed, and the newest bytes
//! held back until every check has passed (see [`crate::body`] for why).
//!
//! The aws-chunked verifier ([`crate::body::chunked`]) holds back the last slice of an unsigned
//! body whole ([`HoldBack::hold_piece`], zero-copy) and releases signed chunk data from its own
//! staging buffer ([`HoldBack::release`]); the form reader ([`crate::post::multipart`]) holds
//! back the file's last byte ([`HoldBack::hold_tail`]). Either way the held bytes come out only
//! through [`HoldBack::release_all`], in exchange for the verifier's proof that every check
//! passed; a verifier that fails drops its `HoldBack`, and the held bytes with it.

use std::mem;

use bytes::{Bytes, BytesMut};

use super::join;

/// Proof that every check on a body passed: the only key to [`HoldBack::release_all`].
/// Implemented by the zero-sized proof types that only a verifier's final check makes
/// (`BodyVerified` of aws-chunked, `FormComplete` of the form reader).
pub(crate) trait AllChecksPassed {}

/// Verified bytes on their way out of a verifier.
///
/// The pieces released during one feed are collected in order and handed back together by
/// [`take_released`](Self::take_released): one piece as it is (zero-copy), several joined (their
/// only copy). The held-back bytes always come after every released byte in the body.
#[derive(Debug, Default)]
pub(crate) struct HoldBack {
    /// Pieces released by the current feed, in order.
    ready: Vec<Bytes>,
    /// The newest bytes, held back: the last piece whole, or a copy of its last bytes.
    held: Bytes,
}

impl HoldBack {
    /// Release `piece` now, after whatever was held back before it.
    pub(crate) fn release(&mut self, piece: Bytes) {
        self.release_held();
        self.ready.push(piece);
    }

    /// Hold `piece` back whole, without copying it, and release what was held before. An empty
    /// piece changes nothing: the last real bytes stay held.
    pub(crate) fn hold_piece(&mut self, piece: Bytes) {
        if piece.is_empty() {
            return;
        }
        let previous = mem::replace(&mut self.held, piece);
        if !previous.is_empty() {
            self.ready.push(previous);
        }
    }

    /// Release all but the last `tail` bytes seen so far, `piece` being the newest. The held
    /// bytes are copied (at most `tail` of them), so the input piece is not kept alive for them;
    /// the rest of `piece` is released as a zero-copy slice.
    pub(crate) fn hold_tail(&mut self, piece: Bytes, tail: usize) {
        if piece.is_empty() {
            return;
        }
        if piece.len() >= tail {
            self.release_held();
            let split = piece.len() - tail;
            self.held = Bytes::copy_from_slice(&piece[split..]);
            self.ready.push(piece.slice(..split));
            return;
        }
        // Shorter than the tail: some of the held bytes stay held.
        let mut newest = BytesMut::with_capacity(self.held.len() + piece.len());
        newest.extend_from_slice(&self.held);
        newest.extend_from_slice(&piece);
        let split = newest.len().saturating_sub(tail);
        self.held = newest.split_off(split).freeze();
        self.ready.push(newest.freeze());
    }

    /// What the current feed releases: one piece as it is, several joined.
    pub(crate) fn take_released(&mut self) -> Bytes {
        join(&mut self.ready)
    }

    /// Everything still here, the held-back bytes last, once every check has passed.
    pub(crate) fn release_all(&mut self, _proof: impl AllChecksPassed) -> Bytes {
        self.release_held();
        join(&mut self.ready)
    }

    fn release_held(&mut self) {
        if !self.held.is_empty() {
            self.ready.push(mem::take(&mut self.held));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::test_driver::split_at;

    struct Checked;
    impl AllChecksPassed for Checked {}

    const BODY: &[u8] = b"0123456789";

    /// Feed `BODY` cut at `cuts` through `hold_tail`; what each feed released, then the rest.
    fn run_hold_tail(cuts: &[usize], tail: usize) -> (Vec<Bytes>, Bytes) {
        let mut holdback = HoldBack::default();
        let mut released = Vec::new();
        for piece in split_at(BODY, cuts) {
            holdback.hold_tail(Bytes::copy_from_slice(piece), tail);
            released.push(holdback.take_released());
        }
        (released, holdback.release_all(Checked))
    }

    #[test]
    fn hold_tail_keeps_the_last_bytes_split_at_every_pair_of_offsets() {
        for tail in 0..4 {
            for first in 0..=BODY.len() {
                for second in first..=BODY.len() {
                    let cuts = [first, second];
                    let (released, rest) = run_hold_tail(&cuts, tail);
                    let mut out = Vec::new();
                    for (piece, seen) in released.iter().zip([first, second, BODY.len()]) {
                        out.extend_from_slice(piece);
                        // All but the last `tail` bytes seen are out, never more.
                        assert_eq!(out.len(), seen.saturating_sub(tail), "{tail} {cuts:?}");
                    }
                    out.extend_from_slice(&rest);
                    assert_eq!(out, BODY, "tail {tail}, cuts {cuts:?}");
                }
            }
        }
    }

    #[test]
    fn hold_tail_releases_the_first_piece_without_copying() {
        let input = Bytes::from_static(BODY);
        let mut holdback = HoldBack::default();
        holdback.hold_tail(input.clone(), 1);
        let released = holdback.take_released();
        assert_eq!(released, &BODY[..BODY.len() - 1]);
        assert_eq!(released.as_ptr(), input.as_ptr(), "zero-copy");
        assert_eq!(holdback.release_all(Checked), &BODY[BODY.len() - 1..]);
    }

    #[test]
    fn hold_piece_keeps_the_last_non_empty_piece_without_copying() {
        let input = Bytes::from_static(BODY);
        let mut holdback = HoldBack::default();
        holdback.hold_piece(input.slice(..4));
        assert!(holdback.take_released().is_empty());
        holdback.hold_piece(input.slice(4..7));
        holdback.hold_piece(Bytes::new());
        let released = holdback.take_released();
        assert_eq!(released, &BODY[..4]);
        assert_eq!(released.as_ptr(), input.as_ptr(), "zero-copy");
        holdback.hold_piece(input.slice(7..));
        assert_eq!(holdback.take_released().as_ptr(), input[4..].as_ptr());
        assert_eq!(holdback.release_all(Checked), &BODY[7..]);
    }

    #[test]
    fn release_comes_after_what_was_held() {
        let mut holdback = HoldBack::default();
        holdback.hold_tail(Bytes::from_static(b"abc"), 1);
        holdback.release(Bytes::from_static(b"de"));
        assert_eq!(holdback.take_released(), &b"abcde"[..]);
        assert!(holdback.release_all(Checked).is_empty());
    }

    #[test]
    fn a_dropped_holdback_never_releases_what_it_held() {
        let mut holdback = HoldBack::default();
        holdback.hold_piece(Bytes::from_static(b"ab"));
        holdback.hold_piece(Bytes::from_static(b"c"));
        assert_eq!(holdback.take_released(), &b"ab"[..]);
        holdback = HoldBack::default();
        assert!(holdback.release_all(Checked).is_empty());
    }
}
