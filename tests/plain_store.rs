//! A plain store (`upstream.kind = "http"`, real nginx with WebDAV and `autoindex_format json`)
//! used as S3 buckets by real clients: the AWS CLI (`ls`, `mb`, `rb`, `sync`, `sync --delete`,
//! `rm --recursive`, `cp` and `mv` within the store) and boto3 (tests/python/plain_store.py:
//! ListObjectsV2 paging, V1 markers, ListBuckets, bucket queries, DeleteObjects, CopyObject);
//! and the scopes of listings, deletes and copies, which nginx must never see refused.

mod support;

use std::path::Path;
use std::process::Output;

use support::nginx::Nginx;
use support::proxy::Credential;
use support::python::{aws_cli, run_script};
use support::{Proxy, ProxyOptions, ACCESS_KEY, SECRET_KEY};

const SCOPED_KEY: &str = "AKIDPHOTOSONLY";
const SCOPED_SECRET: &str = "photos-only-secret";
const WRITER_KEY: &str = "AKIDMINEONLY";
const WRITER_SECRET: &str = "mine-only-secret";

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
        Credential::new(WRITER_KEY, WRITER_SECRET).allow(&["read:bkt/mine/*", "write:bkt/mine/*"]),
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

#[test]
fn aws_cli_rm_recursive_and_sync_delete() {
    let (nginx, proxy) = start();
    let endpoint = proxy.endpoint();
    ok(aws(&endpoint, &["s3", "mb", "s3://bkt"]));
    for path in [
        "bkt/prefix/a",
        "bkt/prefix/sub/b c",
        "bkt/prefix-other",
        "bkt/keep/c",
    ] {
        nginx.put_file(path, path.as_bytes());
    }
    let removed = ok(aws(
        &endpoint,
        &["s3", "rm", "--recursive", "s3://bkt/prefix/"],
    ));
    assert_eq!(removed.matches("delete:").count(), 2, "{removed}");
    assert_eq!(nginx.stored("bkt/prefix/a"), None);
    assert_eq!(nginx.stored("bkt/prefix/sub/b c"), None);
    assert!(nginx.stored("bkt/prefix-other").is_some());
    assert!(nginx.stored("bkt/keep/c").is_some());

    let local = tempfile::tempdir().unwrap();
    for name in ["x.txt", "gone.txt", "deep/y.txt"] {
        write(local.path(), name, name.as_bytes());
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let dir = local.path().to_str().unwrap();
    ok(aws(&endpoint, &["s3", "sync", dir, "s3://bkt/synced"]));
    assert!(nginx.stored("bkt/synced/gone.txt").is_some());
    std::fs::remove_file(local.path().join("gone.txt")).unwrap();
    std::fs::remove_file(local.path().join("deep/y.txt")).unwrap();
    let synced = ok(aws(
        &endpoint,
        &["s3", "sync", "--delete", dir, "s3://bkt/synced"],
    ));
    assert_eq!(synced.matches("delete:").count(), 2, "{synced}");
    assert_eq!(nginx.stored("bkt/synced/gone.txt"), None);
    assert_eq!(nginx.stored("bkt/synced/deep/y.txt"), None);
    assert_eq!(
        nginx.stored("bkt/synced/x.txt").as_deref(),
        Some(&b"x.txt"[..])
    );
    assert!(nginx.stored("bkt/keep/c").is_some());
}

#[test]
fn aws_cli_cp_and_mv_within_the_store() {
    let (nginx, proxy) = start();
    let endpoint = proxy.endpoint();
    // Below the CLI's 8 MiB multipart threshold: one CopyObject (above it the CLI copies in
    // parts, UploadPartCopy, which a plain store does not do yet).
    let data = support::patterned_bytes(3 * 1024 * 1024 + 17);
    nginx.put_file("bkt/src/data.bin", &data);
    nginx.put_file("bkt/dst/old.bin", b"to be replaced");
    ok(aws(&endpoint, &["s3", "mb", "s3://other"]));
    let copied = ok(aws(
        &endpoint,
        &["s3", "cp", "s3://bkt/src/data.bin", "s3://bkt/dst/old.bin"],
    ));
    assert!(copied.contains("copy:"), "{copied}");
    assert_eq!(nginx.stored("bkt/dst/old.bin").as_deref(), Some(&data[..]));
    assert_eq!(nginx.stored("bkt/src/data.bin").as_deref(), Some(&data[..]));
    ok(aws(
        &endpoint,
        &[
            "s3",
            "cp",
            "s3://bkt/src/data.bin",
            "s3://other/é t/copy.bin",
        ],
    ));
    assert_eq!(
        nginx.stored("other/é t/copy.bin").as_deref(),
        Some(&data[..])
    );
    let moved = ok(aws(
        &endpoint,
        &["s3", "mv", "s3://bkt/dst/old.bin", "s3://bkt/moved/m.bin"],
    ));
    assert!(moved.contains("move:"), "{moved}");
    assert_eq!(nginx.stored("bkt/moved/m.bin").as_deref(), Some(&data[..]));
    assert_eq!(nginx.stored("bkt/dst/old.bin"), None, "the source is gone");
    let listed = ok(aws(&endpoint, &["s3", "ls", "--recursive", "s3://bkt"]));
    let keys: Vec<&str> = listed
        .lines()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(keys, ["moved/m.bin", "src/data.bin"], "{listed}");
    assert_staging_empty(&nginx);
    // A source that does not exist.
    let missing = aws(
        &endpoint,
        &["s3", "cp", "s3://bkt/src/none.bin", "s3://bkt/dst/none.bin"],
    );
    assert!(!missing.status.success());
    assert!(text(&missing).contains("404"), "{}", text(&missing));
    assert_eq!(nginx.stored("bkt/dst/none.bin"), None);
}

/// No copy is left half-way in the proxy's staging area.
fn assert_staging_empty(nginx: &Nginx) {
    let staging = nginx.root().join(".s3-auth-proxy/copies");
    let left: Vec<_> = std::fs::read_dir(&staging)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// What nginx was asked to change, sorted (the deletes of one request run concurrently).
fn nginx_changes(nginx: &Nginx) -> Vec<String> {
    let mut changes: Vec<String> = nginx
        .upstream_requests()
        .into_iter()
        .filter(|r| !matches!(r.method.as_str(), "GET" | "HEAD"))
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect();
    changes.sort();
    changes
}

#[test]
fn deletes_and_copies_outside_the_scope_change_nothing() {
    let (nginx, proxy) = start();
    let endpoint = proxy.endpoint();
    nginx.put_file("bkt/mine/a", b"mine");
    nginx.put_file("bkt/theirs/b", b"theirs");
    nginx.put_file("bkt/mine/.s3-auth-proxy/no-index", b"reserved");
    let writer = |args: &[&str]| aws_as(&endpoint, WRITER_KEY, WRITER_SECRET, args);
    let delete = |keys: &[&str]| {
        let objects: Vec<String> = keys.iter().map(|k| format!("{{Key={k}}}")).collect();
        let spec = format!("Objects=[{}],Quiet=false", objects.join(","));
        writer(&[
            "s3api",
            "delete-objects",
            "--bucket",
            "bkt",
            "--delete",
            &spec,
        ])
    };
    let before = nginx.stored_files();
    for (keys, code) in [
        (&["mine/a", "theirs/b"][..], "AccessDenied"),
        (&["theirs/b", "mine/a"][..], "AccessDenied"),
        (&["mine/../theirs/b"][..], "InvalidArgument"),
        (&["mine/a", "mine/./a"][..], "InvalidArgument"),
    ] {
        let refused = delete(keys);
        assert!(!refused.status.success(), "{keys:?}");
        assert!(
            text(&refused).contains(code),
            "{keys:?}: {}",
            text(&refused)
        );
    }
    let copy_in = writer(&["s3", "cp", "s3://bkt/theirs/b", "s3://bkt/mine/stolen"]);
    assert!(text(&copy_in).contains("AccessDenied") || text(&copy_in).contains("403"));
    let copy_out = writer(&["s3", "cp", "s3://bkt/mine/a", "s3://bkt/theirs/b"]);
    assert!(text(&copy_out).contains("AccessDenied") || text(&copy_out).contains("403"));
    let reader = aws_as(
        &endpoint,
        SCOPED_KEY,
        SCOPED_SECRET,
        &["s3", "cp", "s3://bkt/mine/a", "s3://bkt/photos/a"],
    );
    assert!(!reader.status.success());
    assert_eq!(
        nginx.stored_files(),
        before,
        "nothing deleted, nothing created"
    );
    assert_eq!(nginx_changes(&nginx), Vec::<String>::new());
    assert!(!nginx.root().join(".s3-auth-proxy").exists());

    // Within the scope: the reserved name gets its own error and stays; the rest is deleted.
    let answer = ok(delete(&[
        "mine/a",
        "mine/.s3-auth-proxy/no-index",
        "mine/missing",
    ]));
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let deleted: Vec<&str> = answer["Deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["Key"].as_str().unwrap())
        .collect();
    assert_eq!(deleted, ["mine/a", "mine/missing"], "{answer}");
    assert_eq!(answer["Errors"][0]["Key"], "mine/.s3-auth-proxy/no-index");
    assert_eq!(answer["Errors"][0]["Code"], "InvalidArgument");
    assert_eq!(nginx.stored("bkt/mine/a"), None);
    assert!(nginx.stored("bkt/mine/.s3-auth-proxy/no-index").is_some());
    assert_eq!(
        nginx_changes(&nginx),
        ["DELETE /bkt/mine/a", "DELETE /bkt/mine/missing"]
    );
}
