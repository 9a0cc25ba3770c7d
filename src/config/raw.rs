//! Stage 1 of reading `proxy.toml`: the file exactly as written. These structs mirror the TOML
//! tables key for key and refuse unknown keys (a misspelt key is an error, not a silent default);
//! they check nothing else. [`super::validate`] turns them into the ready-to-use [`super::Config`].

use std::path::PathBuf;

use serde::Deserialize;

use super::{LogFormat, UpstreamKind};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) server: RawServer,
    pub(super) upstream: RawUpstream,
    pub(super) auth: RawAuth,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) log: RawLog,
    #[serde(default)]
    pub(super) cors: Vec<RawCorsRule>,
}

/// One `[[cors]]` rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCorsRule {
    #[serde(default)]
    pub(super) buckets: Vec<String>,
    pub(super) allowed_origins: Vec<String>,
    pub(super) allowed_methods: Vec<String>,
    #[serde(default)]
    pub(super) allowed_headers: Vec<String>,
    #[serde(default)]
    pub(super) expose_headers: Vec<String>,
    pub(super) max_age: Option<DurationValue>,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) listen: Option<String>,
    pub(super) tls_listen: Option<String>,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
    pub(super) metrics_listen: Option<String>,
    pub(super) threads: Option<usize>,
    pub(super) work_stealing: Option<bool>,
    pub(super) shutdown_grace: Option<DurationValue>,
    pub(super) read_timeout: Option<DurationValue>,
    pub(super) write_timeout: Option<DurationValue>,
    pub(super) keepalive_timeout: Option<DurationValue>,
    pub(super) header_timeout: Option<DurationValue>,
}

/// `[upstream]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
    pub(super) address: String,
    pub(super) kind: UpstreamKind,
    pub(super) connect_timeout: Option<DurationValue>,
    pub(super) read_timeout: Option<DurationValue>,
    pub(super) write_timeout: Option<DurationValue>,
    #[serde(default)]
    pub(super) readiness_probe: bool,
    pub(super) md5_etag: Option<bool>,
    #[serde(default)]
    pub(super) strip_headers: Vec<String>,
    pub(super) multipart_expiry: Option<DurationValue>,
    pub(super) complete_keepalive: Option<DurationValue>,
    pub(super) pool_idle_timeout: Option<DurationValue>,
}

/// `[auth]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) secrets_file: PathBuf,
    pub(super) region: OneOrMany,
    pub(super) clock_skew: Option<DurationValue>,
    pub(super) max_presign_expiry: Option<DurationValue>,
    #[serde(default)]
    pub(super) boto2_presign_compat: bool,
    #[serde(default)]
    pub(super) virtual_host_suffixes: Vec<String>,
    pub(super) identity_header: Option<String>,
    pub(super) signature_diagnostics: Option<bool>,
    pub(super) secrets_poll_interval: Option<DurationValue>,
    pub(super) sigv2: Option<bool>,
}

/// `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) max_chunk_size: Option<SizeValue>,
    pub(super) post_max_field_size: Option<SizeValue>,
    pub(super) post_max_prefix: Option<SizeValue>,
    pub(super) post_max_parts: Option<usize>,
    pub(super) max_delete_body: Option<SizeValue>,
    pub(super) max_complete_body: Option<SizeValue>,
    pub(super) max_folder_index: Option<SizeValue>,
    pub(super) max_header_size: Option<SizeValue>,
    pub(super) unauthenticated_memory: Option<SizeValue>,
    pub(super) max_connections_per_address: Option<u32>,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) level: Option<String>,
    pub(super) format: Option<LogFormat>,
}

/// `auth.region`: one name or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `"15m"`, `"25s"`, `"7d"`, `"500ms"` or a plain number of seconds.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum DurationValue {
    Seconds(u64),
    Text(String),
}

/// `"16MiB"`, `"64KiB"`, `"1GiB"` or a plain number of bytes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum SizeValue {
    Bytes(u64),
    Text(String),
}
