//! `proxy.toml`: parsed in two stages, raw as written (serde, unknown keys refused) and then
//! validated into a [`Config`] whose values are ready to use. Validation collects every problem
//! so that `check-config` can name them all at once.
//!
//! - `raw`: stage 1, the serde structs mirroring the TOML tables.
//! - `units`: durations and sizes written with units (`"15m"`, `"16MiB"`).
//! - `validate`: stage 2, from the raw tables to the types below, collecting every problem.
//! - this file: the validated types, and reading a file through both stages.

mod raw;
mod units;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::AuthSettings;
use raw::RawConfig;

pub use units::{parse_duration, parse_size_text};

/// Default largest allowed difference between a request's date and the proxy's clock (S3's).
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);
/// Longest validity SigV4 allows for a presigned URL (7 days).
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(604_800);
/// Default `server.shutdown_grace`: below Kubernetes' default 30 s termination grace period.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(25);
/// Default `auth.secrets_poll_interval`: how often the secrets file is re-read.
pub const DEFAULT_SECRETS_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Default `limits.max_chunk_size` (used by aws-chunked uploads).
pub const DEFAULT_MAX_CHUNK_SIZE: u64 = 16 * 1024 * 1024;
/// Default `limits.post_max_field_size`: one form field (boto3's policies are a few KiB).
pub const DEFAULT_POST_MAX_FIELD_SIZE: usize = 64 * 1024;
/// Default `limits.post_max_prefix`: everything before the file's data of a POST form (and that
/// plus the parts after the file).
pub const DEFAULT_POST_MAX_PREFIX: usize = 1024 * 1024;
/// Default `limits.post_max_parts`: fields of a POST form, before and after the file.
pub const DEFAULT_POST_MAX_PARTS: usize = 1000;
/// Default `limits.max_delete_body`: a DeleteObjects body, read whole before it is forwarded
/// (S3's 1,000 keys of up to 1,024 bytes, XML-escaped, fit).
pub const DEFAULT_MAX_DELETE_BODY: usize = 2 * 1024 * 1024;
/// Default `limits.max_complete_body`: a CompleteMultipartUpload body, read whole (S3's
/// 10,000 parts, each with an ETag and a checksum, fit).
pub const DEFAULT_MAX_COMPLETE_BODY: usize = 4 * 1024 * 1024;
/// Default `limits.max_folder_index`: the most of one folder's index (nginx's JSON listing of
/// it) a listing holds; about 100,000 entries of short names.
pub const DEFAULT_MAX_FOLDER_INDEX: usize = 16 * 1024 * 1024;
/// Default `server.header_timeout`: a whole request head (a POST form: its fields) within it.
pub const DEFAULT_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Default `limits.max_header_size`: S3 allows 8 KiB of headers on a PUT; presigned URLs and
/// session tokens make heads longer, never this long.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 64 * 1024;
/// Largest `limits.max_header_size`: Pingora refuses heads over 1 MiB by itself.
pub const MAX_HEADER_SIZE_LIMIT: usize = 1024 * 1024 - 1;
/// Default `limits.unauthenticated_memory`: a quarter of a 128 MiB pod.
pub const DEFAULT_UNAUTHENTICATED_MEMORY: usize = 32 * 1024 * 1024;
/// Largest `limits.max_folder_index` accepted.
pub const MAX_FOLDER_INDEX_LIMIT: usize = 1024 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// The validated types (stage 2), built by `validate` from the raw tables of `raw` (stage 1).

/// What the backend is, which decides how its answers are presented to S3 clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// An S3-compatible server without authentication: its answers pass through unchanged.
    S3,
    /// A plain HTTP/WebDAV store (nginx): the proxy makes its answers look like S3's.
    Http,
}

/// Access log format (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Plain HTTP listener.
    pub listen: Option<SocketAddr>,
    /// HTTPS listener with its PEM certificate chain and key.
    pub tls: Option<TlsConfig>,
    /// Health (and later metrics) listener.
    pub metrics_listen: Option<SocketAddr>,
    /// Worker threads of the proxy service.
    pub threads: usize,
    /// Whether an idle worker thread may take over work queued on another (tokio's work
    /// stealing). Off, every connection stays on the thread it was given at accept (at random):
    /// small requests cost ~15 % less CPU, but two large uploads that land on one thread share
    /// it while the other idles (docs/benchmarks.md).
    pub work_stealing: bool,
    /// How long requests in flight may take to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Longest wait for the client to send the next bytes of a request.
    pub read_timeout: Duration,
    /// Longest wait for the client to take the next bytes of a response.
    pub write_timeout: Duration,
    /// How long an idle client connection is kept open.
    pub keepalive_timeout: Duration,
    /// The longest a client may take to send a whole request head (and a POST form its fields
    /// up to the file), however it trickles the bytes (`server.header_timeout`).
    pub header_timeout: Duration,
}

/// HTTPS listener settings.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// `[upstream]`.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// `host:port` of the backend (a name is resolved per connection, as in compose networks).
    pub address: String,
    /// How to present its answers.
    pub kind: UpstreamKind,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Longest wait for the backend to send.
    pub read_timeout: Duration,
    /// Longest wait for the backend to take our bytes.
    pub write_timeout: Duration,
    /// Whether `/readyz` also needs the backend to accept a TCP connection.
    pub readiness_probe: bool,
    /// `kind = "http"`: answer a PUT with `ETag` = MD5 of the payload, as S3 does (s3cmd,
    /// minio-py and the Java SDK v1 check it). Off: no ETag, and no MD5 on the upload path.
    pub md5_etag: bool,
    /// Request headers never sent to the backend (lower-case), each also in every spelling a
    /// backend could read as the same name (`x_real_ip` for `x-real-ip`).
    pub strip_headers: Vec<String>,
    /// `kind = "http"`: a multipart upload whose staged parts have not changed for this long
    /// is deleted (by the next CreateMultipartUpload or ListMultipartUploads of its bucket).
    pub multipart_expiry: Duration,
    /// `kind = "http"`: a CompleteMultipartUpload still copying parts after this long is
    /// answered 200 at once, kept alive with a space this often, and ends with its result or
    /// error document, as S3 does (clients' read timeouts would otherwise cut long copies).
    pub complete_keepalive: Duration,
    /// How long an idle backend connection is kept for the next request: shorter than the
    /// backend's own keepalive (nginx's `keepalive_timeout`, 75 s by default), so the proxy
    /// closes an idle connection before the backend does and seldom meets one gone stale.
    /// 0 = a new connection for every request.
    pub pool_idle_timeout: Duration,
}

/// `[auth]`, beyond what [`AuthSettings`] holds.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The settings of the pure verifier.
    pub settings: AuthSettings,
    /// The secrets file, resolved against the config file's folder.
    pub secrets_file: PathBuf,
    /// Host suffixes of virtual-hosted-style requests (`bucket.<suffix>`), lower-case.
    pub virtual_host_suffixes: Vec<String>,
    /// Header that carries the verified access key to the backend (lower-case).
    pub identity_header: String,
    /// Whether `SignatureDoesNotMatch` errors carry `StringToSign` and `CanonicalRequest`.
    pub signature_diagnostics: bool,
    /// How often the secrets file is re-read.
    pub secrets_poll_interval: Duration,
    /// Whether Signature Version 2 requests are verified (`auth.sigv2`, default on) or refused.
    pub sigv2: bool,
}

/// `[limits]`: every resource limit, named.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest aws-chunked chunk buffered for verification (`limits.max_chunk_size`).
    pub max_chunk_size: u64,
    /// POST forms: largest value of one field, before or after the file
    /// (`limits.post_max_field_size`).
    pub post_max_field_size: usize,
    /// POST forms: largest size of everything before the file's data, and of that plus the
    /// parts after the file (`limits.post_max_prefix`).
    pub post_max_prefix: usize,
    /// POST forms: most fields, before and after the file (`limits.post_max_parts`).
    pub post_max_parts: usize,
    /// DeleteObjects: largest body, held whole until each key is authorized
    /// (`limits.max_delete_body`).
    pub max_delete_body: usize,
    /// `kind = "http"` CompleteMultipartUpload: largest body, read whole before the parts
    /// are put together (`limits.max_complete_body`).
    pub max_complete_body: usize,
    /// `kind = "http"` listings: the most bytes of folder indexes (nginx's JSON) one listing
    /// request holds at once, summed over the folders from its prefix down to the current key
    /// (`limits.max_folder_index`).
    pub max_folder_index: usize,
    /// Largest request head, request line and headers (`limits.max_header_size`).
    pub max_header_size: usize,
    /// Most bytes held, summed over every connection, by requests not yet authenticated: heads
    /// still arriving and POST forms' fields (`limits.unauthenticated_memory`). Beyond it a
    /// request that would hold more is refused with `503 SlowDown`.
    pub unauthenticated_memory: usize,
    /// Most connections open at once from one client address; `None` (0 in the file, the
    /// default) for no cap (`limits.max_connections_per_address`).
    pub max_connections_per_address: Option<u32>,
}

/// `[log]`.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `s3_auth_proxy=debug`; `RUST_LOG` overrides it.
    pub level: String,
    /// Text or JSON lines.
    pub format: LogFormat,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[upstream]`.
    pub upstream: UpstreamConfig,
    /// `[auth]`.
    pub auth: AuthConfig,
    /// `[limits]`.
    pub limits: Limits,
    /// `[[cors]]` rules, in order.
    pub cors: crate::cors::CorsRules,
    /// `[log]`.
    pub log: LogConfig,
}

/// Everything wrong with a config file, each problem naming the key and value.
#[derive(Debug)]
pub struct ConfigErrors {
    /// The config file.
    pub path: PathBuf,
    /// One line per problem.
    pub problems: Vec<String>,
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} problem(s)",
            self.path.display(),
            self.problems.len()
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// Read and validate a config file, including that the secrets file exists (what
    /// `check-config` wants). Does not parse the secrets file (see [`crate::credentials`]).
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        Config::read(path, true)
    }

    /// Like [`Config::load`], but a secrets file that does not exist yet is no error: the proxy
    /// starts, reports not ready, and loads the file once it appears (a Secret mounted late).
    pub fn load_for_serving(path: &Path) -> Result<Config, ConfigErrors> {
        Config::read(path, false)
    }

    fn read(path: &Path, require_secrets_file: bool) -> Result<Config, ConfigErrors> {
        let fail = |problems: Vec<String>| ConfigErrors {
            path: path.to_path_buf(),
            problems,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(vec![format!("cannot read the file: {e}")]))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(&text, path, &base, require_secrets_file).map_err(fail)
    }

    /// Validate config text; relative paths resolve against `base`.
    pub fn from_toml(text: &str, path: &Path, base: &Path) -> Result<Config, Vec<String>> {
        Config::parse(text, path, base, true)
    }

    /// Both stages: the text as written (a TOML error, such as an unknown key, stops here), then
    /// validated with every problem collected.
    fn parse(
        text: &str,
        path: &Path,
        base: &Path,
        require_secrets_file: bool,
    ) -> Result<Config, Vec<String>> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        validate::config(raw, path, base, require_secrets_file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base_dir_with_secrets() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secrets.toml"), "").unwrap();
        dir
    }

    const MINIMAL: &str = r#"
[server]
listen = "127.0.0.1:8080"
[upstream]
address = "127.0.0.1:8081"
kind = "http"
[auth]
secrets_file = "secrets.toml"
region = "us-east-1"
"#;

    #[test]
    fn minimal_config_gets_documented_defaults() {
        let dir = base_dir_with_secrets();
        let c = Config::from_toml(MINIMAL, Path::new("proxy.toml"), dir.path()).unwrap();
        assert_eq!(c.auth.settings.clock_skew, Duration::from_secs(900));
        assert_eq!(
            c.auth.settings.max_presign_expiry,
            Duration::from_secs(604_800)
        );
        assert!(!c.auth.settings.boto2_presign_compat);
        assert_eq!(c.auth.identity_header, "x-forwarded-user");
        assert_eq!(c.auth.secrets_file, dir.path().join("secrets.toml"));
        assert_eq!(c.server.shutdown_grace, Duration::from_secs(25));
        assert_eq!(c.limits.max_chunk_size, 16 * 1024 * 1024);
        // Below nginx's default keepalive_timeout (75 s).
        assert_eq!(c.upstream.pool_idle_timeout, Duration::from_secs(30));
        assert!(c.server.work_stealing);
    }

    #[test]
    fn work_stealing_can_be_turned_off() {
        let dir = base_dir_with_secrets();
        let text = MINIMAL.replace("[upstream]", "work_stealing = false\n[upstream]");
        let c = Config::from_toml(&text, Path::new("proxy.toml"), dir.path()).unwrap();
        assert!(!c.server.work_stealing);
    }

    #[test]
    fn post_limits_sigv2_and_cors_have_defaults_and_can_be_set() {
        let dir = base_dir_with_secrets();
        let c = Config::from_toml(MINIMAL, Path::new("proxy.toml"), dir.path()).unwrap();
        assert_eq!(c.limits.post_max_field_size, 64 * 1024);
        assert_eq!(c.limits.post_max_prefix, 1024 * 1024);
        assert_eq!(c.limits.post_max_parts, 1000);
        assert!(c.auth.sigv2);
        assert!(c.cors.is_empty());

        let text = format!(
            "{MINIMAL}sigv2 = false\n[limits]\npost_max_field_size = \"8KiB\"\npost_max_prefix = 20000\npost_max_parts = 10\n\
             [[cors]]\nallowed_origins = [\"https://app.example.com\"]\nallowed_methods = [\"put\", \"POST\"]\n\
             allowed_headers = [\"Content-Type\"]\nexpose_headers = [\"ETag\"]\nmax_age = \"10m\"\n"
        );
        let c = Config::from_toml(&text, Path::new("proxy.toml"), dir.path()).unwrap();
        assert!(!c.auth.sigv2);
        assert_eq!(c.limits.post_max_field_size, 8 * 1024);
        assert_eq!(c.limits.post_max_prefix, 20_000);
        assert_eq!(c.limits.post_max_parts, 10);
        let h = c.cors.actual("b", "https://app.example.com", "PUT");
        assert!(h.contains(&("access-control-expose-headers", "ETag".to_string())));
    }

    #[test]
    fn bad_cors_rules_and_post_limits_are_named() {
        let dir = base_dir_with_secrets();
        let text = format!(
            "{MINIMAL}[limits]\npost_max_prefix = 0\npost_max_parts = 0\n\
             [[cors]]\nallowed_origins = [\"app.example.com\"]\nallowed_methods = [\"PATCH\"]\n"
        );
        let errs = Config::from_toml(&text, Path::new("proxy.toml"), dir.path()).unwrap_err();
        let all = errs.join("\n");
        for needle in [
            "limits.post_max_prefix",
            "limits.post_max_parts",
            "cors[0].allowed_origins",
            "cors[0].allowed_methods",
        ] {
            assert!(all.contains(needle), "{needle} not in {all}");
        }
    }

    #[test]
    fn admission_limits_have_defaults_bounds_and_can_be_set() {
        let dir = base_dir_with_secrets();
        let c = Config::from_toml(MINIMAL, Path::new("proxy.toml"), dir.path()).unwrap();
        assert_eq!(c.server.header_timeout, std::time::Duration::from_secs(10));
        assert_eq!(c.limits.max_header_size, 64 * 1024);
        assert_eq!(c.limits.unauthenticated_memory, 32 * 1024 * 1024);
        assert_eq!(c.limits.max_connections_per_address, None);
        let text = MINIMAL.replace("[upstream]", "header_timeout = \"3s\"\n[upstream]")
            + "[limits]\nmax_header_size = \"8KiB\"\nunauthenticated_memory = \"4MiB\"\n\
               max_connections_per_address = 50\n";
        let c = Config::from_toml(&text, Path::new("proxy.toml"), dir.path()).unwrap();
        assert_eq!(c.server.header_timeout, std::time::Duration::from_secs(3));
        assert_eq!(c.limits.max_header_size, 8 * 1024);
        assert_eq!(c.limits.unauthenticated_memory, 4 * 1024 * 1024);
        assert_eq!(c.limits.max_connections_per_address, Some(50));
        let zero = MINIMAL.to_string() + "[limits]\nmax_connections_per_address = 0\n";
        let c = Config::from_toml(&zero, Path::new("proxy.toml"), dir.path()).unwrap();
        assert_eq!(c.limits.max_connections_per_address, None, "0 is off");
        let bad = MINIMAL.replace("[upstream]", "header_timeout = \"10ms\"\n[upstream]")
            + "[limits]\nmax_header_size = \"2MiB\"\nunauthenticated_memory = \"100KiB\"\n";
        let all = Config::from_toml(&bad, Path::new("proxy.toml"), dir.path())
            .unwrap_err()
            .join("\n");
        for needle in [
            "server.header_timeout",
            "limits.max_header_size",
            "limits.unauthenticated_memory",
        ] {
            assert!(all.contains(needle), "{needle} not in {all}");
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let dir = base_dir_with_secrets();
        let text = MINIMAL.replace("[auth]", "[auth]\nclock_skw = \"5m\"");
        let errs = Config::from_toml(&text, Path::new("proxy.toml"), dir.path()).unwrap_err();
        assert!(errs[0].contains("clock_skw"), "{errs:?}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let text = MINIMAL.replace("127.0.0.1:8080", "nowhere").replace(
            "region = \"us-east-1\"",
            "region = []\nclock_skew = \"5 parsecs\"",
        );
        let errs = Config::from_toml(&text, Path::new("proxy.toml"), dir.path()).unwrap_err();
        let all = errs.join("\n");
        for needle in [
            "server.listen",
            "auth.region",
            "auth.clock_skew",
            "auth.secrets_file",
        ] {
            assert!(all.contains(needle), "{needle} missing from {all}");
        }
    }

    #[test]
    fn presign_expiry_cannot_exceed_sigv4_limit() {
        let dir = base_dir_with_secrets();
        let text = MINIMAL.replace("[auth]", "[auth]\nmax_presign_expiry = \"8d\"");
        let errs = Config::from_toml(&text, Path::new("proxy.toml"), dir.path()).unwrap_err();
        assert!(errs[0].contains("max_presign_expiry"));
    }

    #[test]
    fn durations_and_sizes_parse_with_units() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(parse_size_text("16MiB").unwrap(), 16 << 20);
        assert!(parse_size_text("16 furlongs").is_err());
    }

    #[test]
    fn region_may_be_a_list() {
        let dir = base_dir_with_secrets();
        let text = MINIMAL.replace(
            "region = \"us-east-1\"",
            "region = [\"us-east-1\", \"eu-west-1\"]",
        );
        let c = Config::from_toml(&text, Path::new("proxy.toml"), dir.path()).unwrap();
        assert_eq!(c.auth.settings.regions, vec!["us-east-1", "eu-west-1"]);
    }

    #[test]
    fn tls_needs_all_three_keys() {
        let dir = base_dir_with_secrets();
        let text = MINIMAL.replace("[server]", "[server]\ntls_listen = \"127.0.0.1:8443\"");
        let errs = Config::from_toml(&text, Path::new("proxy.toml"), dir.path()).unwrap_err();
        assert!(errs.join(" ").contains("go together"));
    }
}
