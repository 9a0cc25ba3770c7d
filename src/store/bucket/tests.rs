use super::*;
use crate::request::Target;
use crate::store::fake::FakeStore;

fn op(method: &str, target: &str) -> Option<BucketOp> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let target = Target::resolve(path, query, "h", &[]).unwrap();
    BucketOp::of(
        &http::Method::from_bytes(method.as_bytes()).unwrap(),
        &target,
    )
    .unwrap()
}

fn run_op(store: &FakeStore, method: &str, target: &str) -> Result<StoreAnswer, S3Error> {
    let op = op(method, target).expect("a store operation");
    let bucket = target
        .trim_start_matches('/')
        .split(['/', '?'])
        .next()
        .unwrap();
    let cx = OpContext {
        bucket,
        region: "us-east-1",
        max_folder_index: 1 << 20,
        key: "",
        access_key: "AK",
        now: 0,
        multipart_expiry: std::time::Duration::from_secs(60),
        body: bytes::Bytes::new(),
        records: &crate::store::etags::RecordsCache::default(),
    };
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(run(&op, store, &cx))
}

#[test]
fn bucket_requests_are_recognised() {
    assert_eq!(op("GET", "/"), Some(BucketOp::ListBuckets));
    assert!(matches!(
        op("GET", "/bkt?list-type=2"),
        Some(BucketOp::ListObjects(_))
    ));
    assert_eq!(op("HEAD", "/bkt"), Some(BucketOp::HeadBucket));
    assert_eq!(
        op("GET", "/bkt?versioning"),
        Some(BucketOp::Query(BucketQuery::Empty(
            "VersioningConfiguration"
        )))
    );
    assert_eq!(op("POST", "/bkt?delete"), Some(BucketOp::DeleteObjects));
    for (method, target) in [("GET", "/bkt/k"), ("PUT", "/bkt?policy")] {
        assert_eq!(op(method, target), None, "{method} {target}");
    }
}

#[test]
fn a_plain_store_lists_one_null_version_per_key() {
    let store = FakeStore::with(&["bkt/a", "bkt/b/c", "bkt/d"]);
    let answer = run_op(&store, "GET", "/bkt?versions&max-keys=2&delimiter=/").unwrap();
    let xml = answer.xml.unwrap();
    assert!(xml.contains("<ListVersionsResult"), "{xml}");
    assert!(
        xml.contains("<Version><Key>a</Key><VersionId>null</VersionId><IsLatest>true</IsLatest>"),
        "{xml}"
    );
    assert!(
        xml.contains("<CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes>"),
        "{xml}"
    );
    assert!(xml.contains("<NextKeyMarker>b/</NextKeyMarker>"), "{xml}");
    let next = run_op(
        &store,
        "GET",
        "/bkt?versions&key-marker=b/&version-id-marker=null",
    )
    .unwrap()
    .xml
    .unwrap();
    assert!(
        next.contains("<Key>d</Key>") && !next.contains("<Key>a</Key>"),
        "{next}"
    );
    let target = Target::resolve("/bkt", "versions&version-id-marker=3HL4kq", "h", &[]).unwrap();
    let err = BucketOp::of(&http::Method::GET, &target).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::InvalidArgument);
}

#[test]
fn create_head_and_delete_a_bucket() {
    let store = FakeStore::default();
    assert_eq!(
        run_op(&store, "HEAD", "/bkt").unwrap_err().code,
        S3ErrorCode::NoSuchBucket
    );
    let created = run_op(&store, "PUT", "/bkt").unwrap();
    assert_eq!(
        (created.status, created.location.as_deref()),
        (200, Some("/bkt"))
    );
    assert_eq!(
        run_op(&store, "PUT", "/bkt").unwrap_err().code,
        S3ErrorCode::BucketAlreadyOwnedByYou
    );
    assert_eq!(run_op(&store, "HEAD", "/bkt").unwrap().status, 200);
    store.add("bkt/a/b/c");
    assert_eq!(
        run_op(&store, "DELETE", "/bkt").unwrap_err().code,
        S3ErrorCode::BucketNotEmpty
    );
    assert!(
        store.paths.lock().unwrap().contains("bkt/a/b/c"),
        "nothing deleted"
    );
    store.paths.lock().unwrap().remove("bkt/a/b/c");
    assert_eq!(
        run_op(&store, "DELETE", "/bkt").unwrap().status,
        204,
        "empty folders only"
    );
    assert!(store.paths.lock().unwrap().is_empty());
    assert_eq!(
        run_op(&store, "DELETE", "/bkt").unwrap_err().code,
        S3ErrorCode::NoSuchBucket
    );
}

#[test]
fn list_buckets_and_bucket_queries() {
    let store = FakeStore::with(&["bkt/k", "Not_A_Bucket/k", "file-at-root"]);
    store.add("other/");
    let xml = run_op(&store, "GET", "/").unwrap().xml.unwrap();
    assert!(
        xml.contains("<Name>bkt</Name>") && xml.contains("<Name>other</Name>"),
        "{xml}"
    );
    assert!(
        !xml.contains("Not_A_Bucket") && !xml.contains("file-at-root"),
        "{xml}"
    );
    let xml = run_op(&store, "GET", "/bkt?location").unwrap().xml.unwrap();
    assert!(xml.contains("<LocationConstraint"), "{xml}");
    let err = run_op(&store, "GET", "/bkt?policy").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchBucketPolicy);
    let err = run_op(&store, "GET", "/nope?versioning").unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchBucket);
}
