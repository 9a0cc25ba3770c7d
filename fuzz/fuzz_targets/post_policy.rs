//! A POST form's policy document and signature (SigV4 or SigV2), its conditions evaluated: must never panic (see `s3_auth_proxy::fuzz::documents::post_policy`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| s3_auth_proxy::fuzz::documents::post_policy(data));
