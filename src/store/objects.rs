//! The object operations a plain store cannot take as they come, answered by the proxy:
//! DeleteObjects (one `DELETE` per key) and CopyObject (a `COPY` into the staging area, then a
//! `MOVE` onto the key); and the keys such a store cannot hold. The decisions are plain
//! functions; the store is reached only through [`Store`].
//!
//! **Why a copy is staged.** nginx's WebDAV `COPY` of a file (`ngx_http_dav_copy_move_handler`)
//! calls `ngx_copy_file`, which opens the destination itself with `O_TRUNC` and writes it in
//! 64 KiB blocks: a `COPY` straight onto the key would show readers an empty, then a growing,
//! file (and leave a truncated one if the disk fills). Its `MOVE` of a file, though, is
//! `ngx_ext_rename_file`: one `rename(2)` (creating the destination's folders), which replaces
//! the destination atomically: a reader opens either the old file or the whole new one. So the
//! proxy copies into `/.s3-auth-proxy/copies/<random>` (a top-level folder whose name is no
//! valid bucket, in a segment no key may contain: clients can never address, list or read it),
//! then moves that file onto the key. Were the staging area on another filesystem, nginx's
//! rename falls back to copying into a temporary name beside the destination and renaming that,
//! still atomic. A copy abandoned half-way (the proxy stopped between the two steps) stays in
//! the staging area, never under a key.
//!
//! The price: nginx copies with blocking reads and writes inside its event loop, so one of its
//! workers serves nothing else while it copies (about 0.7 s for 512 MiB from the page cache
//! here), and the copy must end within `upstream.read_timeout`. Streaming the object through
//! the proxy (a GET, then a PUT, which nginx writes to a temporary file and renames) would not
//! block nginx but moves every byte twice over the network; S3 caps CopyObject at 5 GiB.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use futures_util::stream::{self, StreamExt};
use http::HeaderMap;

use super::bucket::StoreAnswer;
use super::walk::no_such_bucket;
use super::xml::{escape, timestamp, S3_NS};
use super::{Copied, FileInfo, Moved, Store};
use crate::body::delete_list::{parse_delete_keys, ObjectToDelete};
use crate::error::{S3Error, S3ErrorCode};
use crate::request::{check_key, SourceObject, Target};

/// A key segment the proxy keeps for itself on a plain store: its staging areas live under it
/// (copies here, multipart uploads under `/.s3-auth-proxy/uploads/`: `multipart`), and nginx's
/// `index` directive names `.s3-auth-proxy/no-index`, a file that must never exist, so that
/// every folder answers its JSON index (a key `photos/index.html` would otherwise stand in for
/// the listing of `photos/`).
pub const RESERVED_SEGMENT: &str = ".s3-auth-proxy";

/// Where copies are written before they are moved onto their key (see the module's comment).
const COPY_STAGING: &str = ".s3-auth-proxy/copies/";

/// The most `DELETE`s of one DeleteObjects in flight at once.
pub const DELETE_CONCURRENCY: usize = 8;

/// The `x-amz-copy-source-if-*` conditions (not supported: refused, never ignored).
const COPY_CONDITIONS: &[&str] = &[
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-unmodified-since",
];

/// Refuse a key a plain store cannot hold as an object: one with a [`RESERVED_SEGMENT`]
/// segment, or one ending in `/`, which the store reads as a folder (a DELETE would remove
/// everything inside, a GET list it: S3's folder-marker objects cannot be stored here).
pub fn check_object_key(key: &str) -> Result<(), S3Error> {
    if key.split('/').any(|segment| segment == RESERVED_SEGMENT) {
        return Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("Keys with a {RESERVED_SEGMENT} segment are reserved on this backend."),
        ));
    }
    if key.ends_with('/') {
        return Err(S3Error::new(
            S3ErrorCode::NotImplemented,
            "Keys ending in '/' are folders on this backend: they cannot be stored or read.",
        ));
    }
    Ok(())
}

/// A CopyObject (`PUT /bucket/key` with `x-amz-copy-source`), read from its verified head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRequest {
    /// The source's bucket.
    pub source_bucket: String,
    /// The source's key.
    pub source_key: String,
    /// The destination's bucket.
    pub bucket: String,
    /// The destination's key.
    pub key: String,
    /// `x-amz-metadata-directive: REPLACE`.
    pub replace_metadata: bool,
}

impl CopyRequest {
    /// The copy a request asks for, or why this backend refuses it: another source header
    /// (`x-amz-rename-source`), a source `versionId`, `x-amz-copy-source-if-*` conditions or a
    /// range (NotImplemented); a source this store cannot hold; an unknown metadata directive;
    /// a copy onto itself that changes nothing (InvalidRequest, as S3).
    pub fn parse(
        target: &Target,
        sources: &[SourceObject],
        headers: &HeaderMap,
    ) -> Result<CopyRequest, S3Error> {
        let source = match sources {
            [source] if source.header == "x-amz-copy-source" => source,
            _ => {
                let names: Vec<&str> = sources.iter().map(|s| s.header).collect();
                return Err(not_implemented(format!(
                    "{} is not supported by this backend.",
                    names.join(" with ")
                )));
            }
        };
        if source.version_id.is_some() {
            return Err(not_implemented(
                "x-amz-copy-source: a versionId is not supported by this backend (a plain store \
                 keeps no versions)."
                    .to_string(),
            ));
        }
        let refused_header = COPY_CONDITIONS
            .iter()
            .chain(&["x-amz-copy-source-range"])
            .find(|name| headers.contains_key(**name));
        if let Some(name) = refused_header {
            return Err(not_implemented(format!(
                "{name} is not supported by this backend."
            )));
        }
        check_object_key(&source.key)?;
        let replace_metadata = match headers
            .get("x-amz-metadata-directive")
            .map(|v| v.as_bytes())
        {
            None | Some(b"COPY") => false,
            Some(b"REPLACE") => true,
            Some(_) => {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    "Unknown metadata directive.",
                ))
            }
        };
        let copy = CopyRequest {
            source_bucket: source.bucket.clone(),
            source_key: source.key.clone(),
            bucket: target.bucket.clone(),
            key: target.key.clone(),
            replace_metadata,
        };
        if copy.onto_itself() && !replace_metadata {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself \
                 without changing the object's metadata, storage class, website redirect \
                 location or encryption attributes.",
            ));
        }
        Ok(copy)
    }

    fn onto_itself(&self) -> bool {
        self.source_bucket == self.bucket && self.source_key == self.key
    }
}

fn not_implemented(message: String) -> S3Error {
    S3Error::new(S3ErrorCode::NotImplemented, message)
}

/// Run a CopyObject: stage a copy of the source under `staging_name`, then move it onto the
/// key (see the module's comment for why this is atomic). The answer's `ETag` and
/// `LastModified` are the staged file's as a HEAD gives them, hence the new object's: nginx's
/// copy keeps the source's modification time (whole seconds) and the rename keeps the file, so
/// they are the source's (nginx's ETag is `"<mtime hex>-<size hex>"`, not an MD5). A copy onto
/// itself (with `REPLACE`, the only kind [`CopyRequest::parse`] lets through) changes nothing on
/// a store that keeps no metadata: it answers the object as it is.
pub async fn copy_object(
    store: &dyn Store,
    copy: &CopyRequest,
    staging_name: &str,
) -> Result<StoreAnswer, S3Error> {
    let source = format!("{}/{}", copy.source_bucket, copy.source_key);
    if copy.onto_itself() {
        return match store.file_info(&source).await? {
            Some(info) => Ok(copy_object_result(&info)),
            None => Err(no_source(store, &copy.source_bucket).await),
        };
    }
    let staged = format!("{COPY_STAGING}{staging_name}");
    let result = stage_and_move(store, &source, &staged, copy).await;
    if result.is_err() {
        // Best effort: whatever the copy left in the staging area is nobody's.
        let _ = store.delete_file(&staged).await;
    }
    result
}

async fn stage_and_move(
    store: &dyn Store,
    source: &str,
    staged: &str,
    copy: &CopyRequest,
) -> Result<StoreAnswer, S3Error> {
    let mut copied = store.copy_file(source, staged).await?;
    if copied == Copied::NotWritten {
        // The staging folders are made on first use.
        store.make_folder(&format!("{RESERVED_SEGMENT}/")).await?;
        store.make_folder(COPY_STAGING).await?;
        copied = store.copy_file(source, staged).await?;
    }
    match copied {
        Copied::Done => {}
        Copied::NoSource => return Err(no_source(store, &copy.source_bucket).await),
        Copied::NotWritten => {
            return Err(S3Error::new(
                S3ErrorCode::InternalError,
                "The backend could not write the copy.",
            ))
        }
    }
    let info = store.file_info(staged).await?.ok_or_else(|| {
        S3Error::new(
            S3ErrorCode::InternalError,
            "The staged copy vanished before it was moved onto its key.",
        )
    })?;
    let destination = format!("{}/{}", copy.bucket, copy.key);
    match store.move_file(staged, &destination).await? {
        Moved::Done => {}
        Moved::FolderInTheWay => {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                "The destination key is a folder on this backend (other keys start with it and a \
                 '/'): no object can be stored under it.",
            ))
        }
        Moved::NoSource => {
            return Err(S3Error::new(
                S3ErrorCode::InternalError,
                "The staged copy vanished before it was moved into place.",
            ))
        }
    }
    Ok(copy_object_result(&info))
}

/// The source does not exist: `NoSuchBucket` if its bucket does not either, else `NoSuchKey`.
async fn no_source(store: &dyn Store, bucket: &str) -> S3Error {
    match store.folder_exists(&format!("{bucket}/")).await {
        Ok(false) => no_such_bucket(),
        Ok(true) => S3Error::new(S3ErrorCode::NoSuchKey, "The specified key does not exist."),
        Err(err) => err,
    }
}

/// A name no other staged copy uses: 128 bits hashed from the time and a counter by the
/// standard library's hasher, whose keys are drawn from the OS's randomness per process, so
/// two proxies in front of one store do not collide. Not a secret: no client can address
/// the staging area.
pub fn staging_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let half = |salt: u64| {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(n);
        hasher.write_u128(nanos);
        hasher.write_u64(salt);
        hasher.finish()
    };
    format!("{:016x}{:016x}", half(0), half(1))
}

/// What became of one key of a DeleteObjects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDeleted {
    /// Deleted, or there was no such object (S3 reports both as deleted).
    Deleted {
        /// The key.
        key: String,
        /// Whether there was a file to delete.
        existed: bool,
    },
    /// Not deleted, and why.
    Failed {
        /// The key.
        key: String,
        /// Why (the answer's `Code` and `Message`).
        error: S3Error,
    },
}

/// Run a DeleteObjects whose verified body is `body` and whose keys the scopes allowed (the
/// proxy authorized each before calling this, from the same bytes read the same way): each key
/// that names an object this store can hold is a `DELETE` of its file, at most
/// [`DELETE_CONCURRENCY`] at once; the others (a version, a condition, a reserved segment, a
/// trailing `/`) get their own error, and never a folder `DELETE`.
pub async fn delete_objects(
    store: &dyn Store,
    bucket: &str,
    body: &[u8],
) -> Result<StoreAnswer, S3Error> {
    let list = parse_delete_keys(body)?;
    // The futures are made first: a closure inside the stream would make the whole request
    // future not provably `Send` (rustc's higher-ranked lifetime limitation).
    let deletions: Vec<_> = list
        .objects
        .iter()
        .map(|object| delete_one(store, bucket, object))
        .collect();
    let outcomes: Vec<KeyDeleted> = stream::iter(deletions)
        .buffered(DELETE_CONCURRENCY)
        .collect()
        .await;
    let found_any = outcomes
        .iter()
        .any(|o| matches!(o, KeyDeleted::Deleted { existed: true, .. }));
    // S3 answers NoSuchBucket for a bucket that does not exist; every key of it is missing.
    if !found_any && !store.folder_exists(&format!("{bucket}/")).await? {
        return Err(no_such_bucket());
    }
    Ok(StoreAnswer {
        status: 200,
        xml: Some(delete_result(&outcomes, list.quiet)),
        location: None,
    })
}

async fn delete_one(store: &dyn Store, bucket: &str, object: &ObjectToDelete) -> KeyDeleted {
    let key = object.key.clone();
    let checked = if object.version_id.is_some() {
        Err(not_implemented(
            "A VersionId is not supported by this backend (a plain store keeps no versions)."
                .to_string(),
        ))
    } else if object.conditional {
        Err(not_implemented(
            "Conditional deletes (ETag, LastModifiedTime, Size) are not supported by this \
             backend."
                .to_string(),
        ))
    } else {
        check_key(&key).and_then(|()| check_object_key(&key))
    };
    let deleted = match checked {
        Ok(()) => store.delete_file(&format!("{bucket}/{key}")).await,
        Err(error) => Err(error),
    };
    match deleted {
        Ok(existed) => KeyDeleted::Deleted { key, existed },
        Err(error) => KeyDeleted::Failed { key, error },
    }
}

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

fn element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// S3's `DeleteResult`: a `Deleted` per key deleted (none when `quiet`), an `Error` with `Key`,
/// `Code` and `Message` per key that was not, in the request's order.
pub fn delete_result(outcomes: &[KeyDeleted], quiet: bool) -> String {
    let mut x = format!("{XML_HEAD}<DeleteResult xmlns=\"{S3_NS}\">");
    for outcome in outcomes {
        match outcome {
            KeyDeleted::Deleted { key, .. } if !quiet => {
                x.push_str("<Deleted>");
                element(&mut x, "Key", key);
                x.push_str("</Deleted>");
            }
            KeyDeleted::Deleted { .. } => {}
            KeyDeleted::Failed { key, error } => {
                x.push_str("<Error>");
                element(&mut x, "Key", key);
                element(&mut x, "Code", error.code.as_str());
                element(&mut x, "Message", &error.message);
                x.push_str("</Error>");
            }
        }
    }
    x.push_str("</DeleteResult>");
    x
}

/// S3's `CopyObjectResult`.
fn copy_object_result(info: &FileInfo) -> StoreAnswer {
    let mut x = format!("{XML_HEAD}<CopyObjectResult xmlns=\"{S3_NS}\">");
    element(&mut x, "LastModified", &timestamp(info.mtime));
    element(&mut x, "ETag", &info.etag);
    x.push_str("</CopyObjectResult>");
    StoreAnswer {
        status: 200,
        xml: Some(x),
        location: None,
    }
}

#[cfg(test)]
mod tests;
