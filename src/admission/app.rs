//! Admission put in front of Pingora's `HttpProxy`, in the way Pingora offers for a custom
//! accept path (`HttpProxy::new`, then the proxy's `process_new_http` per request):
//!
//! - [`AdmittingApp`] is the service's application: for each accepted connection it takes a
//!   place under the per-address cap and wraps the stream in an [`AdmittedStream`];
//! - [`PerRequest`] is what Pingora's HTTP/1 and HTTP/2 driver calls for each request on that
//!   connection: it tells the stream a new head begins, then hands the session to the proxy.
//!
//! Pingora has no hook between accepting a connection and reading a head, nor one around each
//! read of a head, so this is where those limits can live.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::apps::{HttpServerApp, HttpServerOptions, ReusedHttpStream, ServerApp};
use pingora::protocols::http::v2::server::{default_h2_options, H2Options};
use pingora::protocols::http::ServerSession;
use pingora::protocols::Stream;
use pingora::proxy::{HttpProxy, ProxyHttp};
use pingora::server::ShutdownWatch;
use tokio::io::AsyncWriteExt;

use super::stream::AdmittedStream;
use super::{closing_answer, slow_down, Admission};

/// The proxy service's application: admission, then Pingora's proxy.
pub struct AdmittingApp<SV> {
    requests: Arc<PerRequest<SV>>,
    admission: Arc<Admission>,
}

impl<SV> AdmittingApp<SV>
where
    SV: ProxyHttp + Send + Sync + 'static,
    SV::CTX: Send + Sync,
{
    /// Admission in front of `proxy` (created with `HttpProxy::new` and its modules
    /// initialised).
    pub fn new(proxy: HttpProxy<SV>, admission: Arc<Admission>) -> AdmittingApp<SV> {
        // HTTP/2 heads arrive in frames this layer does not read: their size is capped by the
        // h2 settings instead, at the same limit as an HTTP/1 head (Pingora's other bounded
        // defaults, 100 streams per connection, kept).
        let mut h2_options = proxy.h2_options().unwrap_or_else(default_h2_options);
        let max_header = u32::try_from(admission.limits().max_header_size).unwrap_or(u32::MAX);
        h2_options.max_header_list_size(max_header);
        AdmittingApp {
            requests: Arc::new(PerRequest {
                proxy: Arc::new(proxy),
                h2_options,
            }),
            admission,
        }
    }
}

#[async_trait]
impl<SV> ServerApp for AdmittingApp<SV>
where
    SV: ProxyHttp + Send + Sync + 'static,
    SV::CTX: Send + Sync,
{
    async fn process_new(
        self: &Arc<Self>,
        mut stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let peer = stream
            .get_socket_digest()
            .and_then(|d| d.peer_addr().and_then(|a| a.as_inet()).map(|a| a.ip()));
        let Some(_slot) = self.admission.connection_slot(peer) else {
            let err = slow_down();
            self.admission.count_refusal(err.code);
            tracing::debug!(
                ?peer,
                "connection refused: limits.max_connections_per_address"
            );
            let _ = stream.write_all(&closing_answer(&err)).await;
            let _ = stream.shutdown().await;
            return None;
        };
        let mut stream = AdmittedStream::new(stream, self.admission.clone());
        let mut shutting_down = shutdown.clone();
        let head_read = tokio::select! {
            read = stream.read_first_head() => read,
            _ = shutting_down.wait_for(|&down| down) => false,
        };
        if !head_read {
            return None;
        }
        // Pingora's HTTP driver (its `ServerApp` for any `HttpServerApp`) runs the connection:
        // every request on it, kept alive or multiplexed, until it closes.
        self.requests.process_new(Box::new(stream), shutdown).await
    }

    async fn cleanup(&self) {
        self.requests.proxy.http_cleanup().await
    }
}

/// Each request of an admitted connection, handed to the proxy.
pub struct PerRequest<SV> {
    proxy: Arc<HttpProxy<SV>>,
    h2_options: H2Options,
}

#[async_trait]
impl<SV> HttpServerApp for PerRequest<SV>
where
    SV: ProxyHttp + Send + Sync + 'static,
    SV::CTX: Send + Sync,
{
    async fn process_new_http(
        self: &Arc<Self>,
        session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        if let Some(admitted) = session
            .stream()
            .and_then(|s| (**s).as_any().downcast_ref::<AdmittedStream>())
        {
            admitted.next_request();
        }
        self.proxy.process_new_http(session, shutdown).await
    }

    fn h2_options(&self) -> Option<H2Options> {
        Some(self.h2_options.clone())
    }

    fn server_options(&self) -> Option<&HttpServerOptions> {
        self.proxy.server_options()
    }

    async fn http_cleanup(&self) {
        self.proxy.http_cleanup().await
    }
}
