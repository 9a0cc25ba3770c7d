//! One folder of the store as nginx lists it (`autoindex on; autoindex_format json;`), and the
//! order S3 lists keys in.
//!
//! nginx answers `GET /bkt/dir/` with a JSON array of
//! `{ "name":"a b", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":5 }` and
//! `{ "name":"sub", "type":"directory", "mtime":"…" }`; names are the file names, JSON-escaped;
//! names starting with `.` are never listed (nginx's autoindex skips them).

use std::cmp::Ordering;
use std::time::UNIX_EPOCH;

use serde::Deserialize;

use crate::error::{S3Error, S3ErrorCode};

/// What a folder entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// An object.
    File,
    /// A folder: a part of longer keys (S3 has no folders).
    Folder,
}

/// One entry of a folder's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file or folder name (one key segment, no `/`).
    pub name: String,
    /// File or folder.
    pub kind: EntryKind,
    /// Last modification, in whole seconds since the Unix epoch (what nginx gives).
    pub mtime: i64,
    /// Size in bytes (0 for folders).
    pub size: u64,
}

impl Entry {
    /// S3's order of the keys under two entries of one folder: a folder stands for the keys
    /// `name/…`, so it sorts as `name/`. Walking folders depth-first in this order yields keys
    /// in UTF-8 binary order of the full key (`a-b` < `a/x` < `a0`), as S3 lists them: every
    /// key under folder `d` starts with `d/`, and a sibling name (without `/`) never has `d/`
    /// as a prefix, so the first differing byte is the same for all of them.
    pub fn s3_order(&self, other: &Entry) -> Ordering {
        self.sort_bytes().cmp(other.sort_bytes())
    }

    fn sort_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let slash = (self.kind == EntryKind::Folder).then_some(b'/');
        self.name.bytes().chain(slash)
    }

    /// The ETag of a listed object: nginx's own ETag for the file (`"<mtime hex>-<size hex>"`,
    /// what a GET or HEAD of the object answers), quoted. Not the MD5 of the content: the store
    /// does not keep one.
    pub fn etag(&self) -> String {
        format!("\"{:x}-{:x}\"", self.mtime, self.size)
    }
}

/// The index of one folder: its entries in S3's order.
#[derive(Debug, Default)]
pub struct Index {
    /// The entries, sorted with [`Entry::s3_order`].
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
struct RawEntry {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    mtime: String,
    #[serde(default)]
    size: u64,
}

impl Index {
    /// Read nginx's JSON index of a folder. Entries that are neither files nor folders
    /// (`"type":"other"`: sockets, devices) and names no key could have (empty, `.`, `..`, a
    /// `/`) are left out.
    pub fn parse(json: &[u8]) -> Result<Index, S3Error> {
        let raw: Vec<RawEntry> = serde_json::from_slice(json).map_err(|e| {
            S3Error::new(
                S3ErrorCode::BadGateway,
                format!(
                    "The backend's folder index is not nginx's autoindex JSON ({e}): {:?}",
                    String::from_utf8_lossy(&json[..json.len().min(120)])
                ),
            )
        })?;
        let mut entries = Vec::with_capacity(raw.len());
        for r in raw {
            let kind = match r.kind.as_str() {
                "file" => EntryKind::File,
                "directory" => EntryKind::Folder,
                _ => continue,
            };
            if r.name.is_empty() || r.name == "." || r.name == ".." || r.name.contains('/') {
                continue;
            }
            entries.push(Entry {
                name: r.name,
                kind,
                mtime: parse_mtime(&r.mtime)?,
                size: if kind == EntryKind::File { r.size } else { 0 },
            });
        }
        entries.sort_by(Entry::s3_order);
        Ok(Index { entries })
    }
}

/// nginx's `mtime` (an HTTP date, whole seconds) as seconds since the epoch.
fn parse_mtime(text: &str) -> Result<i64, S3Error> {
    httpdate::parse_http_date(text)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .ok_or_else(|| {
            S3Error::new(
                S3ErrorCode::BadGateway,
                format!("The backend's folder index has an unreadable mtime {text:?}."),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(index: &Index) -> Vec<String> {
        index
            .entries
            .iter()
            .map(|e| match e.kind {
                EntryKind::File => e.name.clone(),
                EntryKind::Folder => format!("{}/", e.name),
            })
            .collect()
    }

    #[test]
    fn nginx_json_is_read_and_sorted_in_s3_order() {
        let json = br#"[
{ "name":"a0", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":1 },
{ "name":"a", "type":"directory", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT" },
{ "name":"a-b", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":2 },
{ "name":"\u00e9t\u00e9", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":3 },
{ "name":"z", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":4 },
{ "name":"ctl\u0001\"\\", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":5 },
{ "name":"sock", "type":"other", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT" }
]"#;
        let index = Index::parse(json).unwrap();
        assert_eq!(
            names(&index),
            ["a-b", "a/", "a0", "ctl\u{1}\"\\", "z", "été"],
            "UTF-8 binary order, a folder as name/"
        );
        let a0 = &index.entries[2];
        assert_eq!(a0.mtime, 1796545061);
        assert_eq!(a0.size, 1);
        assert_eq!(a0.etag(), "\"6b151a25-1\"", "nginx's own ETag of the file");
    }

    #[test]
    fn a_folder_and_a_file_of_the_same_prefix_sort_by_the_slash() {
        let e = |name: &str, kind| Entry {
            name: name.into(),
            kind,
            mtime: 0,
            size: 0,
        };
        // Keys "ab/c" and "ab.txt", "ab", "ab0": '.' (0x2E) < '/' (0x2F) < '0' (0x30).
        let mut entries = [
            e("ab0", EntryKind::File),
            e("ab", EntryKind::Folder),
            e("ab.txt", EntryKind::File),
            e("ab", EntryKind::File),
        ];
        entries.sort_by(Entry::s3_order);
        let order: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
        assert_eq!(
            order,
            [
                ("ab", EntryKind::File),
                ("ab.txt", EntryKind::File),
                ("ab", EntryKind::Folder),
                ("ab0", EntryKind::File),
            ]
        );
    }

    #[test]
    fn a_broken_index_is_a_backend_failure() {
        for json in [
            &b"<html>"[..],
            b"[{\"name\":\"a\"}]",
            b"[{\"name\":\"a\",\"type\":\"file\",\"mtime\":\"yesterday\"}]",
        ] {
            assert_eq!(
                Index::parse(json).unwrap_err().code,
                S3ErrorCode::BadGateway
            );
        }
    }
}
