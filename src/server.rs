//! Assembling the Pingora server from a validated [`Config`]: the proxy service on its HTTP and
//! HTTPS listeners, the ops service (health, readiness, metrics), the secrets poller and the
//! graceful shutdown.

use std::sync::Arc;

use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig, DEFAULT_L4_WRITE_BUFFER_SIZE};
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server};

use pingora::proxy::HttpProxy;
use pingora::services::listening::Service;

use crate::admission::app::AdmittingApp;
use crate::admission::{Admission, AdmissionLimits};
use crate::config::Config;
use crate::credentials::CredentialStore;
use crate::ops::{GracefulShutdown, Lifecycle, Metrics, OpsApp};
use crate::proxy::AuthProxy;

/// The read buffer Pingora puts under each plain-HTTP client connection: none. Pingora's
/// default (64 KiB, zero-filled when the connection is accepted) is resident for as long as the
/// connection lives, idle keep-alive included: without it 1,000 idle keep-alive connections
/// took 55.6 MiB instead of 76.9 on a fresh process, 76 instead of 148 after a 1,024-connection
/// load (docs/benchmarks.md, issue 16). Without it, request heads are read into Pingora's own head
/// buffer (4 KiB, growing) and bodies into its 64 KiB body buffer, straight from the socket, as
/// nginx reads into its 1 KiB header buffer. The TLS listener keeps Pingora's default: rustls
/// reads 16 KiB records in small pieces, which the buffer turns into one system call each.
const PLAIN_READ_BUFFER: usize = 0;

/// Build and run the server until SIGTERM (graceful, within `server.shutdown_grace`) or SIGINT.
pub fn run(config: Config) -> Result<(), String> {
    let config = Arc::new(config);
    let credentials = Arc::new(
        match CredentialStore::load(config.auth.secrets_file.clone()) {
            Ok(store) => store,
            Err(why) => {
                // Not fatal: a Secret may be mounted late. Not ready (and refusing requests) until
                // the poller finds a valid file.
                tracing::error!("secrets not loaded, not ready until they are: {why}");
                CredentialStore::pending(config.auth.secrets_file.clone())
            }
        },
    );
    credentials
        .spawn_poller(config.auth.secrets_poll_interval)
        .map_err(|e| format!("cannot start the secrets poller: {e}"))?;

    let lifecycle = Arc::new(Lifecycle::default());
    let metrics = Arc::new(Metrics::new().map_err(|e| format!("cannot set up metrics: {e}"))?);

    let conf = ServerConf {
        threads: config.server.threads,
        grace_period_seconds: Some(config.server.shutdown_grace.as_secs()),
        graceful_shutdown_timeout_seconds: Some(1),
        work_stealing: config.server.work_stealing,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    // Every accepted connection goes through admission (head deadline, head size, the
    // unauthenticated-memory budget, the per-address cap) before Pingora reads a head.
    let admission = Arc::new(Admission::new(
        AdmissionLimits::from_config(&config),
        Some(metrics.clone()),
    ));
    let mut http_proxy = HttpProxy::new(
        AuthProxy::new(
            config.clone(),
            credentials.clone(),
            lifecycle.clone(),
            metrics.clone(),
            admission.clone(),
        ),
        server.configuration.clone(),
    );
    http_proxy.handle_init_modules();
    let mut proxy = Service::new(
        "s3-auth-proxy".to_string(),
        AdmittingApp::new(http_proxy, admission),
    );
    if let Some(addr) = config.server.listen {
        proxy.add_listener(
            ListenerConfig::tcp(addr.to_string()).l4_buffer(L4BufferSettings::new(
                PLAIN_READ_BUFFER,
                DEFAULT_L4_WRITE_BUFFER_SIZE,
            )),
        );
    }
    if let Some(tls) = &config.server.tls {
        let cert = tls.cert.to_string_lossy();
        let key = tls.key.to_string_lossy();
        let mut settings = TlsSettings::intermediate(&cert, &key)
            .map_err(|e| format!("cannot use TLS certificate {cert} / key {key}: {e}"))?;
        settings.enable_h2();
        proxy.add_tls_with_settings(&tls.listen.to_string(), None, settings);
    }
    server.add_service(proxy);

    if let Some(addr) = config.server.metrics_listen {
        let upstream_probe = config.upstream.readiness_probe.then(|| {
            (
                config.upstream.address.clone(),
                config.upstream.connect_timeout,
            )
        });
        let app = OpsApp {
            credentials,
            lifecycle: lifecycle.clone(),
            metrics,
            upstream_probe,
        };
        app.spawn(addr)
            .map_err(|e| format!("cannot serve server.metrics_listen {addr}: {e}"))?;
    }

    tracing::info!(
        listen = ?config.server.listen,
        tls_listen = ?config.server.tls.as_ref().map(|t| t.listen),
        upstream = %config.upstream.address,
        "s3-auth-proxy starting"
    );
    server.run(RunArgs {
        shutdown_signal: Box::new(GracefulShutdown {
            lifecycle,
            grace: config.server.shutdown_grace,
        }),
    });
    Ok(())
}
