//! SigV2 and the query names that select an S3 operation (issue 12, item 5): a name such as
//! `retention`, `attributes`, `legal-hold` or `tagging` appended to a signed request after
//! signing must not reach the backend, in front of real nginx and of a real keyless S3 server
//! (s3s-fs), while a client that signs the name is served.
//!
//! Every signature here is botocore's (`tests/python/sigv2_sign.py`: HmacV1Auth for header
//! auth, HmacV1QueryAuth for presigned URLs, exactly as boto3 with `signature_version='s3'`
//! signs; `--also NAME` adds a name to what it signs, as clients that sign more do). The list of
//! signed names is checked against the S3 model of the installed botocore.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use s3_auth_proxy::auth::sigv2::sub_resources;
use support::python::{assert_boto3_is_importable, python, run_script_against};
use support::s3_server::S3Server;
use support::{Nginx, Proxy, ProxyOptions, Request, ACCESS_KEY, SECRET_KEY};

/// The selectors the issue names, appended to a signed GET of an object.
const APPENDED: [&str; 4] = ["retention", "attributes", "legal-hold", "tagging"];

/// How long a refused request is given to show up at the backend anyway before we conclude it
/// never will.
const SETTLE: Duration = Duration::from_millis(300);

/// Runs `tests/python/sigv2_sign.py` with `args` and returns its JSON.
fn botocore(args: &[&str]) -> Value {
    assert_boto3_is_importable();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let output = Command::new(python())
        .arg(scripts.join("sigv2_sign.py"))
        .args(args)
        .output()
        .expect("run sigv2_sign.py");
    assert!(
        output.status.success(),
        "sigv2_sign.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("sigv2_sign.py prints JSON")
}

/// How botocore signs a request.
#[derive(Clone, Copy, Debug)]
enum Auth {
    /// `Authorization: AWS …` and a `Date` header of now.
    Header,
    /// A presigned URL valid for an hour.
    Presigned,
}

/// `method path_and_query` to `proxy`, signed by botocore with `auth`; `also` are the extra
/// sub-resource names the signer signs besides botocore's own list.
fn botocore_signed(
    proxy: &Proxy,
    method: &str,
    path_and_query: &str,
    auth: Auth,
    also: &[&str],
) -> Request {
    botocore_signed_with(proxy, method, path_and_query, auth, also, &[])
}

/// [`botocore_signed`] with `headers` sent and signed (botocore moves `x-amz-*` ones into the
/// query of a presigned URL).
fn botocore_signed_with(
    proxy: &Proxy,
    method: &str,
    path_and_query: &str,
    auth: Auth,
    also: &[&str],
    headers: &[(&str, &str)],
) -> Request {
    let url = format!("{}{path_and_query}", proxy.endpoint());
    let mut args = vec![
        "sign".to_string(),
        method.to_string(),
        url,
        "--access-key".into(),
        ACCESS_KEY.into(),
        "--secret-key".into(),
        SECRET_KEY.into(),
    ];
    for name in also {
        args.extend(["--also".to_string(), name.to_string()]);
    }
    for (name, value) in headers {
        args.extend(["--header".to_string(), format!("{name}:{value}")]);
    }
    if let Auth::Presigned = auth {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        args.extend(["--presign".into(), (now.as_secs() + 3600).to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let signed = botocore(&args);
    let signed_url = signed["url"].as_str().expect("url");
    let target = signed_url
        .strip_prefix(&proxy.endpoint())
        .expect("same endpoint");
    let mut request = proxy.request(method, target);
    if let Auth::Header = auth {
        for name in ["Date", "Authorization"] {
            let value = signed["headers"][name].as_str().expect("signed header");
            request = request.header(name, value);
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
    }
    request
}

/// `request` with `name` appended to its query after signing.
fn with_appended(request: &Request, name: &str) -> Request {
    let mut tampered = request.clone();
    let separator = if tampered.target.contains('?') {
        '&'
    } else {
        '?'
    };
    tampered.target = format!("{}{separator}{name}", tampered.target);
    tampered
}

/// Every file under `root`, relative, with its bytes.
fn files_under(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read folder") {
            let path = entry.expect("folder entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let relative = path.strip_prefix(root).unwrap().display().to_string();
                out.push((relative, std::fs::read(&path).expect("read file")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn selectors_appended_to_a_signed_get_never_reach_nginx() {
    let nginx = Nginx::start();
    nginx.put_file("bucket/key.txt", b"the object");
    let proxy = Proxy::start(&nginx, ProxyOptions::default());

    for auth in [Auth::Header, Auth::Presigned] {
        let get = botocore_signed(&proxy, "GET", "/bucket/key.txt", auth, &[]);
        for name in APPENDED {
            let response = proxy.send(&with_appended(&get, name));
            response.assert_s3_error(403, "SignatureDoesNotMatch");
            assert!(
                response.text().contains(&format!("/bucket/key.txt?{name}")),
                "the string to sign names ?{name}: {}",
                response.text()
            );
        }
        // An upload URL cannot be turned into another write either.
        let put = botocore_signed(&proxy, "PUT", "/bucket/key.txt", auth, &[]);
        let response = proxy.send(&with_appended(&put, "retention").body(b"<Retention/>".to_vec()));
        response.assert_s3_error(403, "SignatureDoesNotMatch");
    }
    std::thread::sleep(SETTLE);
    assert_eq!(
        nginx.upstream_requests().len(),
        0,
        "nginx saw a refused request"
    );
    assert_eq!(
        nginx.stored("bucket/key.txt").as_deref(),
        Some(&b"the object"[..])
    );

    // The same signed GET, as signed, is served.
    for auth in [Auth::Header, Auth::Presigned] {
        let response = proxy.send(&botocore_signed(
            &proxy,
            "GET",
            "/bucket/key.txt",
            auth,
            &[],
        ));
        response.assert_success();
        assert_eq!(response.body, b"the object");
    }
    let seen: Vec<String> = nginx
        .wait_for_upstream_requests(2)
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.uri))
        .collect();
    assert_eq!(seen, ["GET /bucket/key.txt", "GET /bucket/key.txt"]);
}

#[test]
fn selectors_appended_to_a_signed_get_never_reach_a_keyless_s3_server() {
    let server = S3Server::start();
    let proxy = Proxy::start_in_front_of(server.addr(), "s3", ProxyOptions::default());
    let create = botocore_signed(&proxy, "PUT", "/bucket", Auth::Header, &[]);
    proxy.send(&create.body(Vec::new())).assert_success();
    let put = botocore_signed(&proxy, "PUT", "/bucket/key.txt", Auth::Header, &[]);
    proxy
        .send(&put.body(b"the object".to_vec()))
        .assert_success();
    let before = files_under(server.root());

    for auth in [Auth::Header, Auth::Presigned] {
        let get = botocore_signed(&proxy, "GET", "/bucket/key.txt", auth, &[]);
        for name in APPENDED {
            // Forwarded, s3s-fs would answer 501 NotImplemented (it has none of these
            // operations, see below): the proxy's 403 is the proof it never got there.
            proxy
                .send(&with_appended(&get, name))
                .assert_s3_error(403, "SignatureDoesNotMatch");
        }
        for name in ["legal-hold", "retention", "tagging"] {
            let put = botocore_signed(&proxy, "PUT", "/bucket/key.txt", auth, &[]);
            let tampered = with_appended(&put, name).body(b"<X/>".to_vec());
            proxy
                .send(&tampered)
                .assert_s3_error(403, "SignatureDoesNotMatch");
        }
    }
    std::thread::sleep(SETTLE);
    assert_eq!(
        files_under(server.root()),
        before,
        "the server's folder changed"
    );

    // A client that signs the name is let through, and s3s-fs answers for itself, naming the
    // operation the name selected.
    for (name, operation) in APPENDED.iter().zip([
        "GetObjectRetention",
        "GetObjectAttributes",
        "GetObjectLegalHold",
        "GetObjectTagging",
    ]) {
        let path = format!("/bucket/key.txt?{name}");
        // GetObjectAttributes needs the attributes asked for (signed, as every x-amz-* header).
        let headers: &[(&str, &str)] = match *name {
            "attributes" => &[("x-amz-object-attributes", "ETag")],
            _ => &[],
        };
        let signed = botocore_signed_with(&proxy, "GET", &path, Auth::Header, &[name], headers);
        let response = proxy.send(&signed);
        assert_eq!(
            (response.status, response.s3_error_code().as_deref()),
            (501, Some("NotImplemented")),
            "{}",
            response.text()
        );
        let message = response.s3_error_message().unwrap_or_default();
        assert!(message.contains(operation), "{name}: {message}");
    }
    // And the signed GET, as signed, is served.
    let get = botocore_signed(&proxy, "GET", "/bucket/key.txt", Auth::Presigned, &[]);
    let response = proxy.send(&get);
    response.assert_success();
    assert_eq!(response.body, b"the object");
}

#[test]
fn boto3_with_sigv2_through_the_proxy_to_a_keyless_s3_server() {
    let server = S3Server::start();
    let proxy = Proxy::start_in_front_of(server.addr(), "s3", ProxyOptions::default());

    run_script_against(
        "sigv2_subresources.py",
        server.root(),
        &proxy.endpoint(),
        None,
        &[],
    );
}

/// The names botocore's S3 model uses to select operations, and those its SigV2 signer signs,
/// are all signed by the proxy; every other query parameter of the model is one the proxy
/// leaves unsigned on purpose. Fails when a botocore upgrade brings a name nobody classified.
#[test]
fn every_name_in_botocores_s3_model_is_classified() {
    let model = botocore(&["model"]);
    let names = |key: &str| -> BTreeSet<String> {
        match &model[key] {
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
            Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("{key}: {other}"),
        }
    };
    let deliberately_unsigned: BTreeSet<&str> = sub_resources::LISTING_PARAMETERS
        .iter()
        .chain(sub_resources::CONFIGURATION_IDS.iter())
        .chain([sub_resources::LIST_TYPE, sub_resources::OPERATION_HINT].iter())
        .copied()
        .collect();

    let signed_by_botocore = names("qsa_of_interest");
    let operation_literals = names("uri_literals");
    // list-type=2 is the one operation literal left unsigned (ListObjectsV2).
    let unsigned_selectors: Vec<&String> = signed_by_botocore
        .iter()
        .chain(operation_literals.iter())
        .filter(|name| name.as_str() != sub_resources::LIST_TYPE)
        .filter(|name| !sub_resources::is_signed(name))
        .collect();
    assert!(
        unsigned_selectors.is_empty(),
        "botocore signs or dispatches on these, the proxy does not sign them: {unsigned_selectors:?} \
         (add them to sub_resources::OPERATION_SELECTORS)"
    );

    let unclassified: Vec<String> = names("query_members")
        .into_iter()
        .filter(|name| {
            !sub_resources::is_signed(name) && !deliberately_unsigned.contains(name.as_str())
        })
        .collect();
    assert!(
        unclassified.is_empty(),
        "query parameters of the S3 model neither signed nor deliberately unsigned: \
         {unclassified:?} (classify them in src/auth/sigv2/sub_resources.rs)"
    );
}
