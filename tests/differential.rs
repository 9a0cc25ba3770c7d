//! The differential test of "one request, one meaning": generated request targets and `Host`
//! values (percent-encodings of every byte, `%2F`, `%5C`, dot segments plain and encoded, `//`,
//! `;`, unicode, control characters, bucket names that are not), signed by a key scoped to
//! `bkt/allowed/*`, sent through the proxy to real nginx and real s3s-fs. For every request, the
//! backend's folder before and after is compared: each path that changed must be the object the
//! proxy authorized (its access log names bucket and key by request id) or a folder on its way,
//! inside the scope; a refused request changes nothing; an answered GET never returns another
//! object's bytes.
//!
//! `DIFFERENTIAL_CASES` requests per backend (default 300, what CI runs; `DIFFERENTIAL_SHOW=<text>`
//! prints the cases whose outcome contains the text);
//! `DIFFERENTIAL_CASES=50000 cargo test --release --test differential -- --nocapture` is the
//! long run (docs/one-meaning.md records both).

mod support;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use support::s3_server::S3Server;
use support::{Credential, Nginx, Payload, Proxy, ProxyOptions, Request, Signer};

const SCOPED_KEY: &str = "AKIDSCOPED";
const SCOPED_SECRET: &str = "scoped-secret-key";
const VHOST_SUFFIX: &str = "s3.local.test";
/// Bytes of every object outside the scope: no answer may ever carry them.
const SECRET: &[u8] = b"SECRET-outside-the-scope";
const SEEDS: &[(&str, &[u8])] = &[
    ("bkt/allowed/seed", b"allowed seed"),
    ("bkt/allowed/dir/seed", b"allowed dir seed"),
    ("bkt/secret/seed", SECRET),
    ("bkt/seed", SECRET),
    ("other/seed", SECRET),
    ("other/allowed/seed", SECRET),
    ("seed", SECRET),
];

/// One generated request.
#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    target: String,
    /// `None`: the proxy's own address (path-style); else a virtual-host label.
    vhost: Option<String>,
}

/// Pieces of a path or host: names that mean something to the scope, dot segments plain and
/// encoded, separators, and any byte percent-encoded.
fn atom() -> impl Strategy<Value = String> {
    let fixed = prop::sample::select(vec![
        "bkt",
        "allowed",
        "secret",
        "other",
        "seed",
        "dir",
        "BKT",
        "..",
        ".",
        "",
        "%2E%2E",
        "%2e%2e",
        "%2E",
        ".%2e",
        "%2e.",
        "a..b",
        ".hidden",
        "...",
        "/",
        "/",
        "/",
        "//",
        "%2F",
        "%2f",
        "%5C",
        "%5c",
        ";",
        "%3B",
        "%00",
        "%0A",
        "%0D%0A",
        "%09",
        "%C3%A9",
        "%E2%82%AC",
        "%F0%9F%98%80",
        "%FF",
        "%C0%AF",
        "%25",
        "%252F",
        "+",
        "%2B",
        "%20",
        "~",
        "-",
        "_",
        "?x",
        "#",
        "%23",
        "%3F",
        "bkt.allowed",
        "xn--x",
        "192.168.0.1",
    ])
    .prop_map(str::to_string);
    prop_oneof![
        6 => fixed,
        2 => (0u8..0x80).prop_map(|b| format!("%{b:02X}")),
        1 => any::<u8>().prop_map(|b| format!("%{b:02x}")),
        1 => "[a-z0-9]{1,4}",
    ]
}

/// A request target: often starting where the scope is, so escapes are tried from inside it.
fn target() -> impl Strategy<Value = String> {
    let start = prop::sample::select(vec![
        "/",
        "/bkt/",
        "/bkt/allowed/",
        "/bkt/allowed/",
        "/bkt/allowed/",
        "/bkt%2Fallowed%2F",
        "/bkt/allowed%2F",
        "/bkt%2fallowed/",
        "/other/",
    ]);
    (start, prop::collection::vec(atom(), 0..8)).prop_map(|(start, atoms)| {
        // '?' and '#' only as written by the atoms: the signer and client take a '?' as the
        // query's start, which is a case as good as any other.
        format!("{start}{}", atoms.concat()).replace('#', "%23")
    })
}

fn vhost_label() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(vec![
                "bkt", "other", "BKT", "bkt/allowed", "bkt%2F", "a?b", "a#b", "..", ".", "-",
                "xn--bkt", "192.168.0.1", "bkt..x", "b", "bkt.allowed",
            ])
            .prop_map(str::to_string),
            1 => "[a-z0-9./-]{1,5}",
        ],
        1..3,
    )
    .prop_map(|parts| parts.concat())
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(vec!["PUT", "PUT", "GET", "DELETE", "HEAD"]),
        target(),
        prop::option::weighted(0.25, vhost_label()),
    )
        .prop_map(|(method, target, vhost)| Case {
            method,
            target,
            vhost,
        })
}

/// A backend's folder, its proxy (scoped key, JSON access log, a virtual-host suffix) and what
/// the access log said so far.
struct Bench {
    kind: &'static str,
    root: PathBuf,
    proxy: Proxy,
    log: LogTail,
    _backend: Box<dyn std::any::Any>,
}

impl Bench {
    fn start(kind: &'static str) -> Bench {
        let options = ProxyOptions::default()
            .with_credentials(vec![Credential::new(SCOPED_KEY, SCOPED_SECRET)
                .allow(&["read:bkt/allowed/*", "write:bkt/allowed/*"])])
            .with_virtual_host_suffix(VHOST_SUFFIX)
            .with_json_log();
        let (root, proxy, backend): (PathBuf, Proxy, Box<dyn std::any::Any>) = match kind {
            "http" => {
                let nginx = Nginx::start();
                let proxy = Proxy::start(&nginx, options);
                (nginx.root(), proxy, Box::new(nginx))
            }
            _ => {
                let server = S3Server::start();
                let proxy = Proxy::start_in_front_of(server.addr(), "s3", options);
                (server.root().to_path_buf(), proxy, Box::new(server))
            }
        };
        let log = LogTail::new(proxy.dir().join("proxy.log"));
        let bench = Bench {
            kind,
            root,
            proxy,
            log,
            _backend: backend,
        };
        bench.reset();
        bench
    }

    /// The seeds as they were, nothing else.
    fn reset(&self) {
        for entry in std::fs::read_dir(&self.root).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
        for (relative, contents) in SEEDS {
            let path = self.root.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
    }

    /// Files (with bytes) and folders under the root; s3s-fs's own bookkeeping files (at the
    /// root, named `.bucket-…`/`.upload-…`) and the proxy's reserved `.s3-auth-proxy/` (a
    /// plain store's ETag records and staging) are not objects.
    fn snapshot(&self) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        let mut all = BTreeMap::new();
        walk(&self.root, &self.root, &mut all);
        all.retain(|path, _| {
            let first = path.components().next();
            !first.is_some_and(|c| c.as_os_str().to_string_lossy().starts_with('.'))
        });
        all
    }

    fn request(&self, case: &Case, body: &[u8]) -> Request {
        let host = match &case.vhost {
            Some(label) => format!("{label}.{VHOST_SUFFIX}"),
            None => self.proxy.host(),
        };
        // Signed over the path as S3 canonicalises it (hex upper-cased, a raw `+` or `;`
        // encoded), sent as generated: the request then reaches the model and the backend
        // instead of stopping at SignatureDoesNotMatch, whatever its spelling.
        let mut signed = Request::new(case.method, &signing_form(&case.target))
            .header("host", &host)
            .body(body.to_vec());
        Signer::new(SCOPED_KEY, SCOPED_SECRET).sign(&mut signed, Payload::Hashed);
        Request {
            target: case.target.clone(),
            ..signed
        }
    }

    /// Send one case and judge what it did; the seeds are restored after any change.
    fn check(
        &mut self,
        case: &Case,
        n: u64,
        outcomes: &mut BTreeMap<String, u64>,
    ) -> Result<(), TestCaseError> {
        let before = self.snapshot();
        let result = self.judge(case, n, &before, outcomes);
        if self.snapshot() != before {
            self.reset();
        }
        result
    }

    fn judge(
        &mut self,
        case: &Case,
        n: u64,
        before: &BTreeMap<PathBuf, Option<Vec<u8>>>,
        outcomes: &mut BTreeMap<String, u64>,
    ) -> Result<(), TestCaseError> {
        let body = format!("case {n} through {}", self.kind).into_bytes();
        let request = self.request(case, if case.method == "PUT" { &body } else { b"" });
        let response = self.proxy.send(&request);
        let after = self.snapshot();
        let outcome = format!(
            "{} {}",
            response.status,
            response.s3_error_code().unwrap_or_default()
        );
        if std::env::var("DIFFERENTIAL_SHOW").is_ok_and(|show| outcome.contains(&show)) {
            eprintln!("{outcome}: {case:?}");
        }
        *outcomes.entry(outcome).or_default() += 1;
        let authorized = match response.header("x-amz-request-id") {
            Some(id) => self.log.target_of(id),
            None => None,
        };
        let changed: Vec<&PathBuf> = before
            .keys()
            .chain(after.keys())
            .filter(|path| before.get(*path) != after.get(*path))
            .collect();
        let context = || {
            format!(
                "{} {case:?}: {} → {:?}",
                self.kind, response.status, authorized
            )
        };
        let Some((bucket, key)) = authorized.clone().filter(|(bucket, _)| !bucket.is_empty())
        else {
            prop_assert!(
                changed.is_empty(),
                "unauthorized request changed {changed:?}: {}",
                context()
            );
            prop_assert!(
                !response.body.windows(SECRET.len()).any(|w| w == SECRET),
                "{}",
                context()
            );
            return Ok(());
        };
        let object = normalized(&PathBuf::from(&bucket).join(&key));
        // The scope `bkt/allowed/*`: its objects, and HEAD of the bucket itself (a read scope
        // inside it is enough to learn that it exists, README "Secrets file").
        let in_scope = bucket == "bkt"
            && (key.starts_with("allowed/") || (key.is_empty() && case.method == "HEAD"));
        for path in &changed {
            prop_assert!(
                in_scope,
                "{} changed outside the scope: {}",
                path.display(),
                context()
            );
            prop_assert!(
                object.starts_with(normalized(path)),
                "{} changed, but {bucket}/{key} was authorized: {}",
                path.display(),
                context()
            );
        }
        prop_assert!(
            !response.body.windows(SECRET.len()).any(|w| w == SECRET),
            "a secret answered: {}",
            context()
        );
        if (200..300).contains(&response.status) {
            prop_assert!(in_scope, "answered outside the scope: {}", context());
            if case.method == "PUT" {
                prop_assert_eq!(
                    after.get(&object).cloned().flatten(),
                    Some(body),
                    "{}",
                    context()
                );
            }
            if case.method == "GET" {
                if let Some(Some(contents)) = before.get(&object) {
                    prop_assert_eq!(&response.body, contents, "{}", context());
                }
            }
        }
        Ok(())
    }
}

/// The target as S3's SigV4 canonical URI spells its path: `%xx` upper-cased, characters that
/// are neither unreserved nor `/` or `%` percent-encoded. The query is left as it is.
fn signing_form(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut out = String::new();
    let chars = path.chars();
    let mut hex_left = 0;
    for c in chars {
        if hex_left > 0 {
            out.push(c.to_ascii_uppercase());
            hex_left -= 1;
        } else if c == '%' {
            out.push('%');
            hex_left = 2;
        } else if c.is_ascii_alphanumeric() || "-._~/".contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    match query {
        Some(query) => format!("{out}?{query}"),
        None => out,
    }
}

/// A path with `.` and empty components gone (as the filesystem reads it); `..` kept, so an
/// escape stays visible.
fn normalized(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

fn walk(root: &Path, dir: &Path, all: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap().to_path_buf();
        if path.is_dir() {
            all.insert(relative, None);
            walk(root, &path, all);
        } else {
            all.insert(relative, std::fs::read(&path).ok());
        }
    }
}

/// The access log read as it grows: request id → (bucket, key).
struct LogTail {
    path: PathBuf,
    offset: u64,
    seen: HashMap<String, (String, String)>,
}

impl LogTail {
    fn new(path: PathBuf) -> LogTail {
        LogTail {
            path,
            offset: 0,
            seen: HashMap::new(),
        }
    }

    /// Bucket and key the proxy logged for a request (written just after the answer).
    fn target_of(&mut self, request_id: &str) -> Option<(String, String)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            self.read_new_lines();
            if let Some(found) = self.seen.remove(request_id) {
                return Some(found);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn read_new_lines(&mut self) {
        let Ok(mut file) = std::fs::File::open(&self.path) else {
            return;
        };
        file.seek(SeekFrom::Start(self.offset)).unwrap();
        let mut reader = BufReader::new(file);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if !line.ends_with('\n') {
                break;
            }
            self.offset += line.len() as u64;
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) {
                let fields = &value["fields"];
                if let Some(id) = fields["request_id"].as_str() {
                    let text = |name: &str| fields[name].as_str().unwrap_or_default().to_string();
                    self.seen
                        .insert(id.to_string(), (text("bucket"), text("key")));
                }
            }
            line.clear();
        }
    }
}

fn cases() -> u32 {
    std::env::var("DIFFERENTIAL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

#[test]
fn every_generated_request_touches_only_what_the_proxy_authorized() {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    for kind in ["http", "s3"] {
        let bench = RefCell::new(Bench::start(kind));
        let outcomes = RefCell::new(BTreeMap::new());
        let started = Instant::now();
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&case(), |case| {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            bench
                .borrow_mut()
                .check(&case, n, &mut outcomes.borrow_mut())
        });
        let outcomes = outcomes.into_inner();
        let total: u64 = outcomes.values().sum();
        eprintln!(
            "differential, kind = {kind}: {total} requests in {:.1?}; outcomes (status code): {outcomes:?}",
            started.elapsed()
        );
        if let Err(failure) = result {
            let log = bench.borrow().proxy.log();
            panic!("kind = {kind}: {failure}\nproxy log tail:\n{}", tail(&log));
        }
        // The generator reaches both sides: some requests authorized and answered, some refused.
        let answered: u64 = outcomes
            .iter()
            .filter(|(k, _)| k.starts_with('2'))
            .map(|(_, v)| v)
            .sum();
        assert!(answered > 0 && answered < total, "{kind}: {outcomes:?}");
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
