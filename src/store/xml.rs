//! The XML documents of the bucket operations, shaped as the S3 API Reference's example
//! responses (ListObjectsV2, ListObjects, ListBuckets, GetBucketLocation, GetBucketVersioning,
//! GetBucketAcl).

use std::fmt::Write;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::listing::{encode_token, Item, ListParams, Page, Version};

/// S3's namespace.
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The XML declaration every document starts with.
pub const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// `encoding-type=url`: everything but RFC 3986 unreserved characters and `/` is
/// percent-encoded (a space is `%20`, a `+` is `%2B`: botocore decodes with `unquote_plus`).
const URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The owner named in listings (a plain store records none: every object belongs to the
/// proxy's one account).
pub const OWNER_ID: &str = "s3-auth-proxy";

/// Text as an XML element body. Characters XML 1.0 has no literal for (controls but tab, LF,
/// CR) are written as character references, as S3 does; `encoding-type=url` avoids them.
pub fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// `<name>text</name>`, escaped.
pub fn element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<{name}>");
    escape(out, text);
    let _ = write!(out, "</{name}>");
}

/// ISO 8601 with milliseconds, as S3 writes `LastModified` (`2009-10-12T17:50:30.000Z`).
pub fn timestamp(seconds: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let text = t.format(&Rfc3339).unwrap_or_default();
    // Rfc3339 writes whole seconds as `…:30Z`.
    format!("{}.000Z", text.trim_end_matches('Z'))
}

/// `<Owner>`: the proxy's one account.
pub fn owner(out: &mut String) {
    out.push_str("<Owner>");
    element(out, "ID", OWNER_ID);
    element(out, "DisplayName", OWNER_ID);
    out.push_str("</Owner>");
}

/// `text` as a listing writes it: URL-encoded for `encoding-type=url`.
pub fn encode_if(url_encoding: bool, text: &str) -> String {
    if url_encoding {
        utf8_percent_encode(text, URL_KEEP).to_string()
    } else {
        text.to_string()
    }
}

/// ListObjects (V1) or ListObjectsV2's `ListBucketResult`, or ListObjectVersions'
/// `ListVersionsResult` (every key once, version `null`, the latest).
pub fn list_bucket_result(bucket: &str, params: &ListParams, page: &Page) -> String {
    let enc = |text: &str| encode_if(params.url_encoding, text);
    let versions = params.version == Version::Versions;
    let root = if versions {
        "ListVersionsResult"
    } else {
        "ListBucketResult"
    };
    let mut x = String::with_capacity(256 + page.items.len() * 320);
    let _ = write!(x, "{HEAD}<{root} xmlns=\"{S3_NS}\">");
    element(&mut x, "Name", bucket);
    element(&mut x, "Prefix", &enc(&params.prefix));
    let next = page.next_start().map(str::to_string);
    match params.version {
        Version::Versions => {
            element(
                &mut x,
                "KeyMarker",
                &enc(params.marker.as_deref().unwrap_or("")),
            );
            x.push_str("<VersionIdMarker></VersionIdMarker>");
            if let Some(next) = &next {
                element(&mut x, "NextKeyMarker", &enc(next));
                x.push_str("<NextVersionIdMarker>null</NextVersionIdMarker>");
            }
        }
        Version::V1 => {
            element(
                &mut x,
                "Marker",
                &enc(params.marker.as_deref().unwrap_or("")),
            );
            if let Some(next) = &next {
                element(&mut x, "NextMarker", &enc(next));
            }
        }
        Version::V2 => {
            let _ = write!(x, "<KeyCount>{}</KeyCount>", page.items.len());
            if let Some(token) = &params.continuation_token {
                element(&mut x, "ContinuationToken", token);
            }
            if let Some(next) = &next {
                element(&mut x, "NextContinuationToken", &encode_token(next));
            }
            if let Some(start_after) = &params.start_after {
                element(&mut x, "StartAfter", &enc(start_after));
            }
        }
    }
    let _ = write!(x, "<MaxKeys>{}</MaxKeys>", params.max_keys);
    if let Some(d) = &params.delimiter {
        element(&mut x, "Delimiter", &enc(d));
    }
    if params.url_encoding {
        x.push_str("<EncodingType>url</EncodingType>");
    }
    let _ = write!(x, "<IsTruncated>{}</IsTruncated>", page.truncated);
    let (item, with_owner) = if versions {
        ("Version", true)
    } else {
        ("Contents", params.fetch_owner)
    };
    for o in page.items.iter().filter_map(|i| match i {
        Item::Object(o) => Some(o),
        Item::Prefix(_) => None,
    }) {
        let _ = write!(x, "<{item}>");
        element(&mut x, "Key", &enc(&o.key));
        if versions {
            x.push_str("<VersionId>null</VersionId><IsLatest>true</IsLatest>");
        }
        element(&mut x, "LastModified", &timestamp(o.mtime));
        element(&mut x, "ETag", &o.etag);
        let _ = write!(x, "<Size>{}</Size>", o.size);
        if with_owner {
            owner(&mut x);
        }
        let _ = write!(x, "<StorageClass>STANDARD</StorageClass></{item}>");
    }
    for item in &page.items {
        if let Item::Prefix(p) = item {
            x.push_str("<CommonPrefixes>");
            element(&mut x, "Prefix", &enc(p));
            x.push_str("</CommonPrefixes>");
        }
    }
    let _ = write!(x, "</{root}>");
    x
}

/// ListBuckets' `ListAllMyBucketsResult`: (name, creation time in seconds).
pub fn list_buckets_result(buckets: &[(String, i64)]) -> String {
    let mut x = format!("{HEAD}<ListAllMyBucketsResult xmlns=\"{S3_NS}\">");
    owner(&mut x);
    x.push_str("<Buckets>");
    for (name, created) in buckets {
        x.push_str("<Bucket>");
        element(&mut x, "Name", name);
        element(&mut x, "CreationDate", &timestamp(*created));
        x.push_str("</Bucket>");
    }
    x.push_str("</Buckets></ListAllMyBucketsResult>");
    x
}

/// GetBucketLocation: empty for us-east-1, as S3 answers.
pub fn location(region: &str) -> String {
    let region = if region == "us-east-1" { "" } else { region };
    let mut x = format!("{HEAD}<LocationConstraint xmlns=\"{S3_NS}\">");
    escape(&mut x, region);
    x.push_str("</LocationConstraint>");
    x
}

/// An empty configuration document (`<VersioningConfiguration xmlns="…"/>`): what S3 answers
/// for a bucket that never had versioning, logging, acceleration or notifications set.
pub fn empty_configuration(root: &str) -> String {
    format!("{HEAD}<{root} xmlns=\"{S3_NS}\"/>")
}

/// GetBucketRequestPayment of a plain bucket.
pub fn request_payment() -> String {
    format!(
        "{HEAD}<RequestPaymentConfiguration xmlns=\"{S3_NS}\"><Payer>BucketOwner</Payer>\
         </RequestPaymentConfiguration>"
    )
}

/// GetBucketAcl of a plain bucket: its owner has full control.
pub fn acl() -> String {
    let mut x = format!("{HEAD}<AccessControlPolicy xmlns=\"{S3_NS}\">");
    owner(&mut x);
    x.push_str(
        "<AccessControlList><Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:type=\"CanonicalUser\">",
    );
    element(&mut x, "ID", OWNER_ID);
    element(&mut x, "DisplayName", OWNER_ID);
    x.push_str("</Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>");
    x
}

#[cfg(test)]
mod tests;
