//! The walk over a bucket's folders that offers keys to a page in S3's order: depth-first,
//! each folder's entries in [`Entry::s3_order`], starting at the folder of the prefix and
//! passing over folders the page cannot use (outside the prefix, before the start, or rolled
//! up into a common prefix, which only needs to know that the folder holds a key).
//!
//! Memory: the walk holds one folder index per level, from the prefix's folder down to the
//! current key, and the bytes of the store's answers it holds stay within one budget
//! (`limits.max_folder_index`); a folder beyond it is refused, never read whole.

use super::index::{Entry, EntryKind};
use super::listing::{FolderStep, ObjectItem, Offer, Page};
use super::{folder_too_large, Fetched, Store};
use crate::error::{S3Error, S3ErrorCode};

/// One folder on the way down: what is left of its entries.
struct Frame {
    /// The key prefix of its entries: `""` for the bucket, `a/b/` below.
    path: String,
    entries: std::vec::IntoIter<Entry>,
    /// The bytes of the store's answer it stands for.
    bytes: usize,
}

struct Walker<'a> {
    store: &'a dyn Store,
    bucket: &'a str,
    limit: usize,
    held: usize,
}

/// The bucket does not exist.
pub fn no_such_bucket() -> S3Error {
    S3Error::new(
        S3ErrorCode::NoSuchBucket,
        "The specified bucket does not exist",
    )
}

/// Fill `page` with the keys of `bucket`.
pub async fn fill_page(
    store: &dyn Store,
    bucket: &str,
    page: &mut Page,
    limit: usize,
) -> Result<(), S3Error> {
    let prefix = page.prefix();
    let start_folder = prefix[..prefix.rfind('/').map_or(0, |i| i + 1)].to_string();
    let mut walker = Walker {
        store,
        bucket,
        limit,
        held: 0,
    };
    let Some(first) = walker.fetch(&start_folder).await? else {
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
                etag: entry.etag(),
                key: path,
                size: entry.size,
                mtime: entry.mtime,
            }),
            EntryKind::Folder => {
                let folder = path + "/";
                match page.folder_step(&folder) {
                    FolderStep::Skip => Offer::More,
                    FolderStep::Descend => {
                        stack.extend(walker.fetch(&folder).await?);
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
    /// Read the folder at key prefix `path` within what is left of the budget.
    async fn fetch(&mut self, path: &str) -> Result<Option<Frame>, S3Error> {
        let folder = format!("{}/{path}", self.bucket);
        let budget = self.limit.saturating_sub(self.held);
        let (index, bytes) = match self.store.index(&folder, budget).await? {
            Fetched::Missing => return Ok(None),
            Fetched::Index(index, bytes) if bytes <= budget => (index, bytes),
            _ => return Err(folder_too_large(&folder, self.limit)),
        };
        self.held += bytes;
        Ok(Some(Frame {
            path: path.to_string(),
            entries: index.entries.into_iter(),
            bytes,
        }))
    }

    /// Whether any key lies under the folder at `path` (empty folders, which a store keeps
    /// after the last key in them was deleted, are no common prefix on S3). Depth-first, a
    /// file found ends the search.
    async fn holds_key(&mut self, path: &str) -> Result<bool, S3Error> {
        let held_before = self.held;
        let mut pending = vec![path.to_string()];
        let mut found = false;
        while let Some(folder) = pending.pop() {
            let Some(frame) = self.fetch(&folder).await? else {
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
