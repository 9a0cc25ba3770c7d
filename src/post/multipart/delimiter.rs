//! The search for the delimiter `CRLF--boundary` in a body fed in pieces, in bulk with
//! `memchr::memmem`; a possible start of the delimiter at the end of a piece is carried to the
//! next one.

use bytes::Bytes;
use memchr::memmem::Finder;

/// What one step of the delimiter search found.
#[derive(Debug)]
pub(super) struct Scanned {
    /// The data before the delimiter (or before a possible delimiter start), in order: bytes
    /// carried from the piece before, then a slice of the input.
    pub(super) data: [Bytes; 2],
    /// Input bytes used, the delimiter included when found.
    pub(super) used: usize,
    /// The whole delimiter was read.
    pub(super) found: bool,
}

/// Finds `CRLF--boundary` in data fed in pieces. The tail of a piece that could be the start
/// of the delimiter is carried (copied, at most one delimiter length) to the next piece.
#[derive(Debug, Clone)]
pub(super) struct DelimiterSearch {
    finder: Finder<'static>,
    /// Bytes that may start the delimiter, always a proper prefix of it.
    pub(super) carry: Vec<u8>,
}

impl DelimiterSearch {
    pub(super) fn new(delimiter: &[u8]) -> DelimiterSearch {
        DelimiterSearch {
            finder: Finder::new(delimiter).into_owned(),
            carry: Vec::with_capacity(delimiter.len()),
        }
    }

    fn delimiter(&self) -> &[u8] {
        self.finder.needle()
    }

    /// Search `input[pos..]`, after the carried bytes.
    pub(super) fn scan(&mut self, input: &Bytes, pos: usize) -> Scanned {
        let rest = &input[pos..];
        let delimiter_len = self.delimiter().len();
        let mut carried = Bytes::new();
        if !self.carry.is_empty() {
            if let Some(scanned) = self.scan_carry(rest) {
                return scanned;
            }
            carried = Bytes::copy_from_slice(&self.carry);
            self.carry.clear();
        }
        match self.finder.find(rest) {
            Some(at) => Scanned {
                data: [carried, input.slice(pos..pos + at)],
                used: at + delimiter_len,
                found: true,
            },
            None => {
                let keep = partial_delimiter_len(rest, self.delimiter());
                let data_end = rest.len() - keep;
                self.carry.extend_from_slice(&rest[data_end..]);
                Scanned {
                    data: [carried, input.slice(pos..pos + data_end)],
                    used: rest.len(),
                    found: false,
                }
            }
        }
    }

    /// A delimiter starting in the carried bytes: found whole, or still possible when `rest`
    /// is too short to tell. `None`: every carried byte is data.
    fn scan_carry(&mut self, rest: &[u8]) -> Option<Scanned> {
        let delimiter_len = self.delimiter().len();
        let carry_len = self.carry.len();
        let mut window = Vec::with_capacity(carry_len + delimiter_len);
        window.extend_from_slice(&self.carry);
        window.extend_from_slice(&rest[..rest.len().min(delimiter_len)]);
        for start in 0..carry_len {
            let candidate = &window[start..];
            let scanned = if candidate.len() >= delimiter_len {
                if &candidate[..delimiter_len] != self.delimiter() {
                    continue;
                }
                Scanned {
                    data: [Bytes::copy_from_slice(&self.carry[..start]), Bytes::new()],
                    used: start + delimiter_len - carry_len,
                    found: true,
                }
            } else if self.delimiter().starts_with(candidate) {
                // `rest` is shorter than the delimiter and wholly in the window.
                Scanned {
                    data: [Bytes::copy_from_slice(&self.carry[..start]), Bytes::new()],
                    used: rest.len(),
                    found: false,
                }
            } else {
                continue;
            };
            self.carry.clear();
            if !scanned.found {
                self.carry.extend_from_slice(candidate);
            }
            return Some(scanned);
        }
        None
    }
}

/// Length of the longest proper prefix of `delimiter` that `data` ends with.
fn partial_delimiter_len(data: &[u8], delimiter: &[u8]) -> usize {
    let tail_start = data.len().saturating_sub(delimiter.len().saturating_sub(1));
    let tail = &data[tail_start..];
    memchr::memchr_iter(delimiter.first().copied().unwrap_or(b'\r'), tail)
        .map(|at| &tail[at..])
        .find(|candidate| delimiter.starts_with(candidate))
        .map_or(0, <[u8]>::len)
}
