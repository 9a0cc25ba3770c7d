//! Browser POST uploads through the proxy to a real nginx: forms signed by boto3's
//! `generate_presigned_post` and sent with requests (tests/python/post_forms.py), over plain HTTP
//! and HTTPS; the pages of `s3-auth-proxy post-form` submitted by a real headless Chromium; CORS
//! preflights and cross-origin uploads from a page on another origin.

mod support;

use support::python::run_script;
use support::{Nginx, Proxy, ProxyOptions};

#[test]
fn boto3_presigned_post_forms_over_http() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());

    run_script("post_forms.py", &nginx, &proxy.endpoint(), None);
}

#[test]
fn boto3_presigned_post_forms_over_https() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default().with_tls());

    run_script(
        "post_forms.py",
        &nginx,
        &proxy.https_endpoint(),
        Some(proxy.ca_cert_path()),
    );
}

// ---------------------------------------------------------------------------------------------
// A real headless Chromium (tests/browser/driver.mjs) with pages from `s3-auth-proxy post-form`.

use support::browser::run_driver;
use support::{md5_hex, ACCESS_KEY};

/// A file on disk for the browser to pick, with a name of its own.
fn file_to_upload(dir: &std::path::Path, name: &str, contents: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Chromium loads `page`, picks a file `file_name` with `contents` and submits the form.
fn submit_page(page: &str, file_name: &str, contents: &[u8]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let page_file = dir.path().join("form.html");
    std::fs::write(&page_file, page).unwrap();
    let file = file_to_upload(dir.path(), file_name, contents);
    run_driver(&[
        "submit-form",
        "--page-file",
        page_file.to_str().unwrap(),
        "--file",
        file.to_str().unwrap(),
    ])
}

/// The hidden fields of a `post-form` page, in order (the page's own escaping undone).
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    html.lines()
        .filter(|l| l.contains("type=\"hidden\""))
        .map(|l| {
            let attr = |name: &str| {
                let start = l.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                let end = start + l[start..].find('"').unwrap();
                unescape(&l[start..end])
            };
            (attr("name"), attr("value"))
        })
        .collect()
}

#[test]
fn chromium_submits_a_post_form_page_and_the_file_lands_on_nginx() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let page = form_page(
        &proxy,
        "photos",
        &["--key-prefix", "uploads/", "--max-size", "1MiB"],
    );
    let contents = support::patterned_bytes(200_000);
    let result = submit_page(&page, "holiday photo.jpg", &contents);

    assert_eq!(result["post_status"], 201, "{result:#}");
    let body = result["post_body"].as_str().unwrap();
    assert!(
        body.contains("<Key>uploads/holiday photo.jpg</Key>"),
        "{body}"
    );
    assert!(body.contains(&md5_hex(&contents)), "{body}");
    assert_eq!(
        nginx.stored("photos/uploads/holiday photo.jpg").as_deref(),
        Some(&contents[..])
    );
}

#[test]
fn chromium_follows_the_redirect_of_a_post_form_page() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    // Nothing listens on port 9: the browser's navigation fails, the 303 it got is what counts.
    let page = form_page(
        &proxy,
        "photos",
        &[
            "--key-prefix",
            "r/",
            "--redirect",
            "http://127.0.0.1:9/done",
        ],
    );
    let result = submit_page(&page, "a.txt", b"redirect me");

    assert_eq!(result["post_status"], 303, "{result:#}");
    let location = result["post_headers"]["location"].as_str().unwrap();
    assert!(
        location.starts_with("http://127.0.0.1:9/done?bucket=photos&key=r%2Fa%2Etxt&etag="),
        "{location}"
    );
    assert_eq!(
        nginx.stored("photos/r/a.txt").as_deref(),
        Some(&b"redirect me"[..])
    );
}

#[test]
fn chromium_is_refused_a_file_larger_than_the_page_allows_and_nothing_is_stored() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let page = form_page(&proxy, "photos", &["--max-size", "1KiB"]);
    let result = submit_page(&page, "big.bin", &support::patterned_bytes(5000));

    assert_eq!(result["post_status"], 400, "{result:#}");
    assert!(
        result["post_body"]
            .as_str()
            .unwrap()
            .contains("<Code>EntityTooLarge</Code>"),
        "{result:#}"
    );
    nginx.assert_nothing_stored();
}

/// CORS rules letting pages on `http://localhost:<any port>` upload.
const CORS_FOR_LOCALHOST_PAGES: &str = r#"[[cors]]
allowed_origins = ["http://localhost:*"]
allowed_methods = ["GET", "PUT", "POST"]
allowed_headers = ["content-type"]
expose_headers = ["ETag", "x-amz-request-id"]
max_age = "10m"
"#;

/// nginx and a proxy with [`CORS_FOR_LOCALHOST_PAGES`].
fn nginx_and_cors_proxy() -> (Nginx, Proxy) {
    let nginx = Nginx::start();
    let proxy = Proxy::start(
        &nginx,
        ProxyOptions::default().with_tables(CORS_FOR_LOCALHOST_PAGES),
    );
    (nginx, proxy)
}

#[test]
fn a_page_on_another_origin_puts_to_a_presigned_url_after_a_preflight() {
    let (nginx, proxy) = nginx_and_cors_proxy();
    let url = proxy.run_cli(&[
        "presign",
        "--key-id",
        ACCESS_KEY,
        "--method",
        "PUT",
        "--expires",
        "5m",
        "s3://docs/from-page.txt",
    ]);

    // PUT with a Content-Type is not a simple request: the browser sends a preflight first.
    let result = run_driver(&[
        "cors-fetch",
        "--origin-host",
        "localhost",
        "--url",
        url.trim(),
        "--method",
        "PUT",
        "--header",
        "Content-Type: text/plain",
        "--body-text",
        "written by a page on another origin",
    ]);

    assert_eq!(result["ok"], true, "{result:#}");
    assert_eq!(result["status"], 200, "{result:#}");
    assert_eq!(
        result["headers"]["etag"],
        format!("\"{}\"", md5_hex(b"written by a page on another origin")),
        "{result:#}"
    );
    assert_eq!(
        nginx.stored("docs/from-page.txt").as_deref(),
        Some(&b"written by a page on another origin"[..])
    );
}

#[test]
fn a_page_on_an_origin_no_rule_allows_is_blocked_and_nothing_is_stored() {
    let (nginx, proxy) = nginx_and_cors_proxy();
    let url = proxy.run_cli(&[
        "presign",
        "--key-id",
        ACCESS_KEY,
        "--method",
        "PUT",
        "s3://docs/blocked.txt",
    ]);

    // The page is on http://127.0.0.1:<port>, which no rule names.
    let result = run_driver(&[
        "cors-fetch",
        "--origin-host",
        "127.0.0.1",
        "--url",
        url.trim(),
        "--method",
        "PUT",
        "--header",
        "Content-Type: text/plain",
        "--body-text",
        "should not arrive",
    ]);

    assert_eq!(result["ok"], false, "{result:#}");
    nginx.assert_nothing_stored();
}

#[test]
fn a_page_on_another_origin_posts_a_form_with_fetch_and_reads_the_answer() {
    let (nginx, proxy) = nginx_and_cors_proxy();
    let page = form_page(&proxy, "docs", &["--key-prefix", "fetched/"]);
    let fields = serde_json::Value::Array(
        hidden_fields(&page)
            .into_iter()
            .map(|(n, v)| serde_json::json!([n, v]))
            .collect(),
    );

    let result = run_driver(&[
        "cors-fetch",
        "--origin-host",
        "localhost",
        "--url",
        &format!("{}/docs", proxy.endpoint()),
        "--method",
        "POST",
        "--form-fields-json",
        &fields.to_string(),
        "--file-name",
        "note.txt",
        "--body-text",
        "posted with fetch",
    ]);

    assert_eq!(result["ok"], true, "{result:#}");
    assert_eq!(result["status"], 201, "{result:#}");
    assert!(
        result["body"]
            .as_str()
            .unwrap()
            .contains("<Key>fetched/note.txt</Key>"),
        "{result:#}"
    );
    assert_eq!(
        nginx.stored("docs/fetched/note.txt").as_deref(),
        Some(&b"posted with fetch"[..])
    );
}

#[test]
fn preflight_answers_follow_the_rules_and_need_no_signature() {
    let (nginx, proxy) = nginx_and_cors_proxy();
    let allowed = proxy.send(
        &proxy
            .request("OPTIONS", "/docs/a.txt")
            .header("Origin", "http://localhost:3000")
            .header("Access-Control-Request-Method", "PUT")
            .header("Access-Control-Request-Headers", "content-type"),
    );
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(allowed.header("access-control-max-age"), Some("600"));

    let refused = proxy.send(
        &proxy
            .request("OPTIONS", "/docs/a.txt")
            .header("Origin", "http://localhost:3000")
            .header("Access-Control-Request-Method", "DELETE"),
    );
    refused.assert_s3_error(403, "AccessForbidden");

    // An unsigned GET from an allowed origin is still refused, but the page may read why.
    let error = proxy.send(
        &proxy
            .request("GET", "/docs/a.txt")
            .header("Origin", "http://localhost:3000"),
    );
    error.assert_s3_error(403, "AccessDenied");
    assert_eq!(
        error.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(nginx.upstream_requests().len(), 0);
}

/// A SigV2 upload form for `bucket`, keys under `prefix`, signed here (base64 HMAC-SHA1 of the
/// base64 policy, the page's recipe) rather than by the proxy's code.
fn sigv2_form_page(endpoint: &str, bucket: &str, prefix: &str) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let b64 = base64::engine::general_purpose::STANDARD;
    let policy = serde_json::json!({
        "expiration": "2099-01-01T00:00:00Z",
        "conditions": [
            {"bucket": bucket},
            ["starts-with", "$key", prefix],
            {"success_action_status": "201"},
        ],
    })
    .to_string();
    let policy_b64 = b64.encode(policy);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(support::SECRET_KEY.as_bytes()).unwrap();
    mac.update(policy_b64.as_bytes());
    let signature = b64.encode(mac.finalize().into_bytes());
    format!(
        "<!DOCTYPE html><html><body>\n\
         <form action=\"{endpoint}/{bucket}\" method=\"post\" enctype=\"multipart/form-data\">\n\
         <input type=\"hidden\" name=\"key\" value=\"{prefix}${{filename}}\">\n\
         <input type=\"hidden\" name=\"AWSAccessKeyId\" value=\"{ACCESS_KEY}\">\n\
         <input type=\"hidden\" name=\"success_action_status\" value=\"201\">\n\
         <input type=\"hidden\" name=\"policy\" value=\"{policy_b64}\">\n\
         <input type=\"hidden\" name=\"signature\" value=\"{signature}\">\n\
         <input type=\"file\" name=\"file\">\n<button type=\"submit\">Upload</button>\n\
         </form></body></html>\n"
    )
}

#[test]
fn chromium_submits_a_sigv2_policy_form() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let page = sigv2_form_page(&proxy.endpoint(), "legacy", "v2/");

    let result = submit_page(&page, "old-client.txt", b"uploaded through a SigV2 form");

    assert_eq!(result["post_status"], 201, "{result:#}");
    assert_eq!(
        nginx.stored("legacy/v2/old-client.txt").as_deref(),
        Some(&b"uploaded through a SigV2 form"[..])
    );
    assert!(proxy.log().contains("sigv2-form"));
}

// ---------------------------------------------------------------------------------------------
// Raw forms: what the backend receives, and scopes.

/// A multipart body with `fields` in order and the file last, as browsers send it.
fn form_body(fields: &[(String, String)], filename: &str, data: &[u8]) -> (Vec<u8>, String) {
    let boundary = "----raw-form-boundary-7d1a";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// A `post-form` page for `bucket` (extra CLI arguments such as `--key-prefix` after it).
fn form_page(proxy: &Proxy, bucket: &str, extra: &[&str]) -> String {
    let mut args = vec!["post-form", "--key-id", ACCESS_KEY, "--bucket", bucket];
    args.extend_from_slice(extra);
    proxy.run_cli(&args)
}

/// POSTs a raw multipart body to `/{bucket}`.
fn send_form(proxy: &Proxy, bucket: &str, body: Vec<u8>, content_type: &str) -> support::Response {
    proxy.send(
        &proxy
            .request("POST", &format!("/{bucket}"))
            .header("Content-Type", content_type)
            .body(body),
    )
}

#[test]
fn the_backend_gets_a_plain_put_with_the_exact_length_and_the_form_headers() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let page = form_page(&proxy, "photos", &["--key-prefix", "in/"]);
    // The page's policy allows any Content-Type field (starts-with "").
    let mut fields = hidden_fields(&page);
    let at = fields.iter().position(|(n, _)| n == "policy").unwrap();
    fields.insert(at, ("Content-Type".into(), "image/png".into()));
    let data = support::patterned_bytes(70_000);
    let (body, content_type) = form_body(&fields, "pic.png", &data);

    let response = send_form(&proxy, "photos", body, &content_type);

    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(
        nginx.stored("photos/in/pic.png").as_deref(),
        Some(&data[..])
    );
    let upstream = nginx.wait_for_upstream_requests(1);
    assert_eq!(upstream[0].method, "PUT");
    assert_eq!(upstream[0].uri, "/photos/in/pic.png");
    assert_eq!(upstream[0].content_length, "70000");
    assert_eq!(upstream[0].content_type, "image/png");
    assert_eq!(upstream[0].forwarded_user, ACCESS_KEY);
}

#[test]
fn a_form_needs_a_write_scope_on_its_key_and_nothing_is_stored_without_one() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(
        &nginx,
        ProxyOptions::default().with_credentials(vec![support::Credential::new(
            ACCESS_KEY,
            support::SECRET_KEY,
        )
        .allow(&["read:*", "write:photos/allowed/*"])]),
    );
    let page = form_page(&proxy, "photos", &["--key-prefix", "other/"]);
    let (body, content_type) = form_body(&hidden_fields(&page), "x.bin", b"no scope");

    let response = send_form(&proxy, "photos", body, &content_type);

    response.assert_s3_error(403, "AccessDenied");
    nginx.assert_nothing_stored();
    assert!(nginx.upstream_requests().is_empty());
}

#[test]
fn curl_posts_a_large_form_with_expect_100_continue() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let page = form_page(&proxy, "photos", &["--key-prefix", "curl/"]);
    let dir = tempfile::tempdir().unwrap();
    let contents = support::patterned_bytes(3 * 1024 * 1024 + 11);
    let file = file_to_upload(dir.path(), "big.bin", &contents);

    // curl sends `Expect: 100-continue` for bodies over 1 MiB and waits for the 100.
    let mut curl = std::process::Command::new("curl");
    curl.args(["-sS", "--noproxy", "*", "-o", "-", "-w", "\n%{http_code}"]);
    curl.args(["-H", "Expect: 100-continue"]);
    for (name, value) in hidden_fields(&page) {
        // `;type=` and `@` are curl syntax; none of these values hold them.
        curl.args(["--form-string", &format!("{name}={value}")]);
    }
    curl.args(["-F", &format!("file=@{}", file.display())]);
    curl.arg(format!("{}/photos", proxy.endpoint()));
    let out = curl.output().expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout);

    assert!(
        text.trim_end().ends_with("201"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("<Key>curl/big.bin</Key>"), "{text}");
    assert_eq!(
        nginx.stored("photos/curl/big.bin").as_deref(),
        Some(&contents[..])
    );
}

#[test]
fn a_form_with_a_bad_signature_never_opens_an_upstream_request() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let page = form_page(&proxy, "photos", &["--key-prefix", "x/"]);
    let mut fields = hidden_fields(&page);
    let signature = fields
        .iter_mut()
        .find(|(name, _)| name == "x-amz-signature")
        .unwrap();
    let first = if signature.1.starts_with('0') {
        "1"
    } else {
        "0"
    };
    signature.1.replace_range(0..1, first);
    let (body, content_type) = form_body(&fields, "f.bin", &support::patterned_bytes(100_000));

    let response = send_form(&proxy, "photos", body, &content_type);

    response.assert_s3_error(403, "SignatureDoesNotMatch");
    nginx.assert_nothing_stored();
    // Not even a connection that was then cut short: nginx saw no request at all.
    assert!(nginx.upstream_requests().is_empty());
}

#[test]
fn a_form_ending_without_the_final_crlf_stores_the_whole_file_never_a_cut_one() {
    // The file's length is never guessed from the form's Content-Length (parts may follow the
    // file): a form closed by `--boundary--` without its CRLF is whole, and so is the file
    // stored, whether it fits the read-ahead (exact length upstream) or streams chunked.
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let page = form_page(&proxy, "photos", &["--key-prefix", "cut/"]);
    for (name, size) in [("f.bin", 300_000), ("large.bin", 2 * 1024 * 1024 + 1)] {
        let data = support::patterned_bytes(size);
        let (mut body, content_type) = form_body(&hidden_fields(&page), name, &data);
        body.truncate(body.len() - 2);
        assert!(body.ends_with(b"--"));

        let response = send_form(&proxy, "photos", body, &content_type);

        assert_eq!(response.status, 201, "{}", response.text());
        assert!(nginx.stored(&format!("photos/cut/{name}")) == Some(data));
    }
    // Two bytes short of the close: the form has not ended, nothing is stored.
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let page = form_page(&proxy, "photos", &["--key-prefix", "cut/"]);
    let (mut body, content_type) = form_body(
        &hidden_fields(&page),
        "f.bin",
        &support::patterned_bytes(300_000),
    );
    body.truncate(body.len() - 4);
    let response = send_form(&proxy, "photos", body, &content_type);
    response.assert_s3_error(400, "MalformedPOSTRequest");
    nginx.assert_nothing_stored();
}

#[test]
fn a_form_cut_off_by_the_client_is_incomplete_and_stores_nothing() {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, ProxyOptions::default());
    let page = form_page(&proxy, "photos", &["--key-prefix", "gone/"]);
    let (body, content_type) = form_body(
        &hidden_fields(&page),
        "f.bin",
        &support::patterned_bytes(300_000),
    );
    let request = proxy
        .request("POST", "/photos")
        .header("Content-Type", &content_type)
        .body(body.clone());

    // The head announces the whole form; the client sends two thirds of it and stops.
    let mut connection = support::Connection::open(proxy.addr());
    connection.write(&request.head_bytes()).unwrap();
    connection.write(&body[..body.len() * 2 / 3]).unwrap();
    connection.shutdown_write();
    let response = connection.read_response("POST").unwrap();

    response.assert_s3_error(400, "IncompleteBody");
    nginx.assert_nothing_stored();
}

#[test]
fn a_form_key_that_climbs_out_of_its_prefix_is_refused_in_front_of_both_backends() {
    // The policy says `starts-with $key "allowed/"`; the key is the form filler's choice, and
    // `allowed/../secret/x.bin` starts so. nginx and s3s-fs (objects as files) would both store
    // it as `secret/x.bin`, outside the scope and the policy's prefix.
    let scoped = || {
        ProxyOptions::default().with_credentials(vec![support::Credential::new(
            ACCESS_KEY,
            support::SECRET_KEY,
        )
        .allow(&["write:photos/allowed/*"])])
    };
    let nginx = Nginx::start();
    let server = support::s3_server::S3Server::start();
    std::fs::create_dir_all(server.root().join("photos")).unwrap();
    let nginx_proxy = Proxy::start(&nginx, scoped());
    let s3_proxy = Proxy::start_in_front_of(server.addr(), "s3", scoped());
    for (proxy, root) in [
        (&nginx_proxy, nginx.root()),
        (&s3_proxy, server.root().to_path_buf()),
    ] {
        let page = form_page(proxy, "photos", &["--key-prefix", "allowed/"]);
        let with_key = |key: &str| {
            let fields: Vec<(String, String)> = hidden_fields(&page)
                .into_iter()
                .map(|(name, value)| match name.as_str() {
                    "key" => (name, key.to_string()),
                    _ => (name, value),
                })
                .collect();
            form_body(&fields, "x.bin", b"climbing")
        };
        for key in [
            "allowed/../secret/x.bin",
            "allowed/./x.bin",
            "allowed//x.bin",
        ] {
            let (body, content_type) = with_key(key);
            let response = send_form(proxy, "photos", body, &content_type);
            response.assert_s3_error(400, "InvalidArgument");
            assert!(!root.join("photos/secret").exists(), "{key}");
            assert!(!root.join("photos/allowed").exists(), "{key}");
        }
        // The neighbour: a key inside the prefix is stored there.
        let (body, content_type) = with_key("allowed/sub/x.bin");
        let response = send_form(proxy, "photos", body, &content_type);
        assert!(
            response.status < 300,
            "{} {}",
            response.status,
            response.text()
        );
        assert_eq!(
            std::fs::read(root.join("photos/allowed/sub/x.bin")).unwrap(),
            b"climbing"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// AWS's own example upload page (the SigV4 and SigV2 browser-upload examples of the S3
// documentation): its named submit button comes *after* the file input, so Chromium sends it as
// a part after the file. S3 ignores fields after the file; so must the proxy, in front of nginx
// and of s3s-fs. Policies are signed here (aws-sigv4's key derivation; HMAC-SHA1), never by the
// proxy's code.

use support::s3_server::S3Server;

/// The backend behind the proxy.
enum Store {
    Nginx(Nginx),
    S3(S3Server),
}

/// A backend with the proxy in front of it.
struct Setup {
    store: Store,
    proxy: Proxy,
}

impl Setup {
    fn nginx() -> Setup {
        let nginx = Nginx::start();
        let proxy = Proxy::start(&nginx, ProxyOptions::default());
        Setup {
            store: Store::Nginx(nginx),
            proxy,
        }
    }

    /// s3s-fs with `buckets` already there.
    fn s3s_fs(buckets: &[&str]) -> Setup {
        let server = S3Server::start();
        for bucket in buckets {
            server.create_bucket(bucket);
        }
        let proxy = Proxy::start_in_front_of(server.addr(), "s3", ProxyOptions::default());
        Setup {
            store: Store::S3(server),
            proxy,
        }
    }

    fn name(&self) -> &'static str {
        match self.store {
            Store::Nginx(_) => "nginx",
            Store::S3(_) => "s3s-fs",
        }
    }

    /// The bytes stored for `bucket/key`.
    fn stored(&self, relative: &str) -> Option<Vec<u8>> {
        match &self.store {
            Store::Nginx(nginx) => nginx.stored(relative),
            Store::S3(server) => server.stored(relative),
        }
    }

    fn assert_nothing_stored(&self, context: &str) {
        match &self.store {
            Store::Nginx(nginx) => nginx.assert_nothing_stored(),
            Store::S3(server) => server.assert_nothing_stored(context),
        }
    }
}

/// The test in front of nginx, then in front of s3s-fs (with `bucket`).
fn on_both_backends(bucket: &str, test: impl Fn(&Setup)) {
    for setup in [Setup::nginx(), Setup::s3s_fs(&[bucket])] {
        test(&setup);
    }
}

#[derive(Debug, Clone, Copy)]
enum FormScheme {
    SigV4,
    SigV2,
}

/// What the form asks S3 to answer.
#[derive(Debug, Clone, Copy)]
enum OnSuccess {
    Status(u16),
    /// `success_action_redirect` back to the driver's page origin.
    Redirect,
}

/// Replaced by the driver with the page's origin (`--redirect-placeholder`).
const PAGE_ORIGIN_TOKEN: &str = "__PAGE_ORIGIN__";

/// The SigV4 example's `x-amz-date`; a form has no clock-skew check (its policy's expiration
/// bounds it), so the example's day still signs.
const EXAMPLE_AMZ_DATE: &str = "20151229T000000Z";

/// 2015-12-29T00:00:00Z.
const EXAMPLE_DAY_UNIX: u64 = 1_451_347_200;

/// The fields of AWS's example form, in its order, for `bucket` and keys under `prefix`,
/// with the policy (and `content-length-range` when `max_size` is given) signed here.
fn aws_example_fields(
    bucket: &str,
    prefix: &str,
    scheme: FormScheme,
    on_success: OnSuccess,
    max_size: Option<u64>,
) -> Vec<(String, String)> {
    use base64::Engine;
    use serde_json::json;
    let (success_field, success_value, success_condition) = match on_success {
        OnSuccess::Status(status) => (
            "success_action_status",
            status.to_string(),
            json!({ "success_action_status": status.to_string() }),
        ),
        OnSuccess::Redirect => (
            "success_action_redirect",
            format!("{PAGE_ORIGIN_TOKEN}/uploaded"),
            json!([
                "starts-with",
                "$success_action_redirect",
                "http://127.0.0.1:"
            ]),
        ),
    };
    let credential = format!("{ACCESS_KEY}/20151229/us-east-1/s3/aws4_request");
    let mut conditions = vec![
        json!({ "bucket": bucket }),
        json!(["starts-with", "$key", prefix]),
        success_condition,
        json!(["starts-with", "$Content-Type", "image/"]),
        json!({ "x-amz-meta-uuid": "14365123651274" }),
        json!(["starts-with", "$x-amz-meta-tag", ""]),
    ];
    if let Some(max) = max_size {
        conditions.push(json!(["content-length-range", 1, max]));
    }
    if let FormScheme::SigV4 = scheme {
        conditions.push(json!({ "x-amz-credential": credential }));
        conditions.push(json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }));
        conditions.push(json!({ "x-amz-date": EXAMPLE_AMZ_DATE }));
    }
    let policy = json!({ "expiration": "2099-12-30T12:00:00.000Z", "conditions": conditions });
    let b64 = base64::engine::general_purpose::STANDARD;
    let policy_b64 = b64.encode(policy.to_string());
    let field = |name: &str, value: &str| (name.to_string(), value.to_string());
    let mut fields = vec![
        field("key", &format!("{prefix}${{filename}}")),
        field(success_field, &success_value),
        field("Content-Type", "image/jpeg"),
        field("x-amz-meta-uuid", "14365123651274"),
    ];
    match scheme {
        FormScheme::SigV4 => {
            let day = std::time::UNIX_EPOCH + std::time::Duration::from_secs(EXAMPLE_DAY_UNIX);
            let key = aws_sigv4::sign::v4::generate_signing_key(
                support::SECRET_KEY,
                day,
                "us-east-1",
                "s3",
            );
            let signature = aws_sigv4::sign::v4::calculate_signature(key, policy_b64.as_bytes());
            fields.push(field("X-Amz-Credential", &credential));
            fields.push(field("X-Amz-Algorithm", "AWS4-HMAC-SHA256"));
            fields.push(field("X-Amz-Date", EXAMPLE_AMZ_DATE));
            fields.push(field("x-amz-meta-tag", ""));
            fields.push(field("Policy", &policy_b64));
            fields.push(field("X-Amz-Signature", &signature));
        }
        FormScheme::SigV2 => {
            use hmac::{Hmac, Mac};
            let mut mac =
                Hmac::<sha1::Sha1>::new_from_slice(support::SECRET_KEY.as_bytes()).unwrap();
            mac.update(policy_b64.as_bytes());
            let signature = b64.encode(mac.finalize().into_bytes());
            fields.push(field("x-amz-meta-tag", ""));
            fields.push(field("AWSAccessKeyId", ACCESS_KEY));
            fields.push(field("Policy", &policy_b64));
            fields.push(field("Signature", &signature));
        }
    }
    fields
}

/// AWS's example page: text inputs where it has them, hidden ones elsewhere, the file input,
/// and after it `<input type="submit" name="submit" value="Upload to Amazon S3" />`.
fn aws_example_page(endpoint: &str, bucket: &str, fields: &[(String, String)]) -> String {
    let mut html = format!(
        "<html>\n  <head>\n    <meta http-equiv=\"Content-Type\" content=\"text/html; \
         charset=UTF-8\" />\n  </head>\n  <body>\n  <form action=\"{endpoint}/{bucket}\" \
         method=\"post\" enctype=\"multipart/form-data\">\n"
    );
    for (name, value) in fields {
        let (label, kind) = match name.as_str() {
            "key" => ("Key to upload: ", "input"),
            "Content-Type" => ("Content-Type: ", "input"),
            "x-amz-meta-tag" => ("Tags for File: ", "input"),
            "X-Amz-Credential" | "X-Amz-Algorithm" | "X-Amz-Date" => ("", "text"),
            _ => ("", "hidden"),
        };
        // No value here holds a quote or '<' (base64, hex, fixed text).
        html.push_str(&format!(
            "    {label}<input type=\"{kind}\" name=\"{name}\" value=\"{value}\" /><br />\n"
        ));
    }
    html.push_str(
        "    File:\n    <input type=\"file\"   name=\"file\" /> <br />\n    \
         <!-- The elements after this will be ignored -->\n    \
         <input type=\"submit\" name=\"submit\" value=\"Upload to Amazon S3\" />\n  \
         </form>\n</html>\n",
    );
    html
}

/// Chromium submits `page` with the file `photo.jpg` holding `contents`; a redirect to the
/// page origin lands on the driver.
fn submit_aws_example_page(page: &str, contents: &[u8]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let page_file = dir.path().join("form.html");
    std::fs::write(&page_file, page).unwrap();
    let file = file_to_upload(dir.path(), "photo.jpg", contents);
    run_driver(&[
        "submit-form",
        "--page-file",
        page_file.to_str().unwrap(),
        "--file",
        file.to_str().unwrap(),
        "--redirect-placeholder",
        PAGE_ORIGIN_TOKEN,
    ])
}

/// Every byte but ASCII letters and digits as `%XX` (how S3 puts bucket, key and ETag in a
/// `success_action_redirect` query).
fn percent_encode_all(text: &str) -> String {
    text.bytes()
        .map(|b| match b.is_ascii_alphanumeric() {
            true => char::from(b).to_string(),
            false => format!("%{b:02X}"),
        })
        .collect()
}

/// One Chromium submission of the AWS example page and what S3 would answer it.
fn chromium_submits_the_aws_example(setup: &Setup, scheme: FormScheme, on_success: OnSuccess) {
    let bucket = "examplebucket";
    let prefix = format!("user/{scheme:?}-{on_success:?}/")
        .to_lowercase()
        .replace(['(', ')'], "");
    // Some files fit the proxy's read-ahead (exact Content-Length upstream), others stream
    // upstream chunked.
    let size = match on_success {
        OnSuccess::Status(204) => 3 * 1024 * 1024 + 7,
        OnSuccess::Status(_) => 200_000,
        OnSuccess::Redirect => 1024 * 1024 + 123_457,
    };
    let contents = support::patterned_bytes(size);
    let fields = aws_example_fields(bucket, &prefix, scheme, on_success, None);
    let page = aws_example_page(&setup.proxy.endpoint(), bucket, &fields);
    let context = format!("{} {scheme:?} {on_success:?}", setup.name());

    let result = submit_aws_example_page(&page, &contents);

    let key = format!("{prefix}photo.jpg");
    let etag = format!("\"{}\"", md5_hex(&contents));
    match on_success {
        OnSuccess::Status(204) => assert_eq!(result["post_status"], 204, "{context}: {result:#}"),
        OnSuccess::Status(_) => {
            assert_eq!(result["post_status"], 201, "{context}: {result:#}");
            let body = result["post_body"].as_str().unwrap();
            assert!(
                body.contains(&format!("<Key>{key}</Key>")),
                "{context}: {body}"
            );
            assert!(
                body.contains(&format!("<Bucket>{bucket}</Bucket>")),
                "{body}"
            );
            assert!(body.contains(&md5_hex(&contents)), "{context}: {body}");
        }
        OnSuccess::Redirect => {
            assert_eq!(result["post_status"], 303, "{context}: {result:#}");
            let origin = result["page_origin"].as_str().unwrap();
            let expected = format!(
                "{origin}/uploaded?bucket={bucket}&key={}&etag={}",
                percent_encode_all(&key),
                percent_encode_all(&etag)
            );
            assert_eq!(result["post_headers"]["location"], expected, "{context}");
            let hits = result["redirect_hits"].as_array().unwrap();
            assert!(
                hits.iter()
                    .any(|hit| expected.ends_with(hit.as_str().unwrap())),
                "{context}: the browser followed the redirect: {result:#}"
            );
        }
    }
    assert!(
        setup.stored(&format!("{bucket}/{key}")) == Some(contents),
        "{context}: the file is stored whole"
    );
}

#[test]
fn chromium_submits_aws_example_pages_with_the_submit_button_after_the_file() {
    support::browser::require_browser();
    on_both_backends("examplebucket", |setup| {
        for scheme in [FormScheme::SigV4, FormScheme::SigV2] {
            for on_success in [
                OnSuccess::Status(204),
                OnSuccess::Status(201),
                OnSuccess::Redirect,
            ] {
                chromium_submits_the_aws_example(setup, scheme, on_success);
            }
        }
        if let Store::Nginx(nginx) = &setup.store {
            // Files longer than the read-ahead went up chunked, the others with their length.
            let puts = nginx.wait_for_upstream_requests(6);
            let chunked = puts.iter().filter(|r| r.transfer_encoding == "chunked");
            assert_eq!(chunked.count(), 4, "{puts:#?}");
            let exact = puts.iter().filter(|r| r.content_length == "200000");
            assert_eq!(exact.count(), 2, "{puts:#?}");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Parts after the file, attacked: they are bounded by the limits of the fields before it, and
// the file is committed only once the whole form (its parts after the file included) is in and
// verified: in front of nginx (chunked PUT: committed on the terminating chunk) and s3s-fs.

const ATTACK_BUCKET: &str = "examplebucket";

/// A multipart body: `fields`, the file, then `after` parts, then the close.
fn form_body_then(
    fields: &[(String, String)],
    filename: &str,
    data: &[u8],
    after: &[(String, Vec<u8>)],
) -> (Vec<u8>, String) {
    let (mut body, content_type) = form_body(fields, filename, data);
    let boundary = "----raw-form-boundary-7d1a";
    let close = format!("--{boundary}--\r\n");
    body.truncate(body.len() - close.len());
    for (name, value) in after {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(close.as_bytes());
    (body, content_type)
}

/// AWS's example submit button, as Chromium sends it after the file.
fn submit_button() -> Vec<(String, Vec<u8>)> {
    vec![("submit".to_string(), b"Upload to Amazon S3".to_vec())]
}

/// Signed fields (SigV4, answer 201) for keys under `prefix`, optionally with a size range.
fn attack_fields(prefix: &str, max_size: Option<u64>) -> Vec<(String, String)> {
    aws_example_fields(
        ATTACK_BUCKET,
        prefix,
        FormScheme::SigV4,
        OnSuccess::Status(201),
        max_size,
    )
}

/// `body` sent with `Transfer-Encoding: chunked` (pieces of 64 KiB) instead of a length.
fn send_form_chunked(proxy: &Proxy, body: &[u8], content_type: &str) -> support::Response {
    let request = proxy
        .request("POST", &format!("/{ATTACK_BUCKET}"))
        .header("Content-Type", content_type)
        .header("Transfer-Encoding", "chunked");
    let mut connection = support::Connection::open(proxy.addr());
    connection.write(&request.head_bytes()).unwrap();
    for piece in body.chunks(64 * 1024) {
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(piece);
        chunk.extend_from_slice(b"\r\n");
        if connection.write(&chunk).is_err() {
            break; // refused early: the answer is waiting
        }
    }
    let _ = connection.write(b"0\r\n\r\n");
    connection.read_response("POST").unwrap()
}

/// In front of nginx: it saw `count` PUTs, the last one chunked and not stored (the file
/// had streamed to it before the refusal, which it then discarded).
fn assert_nginx_discarded_a_streamed_put(setup: &Setup, count: usize) {
    if let Store::Nginx(nginx) = &setup.store {
        let puts = nginx.wait_for_upstream_requests(count);
        let last = puts.last().unwrap();
        assert_eq!(last.transfer_encoding, "chunked", "{puts:#?}");
        assert!(!last.status.starts_with('2'), "{puts:#?}");
    }
}

fn assert_refused_form(setup: &Setup, response: &support::Response, status: u16, code: &str) {
    assert_eq!(
        response.s3_error_code().as_deref(),
        Some(code),
        "{}: {}",
        setup.name(),
        response.text()
    );
    response.assert_s3_error(status, code);
    setup.assert_nothing_stored(&format!("{} {code}", setup.name()));
}

#[test]
fn parts_after_the_file_beyond_the_form_limits_are_refused_and_nothing_is_stored() {
    const REFUSED: &str = "MaxPostPreDataLengthExceededError";
    on_both_backends(ATTACK_BUCKET, |setup| {
        let fields = attack_fields("late/", None);
        let small = support::patterned_bytes(1000);
        // Longer than the read-ahead: the file streams upstream before the parts after it.
        let large = support::patterned_bytes(2 * 1024 * 1024);
        // One value after the file above limits.post_max_field_size (64 KiB).
        let long_value = vec![("x-ignore-late".to_string(), vec![b'v'; 64 * 1024 + 1])];
        for data in [&small, &large] {
            let (body, ctype) = form_body_then(&fields, "f.bin", data, &long_value);
            let response = send_form(&setup.proxy, ATTACK_BUCKET, body, &ctype);
            assert_refused_form(setup, &response, 400, REFUSED);
            assert!(
                response.text().contains("post_max_field_size"),
                "{}",
                response.text()
            );
        }
        // Parts after the file adding up to more than limits.post_max_prefix (1 MiB).
        let many_long: Vec<(String, Vec<u8>)> = (0..20)
            .map(|i| (format!("x-ignore-{i}"), vec![b'p'; 60_000]))
            .collect();
        let (body, ctype) = form_body_then(&fields, "f.bin", &large, &many_long);
        let response = send_form(&setup.proxy, ATTACK_BUCKET, body, &ctype);
        assert_refused_form(setup, &response, 400, REFUSED);
        assert!(
            response.text().contains("post_max_prefix"),
            "{}",
            response.text()
        );
        assert_nginx_discarded_a_streamed_put(setup, 2);
        // More parts than limits.post_max_parts (1000), counting those before the file.
        let many: Vec<(String, Vec<u8>)> = (0..1000)
            .map(|i| (format!("x-ignore-{i}"), b"1".to_vec()))
            .collect();
        let (body, ctype) = form_body_then(&fields, "f.bin", &large, &many);
        let response = send_form(&setup.proxy, ATTACK_BUCKET, body, &ctype);
        assert_refused_form(setup, &response, 400, REFUSED);
        assert!(
            response.text().contains("post_max_parts"),
            "{}",
            response.text()
        );

        // The neighbour: the same large file with a submit button after it is stored whole.
        let (body, ctype) = form_body_then(&fields, "ok.bin", &large, &submit_button());
        let response = send_form(&setup.proxy, ATTACK_BUCKET, body, &ctype);
        assert_eq!(
            response.status,
            201,
            "{}: {}",
            setup.name(),
            response.text()
        );
        assert!(setup.stored(&format!("{ATTACK_BUCKET}/late/ok.bin")) == Some(large.clone()));
    });
}

#[test]
fn a_file_larger_than_its_range_with_a_part_after_it_stores_nothing() {
    on_both_backends(ATTACK_BUCKET, |setup| {
        let max = 1_500_000u64;
        let fields = attack_fields("big/", Some(max));
        // One byte too many, in a form too long for the read-ahead: found while streaming, with
        // Content-Length and sent chunked.
        let one_too_many = support::patterned_bytes(max as usize + 1);
        let (body, ctype) = form_body_then(&fields, "f.bin", &one_too_many, &submit_button());
        let response = send_form(&setup.proxy, ATTACK_BUCKET, body.clone(), &ctype);
        assert_refused_form(setup, &response, 400, "EntityTooLarge");
        assert_nginx_discarded_a_streamed_put(setup, 1);
        let response = send_form_chunked(&setup.proxy, &body, &ctype);
        assert_refused_form(setup, &response, 400, "EntityTooLarge");
        assert_nginx_discarded_a_streamed_put(setup, 2);
        // Far too large: the form's length alone says so, whatever parts may follow the file.
        let far = support::patterned_bytes(4 * 1024 * 1024);
        let (body, ctype) = form_body_then(&fields, "f.bin", &far, &submit_button());
        let response = send_form(&setup.proxy, ATTACK_BUCKET, body, &ctype);
        assert_refused_form(setup, &response, 400, "EntityTooLarge");
        // Within the read-ahead.
        let small_fields = attack_fields("big/", Some(1000));
        let (body, ctype) = form_body_then(
            &small_fields,
            "f.bin",
            &support::patterned_bytes(1001),
            &submit_button(),
        );
        let response = send_form(&setup.proxy, ATTACK_BUCKET, body, &ctype);
        assert_refused_form(setup, &response, 400, "EntityTooLarge");

        // The neighbour: exactly the maximum is stored.
        let at_max = support::patterned_bytes(max as usize);
        let (body, ctype) = form_body_then(&fields, "max.bin", &at_max, &submit_button());
        let response = send_form_chunked(&setup.proxy, &body, &ctype);
        assert_eq!(
            response.status,
            201,
            "{}: {}",
            setup.name(),
            response.text()
        );
        assert!(setup.stored(&format!("{ATTACK_BUCKET}/big/max.bin")) == Some(at_max.clone()));
    });
}

#[test]
fn a_form_cut_off_in_a_part_after_the_file_stores_nothing() {
    on_both_backends(ATTACK_BUCKET, |setup| {
        let fields = attack_fields("cut/", None);
        for size in [2 * 1024 * 1024, 1000] {
            let data = support::patterned_bytes(size);
            let (body, ctype) = form_body_then(&fields, "f.bin", &data, &submit_button());
            // Cut inside the button's value: the whole file has been sent.
            let value_at = body
                .windows(b"Upload to".len())
                .rposition(|w| w == b"Upload to")
                .unwrap();
            let cut = value_at + 4;

            // The client announces the whole form and stops there.
            let request = setup
                .proxy
                .request("POST", &format!("/{ATTACK_BUCKET}"))
                .header("Content-Type", &ctype)
                .body(body.clone());
            let mut connection = support::Connection::open(setup.proxy.addr());
            connection.write(&request.head_bytes()).unwrap();
            connection.write(&body[..cut]).unwrap();
            connection.shutdown_write();
            let response = connection.read_response("POST").unwrap();
            assert_refused_form(setup, &response, 400, "IncompleteBody");
            if size > 1024 * 1024 {
                assert_nginx_discarded_a_streamed_put(setup, 1);
            }

            // The HTTP body is whole, the form is not: no closing boundary after the button.
            let response = send_form(&setup.proxy, ATTACK_BUCKET, body[..cut].to_vec(), &ctype);
            assert_refused_form(setup, &response, 400, "MalformedPOSTRequest");
            let response = send_form_chunked(&setup.proxy, &body[..cut], &ctype);
            assert_refused_form(setup, &response, 400, "MalformedPOSTRequest");
        }
    });
}

#[test]
fn a_form_without_its_signature_field_is_invalid_argument_as_on_s3() {
    // ceph/s3-tests test_post_object_missing_signature: 400, where the other missing fields
    // are 403 AccessDenied.
    let setup = Setup::nginx();
    for (scheme, signature) in [
        (FormScheme::SigV4, "X-Amz-Signature"),
        (FormScheme::SigV2, "Signature"),
    ] {
        let mut fields = aws_example_fields(
            ATTACK_BUCKET,
            "nosig/",
            scheme,
            OnSuccess::Status(201),
            None,
        );
        fields.retain(|(name, _)| name != signature);
        let (body, ctype) = form_body(&fields, "f.bin", b"unsigned");
        let response = send_form(&setup.proxy, ATTACK_BUCKET, body, &ctype);
        assert_refused_form(&setup, &response, 400, "InvalidArgument");
        // The XML's own escaping undone.
        let message = response.s3_error_message().unwrap().replace("&apos;", "'");
        assert!(
            message.starts_with(&format!(
                "Bucket POST must contain a field named '{}'.",
                signature.to_lowercase()
            )),
            "{scheme:?}: {message}"
        );
    }
    assert!(setup_has_no_upstream_request(&setup));
}

/// Nothing reached nginx at all.
fn setup_has_no_upstream_request(setup: &Setup) -> bool {
    match &setup.store {
        Store::Nginx(nginx) => nginx.upstream_requests().is_empty(),
        Store::S3(_) => true,
    }
}
