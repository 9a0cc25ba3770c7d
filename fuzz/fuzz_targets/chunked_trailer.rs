//! The trailer section of an aws-chunked body, signed or not, fed whole and in pieces: must never panic (see `s3_auth_proxy::fuzz::fuzz_trailer`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::fuzz::fuzz_trailer(data));
