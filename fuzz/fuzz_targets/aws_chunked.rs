//! The aws-chunked verifier fed arbitrary bytes in arbitrary pieces: must never panic
//! (see `s3_auth_proxy::body::chunked::fuzz_one` for the input layout).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::body::chunked::fuzz_one(data));
