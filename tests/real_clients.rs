//! Real clients through the proxy to a real nginx: the AWS SDK for Rust (plain HTTP and HTTPS),
//! SDK-presigned URLs fetched by a raw client, and raw requests signed by `aws-sigv4` where the
//! test needs exact control (query strings, virtual-hosted Host headers).
//!
//! Every upload is compared byte for byte with what nginx wrote to disk.

mod support;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use support::signer::encode_key;
use support::{
    md5_hex, patterned_bytes, sha256_hex, Nginx, Payload, Proxy, ProxyOptions, Request, Signer,
    ACCESS_KEY, SECRET_KEY,
};

/// Keys S3 clients must get through unharmed: spaces, non-ASCII, `+ = ~ $`, and a name that
/// looks percent-encoded (it must be stored under that literal name, not under `a/b`).
const SPECIAL_KEYS: &[&str] = &[
    "dir with spaces/file name.txt",
    "unicode/naïve-日本語-ключ.txt",
    "plus+equals=tilde~.txt",
    "looks%2Fencoded",
    "dollar$sign.txt",
    "mixed/a+b c=d~e$f%20g",
];

fn nginx_and_proxy_with(options: ProxyOptions) -> (Nginx, Proxy) {
    let nginx = Nginx::start();
    let proxy = Proxy::start(&nginx, options);
    (nginx, proxy)
}

/// The SDK's configuration for the proxy, path-style, with its default checksum behaviour: recent
/// SDKs send a CRC32 trailer with every upload (aws-chunked, `STREAMING-UNSIGNED-PAYLOAD-TRAILER`).
fn sdk_config_with_default_checksums(endpoint: &str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
}

/// Like [`sdk_config_with_default_checksums`], but checksums only where an operation requires
/// one, so uploads are plain bodies signed over their SHA-256 (the mode older SDKs and most other
/// clients use). The aws-chunked mode is covered by the `*_default_checksums_*` tests.
fn sdk_config(endpoint: &str) -> aws_sdk_s3::config::Builder {
    sdk_config_with_default_checksums(endpoint)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
}

/// An SDK client for the proxy's plain-HTTP listener, path-style.
fn sdk_client(proxy: &Proxy) -> Client {
    Client::from_conf(sdk_config(&proxy.endpoint()).build())
}

/// An SDK client for the proxy's HTTPS listener that trusts only the test CA.
fn sdk_https_client(proxy: &Proxy) -> Client {
    let config = sdk_config(&proxy.https_endpoint())
        .http_client(http_client(Some(proxy.ca_cert_path()), None))
        .build();
    Client::from_conf(config)
}

/// The SDK's own HTTP client (hyper + rustls) whose only trusted root is `ca` (none without);
/// with `resolver`, every name resolves through it.
fn http_client(ca: Option<&Path>, resolver: Option<LoopbackResolver>) -> SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    let mut trust_store = tls::TrustStore::empty();
    if let Some(ca) = ca {
        trust_store = trust_store.with_pem_certificate(std::fs::read(ca).expect("read CA"));
    }
    let context = tls::TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("TLS context");
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context);
    match resolver {
        Some(resolver) => builder.build_with_resolver(resolver),
        None => builder.build_https(),
    }
}

/// Resolves every name to 127.0.0.1, so `bucket.s3.example.test` reaches the proxy.
#[derive(Debug, Clone)]
struct LoopbackResolver;

impl ResolveDns for LoopbackResolver {
    fn resolve_dns<'a>(&'a self, _name: &'a str) -> DnsFuture<'a> {
        DnsFuture::new(async { Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]) })
    }
}

/// PUT, GET, HEAD, DELETE with the SDK, checking nginx's disk after each write.
async fn assert_object_round_trip(client: &Client, nginx: &Nginx, key: &str, body: Vec<u8>) {
    let put = client
        .put_object()
        .bucket("bucket")
        .key(key)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT {key:?}: {e:?}"));
    assert_eq!(
        put.e_tag(),
        Some(format!("\"{}\"", md5_hex(&body)).as_str()),
        "ETag of {key:?}"
    );
    assert_eq!(
        nginx.stored(&format!("bucket/{key}")).as_deref(),
        Some(body.as_slice()),
        "nginx's copy of {key:?} (stored: {:?})",
        nginx
            .stored_files()
            .iter()
            .map(|(p, _)| p)
            .collect::<Vec<_>>()
    );

    let get = client
        .get_object()
        .bucket("bucket")
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {key:?}: {e:?}"));
    let got = get.body.collect().await.expect("GET body").into_bytes();
    assert!(
        got.as_ref() == body.as_slice(),
        "GET {key:?} returned other bytes"
    );

    let head = client
        .head_object()
        .bucket("bucket")
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("HEAD {key:?}: {e:?}"));
    assert_eq!(
        head.content_length(),
        Some(body.len() as i64),
        "HEAD {key:?}"
    );

    client
        .delete_object()
        .bucket("bucket")
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DELETE {key:?}: {e:?}"));
    assert_eq!(
        nginx.stored(&format!("bucket/{key}")),
        None,
        "{key:?} still on disk after DELETE"
    );

    let error = client
        .get_object()
        .bucket("bucket")
        .key(key)
        .send()
        .await
        .expect_err("GET after DELETE");
    assert!(
        error.into_service_error().is_no_such_key(),
        "GET of deleted {key:?} should be NoSuchKey"
    );
}

// ---------------------------------------------------------------------------------------------
// The AWS SDK for Rust.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_sdk_puts_gets_heads_and_deletes_over_http() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let client = sdk_client(&proxy);

    assert_object_round_trip(&client, &nginx, "small.txt", b"hello, world".to_vec()).await;
    assert_object_round_trip(
        &client,
        &nginx,
        "deep/path/large.bin",
        patterned_bytes(5 * 1024 * 1024 + 7),
    )
    .await;
    assert_object_round_trip(&client, &nginx, "empty", Vec::new()).await;
}

#[tokio::test]
async fn the_sdk_puts_gets_heads_and_deletes_over_https() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default().with_tls());
    let client = sdk_https_client(&proxy);

    assert_object_round_trip(&client, &nginx, "small.txt", b"hello over tls".to_vec()).await;
    assert_object_round_trip(
        &client,
        &nginx,
        "large.bin",
        patterned_bytes(2 * 1024 * 1024 + 3),
    )
    .await;
}

#[tokio::test]
async fn the_sdk_with_its_default_checksums_puts_gets_heads_and_deletes_over_http() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let client = Client::from_conf(sdk_config_with_default_checksums(&proxy.endpoint()).build());

    assert_object_round_trip(&client, &nginx, "crc/small.txt", b"checksummed".to_vec()).await;
    assert_object_round_trip(
        &client,
        &nginx,
        "crc/large.bin",
        patterned_bytes(5 * 1024 * 1024 + 5),
    )
    .await;
}

#[tokio::test]
async fn the_sdk_with_its_default_checksums_puts_gets_heads_and_deletes_over_https() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default().with_tls());
    let config = sdk_config_with_default_checksums(&proxy.https_endpoint())
        .http_client(http_client(Some(proxy.ca_cert_path()), None))
        .build();
    let client = Client::from_conf(config);

    assert_object_round_trip(
        &client,
        &nginx,
        "crc/small.txt",
        b"checksummed over tls".to_vec(),
    )
    .await;
    assert_object_round_trip(
        &client,
        &nginx,
        "crc/large.bin",
        patterned_bytes(2 * 1024 * 1024 + 9),
    )
    .await;
}

#[tokio::test]
async fn the_sdk_round_trips_keys_with_special_characters() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let client = sdk_client(&proxy);

    for key in SPECIAL_KEYS {
        let body = format!("contents of {key}").into_bytes();
        assert_object_round_trip(&client, &nginx, key, body).await;
    }
}

#[tokio::test]
async fn the_sdk_stores_special_keys_under_their_literal_names() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let client = sdk_client(&proxy);

    for key in SPECIAL_KEYS {
        client
            .put_object()
            .bucket("bucket")
            .key(*key)
            .body(ByteStream::from(key.as_bytes().to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {key:?}: {e:?}"));
    }

    let mut expected: Vec<(String, Vec<u8>)> = SPECIAL_KEYS
        .iter()
        .map(|k| (format!("bucket/{k}"), k.as_bytes().to_vec()))
        .collect();
    expected.sort();
    assert_eq!(nginx.stored_files(), expected);
}

#[tokio::test]
async fn the_sdk_gets_no_such_key_for_a_missing_object() {
    let (_nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let client = sdk_client(&proxy);

    let error = client
        .get_object()
        .bucket("bucket")
        .key("never-written")
        .send()
        .await
        .expect_err("GET of a missing key");

    let service_error = error.into_service_error();
    assert!(service_error.is_no_such_key(), "{service_error:?}");
}

#[tokio::test]
async fn the_sdk_deletes_a_missing_object_without_error() {
    let (_nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let client = sdk_client(&proxy);

    client
        .delete_object()
        .bucket("bucket")
        .key("never-written")
        .send()
        .await
        .expect("DELETE of a missing key is a success on S3");
}

#[tokio::test]
async fn the_sdk_lists_an_http_backend_and_its_one_version_per_key() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let client = sdk_client(&proxy);
    nginx.put_file("bucket/a/x", b"x");
    nginx.put_file("bucket/a-b", b"ab");

    let listed = client
        .list_objects_v2()
        .bucket("bucket")
        .send()
        .await
        .expect("the proxy lists a plain store's folders");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["a-b", "a/x"]);

    let versions = client
        .list_object_versions()
        .bucket("bucket")
        .send()
        .await
        .expect("versions on kind = http");
    let listed: Vec<(&str, &str, bool)> = versions
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap_or_default(),
                v.version_id().unwrap_or_default(),
                v.is_latest().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(listed, [("a-b", "null", true), ("a/x", "null", true)]);
    assert!(versions.delete_markers().is_empty());

    // A configuration write the store cannot keep stays NotImplemented.
    let error = client
        .put_bucket_versioning()
        .bucket("bucket")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .expect_err("versioning on kind = http");
    let raw = error.raw_response().expect("an HTTP answer");
    assert_eq!(raw.status().as_u16(), 501);
    assert_eq!(
        error.into_service_error().meta().code(),
        Some("NotImplemented")
    );
}

#[tokio::test]
async fn the_sdk_with_a_wrong_secret_gets_signature_does_not_match() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let config = sdk_config(&proxy.endpoint())
        .credentials_provider(Credentials::new(
            ACCESS_KEY,
            "not-the-secret",
            None,
            None,
            "tests",
        ))
        .build();
    let client = Client::from_conf(config);

    let error = client
        .put_object()
        .bucket("bucket")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("a wrong secret");

    assert_eq!(
        error.into_service_error().meta().code(),
        Some("SignatureDoesNotMatch")
    );
    nginx.assert_nothing_stored();
}

// ---------------------------------------------------------------------------------------------
// SDK-presigned URLs, sent by a raw client.
// ---------------------------------------------------------------------------------------------

/// The raw request a browser or curl would send for a presigned URL.
fn raw_request_for(presigned: &PresignedRequest) -> Request {
    let uri = presigned.uri();
    let after_scheme = uri.split_once("://").expect("absolute URI").1;
    let (authority, target) = after_scheme.split_at(after_scheme.find('/').expect("a path"));
    let mut request = Request::new(presigned.method(), target).header("host", authority);
    for (name, value) in presigned.headers() {
        request = request.header(name, value);
    }
    request
}

#[tokio::test]
async fn an_sdk_presigned_get_serves_the_object() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let body = patterned_bytes(70_000);
    nginx.put_file("bucket/shared/report.bin", &body);

    let presigned = sdk_client(&proxy)
        .get_object()
        .bucket("bucket")
        .key("shared/report.bin")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).expect("config"))
        .await
        .expect("presign GET");
    let response = proxy.send(&raw_request_for(&presigned));

    response.assert_success();
    assert!(response.body == body, "presigned GET returned other bytes");
}

#[tokio::test]
async fn an_sdk_presigned_put_stores_the_body() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let body = patterned_bytes(100_000);

    let presigned = sdk_client(&proxy)
        .put_object()
        .bucket("bucket")
        .key("incoming/upload.bin")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).expect("config"))
        .await
        .expect("presign PUT");
    let response = proxy.send(&raw_request_for(&presigned).body(body.clone()));

    response.assert_success();
    assert_eq!(
        response.header("etag"),
        Some(format!("\"{}\"", md5_hex(&body)).as_str())
    );
    assert_eq!(
        nginx.stored_files(),
        vec![("bucket/incoming/upload.bin".to_string(), body)]
    );
}

#[tokio::test]
async fn sdk_presigned_urls_work_for_special_keys() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let client = sdk_client(&proxy);
    let config = || PresigningConfig::expires_in(Duration::from_secs(300)).expect("config");

    for key in SPECIAL_KEYS {
        let body = format!("presigned {key}").into_bytes();
        let put = client
            .put_object()
            .bucket("bucket")
            .key(*key)
            .presigned(config())
            .await
            .expect("presign PUT");
        proxy
            .send(&raw_request_for(&put).body(body.clone()))
            .assert_success();
        assert_eq!(
            nginx.stored(&format!("bucket/{key}")).as_deref(),
            Some(body.as_slice()),
            "{key:?}"
        );

        let get = client
            .get_object()
            .bucket("bucket")
            .key(*key)
            .presigned(config())
            .await
            .expect("presign GET");
        let response = proxy.send(&raw_request_for(&get));
        response.assert_success();
        assert!(
            response.body == body,
            "presigned GET of {key:?} returned other bytes"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Raw requests signed by aws-sigv4.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_signed_get_with_empty_and_repeated_query_parameters_is_served() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    nginx.put_file("bucket/object.txt", b"query strings");

    for query in [
        "response-content-type=text%2Fplain&custom=",
        "custom=2&custom=1&custom=",
        "flag&response-content-type=text%2Fplain",
        "z=%20space%2Bplus&a=%7Etilde&m=%C3%A9",
    ] {
        let mut get = proxy.request("GET", &format!("/bucket/object.txt?{query}"));
        Signer::default().sign(&mut get, Payload::Hashed);

        let response = proxy.send(&get);

        response.assert_success();
        assert_eq!(response.body, b"query strings", "query {query:?}");
    }
}

#[test]
fn an_unsigned_payload_put_is_stored() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let body = patterned_bytes(150_000);
    let mut put = proxy.request("PUT", "/bucket/unsigned").body(body.clone());
    Signer::default().sign(&mut put, Payload::Unsigned);
    assert_eq!(
        put.header_value("x-amz-content-sha256"),
        Some("UNSIGNED-PAYLOAD")
    );

    proxy.send(&put).assert_success();

    assert_eq!(
        nginx.stored_files(),
        vec![("bucket/unsigned".to_string(), body)]
    );
}

#[test]
fn raw_signed_requests_round_trip_special_keys() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());

    for key in SPECIAL_KEYS {
        let target = format!("/bucket/{}", encode_key(key));
        let body = format!("raw {key}").into_bytes();
        let mut put = proxy.request("PUT", &target).body(body.clone());
        Signer::default().sign(&mut put, Payload::Hashed);
        proxy.send(&put).assert_success();
        assert_eq!(
            nginx.stored(&format!("bucket/{key}")).as_deref(),
            Some(body.as_slice()),
            "{key:?}"
        );

        let mut get = proxy.request("GET", &target);
        Signer::default().sign(&mut get, Payload::Hashed);
        let response = proxy.send(&get);
        response.assert_success();
        assert_eq!(response.body, body, "{key:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Virtual-hosted style.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_virtual_hosted_put_and_get_reach_bucket_slash_key() {
    let (nginx, proxy) =
        nginx_and_proxy_with(ProxyOptions::default().with_virtual_host_suffix("s3.example.test"));
    let host = format!("photos.s3.example.test:{}", proxy.addr().port());

    let mut put = Request::new("PUT", "/2024/cat.jpg")
        .header("host", &host)
        .body(b"meow".to_vec());
    Signer::default().sign(&mut put, Payload::Hashed);
    proxy.send(&put).assert_success();

    assert_eq!(
        nginx.stored_files(),
        vec![("photos/2024/cat.jpg".to_string(), b"meow".to_vec())]
    );

    let mut get = Request::new("GET", "/2024/cat.jpg").header("host", &host);
    Signer::default().sign(&mut get, Payload::Hashed);
    let response = proxy.send(&get);
    response.assert_success();
    assert_eq!(response.body, b"meow");
}

#[tokio::test]
async fn the_sdk_with_virtual_hosted_addressing_reaches_bucket_slash_key() {
    let (nginx, proxy) =
        nginx_and_proxy_with(ProxyOptions::default().with_virtual_host_suffix("s3.example.test"));
    // photos.s3.example.test resolves to 127.0.0.1 through the client's own resolver.
    let config = sdk_config(&format!("http://s3.example.test:{}", proxy.addr().port()))
        .force_path_style(false)
        .http_client(http_client(None, Some(LoopbackResolver)))
        .build();
    let client = Client::from_conf(config);

    client
        .put_object()
        .bucket("photos")
        .key("2024/dog.jpg")
        .body(ByteStream::from_static(b"woof"))
        .send()
        .await
        .expect("virtual-hosted PUT");
    let got = client
        .get_object()
        .bucket("photos")
        .key("2024/dog.jpg")
        .send()
        .await
        .expect("virtual-hosted GET")
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes();

    assert_eq!(got.as_ref(), b"woof");
    assert_eq!(
        nginx.stored_files(),
        vec![("photos/2024/dog.jpg".to_string(), b"woof".to_vec())]
    );
    let seen = nginx.wait_for_upstream_requests(2);
    // The SDK adds ?x-id=PutObject / GetObject; the path is what matters here.
    assert!(
        seen.iter()
            .all(|r| path_of(&r.uri) == "/photos/2024/dog.jpg"),
        "{seen:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// What the backend receives.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_backend_sees_the_identity_but_no_credentials() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let client = sdk_client(&proxy);
    client
        .put_object()
        .bucket("bucket")
        .key("k")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .expect("PUT");
    let presigned = client
        .get_object()
        .bucket("bucket")
        .key("k")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).expect("config"))
        .await
        .expect("presign");
    proxy.send(&raw_request_for(&presigned)).assert_success();

    let seen = nginx.wait_for_upstream_requests(2);
    for request in &seen {
        assert_eq!(
            request.authorization, "",
            "Authorization reached nginx: {request:#?}"
        );
        assert_eq!(request.forwarded_user, ACCESS_KEY, "{request:#?}");
        assert_eq!(path_of(&request.uri), "/bucket/k", "{request:#?}");
        assert!(
            !request.uri.to_ascii_lowercase().contains("x-amz-"),
            "X-Amz-* parameters reached nginx: {request:#?}"
        );
    }
    assert_eq!(seen.len(), 2, "{seen:#?}");
    // The proxy's own requests (the PUT's ETag record) carry the identity, no credentials.
    let own: Vec<_> = nginx
        .all_upstream_requests()
        .into_iter()
        .filter(|r| r.uri.starts_with("/.s3-auth-proxy/"))
        .collect();
    assert_eq!(own.len(), 1, "{own:#?}");
    assert_eq!(own[0].authorization, "");
    assert_eq!(own[0].forwarded_user, ACCESS_KEY);
}

/// The path of a request target, without its query.
fn path_of(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

#[test]
fn the_backend_sees_no_expect_and_the_exact_length() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let mut put = proxy
        .request("PUT", "/bucket/expect")
        .body(b"twelve bytes".to_vec());
    Signer::default().sign(&mut put, Payload::Hashed);
    put.headers
        .push(("Expect".to_string(), "100-continue".to_string()));

    let mut connection = support::Connection::open(proxy.addr());
    connection.write(&put.head_bytes()).expect("write head");
    let (status, _) = connection.read_head().expect("interim answer");
    assert_eq!(status, 100);
    connection.write(&put.body).expect("write body");
    connection
        .read_response("PUT")
        .expect("final answer")
        .assert_success();

    let seen = nginx.wait_for_upstream_requests(1);
    assert_eq!(seen[0].expect, "", "Expect reached nginx: {:#?}", seen[0]);
    assert_eq!(seen[0].content_length, "12");
}

#[test]
fn a_client_supplied_identity_header_is_replaced() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let mut put = proxy
        .request("PUT", "/bucket/who")
        .header("x-forwarded-user", "admin")
        .body(b"me".to_vec());
    Signer::default().sign(&mut put, Payload::Hashed);

    proxy.send(&put).assert_success();

    let seen = nginx.wait_for_upstream_requests(1);
    assert_eq!(seen[0].forwarded_user, ACCESS_KEY, "{:#?}", seen[0]);
}

/// The test nginx takes headers with underscores (`underscores_in_headers on`), as CGI/WSGI-style
/// backends do, and reads `x_forwarded_user` as `$http_x_forwarded_user`: a client-sent
/// underscore spelling must not reach it beside the identity the proxy sets.
#[test]
fn an_underscore_spelling_of_the_identity_header_never_reaches_the_backend() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    let mut put = proxy
        .request("PUT", "/bucket/who")
        .header("x_forwarded_user", "admin")
        .body(b"me".to_vec());
    Signer::default().sign(&mut put, Payload::Hashed);

    proxy.send(&put).assert_success();

    let seen = nginx.wait_for_upstream_requests(1);
    assert_eq!(seen[0].forwarded_user, ACCESS_KEY, "{:#?}", seen[0]);
}

// ---------------------------------------------------------------------------------------------
// curl (--aws-sigv4), over HTTP/2.
// ---------------------------------------------------------------------------------------------

/// Runs curl with `args` and returns (stdout, stderr), asserting it ran.
fn curl(args: &[&str]) -> (String, String) {
    let output = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--noproxy", "*"])
        .args(args)
        .output()
        .expect("run curl (scripts/test.sh installs it)");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// curl's `--aws-sigv4` options for the proxy's HTTPS listener over HTTP/2. curl 7.88 (Debian 12)
/// does not add `x-amz-content-sha256` by itself, so the caller passes it (curl signs it).
fn curl_sigv4_args(proxy: &Proxy, content_sha256: &str) -> Vec<String> {
    [
        "--http2",
        "--cacert",
        &proxy.ca_cert_path().display().to_string(),
        "--aws-sigv4",
        "aws:amz:us-east-1:s3",
        "--user",
        &format!("{ACCESS_KEY}:{SECRET_KEY}"),
        "--header",
        &format!("x-amz-content-sha256: {content_sha256}"),
        "--write-out",
        "%{http_code} %{http_version}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn curl_strs(args: &[String]) -> (String, String) {
    curl(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn curl_with_aws_sigv4_puts_and_gets_over_http2() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default().with_tls());
    let body = patterned_bytes(100_000);
    let upload = proxy.dir().join("upload.bin");
    std::fs::write(&upload, &body).expect("write upload file");
    let download = proxy.dir().join("download.bin");
    let url = format!("{}/bucket/curl/upload.bin", proxy.https_endpoint());

    let mut put = curl_sigv4_args(&proxy, &sha256_hex(&body));
    put.extend([
        "--upload-file".into(),
        upload.display().to_string(),
        "--output".into(),
        "/dev/null".into(),
        url.clone(),
    ]);
    let (status, stderr) = curl_strs(&put);
    assert_eq!(
        status, "200 2",
        "curl PUT (status, HTTP version); stderr: {stderr}"
    );
    assert_eq!(nginx.stored("bucket/curl/upload.bin"), Some(body.clone()));

    let mut get = curl_sigv4_args(&proxy, &sha256_hex(b""));
    get.extend(["--output".into(), download.display().to_string(), url]);
    let (status, stderr) = curl_strs(&get);
    assert_eq!(
        status, "200 2",
        "curl GET (status, HTTP version); stderr: {stderr}"
    );
    assert!(
        std::fs::read(&download).expect("downloaded file") == body,
        "curl GET returned other bytes"
    );
}

#[test]
fn curl_over_http2_with_a_wrong_declared_body_hash_is_refused_and_nothing_stored() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default().with_tls());
    let body = patterned_bytes(300 * 1024);
    let upload = proxy.dir().join("upload.bin");
    std::fs::write(&upload, &body).expect("write upload file");
    let answer = proxy.dir().join("answer.xml");
    let url = format!("{}/bucket/curl/evil.bin", proxy.https_endpoint());

    // Signed correctly, over a hash that is not the body's.
    let mut put = curl_sigv4_args(&proxy, &sha256_hex(&body[1..]));
    put.extend([
        "--upload-file".into(),
        upload.display().to_string(),
        "--output".into(),
        answer.display().to_string(),
        url,
    ]);
    let (status, stderr) = curl_strs(&put);

    let answer = std::fs::read_to_string(&answer).unwrap_or_default();
    assert_eq!(
        status, "400 2",
        "curl PUT (status, HTTP version); stderr: {stderr}; body: {answer}"
    );
    assert_eq!(
        support::http::xml_element(&answer, "Code").as_deref(),
        Some("XAmzContentSHA256Mismatch"),
        "{answer}"
    );
    nginx.assert_nothing_stored();
}

/// nginx answers a GET of a "folder" with a 301 naming its own address and port, and names itself
/// in `Server`: neither reaches the client; S3 has no folders, so the key does not exist.
#[test]
fn a_folder_on_the_plain_store_is_no_such_key_and_the_backend_stays_hidden() {
    let (nginx, proxy) = nginx_and_proxy_with(ProxyOptions::default());
    nginx.put_file("bucket/dir/inner.txt", b"inside");
    let backend_port = nginx.addr().port().to_string();

    for method in ["GET", "HEAD"] {
        let mut request = proxy.request(method, "/bucket/dir");
        Signer::default().sign(&mut request, Payload::Hashed);
        let response = proxy.send(&request);
        assert_eq!(
            response.status,
            404,
            "{method} of a folder: {}",
            response.text()
        );
        if method == "GET" {
            response.assert_s3_error(404, "NoSuchKey");
        }
        assert_eq!(
            response.header("location"),
            None,
            "{method}: Location passed"
        );
        assert_eq!(response.header("server"), None, "{method}: Server passed");
        assert!(
            !response.text().contains(&backend_port),
            "{method}: backend port in body"
        );
    }

    // The neighbour that must keep working: the object inside, still served, still anonymous.
    let mut get = proxy.request("GET", "/bucket/dir/inner.txt");
    Signer::default().sign(&mut get, Payload::Hashed);
    let response = proxy.send(&get);
    response.assert_success();
    assert_eq!(response.body, b"inside");
    assert_eq!(response.header("server"), None, "Server passed on a 200");
}
