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
mod walk;
pub mod xml;

use async_trait::async_trait;

pub use bucket::{BucketOp, StoreAnswer};
pub use index::{Entry, EntryKind, Index};

use crate::error::S3Error;

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
