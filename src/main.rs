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
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(errs) => {
            eprintln!("error: {errs}");
            return ExitCode::from(1);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
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
