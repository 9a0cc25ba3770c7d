//! The proxy's own HTTP client to the backend, and the plain store (`store::Store`) over it.
//!
//! Two users: the browser-form exchange (`form_upload`, one fresh connection per upload: that
//! path has no retry, so a pooled connection the backend closed meanwhile would fail it), and
//! the bucket and object operations of `kind = "http"` (`store`), whose small exchanges
//! (GET/HEAD/MKCOL/DELETE/COPY/MOVE, and PUTs of small records) reuse pooled connections,
//! retried once on a fresh one when a pooled connection turns out closed (each is idempotent:
//! a COPY or MOVE repeated onto the same destination with `Overwrite: T` ends the same way).
//! CompleteMultipartUpload's concatenation streams on fresh connections of its own.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::header;
use pingora::connectors::http::v1::Connector;
use pingora::http::RequestHeader;
use pingora::protocols::http::v1::client::HttpSession as UpstreamSession;
use pingora::upstreams::peer::HttpPeer;

use crate::backend::{upstream_failure, Backend, ConnectionUse};
use crate::error::{S3Error, S3ErrorCode};
use crate::request::upstream_path;
use crate::store::{Copied, Fetched, FileInfo, Index, Moved, Store};

/// A connection to the backend with the configured timeouts, an idle one from `connector`'s
/// pool if it has one (a fresh `Connector` has none). Also returns the peer, and whether the
/// connection was reused.
pub async fn connect(
    backend: &Backend,
    connector: &Connector,
) -> Result<(UpstreamSession, HttpPeer, bool), S3Error> {
    let peer =
        (backend.peer(ConnectionUse::Pooled).await).ok_or_else(S3Error::backend_unavailable)?;
    let (mut session, reused) = connector
        .get_http_session(&peer)
        .await
        .map_err(|e| upstream_failure(e.etype()))?;
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

/// One small exchange with the store.
struct Exchange<'e> {
    method: &'e str,
    /// The backend path, encoded.
    path: String,
    /// Extra request headers.
    headers: Vec<(&'static str, String)>,
    /// The request body (sent with its length), if any.
    body: Option<Bytes>,
    /// Read the answer's body, at most this many bytes.
    budget: Option<usize>,
}

impl<'e> Exchange<'e> {
    fn new(method: &'e str, path: String) -> Exchange<'e> {
        Exchange {
            method,
            path,
            headers: Vec::new(),
            body: None,
            budget: None,
        }
    }
}

impl PlainStore<'_> {
    /// One exchange on a pooled connection, retried once on a fresh one when a pooled
    /// connection turns out closed (every exchange here can be sent twice).
    async fn exchange(&self, ex: Exchange<'_>) -> Result<Answer, S3Error> {
        let mut head = self.head(ex.method, &ex.path)?;
        for (name, value) in &ex.headers {
            head.insert_header(*name, value.as_str())
                .map_err(|_| S3Error::internal())?;
        }
        if let Some(body) = &ex.body {
            head.insert_header(header::CONTENT_LENGTH, body.len().to_string())
                .map_err(|_| S3Error::internal())?;
        }
        for attempt in 0..2 {
            let (mut session, peer, reused) = connect(self.backend, self.connector).await?;
            match exchange_on(&mut session, head.clone(), ex.body.clone(), ex.budget).await {
                Ok(answer) => {
                    if answer.body.is_some() || ex.budget.is_none() {
                        self.connector
                            .release_http_session(session, &peer, peer.options.idle_timeout)
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

    /// The request head: the encoded path, the backend's Host, the identity.
    fn head(&self, method: &str, path: &str) -> Result<Box<RequestHeader>, S3Error> {
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

    /// Stream the files `sources` into one PUT of `destination` (see [`Store::concatenate`]).
    async fn put_concatenation(
        &self,
        sources: &[String],
        destination: &str,
        length: u64,
        mtime: i64,
    ) -> Result<(), S3Error> {
        let failed = |_| S3Error::backend_failed();
        let mut head = self.head("PUT", &file_path(destination))?;
        head.insert_header(header::CONTENT_LENGTH, length.to_string())
            .map_err(|_| S3Error::internal())?;
        // nginx's WebDAV PUT takes the file's modification time from `Date`.
        let date = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime.max(0) as u64);
        head.insert_header(header::DATE, httpdate::fmt_http_date(date))
            .map_err(|_| S3Error::internal())?;
        // A fresh connection: a body this long cannot be sent again on a retry.
        let (mut put, _, _) = connect(self.backend, &Connector::new(None)).await?;
        put.write_request_header(head).await.map_err(failed)?;
        let mut sent = 0u64;
        for source in sources {
            // Any failure returns with the PUT short of its length: nginx discards it.
            sent += self.copy_file_into(source, &mut put, length - sent).await?;
        }
        if sent != length {
            put.shutdown().await;
            return Err(S3Error::new(
                S3ErrorCode::InternalError,
                format!("The parts held {sent} bytes, not the {length} listed."),
            ));
        }
        put.finish_body().await.map_err(failed)?;
        put.read_response().await.map_err(failed)?;
        let status = put.get_status().map_or(502, |s| s.as_u16());
        while let Ok(Some(_)) = put.read_body_bytes().await {}
        put.shutdown().await;
        match status {
            200..=299 => Ok(()),
            status => Err(unexpected(status, "PUT", destination)),
        }
    }

    /// A WebDAV `COPY` or `MOVE` of the file `from` onto `to`, replacing it; the status.
    async fn onto(&self, method: &str, from: &str, to: &str) -> Result<u16, S3Error> {
        let answer = self
            .exchange(Exchange {
                headers: vec![("Destination", file_path(to)), ("Overwrite", "T".into())],
                ..Exchange::new(method, file_path(from))
            })
            .await?;
        Ok(answer.status)
    }

    /// GET one file and write its body into `put`; the bytes copied.
    async fn copy_file_into(
        &self,
        source: &str,
        put: &mut UpstreamSession,
        room: u64,
    ) -> Result<u64, S3Error> {
        let failed = |_| S3Error::backend_failed();
        let head = self.head("GET", &file_path(source))?;
        let (mut get, _, _) = connect(self.backend, &Connector::new(None)).await?;
        get.write_request_header(head).await.map_err(failed)?;
        get.finish_body().await.map_err(failed)?;
        get.read_response().await.map_err(failed)?;
        match get.get_status().map_or(502, |s| s.as_u16()) {
            200 => {}
            404 => {
                return Err(S3Error::new(
                    S3ErrorCode::NoSuchKey,
                    format!("{source} is gone."),
                ))
            }
            status => return Err(unexpected(status, "GET", source)),
        }
        let mut copied = 0u64;
        while let Some(piece) = get.read_body_bytes().await.map_err(failed)? {
            copied += piece.len() as u64;
            // Never more than the PUT announced: a writer could cut it at its length and
            // commit an object of the wrong bytes. Returning leaves the PUT short instead.
            if copied > room {
                return Err(S3Error::new(
                    S3ErrorCode::InternalError,
                    format!("{source} is longer than when the parts were listed."),
                ));
            }
            put.write_body(&piece).await.map_err(failed)?;
        }
        get.shutdown().await;
        Ok(copied)
    }
}

/// The backend path of a folder (`bkt/a b/` → `/bkt/a%20b/`, `""` → `/`).
fn folder_path(folder: &str) -> String {
    match folder.split_once('/') {
        None => "/".to_string(),
        Some((bucket, "")) => format!("{}/", upstream_path(bucket, "")),
        Some((bucket, rest)) => upstream_path(bucket, rest),
    }
}

/// The backend path of a file (`bkt/a b` → `/bkt/a%20b`).
fn file_path(path: &str) -> String {
    let (bucket, rest) = path.split_once('/').unwrap_or((path, ""));
    upstream_path(bucket, rest)
}

/// Send a request and read the answer (its body up to `budget` when asked for).
async fn exchange_on(
    session: &mut UpstreamSession,
    head: Box<RequestHeader>,
    body: Option<Bytes>,
    budget: Option<usize>,
) -> Result<Answer, S3Error> {
    let failed = |_| S3Error::backend_failed();
    session.write_request_header(head).await.map_err(failed)?;
    if let Some(body) = body {
        session.write_body(&body).await.map_err(failed)?;
    }
    session.finish_body().await.map_err(failed)?;
    session.read_response().await.map_err(failed)?;
    let status = session.get_status().map(|s| s.as_u16()).unwrap_or(502);
    let headers = session
        .resp_header()
        .map(|h| h.headers.clone())
        .unwrap_or_default();
    let wanted = budget.filter(|_| (200..300).contains(&status));
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

fn unexpected(status: u16, method: &str, path: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::from_backend_status(status),
        format!("The backend answered {status} to {method} of {path}."),
    )
}

#[async_trait]
impl Store for PlainStore<'_> {
    async fn index(&self, folder: &str, budget: usize) -> Result<Fetched, S3Error> {
        let answer = self
            .exchange(Exchange {
                budget: Some(budget),
                ..Exchange::new("GET", folder_path(folder))
            })
            .await?;
        match (answer.status, answer.body) {
            (200, Some(body)) => Ok(Fetched::Index(Index::parse(&body)?, body.len())),
            (200, None) => Ok(Fetched::TooLarge),
            // No such folder (a file of that name answers 404 too, with the `/`).
            (404 | 403, _) => Ok(Fetched::Missing),
            (status, _) => Err(unexpected(status, "GET", folder)),
        }
    }

    async fn folder_exists(&self, folder: &str) -> Result<bool, S3Error> {
        match self
            .exchange(Exchange::new("HEAD", folder_path(folder)))
            .await?
            .status
        {
            200 => Ok(true),
            404 | 403 => Ok(false),
            status => Err(unexpected(status, "HEAD", folder)),
        }
    }

    async fn make_folder(&self, folder: &str) -> Result<bool, S3Error> {
        match self
            .exchange(Exchange::new("MKCOL", folder_path(folder)))
            .await?
            .status
        {
            200 | 201 => Ok(true),
            // nginx: the folder (or a file of that name) exists.
            405 => Ok(false),
            status => Err(unexpected(status, "MKCOL", folder)),
        }
    }

    async fn delete_folder(&self, folder: &str) -> Result<(), S3Error> {
        match self
            .exchange(Exchange::new("DELETE", folder_path(folder)))
            .await?
            .status
        {
            200 | 204 | 404 => Ok(()),
            status => Err(unexpected(status, "DELETE", folder)),
        }
    }

    async fn read_file(&self, path: &str, budget: usize) -> Result<Option<Bytes>, S3Error> {
        let answer = self
            .exchange(Exchange {
                budget: Some(budget),
                ..Exchange::new("GET", file_path(path))
            })
            .await?;
        match (answer.status, answer.body) {
            (200, Some(body)) => Ok(Some(body.freeze())),
            (200, None) => Err(S3Error::new(
                S3ErrorCode::InternalError,
                format!("{path} is longer than {budget} bytes."),
            )),
            (404, _) => Ok(None),
            (status, _) => Err(unexpected(status, "GET", path)),
        }
    }

    async fn write_file(&self, path: &str, contents: Bytes) -> Result<(), S3Error> {
        let answer = self
            .exchange(Exchange {
                body: Some(contents),
                ..Exchange::new("PUT", file_path(path))
            })
            .await?;
        match answer.status {
            200..=299 => Ok(()),
            status => Err(unexpected(status, "PUT", path)),
        }
    }

    async fn move_file(&self, from: &str, to: &str) -> Result<Moved, S3Error> {
        // nginx renames the file (`rename(2)`): the new name appears whole at once.
        match self.onto("MOVE", from, to).await? {
            201 | 204 => Ok(Moved::Done),
            404 => Ok(Moved::NoSource),
            // nginx: the destination is a folder and the Destination has no slash.
            409 => Ok(Moved::FolderInTheWay),
            status => Err(unexpected(status, "MOVE", from)),
        }
    }

    async fn delete_file(&self, path: &str) -> Result<bool, S3Error> {
        match self
            .exchange(Exchange::new("DELETE", file_path(path)))
            .await?
            .status
        {
            200 | 204 => Ok(true),
            // 409: nginx refuses to DELETE a folder named without its slash.
            404 | 409 => Ok(false),
            status => Err(unexpected(status, "DELETE", path)),
        }
    }

    async fn copy_file(&self, from: &str, to: &str) -> Result<Copied, S3Error> {
        match self.onto("COPY", from, to).await? {
            201 | 204 => Ok(Copied::Done),
            // 400: nginx's "is collection", the source is a folder named without its slash
            // (the Destination the proxy builds is always a well-formed file path).
            404 | 400 => Ok(Copied::NoSource),
            // ngx_copy_file could not open or write the destination (its folder is missing).
            500 | 507 => Ok(Copied::NotWritten),
            status => Err(unexpected(status, "COPY", from)),
        }
    }

    async fn file_info(&self, path: &str) -> Result<Option<FileInfo>, S3Error> {
        let answer = self
            .exchange(Exchange::new("HEAD", file_path(path)))
            .await?;
        match answer.status {
            200 => file_info(&answer.headers).map(Some).ok_or_else(|| {
                S3Error::new(
                    S3ErrorCode::BadGateway,
                    format!("The backend's HEAD of {path} has no ETag or Last-Modified."),
                )
            }),
            // 301: a folder of that name (nginx redirects to its slash form).
            404 | 403 | 301 => Ok(None),
            status => Err(unexpected(status, "HEAD", path)),
        }
    }

    async fn concatenate(
        &self,
        sources: &[String],
        destination: &str,
        length: u64,
        mtime: i64,
    ) -> Result<(), S3Error> {
        self.put_concatenation(sources, destination, length, mtime)
            .await
    }
}
