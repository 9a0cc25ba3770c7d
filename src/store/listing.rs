//! ListObjects (V1) and ListObjectsV2: their parameters, and the page built from keys offered
//! in S3's order. Pure: the walk over the store's folders (`walk`) offers the keys.
//!
//! One rule decides where a page starts: an item (a key, or a common prefix standing for every
//! key under it) is listed only if it sorts after the start position (`marker`, `start-after`,
//! or the continuation token, which is the last item of the page before). A page that ended on
//! the common prefix `photos/` therefore resumes after every key under it.

use base64::Engine;

use crate::error::{S3Error, S3ErrorCode};
use crate::request::Query;

/// S3's largest (and default) page.
pub const MAX_KEYS: usize = 1000;

/// Which ListObjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `GET /bucket` (`marker`, `NextMarker`, always an `Owner`).
    V1,
    /// `GET /bucket?list-type=2` (`continuation-token`, `start-after`, `fetch-owner`).
    V2,
    /// `GET /bucket?versions` (ListObjectVersions: `key-marker`; a plain store keeps one
    /// version of each key, whose id is `null`, as on a bucket versioning was never enabled).
    Versions,
}

/// The parameters of a listing, read from the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// V1 or V2.
    pub version: Version,
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to the first occurrence of this after the prefix; `None` for an absent or
    /// empty `delimiter=` (minio-go, minio-py and rclone send it empty for recursive listings).
    pub delimiter: Option<String>,
    /// At most this many items (keys and common prefixes), 0..=1000.
    pub max_keys: usize,
    /// `encoding-type=url`: keys and prefixes in the answer are URL-encoded.
    pub url_encoding: bool,
    /// V1 `marker`, or ListObjectVersions' `key-marker` (as given, echoed).
    pub marker: Option<String>,
    /// V2 `start-after` (as given, echoed).
    pub start_after: Option<String>,
    /// V2 `continuation-token` (as given, echoed).
    pub continuation_token: Option<String>,
    /// Owners in the answer: V2 `fetch-owner=true`, always in V1.
    pub fetch_owner: bool,
}

impl ListParams {
    /// Read the listing parameters of `GET /bucket[?list-type=2]` or `GET /bucket?versions`.
    pub fn parse(query: &Query) -> Result<ListParams, S3Error> {
        let version = match (query.has("versions"), query.get("list-type")) {
            (true, None) => Version::Versions,
            (false, None) => Version::V1,
            (false, Some("2")) => Version::V2,
            (_, Some(other)) => return Err(invalid(format!("list-type={other} is not 2."))),
        };
        if version == Version::Versions {
            // Every key has the one version `null`: a page resumes after the key marker
            // whatever the version marker says, but an unknown version id is S3's error.
            match query.get("version-id-marker") {
                None | Some("") | Some("null") => {}
                Some(_) => return Err(invalid("Invalid version id specified".into())),
            }
        }
        let max_keys = match query.get("max-keys") {
            None => MAX_KEYS,
            Some(text) => text
                .parse::<u64>()
                .map_err(|_| invalid("max-keys must be a non-negative integer.".into()))?
                .min(MAX_KEYS as u64) as usize,
        };
        let url_encoding = match query.get("encoding-type") {
            None => false,
            Some("url") => true,
            Some(_) => {
                return Err(invalid(
                    "Invalid Encoding Method specified in Request".into(),
                ))
            }
        };
        let v2 = |name: &str| {
            (version == Version::V2)
                .then(|| query.get(name).map(str::to_string))
                .flatten()
        };
        let params = ListParams {
            version,
            prefix: query.get("prefix").unwrap_or("").to_string(),
            delimiter: query
                .get("delimiter")
                .filter(|d| !d.is_empty())
                .map(str::to_string),
            max_keys,
            url_encoding,
            marker: match version {
                Version::V1 => query.get("marker").map(str::to_string),
                Version::Versions => query.get("key-marker").map(str::to_string),
                Version::V2 => None,
            },
            start_after: v2("start-after"),
            continuation_token: v2("continuation-token"),
            fetch_owner: version != Version::V2 || query.get("fetch-owner") == Some("true"),
        };
        params.start()?;
        Ok(params)
    }

    /// Where the page starts: items sorting after this are listed. The continuation token
    /// wins over `start-after`, as on S3.
    pub fn start(&self) -> Result<Option<String>, S3Error> {
        if let Some(token) = &self.continuation_token {
            return decode_token(token).map(Some);
        }
        Ok(self.marker.clone().or_else(|| self.start_after.clone()))
    }
}

fn invalid(message: String) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
}

/// The continuation token of a page that ended on `last`: the item itself, base64 (S3's
/// tokens are opaque; this one only says where to resume, which the scopes already cover:
/// the prefix is checked on every request).
pub fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last.as_bytes())
}

fn decode_token(token: &str) -> Result<String, S3Error> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| invalid("The continuation token provided is incorrect".into()))
}

/// A listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectItem {
    /// The full key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Quoted ETag.
    pub etag: String,
}

/// One item of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An object.
    Object(ObjectItem),
    /// A common prefix, standing for every key under it.
    Prefix(String),
}

impl Item {
    /// The key or the prefix: what the start position is compared with.
    pub fn name(&self) -> &str {
        match self {
            Item::Object(o) => &o.key,
            Item::Prefix(p) => p,
        }
    }
}

/// What to do with a folder met on the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderStep {
    /// No key under it belongs to the page.
    Skip,
    /// Read it: its keys may be listed one by one.
    Descend,
    /// Every key under it rolls up into this common prefix: list it if the folder holds a key.
    RollUp(String),
}

/// Whether more items may be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    /// Go on.
    More,
    /// The page is full and one more item exists: it is truncated, stop.
    Full,
}

/// A page being built from keys offered in S3's order.
#[derive(Debug)]
pub struct Page {
    prefix: String,
    delimiter: Option<String>,
    start: Option<String>,
    max_keys: usize,
    /// The items, in order.
    pub items: Vec<Item>,
    /// More items follow the last one.
    pub truncated: bool,
}

impl Page {
    /// An empty page for these parameters.
    pub fn new(params: &ListParams) -> Result<Page, S3Error> {
        Ok(Page {
            prefix: params.prefix.clone(),
            delimiter: params.delimiter.clone(),
            start: params.start()?,
            max_keys: params.max_keys,
            items: Vec::new(),
            truncated: false,
        })
    }

    /// The listing's prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `name` (a key or a prefix) sorts after the start position.
    fn after_start(&self, name: &str) -> bool {
        self.start.as_deref().is_none_or(|s| name > s)
    }

    /// The common prefix `path` (a key, or a folder's `a/b/`) rolls up into, if the part after
    /// the listing's prefix holds the delimiter.
    fn roll_up(&self, path: &str) -> Option<String> {
        let d = self.delimiter.as_deref()?;
        let rest = path.strip_prefix(self.prefix.as_str())?;
        let at = rest.find(d)?;
        Some(path[..self.prefix.len() + at + d.len()].to_string())
    }

    /// What to do with the folder whose keys all start with `path` (ending in `/`).
    pub fn folder_step(&self, path: &str) -> FolderStep {
        let related = path.starts_with(&self.prefix) || self.prefix.starts_with(path);
        // Every key under it sorts before the start: they all start with `path`, and `start`
        // is greater at a byte within `path`.
        let before_start = self
            .start
            .as_deref()
            .is_some_and(|s| s > path && !s.starts_with(path));
        if !related || before_start {
            return FolderStep::Skip;
        }
        match self.roll_up(path) {
            Some(common) if !self.after_start(&common) || self.is_last(&common) => FolderStep::Skip,
            Some(common) => FolderStep::RollUp(common),
            None => FolderStep::Descend,
        }
    }

    fn is_last(&self, name: &str) -> bool {
        self.items.last().is_some_and(|item| item.name() == name)
    }

    /// Offer an object (in S3's order). Keys outside the prefix, not after the start or
    /// rolling up into the prefix just listed are passed over.
    pub fn offer_object(&mut self, object: ObjectItem) -> Offer {
        if !object.key.starts_with(&self.prefix) {
            return Offer::More;
        }
        match self.roll_up(&object.key) {
            Some(common) => self.offer_prefix(common),
            None if self.after_start(&object.key) => self.push(Item::Object(object)),
            None => Offer::More,
        }
    }

    /// Offer a common prefix (that at least one key rolls up into).
    pub fn offer_prefix(&mut self, common: String) -> Offer {
        if !self.after_start(&common) || self.is_last(&common) {
            return Offer::More;
        }
        self.push(Item::Prefix(common))
    }

    fn push(&mut self, item: Item) -> Offer {
        if self.max_keys == 0 {
            // S3 answers `max-keys=0` with an empty page that is not truncated.
            return Offer::Full;
        }
        if self.items.len() >= self.max_keys {
            self.truncated = true;
            return Offer::Full;
        }
        self.items.push(item);
        Offer::More
    }

    /// The continuation token / `NextMarker` of a truncated page: its last item.
    pub fn next_start(&self) -> Option<&str> {
        self.truncated
            .then(|| self.items.last().map(Item::name))
            .flatten()
    }
}

#[cfg(test)]
mod tests;
