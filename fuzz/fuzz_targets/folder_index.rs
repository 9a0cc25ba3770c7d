//! nginx's JSON folder index: parsed in S3's order, written again, parsed to itself: must never panic (see `s3_auth_proxy::fuzz::documents::folder_index`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::fuzz::documents::folder_index(data));
