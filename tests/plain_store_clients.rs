//! The real-client matrix of issue 14: rclone, s3cmd, minio-py and restic at their default
//! settings, through the proxy, in front of a plain store (`upstream.kind = "http"`, real nginx
//! with WebDAV and `autoindex_format json`). Each test looks at nginx's folder for what must be
//! there, and at the proxy's JSON access log for what it refused.
//!
//! What the store cannot give, and what the clients make of it (docs/plain-store.md, "Clients"):
//! nginx keeps no `x-amz-meta-*` and its ETag is `"<mtime hex>-<size hex>"`, not an MD5. s3cmd
//! reads a `-` in an ETag as "multipart", HEADs the object, finds no MD5 in its metadata either
//! and compares sizes only; rclone finds neither a modification time nor an MD5, so
//! `rclone check` compares sizes only and a second `rclone sync` uploads everything again.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::python::{python, run_script_with};
use support::{Nginx, Proxy, ProxyOptions, ACCESS_KEY, SECRET_KEY};

/// The size of the one big file of the trees: above s3cmd's 15 MiB multipart threshold, below
/// rclone's 200 MiB one.
const BIG: usize = 20 * 1024 * 1024;

fn start() -> (Nginx, Proxy) {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default().with_json_log());
    (nginx, proxy)
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The output of a command that must succeed (stdout and stderr together: rclone and s3cmd
/// report on stderr).
fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", text(&output));
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `len` bytes that do not repeat (xorshift), so content-defined chunkers (restic) and
/// compressors find nothing to share, as with real data.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A local tree of nested folders and a few files (names with a space and non-ASCII), plus one
/// file of `big` bytes if `big > 0`; returns its (relative path, contents).
fn local_tree(root: &Path, big: usize) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("top.txt".into(), b"top".to_vec()),
        ("docs/a b.txt".into(), b"with a space".to_vec()),
        ("docs/deeper/été.txt".into(), b"unicode".to_vec()),
        ("docs/deeper/deepest/n.bin".into(), noise(70_000, 7)),
        ("other/x".into(), b"x".to_vec()),
    ];
    if big > 0 {
        files.push(("docs/big.bin".into(), noise(big, 42)));
    }
    for (name, contents) in &files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    files
}

/// Asserts nginx stored each file of `tree` under `prefix` (`bucket/folder`) with its bytes.
fn assert_stored(nginx: &Nginx, prefix: &str, tree: &[(String, Vec<u8>)]) {
    for (name, contents) in tree {
        let stored = nginx.stored(&format!("{prefix}/{name}"));
        assert!(
            stored.as_deref() == Some(contents.as_slice()),
            "{prefix}/{name}: nginx holds {:?} bytes, expected {}",
            stored.map(|s| s.len()),
            contents.len()
        );
    }
}

fn count_puts(nginx: &Nginx) -> usize {
    nginx
        .upstream_requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .count()
}

/// One line of the proxy's JSON access log (`[log] format = "json"`, target `access`).
#[derive(Debug, Clone, serde::Deserialize)]
struct AccessLine {
    method: String,
    bucket: String,
    key: String,
    status: u16,
    error_code: String,
}

/// The proxy's access log so far. It names no query string, so a refused `?uploads` shows as
/// its method and key with the error code.
fn access_log(proxy: &Proxy) -> Vec<AccessLine> {
    #[derive(serde::Deserialize)]
    struct Line {
        target: String,
        fields: serde_json::Value,
    }
    proxy
        .log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Line>(line).ok())
        .filter(|line| line.target == "access")
        .map(|line| {
            serde_json::from_value(line.fields.clone())
                .unwrap_or_else(|e| panic!("access line {}: {e}", line.fields))
        })
        .collect()
}

/// The requests the proxy answered with an error, as `METHOD bucket/key -> status code`.
fn refused(proxy: &Proxy) -> Vec<String> {
    access_log(proxy)
        .into_iter()
        .filter(|line| line.status >= 400)
        .map(|l| {
            format!(
                "{} {}/{} -> {} {}",
                l.method, l.bucket, l.key, l.status, l.error_code
            )
        })
        .collect()
}

/// Asserts that the proxy refused nothing but these probes (a client asking whether a bucket
/// or an object exists before it creates it), in any number.
fn assert_refused_only_probes(proxy: &Proxy, probes: &[&str]) {
    let refused = refused(proxy);
    let unexpected: Vec<&String> = refused
        .iter()
        .filter(|line| !probes.contains(&line.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "the proxy refused {unexpected:#?}");
}

// ------------------------------------------------------------------------------------------
// rclone

/// rclone with an S3 remote given entirely by flags (provider Other, path style, the proxy as
/// endpoint), otherwise at its defaults; `--retries 1` only so a failure fails fast.
fn rclone(endpoint: &str, args: &[&str]) -> Output {
    Command::new("rclone")
        .args(args)
        .args([
            "--s3-provider=Other",
            &format!("--s3-endpoint={endpoint}"),
            &format!("--s3-access-key-id={ACCESS_KEY}"),
            &format!("--s3-secret-access-key={SECRET_KEY}"),
            "--s3-region=us-east-1",
            "--s3-force-path-style=true",
            "--config=/dev/null",
            "--retries=1",
            "--low-level-retries=1",
            "-v",
        ])
        // rclone's SDK cannot load a CA bundle into its own transport (and plain HTTP needs none).
        .env_remove("AWS_CA_BUNDLE")
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run rclone ({e}): run scripts/test.sh, which installs it")
        })
}

/// How many files an rclone run says it copied (`-v` prints one `Copied (…)` line per file).
fn rclone_copied(log: &str) -> usize {
    log.matches(": Copied (").count()
}

#[test]
fn rclone_sync_then_check_compares_md5s() {
    let (nginx, proxy) = start();
    let local = tempfile::tempdir().unwrap();
    let tree = local_tree(local.path(), BIG);
    let dir = local.path().to_str().unwrap();
    let first = ok(rclone(&proxy.endpoint(), &["sync", dir, ":s3:rbkt/tree"]));
    assert_eq!(rclone_copied(&first), tree.len(), "{first}");
    // rclone creates the bucket itself (CreateBucket: a folder).
    assert!(nginx.root().join("rbkt").is_dir());
    assert_stored(&nginx, "rbkt/tree", &tree);

    let check = ok(rclone(&proxy.endpoint(), &["check", dir, ":s3:rbkt/tree"]));
    assert!(check.contains("0 differences found"), "{check}");
    assert!(
        check.contains(&format!("{} matching files", tree.len())),
        "{check}"
    );
    // The listing's ETags are the recorded MD5s (store::etags): rclone compares hashes.
    assert!(check.contains("Using md5 for hash comparisons"), "{check}");
    assert!(!check.contains("could not be checked"), "{check}");
    // A size that differs is found.
    nginx.put_file("rbkt/tree/other/x", b"xx");
    let differs = rclone(&proxy.endpoint(), &["check", dir, ":s3:rbkt/tree"]);
    assert!(!differs.status.success(), "{}", text(&differs));
    assert!(
        text(&differs).contains("1 differences found"),
        "{}",
        text(&differs)
    );
    // rclone asks whether `tree` is an object, and lists the bucket before creating it.
    assert_refused_only_probes(
        &proxy,
        &[
            "HEAD rbkt/tree -> 404 NoSuchKey",
            "GET rbkt/ -> 404 NoSuchBucket",
        ],
    );
}

/// Fails today: rclone reads the modification time from `X-Amz-Meta-Mtime`, which nginx does
/// not keep, finds it differs, and takes the hash from a HEAD, whose ETag is nginx's (the
/// recorded MD5s are in listings only): "Dst hash empty", so it uploads every file again
/// (then it would set the time by a CopyObject onto itself, which the store would have to
/// keep too). `rclone sync --checksum` uploads nothing (next test).
#[test]
#[ignore = "needs x-amz-meta-mtime kept and the recorded MD5 on HEAD (issue 14 follow-up)"]
fn rclone_second_sync_transfers_nothing() {
    let (nginx, proxy) = start();
    let local = tempfile::tempdir().unwrap();
    let tree = local_tree(local.path(), BIG);
    let dir = local.path().to_str().unwrap();
    let first = ok(rclone(&proxy.endpoint(), &["sync", dir, ":s3:rbkt/tree"]));
    assert_eq!(rclone_copied(&first), tree.len(), "{first}");
    let puts = count_puts(&nginx);
    let second = ok(rclone(&proxy.endpoint(), &["sync", dir, ":s3:rbkt/tree"]));
    assert_eq!(rclone_copied(&second), 0, "{second}");
    assert_eq!(count_puts(&nginx), puts, "nginx saw no new PUT");
    assert_stored(&nginx, "rbkt/tree", &tree);
}

/// With `--checksum` rclone compares sizes and the listing's MD5s only: the second sync
/// uploads nothing, and a change at the same size is uploaded.
#[test]
fn rclone_second_sync_with_checksum_transfers_only_changes() {
    let (nginx, proxy) = start();
    let local = tempfile::tempdir().unwrap();
    let tree = local_tree(local.path(), BIG);
    let dir = local.path().to_str().unwrap();
    let sync = ["sync", "--checksum", dir, ":s3:rbkt/tree"];
    let first = ok(rclone(&proxy.endpoint(), &sync));
    assert_eq!(rclone_copied(&first), tree.len(), "{first}");
    let puts = count_puts(&nginx);
    let second = ok(rclone(&proxy.endpoint(), &sync));
    assert_eq!(rclone_copied(&second), 0, "{second}");
    assert_eq!(count_puts(&nginx), puts, "nginx saw no new PUT");
    std::fs::write(local.path().join("top.txt"), b"TOP").unwrap();
    let third = ok(rclone(&proxy.endpoint(), &sync));
    assert_eq!(rclone_copied(&third), 1, "{third}");
    assert_eq!(
        nginx.stored("rbkt/tree/top.txt").as_deref(),
        Some(&b"TOP"[..])
    );
}

// ------------------------------------------------------------------------------------------
// s3cmd

/// s3cmd of the test virtualenv with a config naming only the endpoint and the credentials
/// (path style: `host_bucket` without `%(bucket)s`); `-v` only to read its reasoning.
fn s3cmd(endpoint: &str, args: &[&str]) -> Output {
    let host = endpoint
        .strip_prefix("http://")
        .expect("plain HTTP endpoint");
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!(
            "[default]\naccess_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\n\
             host_base = {host}\nhost_bucket = {host}\nuse_https = False\n"
        ),
    )
    .unwrap();
    let python = std::path::PathBuf::from(python());
    let program = python
        .parent()
        .map(|dir| dir.join("s3cmd"))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| "s3cmd".into());
    Command::new(&program)
        .arg("-c")
        .arg(config.path())
        .arg("-v")
        .args(args)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program:?} ({e}): run scripts/test.sh"))
}

/// A bucket made on the store itself (`s3cmd mb` has its own test below).
fn s3cmd_bucket(nginx: &Nginx, bucket: &str) {
    std::fs::create_dir(nginx.root().join(bucket)).unwrap();
}

fn s3cmd_uploads(log: &str) -> usize {
    log.matches("upload: '").count()
}

#[test]
fn s3cmd_sync_compares_md5s_and_uploads_a_change_at_the_same_size() {
    let (nginx, proxy) = start();
    let endpoint = proxy.endpoint();
    let local = tempfile::tempdir().unwrap();
    let tree = local_tree(local.path(), 0);
    let dir = format!("{}/", local.path().display());
    s3cmd_bucket(&nginx, "sbkt");
    let first = ok(s3cmd(&endpoint, &["sync", &dir, "s3://sbkt/tree/"]));
    assert_eq!(s3cmd_uploads(&first), tree.len(), "{first}");
    assert_stored(&nginx, "sbkt/tree", &tree);

    let puts = count_puts(&nginx);
    let before = nginx.upstream_requests().len();
    let second = ok(s3cmd(&endpoint, &["sync", &dir, "s3://sbkt/tree/"]));
    assert_eq!(s3cmd_uploads(&second), 0, "{second}");
    assert_eq!(count_puts(&nginx), puts, "nginx saw no new PUT");
    // The listing's ETags are the MD5s the proxy recorded (store::etags): s3cmd compares them
    // with its own, no md5 check is disabled and no object is HEADed.
    assert!(!second.contains("disabled md5 check"), "{second}");
    let heads = nginx.upstream_requests()[before..]
        .iter()
        .filter(|r| r.method == "HEAD" && r.uri.starts_with("/sbkt/tree/"))
        .count();
    assert_eq!(heads, 0);

    // A file changed in place at the same size is uploaded again.
    std::fs::write(local.path().join("top.txt"), b"TOP").unwrap();
    let third = ok(s3cmd(&endpoint, &["sync", &dir, "s3://sbkt/tree/"]));
    assert_eq!(s3cmd_uploads(&third), 1, "{third}");
    assert_eq!(
        nginx.stored("sbkt/tree/top.txt").as_deref(),
        Some(&b"TOP"[..])
    );
    assert_refused_only_probes(&proxy, &[]);
}

/// s3cmd uploads files over 15 MiB (`multipart_chunk_size_mb`) in parts; the second sync
/// HEADs that object too (its ETag has a `-` as well) and compares its size.
#[test]
fn s3cmd_sync_of_a_file_over_its_multipart_threshold() {
    let (nginx, proxy) = start();
    let endpoint = proxy.endpoint();
    let local = tempfile::tempdir().unwrap();
    let tree = local_tree(local.path(), BIG);
    let dir = format!("{}/", local.path().display());
    s3cmd_bucket(&nginx, "sbkt");
    let first = ok(s3cmd(&endpoint, &["sync", &dir, "s3://sbkt/tree/"]));
    assert_eq!(s3cmd_uploads(&first), tree.len(), "{first}");
    assert_stored(&nginx, "sbkt/tree", &tree);
    let second = ok(s3cmd(&endpoint, &["sync", &dir, "s3://sbkt/tree/"]));
    assert_eq!(s3cmd_uploads(&second), 0, "{second}");
    assert_refused_only_probes(&proxy, &[]);
}

/// s3cmd's default `bucket_location` is `US`. A new bucket has no location to ask for, so s3cmd
/// signs `PUT /bucket` with the region `US`; the proxy answers `AuthorizationHeaderMalformed`
/// with a `<Region>` element, as S3 does, and s3cmd sends the request again signed for it.
/// Without that element s3cmd gave up ("Could not determine bucket the location").
#[test]
fn s3cmd_mb_at_its_default_bucket_location() {
    let (nginx, proxy) = start();
    let made = ok(s3cmd(&proxy.endpoint(), &["mb", "s3://sbkt"]));
    assert!(made.contains("Bucket 's3://sbkt/' created"), "{made}");
    assert!(made.contains("Forwarding request to us-east-1"), "{made}");
    assert!(nginx.root().join("sbkt").is_dir());
    assert_refused_only_probes(
        &proxy,
        &[
            "GET sbkt/ -> 404 NoSuchBucket",
            // Refused before the target is read: no bucket in the log.
            "PUT / -> 400 AuthorizationHeaderMalformed",
        ],
    );
}

// ------------------------------------------------------------------------------------------
// minio-py

fn minio_py(size: &str) {
    let (nginx, proxy) = start();
    run_script_with(
        "minio_client.py",
        &nginx,
        &proxy.endpoint(),
        None,
        &[("SIZE", size)],
    );
    let stored = nginx.stored(&format!("minio-bkt/nested/dir/{size}.bin"));
    assert!(stored.is_some(), "{:?}", nginx.stored_files().len());
    // minio-py asks for the bucket's region first (GET ?location), before it exists.
    assert_refused_only_probes(&proxy, &["GET minio-bkt/ -> 404 NoSuchBucket"]);
}

#[test]
fn minio_py_fput_fget_and_list_of_a_small_file() {
    minio_py("small");
}

#[test]
fn minio_py_fput_fget_and_list_of_20_mib() {
    minio_py("large");
}

// ------------------------------------------------------------------------------------------
// restic

/// restic with the `s3:` backend at the proxy, credentials and password from the environment,
/// its cache in `cache` (not the user's), run in `cwd`.
fn restic(endpoint: &str, cache: &Path, cwd: &Path, args: &[&str]) -> Output {
    let mut command = Command::new("restic");
    command
        .current_dir(cwd)
        .args(["-r", &format!("s3:{endpoint}/resticbkt")])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("RESTIC_PASSWORD", "correct horse battery staple")
        .env("RESTIC_CACHE_DIR", cache)
        .env("NO_PROXY", "127.0.0.1");
    for name in [
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_CA_BUNDLE",
        "AWS_DEFAULT_REGION",
        "RESTIC_REPOSITORY",
        "RESTIC_PASSWORD_FILE",
        "HTTP_PROXY",
        "http_proxy",
    ] {
        command.env_remove(name);
    }
    command.output().unwrap_or_else(|e| {
        panic!("cannot run restic ({e}): run scripts/test.sh, which installs it")
    })
}

/// The files nginx holds under `folder`.
fn files_under(nginx: &Nginx, folder: &str) -> Vec<String> {
    nginx
        .stored_files()
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| path.starts_with(folder))
        .collect()
}

#[test]
fn restic_init_backup_check_and_restore() {
    let (nginx, proxy) = start();
    let endpoint = proxy.endpoint();
    let cache = tempfile::tempdir().unwrap();
    let local = tempfile::tempdir().unwrap();
    let source = local.path().join("source");
    let tree = local_tree(&source, BIG);

    let init = ok(restic(&endpoint, cache.path(), local.path(), &["init"]));
    assert!(init.contains("created restic repository"), "{init}");
    assert!(nginx.stored("resticbkt/config").is_some());
    assert_eq!(files_under(&nginx, "resticbkt/keys/").len(), 1);

    // Run in its parent folder, so the snapshot holds `source/...`.
    let backup = ok(restic(
        &endpoint,
        cache.path(),
        local.path(),
        &["backup", "source"],
    ));
    assert!(
        backup.contains("snapshot") && backup.contains("saved"),
        "{backup}"
    );
    assert_eq!(files_under(&nginx, "resticbkt/snapshots/").len(), 1);
    assert!(!files_under(&nginx, "resticbkt/index/").is_empty());
    let packs: u64 = nginx
        .stored_files()
        .iter()
        .filter(|(path, _)| path.starts_with("resticbkt/data/"))
        .map(|(_, bytes)| bytes.len() as u64)
        .sum();
    assert!(packs >= BIG as u64, "packs hold {packs} bytes");
    // Nothing left locked.
    assert!(files_under(&nginx, "resticbkt/locks/").is_empty());

    let check = ok(restic(&endpoint, cache.path(), local.path(), &["check"]));
    assert!(check.contains("no errors were found"), "{check}");

    let target = tempfile::tempdir().unwrap();
    ok(restic(
        &endpoint,
        cache.path(),
        local.path(),
        &[
            "restore",
            "latest",
            "--target",
            target.path().to_str().unwrap(),
        ],
    ));
    for (name, contents) in &tree {
        let restored = std::fs::read(target.path().join("source").join(name)).ok();
        assert!(
            restored.as_deref() == Some(contents.as_slice()),
            "{name} restored as {:?} bytes",
            restored.map(|r| r.len())
        );
    }

    // restic needs nothing the proxy refuses: only its probes before the repository exists
    // (minio-go's GET ?location of the bucket, restic's HEAD of config) are answered 404.
    assert_refused_only_probes(
        &proxy,
        &[
            "GET resticbkt/ -> 404 NoSuchBucket",
            "HEAD resticbkt/config -> 404 NoSuchKey",
        ],
    );
    let posts: Vec<_> = access_log(&proxy)
        .into_iter()
        .filter(|l| l.method == "POST")
        .collect();
    assert!(posts.is_empty(), "no multipart upload: {posts:?}");
}
