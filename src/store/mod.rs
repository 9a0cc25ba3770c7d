//! S3's bucket operations in front of a plain HTTP store (`upstream.kind = "http"`, nginx with
//! WebDAV and `autoindex_format json`), answered by the proxy from what the store can give:
//! ListObjects V1/V2, ListBuckets, HeadBucket, the read-only bucket queries tools make first
//! (`?location`, `?versioning`…), CreateBucket and DeleteBucket.
//!
//! - `index`: one folder as nginx lists it, and S3's key order (pure).
//! - `listing`: the listing parameters and the page built from keys in order (pure).
//! - `xml`: the answers' documents (pure).
//! - `walk`: the depth-first walk over folders that offers keys to a page, one folder index
//!   held per level, within a memory budget; it talks to the store only through [`Store`].
//! - `bucket`: which operation a bucket-level request is, and running it.
//!
//! The store is reached through the [`Store`] trait, implemented over Pingora's HTTP client in
//! `proxy::store_client` and by an in-memory fake in the tests here.

pub mod bucket;
#[cfg(test)]
mod fake;
pub mod index;
pub mod listing;
pub mod multipart;
mod walk;
pub mod xml;

use async_trait::async_trait;
use bytes::Bytes;

pub use bucket::{BucketOp, StoreAnswer};
pub use index::{Entry, EntryKind, Index};

use crate::error::S3Error;

/// A key segment the proxy keeps for itself on a plain store. nginx's `index` directive names
/// `.s3-auth-proxy/no-index`, a file that must never exist, so that every folder answers its
/// JSON index (a key `photos/index.html` would otherwise stand in for the listing of
/// `photos/`); multipart uploads are staged under `/.s3-auth-proxy/uploads/` (`multipart`).
/// Keys with this segment are refused (`backend::check_request`).
pub const RESERVED_SEGMENT: &str = ".s3-auth-proxy";

/// The few things the S3 emulation asks of a plain store. Paths are decoded: `bkt/` is the
/// bucket's folder, `bkt/a b/` a folder in it, `""` the store's root.
#[async_trait]
pub trait Store: Send + Sync {
    /// The index of a folder. Reading it may hold at most `budget` bytes of the store's
    /// answer: a larger one is dropped as it arrives ([`Fetched::TooLarge`]).
    async fn index(&self, folder: &str, budget: usize) -> Result<Fetched, S3Error>;

    /// Whether a folder exists (without reading its index).
    async fn folder_exists(&self, folder: &str) -> Result<bool, S3Error>;

    /// Create a folder; `false` if something of that name exists already.
    async fn make_folder(&self, folder: &str) -> Result<bool, S3Error>;

    /// Delete a folder and everything in it.
    async fn delete_folder(&self, folder: &str) -> Result<(), S3Error>;

    /// A small file's bytes, at most `budget` of them (more is an error); `None` when there
    /// is no such file.
    async fn read_file(&self, path: &str, budget: usize) -> Result<Option<Bytes>, S3Error>;

    /// Store a small file, creating the folders on its path.
    async fn write_file(&self, path: &str, contents: Bytes) -> Result<(), S3Error>;

    /// Rename a file (replacing any of the new name); `false` when there is no such file.
    async fn move_file(&self, from: &str, to: &str) -> Result<bool, S3Error>;

    /// Write `destination` as the concatenation of the files `sources`, `length` bytes in
    /// all, so that it appears whole or not at all: a source that is missing (`NoSuchKey`)
    /// or of another length than its share leaves `destination` as it was.
    async fn concatenate(
        &self,
        sources: &[String],
        destination: &str,
        length: u64,
    ) -> Result<(), S3Error>;
}

/// A folder index as read from the store.
#[derive(Debug)]
pub enum Fetched {
    /// There is no such folder.
    Missing,
    /// The store's answer is longer than the budget allowed.
    TooLarge,
    /// The index, and the bytes of the store's answer it was read from.
    Index(Index, usize),
}

/// The refusal of a listing whose folder indexes would exceed `limits.max_folder_index`.
pub fn folder_too_large(folder: &str, limit: usize) -> S3Error {
    S3Error::new(
        crate::error::S3ErrorCode::NotImplemented,
        format!(
            "The folder {folder} cannot be listed: the indexes of the folders a listing walks \
             through would exceed limits.max_folder_index ({limit} bytes)."
        ),
    )
}
