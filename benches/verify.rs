//! How long verifying one header-signed request takes with a warm signing-key cache
//! (target: at most 3 µs). The request is the Amazon S3 documentation's "GET Object" example
//! (sig-v4-header-based-auth), so it is valid by an outside authority, not by our own signer.
//!
//! `authenticate_…` measures the same request through `auth::authenticate`, the proxy's entry
//! point (the SigV2/SigV4 choice first).
//!
//! Run: `cargo bench --bench verify`

use std::time::{Duration, SystemTime};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue};
use s3_auth_proxy::auth::sigv4;
use s3_auth_proxy::auth::{self, AuthSettings, RequestParts, Schemes};
use s3_auth_proxy::credentials::CredentialStore;

const SECRETS: &str = r#"
[[credentials]]
access_key = "AKIAIOSFODNN7EXAMPLE"
secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
"#;

fn doc_example_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "host",
        HeaderValue::from_static("examplebucket.s3.amazonaws.com"),
    );
    h.insert("range", HeaderValue::from_static("bytes=0-9"));
    h.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static(
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
    );
    h.insert("x-amz-date", HeaderValue::from_static("20130524T000000Z"));
    h.insert(
        "authorization",
        HeaderValue::from_static(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
    );
    h
}

fn bench_verify(c: &mut Criterion) {
    let store = CredentialStore::from_toml_str(SECRETS).expect("inline secrets parse");
    let settings = AuthSettings {
        regions: vec!["us-east-1".into()],
        clock_skew: Duration::from_secs(900),
        max_presign_expiry: Duration::from_secs(604_800),
        boto2_presign_compat: false,
    };
    // 2013-05-24T00:00:00Z, the example's date.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600);
    let headers = doc_example_headers();
    let parts = RequestParts {
        method: "GET",
        raw_path: "/test.txt",
        raw_query: "",
        headers: &headers,
    };
    // Warm the signing-key cache, and make sure the benchmark measures a success.
    sigv4::verify(&parts, &store, &settings, now).expect("the S3 documentation example verifies");

    c.bench_function("verify_header_signed_get_warm_cache", |b| {
        b.iter(|| sigv4::verify(black_box(&parts), &store, &settings, black_box(now)).is_ok())
    });
    // The proxy's own entry point: the SigV2/SigV4 choice, then the same verification.
    let schemes = Schemes {
        settings: &settings,
        sigv2: true,
    };
    c.bench_function("authenticate_header_signed_get_warm_cache", |b| {
        b.iter(|| {
            auth::authenticate(black_box(&parts), None, &store, schemes, black_box(now)).is_ok()
        })
    });
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
