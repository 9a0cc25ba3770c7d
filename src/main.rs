//! The `s3-auth-proxy` command: parse arguments, load the config, run the subcommand and turn
//! its outcome into an exit code: 0 done; 1 the config, the health check or the server failed;
//! 2 presign or post-form could not sign what was asked (clap also exits 2 on a malformed
//! command line). The arguments and the subcommands' work are in `cli`.

mod cli;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use s3_auth_proxy::config::{Config, LogFormat};
use s3_auth_proxy::ops::{spawn_log_writer, LogFlushGuard};
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use cli::{Cli, Command};

/// mimalloc instead of glibc's malloc: a small GET allocates and frees a few hundred blocks in
/// Pingora's header maps, futures and our request model, and glibc's malloc/free were ~9 % of
/// the proxy's CPU under load. Measured (bench-hop.py --before, same rounds): 0.79-0.82x CPU
/// per request, 1.14-1.31x requests/s; RSS +9 MiB idle (per-thread segments). Under the
/// soak's 1,000 + 1,000 connections the peak RSS was 180 MiB against glibc's 218-303, and
/// after the load it kept 146-151 MiB (glibc: 217-255, or 26-35 after `malloc_trim`, which
/// mimalloc's memory does not answer to): docs/benchmarks.md, docs/soak.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Command::CheckConfig => check_config(&cli.config, &config),
        Command::Healthcheck { ready, timeout } => {
            healthcheck(&cli.config, &config, ready, timeout)
        }
        Command::Presign {
            signing,
            method,
            expires,
            object,
        } => match cli::presign_command(&config, signing, &method, &expires, &object) {
            Ok(url) => {
                println!("{url}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::PostForm {
            signing,
            bucket,
            key_prefix,
            max_size,
            redirect,
            expires,
        } => match cli::post_form_command(
            &config,
            signing,
            &bucket,
            &key_prefix,
            max_size,
            redirect,
            &expires,
        ) {
            Ok(html) => {
                print!("{html}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Serve => serve(config),
    }
}

/// `check-config`: the config loaded; the secrets file it names must load too.
fn check_config(config_path: &Path, config: &Config) -> ExitCode {
    match s3_auth_proxy::credentials::CredentialStore::load(config.auth.secrets_file.clone()) {
        Ok(_) => {
            println!("{}: ok", config_path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: {}: 1 problem(s)\n  - auth.secrets_file: {e}",
                config_path.display()
            );
            ExitCode::from(1)
        }
    }
}

/// `healthcheck`: 0 when `/healthz` (or `/readyz`) on `server.metrics_listen` answers 200.
fn healthcheck(config_path: &Path, config: &Config, ready: bool, timeout: u64) -> ExitCode {
    let Some(addr) = config.server.metrics_listen else {
        eprintln!(
            "error: {}: server.metrics_listen is not set",
            config_path.display()
        );
        return ExitCode::from(1);
    };
    let path = if ready { "/readyz" } else { "/healthz" };
    match cli::probe(addr, path, std::time::Duration::from_secs(timeout)) {
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

/// `serve` (the default): run the proxy until it is stopped.
fn serve(config: Config) -> ExitCode {
    // Dropped after the server has stopped (SIGTERM drained, or SIGINT): writes out every log
    // line still pending, the last requests' access lines included.
    let _log_flush = init_logging(&config.log.level, config.log.format);
    match s3_auth_proxy::server::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr at `log.level` (`RUST_LOG` wins when set), as text or JSON, written by a
/// thread of their own (`ops::spawn_log_writer`): no request waits on a write to stderr. The
/// guard writes out what is pending when dropped. Without that thread (it could not start),
/// lines are written by the threads that log them, as before.
fn init_logging(level: &str, format: LogFormat) -> Option<LogFlushGuard> {
    // Pingora's connection pool logs "failed to acquire reusable stream" as an ERROR when it
    // loses a race with its own idle watcher and opens a new connection (nothing failed; the
    // module logs nothing else above debug but one warning): silenced unless `RUST_LOG` asks.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},pingora_core::connectors=off"))
    });
    let (writer, guard) = match spawn_log_writer(std::io::stderr()) {
        Ok((writer, guard)) => (BoxMakeWriter::new(writer), Some(guard)),
        Err(e) => {
            eprintln!("warning: cannot start the log writer thread ({e}): logging synchronously");
            (BoxMakeWriter::new(std::io::stderr), None)
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    // Pingora logs through the `log` crate; the subscriber's log bridge folds it in.
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    guard
}
