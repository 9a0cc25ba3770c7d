//! Multipart upload in front of a plain store: CreateMultipartUpload, UploadPart, ListParts,
//! CompleteMultipartUpload, AbortMultipartUpload and ListMultipartUploads, with every bit of
//! an upload's state on the store itself, so that any replica of the proxy can take any step.
//!
//! The staging area is `/.s3-auth-proxy/uploads/<bucket>/<upload id>/` on the store. Its first
//! segment is not a valid bucket name and every key with a `.s3-auth-proxy` segment is
//! refused (`backend::check_request`), so no request can address, list or read it. An upload's
//! folder holds:
//! - `upload.json`: the bucket and key the id is bound to, who started it and when;
//! - one file per part, named `<part number, 5 digits>-<MD5 hex>-<nonce>`: a part is PUT
//!   under an `incoming-` name through the usual body verifiers (nginx commits a PUT only
//!   when its whole body arrived, so a refused body leaves nothing) and then moved to its
//!   final name, which records its MD5. A part uploaded again leaves two files of one
//!   number; the newest is the part (as S3: the last upload wins), and Complete takes the
//!   one whose MD5 the client names.
//!
//! Upload ids are 128 bits from the operating system's random source (unguessable), and a
//! request naming one is refused with `NoSuchUpload` unless `upload.json` names the request's
//! bucket and key. Complete streams the parts into one PUT of the final key with the summed
//! `Content-Length`: nginx writes a PUT to a temporary file and renames it into place once the
//! body is complete, so nobody reads a half-assembled object, and a failure midway leaves the
//! previous object as it was. An upload whose folder has not changed for
//! `limits.multipart_expiry` is deleted by the next CreateMultipartUpload or
//! ListMultipartUploads of its bucket.
//!
//! - this module: which operation a request is, upload ids, the staging names (pure);
//! - `complete`: reading CompleteMultipartUpload's document and checking it against the staged
//!   parts (pure);
//! - `xml`: the answers' documents (pure);
//! - `run`: the operations against a [`super::Store`].

pub mod complete;
pub mod run;
pub mod uploads;
pub mod xml;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::RESERVED_SEGMENT;
use crate::error::{S3Error, S3ErrorCode};
use crate::request::{Query, Target};

/// S3's highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// S3's smallest part, except the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The multipart operation of a request to an object (or, for ListMultipartUploads, a
/// bucket), if it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartOp {
    /// `POST /bucket/key?uploads`.
    Create,
    /// `PUT /bucket/key?partNumber=N&uploadId=ID`: proxied to the staging area.
    UploadPart {
        /// The upload.
        upload_id: UploadId,
        /// 1..=10,000.
        part_number: u32,
    },
    /// `GET /bucket/key?uploadId=ID`.
    ListParts {
        /// The upload.
        upload_id: UploadId,
        /// `max-parts` (default and most 1,000).
        max_parts: usize,
        /// `part-number-marker`: list the parts after this one.
        marker: u32,
    },
    /// `POST /bucket/key?uploadId=ID` with the list of parts.
    Complete {
        /// The upload.
        upload_id: UploadId,
    },
    /// `DELETE /bucket/key?uploadId=ID`.
    Abort {
        /// The upload.
        upload_id: UploadId,
    },
    /// `GET /bucket?uploads`.
    ListUploads(ListUploadsParams),
}

/// The arguments of ListMultipartUploads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListUploadsParams {
    /// `prefix`.
    pub prefix: String,
    /// `delimiter` (empty: none).
    pub delimiter: String,
    /// `max-uploads` (default and most 1,000).
    pub max_uploads: usize,
    /// `key-marker`.
    pub key_marker: String,
    /// `upload-id-marker` (only with `key-marker`).
    pub upload_id_marker: String,
    /// `encoding-type=url`.
    pub url_encoding: bool,
}

impl MultipartOp {
    /// The multipart operation `method` on `target` is, `Ok(None)` for any other request. A
    /// malformed upload id cannot name an upload (`NoSuchUpload`); part numbers and limits
    /// outside S3's ranges are `InvalidArgument`.
    pub fn of(method: &http::Method, target: &Target) -> Result<Option<MultipartOp>, S3Error> {
        let query = &target.query;
        if target.bucket.is_empty() {
            return Ok(None);
        }
        if target.key.is_empty() {
            return Ok(match (method.as_str(), query.operation()?) {
                ("GET", Some("uploads")) => {
                    Some(MultipartOp::ListUploads(ListUploadsParams::parse(query)?))
                }
                _ => None,
            });
        }
        if query.operation()? == Some("uploads") {
            return Ok((method == http::Method::POST).then_some(MultipartOp::Create));
        }
        let Some(raw_id) = query.get("uploadId") else {
            return Ok(None);
        };
        let upload_id = UploadId::parse(raw_id)?;
        let part_number = query.get("partNumber");
        let op = match (method.as_str(), part_number) {
            ("PUT", Some(n)) => MultipartOp::UploadPart {
                upload_id,
                part_number: parse_part_number(n)?,
            },
            ("GET", None) => MultipartOp::ListParts {
                upload_id,
                max_parts: parse_limit(query, "max-parts")?,
                marker: match query.get("part-number-marker") {
                    None | Some("") => 0,
                    Some(n) => parse_number(n, "part-number-marker")?,
                },
            },
            ("POST", None) => MultipartOp::Complete { upload_id },
            ("DELETE", None) => MultipartOp::Abort { upload_id },
            _ => return Ok(None),
        };
        Ok(Some(op))
    }
}

impl ListUploadsParams {
    fn parse(query: &Query) -> Result<ListUploadsParams, S3Error> {
        let text = |name: &str| query.get(name).unwrap_or("").to_string();
        let url_encoding = match query.get("encoding-type") {
            None => false,
            Some("url") => true,
            Some(other) => {
                return Err(invalid_argument(format!(
                    "Invalid Encoding Method specified in Request: {other}"
                )))
            }
        };
        Ok(ListUploadsParams {
            prefix: text("prefix"),
            delimiter: text("delimiter"),
            max_uploads: parse_limit(query, "max-uploads")?,
            key_marker: text("key-marker"),
            upload_id_marker: text("upload-id-marker"),
            url_encoding,
        })
    }
}

fn invalid_argument(message: String) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidArgument, message)
}

fn parse_number(text: &str, name: &str) -> Result<u32, S3Error> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_argument(format!(
            "{name} must be a whole number, not {text:?}."
        )));
    }
    text.parse()
        .map_err(|_| invalid_argument(format!("{name} is out of range.")))
}

/// `partNumber`: 1 to 10,000.
fn parse_part_number(text: &str) -> Result<u32, S3Error> {
    let n = parse_number(text, "partNumber")?;
    if !(1..=MAX_PART_NUMBER).contains(&n) {
        return Err(invalid_argument(format!(
            "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive."
        )));
    }
    Ok(n)
}

/// `max-parts` / `max-uploads`: 1,000 when absent, at most 1,000 (as S3 caps them).
fn parse_limit(query: &Query, name: &str) -> Result<usize, S3Error> {
    match query.get(name) {
        None | Some("") => Ok(1000),
        Some(n) => Ok(parse_number(n, name)?.min(1000) as usize),
    }
}

/// An upload id: 16 random bytes, base64url without padding (22 characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UploadId(String);

const UPLOAD_ID_BYTES: usize = 16;
const UPLOAD_ID_LEN: usize = 22;

impl UploadId {
    /// A new id from the operating system's random source.
    pub fn generate() -> Result<UploadId, S3Error> {
        let mut bytes = [0u8; UPLOAD_ID_BYTES];
        getrandom::fill(&mut bytes).map_err(|_| S3Error::internal())?;
        Ok(UploadId(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }

    /// An id as a client sends it. Anything that is not 22 base64url characters names no
    /// upload: it never reaches a path on the store.
    pub fn parse(text: &str) -> Result<UploadId, S3Error> {
        let well_formed = text.len() == UPLOAD_ID_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if well_formed {
            Ok(UploadId(text.to_string()))
        } else {
            Err(no_such_upload())
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The upload does not exist (or belongs to another key).
pub fn no_such_upload() -> S3Error {
    S3Error::new(
        S3ErrorCode::NoSuchUpload,
        "The specified multipart upload does not exist. The upload ID might be invalid, or the \
         multipart upload might have been aborted or completed.",
    )
}

/// The store folder holding a bucket's uploads (`.s3-auth-proxy/uploads/bkt/`).
pub fn uploads_folder(bucket: &str) -> String {
    format!("{RESERVED_SEGMENT}/uploads/{bucket}/")
}

/// The store folder of one upload.
pub fn upload_folder(bucket: &str, id: &UploadId) -> String {
    format!("{}{}/", uploads_folder(bucket), id.as_str())
}

/// The name of an upload's record in its folder.
pub const RECORD_NAME: &str = "upload.json";

/// What `upload.json` holds: the id's binding, and what ListMultipartUploads shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The bucket the id belongs to.
    pub bucket: String,
    /// The key the id belongs to.
    pub key: String,
    /// The access key that started it.
    pub initiator: String,
    /// When it started, seconds since the Unix epoch.
    pub initiated: i64,
}

impl UploadRecord {
    /// The record as stored.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A stored record; an unreadable one names no upload.
    pub fn from_json(bytes: &[u8]) -> Result<UploadRecord, S3Error> {
        serde_json::from_slice(bytes).map_err(|_| no_such_upload())
    }

    /// Whether the id is bound to this bucket and key.
    pub fn binds(&self, bucket: &str, key: &str) -> bool {
        self.bucket == bucket && self.key == key
    }
}

/// A staged part, as its file name records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedPart {
    /// 1..=10,000.
    pub number: u32,
    /// The MD5 of its bytes, lowercase hex (its ETag without quotes).
    pub md5: String,
    /// Its file name in the upload's folder.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was stored (seconds).
    pub mtime: i64,
}

/// The name a part is uploaded under before its MD5 is known (`incoming-00001-<nonce>`).
pub fn incoming_name(part_number: u32, nonce: &str) -> String {
    format!("incoming-{part_number:05}-{nonce}")
}

/// The name a verified part is moved to (`00001-<md5>-<nonce>`).
pub fn part_name(part_number: u32, md5: &str, nonce: &str) -> String {
    format!("{part_number:05}-{md5}-{nonce}")
}

/// A nonce for a part's file names: two uploads of one part never share a file.
pub fn part_nonce() -> Result<String, S3Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|_| S3Error::internal())?;
    Ok(hex::encode(bytes))
}

/// The part a file name of an upload's folder records, `None` for anything else (the
/// record, parts still arriving).
pub fn parse_part_name(name: &str, size: u64, mtime: i64) -> Option<StagedPart> {
    let mut fields = name.splitn(3, '-');
    let (number, md5, nonce) = (fields.next()?, fields.next()?, fields.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if number.len() != 5 || !number.bytes().all(|b| b.is_ascii_digit()) || !hex(md5, 32) {
        return None;
    }
    if nonce.is_empty() || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let number: u32 = number.parse().ok()?;
    (1..=MAX_PART_NUMBER).contains(&number).then(|| StagedPart {
        number,
        md5: md5.to_ascii_lowercase(),
        file: name.to_string(),
        size,
        mtime,
    })
}

/// The parts of an upload, one per number (the newest of each; ties by name), in order.
pub fn current_parts(mut staged: Vec<StagedPart>) -> Vec<StagedPart> {
    staged.sort_by(|a, b| {
        a.number
            .cmp(&b.number)
            .then(b.mtime.cmp(&a.mtime))
            .then(b.file.cmp(&a.file))
    });
    staged.dedup_by_key(|p| p.number);
    staged
}

#[cfg(test)]
mod tests;
