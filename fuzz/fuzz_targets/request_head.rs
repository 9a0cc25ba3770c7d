//! The admission layer's end-of-head finder (`s3_auth_proxy::admission::head`) against
//! httparse, the parser Pingora reads heads with: fed in pieces of any size, the finder must
//! end a head exactly where httparse does, and never where httparse still waits for more.
//! Ending one early would lift the head deadline while the client can still trickle; ending
//! one late would time out a client that has sent its whole request. Heads httparse refuses
//! are refused by Pingora whatever the finder says.
#![no_main]

use s3_auth_proxy::admission::head::{HeadScan, HeadScanner};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&step, head)) = data.split_first() else {
        return;
    };
    let step = usize::from(step % 32) + 1;
    let mut scanner = HeadScanner::new();
    let mut end = None;
    let mut at = 0;
    for piece in head.chunks(step) {
        match scanner.feed(piece, usize::MAX) {
            HeadScan::Complete { used } => {
                end = Some(at + used);
                break;
            }
            HeadScan::Incomplete => at += piece.len(),
            HeadScan::TooLarge => unreachable!("no limit was set"),
        }
    }
    // As many headers as Pingora allows.
    let mut headers = [httparse::EMPTY_HEADER; 256];
    match httparse::Request::new(&mut headers).parse(head) {
        Ok(httparse::Status::Complete(n)) => assert_eq!(end, Some(n), "httparse ends at {n}"),
        Ok(httparse::Status::Partial) => assert_eq!(end, None, "httparse waits for more"),
        Err(_) => {}
    }
});
