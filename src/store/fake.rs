//! An in-memory store for the tests of the walk and the bucket operations: files by path, and
//! empty folders; it counts the indexes read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;

use super::{Entry, EntryKind, Fetched, Index, Store};
use crate::error::S3Error;

/// Files (`bkt/a/b`) and folders (`bkt/a/`); every file's parents exist.
#[derive(Default)]
pub struct FakeStore {
    pub paths: Mutex<BTreeSet<String>>,
    pub indexes_read: Mutex<Vec<String>>,
    /// The bytes of files written with `write_file`, `move_file` or `concatenate` (others
    /// hold three bytes).
    pub contents: Mutex<BTreeMap<String, Bytes>>,
    /// Files' modification times, where set (else 1,700,000,000).
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

    pub fn put(&self, path: &str, contents: &[u8]) {
        self.add(path);
        self.contents
            .lock()
            .unwrap()
            .insert(path.to_string(), Bytes::copy_from_slice(contents));
    }

    pub fn read(&self, path: &str) -> Option<Bytes> {
        if !self.paths.lock().unwrap().contains(path) {
            return None;
        }
        let contents = self.contents.lock().unwrap();
        Some(
            contents
                .get(path)
                .cloned()
                .unwrap_or_else(|| Bytes::from_static(b"abc")),
        )
    }

    pub fn reads(&self) -> Vec<String> {
        std::mem::take(&mut self.indexes_read.lock().unwrap())
    }
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

    async fn read_file(&self, path: &str, budget: usize) -> Result<Option<Bytes>, S3Error> {
        match self.read(path) {
            Some(bytes) if bytes.len() > budget => Err(S3Error::internal()),
            found => Ok(found),
        }
    }

    async fn write_file(&self, path: &str, contents: Bytes) -> Result<(), S3Error> {
        self.put(path, &contents);
        Ok(())
    }

    async fn move_file(&self, from: &str, to: &str) -> Result<bool, S3Error> {
        let Some(bytes) = self.read(from) else {
            return Ok(false);
        };
        self.paths.lock().unwrap().remove(from);
        self.contents.lock().unwrap().remove(from);
        self.put(to, &bytes);
        Ok(true)
    }

    async fn concatenate(
        &self,
        sources: &[String],
        destination: &str,
        length: u64,
    ) -> Result<(), S3Error> {
        let mut whole = Vec::new();
        for source in sources {
            let bytes = self.read(source).ok_or_else(|| {
                S3Error::new(crate::error::S3ErrorCode::NoSuchKey, source.clone())
            })?;
            whole.extend_from_slice(&bytes);
        }
        if whole.len() as u64 != length {
            return Err(S3Error::backend_failed());
        }
        self.put(destination, &whole);
        Ok(())
    }
}
