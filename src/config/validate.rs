//! Stage 2 of reading `proxy.toml`: the raw tables of [`super::raw`] become the validated
//! [`Config`]. Every problem is collected rather than returned at the first, so that
//! `check-config` names them all at once, section by section in the order [`config`] checks them.
//! One function per section (`[server]`, `[upstream]`, `[auth]`, `[limits]`, `[[cors]]`, `[log]`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::{
    DurationValue, OneOrMany, RawAuth, RawConfig, RawCorsRule, RawLimits, RawLog, RawServer,
    RawUpstream, SizeValue,
};
use super::units::{duration, parse_size};
use super::{
    AuthConfig, Config, Limits, LogConfig, LogFormat, ServerConfig, TlsConfig, UpstreamConfig,
    DEFAULT_CLOCK_SKEW, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CHUNK_SIZE, DEFAULT_MAX_COMPLETE_BODY,
    DEFAULT_MAX_DELETE_BODY, DEFAULT_MAX_FOLDER_INDEX, DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_POST_MAX_FIELD_SIZE, DEFAULT_POST_MAX_PARTS, DEFAULT_POST_MAX_PREFIX,
    DEFAULT_SECRETS_POLL_INTERVAL, DEFAULT_SHUTDOWN_GRACE, DEFAULT_UNAUTHENTICATED_MEMORY,
    MAX_FOLDER_INDEX_LIMIT, MAX_HEADER_SIZE_LIMIT, MAX_PRESIGN_EXPIRY,
};
use crate::auth::AuthSettings;

/// Largest value accepted for the POST size limits (they are held in memory per request).
const MAX_POST_PREFIX_LIMIT: u64 = 64 * 1024 * 1024;

/// Validate the raw file; relative paths resolve against `base`. The sections are checked in
/// this order, so their problems are listed in it too.
pub(super) fn config(
    raw: RawConfig,
    path: &Path,
    base: &Path,
    require_secrets_file: bool,
) -> Result<Config, Vec<String>> {
    let mut problems = Vec::new();
    let mut p = |msg: String| problems.push(msg);
    let server = server(raw.server, base, &mut p);
    let upstream = upstream(raw.upstream, &mut p);
    let auth = auth(raw.auth, base, require_secrets_file, &mut p);
    let limits = limits(raw.limits, &mut p);
    let cors = cors(raw.cors, &mut p);
    let log = log(raw.log, &mut p);
    if problems.is_empty() {
        Ok(Config {
            path: path.to_path_buf(),
            server,
            upstream,
            auth,
            limits,
            cors,
            log,
        })
    } else {
        Err(problems)
    }
}

/// `[server]`: the listeners (at least one of plain HTTP and HTTPS), threads and timeouts.
fn server(s: RawServer, base: &Path, p: &mut impl FnMut(String)) -> ServerConfig {
    let listen = parse_addr("server.listen", s.listen.as_deref(), p);
    let metrics_listen = parse_addr("server.metrics_listen", s.metrics_listen.as_deref(), p);
    let tls = tls(&s, base, p);
    if listen.is_none() && tls.is_none() && s.listen.is_none() && s.tls_listen.is_none() {
        p("server: set `listen` (plain HTTP) or `tls_listen` (HTTPS), or both".into());
    }
    let threads = s.threads.unwrap_or(2);
    if threads == 0 || threads > 256 {
        p(format!(
            "server.threads = {threads}: must be between 1 and 256"
        ));
    }
    ServerConfig {
        listen,
        tls,
        metrics_listen,
        threads,
        work_stealing: s.work_stealing.unwrap_or(true),
        shutdown_grace: duration(
            "server.shutdown_grace",
            s.shutdown_grace,
            DEFAULT_SHUTDOWN_GRACE,
            p,
        ),
        read_timeout: duration(
            "server.read_timeout",
            s.read_timeout,
            Duration::from_secs(60),
            p,
        ),
        write_timeout: duration(
            "server.write_timeout",
            s.write_timeout,
            Duration::from_secs(60),
            p,
        ),
        keepalive_timeout: duration(
            "server.keepalive_timeout",
            s.keepalive_timeout,
            Duration::from_secs(60),
            p,
        ),
        header_timeout: header_timeout(s.header_timeout, p),
    }
}

/// `server.header_timeout`: at least 100 ms (a head within one round trip), at most 10 min.
fn header_timeout(value: Option<DurationValue>, p: &mut impl FnMut(String)) -> Duration {
    let t = duration("server.header_timeout", value, DEFAULT_HEADER_TIMEOUT, p);
    if t < Duration::from_millis(100) || t > Duration::from_secs(600) {
        p(format!(
            "server.header_timeout = {t:?}: must be between 100ms and 10m"
        ));
        return DEFAULT_HEADER_TIMEOUT;
    }
    t
}

/// `server.tls_listen`, `tls_cert` and `tls_key`: all three or none; the PEM files must exist.
fn tls(s: &RawServer, base: &Path, p: &mut impl FnMut(String)) -> Option<TlsConfig> {
    match (&s.tls_listen, &s.tls_cert, &s.tls_key) {
        (None, None, None) => None,
        (Some(addr), Some(cert), Some(key)) => {
            let listen = parse_addr("server.tls_listen", Some(addr), p);
            let cert = resolve(base, cert);
            let key = resolve(base, key);
            check_pem("server.tls_cert", &cert, "CERTIFICATE", p);
            check_pem("server.tls_key", &key, "PRIVATE KEY", p);
            listen.map(|listen| TlsConfig { listen, cert, key })
        }
        _ => {
            p("server.tls_listen, server.tls_cert and server.tls_key go together: set all three or none".into());
            None
        }
    }
}

/// `upstream.pool_idle_timeout`: below nginx's default `keepalive_timeout` (75 s) and the
/// 60 s idle timeout of common load balancers.
const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// `[upstream]`: the backend's `host:port`, its kind and timeouts.
fn upstream(u: RawUpstream, p: &mut impl FnMut(String)) -> UpstreamConfig {
    if !valid_host_port(&u.address) {
        p(format!(
            "upstream.address = {:?}: expected host:port, e.g. \"127.0.0.1:8081\"",
            u.address
        ));
    }
    let mut complete_keepalive = duration(
        "upstream.complete_keepalive",
        u.complete_keepalive,
        Duration::from_secs(10),
        p,
    );
    if complete_keepalive.is_zero() {
        p("upstream.complete_keepalive must be longer than 0".to_string());
        complete_keepalive = Duration::from_secs(10);
    }
    UpstreamConfig {
        address: u.address,
        kind: u.kind,
        connect_timeout: duration(
            "upstream.connect_timeout",
            u.connect_timeout,
            Duration::from_secs(5),
            p,
        ),
        read_timeout: duration(
            "upstream.read_timeout",
            u.read_timeout,
            Duration::from_secs(60),
            p,
        ),
        readiness_probe: u.readiness_probe,
        md5_etag: u.md5_etag.unwrap_or(true),
        strip_headers: strip_headers(u.strip_headers, p),
        multipart_expiry: duration(
            "upstream.multipart_expiry",
            u.multipart_expiry,
            Duration::from_secs(7 * 86_400),
            p,
        ),
        complete_keepalive,
        pool_idle_timeout: duration(
            "upstream.pool_idle_timeout",
            u.pool_idle_timeout,
            DEFAULT_POOL_IDLE_TIMEOUT,
            p,
        ),
        write_timeout: duration(
            "upstream.write_timeout",
            u.write_timeout,
            Duration::from_secs(60),
            p,
        ),
    }
}

/// `upstream.strip_headers`: valid header names, lower-cased.
fn strip_headers(names: Vec<String>, p: &mut impl FnMut(String)) -> Vec<String> {
    names
        .into_iter()
        .filter_map(|name| {
            let lower = name.to_ascii_lowercase();
            if http::header::HeaderName::from_bytes(lower.as_bytes()).is_err() {
                p(format!(
                    "upstream.strip_headers: {name:?} is not a valid header name"
                ));
                return None;
            }
            Some(lower)
        })
        .collect()
}

/// `[auth]`: regions, time limits, the secrets file (which must exist when
/// `require_secrets_file`), the identity header and virtual-host suffixes.
fn auth(
    a: RawAuth,
    base: &Path,
    require_secrets_file: bool,
    p: &mut impl FnMut(String),
) -> AuthConfig {
    let regions = regions(a.region, p);
    let clock_skew = duration("auth.clock_skew", a.clock_skew, DEFAULT_CLOCK_SKEW, p);
    let max_presign_expiry = duration(
        "auth.max_presign_expiry",
        a.max_presign_expiry,
        MAX_PRESIGN_EXPIRY,
        p,
    );
    if max_presign_expiry > MAX_PRESIGN_EXPIRY || max_presign_expiry.is_zero() {
        p(format!(
            "auth.max_presign_expiry = {}s: must be between 1s and 7d (SigV4's limit)",
            max_presign_expiry.as_secs()
        ));
    }
    let secrets_file = resolve(base, &a.secrets_file);
    if require_secrets_file && !secrets_file.is_file() {
        p(format!(
            "auth.secrets_file = {}: no such file",
            secrets_file.display()
        ));
    }
    let identity_header = a
        .identity_header
        .unwrap_or_else(|| "x-forwarded-user".into())
        .to_ascii_lowercase();
    if http::header::HeaderName::from_bytes(identity_header.as_bytes()).is_err() {
        p(format!(
            "auth.identity_header = {identity_header:?}: not a valid header name"
        ));
    }
    let virtual_host_suffixes = virtual_host_suffixes(a.virtual_host_suffixes, p);
    AuthConfig {
        settings: AuthSettings {
            regions,
            clock_skew,
            max_presign_expiry,
            boto2_presign_compat: a.boto2_presign_compat,
        },
        secrets_file,
        virtual_host_suffixes,
        identity_header,
        signature_diagnostics: a.signature_diagnostics.unwrap_or(true),
        secrets_poll_interval: duration(
            "auth.secrets_poll_interval",
            a.secrets_poll_interval,
            DEFAULT_SECRETS_POLL_INTERVAL,
            p,
        ),
        sigv2: a.sigv2.unwrap_or(true),
    }
}

/// `auth.region`: one name or a non-empty list, none empty or holding a `/`.
fn regions(region: OneOrMany, p: &mut impl FnMut(String)) -> Vec<String> {
    let regions = match region {
        OneOrMany::One(r) => vec![r],
        OneOrMany::Many(rs) => rs,
    };
    if regions.is_empty() || regions.iter().any(|r| r.is_empty() || r.contains('/')) {
        p(format!(
            "auth.region = {regions:?}: give one region name or a non-empty list of them"
        ));
    }
    regions
}

/// `auth.virtual_host_suffixes`: host names, lower-cased and without a leading dot; a bad one is
/// reported and left out.
fn virtual_host_suffixes(suffixes: Vec<String>, p: &mut impl FnMut(String)) -> Vec<String> {
    let mut virtual_host_suffixes = Vec::new();
    for suffix in suffixes {
        let s = suffix.trim_start_matches('.').to_ascii_lowercase();
        if s.is_empty() || s.contains(':') || s.contains('/') {
            p(format!(
                "auth.virtual_host_suffixes: {suffix:?} is not a host name (no port, no scheme)"
            ));
        } else {
            virtual_host_suffixes.push(s);
        }
    }
    virtual_host_suffixes
}

/// `[limits]`: sizes with units; the POST limits are bounded by [`MAX_POST_PREFIX_LIMIT`].
fn limits(l: RawLimits, p: &mut impl FnMut(String)) -> Limits {
    let admission = admission_limits(&l, p);
    let max_chunk_size = match l.max_chunk_size {
        None => DEFAULT_MAX_CHUNK_SIZE,
        Some(v) => parse_size(&v).unwrap_or_else(|e| {
            p(format!("limits.max_chunk_size: {e}"));
            DEFAULT_MAX_CHUNK_SIZE
        }),
    };
    let mut size_limit = |key: &str, value: Option<SizeValue>, default: usize| match value {
        None => default,
        Some(v) => match parse_size(&v) {
            Ok(n) if n > 0 && n <= MAX_POST_PREFIX_LIMIT => n as usize,
            Ok(n) => {
                p(format!(
                    "{key} = {n}: must be between 1 byte and {MAX_POST_PREFIX_LIMIT} bytes"
                ));
                default
            }
            Err(e) => {
                p(format!("{key}: {e}"));
                default
            }
        },
    };
    let post_max_field_size = size_limit(
        "limits.post_max_field_size",
        l.post_max_field_size,
        DEFAULT_POST_MAX_FIELD_SIZE,
    );
    let post_max_prefix = size_limit(
        "limits.post_max_prefix",
        l.post_max_prefix,
        DEFAULT_POST_MAX_PREFIX,
    );
    let max_delete_body = size_limit(
        "limits.max_delete_body",
        l.max_delete_body,
        DEFAULT_MAX_DELETE_BODY,
    );
    let max_complete_body = size_limit(
        "limits.max_complete_body",
        l.max_complete_body,
        DEFAULT_MAX_COMPLETE_BODY,
    );
    let max_folder_index = match l.max_folder_index.map(|v| parse_size(&v)) {
        None => DEFAULT_MAX_FOLDER_INDEX,
        Some(Ok(n)) if n >= 1024 && n <= MAX_FOLDER_INDEX_LIMIT as u64 => n as usize,
        Some(Ok(n)) => {
            p(format!(
                "limits.max_folder_index = {n}: must be between 1KiB and {MAX_FOLDER_INDEX_LIMIT} bytes"
            ));
            DEFAULT_MAX_FOLDER_INDEX
        }
        Some(Err(e)) => {
            p(format!("limits.max_folder_index: {e}"));
            DEFAULT_MAX_FOLDER_INDEX
        }
    };
    let post_max_parts = l.post_max_parts.unwrap_or(DEFAULT_POST_MAX_PARTS);
    if post_max_parts == 0 || post_max_parts > 100_000 {
        p(format!(
            "limits.post_max_parts = {post_max_parts}: must be between 1 and 100000"
        ));
    }
    Limits {
        max_chunk_size,
        post_max_field_size,
        post_max_prefix,
        post_max_parts,
        max_delete_body,
        max_complete_body,
        max_folder_index,
        max_header_size: admission.0,
        unauthenticated_memory: admission.1,
        max_connections_per_address: admission.2,
    }
}

/// The limits on requests not yet authenticated: `limits.max_header_size` (1 KiB to Pingora's
/// own 1 MiB), `limits.unauthenticated_memory` (at least 1 MiB) and
/// `limits.max_connections_per_address` (0, the default, for none).
fn admission_limits(l: &RawLimits, p: &mut impl FnMut(String)) -> (usize, usize, Option<u32>) {
    let max_header_size = match l.max_header_size.as_ref().map(parse_size) {
        None => DEFAULT_MAX_HEADER_SIZE,
        Some(Ok(n)) if (1024..=MAX_HEADER_SIZE_LIMIT as u64).contains(&n) => n as usize,
        Some(Ok(n)) => {
            p(format!(
                "limits.max_header_size = {n}: must be between 1KiB and {MAX_HEADER_SIZE_LIMIT} bytes"
            ));
            DEFAULT_MAX_HEADER_SIZE
        }
        Some(Err(e)) => {
            p(format!("limits.max_header_size: {e}"));
            DEFAULT_MAX_HEADER_SIZE
        }
    };
    let unauthenticated_memory = match l.unauthenticated_memory.as_ref().map(parse_size) {
        None => DEFAULT_UNAUTHENTICATED_MEMORY,
        Some(Ok(n)) if n >= 1024 * 1024 && usize::try_from(n).is_ok() => n as usize,
        Some(Ok(n)) => {
            p(format!(
                "limits.unauthenticated_memory = {n}: must be at least 1MiB"
            ));
            DEFAULT_UNAUTHENTICATED_MEMORY
        }
        Some(Err(e)) => {
            p(format!("limits.unauthenticated_memory: {e}"));
            DEFAULT_UNAUTHENTICATED_MEMORY
        }
    };
    let per_address = l.max_connections_per_address.filter(|&n| n > 0);
    (max_header_size, unauthenticated_memory, per_address)
}

/// `[[cors]]`: every rule, in order; problems name the rule by its index (`cors[0]`).
fn cors(rules: Vec<RawCorsRule>, p: &mut impl FnMut(String)) -> crate::cors::CorsRules {
    let mut cors_rules = Vec::new();
    for (i, rule) in rules.into_iter().enumerate() {
        cors_rules.push(cors_rule(i, rule, p));
    }
    crate::cors::CorsRules::new(cors_rules)
}

/// One `[[cors]]` rule: origins and methods checked, methods upper-cased, headers lower-cased.
fn cors_rule(i: usize, rule: RawCorsRule, p: &mut impl FnMut(String)) -> crate::cors::CorsRule {
    let at = format!("cors[{i}]");
    if rule.allowed_origins.is_empty() {
        p(format!(
            "{at}.allowed_origins: list at least one origin (or \"*\")"
        ));
    }
    for origin in &rule.allowed_origins {
        if let Err(e) = crate::cors::validate_origin(origin) {
            p(format!("{at}.allowed_origins: {e}"));
        }
    }
    if rule.allowed_methods.is_empty() {
        p(format!("{at}.allowed_methods: list at least one method"));
    }
    let allowed_methods: Vec<String> = rule
        .allowed_methods
        .iter()
        .map(|m| m.to_ascii_uppercase())
        .collect();
    for m in &allowed_methods {
        if !crate::cors::CORS_METHODS.contains(&m.as_str()) {
            p(format!(
                "{at}.allowed_methods: {m:?} is not one of GET, PUT, POST, DELETE, HEAD"
            ));
        }
    }
    for h in &rule.allowed_headers {
        if h.matches('*').count() > 1 {
            p(format!("{at}.allowed_headers: {h:?} has more than one `*`"));
        }
    }
    let max_age = rule.max_age.map(|v| {
        let key = format!("{at}.max_age");
        duration(&key, Some(v), Duration::ZERO, p)
    });
    crate::cors::CorsRule {
        buckets: rule.buckets,
        allowed_origins: rule.allowed_origins,
        allowed_methods,
        allowed_headers: rule
            .allowed_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        expose_headers: rule.expose_headers,
        max_age,
    }
}

/// `[log]`: the level must be a valid `tracing` filter.
fn log(l: RawLog, p: &mut impl FnMut(String)) -> LogConfig {
    let log = LogConfig {
        level: l.level.unwrap_or_else(|| "info".into()),
        format: l.format.unwrap_or(LogFormat::Text),
    };
    if tracing_subscriber::EnvFilter::try_new(&log.level).is_err() {
        p(format!(
            "log.level = {:?}: not a valid filter (e.g. \"info\", \"debug\")",
            log.level
        ));
    }
    log
}

/// A path written in the file: a relative one is relative to the config file's folder (`base`).
fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// A listener key, `ip:port`: `None` when absent, or when wrong (then also a problem).
fn parse_addr(key: &str, value: Option<&str>, p: &mut impl FnMut(String)) -> Option<SocketAddr> {
    let value = value?;
    match value.parse() {
        Ok(addr) => Some(addr),
        Err(_) => {
            p(format!(
                "{key} = {value:?}: expected ip:port, e.g. \"127.0.0.1:8080\" or \"[::]:8080\""
            ));
            None
        }
    }
}

/// `host:port` with a non-empty host and a port from 1 to 65535; a host name is resolved later,
/// per connection.
fn valid_host_port(address: &str) -> bool {
    match address.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0),
        None => false,
    }
}

/// The file can be read and holds a PEM block whose label contains `label`.
fn check_pem(key: &str, path: &Path, label: &str, p: &mut impl FnMut(String)) {
    match std::fs::read_to_string(path) {
        Ok(text) if text.contains("-----BEGIN ") && text.contains(label) => {}
        Ok(_) => p(format!(
            "{key} = {}: not a PEM file with a {label} block",
            path.display()
        )),
        Err(e) => p(format!("{key} = {}: {e}", path.display())),
    }
}
