//! A DeleteObjects XML body: parsed, written again, parsed to itself: must never panic (see `s3_auth_proxy::fuzz::documents::delete_list`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::fuzz::documents::delete_list(data));
