//! A plain store (`upstream.kind = "http"`, real nginx with WebDAV and `autoindex_format json`)
//! used as S3 buckets by real clients: the AWS CLI (`ls`, `mb`, `rb`, `sync`) and boto3
//! (tests/python/plain_store.py: ListObjectsV2 paging, V1 markers, ListBuckets, bucket
//! queries); and the scopes of listings, which nginx must never see refused.

mod support;

use std::path::Path;
use std::process::Output;

use support::nginx::Nginx;
use support::proxy::Credential;
use support::python::{aws_cli, run_script};
use support::{Proxy, ProxyOptions, ACCESS_KEY, SECRET_KEY};

const SCOPED_KEY: &str = "AKIDPHOTOSONLY";
const SCOPED_SECRET: &str = "photos-only-secret";

fn aws_as(endpoint: &str, key: &str, secret: &str, args: &[&str]) -> Output {
    aws_cli(endpoint, key, secret, args)
}

fn aws(endpoint: &str, args: &[&str]) -> Output {
    aws_as(endpoint, ACCESS_KEY, SECRET_KEY, args)
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn write(root: &Path, relative: &str, contents: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

fn start() -> (Nginx, Proxy) {
    let nginx = Nginx::start();
    let options = ProxyOptions::default().with_credentials(vec![
        Credential::new(ACCESS_KEY, SECRET_KEY),
        Credential::new(SCOPED_KEY, SCOPED_SECRET).allow(&["read:bkt/photos/*"]),
    ]);
    let proxy = Proxy::start(&nginx, options);
    (nginx, proxy)
}

#[test]
fn aws_cli_ls_mb_and_rb() {
    let (nginx, proxy) = start();
    let endpoint = proxy.endpoint();
    ok(aws(&endpoint, &["s3", "mb", "s3://fresh"]));
    assert!(nginx.root().join("fresh").is_dir());
    let again = aws(&endpoint, &["s3", "mb", "s3://fresh"]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("BucketAlreadyOwnedByYou"),
        "{}",
        text(&again)
    );
    nginx.put_file("fresh/a-b", b"1");
    nginx.put_file("fresh/a/x", b"22");
    nginx.put_file("fresh/a0", b"333");
    nginx.put_file("fresh/.hidden/staging", b"never listed");
    let buckets = ok(aws(&endpoint, &["s3", "ls"]));
    assert!(buckets.contains("fresh"), "{buckets}");
    let top = ok(aws(&endpoint, &["s3", "ls", "s3://fresh"]));
    let names: Vec<&str> = top
        .lines()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    // The CLI prints the common prefixes first.
    assert_eq!(names, ["a/", "a-b", "a0"], "{top}");
    assert!(top.contains("PRE a/"), "{top}");
    let all = ok(aws(&endpoint, &["s3", "ls", "--recursive", "s3://fresh"]));
    let keys: Vec<&str> = all
        .lines()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["a-b", "a/x", "a0"],
        "S3's order, no dot-names: {all}"
    );

    let refused = aws(&endpoint, &["s3", "rb", "s3://fresh"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("BucketNotEmpty"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        nginx.stored("fresh/a/x").as_deref(),
        Some(&b"22"[..]),
        "nothing deleted"
    );
    ok(aws(&endpoint, &["s3", "rm", "--recursive", "s3://fresh"]));
    // The store keeps the folder a/ that held a/x: still an empty bucket.
    ok(aws(&endpoint, &["s3", "rb", "s3://fresh"]));
    assert!(!nginx.root().join("fresh").exists());
    let missing = aws(&endpoint, &["s3", "ls", "s3://fresh"]);
    assert!(
        text(&missing).contains("NoSuchBucket"),
        "{}",
        text(&missing)
    );
}

#[test]
fn aws_cli_sync_twice_uploads_nothing_the_second_time() {
    let (nginx, proxy) = start();
    let endpoint = proxy.endpoint();
    let local = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("top.txt", &b"top"[..]),
        ("docs/a b.txt", b"with a space"),
        ("docs/deeper/été.txt", b"unicode"),
        ("docs-2/x", b"x"),
    ] {
        write(local.path(), name, body);
    }
    // sync compares the local mtime with LastModified, which S3 gives in whole seconds: files
    // written in the same second as the upload would look newer than their copies.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(aws(&endpoint, &["s3", "mb", "s3://synced"]));
    let dir = local.path().to_str().unwrap();
    let first = ok(aws(&endpoint, &["s3", "sync", dir, "s3://synced/tree"]));
    assert_eq!(first.matches("upload:").count(), 4, "{first}");
    assert_eq!(
        nginx.stored("synced/tree/docs/deeper/été.txt").as_deref(),
        Some(&b"unicode"[..])
    );
    let puts_before = count_puts(&nginx);
    let second = ok(aws(&endpoint, &["s3", "sync", dir, "s3://synced/tree"]));
    assert!(!second.contains("upload:"), "{second}");
    assert_eq!(count_puts(&nginx), puts_before, "nginx saw no new PUT");
}

fn count_puts(nginx: &Nginx) -> usize {
    nginx
        .upstream_requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .count()
}

#[test]
fn boto3_listings_against_a_known_tree() {
    let (nginx, proxy) = start();
    run_script("plain_store.py", &nginx, &proxy.endpoint(), None);
}

#[test]
fn a_listing_outside_the_read_scope_is_refused_before_nginx_hears_of_it() {
    let (nginx, proxy) = start();
    let endpoint = proxy.endpoint();
    nginx.put_file("bkt/photos/cat.jpg", b"cat");
    nginx.put_file("bkt/photos/2024/dog.jpg", b"dog");
    nginx.put_file("bkt/private/secret.txt", b"secret");
    nginx.put_file("bkt/photos-private.txt", b"not a photo");
    let listings = |nginx: &Nginx| {
        nginx
            .upstream_requests()
            .into_iter()
            .filter(|r| r.uri.ends_with('/') || r.method == "HEAD")
            .count()
    };
    for args in [
        &["s3api", "list-objects-v2", "--bucket", "bkt"][..],
        &[
            "s3api",
            "list-objects-v2",
            "--bucket",
            "bkt",
            "--prefix",
            "p",
        ],
        &[
            "s3api",
            "list-objects",
            "--bucket",
            "bkt",
            "--prefix",
            "photos",
        ],
        &["s3api", "list-buckets"],
        &["s3", "ls", "s3://bkt/"],
    ] {
        let refused = aws_as(&endpoint, SCOPED_KEY, SCOPED_SECRET, args);
        assert!(!refused.status.success(), "{args:?}");
        assert!(
            text(&refused).contains("AccessDenied"),
            "{}",
            text(&refused)
        );
    }
    assert_eq!(listings(&nginx), 0, "{:#?}", nginx.upstream_requests());
    let listed = ok(aws_as(
        &endpoint,
        SCOPED_KEY,
        SCOPED_SECRET,
        &["s3", "ls", "--recursive", "s3://bkt/photos/"],
    ));
    let keys: Vec<&str> = listed
        .lines()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(keys, ["photos/2024/dog.jpg", "photos/cat.jpg"], "{listed}");
    assert!(
        !listed.contains("secret") && !listed.contains("private"),
        "{listed}"
    );
}
