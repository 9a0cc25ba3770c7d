//! The `s3-auth-proxy` command: parse arguments, load the config, start the server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use s3_auth_proxy::config::{Config, LogFormat};

/// A reverse proxy that puts AWS Signature Version 4 authentication in front of a storage
/// backend that has none (nginx with WebDAV, a keyless S3 server, an internal blob service).
///
/// Every request is verified before it reaches the backend: the Authorization header or the
/// presigned URL, the credential scope and date, and the payload hash as the body streams.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Path of proxy.toml (used when no subcommand is given: same as `serve`).
    #[arg(long, short, global = true, default_value = "proxy.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
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
}

/// GET `path` on `addr` with a plain HTTP/1.1 request; true on a 200 answer.
fn probe(
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

fn init_logging(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // Pingora logs through the `log` crate; the subscriber's log bridge folds it in.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    let loaded = match command {
        Command::CheckConfig => Config::load(&cli.config),
        _ => Config::load_for_serving(&cli.config),
    };
    let config = match loaded {
        Ok(c) => c,
        Err(errs) => {
            eprintln!("error: {errs}");
            return ExitCode::from(1);
        }
    };
    match command {
        Command::CheckConfig => {
            match s3_auth_proxy::credentials::CredentialStore::load(
                config.auth.secrets_file.clone(),
            ) {
                Ok(_) => {
                    println!("{}: ok", cli.config.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "error: {}: 1 problem(s)\n  - auth.secrets_file: {e}",
                        cli.config.display()
                    );
                    ExitCode::from(1)
                }
            }
        }
        Command::Healthcheck { ready, timeout } => {
            let Some(addr) = config.server.metrics_listen else {
                eprintln!(
                    "error: {}: server.metrics_listen is not set",
                    cli.config.display()
                );
                return ExitCode::from(1);
            };
            let path = if ready { "/readyz" } else { "/healthz" };
            match probe(addr, path, std::time::Duration::from_secs(timeout)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => {
                    eprintln!("{path} on {addr}: not OK");
                    ExitCode::from(1)
                }
                Err(e) => {
                    eprintln!("{path}: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Serve => {
            init_logging(&config.log.level, config.log.format);
            match s3_auth_proxy::server::run(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
