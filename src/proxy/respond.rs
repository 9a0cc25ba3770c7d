//! Answers the proxy writes itself: S3 XML errors and CORS preflight answers.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::header;
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::Session;

use super::ctx::Reply;
use crate::error::S3Error;
use crate::store::xml::HEAD as XML_HEAD;
use crate::store::StoreAnswer;

/// Write `err` as an S3 XML document (no body for HEAD), with the request id and CORS headers,
/// and do not keep the connection. `diagnostics`: `auth.signature_diagnostics`.
pub async fn write_error(
    session: &mut Session,
    reply: &mut Reply,
    err: &S3Error,
    diagnostics: bool,
) -> Result<()> {
    reply.error_code = Some(err.code);
    let resource = session.req_header().uri.path().to_string();
    let xml = err.to_xml(&resource, &reply.request_id, diagnostics);
    let is_head = session.req_header().method == http::Method::HEAD;
    let mut resp = ResponseHeader::build(err.code.http_status(), Some(4))?;
    resp.insert_header(header::CONTENT_TYPE, "application/xml")?;
    resp.insert_header(header::CONTENT_LENGTH, xml.len().to_string())?;
    resp.insert_header("x-amz-request-id", reply.request_id.as_str())?;
    for (name, value) in &reply.cors_headers {
        resp.insert_header(*name, value.as_str())?;
    }
    session.set_keepalive(None);
    session
        .write_response_header(Box::new(resp), is_head)
        .await?;
    if !is_head {
        session
            .write_response_body(Some(Bytes::from(xml)), true)
            .await?;
    }
    Ok(())
}

/// Answer an allowed CORS preflight: 200 with the `Access-Control-Allow-*` headers.
pub async fn write_preflight(
    session: &mut Session,
    reply: &Reply,
    headers: &[(&'static str, String)],
) -> Result<()> {
    let mut resp = ResponseHeader::build(200, Some(headers.len() + 2))?;
    for (name, value) in headers {
        resp.insert_header(*name, value.as_str())?;
    }
    resp.insert_header(header::CONTENT_LENGTH, "0")?;
    resp.insert_header("x-amz-request-id", reply.request_id.as_str())?;
    session.write_response_header(Box::new(resp), true).await
}

/// Write the proxy's own answer to a bucket operation on a plain store (no body for HEAD).
pub async fn write_store_answer(
    session: &mut Session,
    reply: &Reply,
    answer: &StoreAnswer,
) -> Result<()> {
    let body = answer.xml.clone().map(Bytes::from).unwrap_or_default();
    let is_head = session.req_header().method == http::Method::HEAD;
    let mut resp = ResponseHeader::build(answer.status, Some(5))?;
    if answer.xml.is_some() {
        resp.insert_header(header::CONTENT_TYPE, "application/xml")?;
    }
    if answer.status != 204 {
        resp.insert_header(header::CONTENT_LENGTH, body.len().to_string())?;
    }
    if let Some(location) = &answer.location {
        resp.insert_header(header::LOCATION, location.as_str())?;
    }
    resp.insert_header("x-amz-request-id", reply.request_id.as_str())?;
    for (name, value) in &reply.cors_headers {
        resp.insert_header(*name, value.as_str())?;
    }
    let no_body = is_head || body.is_empty();
    session
        .write_response_header(Box::new(resp), no_body)
        .await?;
    if !no_body {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(())
}

/// Answer a store operation that may take long (CompleteMultipartUpload copying its parts):
/// when it has not ended after `keepalive`, write 200 at once and a space every `keepalive`
/// until it ends, then its document, or its error document in that 200's body, as S3 does
/// (clients' read timeouts would otherwise cut a long copy; botocore and the SDKs read an
/// `Error` in a 200 CompleteMultipartUpload as the error).
pub async fn write_store_answer_patiently<F>(
    session: &mut Session,
    reply: &mut Reply,
    op: F,
    keepalive: Duration,
    diagnostics: bool,
) -> Result<()>
where
    F: Future<Output = std::result::Result<StoreAnswer, S3Error>>,
{
    tokio::pin!(op);
    match tokio::time::timeout(keepalive, &mut op).await {
        Ok(Ok(answer)) => return write_store_answer(session, reply, &answer).await,
        Ok(Err(err)) => return write_error(session, reply, &err, diagnostics).await,
        Err(_) => {}
    }
    let mut resp = ResponseHeader::build(200, Some(4))?;
    resp.insert_header(header::CONTENT_TYPE, "application/xml")?;
    if !session.is_http2() {
        resp.insert_header(header::TRANSFER_ENCODING, "chunked")?;
    }
    resp.insert_header("x-amz-request-id", reply.request_id.as_str())?;
    for (name, value) in &reply.cors_headers {
        resp.insert_header(*name, value.as_str())?;
    }
    session.set_keepalive(None);
    session.write_response_header(Box::new(resp), false).await?;
    // The declaration first: nothing may precede it, spaces may follow it.
    session
        .write_response_body(Some(Bytes::from_static(XML_HEAD.as_bytes())), false)
        .await?;
    let mut ticks = tokio::time::interval(keepalive);
    ticks.tick().await;
    let result = loop {
        tokio::select! {
            result = &mut op => break result,
            _ = ticks.tick() => {
                session.write_response_body(Some(Bytes::from_static(b" ")), false).await?;
            }
        }
    };
    let document = match result {
        Ok(answer) => answer.xml.unwrap_or_default(),
        Err(err) => {
            reply.error_code = Some(err.code);
            let resource = session.req_header().uri.path().to_string();
            err.to_xml(&resource, &reply.request_id, diagnostics)
        }
    };
    let body = document
        .strip_prefix(XML_HEAD)
        .unwrap_or(&document)
        .to_string();
    session
        .write_response_body(Some(Bytes::from(body)), true)
        .await
}
