//! The secrets file: access keys, their secrets and what each may do; its reload while the proxy
//! runs; and the cache of derived signing keys.
//!
//! ```toml
//! [[credentials]]
//! access_key = "AKIAIOSFODNN7EXAMPLE"
//! secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
//! allow = ["read:public/*", "write:uploads/incoming/*"]   # optional; absent = everything
//! ```
//!
//! The file is read again **by path** on every poll. Kubernetes mounts a Secret as a symlink
//! `secrets.toml → ..data/secrets.toml` and updates it by pointing `..data` at a new directory:
//! the inode changes, so an open descriptor or an inode watch would keep seeing the old secrets.
//!
//! Errors never quote the file's text: a TOML error excerpt could be the line with a secret.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use toml::Spanned;
use zeroize::Zeroize;

use crate::auth::sigv4::signing::{derive_signing_key, SigningKey};
use crate::auth::{Action, Reach, Scopes, SigningKeys};

/// Largest secrets file read. Tens of thousands of credentials fit; anything bigger is not a
/// secrets file, and reading it whole every poll would cost memory for nothing.
pub const MAX_SECRETS_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Most derived signing keys kept. One key serves one access key for one day and region, so this
/// covers thousands of active clients; beyond it moka evicts the least useful.
pub const SIGNING_KEY_CACHE_CAPACITY: u64 = 10_000;

/// A secret access key. Redacted in `Debug`, zeroed when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wrap a secret.
    pub fn new(secret: String) -> SecretKey {
        SecretKey(secret)
    }

    /// The secret itself, for deriving a signing key. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// An IAM-style resource pattern: `*` matches any run of characters **including `/`**, `?`
/// exactly one character, everything else itself.
///
/// Written here rather than taken from a glob crate because those follow shell semantics, where
/// `*` stops at `/`: `read:public/*` would then miss `public/a/b.txt`, unlike the IAM policies
/// our users already know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopePattern {
    pattern: Vec<char>,
}

impl ScopePattern {
    /// A pattern from its text.
    pub fn new(pattern: &str) -> ScopePattern {
        ScopePattern {
            pattern: pattern.chars().collect(),
        }
    }

    /// Whether the whole of `resource` matches.
    ///
    /// Greedy with one backtrack point: on a mismatch, the most recent `*` takes one more
    /// character and matching resumes after it. Earlier stars never need to be revisited (any
    /// match they could enable, the latest star can produce too), so this is O(pattern × text)
    /// at worst, without recursion.
    pub fn matches(&self, resource: &str) -> bool {
        let pattern = &self.pattern;
        // Index into the pattern, and byte index into the resource (always a char boundary).
        let mut p = 0;
        let mut t = 0;
        // (pattern index after the latest `*`, resource index where that star's match ends)
        let mut backtrack: Option<(usize, usize)> = None;
        loop {
            let next = resource[t..].chars().next();
            match (pattern.get(p), next) {
                (Some('*'), _) => {
                    p += 1;
                    backtrack = Some((p, t));
                }
                (Some('?'), Some(c)) => {
                    p += 1;
                    t += c.len_utf8();
                }
                (Some(&expected), Some(c)) if expected == c => {
                    p += 1;
                    t += c.len_utf8();
                }
                (None, None) => return true,
                _ => {
                    let Some((after_star, star_end)) = backtrack else {
                        return false;
                    };
                    let Some(c) = resource[star_end..].chars().next() else {
                        return false;
                    };
                    p = after_star;
                    t = star_end + c.len_utf8();
                    backtrack = Some((p, t));
                }
            }
        }
    }

    /// The pattern positions reachable after reading `text` (index `len` = the end), each
    /// `*` also standing for the empty string. An NFA run, O(pattern × text), for the questions
    /// about every or some resource that starts with `text` (listings, bucket-level requests).
    fn states_after(&self, text: &str) -> Vec<bool> {
        let pattern = &self.pattern;
        let n = pattern.len();
        let close = |states: &mut Vec<bool>| {
            // A star may match nothing: its state also stands after it (forward only).
            for i in 0..n {
                if states[i] && pattern[i] == '*' {
                    states[i + 1] = true;
                }
            }
        };
        let mut states = vec![false; n + 1];
        states[0] = true;
        close(&mut states);
        for c in text.chars() {
            let mut next = vec![false; n + 1];
            for i in (0..n).filter(|&i| states[i]) {
                match pattern[i] {
                    '*' => next[i] = true,
                    '?' => next[i + 1] = true,
                    expected if expected == c => next[i + 1] = true,
                    _ => {}
                }
            }
            close(&mut next);
            if !next.contains(&true) {
                return next;
            }
            states = next;
        }
        states
    }

    /// Whether every resource that starts with `prefix` (`prefix` itself included) matches:
    /// exactly when, after `prefix`, a star is reachable with only stars after it. Such a
    /// state takes any continuation; without one, either the empty continuation fails or
    /// (only the end reachable) any longer one does.
    pub fn matches_every_extension(&self, prefix: &str) -> bool {
        let states = self.states_after(prefix);
        (0..self.pattern.len()).any(|i| states[i] && self.pattern[i..].iter().all(|&c| c == '*'))
    }

    /// Whether at least one resource that starts with `prefix` matches.
    pub fn matches_some_extension(&self, prefix: &str) -> bool {
        self.states_after(prefix).contains(&true)
    }

    /// Whether the resources that `reach` names from `resource` match.
    pub fn reaches(&self, resource: &str, reach: Reach) -> bool {
        match reach {
            Reach::Exactly => self.matches(resource),
            Reach::EveryExtension => self.matches_every_extension(resource),
            Reach::SomeExtension => self.matches_some_extension(resource),
        }
    }
}

/// One `allow` entry: an action on the resources matching a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// What may be done.
    pub action: Action,
    /// To which `bucket/key` resources.
    pub pattern: ScopePattern,
}

impl Grant {
    /// Parse `read:<glob>` or `write:<glob>`.
    pub fn parse(entry: &str) -> Result<Grant, String> {
        let (action, glob) = if let Some(glob) = entry.strip_prefix("read:") {
            (Action::Read, glob)
        } else if let Some(glob) = entry.strip_prefix("write:") {
            (Action::Write, glob)
        } else {
            return Err(format!(
                "allow entry {entry:?} must start with \"read:\" or \"write:\""
            ));
        };
        if glob.is_empty() {
            return Err(format!(
                "allow entry {entry:?} has no resource pattern after the colon"
            ));
        }
        Ok(Grant {
            action,
            pattern: ScopePattern::new(glob),
        })
    }
}

/// What an access key may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// No `allow` key: everything.
    Everything,
    /// An `allow` list: only what one of the grants covers (nothing when empty).
    Only(Vec<Grant>),
}

/// One access key's secret and scope.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The secret access key.
    pub secret: SecretKey,
    /// What it may do.
    pub allowed: Allowed,
}

/// A validated secrets file.
#[derive(Debug, Default)]
pub struct CredentialSet {
    by_access_key: HashMap<String, Credential>,
}

impl CredentialSet {
    /// Parse and validate a secrets file's text. `origin` names the file in errors, which
    /// carry the line and column but never the text of the line.
    pub fn parse(text: &str, origin: &str) -> Result<CredentialSet, String> {
        let raw: RawSecretsFile = toml::from_str(text).map_err(|err| {
            let position = err.span().map(|span| line_and_column(text, span.start));
            match position {
                Some((line, column)) => {
                    format!("{origin}: line {line}, column {column}: {}", err.message())
                }
                None => format!("{origin}: {}", err.message()),
            }
        })?;
        let mut by_access_key: HashMap<String, Credential> = HashMap::new();
        let mut first_seen_at: HashMap<String, usize> = HashMap::new();
        for entry in raw.credentials {
            let line = line_and_column(text, entry.access_key.span().start).0;
            let access_key = entry.access_key.into_inner();
            if access_key.is_empty() {
                return Err(format!("{origin}: line {line}: access_key is empty"));
            }
            if let Some(first) = first_seen_at.get(&access_key) {
                return Err(format!(
                    "{origin}: line {line}: access key {access_key:?} is defined twice \
                     (first at line {first})"
                ));
            }
            let secret_line = line_and_column(text, entry.secret_key.span().start).0;
            let secret = SecretKey::new(entry.secret_key.into_inner());
            if secret.expose().is_empty() {
                return Err(format!(
                    "{origin}: line {secret_line}: secret_key of {access_key:?} is empty"
                ));
            }
            let allowed = match entry.allow {
                None => Allowed::Everything,
                Some(entries) => {
                    let mut grants = Vec::with_capacity(entries.len());
                    for scope in entries {
                        let scope_line = line_and_column(text, scope.span().start).0;
                        let grant = Grant::parse(scope.get_ref())
                            .map_err(|why| format!("{origin}: line {scope_line}: {why}"))?;
                        grants.push(grant);
                    }
                    Allowed::Only(grants)
                }
            };
            first_seen_at.insert(access_key.clone(), line);
            by_access_key.insert(access_key, Credential { secret, allowed });
        }
        Ok(CredentialSet { by_access_key })
    }

    /// The credential of an access key.
    pub fn get(&self, access_key: &str) -> Option<&Credential> {
        self.by_access_key.get(access_key)
    }

    /// Number of access keys.
    pub fn len(&self) -> usize {
        self.by_access_key.len()
    }

    /// No access keys at all.
    pub fn is_empty(&self) -> bool {
        self.by_access_key.is_empty()
    }

    /// Whether `access_key` may do `action` on `bucket/key` (`bucket/` for a bucket-level
    /// request). Unknown keys may do nothing.
    pub fn is_allowed(&self, access_key: &str, action: Action, bucket: &str, key: &str) -> bool {
        self.grants(
            access_key,
            action,
            &format!("{bucket}/{key}"),
            Reach::Exactly,
        )
    }

    /// Whether `access_key` may do `action` on the `bucket/key` resources `reach` names from
    /// `resource`. Unknown keys may do nothing.
    pub fn grants(&self, access_key: &str, action: Action, resource: &str, reach: Reach) -> bool {
        let Some(credential) = self.get(access_key) else {
            return false;
        };
        match &credential.allowed {
            Allowed::Everything => true,
            Allowed::Only(grants) => grants
                .iter()
                .any(|grant| grant.action == action && grant.pattern.reaches(resource, reach)),
        }
    }
}

/// The secrets file as written (stage one; [`CredentialSet::parse`] validates it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecretsFile {
    credentials: Vec<RawCredential>,
}

/// One `[[credentials]]` table as written. Spans let errors name the line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    access_key: Spanned<String>,
    secret_key: Spanned<String>,
    #[serde(default)]
    allow: Option<Vec<Spanned<String>>>,
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// What [`CredentialStore::reload_if_changed`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The file reads as it did last time (or the store has no file).
    Unchanged,
    /// New content, valid: it is now in use.
    Reloaded,
    /// New content (or a new read error) that could not be used; the last good set stays.
    Failed(String),
}

/// The key of a cached signing key. `generation` ties it to one loaded set, so a key derived
/// from an old secret can never be served after a reload, whatever the timing of threads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SigningKeyId {
    generation: u64,
    access_key: String,
    date: String,
    region: String,
    service: String,
}

/// The set in use and the generation it belongs to.
#[derive(Debug)]
struct Loaded {
    generation: u64,
    set: CredentialSet,
}

/// What the last look at the file saw, to tell a change from a repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Observation {
    /// SHA-256 of the bytes read.
    Content([u8; 32]),
    /// The file could not be read, for this reason.
    ReadError(String),
}

/// The credentials in use, reloaded from their file, with the signing-key cache and counters.
pub struct CredentialStore {
    /// `None` for a store built from text (tests).
    path: Option<PathBuf>,
    current: RwLock<Arc<Loaded>>,
    last_observation: Mutex<Option<Observation>>,
    signing_keys: moka::sync::Cache<SigningKeyId, SigningKey>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialStore")
            .field("path", &self.path)
            .field("access_keys", &self.current().set.len())
            .finish_non_exhaustive()
    }
}

impl CredentialStore {
    /// Load the secrets file at `path`. The error names the file and, for a parse error, the
    /// line; the proxy does not start without a valid file.
    pub fn load(path: PathBuf) -> Result<CredentialStore, String> {
        let mut bytes = read_secrets_file(&path)?;
        let observation = Observation::Content(Sha256::digest(&bytes).into());
        let parsed = parse_bytes(&bytes, &path);
        bytes.zeroize();
        let set = parsed?;
        let store = CredentialStore::with_set(Some(path), set);
        *lock_ignoring_poison(&store.last_observation) = Some(observation);
        Ok(store)
    }

    /// A store for a secrets file that cannot be used yet (say, a Kubernetes Secret not mounted
    /// yet): it holds no keys, so it is not ready and every request is refused, and the poller
    /// loads the file as soon as it is valid.
    pub fn pending(path: PathBuf) -> CredentialStore {
        CredentialStore::with_set(Some(path), CredentialSet::default())
    }

    /// A store from secrets-file text, never reloaded (tests, tools).
    pub fn from_toml_str(text: &str) -> Result<CredentialStore, String> {
        let set = CredentialSet::parse(text, "<inline secrets>")?;
        Ok(CredentialStore::with_set(None, set))
    }

    fn with_set(path: Option<PathBuf>, set: CredentialSet) -> CredentialStore {
        CredentialStore {
            path,
            current: RwLock::new(Arc::new(Loaded { generation: 0, set })),
            last_observation: Mutex::new(None),
            signing_keys: moka::sync::Cache::new(SIGNING_KEY_CACHE_CAPACITY),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
        }
    }

    /// The set in use now.
    fn current(&self) -> Arc<Loaded> {
        // A poisoned lock only means a thread panicked while holding it; the guarded value is
        // an `Arc` that is swapped whole, so it is never half-written.
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Read the file again and, if its content changed and is valid, use it from now on.
    ///
    /// "Changed" is measured against the last content (or read error) seen, good or bad: a
    /// broken file is reported once, not on every poll, and fixing it back to the last good
    /// content reloads it. On failure the last good set stays in use and a warning names the
    /// file and the error (which never quotes the file's text).
    pub fn reload_if_changed(&self) -> ReloadOutcome {
        let Some(path) = &self.path else {
            return ReloadOutcome::Unchanged;
        };
        let mut last_observation = lock_ignoring_poison(&self.last_observation);
        let (observation, parsed) = match read_secrets_file(path) {
            Ok(mut bytes) => {
                let observation = Observation::Content(Sha256::digest(&bytes).into());
                let parsed = if last_observation.as_ref() == Some(&observation) {
                    None
                } else {
                    Some(parse_bytes(&bytes, path))
                };
                bytes.zeroize();
                (observation, parsed)
            }
            Err(why) => {
                let observation = Observation::ReadError(why.clone());
                (observation, Some(Err(why)))
            }
        };
        if last_observation.as_ref() == Some(&observation) {
            return ReloadOutcome::Unchanged;
        }
        *last_observation = Some(observation);
        match parsed {
            // Unreachable in practice: `None` means the content equalled the last observation.
            None => ReloadOutcome::Unchanged,
            Some(Ok(set)) => {
                let count = set.len();
                {
                    let mut current = match self.current.write() {
                        Ok(guard) => guard,
                        Err(poisoned) => poisoned.into_inner(),
                    };
                    let generation = current.generation.wrapping_add(1);
                    *current = Arc::new(Loaded { generation, set });
                }
                self.signing_keys.invalidate_all();
                self.reloads_ok.fetch_add(1, Ordering::Relaxed);
                tracing::info!(file = %path.display(), access_keys = count, "secrets file reloaded");
                ReloadOutcome::Reloaded
            }
            Some(Err(why)) => {
                self.reloads_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    file = %path.display(),
                    error = %why,
                    "secrets file changed but cannot be used; keeping the last good credentials"
                );
                ReloadOutcome::Failed(why)
            }
        }
    }

    /// Start a thread that calls [`reload_if_changed`](Self::reload_if_changed) every
    /// `interval`. It holds only a weak reference and ends once the store is dropped.
    pub fn spawn_poller(self: &Arc<Self>, interval: Duration) -> std::io::Result<JoinHandle<()>> {
        let store: Weak<CredentialStore> = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("secrets-reload".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                match store.upgrade() {
                    Some(store) => {
                        store.reload_if_changed();
                    }
                    None => return,
                }
            })
    }

    /// Whether `access_key` may do `action` on `bucket/key` (`key` empty for bucket-level
    /// requests). Patterns match the key as given (the proxy passes it percent-decoded).
    pub fn is_allowed(&self, access_key: &str, action: Action, bucket: &str, key: &str) -> bool {
        self.current()
            .set
            .is_allowed(access_key, action, bucket, key)
    }

    /// Whether the set in use holds at least one access key (readiness: without one every
    /// request is refused).
    pub fn is_loaded(&self) -> bool {
        !self.current().set.is_empty()
    }

    /// Number of access keys in use.
    pub fn access_key_count(&self) -> usize {
        self.current().set.len()
    }

    /// Signing keys served from the cache.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    /// Signing keys that had to be derived.
    pub fn cache_misses(&self) -> u64 {
        self.cache_misses.load(Ordering::Relaxed)
    }

    /// Reloads that put new content in use.
    pub fn reloads_ok(&self) -> u64 {
        self.reloads_ok.load(Ordering::Relaxed)
    }

    /// Changes of the file that could not be used.
    pub fn reloads_failed(&self) -> u64 {
        self.reloads_failed.load(Ordering::Relaxed)
    }
}

impl Scopes for CredentialStore {
    fn grants(&self, access_key: &str, action: Action, resource: &str, reach: Reach) -> bool {
        self.current()
            .set
            .grants(access_key, action, resource, reach)
    }
}

impl SigningKeys for CredentialStore {
    fn signing_key(
        &self,
        access_key: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> Option<SigningKey> {
        let loaded = self.current();
        // The set decides first: a key removed by a reload is unknown at once, and unknown
        // keys never take a cache slot.
        let credential = loaded.set.get(access_key)?;
        let id = SigningKeyId {
            generation: loaded.generation,
            access_key: access_key.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        };
        if let Some(key) = self.signing_keys.get(&id) {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Some(key);
        }
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
        let key = derive_signing_key(credential.secret.expose(), date, region, service);
        self.signing_keys.insert(id, key.clone());
        Some(key)
    }
}

/// Lock a mutex; a poisoned one is still usable because its value is replaced whole.
fn lock_ignoring_poison<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Read the file at `path` (following symlinks afresh), at most [`MAX_SECRETS_FILE_BYTES`].
fn read_secrets_file(path: &Path) -> Result<Vec<u8>, String> {
    let cannot_read = |err: std::io::Error| format!("{}: cannot read: {err}", path.display());
    let file = File::open(path).map_err(cannot_read)?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRETS_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_SECRETS_FILE_BYTES {
        bytes.zeroize();
        return Err(format!(
            "{}: larger than {MAX_SECRETS_FILE_BYTES} bytes, not a secrets file",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Parse file bytes; the file must be UTF-8 (TOML is).
fn parse_bytes(bytes: &[u8], path: &Path) -> Result<CredentialSet, String> {
    let origin = path.display().to_string();
    let text = std::str::from_utf8(bytes)
        .map_err(|err| format!("{origin}: not UTF-8 (byte {})", err.valid_up_to()))?;
    CredentialSet::parse(text, &origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_covers_every_or_some_resource_under_a_prefix() {
        let every = |p: &str, prefix: &str| ScopePattern::new(p).matches_every_extension(prefix);
        let some = |p: &str, prefix: &str| ScopePattern::new(p).matches_some_extension(prefix);
        // `bkt/*` covers any listing of bkt; `bkt/photos/*` only one inside photos/.
        assert!(every("bkt/*", "bkt/"));
        assert!(every("bkt/*", "bkt/anything"));
        assert!(every("bkt/photos/*", "bkt/photos/"));
        assert!(every("bkt/photos/*", "bkt/photos/2026/"));
        assert!(!every("bkt/photos/*", "bkt/"));
        assert!(!every("bkt/photos/*", "bkt/photo"));
        assert!(
            !every("bkt/photos/*", "bkt/photos"),
            "the key 'photos' itself is outside"
        );
        assert!(every("*", ""));
        assert!(every("*/*", "bkt/"));
        assert!(!every("*/*", ""), "the resource '' has no slash");
        assert!(every("bkt/*/public/*", "bkt/a/public/"));
        assert!(!every("bkt/*/public/*", "bkt/a/"));
        assert!(!every("bkt/?*", "bkt/"), "'?' needs one more character");
        assert!(every("bkt/?*", "bkt/x"));
        assert!(
            !every("bkt/exact.txt", "bkt/exact.txt"),
            "no star: one key only"
        );
        // Some resource under the prefix.
        assert!(some("bkt/photos/*", "bkt/"));
        assert!(some("bkt/exact.txt", "bkt/"));
        assert!(some("*", "anything"));
        assert!(!some("bkt/photos/*", "other/"));
        assert!(!some("bkt/photos/*", "bkt/videos/"));
        assert!(!some("bkt2/*", "bkt/"));
    }
    use std::os::unix::fs::symlink;

    const EXAMPLE: &str = r#"
[[credentials]]
access_key = "AKIAIOSFODNN7EXAMPLE"
secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
allow = ["read:public/*", "write:uploads/incoming/*"]

[[credentials]]
access_key = "AKIDALLOWALL"
secret_key = "all-secret"

[[credentials]]
access_key = "AKIDNOTHING"
secret_key = "nothing-secret"
allow = []

[[credentials]]
access_key = "AKIDSINGLE"
secret_key = "single-secret"
allow = ["read:logs/day-?.txt", "write:exact/key.bin"]
"#;

    fn store() -> CredentialStore {
        CredentialStore::from_toml_str(EXAMPLE).expect("example parses")
    }

    fn parse_error(text: &str) -> String {
        CredentialSet::parse(text, "secrets.toml").expect_err("must be refused")
    }

    #[test]
    fn example_file_parses() {
        let store = store();
        assert_eq!(store.access_key_count(), 4);
        assert!(store.is_loaded());
        assert!(CredentialStore::from_toml_str("credentials = []").is_ok_and(|s| !s.is_loaded()));
    }

    #[test]
    fn unknown_key_is_refused_naming_it_and_the_line() {
        let err = parse_error(
            "[[credentials]]\naccess_key = \"A\"\nsecret_key = \"S\"\nalow = [\"read:*\"]\n",
        );
        assert!(err.starts_with("secrets.toml: line 4"), "{err}");
        assert!(err.contains("alow"), "{err}");
    }

    #[test]
    fn unknown_top_level_table_is_refused() {
        let err = parse_error("credentials = []\n[extra]\n");
        assert!(err.contains("extra"), "{err}");
    }

    #[test]
    fn toml_errors_never_quote_the_line() {
        let err = parse_error(
            "[[credentials]]\naccess_key = \"A\"\nsecret_key = \"TOPSECRET\nallow = []\n",
        );
        assert!(err.starts_with("secrets.toml: line 3"), "{err}");
        assert!(!err.contains("TOPSECRET"), "{err}");
    }

    #[test]
    fn duplicate_access_key_is_refused_naming_both_lines() {
        let err = parse_error(
            "[[credentials]]\naccess_key = \"AK\"\nsecret_key = \"one\"\n\
             [[credentials]]\naccess_key = \"AK\"\nsecret_key = \"two\"\n",
        );
        assert!(err.contains("\"AK\" is defined twice"), "{err}");
        assert!(
            err.contains("line 5") && err.contains("first at line 2"),
            "{err}"
        );
        assert!(
            !err.contains("one") && !err.contains("two"),
            "no secrets: {err}"
        );
    }

    #[test]
    fn empty_access_key_or_secret_is_refused() {
        let err = parse_error("[[credentials]]\naccess_key = \"\"\nsecret_key = \"s\"\n");
        assert!(err.contains("line 2: access_key is empty"), "{err}");
        let err = parse_error("[[credentials]]\naccess_key = \"AK\"\nsecret_key = \"\"\n");
        assert!(
            err.contains("line 3: secret_key of \"AK\" is empty"),
            "{err}"
        );
    }

    #[test]
    fn bad_allow_prefix_is_refused_naming_the_entry() {
        let err = parse_error(
            "[[credentials]]\naccess_key = \"AK\"\nsecret_key = \"s\"\n\
             allow = [\"read:a/*\",\n  \"delete:a/*\"]\n",
        );
        assert!(err.contains("line 5"), "{err}");
        assert!(err.contains("\"delete:a/*\""), "{err}");
        let err = parse_error(
            "[[credentials]]\naccess_key = \"AK\"\nsecret_key = \"s\"\nallow = [\"read:\"]\n",
        );
        assert!(err.contains("\"read:\""), "{err}");
    }

    #[test]
    fn missing_fields_are_refused() {
        let err = parse_error("[[credentials]]\naccess_key = \"AK\"\n");
        assert!(err.contains("secret_key"), "{err}");
        let err = parse_error("");
        assert!(err.contains("credentials"), "{err}");
    }

    #[test]
    fn secret_key_debug_is_redacted() {
        let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into());
        assert_eq!(format!("{secret:?}"), "SecretKey(<redacted>)");
        let set = CredentialSet::parse(EXAMPLE, "x").expect("parses");
        assert!(!format!("{set:?}").contains("EXAMPLEKEY"));
    }

    #[test]
    fn read_scope_allows_reads_below_its_prefix_at_any_depth() {
        let store = store();
        let ak = "AKIAIOSFODNN7EXAMPLE";
        assert!(store.is_allowed(ak, Action::Read, "public", "a/b.txt"));
        assert!(
            store.is_allowed(ak, Action::Read, "public", ""),
            "bucket-level `public/`"
        );
        assert!(!store.is_allowed(ak, Action::Write, "public", "x"));
        assert!(!store.is_allowed(ak, Action::Read, "private", "x"));
        assert!(!store.is_allowed(ak, Action::Read, "publicity", "x"));
    }

    #[test]
    fn write_scope_allows_writes_below_its_prefix_only() {
        let store = store();
        let ak = "AKIAIOSFODNN7EXAMPLE";
        assert!(store.is_allowed(ak, Action::Write, "uploads", "incoming/2026/x.bin"));
        assert!(!store.is_allowed(ak, Action::Read, "uploads", "incoming/x.bin"));
        assert!(!store.is_allowed(ak, Action::Write, "uploads", "outgoing/x.bin"));
        assert!(!store.is_allowed(ak, Action::Write, "uploads", "incoming"));
    }

    #[test]
    fn question_mark_is_one_character_and_other_entries_are_literal() {
        let store = store();
        let ak = "AKIDSINGLE";
        assert!(store.is_allowed(ak, Action::Read, "logs", "day-1.txt"));
        assert!(
            store.is_allowed(ak, Action::Read, "logs", "day-é.txt"),
            "one char, two bytes"
        );
        assert!(!store.is_allowed(ak, Action::Read, "logs", "day-12.txt"));
        assert!(!store.is_allowed(ak, Action::Read, "logs", "day-.txt"));
        assert!(store.is_allowed(ak, Action::Write, "exact", "key.bin"));
        assert!(!store.is_allowed(ak, Action::Write, "exact", "key.bin2"));
        assert!(
            !store.is_allowed(ak, Action::Write, "exact", "keyXbin"),
            "`.` is literal"
        );
    }

    #[test]
    fn absent_allow_is_everything_and_empty_allow_is_nothing() {
        let store = store();
        for action in [Action::Read, Action::Write] {
            assert!(store.is_allowed("AKIDALLOWALL", action, "any", "thing/at/all"));
            assert!(!store.is_allowed("AKIDNOTHING", action, "any", "thing"));
            assert!(!store.is_allowed("AKIDUNKNOWN", action, "any", "thing"));
        }
    }

    #[test]
    fn scope_pattern_matching() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "a/b/c", true),
            ("a*", "a", true),
            ("*a", "bba", true),
            ("*a", "bab", false),
            ("a*b*c", "a/x/b/y/c", true),
            ("a*b*c", "a/x/c/y/b", false),
            ("*/*.txt", "b/k.txt", true),
            ("*/*.txt", "b.txt", false),
            ("a**b", "ab", true),
            ("?", "", false),
            ("??", "ab", true),
            ("a?c", "a/c", true),
            ("", "", true),
            ("", "a", false),
            ("abc", "ab", false),
            ("*ab*ab*", "aabab", true),
            ("*aab", "aaab", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                ScopePattern::new(pattern).matches(text),
                *expected,
                "{pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn signing_keys_are_the_aws_documentation_examples() {
        // Two published kSigning values for the secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
        // us-east-1, iam: 20120215 from "Examples of how to derive a signing key for Signature
        // Version 4", 20150830 from the IAM ListUsers walkthrough ("Calculate the signature").
        let store = CredentialStore::from_toml_str(
            "[[credentials]]\naccess_key = \"AKIDEXAMPLE\"\n\
             secret_key = \"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\"\n",
        )
        .expect("parses");
        for (date, expected) in [
            (
                "20120215",
                "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d",
            ),
            (
                "20150830",
                "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9",
            ),
        ] {
            for lookup in ["derived", "cached"] {
                let key = store.signing_key("AKIDEXAMPLE", date, "us-east-1", "iam");
                let hex_key = key.map(|k| hex::encode(k.as_bytes()));
                assert_eq!(hex_key.as_deref(), Some(expected), "{date}, {lookup}");
            }
        }
        assert_eq!(
            store.signing_key("AKIDOTHER", "20120215", "us-east-1", "iam"),
            None
        );
    }

    #[test]
    fn second_signing_key_lookup_is_a_cache_hit() {
        let store = store();
        let first = store.signing_key("AKIDALLOWALL", "20260101", "us-east-1", "s3");
        assert_eq!((store.cache_hits(), store.cache_misses()), (0, 1));
        let second = store.signing_key("AKIDALLOWALL", "20260101", "us-east-1", "s3");
        assert_eq!((store.cache_hits(), store.cache_misses()), (1, 1));
        assert!(first.is_some() && first == second);
        // Another day is another key.
        let other_day = store.signing_key("AKIDALLOWALL", "20260102", "us-east-1", "s3");
        assert_eq!((store.cache_hits(), store.cache_misses()), (1, 2));
        assert_ne!(first, other_day);
        // Unknown keys count as neither.
        assert_eq!(
            store.signing_key("AKIDUNKNOWN", "20260101", "us-east-1", "s3"),
            None
        );
        assert_eq!((store.cache_hits(), store.cache_misses()), (1, 2));
    }

    /// A Kubernetes Secret volume: `dir/..<timestamp>/secrets.toml`, `dir/..data` → the
    /// timestamped directory, `dir/secrets.toml` → `..data/secrets.toml`.
    struct SecretVolume {
        dir: tempfile::TempDir,
    }

    impl SecretVolume {
        fn new(first_version: &str) -> SecretVolume {
            let volume = SecretVolume {
                dir: tempfile::tempdir().expect("temp dir"),
            };
            volume.write_version("..2026_01_01_a", first_version);
            symlink("..data/secrets.toml", volume.file()).expect("file symlink");
            volume
        }

        fn file(&self) -> PathBuf {
            self.dir.path().join("secrets.toml")
        }

        /// Publish a version the way the kubelet does: new directory, new symlink beside
        /// `..data`, renamed over it in one step.
        fn write_version(&self, name: &str, content: &str) {
            let version = self.dir.path().join(name);
            std::fs::create_dir(&version).expect("version dir");
            std::fs::write(version.join("secrets.toml"), content).expect("write secrets");
            let temp_link = self.dir.path().join("..data_tmp");
            symlink(name, &temp_link).expect("temp symlink");
            std::fs::rename(&temp_link, self.dir.path().join("..data")).expect("swap ..data");
        }
    }

    const VERSION_A: &str = "[[credentials]]\naccess_key = \"AKIDOLD\"\nsecret_key = \"old\"\n";
    const VERSION_B: &str = "[[credentials]]\naccess_key = \"AKIDNEW\"\nsecret_key = \"new\"\n";

    #[test]
    fn reload_follows_a_kubernetes_secret_swap() {
        let volume = SecretVolume::new(VERSION_A);
        let store = CredentialStore::load(volume.file()).expect("first version loads");
        assert_eq!(store.reload_if_changed(), ReloadOutcome::Unchanged);
        assert!(store
            .signing_key("AKIDOLD", "20260101", "us-east-1", "s3")
            .is_some());
        assert!(store
            .signing_key("AKIDOLD", "20260101", "us-east-1", "s3")
            .is_some());
        assert_eq!((store.cache_hits(), store.cache_misses()), (1, 1));

        volume.write_version("..2026_01_02_b", VERSION_B);
        assert_eq!(store.reload_if_changed(), ReloadOutcome::Reloaded);
        assert_eq!(store.reloads_ok(), 1);
        assert_eq!(
            store.signing_key("AKIDOLD", "20260101", "us-east-1", "s3"),
            None
        );
        let new_key = store.signing_key("AKIDNEW", "20260101", "us-east-1", "s3");
        assert_eq!(
            new_key,
            Some(derive_signing_key("new", "20260101", "us-east-1", "s3"))
        );
        assert_eq!(
            (store.cache_hits(), store.cache_misses()),
            (1, 2),
            "cache was emptied"
        );
        store.signing_keys.run_pending_tasks();
        assert_eq!(
            store.signing_keys.entry_count(),
            1,
            "only the new key is cached"
        );
        assert_eq!(store.reload_if_changed(), ReloadOutcome::Unchanged);

        // A broken version: reported once, the last good set stays.
        volume.write_version(
            "..2026_01_03_c",
            "[[credentials]]\naccess_key = \"AKIDBROKEN\"\n",
        );
        let ReloadOutcome::Failed(why) = store.reload_if_changed() else {
            panic!("a broken file must fail");
        };
        assert!(why.contains(&volume.file().display().to_string()), "{why}");
        assert!(why.contains("secret_key"), "{why}");
        assert_eq!(store.reloads_failed(), 1);
        assert!(store
            .signing_key("AKIDNEW", "20260101", "us-east-1", "s3")
            .is_some());
        assert_eq!(
            store.signing_key("AKIDBROKEN", "20260101", "us-east-1", "s3"),
            None
        );
        assert_eq!(store.reload_if_changed(), ReloadOutcome::Unchanged);
        assert_eq!(store.reloads_failed(), 1);

        // Fixed again: back to a good version.
        volume.write_version("..2026_01_04_d", VERSION_A);
        assert_eq!(store.reload_if_changed(), ReloadOutcome::Reloaded);
        assert!(store
            .signing_key("AKIDOLD", "20260101", "us-east-1", "s3")
            .is_some());
        assert_eq!(
            store.signing_key("AKIDNEW", "20260101", "us-east-1", "s3"),
            None
        );
    }

    #[test]
    fn a_vanished_file_keeps_the_last_good_set() {
        let volume = SecretVolume::new(VERSION_A);
        let store = CredentialStore::load(volume.file()).expect("loads");
        std::fs::remove_file(volume.dir.path().join("..data")).expect("remove ..data");
        assert!(matches!(
            store.reload_if_changed(),
            ReloadOutcome::Failed(_)
        ));
        assert_eq!(
            store.reload_if_changed(),
            ReloadOutcome::Unchanged,
            "reported once"
        );
        assert!(store
            .signing_key("AKIDOLD", "20260101", "us-east-1", "s3")
            .is_some());
    }

    #[test]
    fn first_load_failure_names_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("nope.toml");
        let err = CredentialStore::load(missing.clone()).expect_err("missing");
        assert!(err.contains(&missing.display().to_string()), "{err}");

        let broken = dir.path().join("broken.toml");
        std::fs::write(&broken, "[[credentials]]\naccess_key = 1\n").expect("write");
        let err = CredentialStore::load(broken.clone()).expect_err("broken");
        assert!(
            err.starts_with(&format!("{}: line 2", broken.display())),
            "{err}"
        );
    }

    #[test]
    fn oversized_file_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let big = dir.path().join("big.toml");
        let padding = "#".repeat(usize::try_from(MAX_SECRETS_FILE_BYTES).unwrap_or(usize::MAX));
        std::fs::write(&big, format!("credentials = []\n{padding}\n")).expect("write");
        let err = CredentialStore::load(big).expect_err("too big");
        assert!(err.contains("larger than"), "{err}");
    }

    #[test]
    fn poller_picks_up_a_change_and_stops_with_the_store() {
        let volume = SecretVolume::new(VERSION_A);
        let store = Arc::new(CredentialStore::load(volume.file()).expect("loads"));
        let poller = store
            .spawn_poller(Duration::from_millis(10))
            .expect("thread starts");
        volume.write_version("..2026_01_02_b", VERSION_B);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.reloads_ok() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(store.reloads_ok(), 1);
        assert!(store.is_allowed("AKIDNEW", Action::Write, "b", "k"));
        drop(store);
        assert!(
            poller.join().is_ok(),
            "the poller ends once the store is gone"
        );
    }
}

/// SigV2 signs with the secret itself (HMAC-SHA1), so there is no derived key to cache: the HMAC
/// is computed here and only its result leaves the store. (Kept after the test module so the
/// SigV2 work only appended to this file.)
#[allow(clippy::items_after_test_module)]
impl crate::auth::sigv2::SigV2Keys for CredentialStore {
    fn hmac_sha1(&self, access_key: &str, data: &[u8]) -> Option<[u8; 20]> {
        let loaded = self.current();
        let credential = loaded.set.get(access_key)?;
        Some(crate::auth::sigv2::hmac_sha1(
            credential.secret.expose().as_bytes(),
            data,
        ))
    }
}
