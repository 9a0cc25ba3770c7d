use super::*;
use crate::request::Query;
use crate::store::fake::{FakeStore, ENTRY_BYTES};
use crate::store::listing::{Item, ListParams};

const LIMIT: usize = 1 << 20;

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn list(store: &FakeStore, query: &str, limit: usize) -> Result<Vec<String>, S3Error> {
    let params = ListParams::parse(&Query::parse(query).unwrap()).unwrap();
    let mut page = Page::new(&params).unwrap();
    run(fill_page(store, "bkt", &mut page, limit, None))?;
    let mut names: Vec<String> = page
        .items
        .iter()
        .map(|i| match i {
            Item::Object(o) => o.key.clone(),
            Item::Prefix(p) => format!("P:{p}"),
        })
        .collect();
    if let Some(next) = page.next_start() {
        names.push(format!("next:{next}"));
    }
    Ok(names)
}

fn tree() -> FakeStore {
    let store = FakeStore::with(&[
        "bkt/a0",
        "bkt/a/x",
        "bkt/a-b",
        "bkt/a/y/z",
        "bkt/été",
        "bkt/e",
        "bkt/photos/2024/jan.jpg",
        "bkt/photos/index.html",
        "bkt/.staging/part1",
        "bkt/photos/.hidden",
    ]);
    store.add("bkt/empty/deeper/");
    store.add("bkt/photos/2025/");
    store
}

#[test]
fn the_walk_lists_keys_in_utf8_binary_order_not_folder_order() {
    let store = tree();
    assert_eq!(
        list(&store, "list-type=2", LIMIT).unwrap(),
        [
            "a-b",
            "a/x",
            "a/y/z",
            "a0",
            "e",
            "photos/2024/jan.jpg",
            "photos/index.html",
            "été"
        ],
        "dot-prefixed names never appear, empty folders hold no key"
    );
}

#[test]
fn common_prefixes_only_for_folders_holding_a_key() {
    let store = tree();
    assert_eq!(
        list(&store, "list-type=2&delimiter=/", LIMIT).unwrap(),
        ["a-b", "P:a/", "a0", "e", "P:photos/", "été"]
    );
    assert_eq!(
        list(&store, "list-type=2&prefix=photos/&delimiter=/", LIMIT).unwrap(),
        ["P:photos/2024/", "photos/index.html"]
    );
}

#[test]
fn a_prefix_starts_the_walk_in_its_folder() {
    let store = tree();
    store.reads();
    assert_eq!(
        list(&store, "list-type=2&prefix=photos/2", LIMIT).unwrap(),
        ["photos/2024/jan.jpg"]
    );
    assert_eq!(
        store.reads(),
        ["bkt/photos/", "bkt/photos/2024/", "bkt/photos/2025/"]
    );
    // A prefix whose folder does not exist: an empty listing; a bucket that does not: an error.
    assert!(list(&store, "list-type=2&prefix=nope/x", LIMIT)
        .unwrap()
        .is_empty());
    let err = list(&FakeStore::default(), "list-type=2", LIMIT).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchBucket);
    let err = list(&FakeStore::default(), "list-type=2&prefix=a/", LIMIT).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchBucket);
}

#[test]
fn paging_reads_no_folder_before_the_start() {
    let store = tree();
    assert_eq!(
        list(&store, "list-type=2&max-keys=2", LIMIT).unwrap(),
        ["a-b", "a/x", "next:a/x"]
    );
    store.reads();
    assert_eq!(
        list(&store, "list-type=2&max-keys=2&start-after=a0", LIMIT).unwrap(),
        ["e", "photos/2024/jan.jpg", "next:photos/2024/jan.jpg"]
    );
    assert_eq!(
        store.reads(),
        [
            "bkt/",
            "bkt/empty/",
            "bkt/empty/deeper/",
            "bkt/photos/",
            "bkt/photos/2024/",
            "bkt/photos/2025/"
        ],
        "a/ is not read; the page is full once a third key is seen"
    );
}

#[test]
fn the_memory_budget_covers_the_folders_on_the_way_down() {
    let store = tree();
    // photos/ (3 entries) fits, photos/2024/ (1 more) beside it does not.
    let limit = 2 + 3 * ENTRY_BYTES + 2 + ENTRY_BYTES - 1;
    let err = list(&store, "list-type=2&prefix=photos/", limit).unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NotImplemented);
    assert!(
        err.message.contains("limits.max_folder_index"),
        "{}",
        err.message
    );
    assert!(list(&store, "list-type=2&prefix=photos/", limit + 1).is_ok());
    // A folder's index is released once the walk has left it: the bucket (7 entries) plus the
    // deepest path below it (a/ and a/y/, or photos/ and photos/2024/) is enough.
    let limit = 2 + 7 * ENTRY_BYTES + 2 + 3 * ENTRY_BYTES + 2 + ENTRY_BYTES;
    assert!(list(&store, "list-type=2", limit).is_ok());
    assert!(list(&store, "list-type=2", limit - 1).is_err());
}

#[test]
fn recorded_etags_replace_nginxs_and_stale_records_go() {
    use crate::store::etags::record_path;
    let md5 = "5d41402abc4b2a76b9719d911017c592";
    let store = FakeStore::default();
    store.put("bkt/a/hello", b"hello");
    store.put("bkt/a/other", b"12");
    let current = record_path("bkt", "a/hello", md5, 1_700_000_000, 5).unwrap();
    let overwritten = record_path("bkt", "a/hello", md5, 1_600_000_000, 5).unwrap();
    let deleted = record_path("bkt", "a/gone", md5, 1_700_000_000, 5).unwrap();
    for record in [&current, &overwritten, &deleted] {
        store.put(record, b"");
    }
    let params = ListParams::parse(&Query::parse("list-type=2").unwrap()).unwrap();
    let mut page = Page::new(&params).unwrap();
    let cache = crate::store::etags::RecordsCache::default();
    run(fill_page(&store, "bkt", &mut page, LIMIT, Some(&cache))).unwrap();
    let etags: Vec<(String, String)> = page
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Object(o) => Some((o.key.clone(), o.etag.clone())),
            Item::Prefix(_) => None,
        })
        .collect();
    let nginx_etag = format!("\"{:x}-{:x}\"", 1_700_000_000, 2);
    assert_eq!(
        etags,
        vec![
            ("a/hello".to_string(), format!("\"{md5}\"")),
            ("a/other".to_string(), nginx_etag),
        ]
    );
    // The records no listed file matches were deleted; the current one stays.
    assert!(store.has(&current));
    assert!(!store.has(&overwritten) && !store.has(&deleted));
}
