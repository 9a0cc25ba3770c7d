//! S3's bucket operations in front of a plain HTTP store (`upstream.kind = "http"`, nginx with
//! WebDAV and `autoindex_format json`), answered by the proxy from what the store can give:
//! ListObjects V1/V2, ListBuckets, HeadBucket, the read-only bucket queries tools make first
//! (`?location`, `?versioning`…), CreateBucket and DeleteBucket; and the object operations a
//! store cannot take as they come: DeleteObjects and CopyObject.
//!
//! - `index`: one folder as nginx lists it, and S3's key order (pure).
//! - `listing`: the listing parameters and the page built from keys in order (pure).
//! - `xml`: the answers' documents (pure).
//! - `walk`: the depth-first walk over folders that offers keys to a page, one folder index
//!   held per level, within a memory budget; it talks to the store only through [`Store`].
//! - `bucket`: which operation a bucket-level request is, and running it.
//! - `objects`: DeleteObjects (a DELETE per key) and CopyObject (a COPY into the staging area,
//!   then a MOVE onto the key), and the keys a plain store cannot hold.
//!
//! The store is reached through the [`Store`] trait, implemented over Pingora's HTTP client in
//! `proxy::store_client` and by an in-memory fake in the tests here.

pub mod bucket;
pub mod etags;
#[cfg(test)]
mod fake;
pub mod index;
pub mod listing;
pub mod multipart;
pub mod objects;
mod walk;
pub mod xml;

use async_trait::async_trait;
use bytes::Bytes;

pub use bucket::{BucketOp, StoreAnswer};
pub use index::{Entry, EntryKind, Index};
pub use objects::{check_object_key, CopyRequest, RESERVED_SEGMENT};

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

    /// A small file's bytes, at most `budget` of them (more is an error); `None` when there
    /// is no such file.
    async fn read_file(&self, path: &str, budget: usize) -> Result<Option<Bytes>, S3Error>;

    /// Store a small file, creating the folders on its path.
    async fn write_file(&self, path: &str, contents: Bytes) -> Result<(), S3Error>;

    /// Write `destination` as the concatenation of the files `sources`, `length` bytes in
    /// all, so that it appears whole or not at all: a source that is missing (`NoSuchKey`)
    /// or of another length than its share leaves `destination` as it was. Its modification
    /// time is `mtime` (seconds).
    async fn concatenate(
        &self,
        sources: &[String],
        destination: &str,
        length: u64,
        mtime: i64,
    ) -> Result<(), S3Error>;

    /// Delete a file, never a folder: `false` when there is no file of that name (nothing, or
    /// a folder, which is left alone).
    async fn delete_file(&self, path: &str) -> Result<bool, S3Error>;

    /// Copy the file `from` onto `to`, replacing it (WebDAV `COPY`, `Overwrite: T`). nginx
    /// writes `to` in place as it reads `from`, so `to` must be a place no client reads.
    async fn copy_file(&self, from: &str, to: &str) -> Result<Copied, S3Error>;

    /// Move the file `from` onto `to`, replacing it (WebDAV `MOVE`, `Overwrite: T`): on nginx
    /// one `rename(2)`, creating `to`'s folders, so `to` appears whole at once.
    async fn move_file(&self, from: &str, to: &str) -> Result<Moved, S3Error>;

    /// A file's ETag and modification time, as a HEAD answers them; `None` when there is no
    /// file of that name.
    async fn file_info(&self, path: &str) -> Result<Option<FileInfo>, S3Error>;
}

/// What a [`Store::copy_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// `to` holds a copy of `from`.
    Done,
    /// There is no file `from` (nothing, or a folder).
    NoSource,
    /// The store could not write `to` (on nginx: its folder does not exist, or the disk failed).
    NotWritten,
}

/// What a [`Store::move_file`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// `to` is the file that was `from`.
    Done,
    /// There is no file `from`.
    NoSource,
    /// `to` is a folder, left alone.
    FolderInTheWay,
}

/// A file as a HEAD describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The store's ETag, quoted (nginx: `"<mtime hex>-<size hex>"`).
    pub etag: String,
    /// Modification time, Unix seconds.
    pub mtime: i64,
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
