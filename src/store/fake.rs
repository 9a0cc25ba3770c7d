//! An in-memory store for the tests of the walk and the bucket operations: files by path, and
//! empty folders; it counts the indexes read.

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Entry, EntryKind, Fetched, Index, Store};
use crate::error::S3Error;

/// Files (`bkt/a/b`) and folders (`bkt/a/`); every file's parents exist.
#[derive(Default)]
pub struct FakeStore {
    pub paths: Mutex<BTreeSet<String>>,
    pub indexes_read: Mutex<Vec<String>>,
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
            entries.push(Entry {
                name: name.to_string(),
                kind,
                mtime: 1_700_000_000,
                size: if kind == EntryKind::File { 3 } else { 0 },
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
        Ok(())
    }
}
