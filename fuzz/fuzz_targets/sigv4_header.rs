//! The SigV4 `Authorization` header and the head it signs, verified, re-signed and verified again: must never panic (see `s3_auth_proxy::fuzz::auth::sigv4_header`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::fuzz::auth::sigv4_header(data));
