//! The proxy's own HTTP client to the backend, and the plain store (`store::Store`) over it.
//!
//! Two users: the browser-form exchange (`form_upload`, one fresh connection per upload: that
//! path has no retry, so a pooled connection the backend closed meanwhile would fail it), and
//! the bucket and object operations of `kind = "http"` (`store`), whose small bodyless
//! GET/HEAD/MKCOL/DELETE/COPY/MOVE exchanges reuse pooled connections, retried once on a fresh
//! one when a pooled connection turns out closed (each is idempotent: a COPY or MOVE repeated
//! onto the same destination with `Overwrite: T` ends the same way).

use async_trait::async_trait;
use bytes::BytesMut;
use http::header;
use pingora::connectors::http::v1::Connector;
use pingora::http::RequestHeader;
use pingora::protocols::http::v1::client::HttpSession as UpstreamSession;
use pingora::upstreams::peer::HttpPeer;

use crate::backend::Backend;
use crate::error::{S3Error, S3ErrorCode};
use crate::request::upstream_path;
use crate::store::{Copied, Fetched, FileInfo, Index, Store};

/// How long an idle pooled backend connection is kept.
const POOL_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

/// A connection to the backend with the configured timeouts, an idle one from `connector`'s
/// pool if it has one (a fresh `Connector` has none). Also returns the peer, and whether the
/// connection was reused.
pub async fn connect(
    backend: &Backend,
    connector: &Connector,
) -> Result<(UpstreamSession, HttpPeer, bool), S3Error> {
    let peer = backend.peer().await.ok_or_else(S3Error::backend_failed)?;
    let (mut session, reused) = connector
        .get_http_session(&peer)
        .await
        .map_err(|_| S3Error::backend_failed())?;
    session.read_timeout = Some(backend.upstream.read_timeout);
    session.write_timeout = Some(backend.upstream.write_timeout);
    Ok((session, peer, reused))
}

/// A plain store reached over pooled HTTP/1 connections, acting for one access key (the
/// identity header the backend receives).
pub struct PlainStore<'a> {
    /// The backend.
    pub backend: &'a Backend,
    /// The shared connection pool.
    pub connector: &'a Connector,
    /// Who signed the request being answered.
    pub access_key: &'a str,
}

/// What the backend answered.
struct Answer {
    status: u16,
    /// The body, if asked for and within the budget; `None` when it went over.
    body: Option<BytesMut>,
    /// The answer's headers.
    headers: http::HeaderMap,
}

impl PlainStore<'_> {
    /// One exchange; `budget`: read the body, at most this many bytes.
    async fn exchange(
        &self,
        method: &str,
        folder: &str,
        budget: Option<usize>,
    ) -> Result<Answer, S3Error> {
        self.exchange_with(method, folder, &[], budget).await
    }

    /// One exchange with more request headers.
    async fn exchange_with(
        &self,
        method: &str,
        folder: &str,
        headers: &[(&str, &str)],
        budget: Option<usize>,
    ) -> Result<Answer, S3Error> {
        let mut head = self.head(method, folder)?;
        for (name, value) in headers {
            head.insert_header(name.to_string(), *value)
                .map_err(|_| S3Error::internal())?;
        }
        for attempt in 0..2 {
            let (mut session, peer, reused) = connect(self.backend, self.connector).await?;
            match exchange_on(&mut session, head.clone(), budget).await {
                Ok(answer) => {
                    if answer.body.is_some() || budget.is_none() {
                        self.connector
                            .release_http_session(session, &peer, Some(POOL_IDLE))
                            .await;
                    } else {
                        session.shutdown().await;
                    }
                    return Ok(answer);
                }
                // A pooled connection the backend closed meanwhile: once more on a new one.
                Err(_) if reused && attempt == 0 => continue,
                Err(e) => return Err(e),
            }
        }
        Err(S3Error::backend_failed())
    }

    /// The request head: `/{bucket}/{path…}/` re-encoded, the backend's Host, the identity.
    fn head(&self, method: &str, folder: &str) -> Result<Box<RequestHeader>, S3Error> {
        let path = folder_path(folder);
        let mut head = RequestHeader::build(method, path.as_bytes(), Some(3))
            .map_err(|_| S3Error::internal())?;
        let set = |head: &mut RequestHeader, name: &str, value: &str| {
            head.insert_header(name.to_string(), value)
                .map(|_| ())
                .map_err(|_| S3Error::internal())
        };
        set(
            &mut head,
            header::HOST.as_str(),
            &self.backend.upstream.address,
        )?;
        set(&mut head, &self.backend.identity_header, self.access_key)?;
        Ok(Box::new(head))
    }
}

/// The backend path of a folder or file (`bkt/a b/` → `/bkt/a%20b/`, `bkt/k` → `/bkt/k`,
/// `""` → `/`).
fn folder_path(folder: &str) -> String {
    match folder.split_once('/') {
        None => "/".to_string(),
        Some((bucket, "")) => format!("{}/", upstream_path(bucket, "")),
        Some((bucket, rest)) => upstream_path(bucket, rest),
    }
}

/// Send a bodyless request and read the answer (its body up to `budget` when asked for).
async fn exchange_on(
    session: &mut UpstreamSession,
    head: Box<RequestHeader>,
    budget: Option<usize>,
) -> Result<Answer, S3Error> {
    let failed = |_| S3Error::backend_failed();
    session.write_request_header(head).await.map_err(failed)?;
    session.finish_body().await.map_err(failed)?;
    session.read_response().await.map_err(failed)?;
    let status = session.get_status().map(|s| s.as_u16()).unwrap_or(502);
    let headers = session
        .resp_header()
        .map(|h| h.headers.clone())
        .unwrap_or_default();
    let wanted = budget.filter(|_| status == 200);
    let mut body = BytesMut::new();
    while let Some(piece) = session.read_body_ref().await.map_err(failed)? {
        if let Some(budget) = wanted {
            if body.len() + piece.len() > budget {
                return Ok(Answer {
                    status,
                    body: None,
                    headers,
                });
            }
            body.extend_from_slice(piece);
        }
    }
    Ok(Answer {
        status,
        body: Some(body),
        headers,
    })
}

fn unexpected(status: u16, method: &str, folder: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::from_backend_status(status),
        format!("The backend answered {status} to {method} of the folder {folder}."),
    )
}

fn unexpected_for_file(status: u16, method: &str, path: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::from_backend_status(status),
        format!("The backend answered {status} to {method} of {path}."),
    )
}

/// A file as nginx's HEAD describes it: its `ETag` and `Last-Modified`.
fn file_info(headers: &http::HeaderMap) -> Option<FileInfo> {
    let text = |name: http::header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let etag = text(header::ETAG)?.to_string();
    let modified = httpdate::parse_http_date(text(header::LAST_MODIFIED)?).ok()?;
    let mtime = modified
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(FileInfo {
        etag,
        mtime: i64::try_from(mtime).ok()?,
    })
}

#[async_trait]
impl Store for PlainStore<'_> {
    async fn index(&self, folder: &str, budget: usize) -> Result<Fetched, S3Error> {
        let answer = self.exchange("GET", folder, Some(budget)).await?;
        match (answer.status, answer.body) {
            (200, Some(body)) => Ok(Fetched::Index(Index::parse(&body)?, body.len())),
            (200, None) => Ok(Fetched::TooLarge),
            // No such folder (a file of that name answers 404 too, with the `/`).
            (404 | 403, _) => Ok(Fetched::Missing),
            (status, _) => Err(unexpected(status, "GET", folder)),
        }
    }

    async fn folder_exists(&self, folder: &str) -> Result<bool, S3Error> {
        match self.exchange("HEAD", folder, None).await?.status {
            200 => Ok(true),
            404 | 403 => Ok(false),
            status => Err(unexpected(status, "HEAD", folder)),
        }
    }

    async fn make_folder(&self, folder: &str) -> Result<bool, S3Error> {
        match self.exchange("MKCOL", folder, None).await?.status {
            200 | 201 => Ok(true),
            // nginx: the folder (or a file of that name) exists.
            405 => Ok(false),
            status => Err(unexpected(status, "MKCOL", folder)),
        }
    }

    async fn delete_folder(&self, folder: &str) -> Result<(), S3Error> {
        match self.exchange("DELETE", folder, None).await?.status {
            200 | 204 | 404 => Ok(()),
            status => Err(unexpected(status, "DELETE", folder)),
        }
    }

    async fn delete_file(&self, path: &str) -> Result<bool, S3Error> {
        match self.exchange("DELETE", path, None).await?.status {
            200 | 204 => Ok(true),
            // 409: nginx refuses to DELETE a folder named without its slash.
            404 | 409 => Ok(false),
            status => Err(unexpected_for_file(status, "DELETE", path)),
        }
    }

    async fn copy_file(&self, from: &str, to: &str) -> Result<Copied, S3Error> {
        let destination = folder_path(to);
        let headers = [("destination", destination.as_str()), ("overwrite", "T")];
        match self
            .exchange_with("COPY", from, &headers, None)
            .await?
            .status
        {
            201 | 204 => Ok(Copied::Done),
            // 400: nginx's "is collection", the source is a folder named without its slash
            // (the Destination the proxy builds is always a well-formed file path).
            404 | 400 => Ok(Copied::NoSource),
            // ngx_copy_file could not open or write the destination (its folder is missing).
            500 | 507 => Ok(Copied::NotWritten),
            status => Err(unexpected_for_file(status, "COPY", from)),
        }
    }

    async fn move_file(&self, from: &str, to: &str) -> Result<bool, S3Error> {
        let destination = folder_path(to);
        let headers = [("destination", destination.as_str()), ("overwrite", "T")];
        match self
            .exchange_with("MOVE", from, &headers, None)
            .await?
            .status
        {
            201 | 204 => Ok(true),
            // nginx: the destination is a folder and the Destination has no slash.
            409 => Ok(false),
            status => Err(unexpected_for_file(status, "MOVE", from)),
        }
    }

    async fn file_info(&self, path: &str) -> Result<Option<FileInfo>, S3Error> {
        let answer = self.exchange("HEAD", path, None).await?;
        match answer.status {
            200 => file_info(&answer.headers).map(Some).ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::BadGateway,
                    format!("The backend's HEAD of {path} has no ETag or Last-Modified."),
                )
            }),
            // 301: a folder of that name (nginx redirects to its slash form).
            404 | 403 | 301 => Ok(None),
            status => Err(unexpected_for_file(status, "HEAD", path)),
        }
    }
}
