use super::*;
use crate::request::source_objects;
use crate::store::fake::FakeStore;

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

fn copy_request(target: &str, headers: &[(&str, &str)]) -> Result<CopyRequest, S3Error> {
    let target = Target::resolve(target, "", "h", &[]).unwrap();
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    let sources = source_objects(&map)?;
    CopyRequest::parse(&target, &sources, &map)
}

fn code(result: Result<CopyRequest, S3Error>) -> S3ErrorCode {
    result.unwrap_err().code
}

fn xml(answer: &StoreAnswer) -> &str {
    answer.xml.as_deref().unwrap()
}

#[test]
fn keys_a_plain_store_cannot_hold() {
    assert!(check_object_key("a/b.txt").is_ok());
    assert!(check_object_key(".hidden/a").is_ok());
    assert!(check_object_key("a/.s3-auth-proxyx").is_ok());
    for key in [
        ".s3-auth-proxy",
        "a/.s3-auth-proxy/no-index",
        ".s3-auth-proxy/copies/x",
    ] {
        assert_eq!(
            check_object_key(key).unwrap_err().code,
            S3ErrorCode::InvalidArgument,
            "{key}"
        );
    }
    assert_eq!(
        check_object_key("dir/").unwrap_err().code,
        S3ErrorCode::NotImplemented
    );
}

#[test]
fn a_copy_is_read_from_its_head() {
    let copy = copy_request("/dst/new%20key", &[("x-amz-copy-source", "/src/a%2Bb/c")]).unwrap();
    assert_eq!(
        copy,
        CopyRequest {
            source_bucket: "src".into(),
            source_key: "a+b/c".into(),
            bucket: "dst".into(),
            key: "new key".into(),
            replace_metadata: false,
        }
    );
    let replace = copy_request(
        "/bkt/k",
        &[
            ("x-amz-copy-source", "bkt/k"),
            ("x-amz-metadata-directive", "REPLACE"),
        ],
    )
    .unwrap();
    assert!(replace.replace_metadata);
    let explicit = [
        ("x-amz-copy-source", "bkt/a"),
        ("x-amz-metadata-directive", "COPY"),
    ];
    assert!(!copy_request("/bkt/k", &explicit).unwrap().replace_metadata);
}

#[test]
fn copies_the_store_cannot_make_as_asked_are_refused() {
    let src = ("x-amz-copy-source", "/bkt/src");
    for extra in [
        ("x-amz-copy-source-if-match", "\"e\""),
        ("x-amz-copy-source-if-none-match", "\"e\""),
        (
            "x-amz-copy-source-if-modified-since",
            "Sat, 01 Jan 2000 00:00:00 GMT",
        ),
        (
            "x-amz-copy-source-if-unmodified-since",
            "Sat, 01 Jan 2000 00:00:00 GMT",
        ),
        ("x-amz-copy-source-range", "bytes=0-1"),
    ] {
        let err = copy_request("/bkt/k", &[src, extra]).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::NotImplemented, "{extra:?}");
        assert!(err.message.contains(extra.0), "{}", err.message);
    }
    let versioned = copy_request("/bkt/k", &[("x-amz-copy-source", "/bkt/src?versionId=3")]);
    let err = versioned.unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NotImplemented);
    assert!(err.message.contains("versionId"), "{}", err.message);
    assert_eq!(
        code(copy_request(
            "/bkt/k",
            &[("x-amz-rename-source", "/bkt/src")]
        )),
        S3ErrorCode::NotImplemented
    );
    assert_eq!(
        code(copy_request(
            "/bkt/k",
            &[src, ("x-amz-rename-source", "/bkt/other")]
        )),
        S3ErrorCode::NotImplemented
    );
    assert_eq!(
        code(copy_request(
            "/bkt/k",
            &[("x-amz-copy-source", "/bkt/.s3-auth-proxy/no-index")]
        )),
        S3ErrorCode::InvalidArgument
    );
    assert_eq!(
        code(copy_request(
            "/bkt/k",
            &[("x-amz-copy-source", "/bkt/dir/")]
        )),
        S3ErrorCode::NotImplemented
    );
    assert_eq!(
        code(copy_request(
            "/bkt/k",
            &[src, ("x-amz-metadata-directive", "replace")]
        )),
        S3ErrorCode::InvalidArgument
    );
    // Onto itself without a change: S3's InvalidRequest.
    for directive in [None, Some("COPY")] {
        let mut headers = vec![("x-amz-copy-source", "/bkt/k")];
        headers.extend(directive.map(|d| ("x-amz-metadata-directive", d)));
        assert_eq!(
            code(copy_request("/bkt/k", &headers)),
            S3ErrorCode::InvalidRequest
        );
    }
}

fn copy(from: (&str, &str), to: (&str, &str)) -> CopyRequest {
    CopyRequest {
        source_bucket: from.0.into(),
        source_key: from.1.into(),
        bucket: to.0.into(),
        key: to.1.into(),
        replace_metadata: false,
    }
}

#[test]
fn a_copy_is_staged_then_moved_onto_its_key() {
    let store = FakeStore::default();
    store.add_with("src/a/file", b"the bytes");
    store.add("dst/");
    let answer = block_on(copy_object(
        &store,
        &copy(("src", "a/file"), ("dst", "b/c")),
        "n1",
    ))
    .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(store.bytes("dst/b/c"), b"the bytes");
    assert_eq!(store.bytes("src/a/file"), b"the bytes", "the source stays");
    assert_eq!(
        store.changes(),
        [
            "COPY src/a/file .s3-auth-proxy/copies/n1",
            "MKCOL .s3-auth-proxy/",
            "MKCOL .s3-auth-proxy/copies/",
            "COPY src/a/file .s3-auth-proxy/copies/n1",
            "MOVE .s3-auth-proxy/copies/n1 dst/b/c",
        ]
    );
    assert!(!store.has(".s3-auth-proxy/copies/n1"));
    let body = xml(&answer);
    assert!(body.contains("<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"));
    assert!(
        body.contains("<LastModified>2023-11-14T22:13:20.000Z</LastModified>"),
        "{body}"
    );
    assert!(
        body.contains("<ETag>&quot;6553f100-9&quot;</ETag>"),
        "{body}"
    );

    // The staging folder exists now: one COPY, one MOVE; an existing key is replaced.
    store.add_with("src/other", b"newer");
    block_on(copy_object(
        &store,
        &copy(("src", "other"), ("dst", "b/c")),
        "n2",
    ))
    .unwrap();
    assert_eq!(store.changes().len(), 2);
    assert_eq!(store.bytes("dst/b/c"), b"newer");
}

#[test]
fn a_missing_source_creates_nothing() {
    let store = FakeStore::with(&["src/there", "dst/"]);
    store.add(".s3-auth-proxy/copies/");
    let err = block_on(copy_object(
        &store,
        &copy(("src", "missing"), ("dst", "k")),
        "n",
    ))
    .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchKey);
    let err = block_on(copy_object(
        &store,
        &copy(("nobucket", "k"), ("dst", "k")),
        "n",
    ))
    .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchBucket);
    // A folder is no object either.
    store.add("src/dir/inside");
    let err = block_on(copy_object(
        &store,
        &copy(("src", "dir"), ("dst", "k")),
        "n",
    ))
    .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchKey);
    assert!(!store.has("dst/k"));
    assert!(store.changes().iter().all(|c| !c.starts_with("MOVE")));
}

#[test]
fn a_failed_copy_leaves_nothing_under_a_key_or_in_the_staging_area() {
    let store = FakeStore::with(&["src/k", "dst/folder/inside"]);
    store.add(".s3-auth-proxy/copies/");
    // The key is a folder on the store: the MOVE is refused, the staged copy removed.
    let err = block_on(copy_object(
        &store,
        &copy(("src", "k"), ("dst", "folder")),
        "n",
    ))
    .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
    assert!(!store.has(".s3-auth-proxy/copies/n"));
    assert!(store.has("dst/folder/inside"));
    // The MOVE fails: the same.
    *store.failing.lock().unwrap() = Some("MOVE");
    let err = block_on(copy_object(&store, &copy(("src", "k"), ("dst", "k2")), "m")).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::InternalError);
    assert!(!store.has(".s3-auth-proxy/copies/m"));
    assert!(!store.has("dst/k2"));
    assert_eq!(
        store.changes().last().map(String::as_str),
        Some("DELETE .s3-auth-proxy/copies/m")
    );
}

#[test]
fn a_copy_onto_itself_with_replace_changes_nothing() {
    let store = FakeStore::default();
    store.add_with("bkt/k", b"abc");
    let mut same = copy(("bkt", "k"), ("bkt", "k"));
    same.replace_metadata = true;
    let answer = block_on(copy_object(&store, &same, "n")).unwrap();
    assert!(xml(&answer).contains("<ETag>&quot;6553f100-3&quot;</ETag>"));
    assert!(store.changes().is_empty());
    let gone = copy(("bkt", "gone"), ("bkt", "gone"));
    let err = block_on(copy_object(&store, &gone, "n")).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchKey);
}

#[test]
fn staging_names_do_not_repeat() {
    let names: std::collections::BTreeSet<String> = (0..1000).map(|_| staging_name()).collect();
    assert_eq!(names.len(), 1000);
    let name = names.iter().next().unwrap();
    assert_eq!(name.len(), 32);
    assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
}

fn delete_doc(objects: &[&str], quiet: bool) -> Vec<u8> {
    let objects: String = objects
        .iter()
        .map(|o| {
            if o.starts_with('<') {
                format!("<Object>{o}</Object>")
            } else {
                format!("<Object><Key>{o}</Key></Object>")
            }
        })
        .collect();
    format!("<Delete>{objects}<Quiet>{quiet}</Quiet></Delete>").into_bytes()
}

#[test]
fn delete_objects_deletes_each_key_and_reports_missing_ones_deleted() {
    let store = FakeStore::with(&["bkt/a", "bkt/dir/b", "bkt/keep"]);
    let body = delete_doc(&["a", "dir/b", "missing", "a &amp; &lt;b&gt;"], false);
    let answer = block_on(delete_objects(&store, "bkt", &body)).unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(
        xml(&answer),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Deleted><Key>a</Key></Deleted><Deleted><Key>dir/b</Key></Deleted>\
         <Deleted><Key>missing</Key></Deleted><Deleted><Key>a &amp; &lt;b&gt;</Key></Deleted>\
         </DeleteResult>"
    );
    assert!(!store.has("bkt/a") && !store.has("bkt/dir/b"));
    assert!(store.has("bkt/keep"));
}

#[test]
fn keys_the_store_cannot_hold_get_their_own_error_and_no_folder_is_deleted() {
    let store = FakeStore::with(&["bkt/dir/inside", "bkt/.s3-auth-proxy/no-index", "bkt/v"]);
    let body = delete_doc(
        &[
            "dir/",
            ".s3-auth-proxy/no-index",
            "<Key>v</Key><VersionId>3</VersionId>",
            "<Key>v</Key><ETag>\"x\"</ETag>",
            "dir",
        ],
        true,
    );
    let answer = block_on(delete_objects(&store, "bkt", &body)).unwrap();
    let body = xml(&answer);
    let errors: Vec<(&str, &str)> = body
        .split("<Error>")
        .skip(1)
        .map(|e| {
            let between = |open: &str, close: &str| {
                let start = e.find(open).unwrap() + open.len();
                &e[start..start + e[start..].find(close).unwrap()]
            };
            (between("<Key>", "</Key>"), between("<Code>", "</Code>"))
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("dir/", "NotImplemented"),
            (".s3-auth-proxy/no-index", "InvalidArgument"),
            ("v", "NotImplemented"),
            ("v", "NotImplemented"),
        ]
    );
    // Quiet: the key deleted ("dir" is a folder, so nothing) is not listed.
    assert!(!body.contains("<Deleted>"), "{body}");
    assert!(store.has("bkt/dir/inside"));
    assert!(store.has("bkt/.s3-auth-proxy/no-index"));
    assert!(store.has("bkt/v"));
    assert_eq!(store.changes(), ["DELETE bkt/dir"]);
}

#[test]
fn delete_objects_in_a_missing_bucket_and_a_failing_store() {
    let store = FakeStore::with(&["bkt/a", "bkt/b"]);
    let err = block_on(delete_objects(&store, "nobkt", &delete_doc(&["a"], false))).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchBucket);
    // Nothing there, but the bucket is: deleted.
    let answer = block_on(delete_objects(&store, "bkt", &delete_doc(&["zz"], false))).unwrap();
    assert!(xml(&answer).contains("<Deleted><Key>zz</Key></Deleted>"));
    *store.failing.lock().unwrap() = Some("DELETE");
    let answer = block_on(delete_objects(
        &store,
        "bkt",
        &delete_doc(&["a", "b"], true),
    ))
    .unwrap();
    assert_eq!(
        xml(&answer).matches("<Code>InternalError</Code>").count(),
        2
    );
    assert!(store.has("bkt/a"));
}

#[test]
fn a_thousand_keys_are_deleted_in_order() {
    let keys: Vec<String> = (0..1000).map(|i| format!("k{i:04}")).collect();
    let store = FakeStore::default();
    for key in &keys {
        store.add(&format!("bkt/{key}"));
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let answer = block_on(delete_objects(&store, "bkt", &delete_doc(&refs, false))).unwrap();
    let listed: Vec<&str> = xml(&answer)
        .split("<Key>")
        .skip(1)
        .map(|k| &k[..k.find('<').unwrap()])
        .collect();
    assert_eq!(listed, refs);
    assert_eq!(store.paths.lock().unwrap().len(), 1, "only bkt/ is left");
}
