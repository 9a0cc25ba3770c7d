//! Assembling the Pingora server from a validated [`Config`]: the proxy service on its HTTP and
//! HTTPS listeners, the health service, the secrets poller.

use std::sync::Arc;

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::listeners::tls::TlsSettings;
use pingora::protocols::http::ServerSession;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server};
use pingora::services::listening::Service;

use crate::config::Config;
use crate::credentials::CredentialStore;
use crate::proxy::AuthProxy;

/// Answers `/healthz` (the process is alive) and `/readyz` (credentials are loaded).
pub struct HealthApp {
    credentials: Arc<CredentialStore>,
}

#[async_trait]
impl ServeHttp for HealthApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let (status, body): (u16, &[u8]) = match session.req_header().uri.path() {
            "/healthz" => (200, b"ok\n"),
            "/readyz" if self.credentials.is_loaded() => (200, b"ready\n"),
            "/readyz" => (503, b"not ready\n"),
            _ => (404, b"not found\n"),
        };
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "text/plain")
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(body.to_vec())
            .unwrap_or_default()
    }
}

/// Build and run the server until SIGTERM (graceful, within `server.shutdown_grace`) or SIGINT.
pub fn run(config: Config) -> Result<(), String> {
    let config = Arc::new(config);
    let credentials = Arc::new(
        CredentialStore::load(config.auth.secrets_file.clone())
            .map_err(|e| format!("cannot load the secrets file: {e}"))?,
    );
    credentials
        .spawn_poller(config.auth.secrets_poll_interval)
        .map_err(|e| format!("cannot start the secrets poller: {e}"))?;

    let conf = ServerConf {
        threads: config.server.threads,
        grace_period_seconds: Some(config.server.shutdown_grace.as_secs()),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let mut proxy = pingora::proxy::http_proxy_service_with_name(
        &server.configuration,
        AuthProxy::new(config.clone(), credentials.clone()),
        "s3-auth-proxy",
    );
    if let Some(addr) = config.server.listen {
        proxy.add_tcp(&addr.to_string());
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
        let mut health = Service::new("health".to_string(), HealthApp { credentials });
        health.add_tcp(&addr.to_string());
        health.threads = Some(1);
        server.add_service(health);
    }

    tracing::info!(
        listen = ?config.server.listen,
        tls_listen = ?config.server.tls.as_ref().map(|t| t.listen),
        upstream = %config.upstream.address,
        "s3-auth-proxy starting"
    );
    server.run(RunArgs::default());
    Ok(())
}
