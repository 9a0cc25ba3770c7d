//! Multipart upload in front of a plain store (real nginx with WebDAV): the AWS CLI at its
//! defaults (a 40 MiB `cp` up and down), boto3 (tests/python/plain_store_multipart.py:
//! upload_file, the low-level calls, S3's rules, the attacks of issue 14), two proxies
//! sharing one nginx taking turns in one upload.

mod support;

use std::process::Output;

use support::nginx::Nginx;
use support::python::{aws_cli, run_script_with};
use support::{Proxy, ProxyOptions, ACCESS_KEY, SECRET_KEY};

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn boto3_multipart_uploads_rules_and_attacks_with_two_proxies() {
    let nginx = Nginx::start();
    let first = Proxy::start(&nginx, ProxyOptions::default());
    let second = Proxy::start(&nginx, ProxyOptions::default());
    run_script_with(
        "plain_store_multipart.py",
        &nginx,
        &first.endpoint(),
        None,
        &[("ENDPOINT2", &second.endpoint())],
    );
}

#[test]
fn aws_cli_copies_40_mib_up_and_down() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let endpoint = proxy.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..40 * 1024 * 1024u32)
        .map(|i| (i % 251) as u8 ^ (i >> 13) as u8)
        .collect();
    let up = dir.path().join("forty.bin");
    std::fs::write(&up, &data).unwrap();
    ok(aws_cli(
        &endpoint,
        ACCESS_KEY,
        SECRET_KEY,
        &["s3", "mb", "s3://cli"],
    ));
    ok(aws_cli(
        &endpoint,
        ACCESS_KEY,
        SECRET_KEY,
        &["s3", "cp", up.to_str().unwrap(), "s3://cli/dir/forty.bin"],
    ));
    let stored = std::fs::read(nginx.root().join("cli/dir/forty.bin")).unwrap();
    assert!(stored == data, "the stored object differs");
    let down = dir.path().join("back.bin");
    ok(aws_cli(
        &endpoint,
        ACCESS_KEY,
        SECRET_KEY,
        &["s3", "cp", "s3://cli/dir/forty.bin", down.to_str().unwrap()],
    ));
    assert!(
        std::fs::read(&down).unwrap() == data,
        "the download differs"
    );
    let listing = ok(aws_cli(
        &endpoint,
        ACCESS_KEY,
        SECRET_KEY,
        &["s3", "ls", "--recursive", "s3://cli"],
    ));
    assert!(listing.contains("41943040 dir/forty.bin"), "{listing}");
    // Nothing left in the staging area.
    let staging = nginx.root().join(".s3-auth-proxy/uploads/cli");
    let left: Vec<_> = std::fs::read_dir(&staging)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn the_scopes_hold_for_every_multipart_step() {
    use support::proxy::Credential;
    let nginx = Nginx::start();
    let options = ProxyOptions::default().with_credentials(vec![
        Credential::new(ACCESS_KEY, SECRET_KEY),
        Credential::new("AKIDPHOTOS", "photos-secret")
            .allow(&["read:bkt/photos/*", "write:bkt/photos/*"]),
    ]);
    let proxy = Proxy::start(&nginx, options);
    let endpoint = proxy.endpoint();
    let admin = |args: &[&str]| aws_cli(&endpoint, ACCESS_KEY, SECRET_KEY, args);
    let scoped = |args: &[&str]| aws_cli(&endpoint, "AKIDPHOTOS", "photos-secret", args);
    let refused = |output: Output| {
        let text = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !output.status.success() && text.contains("AccessDenied"),
            "{text}"
        );
    };
    ok(admin(&["s3", "mb", "s3://bkt"]));
    let created = ok(admin(&[
        "s3api",
        "create-multipart-upload",
        "--bucket",
        "bkt",
        "--key",
        "private/x",
        "--query",
        "UploadId",
        "--output",
        "text",
    ]));
    let private_id = created.trim();
    // Outside the scope: starting, a part, listing parts, completing, aborting, listing uploads.
    refused(scoped(&[
        "s3api",
        "create-multipart-upload",
        "--bucket",
        "bkt",
        "--key",
        "private/y",
    ]));
    refused(scoped(&[
        "s3api",
        "upload-part",
        "--bucket",
        "bkt",
        "--key",
        "private/x",
        "--upload-id",
        private_id,
        "--part-number",
        "1",
    ]));
    refused(scoped(&[
        "s3api",
        "list-parts",
        "--bucket",
        "bkt",
        "--key",
        "private/x",
        "--upload-id",
        private_id,
    ]));
    refused(scoped(&[
        "s3api",
        "complete-multipart-upload",
        "--bucket",
        "bkt",
        "--key",
        "private/x",
        "--upload-id",
        private_id,
        "--multipart-upload",
        "Parts=[{PartNumber=1,ETag=x}]",
    ]));
    refused(scoped(&[
        "s3api",
        "abort-multipart-upload",
        "--bucket",
        "bkt",
        "--key",
        "private/x",
        "--upload-id",
        private_id,
    ]));
    refused(scoped(&[
        "s3api",
        "list-multipart-uploads",
        "--bucket",
        "bkt",
    ]));
    refused(scoped(&[
        "s3api",
        "list-multipart-uploads",
        "--bucket",
        "bkt",
        "--prefix",
        "priv",
    ]));
    // The same id under a key of the scope names no upload.
    let other = scoped(&[
        "s3api",
        "list-parts",
        "--bucket",
        "bkt",
        "--key",
        "photos/x",
        "--upload-id",
        private_id,
    ]);
    assert!(String::from_utf8_lossy(&other.stderr).contains("NoSuchUpload"));
    // Inside it, everything works.
    let listed = ok(scoped(&[
        "s3api",
        "list-multipart-uploads",
        "--bucket",
        "bkt",
        "--prefix",
        "photos/",
    ]));
    assert!(!listed.contains("private"), "{listed}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cat.bin");
    std::fs::write(&file, vec![7u8; 9 * 1024 * 1024]).unwrap();
    ok(scoped(&[
        "s3",
        "cp",
        file.to_str().unwrap(),
        "s3://bkt/photos/cat.bin",
    ]));
    assert_eq!(
        std::fs::read(nginx.root().join("bkt/photos/cat.bin"))
            .unwrap()
            .len(),
        9 * 1024 * 1024
    );
    // The refused steps left the private upload as it was: still there, no object.
    ok(admin(&[
        "s3api",
        "list-parts",
        "--bucket",
        "bkt",
        "--key",
        "private/x",
        "--upload-id",
        private_id,
    ]));
    assert!(!nginx.root().join("bkt/private/x").exists());
}

#[test]
fn a_long_complete_is_kept_alive_with_spaces() {
    let nginx = Nginx::start();
    let options = ProxyOptions::default().with_upstream_setting("complete_keepalive = \"1ms\"");
    let proxy = Proxy::start(&nginx, options);
    run_script_with(
        "plain_store_keepalive.py",
        &nginx,
        &proxy.endpoint(),
        None,
        &[],
    );
}
