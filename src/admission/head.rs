//! Where an HTTP/1 request head ends, found in the bytes as they arrive, without parsing them.
//!
//! The admission layer sits under Pingora's parser and must know when the head it is timing
//! and charging is whole. The rule is the parser's (httparse): empty lines before the request
//! line are skipped, and the head ends at the first empty line after it, whether lines end
//! in CRLF or a bare LF. Anything the scanner takes for a head the parser would reject is
//! refused by the parser a moment later; the scanner only has to never see an end that is not
//! there, or the deadline would be lifted while the client still trickles.

/// What the scanner made of the bytes fed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadScan {
    /// The head has not ended yet.
    Incomplete,
    /// The head ended within the bytes just fed.
    Complete {
        /// How many of those bytes belong to the head.
        used: usize,
    },
    /// More than the allowed head size arrived without the head ending.
    TooLarge,
}

/// Where in the head the last byte fed left the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Before the request line: empty lines are skipped here.
    BeforeRequestLine,
    /// Inside a line.
    InLine,
    /// Just after a line's LF: another LF (or CRLF) is the empty line that ends the head.
    LineStart,
    /// A CR at the start of a line: its LF ends the head.
    LineStartCr,
    /// The head has ended.
    Ended,
}

/// An incremental finder of the end of one request head.
#[derive(Debug, Clone)]
pub struct HeadScanner {
    position: Position,
    received: usize,
}

impl Default for HeadScanner {
    fn default() -> Self {
        HeadScanner::new()
    }
}

impl HeadScanner {
    /// A scanner at the start of a request.
    pub fn new() -> HeadScanner {
        HeadScanner {
            position: Position::BeforeRequestLine,
            received: 0,
        }
    }

    /// Bytes of this head received so far (the skipped empty lines included).
    pub fn received(&self) -> usize {
        self.received
    }

    /// Feed the next bytes read; `max` is the largest head allowed. Bytes after the end of the
    /// head (a body's first bytes) are not looked at.
    pub fn feed(&mut self, bytes: &[u8], max: usize) -> HeadScan {
        if self.position == Position::Ended {
            return HeadScan::Complete { used: 0 };
        }
        let mut i = 0;
        while i < bytes.len() {
            match self.position {
                Position::InLine => match memchr::memchr(b'\n', &bytes[i..]) {
                    Some(at) => {
                        i += at + 1;
                        self.position = Position::LineStart;
                        continue;
                    }
                    None => {
                        i = bytes.len();
                        break;
                    }
                },
                Position::BeforeRequestLine => {
                    if bytes[i] != b'\r' && bytes[i] != b'\n' {
                        self.position = Position::InLine;
                    }
                }
                Position::LineStart => match bytes[i] {
                    b'\n' => self.position = Position::Ended,
                    b'\r' => self.position = Position::LineStartCr,
                    _ => self.position = Position::InLine,
                },
                Position::LineStartCr => match bytes[i] {
                    b'\n' => self.position = Position::Ended,
                    _ => self.position = Position::InLine,
                },
                Position::Ended => unreachable!("the loop stops at the end of the head"),
            }
            i += 1;
            if self.position == Position::Ended {
                break;
            }
        }
        self.received += i;
        match self.position {
            _ if self.received > max => HeadScan::TooLarge,
            Position::Ended => HeadScan::Complete { used: i },
            _ => HeadScan::Incomplete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET: &[u8] =
        b"GET /bucket/key HTTP/1.1\r\nHost: a\r\nX-Amz-Date: 20130524T000000Z\r\n\r\n";

    #[test]
    fn a_whole_head_in_one_piece_ends_at_its_empty_line() {
        let mut s = HeadScanner::new();
        let mut bytes = GET.to_vec();
        bytes.extend_from_slice(b"body bytes\r\n\r\n");
        assert_eq!(s.feed(&bytes, 1024), HeadScan::Complete { used: GET.len() });
        assert_eq!(s.received(), GET.len());
    }

    #[test]
    fn a_head_fed_byte_by_byte_ends_at_the_same_byte() {
        let mut s = HeadScanner::new();
        for (i, b) in GET.iter().enumerate() {
            let scan = s.feed(std::slice::from_ref(b), 1024);
            if i + 1 < GET.len() {
                assert_eq!(scan, HeadScan::Incomplete, "byte {i}");
            } else {
                assert_eq!(scan, HeadScan::Complete { used: 1 });
            }
        }
    }

    #[test]
    fn bare_lf_line_ends_end_the_head_too() {
        let mut s = HeadScanner::new();
        assert_eq!(
            s.feed(b"GET / HTTP/1.1\nHost: a\n\nrest", 1024),
            HeadScan::Complete { used: 24 }
        );
        let mut s = HeadScanner::new();
        assert_eq!(
            s.feed(b"GET / HTTP/1.1\nHost: a\n\r\n", 1024),
            HeadScan::Complete { used: 25 }
        );
    }

    #[test]
    fn empty_lines_before_the_request_line_do_not_end_the_head() {
        // A client that sends only line ends must not lift the deadline: the parser skips
        // them and still waits for a request line.
        let mut s = HeadScanner::new();
        assert_eq!(s.feed(b"\r\n\r\n\n\n\r\n", 1024), HeadScan::Incomplete);
        assert_eq!(s.feed(b"GET / HTTP/1.1\r\n", 1024), HeadScan::Incomplete);
        assert_eq!(s.feed(b"\r\n", 1024), HeadScan::Complete { used: 2 });
    }

    #[test]
    fn a_cr_inside_a_line_or_a_lone_cr_at_a_line_start_is_not_an_end() {
        let mut s = HeadScanner::new();
        assert_eq!(
            s.feed(b"GET / HTTP/1.1\r\nA: b\r\r\n", 1024),
            HeadScan::Incomplete
        );
        assert_eq!(s.feed(b"\rX: y\r\n", 1024), HeadScan::Incomplete);
        assert_eq!(s.feed(b"\r\n", 1024), HeadScan::Complete { used: 2 });
    }

    #[test]
    fn a_head_over_the_limit_is_too_large_even_when_it_trickles() {
        let mut s = HeadScanner::new();
        assert_eq!(s.feed(b"GET / HTTP/1.1\r\n", 40), HeadScan::Incomplete);
        assert_eq!(
            s.feed(b"X-Long: aaaaaaaaaaaaaaaaaaaa", 40),
            HeadScan::TooLarge
        );
        // Only line ends, forever, are too large as well.
        let mut s = HeadScanner::new();
        let mut scan = HeadScan::Incomplete;
        for _ in 0..30 {
            scan = s.feed(b"\r\n", 40);
        }
        assert_eq!(scan, HeadScan::TooLarge);
    }

    #[test]
    fn a_head_exactly_at_the_limit_is_allowed() {
        let mut s = HeadScanner::new();
        assert_eq!(
            s.feed(GET, GET.len()),
            HeadScan::Complete { used: GET.len() }
        );
        let mut s = HeadScanner::new();
        assert_eq!(s.feed(GET, GET.len() - 1), HeadScan::TooLarge);
    }

    #[test]
    fn bytes_after_the_end_are_not_counted() {
        let mut s = HeadScanner::new();
        let mut bytes = GET.to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 10_000));
        assert_eq!(
            s.feed(&bytes, GET.len()),
            HeadScan::Complete { used: GET.len() }
        );
    }
}
