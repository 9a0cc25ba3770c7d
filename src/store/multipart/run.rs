//! The multipart operations against a [`Store`] (UploadPart itself is proxied: see
//! `proxy::multipart_part`, which uses [`load_upload`] and the names of `super`).

use std::time::Duration;

use bytes::Bytes;

use super::complete::{parse_complete, plan_completion};
use super::uploads::{uploads_page, ListedUpload};
use super::xml;
use super::{
    current_parts, no_such_upload, parse_part_name, upload_folder, uploads_folder,
    ListUploadsParams, MultipartOp, StagedPart, UploadId, UploadRecord, RECORD_NAME,
};
use crate::error::{S3Error, S3ErrorCode};
use crate::store::bucket::StoreAnswer;
use crate::store::etags::record_path;
use crate::store::walk::no_such_bucket;
use crate::store::{folder_too_large, EntryKind, Fetched, Store};

/// The most bytes of an `upload.json` read.
const MAX_RECORD: usize = 8 * 1024;

/// The most uploads of one bucket ListMultipartUploads reads the records of.
pub const MAX_LISTED_UPLOADS: usize = 10_000;

/// What a multipart operation needs besides the store.
pub struct MultipartContext<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The key (empty for ListMultipartUploads).
    pub key: &'a str,
    /// Who signed the request.
    pub access_key: &'a str,
    /// Now, in seconds since the Unix epoch.
    pub now: i64,
    /// Uploads whose folder has not changed for this long are deleted.
    pub expiry: Duration,
    /// `limits.max_folder_index`: the most bytes of a folder index read.
    pub max_folder_index: usize,
    /// The verified request body (CompleteMultipartUpload's list of parts).
    pub body: Bytes,
    /// Recently read ETag records, to forget a folder's when Complete records one there.
    pub records: &'a crate::store::etags::RecordsCache,
}

/// Run a multipart operation (any but UploadPart) against the store.
pub async fn run(
    op: &MultipartOp,
    store: &dyn Store,
    cx: &MultipartContext<'_>,
) -> Result<StoreAnswer, S3Error> {
    match op {
        MultipartOp::Create => create(store, cx).await,
        MultipartOp::ListParts {
            upload_id,
            max_parts,
            marker,
        } => {
            let record = load_upload(store, cx.bucket, cx.key, upload_id).await?;
            let parts = current_parts(staged_parts(store, cx, upload_id).await?);
            let mut after: Vec<StagedPart> =
                parts.into_iter().filter(|p| p.number > *marker).collect();
            let truncated = after.len() > *max_parts;
            after.truncate(*max_parts);
            Ok(StoreAnswer::xml(xml::list_parts_result(
                &record, upload_id, &after, *marker, *max_parts, truncated,
            )))
        }
        MultipartOp::Complete { upload_id } => complete(store, cx, upload_id).await,
        MultipartOp::Abort { upload_id } => {
            load_upload(store, cx.bucket, cx.key, upload_id).await?;
            store
                .delete_folder(&upload_folder(cx.bucket, upload_id))
                .await?;
            Ok(StoreAnswer::empty(204))
        }
        MultipartOp::ListUploads(params) => list_uploads(store, cx, params).await,
        MultipartOp::UploadPart { .. } => Err(S3Error::internal()),
    }
}

/// The record of an upload, if the id names one of this bucket and key (else `NoSuchUpload`).
pub async fn load_upload(
    store: &dyn Store,
    bucket: &str,
    key: &str,
    id: &UploadId,
) -> Result<UploadRecord, S3Error> {
    let path = format!("{}{RECORD_NAME}", upload_folder(bucket, id));
    let bytes = store
        .read_file(&path, MAX_RECORD)
        .await?
        .ok_or_else(no_such_upload)?;
    let record = UploadRecord::from_json(&bytes)?;
    if record.binds(bucket, key) {
        Ok(record)
    } else {
        Err(no_such_upload())
    }
}

async fn create(store: &dyn Store, cx: &MultipartContext<'_>) -> Result<StoreAnswer, S3Error> {
    if !store.folder_exists(&format!("{}/", cx.bucket)).await? {
        return Err(no_such_bucket());
    }
    if let Fetched::Index(index, _) = store
        .index(&uploads_folder(cx.bucket), cx.max_folder_index)
        .await?
    {
        let folders = index
            .entries
            .into_iter()
            .filter(|e| e.kind == EntryKind::Folder);
        for entry in folders {
            sweep_if_expired(store, cx, &entry.name, entry.mtime).await;
        }
    }
    let id = UploadId::generate()?;
    let record = UploadRecord {
        bucket: cx.bucket.to_string(),
        key: cx.key.to_string(),
        initiator: cx.access_key.to_string(),
        initiated: cx.now,
    };
    let path = format!("{}{RECORD_NAME}", upload_folder(cx.bucket, &id));
    store
        .write_file(&path, Bytes::from(record.to_json()))
        .await?;
    Ok(StoreAnswer::xml(xml::initiate_result(
        cx.bucket, cx.key, &id,
    )))
}

/// Delete an upload folder that has not changed for the configured time; `true` if it was.
/// A failure is logged, never the caller's.
async fn sweep_if_expired(
    store: &dyn Store,
    cx: &MultipartContext<'_>,
    name: &str,
    mtime: i64,
) -> bool {
    let expired = cx.now.saturating_sub(mtime) > cx.expiry.as_secs() as i64;
    if !expired {
        return false;
    }
    let folder = format!("{}{name}/", uploads_folder(cx.bucket));
    if let Err(err) = store.delete_folder(&folder).await {
        tracing::warn!(
            folder,
            "could not delete an expired multipart upload: {err}"
        );
    }
    true
}

/// Every part file of an upload (several of one number when it was uploaded again).
async fn staged_parts(
    store: &dyn Store,
    cx: &MultipartContext<'_>,
    id: &UploadId,
) -> Result<Vec<StagedPart>, S3Error> {
    let folder = upload_folder(cx.bucket, id);
    match store.index(&folder, cx.max_folder_index).await? {
        Fetched::Index(index, _) => Ok(index
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .filter_map(|e| parse_part_name(&e.name, e.size, e.mtime))
            .collect()),
        Fetched::Missing => Err(no_such_upload()),
        Fetched::TooLarge => Err(folder_too_large(&folder, cx.max_folder_index)),
    }
}

async fn complete(
    store: &dyn Store,
    cx: &MultipartContext<'_>,
    id: &UploadId,
) -> Result<StoreAnswer, S3Error> {
    let requested = parse_complete(&cx.body)?;
    load_upload(store, cx.bucket, cx.key, id).await?;
    let staged = staged_parts(store, cx, id).await?;
    let completion = match plan_completion(&requested, &staged) {
        Ok(completion) => completion,
        // An Abort deleting the folder while it was listed leaves some parts unlisted: that is
        // no missing part but a missing upload.
        Err(err) if err.code == S3ErrorCode::InvalidPart => {
            load_upload(store, cx.bucket, cx.key, id).await?;
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    let folder = upload_folder(cx.bucket, id);
    let sources: Vec<String> = completion
        .parts
        .iter()
        .map(|p| format!("{folder}{}", p.file))
        .collect();
    let destination = format!("{}/{}", cx.bucket, cx.key);
    store
        .concatenate(&sources, &destination, completion.length, cx.now)
        .await
        .map_err(|err| match err.code {
            // A part vanished midway: an Abort (or expiry) won the race.
            S3ErrorCode::NoSuchKey => no_such_upload(),
            _ => err,
        })?;
    if let Err(err) = store.delete_folder(&folder).await {
        tracing::warn!(folder, "could not delete a completed upload's parts: {err}");
    }
    let etag = completion.etag.trim_matches('"');
    if let Some(record) = record_path(cx.bucket, cx.key, etag, cx.now, completion.length) {
        if let Err(err) = store.write_file(&record, Bytes::new()).await {
            tracing::warn!(record, "could not record a completed object's ETag: {err}");
        }
        cx.records.forget(cx.bucket, cx.key);
    }
    let location = format!("/{}/{}", cx.bucket, cx.key);
    Ok(StoreAnswer::xml(xml::complete_result(
        &location,
        cx.bucket,
        cx.key,
        &completion.etag,
    )))
}

async fn list_uploads(
    store: &dyn Store,
    cx: &MultipartContext<'_>,
    params: &ListUploadsParams,
) -> Result<StoreAnswer, S3Error> {
    let folder = uploads_folder(cx.bucket);
    let entries = match store.index(&folder, cx.max_folder_index).await? {
        Fetched::Index(index, _) => index.entries,
        Fetched::TooLarge => return Err(folder_too_large(&folder, cx.max_folder_index)),
        Fetched::Missing if store.folder_exists(&format!("{}/", cx.bucket)).await? => Vec::new(),
        Fetched::Missing => return Err(no_such_bucket()),
    };
    let mut listed = Vec::new();
    for entry in entries.iter().filter(|e| e.kind == EntryKind::Folder) {
        if sweep_if_expired(store, cx, &entry.name, entry.mtime).await {
            continue;
        }
        let Ok(id) = UploadId::parse(&entry.name) else {
            continue;
        };
        if listed.len() == MAX_LISTED_UPLOADS {
            return Err(S3Error::new(
                S3ErrorCode::NotImplemented,
                format!(
                    "The bucket has more than {MAX_LISTED_UPLOADS} multipart uploads in \
                     progress: too many to list on this backend."
                ),
            ));
        }
        let path = format!("{folder}{}/{RECORD_NAME}", id.as_str());
        let Some(bytes) = store.read_file(&path, MAX_RECORD).await? else {
            continue;
        };
        if let Ok(record) = UploadRecord::from_json(&bytes) {
            listed.push(ListedUpload { id, record });
        }
    }
    let page = uploads_page(listed, params);
    Ok(StoreAnswer::xml(xml::list_uploads_result(
        cx.bucket, params, &page,
    )))
}
