use super::*;
use crate::request::Query;
use crate::store::listing::{ObjectItem, Offer};

fn listed(query: &str, keys: &[&str]) -> (ListParams, Page) {
    let params = ListParams::parse(&Query::parse(query).unwrap()).unwrap();
    let mut page = Page::new(&params).unwrap();
    for key in keys {
        let object = ObjectItem {
            key: key.to_string(),
            size: 434234,
            mtime: 1255369830,
            etag: "\"4aa5a8b4-6a03a\"".into(),
        };
        if page.offer_object(object) == Offer::Full {
            break;
        }
    }
    (params, page)
}

#[test]
fn list_objects_v2_has_the_shape_of_the_s3_reference_example() {
    let (params, page) = listed("list-type=2", &["my-image.jpg", "my-third-image.jpg"]);
    let xml = list_bucket_result("bucket", &params, &page);
    assert_eq!(
        xml,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
         <Name>bucket</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>\
         <IsTruncated>false</IsTruncated>\
         <Contents><Key>my-image.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
         <ETag>&quot;4aa5a8b4-6a03a&quot;</ETag><Size>434234</Size>\
         <StorageClass>STANDARD</StorageClass></Contents>\
         <Contents><Key>my-third-image.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>\
         <ETag>&quot;4aa5a8b4-6a03a&quot;</ETag><Size>434234</Size>\
         <StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"
    );
}

#[test]
fn a_truncated_v2_page_carries_its_token_and_prefixes() {
    let (params, page) = listed(
        "list-type=2&delimiter=/&max-keys=1&fetch-owner=true",
        &["a/1", "b"],
    );
    let xml = list_bucket_result("bkt", &params, &page);
    assert!(xml.contains("<KeyCount>1</KeyCount>"), "{xml}");
    assert!(xml.contains("<Delimiter>/</Delimiter>"), "{xml}");
    assert!(xml.contains("<IsTruncated>true</IsTruncated>"), "{xml}");
    let token = encode_token("a/");
    assert!(xml.contains(&format!(
        "<NextContinuationToken>{token}</NextContinuationToken>"
    )));
    assert!(
        xml.contains("<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>"),
        "{xml}"
    );
}

#[test]
fn v1_names_owner_and_markers() {
    let (params, page) = listed("marker=a&max-keys=1", &["a", "b", "c"]);
    let xml = list_bucket_result("bkt", &params, &page);
    assert!(
        xml.contains("<Marker>a</Marker><NextMarker>b</NextMarker>"),
        "{xml}"
    );
    assert!(xml.contains("<Owner><ID>s3-auth-proxy</ID>"), "{xml}");
    assert!(!xml.contains("KeyCount"), "{xml}");
}

#[test]
fn url_encoding_and_escaping() {
    let (params, page) = listed(
        "list-type=2&encoding-type=url&prefix=a%20",
        &["a b+c/été\u{1}"],
    );
    let xml = list_bucket_result("bkt", &params, &page);
    assert!(xml.contains("<Prefix>a%20</Prefix>"), "{xml}");
    assert!(
        xml.contains("<Key>a%20b%2Bc/%C3%A9t%C3%A9%01</Key>"),
        "{xml}"
    );
    assert!(xml.contains("<EncodingType>url</EncodingType>"), "{xml}");
    let (params, page) = listed("list-type=2", &["a&b<\u{1}"]);
    let xml = list_bucket_result("bkt", &params, &page);
    assert!(xml.contains("<Key>a&amp;b&lt;&#x1;</Key>"), "{xml}");
}

#[test]
fn bucket_documents() {
    assert_eq!(
        location("us-east-1"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"></LocationConstraint>"
    );
    assert!(location("eu-west-1").contains(">eu-west-1<"));
    assert!(empty_configuration("VersioningConfiguration")
        .ends_with("<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>"));
    let buckets = list_buckets_result(&[("bkt".into(), 0)]);
    assert!(buckets.contains(
        "<Buckets><Bucket><Name>bkt</Name><CreationDate>1970-01-01T00:00:00.000Z</CreationDate></Bucket></Buckets>"
    ), "{buckets}");
}
