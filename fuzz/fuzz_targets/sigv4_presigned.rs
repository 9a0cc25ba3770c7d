//! The SigV4 presigned query (`X-Amz-*`), verified, re-signed and verified again: must never panic (see `s3_auth_proxy::fuzz::auth::sigv4_presigned`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::fuzz::auth::sigv4_presigned(data));
