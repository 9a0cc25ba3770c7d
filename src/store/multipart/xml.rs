//! The documents of the multipart answers, shaped as the S3 API Reference's examples
//! (CreateMultipartUpload, CompleteMultipartUpload, ListParts, ListMultipartUploads).

use super::uploads::UploadsPage;
use super::{ListUploadsParams, StagedPart, UploadId, UploadRecord};
use crate::store::xml::{element, encode_if, escape, owner, timestamp, HEAD, S3_NS};

/// CreateMultipartUpload's `InitiateMultipartUploadResult`.
pub fn initiate_result(bucket: &str, key: &str, id: &UploadId) -> String {
    let mut x = format!("{HEAD}<InitiateMultipartUploadResult xmlns=\"{S3_NS}\">");
    element(&mut x, "Bucket", bucket);
    element(&mut x, "Key", key);
    element(&mut x, "UploadId", id.as_str());
    x.push_str("</InitiateMultipartUploadResult>");
    x
}

/// CompleteMultipartUpload's `CompleteMultipartUploadResult`; `location` is the object's
/// path on the proxy.
pub fn complete_result(location: &str, bucket: &str, key: &str, etag: &str) -> String {
    let mut x = format!("{HEAD}<CompleteMultipartUploadResult xmlns=\"{S3_NS}\">");
    element(&mut x, "Location", location);
    element(&mut x, "Bucket", bucket);
    element(&mut x, "Key", key);
    element(&mut x, "ETag", etag);
    x.push_str("</CompleteMultipartUploadResult>");
    x
}

fn initiator(x: &mut String, access_key: &str) {
    x.push_str("<Initiator>");
    element(x, "ID", access_key);
    element(x, "DisplayName", access_key);
    x.push_str("</Initiator>");
}

/// ListParts' `ListPartsResult`: `parts` are the page's parts, `marker` the request's
/// `part-number-marker`, `truncated` whether more follow.
pub fn list_parts_result(
    record: &UploadRecord,
    id: &UploadId,
    parts: &[StagedPart],
    marker: u32,
    max_parts: usize,
    truncated: bool,
) -> String {
    let mut x = format!("{HEAD}<ListPartsResult xmlns=\"{S3_NS}\">");
    element(&mut x, "Bucket", &record.bucket);
    element(&mut x, "Key", &record.key);
    element(&mut x, "UploadId", id.as_str());
    initiator(&mut x, &record.initiator);
    owner(&mut x);
    element(&mut x, "StorageClass", "STANDARD");
    element(&mut x, "PartNumberMarker", &marker.to_string());
    let next = parts.last().map_or(marker, |p| p.number);
    element(&mut x, "NextPartNumberMarker", &next.to_string());
    element(&mut x, "MaxParts", &max_parts.to_string());
    element(
        &mut x,
        "IsTruncated",
        if truncated { "true" } else { "false" },
    );
    for part in parts {
        x.push_str("<Part>");
        element(&mut x, "PartNumber", &part.number.to_string());
        element(&mut x, "LastModified", &timestamp(part.mtime));
        element(&mut x, "ETag", &format!("\"{}\"", part.md5));
        element(&mut x, "Size", &part.size.to_string());
        x.push_str("</Part>");
    }
    x.push_str("</ListPartsResult>");
    x
}

/// ListMultipartUploads' `ListMultipartUploadsResult`.
pub fn list_uploads_result(bucket: &str, params: &ListUploadsParams, page: &UploadsPage) -> String {
    let enc = |text: &str| encode_if(params.url_encoding, text);
    let mut x = format!("{HEAD}<ListMultipartUploadsResult xmlns=\"{S3_NS}\">");
    element(&mut x, "Bucket", bucket);
    element(&mut x, "KeyMarker", &enc(&params.key_marker));
    element(&mut x, "UploadIdMarker", &params.upload_id_marker);
    if let Some((key, id)) = &page.next {
        element(&mut x, "NextKeyMarker", &enc(key));
        element(&mut x, "NextUploadIdMarker", id);
    }
    if !params.delimiter.is_empty() {
        element(&mut x, "Delimiter", &enc(&params.delimiter));
    }
    element(&mut x, "Prefix", &enc(&params.prefix));
    if params.url_encoding {
        element(&mut x, "EncodingType", "url");
    }
    element(&mut x, "MaxUploads", &params.max_uploads.to_string());
    let truncated = if page.truncated { "true" } else { "false" };
    element(&mut x, "IsTruncated", truncated);
    for upload in &page.uploads {
        x.push_str("<Upload>");
        element(&mut x, "Key", &enc(&upload.record.key));
        element(&mut x, "UploadId", upload.id.as_str());
        initiator(&mut x, &upload.record.initiator);
        owner(&mut x);
        element(&mut x, "StorageClass", "STANDARD");
        element(&mut x, "Initiated", &timestamp(upload.record.initiated));
        x.push_str("</Upload>");
    }
    for prefix in &page.common_prefixes {
        x.push_str("<CommonPrefixes><Prefix>");
        escape(&mut x, &enc(prefix));
        x.push_str("</Prefix></CommonPrefixes>");
    }
    x.push_str("</ListMultipartUploadsResult>");
    x
}
