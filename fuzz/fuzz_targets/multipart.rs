//! The POST form reader fed arbitrary bytes in arbitrary pieces: must never panic nor release
//! more than its file (see `s3_auth_proxy::post::multipart::fuzz_one`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::post::multipart::fuzz_one(data));
