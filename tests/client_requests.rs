//! What real clients send must work, in front of nginx and s3s-fs: the AWS CLI's server-side
//! copies (`aws s3 mv`, `aws s3 cp s3://… s3://…`; in front of nginx the proxy makes them),
//! rclone's presigned uploads (Content-Length twice), repeated metadata headers (one
//! comma-joined value, as SigV4 and SigV2 sign them), and repeated single headers with
//! different values refused.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::python::aws_cli;
use support::s3_server::S3Server;
use support::{Nginx, Payload, Proxy, ProxyOptions, Signer, ACCESS_KEY, SECRET_KEY};

/// The AWS CLI with the default credential.
fn aws(endpoint: &str, args: &[&str]) -> Output {
    aws_cli(endpoint, ACCESS_KEY, SECRET_KEY, args)
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn write(root: &Path, relative: &str, contents: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

#[test]
fn aws_s3_mv_and_cp_between_keys_work_in_front_of_nginx() {
    // The proxy makes the copy itself (a WebDAV COPY into its staging area, then a MOVE onto
    // the key): nginx never receives the copy's PUT, which it would store as an empty file
    // before the AWS CLI deleted the source of a move.
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    nginx.put_file("bkt/src.txt", b"moved bytes");

    let cp = aws(
        &proxy.endpoint(),
        &["s3", "cp", "s3://bkt/src.txt", "s3://bkt/copy.txt"],
    );
    assert!(cp.status.success(), "{}", text(&cp));
    let mv = aws(
        &proxy.endpoint(),
        &["s3", "mv", "s3://bkt/src.txt", "s3://bkt/dir/dst.txt"],
    );
    assert!(mv.status.success(), "{}", text(&mv));

    assert_eq!(
        nginx.stored("bkt/copy.txt").as_deref(),
        Some(&b"moved bytes"[..])
    );
    assert_eq!(
        nginx.stored("bkt/dir/dst.txt").as_deref(),
        Some(&b"moved bytes"[..])
    );
    assert_eq!(nginx.stored("bkt/src.txt"), None);
    let puts: Vec<_> = nginx
        .upstream_requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert!(puts.is_empty(), "nginx was asked to PUT: {puts:?}");
}

#[test]
fn aws_s3_mv_and_cp_between_keys_work_in_front_of_an_s3_server() {
    let server = S3Server::start();
    let proxy = Proxy::start_in_front_of(server.addr(), "s3", ProxyOptions::default());
    write(server.root(), "bkt/src.txt", b"moved bytes");

    let cp = aws(
        &proxy.endpoint(),
        &["s3", "cp", "s3://bkt/src.txt", "s3://bkt/copy.txt"],
    );
    assert!(cp.status.success(), "{}", text(&cp));
    let mv = aws(
        &proxy.endpoint(),
        &["s3", "mv", "s3://bkt/src.txt", "s3://bkt/dir/dst.txt"],
    );
    assert!(mv.status.success(), "{}", text(&mv));

    let read = |relative: &str| std::fs::read(server.root().join(relative)).ok();
    assert_eq!(read("bkt/copy.txt").as_deref(), Some(&b"moved bytes"[..]));
    assert_eq!(
        read("bkt/dir/dst.txt").as_deref(),
        Some(&b"moved bytes"[..])
    );
    assert_eq!(read("bkt/src.txt"), None);
}

/// rclone with `--s3-use-presigned-request` uploads `contents` as `bkt/<key>` and exits 0.
fn rclone_presigned_upload(endpoint: &str, dir: &Path, key: &str, contents: &[u8]) -> Output {
    let file = dir.join("upload.bin");
    std::fs::write(&file, contents).unwrap();
    Command::new("rclone")
        .args(["copyto", file.to_str().unwrap(), &format!(":s3:bkt/{key}")])
        .args([
            "--s3-provider=Other",
            &format!("--s3-endpoint={endpoint}"),
            &format!("--s3-access-key-id={ACCESS_KEY}"),
            &format!("--s3-secret-access-key={SECRET_KEY}"),
            "--s3-region=us-east-1",
            "--s3-force-path-style=true",
            "--s3-use-presigned-request=true",
            "--s3-no-check-bucket=true",
            "--config=/dev/null",
            "--retries=1",
            "--low-level-retries=1",
        ])
        // rclone's SDK cannot load a CA bundle into its own transport (and plain HTTP needs none).
        .env_remove("AWS_CA_BUNDLE")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run rclone ({e}): run scripts/test.sh, which installs it")
        })
}

#[test]
fn rclone_presigned_uploads_with_a_doubled_content_length_reach_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let contents = support::patterned_bytes(12_345);

    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let upload = rclone_presigned_upload(&proxy.endpoint(), dir.path(), "r/one.bin", &contents);
    assert!(upload.status.success(), "nginx: {}", text(&upload));
    assert_eq!(
        nginx.stored("bkt/r/one.bin").as_deref(),
        Some(&contents[..])
    );
    let upstream = nginx.upstream_requests();
    let put = upstream
        .iter()
        .find(|r| r.method == "PUT")
        .expect("a PUT reached nginx");
    assert_eq!(put.content_length, "12345");

    let server = S3Server::start();
    std::fs::create_dir_all(server.root().join("bkt")).unwrap();
    let proxy = Proxy::start_in_front_of(server.addr(), "s3", ProxyOptions::default());
    let upload = rclone_presigned_upload(&proxy.endpoint(), dir.path(), "r/one.bin", &contents);
    assert!(upload.status.success(), "s3s-fs: {}", text(&upload));
    assert_eq!(
        std::fs::read(server.root().join("bkt/r/one.bin")).unwrap(),
        contents
    );
}

#[test]
fn a_doubled_content_length_is_one_and_differing_single_headers_are_refused() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());

    // The same value twice, as rclone sends it: one Content-Length upstream.
    // presigned, as rclone's uploads are (only the host is signed).
    let mut put = proxy.request("PUT", "/bkt/twice.txt");
    Signer::default().presign(&mut put, std::time::Duration::from_secs(600));
    let mut put = put.body(b"twice".to_vec());
    put.headers.push(("Content-Length".into(), "5".into()));
    proxy.send(&put).assert_success();
    assert_eq!(
        nginx.stored("bkt/twice.txt").as_deref(),
        Some(&b"twice"[..])
    );

    // Two different dates (both signed: the client cannot have meant both).
    let mut dated = proxy.request("PUT", "/bkt/dated.txt").body(b"x".to_vec());
    Signer::default().sign(&mut dated, Payload::Hashed);
    dated
        .headers
        .push(("X-Amz-Date".into(), "20200101T000000Z".into()));
    proxy.send(&dated).assert_s3_error(400, "InvalidArgument");
    assert_eq!(nginx.stored("bkt/dated.txt"), None);
}

#[test]
fn repeated_metadata_headers_reach_an_s3_server_as_the_joined_value_that_was_signed() {
    // The S3 documentation's SigV2 example sends x-amz-meta-reviewedby twice; SigV4 and SigV2
    // both sign the two as "joe@johnsmith.net,jane@johnsmith.net". s3s-fs refuses a request that
    // carries the header twice.
    let server = S3Server::start();
    std::fs::create_dir_all(server.root().join("bkt")).unwrap();
    let proxy = Proxy::start_in_front_of(server.addr(), "s3", ProxyOptions::default());
    let mut put = proxy
        .request("PUT", "/bkt/reviewed.txt")
        .header("x-amz-meta-reviewedby", "joe@johnsmith.net")
        .header("x-amz-meta-reviewedby", "jane@johnsmith.net")
        .body(b"reviewed".to_vec());
    Signer::default().sign(&mut put, Payload::Hashed);

    proxy.send(&put).assert_success();

    assert_eq!(
        std::fs::read(server.root().join("bkt/reviewed.txt")).unwrap(),
        b"reviewed"
    );
    let mut head = proxy.request("HEAD", "/bkt/reviewed.txt");
    Signer::default().sign(&mut head, Payload::Hashed);
    let response = proxy.send(&head);
    response.assert_success();
    assert_eq!(
        response.header("x-amz-meta-reviewedby"),
        Some("joe@johnsmith.net,jane@johnsmith.net")
    );
}
