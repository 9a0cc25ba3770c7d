//! Browser POST uploads, the Pingora side: read the form's fields, have `post::verify_form`
//! check signature and policy and `auth::authorize` the scopes, then stream the file to the
//! backend as a plain `PUT` and answer the browser as S3 does (303 to
//! `success_action_redirect`, or 200 / 201 `PostResponse` / 204).
//!
//! Why this request does not take Pingora's proxy path: the form's fields (and so its
//! signature) arrive in the body, and the upstream request's head must not be sent before they
//! are verified ("a bad form never opens an upstream request"). Pingora writes the upstream head
//! before the body loop, and replays bytes read early only up to a 64 KiB retry buffer, which
//! the fields may exceed (`limits.post_max_prefix`, 1 MiB by default). So the whole exchange is
//! driven from `request_filter`, with Pingora's own HTTP/1 client for the backend.
//!
//! How the backend learns the file's length: S3 ignores the parts after the file (browsers send
//! a named submit button there), so the form's Content-Length does not give it. A form whose
//! rest fits in [`FORM_READ_AHEAD`] is read and checked whole before the backend hears of it,
//! and goes up with the exact `Content-Length`; a longer one (or one sent chunked) goes up
//! with `Transfer-Encoding: chunked`. Either way the reader never releases the file's final
//! byte, and the upstream body is never ended (its last byte or the terminating zero-size
//! chunk), before the form has ended properly, the parts after the file were read within the
//! limits and every check has passed (the policy's size range, the form's `Content-MD5` and
//! `x-amz-checksum-*` fields); any failure drops the upstream connection with the body
//! unfinished, which nginx and s3s-fs discard.

use std::time::SystemTime;

use bytes::Bytes;
use http::header;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use pingora::connectors::http::v1::Connector;
use pingora::http::ResponseHeader;
use pingora::protocols::http::v1::client::HttpSession as UpstreamSession;
use pingora::proxy::Session;

use super::ctx::{Reply, RequestCtx};
use crate::admission::{self, Admission, Charge};
use crate::auth::{self, Action, Need, Schemes};
use crate::backend::{Backend, UpstreamLength};
use crate::body::payload::{PayloadExpectations, PayloadVerifier};
use crate::body::BodyVerifier;
use crate::config::Limits;
use crate::credentials::CredentialStore;
use crate::error::{xml_escape_into, S3Error, S3ErrorCode};
use crate::post::multipart::{boundary_from_content_type, MultipartLimits, MultipartReader};
use crate::post::policy::{SuccessAction, VerifiedForm};
use crate::post::{self, FormPrefix};
use crate::request;

/// How much of a refused form is still read (and discarded) so the browser sees the error.
const FORM_DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

/// A form whose Content-Length says at most this much follows the file part's headers is read
/// whole (file included, in memory) and checked before the backend is contacted, which then
/// gets the exact `Content-Length`. Longer forms stream upstream chunked. As large as the
/// default `limits.post_max_prefix`, which a form may already hold in memory.
pub const FORM_READ_AHEAD: u64 = 1024 * 1024;

/// Everything a form upload needs from the proxy.
pub struct FormUpload<'a> {
    /// Keys and scopes.
    pub credentials: &'a CredentialStore,
    /// Where the file goes.
    pub backend: &'a Backend,
    /// The signature schemes allowed.
    pub schemes: Schemes<'a>,
    /// `limits.post_*`.
    pub limits: &'a Limits,
    /// The budget the fields are charged to until verified, and the time they may take.
    pub admission: &'a Admission,
    /// The bucket of the request URL (path-style or virtual-hosted).
    pub bucket: &'a str,
}

/// What the head of the form request says.
struct FormHead {
    boundary: String,
    /// The form's Content-Length, if it has one.
    length: Option<u64>,
    expects_continue: bool,
}

/// The form read up to the file: its fields, and the file bytes read with them (held until
/// the form is verified).
struct FormStart {
    prefix: FormPrefix,
    early_file_bytes: Vec<Bytes>,
    body_done: bool,
}

/// The policy's size range for the file, checked as the file streams.
struct FileBounds {
    min: u64,
    max: u64,
}

impl FormUpload<'_> {
    /// Run the upload to the end and answer the browser. What was learnt (access key, key,
    /// bytes forwarded) goes to `ctx` as it is learnt. An `Err` has not been answered yet: the
    /// caller writes it as S3 XML.
    pub async fn run(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<(), S3Error> {
        let head = read_head(session.req_header())?;
        if head.expects_continue {
            // The fields are in the body: the head alone cannot be verified.
            session
                .write_continue_response()
                .await
                .map_err(|_| S3Error::incomplete_body())?;
        }
        let mut reader = MultipartReader::new(
            &head.boundary,
            MultipartLimits {
                max_field_size: self.limits.post_max_field_size,
                max_prefix_size: self.limits.post_max_prefix,
                max_parts: self.limits.post_max_parts,
            },
        );
        // Until the fields are verified the form is unauthenticated: they must arrive within
        // `server.header_timeout`, and what they hold is charged to the shared budget.
        let mut charge = Charge::new(self.admission);
        let mut start = tokio::time::timeout(
            self.admission.limits().header_timeout,
            read_fields(session, &mut reader, &mut charge),
        )
        .await
        .map_err(|_| admission::request_timeout())??;
        ctx.identity.auth_label = post::form_auth_method(&start.prefix).label();
        let form = self.verify(&start.prefix, ctx)?;
        drop(charge);
        let bounds = file_bounds(&form, &reader, head.length)?;
        if start.body_done {
            end_checks(&reader, &bounds)?;
        } else if head.length.is_some_and(|total| {
            total.saturating_sub(start.prefix.bytes_before_file) <= FORM_READ_AHEAD
        }) {
            read_rest(session, &mut reader, &bounds, &mut start.early_file_bytes).await?;
            start.body_done = true;
        }
        // The exact length only once the whole form is in: parts may follow the file.
        let length = match start.body_done {
            true => UpstreamLength::Exact(reader.file_len()),
            false => UpstreamLength::Chunked,
        };
        let mut check = self.file_check(&form)?;
        // Checked before the backend hears of the upload when the whole form is in already.
        let ready = check_early(&mut check, start.early_file_bytes, start.body_done)?;
        let mut upstream = self.open_upstream(&form, length).await?;
        let file = FileStream {
            reader: &mut reader,
            bounds: &bounds,
            check: &mut check,
        };
        send_file(session, &mut upstream, file, ready, start.body_done, ctx).await?;
        let backend_etag = finish_upstream(&mut upstream).await?;
        let etag = check.md5_hex().or(backend_etag).unwrap_or_default();
        self.answer(session, &ctx.reply, &form, &etag).await
    }

    /// Signature and policy (the pure core decides), then the backend's key rule and the
    /// scopes, the same `authorize` every request passes.
    fn verify(&self, prefix: &FormPrefix, ctx: &mut RequestCtx) -> Result<VerifiedForm, S3Error> {
        let form = post::verify_form(
            prefix,
            self.bucket,
            self.credentials,
            self.schemes,
            SystemTime::now(),
        )?;
        ctx.identity.access_key = Some(form.access_key.clone());
        if let Some(target) = ctx.identity.target.as_mut() {
            target.key = form.key.clone();
        }
        // The key is the form filler's (within a `starts-with` condition): held to the same
        // rules as a request path's, then authorized like any write of that object.
        request::check_key(&form.key)?;
        if form.key.is_empty() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidArgument,
                "The form's key is empty.",
            ));
        }
        let need = Need::Object {
            action: Action::Write,
            bucket: self.bucket.to_string(),
            key: form.key.clone(),
        };
        auth::authorize(self.credentials, &form.access_key, &[need])?;
        Ok(form)
    }

    /// The check of the file's bytes: its integrity claims (the form's `Content-MD5` and
    /// `x-amz-checksum-*` fields), and its MD5 when the plain backend's ETag needs it. It holds
    /// the last piece back until every claim has passed.
    fn file_check(&self, form: &VerifiedForm) -> Result<PayloadVerifier, S3Error> {
        let mut expectations =
            PayloadExpectations::from_claims(None, None, form.integrity.clone())?;
        expectations.compute_md5 = self.backend.wants_md5_etag();
        Ok(PayloadVerifier::new(expectations))
    }

    /// Connect to the backend and send the `PUT` head. A fresh connection each time: a pooled
    /// one could have been closed by the backend, and this path has no retry.
    async fn open_upstream(
        &self,
        form: &VerifiedForm,
        length: UpstreamLength,
    ) -> Result<UpstreamSession, S3Error> {
        let (mut upstream, _, _) =
            super::store_client::connect(self.backend, &Connector::new(None)).await?;
        let mut headers = form.upstream_headers.clone();
        if !self.backend.is_plain_store() {
            // An S3 backend checks them too, and keeps the checksum with the object.
            headers.extend(form.integrity.upstream_headers());
        }
        let head = self.backend.form_put_head(
            self.bucket,
            &form.key,
            length,
            &headers,
            &form.access_key,
        )?;
        upstream
            .write_request_header(Box::new(head))
            .await
            .map_err(|_| S3Error::backend_failed())?;
        Ok(upstream)
    }

    /// The answer S3 gives a successful POST.
    async fn answer(
        &self,
        session: &mut Session,
        reply: &Reply,
        form: &VerifiedForm,
        etag: &str,
    ) -> Result<(), S3Error> {
        let quoted_etag = format!("\"{etag}\"");
        let location = self.object_url(session, &form.key);
        let (status, body, redirect) = match &form.success {
            SuccessAction::Redirect(url) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                let q = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
                let target = format!(
                    "{url}{sep}bucket={}&key={}&etag={}",
                    q(self.bucket),
                    q(&form.key),
                    q(&quoted_etag)
                );
                (303, Bytes::new(), Some(target))
            }
            SuccessAction::Status(201) => {
                let xml = post_response_xml(&location, self.bucket, &form.key, &quoted_etag);
                (201, Bytes::from(xml), None)
            }
            SuccessAction::Status(200) => (200, Bytes::new(), None),
            SuccessAction::Status(_) => (204, Bytes::new(), None),
        };
        let write = async {
            let mut resp = ResponseHeader::build(status, Some(8))?;
            let location = redirect.as_deref().unwrap_or(location.as_str());
            resp.insert_header(header::LOCATION, location)?;
            if !etag.is_empty() {
                resp.insert_header(header::ETAG, quoted_etag.as_str())?;
            }
            if status == 201 {
                resp.insert_header(header::CONTENT_TYPE, "application/xml")?;
            }
            if status != 204 {
                resp.insert_header(header::CONTENT_LENGTH, body.len().to_string())?;
            }
            resp.insert_header("x-amz-request-id", reply.request_id.as_str())?;
            for (name, value) in &reply.cors_headers {
                resp.insert_header(*name, value.as_str())?;
            }
            session
                .write_response_header(Box::new(resp), body.is_empty())
                .await?;
            if !body.is_empty() {
                session.write_response_body(Some(body), true).await?;
            }
            Ok::<(), Box<pingora::Error>>(())
        };
        write.await.map_err(|_| S3Error::incomplete_body())
    }

    /// The object's URL as the browser reached the proxy (scheme and Host of this request).
    fn object_url(&self, session: &Session, key: &str) -> String {
        let host = session
            .req_header()
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let tls = session
            .digest()
            .and_then(|d| d.ssl_digest.as_ref())
            .is_some();
        let scheme = if tls { "https" } else { "http" };
        format!(
            "{scheme}://{host}{}",
            request::upstream_path(self.bucket, key)
        )
    }
}

/// The file on its way upstream: the form reader (which ends the file), the size bounds and the
/// integrity check, each piece passing all three before it is released.
struct FileStream<'a> {
    reader: &'a mut MultipartReader,
    bounds: &'a FileBounds,
    check: &'a mut PayloadVerifier,
}

/// The file bytes read with the fields, through the check; when the form has ended already,
/// the check is finished too, so a file that fails it never opens an upstream request.
fn check_early(
    check: &mut PayloadVerifier,
    early_file_bytes: Vec<Bytes>,
    body_done: bool,
) -> Result<Vec<Bytes>, S3Error> {
    let mut ready = Vec::with_capacity(early_file_bytes.len() + 1);
    for bytes in early_file_bytes {
        ready.push(check.feed(bytes)?);
    }
    if body_done {
        ready.push(check.finish()?);
    }
    Ok(ready)
}

/// Stream the file: the bytes already checked, then the rest of the form as it comes, each
/// piece checked before it is released; the check's held-back tail goes last, once every
/// claim has passed.
async fn send_file(
    session: &mut Session,
    upstream: &mut UpstreamSession,
    file: FileStream<'_>,
    ready: Vec<Bytes>,
    body_done: bool,
    ctx: &mut RequestCtx,
) -> Result<(), S3Error> {
    let forwarded = &mut ctx.body.bytes_forwarded;
    for bytes in ready {
        *forwarded += bytes.len() as u64;
        write_upstream(upstream, &bytes).await?;
    }
    if body_done {
        return Ok(());
    }
    while let Some(piece) = read_piece(session).await? {
        let released = file.reader.feed(piece)?;
        check_growth(file.reader, file.bounds)?;
        let checked = file.check.feed(released)?;
        *forwarded += checked.len() as u64;
        write_upstream(upstream, &checked).await?;
    }
    let tail = file.reader.finish()?;
    end_checks(file.reader, file.bounds)?;
    let mut last = vec![file.check.feed(tail)?];
    last.push(file.check.finish()?);
    let last = crate::body::join(&mut last);
    *forwarded += last.len() as u64;
    write_upstream(upstream, &last).await
}

/// Boundary, Content-Length and `Expect: 100-continue` of the form request.
fn read_head(req: &pingora::http::RequestHeader) -> Result<FormHead, S3Error> {
    let content_type = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = boundary_from_content_type(content_type)?;
    let length = match req.headers.get(header::CONTENT_LENGTH) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        "Content-Length is not a number.",
                    )
                })?,
        ),
    };
    let expects_continue = req
        .headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    Ok(FormHead {
        boundary,
        length,
        expects_continue,
    })
}

/// Read the form up to the file's first bytes (bounded by the reader's limits).
async fn read_fields(
    session: &mut Session,
    reader: &mut MultipartReader,
    charge: &mut Charge<'_>,
) -> Result<FormStart, S3Error> {
    let mut early_file_bytes: Vec<Bytes> = Vec::new();
    let mut body_done = false;
    while reader.prefix().is_none() {
        match read_piece(session).await? {
            Some(piece) => {
                charge.add(piece.len())?;
                let released = reader.feed(piece)?;
                if !released.is_empty() {
                    early_file_bytes.push(released);
                }
            }
            None => {
                body_done = true;
                // Ends the form: reports the missing file part or the malformed end.
                let tail = reader.finish()?;
                if reader.prefix().is_none() {
                    return Err(S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        "POST requires exactly one file upload per request.",
                    ));
                }
                early_file_bytes.push(tail);
            }
        }
    }
    let prefix = reader
        .prefix()
        .cloned()
        .ok_or_else(|| S3Error::new(S3ErrorCode::MalformedPOSTRequest, "no file part"))?;
    Ok(FormStart {
        prefix,
        early_file_bytes,
        body_done,
    })
}

/// The policy's size range, checked before anything is sent upstream against what the form's
/// Content-Length says of the file (a file surely too small or too large is refused now) and
/// against the file bytes read so far.
fn file_bounds(
    form: &VerifiedForm,
    reader: &MultipartReader,
    form_length: Option<u64>,
) -> Result<FileBounds, S3Error> {
    let (min, max) = form.content_length_range.unwrap_or((0, u64::MAX));
    if let Some(bounds) = form_length.and_then(|total| reader.file_len_bounds(total)) {
        let (at_least, at_most) = bounds?;
        check_max(at_least, max)?;
        check_size(at_most, min, u64::MAX)?;
    }
    let bounds = FileBounds { min, max };
    check_growth(reader, &bounds)?;
    Ok(bounds)
}

/// Read and check the whole rest of the form, keeping what it releases.
async fn read_rest(
    session: &mut Session,
    reader: &mut MultipartReader,
    bounds: &FileBounds,
    released: &mut Vec<Bytes>,
) -> Result<(), S3Error> {
    while let Some(piece) = read_piece(session).await? {
        let bytes = reader.feed(piece)?;
        check_growth(reader, bounds)?;
        released.push(bytes);
    }
    released.push(reader.finish()?);
    end_checks(reader, bounds)
}

/// End the upstream body, read the backend's answer and close. Returns the backend's ETag;
/// a non-2xx answer is an error.
async fn finish_upstream(upstream: &mut UpstreamSession) -> Result<Option<String>, S3Error> {
    upstream
        .finish_body()
        .await
        .map_err(|_| S3Error::backend_failed())?;
    upstream
        .read_response()
        .await
        .map_err(|_| S3Error::backend_failed())?;
    let status = upstream.get_status().map(|s| s.as_u16()).unwrap_or(502);
    let backend_etag = upstream
        .get_header(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim_matches('"').to_string());
    // Drain a small answer body; the connection is not pooled either way.
    while let Ok(Some(_)) = upstream.read_body_bytes().await {}
    upstream.shutdown().await;
    if !(200..300).contains(&status) {
        let code = S3ErrorCode::from_backend_status(status);
        return Err(S3Error::new(
            code,
            format!("The backend answered {status}."),
        ));
    }
    Ok(backend_etag)
}

/// S3's `PostResponse` document (the answer of `success_action_status` 201).
fn post_response_xml(location: &str, bucket: &str, key: &str, quoted_etag: &str) -> String {
    let mut xml =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>");
    xml_escape_into(&mut xml, location);
    xml.push_str("</Location><Bucket>");
    xml_escape_into(&mut xml, bucket);
    xml.push_str("</Bucket><Key>");
    xml_escape_into(&mut xml, key);
    xml.push_str("</Key><ETag>");
    xml_escape_into(&mut xml, quoted_etag);
    xml.push_str("</ETag></PostResponse>");
    xml
}

/// Checks once the form has ended: the policy's size range.
fn end_checks(reader: &MultipartReader, bounds: &FileBounds) -> Result<(), S3Error> {
    check_size(reader.file_len(), bounds.min, bounds.max)
}

/// Checks after every piece, before any of it is released: the policy's maximum.
fn check_growth(reader: &MultipartReader, bounds: &FileBounds) -> Result<(), S3Error> {
    check_max(reader.file_len(), bounds.max)
}

/// Read and discard what is left of a refused form, up to `FORM_DRAIN_LIMIT` bytes, so that a
/// browser still sending its file reads the error instead of a reset connection (nginx's
/// lingering close does the same). Past the limit the connection is simply closed.
pub async fn drain_body(session: &mut Session) {
    let mut drained = 0u64;
    while drained <= FORM_DRAIN_LIMIT {
        match session.read_request_body().await {
            Ok(Some(piece)) => drained += piece.len() as u64,
            _ => return,
        }
    }
}

/// The next piece of the form (`None` at its end).
async fn read_piece(session: &mut Session) -> Result<Option<Bytes>, S3Error> {
    session
        .read_request_body()
        .await
        .map_err(|_| S3Error::incomplete_body())
}

async fn write_upstream(upstream: &mut UpstreamSession, bytes: &[u8]) -> Result<(), S3Error> {
    if bytes.is_empty() {
        return Ok(());
    }
    upstream
        .write_body(bytes)
        .await
        .map(|_| ())
        .map_err(|_| S3Error::backend_failed())
}

/// The file may not grow past the policy's maximum: checked on every piece, before release.
fn check_max(size: u64, max: u64) -> Result<(), S3Error> {
    if size > max {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooLarge,
            format!("Your proposed upload exceeds the maximum allowed size of {max} bytes."),
        ));
    }
    Ok(())
}

/// The policy's `content-length-range`, both ends.
fn check_size(size: u64, min: u64, max: u64) -> Result<(), S3Error> {
    check_max(size, max)?;
    if size < min {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooSmall,
            format!(
                "Your proposed upload is smaller than the minimum allowed size of {min} bytes."
            ),
        ));
    }
    Ok(())
}
