//! A CompleteMultipartUpload XML body: parsed, written again, parsed to itself: must never panic (see `s3_auth_proxy::fuzz::documents::complete_multipart`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::fuzz::documents::complete_multipart(data));
