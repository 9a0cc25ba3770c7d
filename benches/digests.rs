//! What the body digests cost per byte: MD5 as the proxy computes it (AWS-LC's assembly, through
//! `s3_auth_proxy::body::md5`), the `md-5` crate with its assembly (what the proxy used before,
//! issue 16), and SHA-256 (`sha2`, which the proxy uses for `x-amz-content-sha256`). One 1 MiB
//! buffer hashed per iteration, reported as throughput; the digests are checked against each
//! other once so the comparison is between correct implementations.
//!
//! Run: `cargo bench --bench digests` (docs/benchmarks.md records the figures).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use md5::Digest as _;
use s3_auth_proxy::body::md5::Md5;
use sha2::Sha256;

fn bench_digests(c: &mut Criterion) {
    let data: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    assert_eq!(
        Md5::digest(&data).as_slice(),
        md5::Md5::digest(&data).as_slice(),
        "AWS-LC's MD5 and md-5 agree"
    );

    let mut group = c.benchmark_group("digest_1MiB");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("md5_aws_lc", |b| b.iter(|| Md5::digest(black_box(&data))));
    group.bench_function("md5_md-5_asm", |b| {
        b.iter(|| md5::Md5::digest(black_box(&data)))
    });
    group.bench_function("sha256_sha2", |b| {
        b.iter(|| Sha256::digest(black_box(&data)))
    });
    group.finish();
}

criterion_group!(benches, bench_digests);
criterion_main!(benches);
