//! SigV2 header and presigned requests, verified, re-signed and verified again: must never panic (see `s3_auth_proxy::fuzz::auth::sigv2`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::fuzz::auth::sigv2(data));
