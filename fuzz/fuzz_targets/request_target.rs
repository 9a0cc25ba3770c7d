//! The request model (target, Host, query, source headers): one request, one meaning: must never panic (see `s3_auth_proxy::fuzz::request::request_target`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::fuzz::request::request_target(data));
