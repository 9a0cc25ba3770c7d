//! The command line: clap's definitions of the arguments and subcommands, and the work of the
//! subcommands that are not `serve` (presigned URLs, upload forms, the health probe). `main`
//! dispatches here and turns the outcome into an exit code.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use s3_auth_proxy::config::Config;

/// A reverse proxy that puts AWS Signature Version 4 authentication in front of a storage
/// backend that has none (nginx with WebDAV, a keyless S3 server, an internal blob service).
///
/// Every request is verified before it reaches the backend: the Authorization header or the
/// presigned URL, the credential scope and date, and the payload hash as the body streams.
#[derive(Parser)]
#[command(version, about, long_about)]
pub struct Cli {
    /// Path of proxy.toml (used when no subcommand is given: same as `serve`).
    #[arg(long, short, global = true, default_value = "proxy.toml")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the proxy in the foreground (the default). Logs go to stderr; SIGTERM finishes the
    /// requests in flight within server.shutdown_grace, SIGINT stops at once.
    Serve,
    /// Validate the config (and the secrets file it names) and exit: 0 if it is usable, 1 with
    /// every problem named otherwise.
    CheckConfig,
    /// Ask the running proxy's `/healthz` (on server.metrics_listen) and exit 0 if it answers
    /// 200, 1 otherwise. Meant for container health checks: the image needs no shell or curl.
    Healthcheck {
        /// Ask `/readyz` instead of `/healthz`.
        #[arg(long)]
        ready: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// Print a presigned URL (SigV4) for an object, signed with a key of the secrets file.
    Presign {
        #[command(flatten)]
        signing: SigningArgs,
        /// GET to download, PUT to upload, HEAD, DELETE.
        #[arg(long, default_value = "GET")]
        method: String,
        /// How long the URL stays valid: "90s", "15m", "1h", "7d" (at most auth.max_presign_expiry).
        #[arg(long, default_value = "1h")]
        expires: String,
        /// The object: s3://bucket/key
        object: String,
    },
    /// Print an HTML page with a browser upload form (a signed POST policy) for a bucket.
    PostForm {
        #[command(flatten)]
        signing: SigningArgs,
        /// The bucket files go to.
        #[arg(long)]
        bucket: String,
        /// Keys of uploaded files start with this; the file's own name follows.
        #[arg(long, default_value = "")]
        key_prefix: String,
        /// Largest file accepted, e.g. "10MiB" (default: no limit).
        #[arg(long)]
        max_size: Option<String>,
        /// Send the browser here after a successful upload (with bucket, key and etag in the
        /// query); without it the proxy answers 201 with an XML PostResponse.
        #[arg(long)]
        redirect: Option<String>,
        /// How long the form stays usable: "15m", "1h", "7d".
        #[arg(long, default_value = "1h")]
        expires: String,
    },
}

/// Who signs a presigned URL or a form, and where clients reach the proxy.
#[derive(clap::Args)]
pub struct SigningArgs {
    /// The access key id to sign with (from auth.secrets_file).
    #[arg(long)]
    key_id: String,
    /// The proxy as clients and browsers reach it, e.g. https://files.example.com (default:
    /// from server.listen / server.tls_listen).
    #[arg(long)]
    endpoint: Option<String>,
    /// Region of the signature (default: the first of auth.region).
    #[arg(long)]
    region: Option<String>,
}

/// `scheme://host:port` of the proxy from its own listeners (0.0.0.0 → 127.0.0.1).
fn default_endpoint(config: &Config) -> Option<String> {
    let loopback = |addr: std::net::SocketAddr| -> String {
        match addr.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => format!("127.0.0.1:{}", addr.port()),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => format!("[::1]:{}", addr.port()),
            _ => addr.to_string(),
        }
    };
    if let Some(listen) = config.server.listen {
        return Some(format!("http://{}", loopback(listen)));
    }
    config
        .server
        .tls
        .as_ref()
        .map(|t| format!("https://{}", loopback(t.listen)))
}

/// Split `scheme://host[:port]` (a trailing `/` allowed).
fn split_endpoint(endpoint: &str) -> Result<(String, String), String> {
    let (scheme, rest) = endpoint
        .split_once("://")
        .ok_or_else(|| format!("--endpoint {endpoint:?}: expected scheme://host[:port]"))?;
    let host = rest.trim_end_matches('/');
    if !(scheme == "http" || scheme == "https") || host.is_empty() || host.contains('/') {
        return Err(format!(
            "--endpoint {endpoint:?}: expected http(s)://host[:port] without a path"
        ));
    }
    Ok((scheme.to_string(), host.to_string()))
}

/// The signing material of `key_id` for now, from the config's secrets file.
struct SigningNow {
    key: s3_auth_proxy::auth::sigv4::SigningKey,
    region: String,
    amz_date: String,
    now: time::OffsetDateTime,
}

fn signing_now(
    config: &Config,
    key_id: &str,
    region: Option<String>,
) -> Result<SigningNow, String> {
    use s3_auth_proxy::auth::SigningKeys;
    let store = s3_auth_proxy::credentials::CredentialStore::load(config.auth.secrets_file.clone())
        .map_err(|e| format!("auth.secrets_file: {e}"))?;
    let region = region.unwrap_or_else(|| config.auth.settings.regions[0].clone());
    if !config.auth.settings.regions.contains(&region) {
        return Err(format!(
            "--region {region}: not one of auth.region {:?}",
            config.auth.settings.regions
        ));
    }
    let now = time::OffsetDateTime::now_utc();
    let amz_date = now
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .map_err(|e| format!("cannot format the date: {e}"))?;
    let key = store
        .signing_key(key_id, &amz_date[..8], &region, "s3")
        .ok_or_else(|| format!("--key-id {key_id}: no such access key in the secrets file"))?;
    Ok(SigningNow {
        key,
        region,
        amz_date,
        now,
    })
}

pub fn presign_command(
    config: &Config,
    SigningArgs {
        key_id,
        endpoint,
        region,
    }: SigningArgs,
    method: &str,
    expires: &str,
    object: &str,
) -> Result<String, String> {
    let method = method.to_ascii_uppercase();
    if !matches!(method.as_str(), "GET" | "PUT" | "HEAD" | "DELETE") {
        return Err(format!(
            "--method {method}: expected GET, PUT, HEAD or DELETE"
        ));
    }
    let expires =
        s3_auth_proxy::config::parse_duration(expires).map_err(|e| format!("--expires: {e}"))?;
    if expires.is_zero() || expires > config.auth.settings.max_presign_expiry {
        return Err(format!(
            "--expires: must be between 1s and auth.max_presign_expiry ({}s)",
            config.auth.settings.max_presign_expiry.as_secs()
        ));
    }
    let (bucket, key) = object
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(|| format!("{object:?}: expected s3://bucket/key"))?;
    let endpoint = endpoint
        .or_else(|| default_endpoint(config))
        .ok_or("--endpoint is needed: the config has no listener")?;
    let (scheme, host) = split_endpoint(&endpoint)?;
    let signing = signing_now(config, &key_id, region)?;
    let signer = s3_auth_proxy::signer::Signer {
        access_key: &key_id,
        signing_key: &signing.key,
        region: &signing.region,
        amz_date: &signing.amz_date,
    };
    Ok(s3_auth_proxy::signer::presigned_url(
        &signer,
        &method,
        &scheme,
        &host,
        &format!("/{bucket}/{key}"),
        expires,
    ))
}

pub fn post_form_command(
    config: &Config,
    SigningArgs {
        key_id,
        endpoint,
        region,
    }: SigningArgs,
    bucket: &str,
    key_prefix: &str,
    max_size: Option<String>,
    redirect: Option<String>,
    expires: &str,
) -> Result<String, String> {
    if bucket.is_empty() || bucket.contains('/') {
        return Err(format!("--bucket {bucket:?}: a bucket name has no '/'"));
    }
    let expires =
        s3_auth_proxy::config::parse_duration(expires).map_err(|e| format!("--expires: {e}"))?;
    if expires.is_zero() || expires > std::time::Duration::from_secs(7 * 86_400) {
        return Err("--expires: must be between 1s and 7d".into());
    }
    let max_size = max_size
        .map(|m| s3_auth_proxy::config::parse_size_text(&m).map_err(|e| format!("--max-size: {e}")))
        .transpose()?;
    let endpoint = endpoint
        .or_else(|| default_endpoint(config))
        .ok_or("--endpoint is needed: the config has no listener")?;
    split_endpoint(&endpoint)?;
    let signing = signing_now(config, &key_id, region)?;
    let expiration = signing.now + expires;
    let expiration = expiration
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .map_err(|e| format!("cannot format the expiration: {e}"))?;
    let signer = s3_auth_proxy::signer::Signer {
        access_key: &key_id,
        signing_key: &signing.key,
        region: &signing.region,
        amz_date: &signing.amz_date,
    };
    let spec = s3_auth_proxy::signer::PostFormSpec {
        endpoint: &endpoint,
        bucket,
        key_prefix,
        max_size,
        redirect: redirect.as_deref(),
        expiration: &expiration,
    };
    Ok(s3_auth_proxy::signer::post_form_html(&signer, &spec))
}

/// GET `path` on `addr` with a plain HTTP/1.1 request; true on a 200 answer.
pub fn probe(
    addr: std::net::SocketAddr,
    path: &str,
    timeout: std::time::Duration,
) -> Result<bool, String> {
    use std::io::{Read, Write};
    // A listener on 0.0.0.0 / [::] is asked on loopback.
    let addr = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    };
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 12];
    stream
        .read_exact(&mut head)
        .map_err(|e| format!("{addr}: {e}"))?;
    Ok(&head[9..12] == b"200")
}
