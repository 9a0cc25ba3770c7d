//! The walk over a bucket's folders that offers keys to a page in S3's order: depth-first,
//! each folder's entries in [`Entry::s3_order`], starting at the folder of the prefix and
//! passing over folders the page cannot use (outside the prefix, before the start, or rolled
//! up into a common prefix, which only needs to know that the folder holds a key).
//!
//! Memory: the walk holds one folder index per level, from the prefix's folder down to the
//! current key, and the bytes of the store's answers it holds stay within one budget
//! (`limits.max_folder_index`); a folder beyond it is refused, never read whole.

use std::sync::Arc;

use super::etags::{records_folder, Records, RecordsCache};
use super::index::{Entry, EntryKind};
use super::listing::{FolderStep, ObjectItem, Offer, Page};
use super::{folder_too_large, Fetched, Store};
use crate::error::{S3Error, S3ErrorCode};

/// One folder on the way down: what is left of its entries.
struct Frame {
    /// The key prefix of its entries: `""` for the bucket, `a/b/` below.
    path: String,
    entries: std::vec::IntoIter<Entry>,
    /// The bytes of the store's answers it stands for.
    bytes: usize,
    /// The ETag records of its files (`etags`).
    records: Arc<Records>,
}

/// The most stale ETag records one listing deletes.
const MAX_STALE_DELETED: usize = 100;

struct Walker<'a> {
    store: &'a dyn Store,
    bucket: &'a str,
    limit: usize,
    held: usize,
    /// Where ETag records are read from, if they are (not for DeleteBucket's emptiness check).
    records: Option<&'a RecordsCache>,
    /// Stale ETag records seen (paths), and record folders too large to read, to delete once
    /// the page is filled.
    stale: Vec<String>,
    oversized: Vec<String>,
}

/// The bucket does not exist.
pub fn no_such_bucket() -> S3Error {
    S3Error::new(
        S3ErrorCode::NoSuchBucket,
        "The specified bucket does not exist",
    )
}

/// Fill `page` with the keys of `bucket`, their ETags from the records when `records` is
/// given (`etags`).
pub async fn fill_page(
    store: &dyn Store,
    bucket: &str,
    page: &mut Page,
    limit: usize,
    records: Option<&RecordsCache>,
) -> Result<(), S3Error> {
    let prefix = page.prefix();
    let start_folder = prefix[..prefix.rfind('/').map_or(0, |i| i + 1)].to_string();
    let mut walker = Walker {
        store,
        bucket,
        limit,
        held: 0,
        records,
        stale: Vec::new(),
        oversized: Vec::new(),
    };
    walk(&mut walker, &start_folder, page).await?;
    walker.clean_records().await;
    Ok(())
}

async fn walk(walker: &mut Walker<'_>, start_folder: &str, page: &mut Page) -> Result<(), S3Error> {
    let (store, bucket) = (walker.store, walker.bucket);
    let Some(first) = walker.fetch(start_folder, true).await? else {
        let bucket_exists =
            !start_folder.is_empty() && store.folder_exists(&format!("{bucket}/")).await?;
        return if bucket_exists {
            Ok(())
        } else {
            Err(no_such_bucket())
        };
    };
    let mut stack = vec![first];
    while let Some(frame) = stack.last_mut() {
        let Some(entry) = frame.entries.next() else {
            walker.held -= frame.bytes;
            stack.pop();
            continue;
        };
        let path = format!("{}{}", frame.path, entry.name);
        let offer = match entry.kind {
            EntryKind::File => page.offer_object(ObjectItem {
                etag: frame
                    .records
                    .etag_of(&entry)
                    .unwrap_or_else(|| entry.etag()),
                key: path,
                size: entry.size,
                mtime: entry.mtime,
            }),
            EntryKind::Folder => {
                let folder = path + "/";
                match page.folder_step(&folder) {
                    FolderStep::Skip => Offer::More,
                    FolderStep::Descend => {
                        stack.extend(walker.fetch(&folder, true).await?);
                        Offer::More
                    }
                    FolderStep::RollUp(common) if walker.holds_key(&folder).await? => {
                        page.offer_prefix(common)
                    }
                    FolderStep::RollUp(_) => Offer::More,
                }
            }
        };
        if offer == Offer::Full {
            break;
        }
    }
    Ok(())
}

impl Walker<'_> {
    /// Read the folder at key prefix `path` within what is left of the budget, and its ETag
    /// records when `with_records`.
    async fn fetch(&mut self, path: &str, with_records: bool) -> Result<Option<Frame>, S3Error> {
        let folder = format!("{}/{path}", self.bucket);
        let budget = self.limit.saturating_sub(self.held);
        let (index, bytes) = match self.store.index(&folder, budget).await? {
            Fetched::Missing => return Ok(None),
            Fetched::Index(index, bytes) if bytes <= budget => (index, bytes),
            _ => return Err(folder_too_large(&folder, self.limit)),
        };
        let records = match (with_records, self.records) {
            (true, Some(cache)) => self.records_of(cache, path, &index, budget - bytes).await?,
            _ => Arc::default(),
        };
        self.held += bytes;
        Ok(Some(Frame {
            path: path.to_string(),
            entries: index.entries.into_iter(),
            bytes,
            records,
        }))
    }

    /// The ETag records of the folder at `path` (whose `index` was just read): the cached set,
    /// else read within `budget`, its stale records noted for deletion.
    async fn records_of(
        &mut self,
        cache: &RecordsCache,
        path: &str,
        index: &super::Index,
        budget: usize,
    ) -> Result<Arc<Records>, S3Error> {
        let mirror = records_folder(self.bucket, path);
        if let Some(records) = cache.get(&mirror) {
            return Ok(records);
        }
        let records = match self.store.index(&mirror, budget).await? {
            Fetched::Index(found, size) if size <= budget => {
                let records = Records::from_index(&found);
                let room = MAX_STALE_DELETED.saturating_sub(self.stale.len());
                let stale = records.stale(&index.entries);
                self.stale
                    .extend(stale.into_iter().take(room).map(|f| format!("{mirror}{f}")));
                records
            }
            Fetched::Missing => Records::default(),
            // Records are hints: a mirror grown past the budget goes whole.
            _ => {
                self.oversized.push(mirror.clone());
                Records::default()
            }
        };
        let records = Arc::new(records);
        cache.insert(mirror, Arc::clone(&records));
        Ok(records)
    }

    /// Delete the stale records and oversized record folders this listing saw. Failures are
    /// logged: the records stay hints either way.
    async fn clean_records(&mut self) {
        for file in std::mem::take(&mut self.stale) {
            if let Err(err) = self.store.delete_file(&file).await {
                tracing::debug!(file, "could not delete a stale ETag record: {err}");
            }
        }
        for folder in std::mem::take(&mut self.oversized) {
            if let Err(err) = self.store.delete_folder(&folder).await {
                tracing::warn!(
                    folder,
                    "could not delete an oversized ETag record folder: {err}"
                );
            }
        }
    }

    /// Whether any key lies under the folder at `path` (empty folders, which a store keeps
    /// after the last key in them was deleted, are no common prefix on S3). Depth-first, a
    /// file found ends the search.
    async fn holds_key(&mut self, path: &str) -> Result<bool, S3Error> {
        let held_before = self.held;
        let mut pending = vec![path.to_string()];
        let mut found = false;
        while let Some(folder) = pending.pop() {
            let Some(frame) = self.fetch(&folder, false).await? else {
                continue;
            };
            found = frame
                .entries
                .as_slice()
                .iter()
                .any(|e| e.kind == EntryKind::File);
            if found {
                break;
            }
            // Only the sub-folder names are kept; the budget still counts the whole answer
            // until the search ends.
            let mut subfolders: Vec<String> = frame
                .entries
                .map(|e| format!("{folder}{}/", e.name))
                .collect();
            subfolders.reverse();
            pending.extend(subfolders);
        }
        self.held = held_before;
        Ok(found)
    }
}

#[cfg(test)]
mod tests;
