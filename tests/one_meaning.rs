//! One request, one meaning: what the backend acts on is exactly what the proxy authorized.
//!
//! Each attack is a correctly signed request by a key scoped to `bkt/allowed/*` that the
//! proxy used to read one way and the backend another (an encoded `/` in the bucket, an
//! absolute-form target, a Host that is not a bucket name, dot segments on an S3 server, a copy
//! source, a DeleteObjects body, a listing, a bucket-level write). Each runs in front of real
//! nginx (`kind = "http"`) and real s3s-fs (`kind = "s3"`), and asserts the refusal *and* that
//! the backend's folder is exactly as before; next to it, the legitimate neighbour still works.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use support::s3_server::S3Server;
use support::{md5_base64, Credential, Nginx, Payload, Proxy, ProxyOptions, Request, Signer};

const SCOPED_KEY: &str = "AKIDSCOPED";
const SCOPED_SECRET: &str = "scoped-secret-key";
const SCOPE: &[&str] = &["read:bkt/allowed/*", "write:bkt/allowed/*"];

/// One backend with its folder, a few objects in it, and the proxy in front.
struct Setup {
    proxy: Proxy,
    root: PathBuf,
    /// Kept alive (stopped when dropped).
    _backend: Box<dyn std::any::Any>,
}

impl Setup {
    fn start(kind: &str) -> Setup {
        Setup::start_with(kind, ProxyOptions::default())
    }

    fn start_with(kind: &str, options: ProxyOptions) -> Setup {
        let options = options.with_credentials(vec![
            Credential::new(SCOPED_KEY, SCOPED_SECRET).allow(SCOPE),
            Credential::new(support::ACCESS_KEY, support::SECRET_KEY),
        ]);
        let (backend, root, proxy) = match kind {
            "http" => {
                let nginx = Nginx::start();
                let proxy = Proxy::start(&nginx, options);
                let root = nginx.root();
                (Box::new(nginx) as Box<dyn std::any::Any>, root, proxy)
            }
            _ => {
                let server = S3Server::start();
                let proxy = Proxy::start_in_front_of(server.addr(), "s3", options);
                let root = server.root().to_path_buf();
                (Box::new(server) as Box<dyn std::any::Any>, root, proxy)
            }
        };
        let setup = Setup {
            proxy,
            root,
            _backend: backend,
        };
        setup.put_file("bkt/allowed/mine.txt", b"mine");
        setup.put_file("bkt/secret/file.txt", b"secret");
        setup.put_file("other/file.txt", b"other bucket");
        std::fs::create_dir_all(setup.root.join("empty-bucket")).unwrap();
        setup
    }

    fn put_file(&self, relative: &str, contents: &[u8]) {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// Every file and folder under the backend's root, with the files' bytes.
    fn snapshot(&self) -> BTreeMap<String, Option<Vec<u8>>> {
        let mut all = BTreeMap::new();
        walk(&self.root, &self.root, &mut all);
        all
    }

    /// A request signed by the scoped key (headers added before signing are signed).
    fn scoped(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
        let mut request = self.proxy.request(method, target).body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        Signer::new(SCOPED_KEY, SCOPED_SECRET).sign(&mut request, Payload::Hashed);
        request
    }

    /// Send `request`, assert the S3 error and that the backend's folder did not change.
    fn assert_refused(&self, request: &Request, status: u16, code: &str) {
        let before = self.snapshot();
        let response = self.proxy.send(request);
        response.assert_s3_error(status, code);
        assert_eq!(
            self.snapshot(),
            before,
            "{} {}: the backend changed",
            request.method,
            request.target
        );
    }
}

fn walk(root: &Path, dir: &Path, all: &mut BTreeMap<String, Option<Vec<u8>>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            all.insert(format!("{name}/"), None);
            walk(root, &path, all);
        } else {
            all.insert(name, std::fs::read(&path).ok());
        }
    }
}

const KINDS: [&str; 2] = ["http", "s3"];

#[test]
fn an_encoded_slash_in_the_bucket_never_reaches_another_bucket() {
    for kind in KINDS {
        let setup = Setup::start(kind);
        for target in [
            "/bkt%2Fallowed%2F..%2F..%2Fother/file.txt",
            "/bkt%2Fallowed%2F..%2Fsecret/file.txt",
            "/bkt%2fallowed%2f..%2f..%2fother/new.txt",
        ] {
            for method in ["PUT", "DELETE"] {
                let request = setup.scoped(method, target, &[], b"overwritten");
                setup.assert_refused(&request, 400, "InvalidBucketName");
            }
            let read = setup.scoped("GET", target, &[], b"");
            setup.assert_refused(&read, 400, "InvalidBucketName");
        }
        // The whole other bucket: `DELETE /bkt%2Fallowed%2F..%2F..%2Fother` deleted it on nginx.
        let request = setup.scoped("DELETE", "/bkt%2Fallowed%2F..%2F..%2Fother", &[], b"");
        setup.assert_refused(&request, 400, "InvalidBucketName");
        // The neighbour: an encoded slash inside the key is the key's own.
        let ok = setup.scoped("PUT", "/bkt/allowed%2Fnew.txt", &[], b"fine");
        setup.proxy.send(&ok).assert_success();
        assert_eq!(
            std::fs::read(setup.root.join("bkt/allowed/new.txt")).unwrap(),
            b"fine",
            "{kind}"
        );
    }
}

#[test]
fn dot_segments_are_refused_in_front_of_every_kind_of_backend() {
    for kind in KINDS {
        let setup = Setup::start(kind);
        for target in [
            "/bkt/allowed/../secret/file.txt",
            "/bkt/allowed/%2E%2E/secret/file.txt",
            "/bkt/allowed%2F..%2Fsecret%2Ffile.txt",
            "/bkt/allowed/./mine.txt",
            "/bkt/allowed//mine.txt",
        ] {
            for (method, body) in [("PUT", &b"overwritten"[..]), ("DELETE", b""), ("GET", b"")] {
                let request = setup.scoped(method, target, &[], body);
                setup.assert_refused(&request, 400, "InvalidArgument");
            }
        }
        // Names with dots that are not segments are ordinary keys.
        for key in ["a..b", ".hidden", "..."] {
            let ok = setup.scoped("PUT", &format!("/bkt/allowed/{key}"), &[], b"dots");
            setup.proxy.send(&ok).assert_success();
            assert_eq!(
                std::fs::read(setup.root.join("bkt/allowed").join(key)).unwrap(),
                b"dots",
                "{kind} {key}"
            );
        }
    }
}

#[test]
fn an_absolute_form_target_must_name_the_host() {
    for kind in KINDS {
        let setup = Setup::start(kind);
        let host = setup.proxy.host();
        // Pingora refuses a mismatch itself (400 without a body) before the proxy's own
        // check (`request::split_target`, unit-tested) would: either way, a 400 and nothing done.
        for target in [
            "http://elsewhere.test/bkt/allowed/x.txt",
            "http://bkt/allowed/../../other/file.txt",
        ] {
            let request = setup.scoped("PUT", target, &[], b"x");
            let before = setup.snapshot();
            let response = setup.proxy.send(&request);
            assert_eq!(response.status, 400, "{kind} {target}: {}", response.text());
            assert_eq!(setup.snapshot(), before, "{kind} {target}");
        }
        // Its own authority: the path is the request's, as in origin-form.
        let target = format!("http://{host}/bkt/allowed/absolute.txt");
        let ok = setup.scoped("PUT", &target, &[], b"absolute");
        let response = setup.proxy.send(&ok);
        response.assert_success();
        assert_eq!(
            std::fs::read(setup.root.join("bkt/allowed/absolute.txt")).unwrap(),
            b"absolute",
            "{kind}"
        );
    }
}

#[test]
fn a_virtual_host_that_is_not_a_bucket_name_is_refused() {
    for kind in KINDS {
        let options = ProxyOptions::default().with_virtual_host_suffix("s3.local.test");
        let setup = Setup::start_with(kind, options);
        for host in [
            "bkt/allowed/../../other.s3.local.test",
            "other/file.txt#.s3.local.test",
            "other?.s3.local.test",
            "..s3.local.test",
            "BKT.s3.local.test:8080x",
        ] {
            let mut request = Request::new("PUT", "/file.txt")
                .header("host", host)
                .body(b"x".to_vec());
            Signer::new(SCOPED_KEY, SCOPED_SECRET).sign(&mut request, Payload::Hashed);
            let before = setup.snapshot();
            let response = setup.proxy.send(&request);
            assert!(
                (400..500).contains(&response.status),
                "{kind} {host}: {} {}",
                response.status,
                response.text()
            );
            assert_eq!(setup.snapshot(), before, "{kind} {host}");
        }
        let mut ok = Request::new("PUT", "/allowed/vhost.txt")
            .header("host", "bkt.s3.local.test")
            .body(b"vhost".to_vec());
        Signer::new(SCOPED_KEY, SCOPED_SECRET).sign(&mut ok, Payload::Hashed);
        setup.proxy.send(&ok).assert_success();
        assert_eq!(
            std::fs::read(setup.root.join("bkt/allowed/vhost.txt")).unwrap(),
            b"vhost"
        );
    }
}

#[test]
fn a_copy_reads_its_source_only_within_the_scope() {
    // In front of a keyless S3 server the copy happens there; in front of nginx the proxy makes
    // it (a COPY into its staging area, then a MOVE). Either way its source is authorized as a
    // read, and a refused copy leaves the backend as it was.
    for kind in ["s3", "http"] {
        let setup = Setup::start(kind);
        for source in [
            "/bkt/secret/file.txt",
            "bkt/secret/file.txt",
            "/other/file.txt",
            "/bkt/secret%2Ffile.txt",
        ] {
            let request = setup.scoped(
                "PUT",
                "/bkt/allowed/copy.txt",
                &[("x-amz-copy-source", source)],
                b"",
            );
            setup.assert_refused(&request, 403, "AccessDenied");
        }
        for source in [
            "/bkt/allowed/../secret/file.txt",
            "/bkt/allowed/%2E%2E/secret/file.txt",
        ] {
            let request = setup.scoped(
                "PUT",
                "/bkt/allowed/copy.txt",
                &[("x-amz-copy-source", source)],
                b"",
            );
            setup.assert_refused(&request, 400, "InvalidArgument");
        }
        let ok = setup.scoped(
            "PUT",
            "/bkt/allowed/copy.txt",
            &[("x-amz-copy-source", "/bkt/allowed/mine.txt")],
            b"",
        );
        let response = setup.proxy.send(&ok);
        response.assert_success();
        assert_eq!(
            std::fs::read(setup.root.join("bkt/allowed/copy.txt")).unwrap(),
            b"mine",
            "{kind}"
        );
    }

    // In front of nginx: the proxy's own staging area is no source, even within the scope.
    let setup = Setup::start("http");
    let staged = setup.scoped(
        "PUT",
        "/bkt/allowed/copy.txt",
        &[("x-amz-copy-source", "/bkt/allowed/.s3-auth-proxy/no-index")],
        b"",
    );
    setup.assert_refused(&staged, 400, "InvalidArgument");
}

fn delete_body(keys: &[&str]) -> Vec<u8> {
    let objects: String = keys
        .iter()
        .map(|k| format!("<Object><Key>{k}</Key></Object>"))
        .collect();
    format!("<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{objects}<Quiet>true</Quiet></Delete>")
        .into_bytes()
}

#[test]
fn delete_objects_authorizes_every_key_of_its_body() {
    // In front of nginx the proxy deletes each key itself, after the same authorization.
    for kind in ["s3", "http"] {
        delete_objects_authorized_on(kind);
    }
}

fn delete_objects_authorized_on(kind: &str) {
    let setup = Setup::start(kind);
    let delete = |keys: &[&str]| {
        let body = delete_body(keys);
        let md5 = md5_base64(&body);
        setup.scoped("POST", "/bkt?delete", &[("content-md5", &md5)], &body)
    };
    setup.assert_refused(
        &delete(&["allowed/mine.txt", "secret/file.txt"]),
        403,
        "AccessDenied",
    );
    setup.assert_refused(
        &delete(&["allowed/../secret/file.txt"]),
        400,
        "InvalidArgument",
    );
    // Without Content-MD5 (or a checksum) the list could have been changed on the way.
    let body = delete_body(&["allowed/mine.txt"]);
    setup.assert_refused(
        &setup.scoped("POST", "/bkt?delete", &[], &body),
        400,
        "InvalidRequest",
    );
    // A Content-MD5 of another list.
    let md5 = md5_base64(&delete_body(&["allowed/x"]));
    let tampered = setup.scoped("POST", "/bkt?delete", &[("content-md5", &md5)], &body);
    setup.assert_refused(&tampered, 400, "BadDigest");
    // Its own keys: deleted.
    let response = setup.proxy.send(&delete(&["allowed/mine.txt"]));
    response.assert_success();
    assert!(!setup.root.join("bkt/allowed/mine.txt").exists());
    assert!(setup.root.join("bkt/secret/file.txt").exists());
}

#[test]
fn a_listing_needs_read_scopes_over_everything_it_can_return() {
    let setup = Setup::start("s3");
    for target in [
        "/bkt?list-type=2",
        "/bkt",
        "/bkt?list-type=2&prefix=allow",
        "/bkt?list-type=2&prefix=secret%2F",
        "/bkt?versions",
        "/bkt?uploads",
        "/other?list-type=2&prefix=allowed%2F",
        "/",
    ] {
        let request = setup.scoped("GET", target, &[], b"");
        setup.assert_refused(&request, 403, "AccessDenied");
    }
    let ok = setup.scoped("GET", "/bkt?list-type=2&prefix=allowed%2F", &[], b"");
    let response = setup.proxy.send(&ok);
    response.assert_success();
    let text = response.text();
    assert!(text.contains("<Key>allowed/mine.txt</Key>"), "{text}");
    assert!(!text.contains("secret"), "{text}");

    // A plain store's listing is the proxy's own, under the same scopes; a folder's GET
    // (nginx would answer its raw index) is still refused.
    let setup = Setup::start("http");
    for (target, status, code) in [
        ("/bkt?list-type=2", 403, "AccessDenied"),
        ("/bkt?list-type=2&prefix=allow", 403, "AccessDenied"),
        ("/bkt/allowed/", 501, "NotImplemented"),
        ("/bkt/", 403, "AccessDenied"),
        ("/", 403, "AccessDenied"),
    ] {
        let request = setup.scoped("GET", target, &[], b"");
        setup.assert_refused(&request, status, code);
    }
    let ok = setup.scoped("GET", "/bkt?list-type=2&prefix=allowed%2F", &[], b"");
    let response = setup.proxy.send(&ok);
    response.assert_success();
    let text = response.text();
    assert!(text.contains("<Key>allowed/mine.txt</Key>"), "{text}");
    assert!(!text.contains("secret"), "{text}");
}

#[test]
fn bucket_level_writes_need_the_whole_bucket() {
    let setup = Setup::start("s3");
    for (method, target) in [
        ("DELETE", "/empty-bucket"),
        ("DELETE", "/bkt"),
        ("PUT", "/new-bucket"),
        ("PUT", "/bkt?tagging"),
    ] {
        let request = setup.scoped(method, target, &[], b"");
        setup.assert_refused(&request, 403, "AccessDenied");
    }
    // The full-access key may.
    let mut delete = setup.proxy.request("DELETE", "/empty-bucket");
    Signer::default().sign(&mut delete, Payload::Hashed);
    let response = setup.proxy.send(&delete);
    assert_eq!(response.status, 204, "{}", response.text());
    assert!(!setup.root.join("empty-bucket").exists());

    // In front of nginx a DELETE of a bucket would remove the folder and everything in it.
    let setup = Setup::start("http");
    for (method, target) in [
        ("DELETE", "/bkt"),
        ("DELETE", "/other/"),
        ("PUT", "/new-bucket"),
    ] {
        let request = setup.scoped(method, target, &[], b"");
        setup.assert_refused(&request, 403, "AccessDenied");
    }
    // With the whole bucket in scope, only an empty bucket goes.
    let mut delete = setup.proxy.request("DELETE", "/other/");
    Signer::default().sign(&mut delete, Payload::Hashed);
    setup.assert_refused(&delete, 409, "BucketNotEmpty");
    let mut delete = setup.proxy.request("DELETE", "/empty-bucket");
    Signer::default().sign(&mut delete, Payload::Hashed);
    let response = setup.proxy.send(&delete);
    assert_eq!(response.status, 204, "{}", response.text());
    assert!(!setup.root.join("empty-bucket").exists());
}

#[test]
fn an_operation_a_plain_store_cannot_do_never_reaches_it() {
    // `?append` (AppendObject on RGW and OSS) and `?tagging`: nginx would ignore the name and
    // overwrite the object with the body meant as an append or a tag document.
    let setup = Setup::start("http");
    for target in [
        "/bkt/allowed/mine.txt?append&position=4",
        "/bkt/allowed/mine.txt?tagging",
    ] {
        let request = setup.scoped("PUT", target, &[], b"<Tagging/>");
        setup.assert_refused(&request, 501, "NotImplemented");
    }
    assert_eq!(
        std::fs::read(setup.root.join("bkt/allowed/mine.txt")).unwrap(),
        b"mine"
    );
}
