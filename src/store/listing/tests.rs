use super::*;

fn params(query: &str) -> ListParams {
    ListParams::parse(&Query::parse(query).unwrap()).unwrap()
}

fn object(key: &str) -> ObjectItem {
    ObjectItem {
        key: key.into(),
        size: 1,
        mtime: 0,
        etag: "\"0-1\"".into(),
    }
}

/// The items a page lists when offered `keys` (in S3's order) one by one.
fn page_of(query: &str, keys: &[&str]) -> (Vec<String>, Option<String>) {
    let params = params(query);
    let mut page = Page::new(&params).unwrap();
    for key in keys {
        if page.offer_object(object(key)) == Offer::Full {
            break;
        }
    }
    let names = page.items.iter().map(|i| match i {
        Item::Object(o) => o.key.clone(),
        Item::Prefix(p) => format!("P:{p}"),
    });
    (names.collect(), page.next_start().map(str::to_string))
}

const TREE: &[&str] = &[
    "a-b",
    "a/x",
    "a/y/z",
    "a0",
    "photos/2024/jan.jpg",
    "photos/2024/feb.jpg",
    "photos/2025/mar.jpg",
    "photos/index.html",
    "zeta",
];

#[test]
fn parameters_are_read_as_s3_reads_them() {
    let p = params("list-type=2&prefix=a%2F&delimiter=%2F&max-keys=5000&encoding-type=url&fetch-owner=true&start-after=a");
    assert_eq!(p.version, Version::V2);
    assert_eq!(p.prefix, "a/");
    assert_eq!(p.delimiter.as_deref(), Some("/"));
    assert_eq!(p.max_keys, 1000, "clamped to S3's 1000");
    assert!(p.url_encoding && p.fetch_owner);
    assert_eq!(p.start().unwrap().as_deref(), Some("a"));
    // An empty delimiter= is no delimiter (minio-go, minio-py, rclone).
    assert_eq!(params("list-type=2&delimiter=").delimiter, None);
    let v1 = params("marker=k&start-after=ignored");
    assert_eq!(v1.version, Version::V1);
    assert!(v1.fetch_owner, "V1 always names owners");
    assert_eq!(v1.start().unwrap().as_deref(), Some("k"));
    for bad in [
        "max-keys=-1",
        "max-keys=x",
        "encoding-type=base64",
        "list-type=3",
        "list-type=2&continuation-token=%25%25",
    ] {
        let err = ListParams::parse(&Query::parse(bad).unwrap()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{bad}");
    }
}

#[test]
fn a_continuation_token_wins_over_start_after() {
    let token = encode_token("photos/");
    let p = params(&format!(
        "list-type=2&start-after=a&continuation-token={token}"
    ));
    assert_eq!(p.start().unwrap().as_deref(), Some("photos/"));
}

#[test]
fn keys_come_out_in_order_with_common_prefixes() {
    assert_eq!(page_of("list-type=2", TREE).0, TREE);
    let (items, next) = page_of("list-type=2&delimiter=/", TREE);
    assert_eq!(items, ["a-b", "P:a/", "a0", "P:photos/", "zeta"]);
    assert_eq!(next, None);
    let (items, _) = page_of("list-type=2&prefix=photos/&delimiter=/", TREE);
    assert_eq!(
        items,
        ["P:photos/2024/", "P:photos/2025/", "photos/index.html"]
    );
    let (items, _) = page_of("list-type=2&prefix=a", TREE);
    assert_eq!(items, ["a-b", "a/x", "a/y/z", "a0"]);
    // Another delimiter: everything up to its first occurrence after the prefix.
    let (items, _) = page_of("list-type=2&delimiter=o", TREE);
    assert_eq!(items, ["a-b", "a/x", "a/y/z", "a0", "P:pho", "zeta"]);
}

#[test]
fn pages_resume_after_their_last_item() {
    let (first, next) = page_of("list-type=2&delimiter=/&max-keys=2", TREE);
    assert_eq!(first, ["a-b", "P:a/"]);
    let next = next.unwrap();
    assert_eq!(next, "a/");
    let token = encode_token(&next);
    let (second, next) = page_of(
        &format!("list-type=2&delimiter=/&max-keys=2&continuation-token={token}"),
        TREE,
    );
    assert_eq!(second, ["a0", "P:photos/"], "nothing under a/ again");
    let token = encode_token(&next.unwrap());
    let (third, next) = page_of(
        &format!("list-type=2&delimiter=/&max-keys=2&continuation-token={token}"),
        TREE,
    );
    assert_eq!((third, next), (vec!["zeta".to_string()], None));
    // V1: the marker is the last item too.
    let (items, next) = page_of("marker=a0&max-keys=1", TREE);
    assert_eq!(items, ["photos/2024/jan.jpg"]);
    assert_eq!(next.as_deref(), Some("photos/2024/jan.jpg"));
}

#[test]
fn a_full_page_is_truncated_only_if_another_item_exists() {
    let (items, next) = page_of("list-type=2&max-keys=9", TREE);
    assert_eq!((items.len(), next), (9, None));
    let (items, next) = page_of("list-type=2&max-keys=8", TREE);
    assert_eq!(
        (items.len(), next.as_deref()),
        (8, Some("photos/index.html"))
    );
    // max-keys=0: an empty page, not truncated (a token-less truncated page would loop).
    let (items, next) = page_of("list-type=2&max-keys=0", TREE);
    assert!(items.is_empty() && next.is_none());
}

#[test]
fn folders_are_skipped_descended_or_rolled_up() {
    let page = Page::new(&params("list-type=2&prefix=photos/20&delimiter=/")).unwrap();
    assert_eq!(
        page.folder_step("a/"),
        FolderStep::Skip,
        "outside the prefix"
    );
    assert_eq!(
        page.folder_step("photos/"),
        FolderStep::Descend,
        "above the prefix"
    );
    assert_eq!(
        page.folder_step("photos/2024/"),
        FolderStep::RollUp("photos/2024/".into())
    );
    let page = Page::new(&params("list-type=2&start-after=photos/2025/a")).unwrap();
    assert_eq!(
        page.folder_step("photos/2024/"),
        FolderStep::Skip,
        "before the start"
    );
    assert_eq!(
        page.folder_step("photos/"),
        FolderStep::Descend,
        "holds the start"
    );
    assert_eq!(page.folder_step("zeta/"), FolderStep::Descend);
}
