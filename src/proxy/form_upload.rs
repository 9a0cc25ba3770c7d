//! Browser POST uploads, the Pingora side: read the form's fields, have the pure `post` module
//! verify signature and policy, then stream the file to the backend as a plain `PUT` and answer
//! the browser as S3 does (303 to `success_action_redirect`, or 200 / 201 `PostResponse` / 204).
//!
//! Why this request does not take Pingora's proxy path: the form's fields (and so its
//! signature) arrive in the body, and the upstream request's head must not be sent before they
//! are verified ("a bad form never opens an upstream request"). Pingora writes the upstream head
//! before the body loop, and replays bytes read early only up to a 64 KiB retry buffer, which
//! the fields may exceed (`limits.post_max_prefix`, 1 MiB by default). So the whole exchange is
//! driven from `request_filter`, with Pingora's own HTTP/1 client for the backend.
//!
//! The rule kept: the backend is told the file's exact length, and the reader never releases
//! the file's final byte before the form has ended properly and every check has passed; any
//! failure drops the upstream connection with the body short, which the backend discards. A
//! form without Content-Length goes upstream chunked, and the final chunk is only sent after
//! the checks.

use std::time::SystemTime;

use bytes::Bytes;
use http::header;
use md5::Digest;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use pingora::connectors::http::v1::Connector;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::protocols::http::v1::client::HttpSession as UpstreamSession;
use pingora::proxy::Session;
use pingora::upstreams::peer::HttpPeer;

use crate::auth::sigv2;
use crate::config::{Config, UpstreamKind};
use crate::credentials::{Action, CredentialStore};
use crate::error::{S3Error, S3ErrorCode};
use crate::post::multipart::{boundary_from_content_type, MultipartLimits, MultipartReader};
use crate::post::policy::{self, FormSignature, PostPolicy, SuccessAction, VerifiedForm};
use crate::post::FormPrefix;

/// Characters kept as they are in the upstream path: RFC 3986 unreserved and `/`.
const PATH_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Whether a request is a browser POST upload: `POST` of `multipart/form-data` to a bucket.
pub fn is_form_upload(method: &http::Method, headers: &http::HeaderMap, key: &str) -> bool {
    method == http::Method::POST
        && key.is_empty()
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("multipart/form-data")
            })
}

/// What the upload did, for the access log and metrics.
#[derive(Debug)]
pub struct FormOutcome {
    /// The access key that signed the form, once known.
    pub access_key: Option<String>,
    /// The object key written, once known.
    pub key: Option<String>,
    /// File bytes handed to the backend.
    pub bytes_forwarded: u64,
    /// `sigv4-form` or `sigv2-form` once the signature kind is known, else `-`.
    pub auth_label: &'static str,
}

impl Default for FormOutcome {
    fn default() -> Self {
        FormOutcome {
            access_key: None,
            key: None,
            bytes_forwarded: 0,
            auth_label: "-",
        }
    }
}

/// Everything a form upload needs from the proxy.
pub struct FormUpload<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// Keys and scopes.
    pub credentials: &'a CredentialStore,
    /// The bucket of the request URL (path-style or virtual-hosted).
    pub bucket: &'a str,
    /// Request id for `x-amz-request-id`.
    pub request_id: &'a str,
    /// CORS headers the answer carries.
    pub cors_headers: &'a [(&'static str, String)],
}

/// Where the file goes and how long it is.
enum UpstreamLength {
    /// The form's Content-Length told the file's exact length.
    Exact(u64),
    /// No Content-Length (a chunked form): the upstream request is chunked too.
    Chunked,
}

impl FormUpload<'_> {
    /// Run the upload to the end and answer the browser. An `Err` has not been answered yet:
    /// the caller writes it as S3 XML.
    pub async fn run(
        &self,
        session: &mut Session,
        outcome: &mut FormOutcome,
    ) -> Result<(), S3Error> {
        let req = session.req_header();
        let content_type = req
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let boundary = boundary_from_content_type(content_type)?;
        let form_length = match req.headers.get(header::CONTENT_LENGTH) {
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
        if expects_continue {
            // The fields are in the body: the head alone cannot be verified.
            session
                .write_continue_response()
                .await
                .map_err(|_| incomplete())?;
        }

        let limits = &self.config.limits;
        let mut reader = MultipartReader::new(
            &boundary,
            MultipartLimits {
                max_field_size: limits.post_max_field_size,
                max_prefix_size: limits.post_max_prefix,
                max_parts: limits.post_max_parts,
            },
        );
        // File bytes read together with the last fields: held until the form is verified.
        let mut early_file_bytes: Vec<Bytes> = Vec::new();
        let mut body_done = false;
        while reader.prefix().is_none() {
            match read_piece(session).await? {
                Some(piece) => {
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

        outcome.auth_label = match policy::form_signature(&prefix) {
            Ok(FormSignature::V2) => "sigv2-form",
            _ => "sigv4-form",
        };
        let form = self.verify(&prefix)?;
        outcome.access_key = Some(form.access_key.clone());
        outcome.key = Some(form.key.clone());
        if self.config.upstream.kind == UpstreamKind::Http
            && crate::request::has_dot_segments(&form.key)
        {
            return Err(crate::proxy::dot_segment_error());
        }
        if !self
            .credentials
            .is_allowed(&form.access_key, Action::Write, self.bucket, &form.key)
        {
            return Err(S3Error::new(S3ErrorCode::AccessDenied, "Access Denied"));
        }
        let (min_size, max_size) = form.content_length_range.unwrap_or((0, u64::MAX));
        let length = match form_length {
            Some(total) => {
                let file_length = total
                    .checked_sub(prefix.bytes_before_file)
                    .and_then(|rest| rest.checked_sub(reader.closing_len()))
                    .ok_or_else(|| {
                        S3Error::new(
                            S3ErrorCode::MalformedPOSTRequest,
                            "The body of your POST request is not well-formed multipart/form-data: \
                             Content-Length is shorter than the form.",
                        )
                    })?;
                // The declared size is checked before anything is sent upstream.
                check_size(file_length, min_size, max_size)?;
                UpstreamLength::Exact(file_length)
            }
            None => UpstreamLength::Chunked,
        };
        check_growth(&reader, &length, max_size)?;
        if body_done {
            end_checks(&reader, &length, min_size, max_size)?;
        }

        // An empty file with a Content-Length: the backend would store it on seeing the head,
        // so the whole (short) rest of the form is read and checked first.
        if matches!(length, UpstreamLength::Exact(0)) && !body_done {
            while let Some(piece) = read_piece(session).await? {
                let released = reader.feed(piece)?;
                check_growth(&reader, &length, max_size)?;
                early_file_bytes.push(released);
            }
            early_file_bytes.push(reader.finish()?);
            body_done = true;
            end_checks(&reader, &length, min_size, max_size)?;
        }

        let mut upstream = self.open_upstream(&form, &length).await?;
        let mut md5 = (self.config.upstream.kind == UpstreamKind::Http
            && self.config.upstream.md5_etag)
            .then(md5::Md5::new);
        let mut send = |bytes: Bytes, outcome: &mut FormOutcome| {
            if let Some(h) = md5.as_mut() {
                h.update(&bytes);
            }
            outcome.bytes_forwarded += bytes.len() as u64;
            bytes
        };
        for bytes in early_file_bytes {
            let bytes = send(bytes, outcome);
            write_upstream(&mut upstream, &bytes).await?;
        }
        if !body_done {
            while let Some(piece) = read_piece(session).await? {
                let released = reader.feed(piece)?;
                check_growth(&reader, &length, max_size)?;
                let bytes = send(released, outcome);
                write_upstream(&mut upstream, &bytes).await?;
            }
            let tail = reader.finish()?;
            end_checks(&reader, &length, min_size, max_size)?;
            let bytes = send(tail, outcome);
            write_upstream(&mut upstream, &bytes).await?;
        }
        upstream.finish_body().await.map_err(|_| backend_failed())?;
        upstream
            .read_response()
            .await
            .map_err(|_| backend_failed())?;
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
        let etag = md5
            .map(|h| hex::encode(h.finalize()))
            .or(backend_etag)
            .unwrap_or_default();
        self.answer(session, &form, &etag).await
    }

    /// Signature and policy: the pure core decides. SigV4 forms carry `x-amz-signature`,
    /// SigV2 forms `AWSAccessKeyId` and `signature`; both share one policy evaluator.
    fn verify(&self, prefix: &FormPrefix) -> Result<VerifiedForm, S3Error> {
        let now = SystemTime::now();
        match policy::form_signature(prefix)? {
            FormSignature::V4 => policy::verify_sigv4_form(
                prefix,
                self.bucket,
                self.credentials,
                &self.config.auth.settings,
                now,
            ),
            FormSignature::V2 => {
                if !self.config.auth.sigv2 {
                    return Err(S3Error::new(
                        S3ErrorCode::AccessDenied,
                        "Signature Version 2 is disabled on this endpoint (auth.sigv2 = false): \
                         sign the form's policy with AWS Signature Version 4",
                    ));
                }
                policy::reject_repeated_fields(prefix)?;
                let missing = |name: &str| {
                    S3Error::new(
                        S3ErrorCode::AccessDenied,
                        format!("Bucket POST must contain a field named '{name}'."),
                    )
                };
                let access_key = prefix
                    .field("AWSAccessKeyId")
                    .ok_or_else(|| missing("AWSAccessKeyId"))?;
                let policy_b64 = prefix.field("policy").ok_or_else(|| missing("policy"))?;
                let signature = prefix
                    .field("signature")
                    .ok_or_else(|| missing("signature"))?;
                sigv2::verify_post_signature(self.credentials, access_key, policy_b64, signature)?;
                // Only a signed policy reaches the parser and the evaluator.
                let policy = PostPolicy::parse_base64(policy_b64)?;
                policy::evaluate_policy(
                    &policy,
                    prefix,
                    self.bucket,
                    now,
                    policy::SIGV2_EXEMPT_FIELDS,
                )?;
                policy::form_outcome(&policy, prefix, access_key)
            }
        }
    }

    /// Connect to the backend and send the `PUT` head. A fresh connection each time: a pooled
    /// one could have been closed by the backend, and this path has no retry.
    async fn open_upstream(
        &self,
        form: &VerifiedForm,
        length: &UpstreamLength,
    ) -> Result<UpstreamSession, S3Error> {
        let up = &self.config.upstream;
        let addr = tokio::net::lookup_host(up.address.as_str())
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(backend_failed)?;
        let mut peer = HttpPeer::new(addr, false, String::new());
        peer.options.connection_timeout = Some(up.connect_timeout);
        peer.options.read_timeout = Some(up.read_timeout);
        peer.options.write_timeout = Some(up.write_timeout);
        let connector = Connector::new(None);
        let (mut upstream, _) = connector
            .get_http_session(&peer)
            .await
            .map_err(|_| backend_failed())?;
        upstream.read_timeout = Some(up.read_timeout);
        upstream.write_timeout = Some(up.write_timeout);

        let path = format!(
            "/{}/{}",
            utf8_percent_encode(self.bucket, PATH_KEEP),
            utf8_percent_encode(&form.key, PATH_KEEP)
        );
        let mut head = RequestHeader::build(
            "PUT",
            path.as_bytes(),
            Some(8 + form.upstream_headers.len()),
        )
        .map_err(|_| internal())?;
        let mut set = |name: &str, value: &str| -> Result<(), S3Error> {
            head.insert_header(name.to_string(), value)
                .map(|_| ())
                .map_err(|_| {
                    S3Error::new(
                        S3ErrorCode::InvalidArgument,
                        format!("The form field {name} is not a valid header value."),
                    )
                })
        };
        set("host", &up.address)?;
        match length {
            UpstreamLength::Exact(n) => set("content-length", &n.to_string())?,
            UpstreamLength::Chunked => set("transfer-encoding", "chunked")?,
        }
        for (name, value) in &form.upstream_headers {
            set(name, value)?;
        }
        set(&self.config.auth.identity_header, &form.access_key)?;
        upstream
            .write_request_header(Box::new(head))
            .await
            .map_err(|_| backend_failed())?;
        Ok(upstream)
    }

    /// The answer S3 gives a successful POST.
    async fn answer(
        &self,
        session: &mut Session,
        form: &VerifiedForm,
        etag: &str,
    ) -> Result<(), S3Error> {
        let quoted_etag = format!("\"{etag}\"");
        let host = session
            .req_header()
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let object_path = format!(
            "/{}/{}",
            utf8_percent_encode(self.bucket, PATH_KEEP),
            utf8_percent_encode(&form.key, PATH_KEEP)
        );
        let scheme = if session
            .digest()
            .and_then(|d| d.ssl_digest.as_ref())
            .is_some()
        {
            "https"
        } else {
            "http"
        };
        let location = format!("{scheme}://{host}{object_path}");
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
                let mut xml = String::from(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>",
                );
                crate::error::xml_escape_into(&mut xml, &location);
                xml.push_str("</Location><Bucket>");
                crate::error::xml_escape_into(&mut xml, self.bucket);
                xml.push_str("</Bucket><Key>");
                crate::error::xml_escape_into(&mut xml, &form.key);
                xml.push_str("</Key><ETag>");
                crate::error::xml_escape_into(&mut xml, &quoted_etag);
                xml.push_str("</ETag></PostResponse>");
                (201, Bytes::from(xml), None)
            }
            SuccessAction::Status(200) => (200, Bytes::new(), None),
            SuccessAction::Status(_) => (204, Bytes::new(), None),
        };
        let write = async {
            let mut resp = ResponseHeader::build(status, Some(8))?;
            if let Some(target) = &redirect {
                resp.insert_header(header::LOCATION, target.as_str())?;
            } else {
                resp.insert_header(header::LOCATION, location.as_str())?;
            }
            if !etag.is_empty() {
                resp.insert_header(header::ETAG, quoted_etag.as_str())?;
            }
            if status == 201 {
                resp.insert_header(header::CONTENT_TYPE, "application/xml")?;
            }
            if status != 204 {
                resp.insert_header(header::CONTENT_LENGTH, body.len().to_string())?;
            }
            resp.insert_header("x-amz-request-id", self.request_id)?;
            for (name, value) in self.cors_headers {
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
        write.await.map_err(|_| incomplete())
    }
}

/// Checks once the form has ended: the policy's size range, and the file's length equal to the
/// one the backend was told (else the form had more after the file than the closing boundary).
fn end_checks(
    reader: &MultipartReader,
    length: &UpstreamLength,
    min: u64,
    max: u64,
) -> Result<(), S3Error> {
    check_size(reader.file_len(), min, max)?;
    match length {
        UpstreamLength::Exact(expected) if reader.file_len() != *expected => {
            Err(not_the_announced_length())
        }
        _ => Ok(()),
    }
}

/// Checks after every piece, before any of it is released: the policy's maximum, and never more
/// file than the backend was told. The reader holds the last byte back, so while the file seen
/// is at most the announced length the backend has less than it; once it is longer (a form
/// ending otherwise than the closing boundary and CRLF) the backend must not get the announced
/// length, or it would commit the file cut short.
fn check_growth(
    reader: &MultipartReader,
    length: &UpstreamLength,
    max: u64,
) -> Result<(), S3Error> {
    check_max(reader.file_len(), max)?;
    match length {
        UpstreamLength::Exact(expected) if reader.file_len() > *expected => {
            Err(not_the_announced_length())
        }
        _ => Ok(()),
    }
}

fn not_the_announced_length() -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedPOSTRequest,
        "The body of your POST request is not well-formed multipart/form-data: the form must \
         end right after the file with the closing boundary and CRLF.",
    )
}

/// Read and discard what is left of a refused form, up to `limit` bytes, so that a browser
/// still sending its file reads the error instead of a reset connection (nginx's lingering
/// close does the same). Past the limit the connection is simply closed.
pub async fn drain_body(session: &mut Session, limit: u64) {
    let mut drained = 0u64;
    while drained <= limit {
        match session.read_request_body().await {
            Ok(Some(piece)) => drained += piece.len() as u64,
            _ => return,
        }
    }
}

/// The next piece of the form (`None` at its end).
async fn read_piece(session: &mut Session) -> Result<Option<Bytes>, S3Error> {
    session.read_request_body().await.map_err(|_| incomplete())
}

async fn write_upstream(upstream: &mut UpstreamSession, bytes: &[u8]) -> Result<(), S3Error> {
    if bytes.is_empty() {
        return Ok(());
    }
    upstream
        .write_body(bytes)
        .await
        .map(|_| ())
        .map_err(|_| backend_failed())
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

fn incomplete() -> S3Error {
    S3Error::new(
        S3ErrorCode::IncompleteBody,
        "The request body could not be read completely.",
    )
}

fn backend_failed() -> S3Error {
    S3Error::new(
        S3ErrorCode::BadGateway,
        "The storage backend could not be reached or failed.",
    )
}

fn internal() -> S3Error {
    S3Error::new(
        S3ErrorCode::InternalError,
        "We encountered an internal error. Please try again.",
    )
}
