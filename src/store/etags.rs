//! ETag records: what S3 would answer as an object's ETag (the MD5 of a PUT's payload, the
//! multipart ETag of a Complete), kept on a plain store beside nginx's own, so that listings
//! carry it. Sync tools compare it with their local MD5: with nginx's `"<mtime>-<size>"` s3cmd
//! compares sizes only (a change at the same size is never uploaded) and rclone uploads
//! everything again.
//!
//! A record is an empty file in the object folder's mirror under the reserved segment,
//! `/.s3-auth-proxy/etags/<bucket>/<folder…>/`, named
//! `<name hash>.<etag>.<mtime hex>-<size hex>`: the first 16 hex digits of the SHA-256 of the
//! object's name in its folder (names can be as long as a file name may be, the record's must
//! fit too), the ETag without quotes, and the object's modification time and size as nginx
//! lists them. The proxy sets the modification time itself (nginx's WebDAV PUT takes it from
//! the request's `Date`), so it knows it before the object is stored. A listing reads the
//! mirror's index beside each folder's and takes a record only when its hash, mtime and size
//! match the listed file and no other record of that file names another ETag; anything else
//! (no record, an object changed behind the proxy's back, two writers in one second) shows
//! nginx's ETag, as before. Records are hints: stale ones are deleted by the listings that
//! see them, and a mirror folder whose index grows past the listing budget is deleted whole.
//!
//! A mirror's records are kept in memory for [`RECORDS_TTL`] ([`RecordsCache`]), so the pages
//! of one listing read the records once, not once per page (nginx builds each index whole:
//! reading both per page costs twice nginx's work). A cached set can only miss records written
//! since, never name a wrong ETag: a record still needs the listed file's mtime and size. A
//! replica forgets a folder's set when it writes a record there, so its own writes show at
//! once; another replica's show within [`RECORDS_TTL`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::index::{Entry, EntryKind, Index};
use super::RESERVED_SEGMENT;

/// The mirror folder of a bucket's folder (`folder`: `""` for the bucket, `a/b/` below).
pub fn records_folder(bucket: &str, folder: &str) -> String {
    format!("{RESERVED_SEGMENT}/etags/{bucket}/{folder}")
}

/// The mirror of a whole bucket.
pub fn bucket_records(bucket: &str) -> String {
    records_folder(bucket, "")
}

fn name_hash(name: &str) -> String {
    hex::encode(&Sha256::digest(name.as_bytes())[..8])
}

/// Whether an ETag (unquoted) can be recorded: an MD5, or a multipart ETag (`<md5>-<parts>`).
fn is_s3_etag(etag: &str) -> bool {
    let (md5, parts) = match etag.split_once('-') {
        Some((md5, parts)) => (md5, Some(parts)),
        None => (etag, None),
    };
    let hex = md5.len() == 32
        && md5
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let parts_ok = parts
        .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    hex && parts_ok
}

/// The path of the record of `bucket/key` stored with this ETag (unquoted), mtime and size;
/// `None` for an ETag that is no S3 ETag.
pub fn record_path(bucket: &str, key: &str, etag: &str, mtime: i64, size: u64) -> Option<String> {
    if !is_s3_etag(etag) {
        return None;
    }
    let (folder, name) = match key.rfind('/') {
        Some(i) => (&key[..=i], &key[i + 1..]),
        None => ("", key),
    };
    Some(format!(
        "{}{}.{etag}.{mtime:x}-{size:x}",
        records_folder(bucket, folder),
        name_hash(name)
    ))
}

/// One record as its name says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    etag: String,
    mtime: i64,
    size: u64,
    file: String,
}

fn parse_record(file: &str) -> Option<(String, Record)> {
    let mut fields = file.splitn(3, '.');
    let (hash, etag, stamp) = (fields.next()?, fields.next()?, fields.next()?);
    if hash.len() != 16 || !is_s3_etag(etag) {
        return None;
    }
    let (mtime, size) = stamp.split_once('-')?;
    let record = Record {
        etag: etag.to_string(),
        mtime: i64::from_str_radix(mtime, 16).ok()?,
        size: u64::from_str_radix(size, 16).ok()?,
        file: file.to_string(),
    };
    Some((hash.to_string(), record))
}

/// The records of one folder, by name hash.
#[derive(Debug, Default)]
pub struct Records {
    by_hash: HashMap<String, Vec<Record>>,
}

impl Records {
    /// How many records there are.
    pub fn len(&self) -> usize {
        self.by_hash.values().map(Vec::len).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The records a mirror folder's index lists.
    pub fn from_index(index: &Index) -> Records {
        let mut by_hash: HashMap<String, Vec<Record>> = HashMap::new();
        let files = index.entries.iter().filter(|e| e.kind == EntryKind::File);
        for (hash, record) in files.filter_map(|e| parse_record(&e.name)) {
            by_hash.entry(hash).or_default().push(record);
        }
        Records { by_hash }
    }

    /// The recorded ETag of a listed file (quoted), if exactly one ETag is recorded for its
    /// name, mtime and size.
    pub fn etag_of(&self, entry: &Entry) -> Option<String> {
        let candidates = self.by_hash.get(&name_hash(&entry.name))?;
        let mut matching = candidates
            .iter()
            .filter(|r| r.mtime == entry.mtime && r.size == entry.size);
        let first = matching.next()?;
        if matching.any(|r| r.etag != first.etag) {
            return None;
        }
        Some(format!("\"{}\"", first.etag))
    }

    /// The records no file of `entries` (the folder's whole index) matches: left by objects
    /// overwritten or deleted since.
    pub fn stale(&self, entries: &[Entry]) -> Vec<String> {
        let live: HashMap<String, &Entry> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| (name_hash(&e.name), e))
            .collect();
        let mut stale = Vec::new();
        for (hash, records) in &self.by_hash {
            for record in records {
                let current = live
                    .get(hash)
                    .is_some_and(|e| e.mtime == record.mtime && e.size == record.size);
                if !current {
                    stale.push(record.file.clone());
                }
            }
        }
        stale.sort();
        stale
    }
}

/// How long a mirror folder's records are reused.
pub const RECORDS_TTL: Duration = Duration::from_secs(2);

/// The most records held in memory (about 100 bytes each).
const RECORDS_CACHE_CAPACITY: u64 = 500_000;

/// Recently read record sets, by mirror folder.
pub struct RecordsCache {
    sets: moka::sync::Cache<String, Arc<Records>>,
}

impl Default for RecordsCache {
    fn default() -> Self {
        RecordsCache {
            sets: moka::sync::Cache::builder()
                .max_capacity(RECORDS_CACHE_CAPACITY)
                .weigher(|_, records: &Arc<Records>| {
                    u32::try_from(records.len().max(1)).unwrap_or(u32::MAX)
                })
                .time_to_live(RECORDS_TTL)
                .build(),
        }
    }
}

impl RecordsCache {
    /// The records of a mirror folder read within the last [`RECORDS_TTL`].
    pub fn get(&self, mirror: &str) -> Option<Arc<Records>> {
        self.sets.get(mirror)
    }

    /// Forget the records of the folder of `bucket/key`: one was just written there.
    pub fn forget(&self, bucket: &str, key: &str) {
        let folder = key.rfind('/').map_or("", |i| &key[..=i]);
        self.sets.invalidate(&records_folder(bucket, folder));
    }

    /// Keep the records just read.
    pub fn insert(&self, mirror: String, records: Arc<Records>) {
        self.sets.insert(mirror, records);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, mtime: i64, size: u64) -> Entry {
        Entry {
            name: name.into(),
            kind: EntryKind::File,
            mtime,
            size,
        }
    }

    fn index_of(paths: &[String]) -> Index {
        let entries = paths
            .iter()
            .map(|p| entry(p.rsplit('/').next().unwrap(), 1, 0))
            .collect();
        Index { entries }
    }

    const MD5: &str = "5d41402abc4b2a76b9719d911017c592";

    #[test]
    fn a_record_is_found_for_its_file_only() {
        let path = record_path("bkt", "a/b/hello.txt", MD5, 0x6745_a2b1, 5).unwrap();
        assert!(path.starts_with(".s3-auth-proxy/etags/bkt/a/b/"), "{path}");
        assert!(path.ends_with(&format!(".{MD5}.6745a2b1-5")), "{path}");
        let records = Records::from_index(&index_of(&[path]));
        let file = entry("hello.txt", 0x6745_a2b1, 5);
        assert_eq!(records.etag_of(&file), Some(format!("\"{MD5}\"")));
        // Changed since (another time or size), or another name: nginx's ETag is shown.
        assert_eq!(records.etag_of(&entry("hello.txt", 0x6745_a2b2, 5)), None);
        assert_eq!(records.etag_of(&entry("hello.txt", 0x6745_a2b1, 6)), None);
        assert_eq!(records.etag_of(&entry("hello.txT", 0x6745_a2b1, 5)), None);
        assert_eq!(
            records.stale(std::slice::from_ref(&file)),
            Vec::<String>::new()
        );
        assert_eq!(records.stale(&[entry("hello.txt", 9, 5)]).len(), 1);
    }

    #[test]
    fn two_writers_in_one_second_record_nothing_certain() {
        let one = record_path("bkt", "k", MD5, 7, 5).unwrap();
        let other = record_path("bkt", "k", "0123456789abcdef0123456789abcdef", 7, 5).unwrap();
        let records = Records::from_index(&index_of(&[one.clone(), other]));
        assert_eq!(records.etag_of(&entry("k", 7, 5)), None);
        let same = Records::from_index(&index_of(&[one.clone(), one]));
        assert_eq!(same.etag_of(&entry("k", 7, 5)), Some(format!("\"{MD5}\"")));
    }

    #[test]
    fn only_s3_etags_are_recorded() {
        let multipart = format!("{MD5}-12");
        assert!(record_path("bkt", "k", &multipart, 1, 1).is_some());
        for bad in [
            "",
            "abc",
            "6745a2b1-5",
            &format!("{MD5}-"),
            &format!("{MD5}.x"),
            &MD5.to_uppercase(),
        ] {
            assert_eq!(record_path("bkt", "k", bad, 1, 1), None, "{bad}");
        }
        // Names that are not records are ignored.
        let index = index_of(&[
            "upload.json".into(),
            format!("zz.{MD5}.1-1"),
            "a.b.c".into(),
        ]);
        assert!(Records::from_index(&index).by_hash.is_empty());
    }
}
