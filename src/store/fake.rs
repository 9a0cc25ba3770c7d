//! An in-memory store for the tests of the walk and the bucket and object operations: files by
//! path, and empty folders; it counts the indexes read and logs the changes made, and behaves
//! as nginx does where the operations depend on it (a COPY needs its destination's folder, a
//! MOVE makes it, neither touches a folder).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;

use super::{Copied, Entry, EntryKind, Fetched, FileInfo, Index, Moved, Store};
use crate::error::{S3Error, S3ErrorCode};

/// Files (`bkt/a/b`) and folders (`bkt/a/`); every file's parents exist.
#[derive(Default)]
pub struct FakeStore {
    pub paths: Mutex<BTreeSet<String>>,
    pub indexes_read: Mutex<Vec<String>>,
    /// The bytes of files that have any (others are empty).
    pub contents: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Every change asked for, in order: `DELETE path`, `COPY from to`, `MOVE from to`,
    /// `MKCOL folder`.
    pub changes: Mutex<Vec<String>>,
    /// A method whose calls fail (the store is down for it).
    pub failing: Mutex<Option<&'static str>>,
    /// Files' and folders' modification times, where set (else 1,700,000,000).
    pub mtimes: Mutex<BTreeMap<String, i64>>,
}

/// The bytes an entry takes in nginx's JSON, about.
pub const ENTRY_BYTES: usize = 80;

impl FakeStore {
    pub fn with(files: &[&str]) -> FakeStore {
        let store = FakeStore::default();
        for f in files {
            store.add(f);
        }
        store
    }

    pub fn add(&self, path: &str) {
        let mut paths = self.paths.lock().unwrap();
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            paths.insert(path[..at + i + 1].to_string());
            at += i + 1;
        }
        paths.insert(path.to_string());
    }

    /// The folder indexes read since the last call, but the ETag records' (`etags`).
    pub fn reads(&self) -> Vec<String> {
        let reads = std::mem::take(&mut *self.indexes_read.lock().unwrap());
        let records = format!("{}/etags/", super::RESERVED_SEGMENT);
        reads
            .into_iter()
            .filter(|r| !r.starts_with(&records))
            .collect()
    }

    pub fn add_with(&self, path: &str, bytes: &[u8]) {
        self.add(path);
        self.contents
            .lock()
            .unwrap()
            .insert(path.to_string(), bytes.to_vec());
    }

    /// Store a file with these bytes (`add_with`).
    pub fn put(&self, path: &str, contents: &[u8]) {
        self.add_with(path, contents);
    }

    /// A file's bytes, `None` if there is no such file.
    pub fn read(&self, path: &str) -> Option<Bytes> {
        self.is_file(path).then(|| Bytes::from(self.bytes(path)))
    }

    pub fn has(&self, path: &str) -> bool {
        self.paths.lock().unwrap().contains(path)
    }

    pub fn bytes(&self, path: &str) -> Vec<u8> {
        let contents = self.contents.lock().unwrap();
        contents.get(path).cloned().unwrap_or_default()
    }

    pub fn changes(&self) -> Vec<String> {
        std::mem::take(&mut self.changes.lock().unwrap())
    }

    fn change(&self, method: &'static str, what: String) -> Result<(), S3Error> {
        self.changes
            .lock()
            .unwrap()
            .push(format!("{method} {what}"));
        if *self.failing.lock().unwrap() == Some(method) {
            return Err(S3Error::new(S3ErrorCode::InternalError, "the store failed"));
        }
        Ok(())
    }

    fn is_file(&self, path: &str) -> bool {
        !path.ends_with('/') && self.has(path)
    }
}

/// The folder a path is in (`bkt/a/b` → `bkt/a/`).
fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..=i])
}

#[async_trait]
impl Store for FakeStore {
    async fn index(&self, folder: &str, budget: usize) -> Result<Fetched, S3Error> {
        self.indexes_read.lock().unwrap().push(folder.to_string());
        let paths = self.paths.lock().unwrap();
        if !folder.is_empty() && !paths.contains(folder) {
            return Ok(Fetched::Missing);
        }
        let mut entries = Vec::new();
        for p in paths
            .iter()
            .filter(|p| p.starts_with(folder) && p.len() > folder.len())
        {
            let rest = &p[folder.len()..];
            let (name, kind) = match rest.find('/') {
                Some(i) if i + 1 == rest.len() => (&rest[..i], EntryKind::Folder),
                Some(_) => continue,
                None => (rest, EntryKind::File),
            };
            if name.starts_with('.') {
                continue;
            }
            let size = match kind {
                EntryKind::File => self
                    .contents
                    .lock()
                    .unwrap()
                    .get(p.as_str())
                    .map_or(3, |c| c.len() as u64),
                EntryKind::Folder => 0,
            };
            let mtime = self.mtimes.lock().unwrap().get(p.as_str()).copied();
            entries.push(Entry {
                name: name.to_string(),
                kind,
                mtime: mtime.unwrap_or(1_700_000_000),
                size,
            });
        }
        let bytes = 2 + entries.len() * ENTRY_BYTES;
        if bytes > budget {
            return Ok(Fetched::TooLarge);
        }
        entries.sort_by(Entry::s3_order);
        Ok(Fetched::Index(Index { entries }, bytes))
    }

    async fn folder_exists(&self, folder: &str) -> Result<bool, S3Error> {
        Ok(self.paths.lock().unwrap().contains(folder))
    }

    async fn make_folder(&self, folder: &str) -> Result<bool, S3Error> {
        self.change("MKCOL", folder.to_string())?;
        Ok(self.paths.lock().unwrap().insert(folder.to_string()))
    }

    async fn delete_folder(&self, folder: &str) -> Result<(), S3Error> {
        self.paths
            .lock()
            .unwrap()
            .retain(|p| !p.starts_with(folder));
        self.contents
            .lock()
            .unwrap()
            .retain(|p, _| !p.starts_with(folder));
        Ok(())
    }

    async fn delete_file(&self, path: &str) -> Result<bool, S3Error> {
        self.change("DELETE", path.to_string())?;
        if !self.is_file(path) {
            return Ok(false);
        }
        self.paths.lock().unwrap().remove(path);
        self.contents.lock().unwrap().remove(path);
        Ok(true)
    }

    async fn copy_file(&self, from: &str, to: &str) -> Result<Copied, S3Error> {
        self.change("COPY", format!("{from} {to}"))?;
        if !self.is_file(from) {
            return Ok(Copied::NoSource);
        }
        if !self.has(parent(to)) {
            return Ok(Copied::NotWritten);
        }
        let bytes = self.bytes(from);
        self.add_with(to, &bytes);
        Ok(Copied::Done)
    }

    async fn move_file(&self, from: &str, to: &str) -> Result<Moved, S3Error> {
        self.change("MOVE", format!("{from} {to}"))?;
        if self.has(&format!("{to}/")) {
            return Ok(Moved::FolderInTheWay);
        }
        if !self.is_file(from) {
            return Ok(Moved::NoSource);
        }
        let bytes = self.bytes(from);
        self.paths.lock().unwrap().remove(from);
        self.contents.lock().unwrap().remove(from);
        self.add_with(to, &bytes);
        Ok(Moved::Done)
    }

    async fn read_file(&self, path: &str, budget: usize) -> Result<Option<Bytes>, S3Error> {
        match self.read(path) {
            Some(bytes) if bytes.len() > budget => Err(S3Error::internal()),
            found => Ok(found),
        }
    }

    async fn write_file(&self, path: &str, contents: Bytes) -> Result<(), S3Error> {
        self.change("PUT", path.to_string())?;
        self.put(path, &contents);
        Ok(())
    }

    async fn concatenate(
        &self,
        sources: &[String],
        destination: &str,
        length: u64,
        mtime: i64,
    ) -> Result<(), S3Error> {
        let mut whole = Vec::new();
        for source in sources {
            let bytes = self
                .read(source)
                .ok_or_else(|| S3Error::new(S3ErrorCode::NoSuchKey, source.clone()))?;
            whole.extend_from_slice(&bytes);
        }
        if whole.len() as u64 != length {
            return Err(S3Error::backend_failed());
        }
        self.put(destination, &whole);
        self.mtimes
            .lock()
            .unwrap()
            .insert(destination.to_string(), mtime);
        Ok(())
    }

    async fn file_info(&self, path: &str) -> Result<Option<FileInfo>, S3Error> {
        Ok(self.is_file(path).then(|| FileInfo {
            etag: format!("\"{:x}-{:x}\"", 1_700_000_000, self.bytes(path).len()),
            mtime: 1_700_000_000,
        }))
    }
}
