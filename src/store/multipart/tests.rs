use std::time::Duration;

use bytes::Bytes;

use super::complete::{parse_complete, plan_completion, RequestedPart};
use super::run::{run, MultipartContext};
use super::uploads::{uploads_page, ListedUpload};
use super::*;
use crate::error::S3ErrorCode;
use crate::request::Target;
use crate::store::bucket::StoreAnswer;
use crate::store::fake::FakeStore;

fn target(path: &str, query: &str) -> Target {
    Target::resolve(path, query, "h", &[]).unwrap()
}

fn op(method: &str, path: &str, query: &str) -> Result<Option<MultipartOp>, S3Error> {
    MultipartOp::of(&method.parse().unwrap(), &target(path, query))
}

const ID: &str = "AAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn each_multipart_request_is_recognised() {
    let id = UploadId::parse(ID).unwrap();
    assert_eq!(
        op("POST", "/bkt/k", "uploads").unwrap(),
        Some(MultipartOp::Create)
    );
    assert_eq!(
        op("PUT", "/bkt/k", &format!("partNumber=7&uploadId={ID}")).unwrap(),
        Some(MultipartOp::UploadPart {
            upload_id: id.clone(),
            part_number: 7
        })
    );
    assert_eq!(
        op(
            "GET",
            "/bkt/k",
            &format!("uploadId={ID}&max-parts=2&part-number-marker=3")
        )
        .unwrap(),
        Some(MultipartOp::ListParts {
            upload_id: id.clone(),
            max_parts: 2,
            marker: 3
        })
    );
    assert_eq!(
        op("POST", "/bkt/k", &format!("uploadId={ID}")).unwrap(),
        Some(MultipartOp::Complete {
            upload_id: id.clone()
        })
    );
    assert_eq!(
        op("DELETE", "/bkt/k", &format!("uploadId={ID}")).unwrap(),
        Some(MultipartOp::Abort { upload_id: id })
    );
    let Some(MultipartOp::ListUploads(params)) =
        op("GET", "/bkt", "uploads&prefix=a%2F&max-uploads=5000").unwrap()
    else {
        panic!("not a listing");
    };
    assert_eq!((params.prefix.as_str(), params.max_uploads), ("a/", 1000));
    // Not multipart: a plain GET, a GET of one part of an object, an object listing.
    assert_eq!(op("GET", "/bkt/k", "").unwrap(), None);
    assert_eq!(op("GET", "/bkt/k", "partNumber=1").unwrap(), None);
    assert_eq!(op("GET", "/bkt", "").unwrap(), None);
    assert_eq!(op("GET", "/bkt/k", "uploads").unwrap(), None);
}

#[test]
fn part_numbers_and_ids_outside_s3s_ranges_are_refused() {
    for bad in ["0", "10001", "-1", "1.0", "", "99999999999", "+1"] {
        let err = op("PUT", "/bkt/k", &format!("partNumber={bad}&uploadId={ID}")).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{bad}");
    }
    assert!(op("PUT", "/bkt/k", &format!("partNumber=10000&uploadId={ID}")).is_ok());
    // An id that is not 22 base64url characters names no upload, and never becomes a path.
    for bad in [
        "",
        "short",
        "AAAAAAAAAAAAAAAAAAAAA/",
        "..%2F..%2Fbkt%2Fkey%2F%2F%2F%2F%2F%2F",
        "AAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let err = op("POST", "/bkt/k", &format!("uploadId={bad}")).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::NoSuchUpload, "{bad}");
    }
}

#[test]
fn upload_ids_are_random_and_read_back() {
    let a = UploadId::generate().unwrap();
    let b = UploadId::generate().unwrap();
    assert_ne!(a, b);
    assert_eq!(a.as_str().len(), 22);
    assert_eq!(UploadId::parse(a.as_str()).unwrap(), a);
}

#[test]
fn part_file_names_record_number_and_md5() {
    let md5 = "a54357aff0632cce46d942af68356b38";
    let name = part_name(12, md5, "00ff");
    assert_eq!(name, format!("00012-{md5}-00ff"));
    let part = parse_part_name(&name, 5, 9).unwrap();
    assert_eq!((part.number, part.md5.as_str(), part.size), (12, md5, 5));
    for other in [
        "upload.json".to_string(),
        incoming_name(1, "00ff"),
        format!("00000-{md5}-1"),
        format!("10001-{md5}-1"),
        format!("0001-{md5}-1"),
        "00001-xyz-1".to_string(),
        format!("00001-{md5}-"),
    ] {
        assert_eq!(parse_part_name(&other, 1, 1), None, "{other}");
    }
}

#[test]
fn a_part_uploaded_again_is_its_newest_file() {
    let old = parse_part_name(&part_name(1, &"1".repeat(32), "aa"), 5, 100).unwrap();
    let new = parse_part_name(&part_name(1, &"2".repeat(32), "bb"), 6, 200).unwrap();
    let two = parse_part_name(&part_name(2, &"3".repeat(32), "cc"), 7, 50).unwrap();
    let current = current_parts(vec![two.clone(), old, new.clone()]);
    assert_eq!(current, vec![new, two]);
}

/// The request example of the S3 API Reference's CompleteMultipartUpload page.
const DOC_EXAMPLE: &str = r#"<CompleteMultipartUpload>
  <Part>
    <PartNumber>1</PartNumber>
    <ETag>"a54357aff0632cce46d942af68356b38"</ETag>
  </Part>
  <Part>
    <PartNumber>2</PartNumber>
    <ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <ETag>"acbd18db4cc2f85cedef654fccc4a4d8"</ETag>
  </Part>
</CompleteMultipartUpload>"#;

fn staged(number: u32, md5: &str, size: u64) -> StagedPart {
    parse_part_name(&part_name(number, md5, "ab"), size, 1).unwrap()
}

#[test]
fn the_documentation_example_completes_with_the_multipart_etag() {
    let parts = parse_complete(DOC_EXAMPLE.as_bytes()).unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(
        parts[0],
        RequestedPart {
            number: 1,
            etag: "a54357aff0632cce46d942af68356b38".into()
        }
    );
    let big = MIN_PART_SIZE;
    let staged = vec![
        staged(1, "a54357aff0632cce46d942af68356b38", big),
        staged(2, "0c78aef83f66abc1fa1e8477f296d394", big),
        staged(3, "acbd18db4cc2f85cedef654fccc4a4d8", 1),
    ];
    let completion = plan_completion(&parts, &staged).unwrap();
    // MD5 of the three binary MD5s, computed with Python's hashlib.
    assert_eq!(completion.etag, "\"98d476a1d168aa4c4592ce06cab9880f-3\"");
    assert_eq!(completion.length, 2 * big + 1);
}

#[test]
fn s3s_rules_for_the_list_of_parts() {
    let md5 = |c: char| c.to_string().repeat(32);
    let big = MIN_PART_SIZE;
    let staged = vec![
        staged(1, &md5('1'), big),
        staged(2, &md5('2'), big - 1),
        staged(3, &md5('3'), 1),
    ];
    let req = |list: &[(u32, char)]| -> Vec<RequestedPart> {
        list.iter()
            .map(|(n, c)| RequestedPart {
                number: *n,
                etag: md5(*c),
            })
            .collect()
    };
    let code = |list: &[(u32, char)]| plan_completion(&req(list), &staged).unwrap_err().code;
    assert_eq!(code(&[(3, '3'), (1, '1')]), S3ErrorCode::InvalidPartOrder);
    assert_eq!(code(&[(1, '1'), (1, '1')]), S3ErrorCode::InvalidPartOrder);
    assert_eq!(code(&[(1, '1'), (4, '3')]), S3ErrorCode::InvalidPart);
    assert_eq!(code(&[(1, '2')]), S3ErrorCode::InvalidPart);
    assert_eq!(code(&[(2, '2'), (3, '3')]), S3ErrorCode::EntityTooSmall);
    // Parts may be skipped; the last may be small.
    let ok = plan_completion(&req(&[(1, '1'), (3, '3')]), &staged).unwrap();
    assert_eq!(ok.length, big + 1);
    assert_eq!(ok.parts.len(), 2);
}

#[test]
fn a_complete_document_is_read_strictly() {
    let bad = [
        "",
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag><Size>1</Size></Part></CompleteMultipartUpload>",
        "<!DOCTYPE x [<!ENTITY e \"1\">]><CompleteMultipartUpload><Part><PartNumber>&e;</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>",
        "<Other/>",
    ];
    for body in bad {
        let err = parse_complete(body.as_bytes()).unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedXML, "{body}");
    }
    // A namespace, checksums, escaped quotes (as the AWS CLI writes them) are fine.
    let good = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Part>\
        <ETag>&quot;ABCDEF&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32><PartNumber>2</PartNumber>\
        </Part></CompleteMultipartUpload>";
    let parts = parse_complete(good.as_bytes()).unwrap();
    assert_eq!(
        parts,
        vec![RequestedPart {
            number: 2,
            etag: "abcdef".into()
        }]
    );
}

fn listed(key: &str, id: &str, initiated: i64) -> ListedUpload {
    ListedUpload {
        id: UploadId::parse(id).unwrap(),
        record: UploadRecord {
            bucket: "b".into(),
            key: key.into(),
            initiator: "AK".into(),
            initiated,
        },
    }
}

#[test]
fn a_page_of_uploads_in_s3s_order() {
    let a1 = "A".repeat(22);
    let a2 = "B".repeat(22);
    let all = vec![
        listed("photos/2.jpg", &a1, 5),
        listed("a", &a2, 9),
        listed("a", &a1, 3),
        listed("photos/1.jpg", &a2, 1),
        listed("zeta/x", &a1, 1),
    ];
    let params = |f: &dyn Fn(&mut ListUploadsParams)| {
        let mut p = ListUploadsParams {
            max_uploads: 1000,
            ..Default::default()
        };
        f(&mut p);
        p
    };
    let page = uploads_page(all.clone(), &params(&|_| {}));
    let keys: Vec<(&str, i64)> = page
        .uploads
        .iter()
        .map(|u| (u.record.key.as_str(), u.record.initiated))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("a", 3),
            ("a", 9),
            ("photos/1.jpg", 1),
            ("photos/2.jpg", 5),
            ("zeta/x", 1)
        ]
    );
    let page = uploads_page(all.clone(), &params(&|p| p.delimiter = "/".into()));
    assert_eq!(page.uploads.len(), 2);
    assert_eq!(page.common_prefixes, vec!["photos/", "zeta/"]);
    let page = uploads_page(all.clone(), &params(&|p| p.prefix = "photos/".into()));
    assert_eq!(page.uploads.len(), 2);
    let page = uploads_page(all.clone(), &params(&|p| p.max_uploads = 2));
    assert!(page.truncated);
    assert_eq!(page.next, Some(("a".to_string(), a2.clone())));
    let page = uploads_page(
        all.clone(),
        &params(&|p| {
            p.key_marker = "a".into();
            p.upload_id_marker = a1.clone();
        }),
    );
    assert_eq!(page.uploads[0].id.as_str(), a2);
    let page = uploads_page(all, &params(&|p| p.key_marker = "a".into()));
    assert_eq!(page.uploads[0].record.key, "photos/1.jpg");
}

fn context<'a>(key: &'a str, now: i64, body: &str) -> MultipartContext<'a> {
    MultipartContext {
        bucket: "bkt",
        key,
        access_key: "AK",
        now,
        expiry: Duration::from_secs(3600),
        max_folder_index: 1 << 20,
        body: Bytes::from(body.to_string()),
        records: &CACHE,
    }
}

static CACHE: std::sync::LazyLock<crate::store::etags::RecordsCache> =
    std::sync::LazyLock::new(Default::default);

async fn create(store: &FakeStore, key: &str) -> UploadId {
    let answer = run(
        &MultipartOp::Create,
        store,
        &context(key, 1_700_000_000, ""),
    )
    .await
    .unwrap();
    let xml = answer.xml.unwrap();
    let id = xml
        .split("<UploadId>")
        .nth(1)
        .and_then(|r| r.split("</UploadId>").next())
        .unwrap();
    UploadId::parse(id).unwrap()
}

fn stage(store: &FakeStore, id: &UploadId, number: u32, contents: &[u8]) -> String {
    let md5 = hex::encode(<md5::Md5 as md5::Digest>::digest(contents));
    let path = format!(
        "{}{}",
        upload_folder("bkt", id),
        part_name(number, &md5, "01")
    );
    store.put(&path, contents);
    md5
}

fn complete_body(parts: &[(u32, &str)]) -> String {
    let mut body = String::from("<CompleteMultipartUpload>");
    for (n, md5) in parts {
        body.push_str(&format!(
            "<Part><PartNumber>{n}</PartNumber><ETag>\"{md5}\"</ETag></Part>"
        ));
    }
    body + "</CompleteMultipartUpload>"
}

#[tokio::test]
async fn an_upload_from_create_to_complete_on_the_fake_store() {
    let store = FakeStore::with(&["bkt/"]);
    let id = create(&store, "big").await;
    let record = store
        .read(&format!("{}upload.json", upload_folder("bkt", &id)))
        .unwrap();
    assert!(UploadRecord::from_json(&record)
        .unwrap()
        .binds("bkt", "big"));
    let first = vec![b'x'; MIN_PART_SIZE as usize];
    let m1 = stage(&store, &id, 1, &first);
    let m2 = stage(&store, &id, 2, b"tail");
    let listing = run(
        &MultipartOp::ListParts {
            upload_id: id.clone(),
            max_parts: 1,
            marker: 0,
        },
        &store,
        &context("big", 0, ""),
    )
    .await
    .unwrap()
    .xml
    .unwrap();
    assert!(
        listing.contains("<IsTruncated>true</IsTruncated>"),
        "{listing}"
    );
    assert!(
        listing.contains(&format!("<ETag>&quot;{m1}&quot;</ETag>")),
        "{listing}"
    );
    let body = complete_body(&[(1, &m1), (2, &m2)]);
    let op = MultipartOp::Complete {
        upload_id: id.clone(),
    };
    // Another key's Complete with this id: no such upload, nothing written.
    let err = run(&op, &store, &context("other", 0, &body))
        .await
        .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchUpload);
    assert!(store.read("bkt/other").is_none());
    let answer = run(&op, &store, &context("big", 0, &body)).await.unwrap();
    // The ETag of 5 MiB of 'x' then "tail", computed with Python's hashlib.
    assert!(answer
        .xml
        .unwrap()
        .contains("<ETag>&quot;a45f1422f2dbe3d2890829dd76adba1b-2&quot;</ETag>"),);
    let object = store.read("bkt/big").unwrap();
    assert_eq!(object.len(), first.len() + 4);
    assert!(object.ends_with(b"tail"));
    assert!(!store
        .paths
        .lock()
        .unwrap()
        .iter()
        .any(|p| p.starts_with(&upload_folder("bkt", &id))));
    let again = run(&op, &store, &context("big", 0, &body))
        .await
        .unwrap_err();
    assert_eq!(again.code, S3ErrorCode::NoSuchUpload);
}

#[tokio::test]
async fn abort_removes_the_parts_and_other_keys_cannot() {
    let store = FakeStore::with(&["bkt/"]);
    let id = create(&store, "k").await;
    stage(&store, &id, 1, b"abc");
    let abort = MultipartOp::Abort {
        upload_id: id.clone(),
    };
    let err = run(&abort, &store, &context("k2", 0, ""))
        .await
        .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchUpload);
    assert!(store
        .read(&format!("{}upload.json", upload_folder("bkt", &id)))
        .is_some());
    let answer = run(&abort, &store, &context("k", 0, "")).await.unwrap();
    assert_eq!(answer, StoreAnswer::empty(204));
    assert!(store
        .read(&format!("{}upload.json", upload_folder("bkt", &id)))
        .is_none());
}

#[tokio::test]
async fn a_missing_bucket_has_no_uploads() {
    let store = FakeStore::with(&["bkt/"]);
    let err = run(
        &MultipartOp::Create,
        &store,
        &MultipartContext {
            bucket: "nope",
            ..context("k", 0, "")
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, S3ErrorCode::NoSuchBucket);
}

#[tokio::test]
async fn listing_uploads_sweeps_the_abandoned_ones() {
    let store = FakeStore::with(&["bkt/"]);
    let fresh = create(&store, "fresh").await;
    let old = create(&store, "old").await;
    let now = 1_700_000_000 + 10_000;
    store
        .mtimes
        .lock()
        .unwrap()
        .insert(upload_folder("bkt", &fresh), now - 60);
    let params = ListUploadsParams {
        max_uploads: 1000,
        ..Default::default()
    };
    let xml = run(
        &MultipartOp::ListUploads(params),
        &store,
        &context("", now, ""),
    )
    .await
    .unwrap()
    .xml
    .unwrap();
    assert!(xml.contains("<Key>fresh</Key>"), "{xml}");
    assert!(!xml.contains("<Key>old</Key>"), "{xml}");
    assert!(store
        .read(&format!("{}upload.json", upload_folder("bkt", &old)))
        .is_none());
    assert!(store
        .read(&format!("{}upload.json", upload_folder("bkt", &fresh)))
        .is_some());
}
