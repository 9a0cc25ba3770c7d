//! Which operation a request is, for a plain store, when the proxy answers it itself (the
//! bucket-level requests, and the object operations of `objects`), and running it against a
//! [`Store`]. Anything not named here stays `NotImplemented` (`backend::check_request`).

use super::index::EntryKind;
use super::listing::{ListParams, Page};
use super::multipart::run::{self as multipart_run, MultipartContext};
use super::multipart::MultipartOp;
use super::objects::{self, CopyRequest};
use super::walk::{fill_page, no_such_bucket};
use super::{folder_too_large, xml, Fetched, Store};
use crate::error::{S3Error, S3ErrorCode};
use crate::request::{check_bucket_name, SourceObject, Target};

/// A bucket-level request the proxy answers itself in front of a plain store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketOp {
    /// `GET /`: the store's top-level folders.
    ListBuckets,
    /// `GET /bucket` (`?list-type=2`).
    ListObjects(ListParams),
    /// `HEAD /bucket`.
    HeadBucket,
    /// A read-only bucket query (`GET /bucket?location`…): S3's answer for a plain bucket.
    Query(BucketQuery),
    /// `PUT /bucket`: a new folder.
    CreateBucket,
    /// `DELETE /bucket`: only when it holds no key.
    DeleteBucket,
    /// A multipart upload's step (`multipart`); UploadPart is proxied, the others answered.
    Multipart(MultipartOp),
    /// `POST /bucket?delete`: each key of the (verified, authorized) body deleted.
    DeleteObjects,
    /// `PUT /bucket/key` with `x-amz-copy-source`.
    CopyObject(CopyRequest),
}

/// The bucket queries answered as S3 answers them for a bucket nothing was configured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketQuery {
    /// `?location`: the configured region.
    Location,
    /// `?acl`: the owner has full control.
    Acl,
    /// `?requestPayment`: the owner pays.
    RequestPayment,
    /// An empty configuration document with this root (`?versioning`: never enabled…).
    Empty(&'static str),
    /// "No such configuration" with this code (`?policy`, `?cors`…).
    NotConfigured(S3ErrorCode),
}

/// The bucket queries by their sub-resource.
const QUERIES: &[(&str, BucketQuery)] = &[
    ("location", BucketQuery::Location),
    ("acl", BucketQuery::Acl),
    ("requestPayment", BucketQuery::RequestPayment),
    ("versioning", BucketQuery::Empty("VersioningConfiguration")),
    ("logging", BucketQuery::Empty("BucketLoggingStatus")),
    ("accelerate", BucketQuery::Empty("AccelerateConfiguration")),
    (
        "notification",
        BucketQuery::Empty("NotificationConfiguration"),
    ),
    (
        "policy",
        BucketQuery::NotConfigured(S3ErrorCode::NoSuchBucketPolicy),
    ),
    (
        "policyStatus",
        BucketQuery::NotConfigured(S3ErrorCode::NoSuchBucketPolicy),
    ),
    (
        "cors",
        BucketQuery::NotConfigured(S3ErrorCode::NoSuchCORSConfiguration),
    ),
    (
        "lifecycle",
        BucketQuery::NotConfigured(S3ErrorCode::NoSuchLifecycleConfiguration),
    ),
    (
        "tagging",
        BucketQuery::NotConfigured(S3ErrorCode::NoSuchTagSet),
    ),
    (
        "website",
        BucketQuery::NotConfigured(S3ErrorCode::NoSuchWebsiteConfiguration),
    ),
    (
        "encryption",
        BucketQuery::NotConfigured(S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError),
    ),
    (
        "object-lock",
        BucketQuery::NotConfigured(S3ErrorCode::ObjectLockConfigurationNotFoundError),
    ),
    (
        "ownershipControls",
        BucketQuery::NotConfigured(S3ErrorCode::OwnershipControlsNotFoundError),
    ),
    (
        "publicAccessBlock",
        BucketQuery::NotConfigured(S3ErrorCode::NoSuchPublicAccessBlockConfiguration),
    ),
    (
        "replication",
        BucketQuery::NotConfigured(S3ErrorCode::ReplicationConfigurationNotFoundError),
    ),
];

impl BucketOp {
    /// The operation of a bucket-level request (empty key), `Ok(None)` if the store cannot
    /// answer it (DeleteObjects, multipart listings, versions, configuration writes…).
    pub fn of(method: &http::Method, target: &Target) -> Result<Option<BucketOp>, S3Error> {
        if let Some(op) = MultipartOp::of(method, target)? {
            return Ok(Some(BucketOp::Multipart(op)));
        }
        if !target.key.is_empty() {
            return Ok(None);
        }
        let operation = target.query.operation()?;
        let op = match (method.as_str(), target.bucket.is_empty(), operation) {
            ("GET", true, None) => Some(BucketOp::ListBuckets),
            ("GET", false, None | Some("versions")) => {
                Some(BucketOp::ListObjects(ListParams::parse(&target.query)?))
            }
            ("HEAD", false, None) => Some(BucketOp::HeadBucket),
            ("PUT", false, None) => Some(BucketOp::CreateBucket),
            ("DELETE", false, None) => Some(BucketOp::DeleteBucket),
            ("POST", false, Some("delete")) => Some(BucketOp::DeleteObjects),
            ("GET", false, Some(name)) => QUERIES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, q)| BucketOp::Query(*q)),
            _ => None,
        };
        Ok(op)
    }

    /// The operation of an object-level request the proxy answers itself (CopyObject: a PUT
    /// naming a source object), `Ok(None)` for one that goes to the store as it is. The
    /// request's own checks (no sub-resource, a key the store can hold) come first.
    pub fn of_object(
        method: &http::Method,
        target: &Target,
        sources: &[SourceObject],
        headers: &http::HeaderMap,
    ) -> Result<Option<BucketOp>, S3Error> {
        if sources.is_empty() || method != http::Method::PUT || target.key.is_empty() {
            return Ok(None);
        }
        let copy = CopyRequest::parse(target, sources, headers)?;
        Ok(Some(BucketOp::CopyObject(copy)))
    }
}

/// What the proxy answers: a status and an optional XML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreAnswer {
    /// HTTP status.
    pub status: u16,
    /// The XML body, if any.
    pub xml: Option<String>,
    /// A `Location` header (CreateBucket: `/bucket`).
    pub location: Option<String>,
}

impl StoreAnswer {
    /// A 200 answer with a document.
    pub fn xml(xml: String) -> StoreAnswer {
        StoreAnswer {
            status: 200,
            xml: Some(xml),
            location: None,
        }
    }

    /// An answer without a body.
    pub fn empty(status: u16) -> StoreAnswer {
        StoreAnswer {
            status,
            xml: None,
            location: None,
        }
    }
}

/// What running an operation needs besides the store.
pub struct OpContext<'a> {
    /// The bucket (empty for ListBuckets).
    pub bucket: &'a str,
    /// The region `?location` names (the first of `auth.region`).
    pub region: &'a str,
    /// `limits.max_folder_index`.
    pub max_folder_index: usize,
    /// The key (empty for bucket-level requests).
    pub key: &'a str,
    /// Who signed the request.
    pub access_key: &'a str,
    /// Now, in seconds since the Unix epoch.
    pub now: i64,
    /// `upstream.multipart_expiry`.
    pub multipart_expiry: std::time::Duration,
    /// The verified request body (empty for most).
    pub body: bytes::Bytes,
    /// Recently read ETag records (`etags`).
    pub records: &'a super::etags::RecordsCache,
}

/// Run a bucket operation against the store.
pub async fn run(
    op: &BucketOp,
    store: &dyn Store,
    cx: &OpContext<'_>,
) -> Result<StoreAnswer, S3Error> {
    let bucket_folder = format!("{}/", cx.bucket);
    match op {
        BucketOp::ListBuckets => list_buckets(store, cx.max_folder_index).await,
        BucketOp::ListObjects(params) => {
            let mut page = Page::new(params)?;
            fill_page(
                store,
                cx.bucket,
                &mut page,
                cx.max_folder_index,
                Some(cx.records),
            )
            .await?;
            Ok(StoreAnswer::xml(xml::list_bucket_result(
                cx.bucket, params, &page,
            )))
        }
        BucketOp::HeadBucket => {
            require_bucket(store, &bucket_folder).await?;
            Ok(StoreAnswer::empty(200))
        }
        BucketOp::Query(query) => {
            require_bucket(store, &bucket_folder).await?;
            answer_query(*query, cx.region)
        }
        BucketOp::CreateBucket => create_bucket(store, cx.bucket).await,
        BucketOp::DeleteBucket => delete_bucket(store, cx.bucket, cx.max_folder_index).await,
        BucketOp::Multipart(op) => {
            let mcx = MultipartContext {
                bucket: cx.bucket,
                key: cx.key,
                access_key: cx.access_key,
                now: cx.now,
                expiry: cx.multipart_expiry,
                max_folder_index: cx.max_folder_index,
                body: cx.body.clone(),
                records: cx.records,
            };
            multipart_run::run(op, store, &mcx).await
        }
        BucketOp::DeleteObjects => objects::delete_objects(store, cx.bucket, &cx.body).await,
        BucketOp::CopyObject(copy) => {
            objects::copy_object(store, copy, &objects::staging_name()).await
        }
    }
}

async fn require_bucket(store: &dyn Store, folder: &str) -> Result<(), S3Error> {
    if store.folder_exists(folder).await? {
        Ok(())
    } else {
        Err(no_such_bucket())
    }
}

fn answer_query(query: BucketQuery, region: &str) -> Result<StoreAnswer, S3Error> {
    let xml = match query {
        BucketQuery::Location => xml::location(region),
        BucketQuery::Acl => xml::acl(),
        BucketQuery::RequestPayment => xml::request_payment(),
        BucketQuery::Empty(root) => xml::empty_configuration(root),
        BucketQuery::NotConfigured(code) => {
            return Err(S3Error::new(
                code,
                "The bucket has no such configuration (a plain store keeps none).",
            ))
        }
    };
    Ok(StoreAnswer::xml(xml))
}

/// The store's top-level folders whose names are valid bucket names, with their mtime as the
/// creation date (a folder's mtime moves when entries are added or removed directly in it).
async fn list_buckets(store: &dyn Store, limit: usize) -> Result<StoreAnswer, S3Error> {
    let index = match store.index("", limit).await? {
        Fetched::Index(index, _) => index,
        Fetched::TooLarge => return Err(folder_too_large("/", limit)),
        Fetched::Missing => {
            return Err(S3Error::new(
                S3ErrorCode::BadGateway,
                "The store has no root folder.",
            ))
        }
    };
    let buckets: Vec<(String, i64)> = index
        .entries
        .into_iter()
        .filter(|e| e.kind == EntryKind::Folder && check_bucket_name(&e.name).is_ok())
        .map(|e| (e.name, e.mtime))
        .collect();
    Ok(StoreAnswer::xml(xml::list_buckets_result(&buckets)))
}

async fn create_bucket(store: &dyn Store, bucket: &str) -> Result<StoreAnswer, S3Error> {
    if !store.make_folder(&format!("{bucket}/")).await? {
        return Err(S3Error::new(
            S3ErrorCode::BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it.",
        ));
    }
    Ok(StoreAnswer {
        location: Some(format!("/{bucket}")),
        ..StoreAnswer::empty(200)
    })
}

/// Delete a bucket that holds no key. The store's folder DELETE is recursive, so emptiness is
/// checked first with a one-key listing; a key stored between that check and the DELETE is
/// deleted with the bucket (the race S3 itself does not have). Keys no listing shows (a
/// segment starting with `.`) go with it too.
async fn delete_bucket(
    store: &dyn Store,
    bucket: &str,
    limit: usize,
) -> Result<StoreAnswer, S3Error> {
    let params = ListParams {
        max_keys: 1,
        ..ListParams::parse(&crate::request::Query::default())?
    };
    let mut page = Page::new(&params)?;
    // Emptiness only: no ETag records are read.
    fill_page(store, bucket, &mut page, limit, None).await?;
    if !page.items.is_empty() {
        return Err(S3Error::new(
            S3ErrorCode::BucketNotEmpty,
            "The bucket you tried to delete is not empty",
        ));
    }
    store.delete_folder(&format!("{bucket}/")).await?;
    // Its multipart uploads in progress go with it, as in S3, and its ETag records.
    store
        .delete_folder(&super::multipart::uploads_folder(bucket))
        .await?;
    store
        .delete_folder(&super::etags::bucket_records(bucket))
        .await?;
    Ok(StoreAnswer::empty(204))
}

#[cfg(test)]
mod tests;
