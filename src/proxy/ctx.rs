//! What one request carries from hook to hook, grouped by who needs it: who signed and what the
//! request points at (the access log, the upstream head), the body check (the body hooks), and
//! the answer's extras (every response writer).

use std::time::Instant;

use bytes::Bytes;

use crate::auth::Verified;
use crate::body::plan::{BodyCheck, BodyPlan};
use crate::body::BodyVerifier;
use crate::error::{new_request_id, S3Error, S3ErrorCode};
use crate::ops::InFlight;
use crate::request::{S3Request, SourceObject, Target};
use crate::store::BucketOp;

/// Per-request state shared by the hooks.
pub struct RequestCtx {
    /// When the request arrived.
    pub started: Instant,
    /// Keeps the request counted as in flight (graceful shutdown waits for these).
    _in_flight: InFlight,
    /// When the backend was chosen, for the upstream latency histogram.
    pub upstream_started: Option<Instant>,
    /// Who signed, how, and what the request points at.
    pub identity: Identity,
    /// The streaming body check.
    pub body: BodyState,
    /// What every answer to this request carries.
    pub reply: Reply,
    /// A bucket-level request the proxy answers itself from a plain store.
    pub store_op: Option<BucketOp>,
    /// An UploadPart to a plain store: where the part is staged.
    pub staged_part: Option<super::staged_part::StagedPart>,
    /// A PUT to a plain store: the modification time the proxy gave it (its `Date`) and its
    /// length, for its ETag record (`store::etags`).
    pub put_stamp: Option<PutStamp>,
}

/// What the proxy knows of an object a plain store is writing.
#[derive(Debug, Clone, Copy)]
pub struct PutStamp {
    /// Seconds since the Unix epoch, as nginx will list it.
    pub mtime: i64,
    /// Its length, when the upstream head says it.
    pub size: Option<u64>,
}

impl RequestCtx {
    /// A fresh context; `in_flight` counts the request until the context is dropped.
    pub fn new(in_flight: InFlight) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            _in_flight: in_flight,
            upstream_started: None,
            identity: Identity::default(),
            body: BodyState::default(),
            reply: Reply::new(new_request_id()),
            store_op: None,
            staged_part: None,
            put_stamp: None,
        }
    }
}

/// Who signed and what the request points at; known once the head verified (so the access log
/// of a later refusal names them too).
#[derive(Debug)]
pub struct Identity {
    /// The access key that signed (header, presigned or form).
    pub access_key: Option<String>,
    /// How the request was authenticated (`sigv4-header`, `sigv2-form`…), `-` before.
    pub auth_label: &'static str,
    /// Bucket and key.
    pub target: Option<Target>,
    /// The objects the request's headers name besides the target (copy sources).
    pub sources: Vec<SourceObject>,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            access_key: None,
            auth_label: "-",
            target: None,
            sources: Vec::new(),
        }
    }
}

impl Identity {
    /// Note a verified head and what it points at.
    pub fn verified(&mut self, verified: &Verified, request: &S3Request<'_>) {
        self.access_key = Some(verified.access_key.clone());
        self.auth_label = verified.method.label();
        self.target = Some(request.target.clone());
        self.sources = request.sources.clone();
    }
}

/// The body check of a request and what it found.
#[derive(Default)]
pub struct BodyState {
    /// The streaming check, if a body follows the head.
    pub check: Option<BodyCheck>,
    /// `x-amz-decoded-content-length` of an aws-chunked upload: the upstream Content-Length.
    pub decoded_length: Option<u64>,
    /// Read and verify the whole body in `request_filter`, before the backend hears of it.
    pub verify_first: bool,
    /// An error found in a body hook, to be written by `fail_to_proxy`.
    pub error: Option<S3Error>,
    /// Hex MD5 of the payload: the ETag of a PUT to a plain HTTP backend.
    pub md5: Option<String>,
    /// Body bytes handed to the backend.
    pub bytes_forwarded: u64,
}

impl BodyState {
    /// Take the plan of a verified head. Without a body every check runs now, before the
    /// backend hears of the request.
    pub fn start(&mut self, plan: BodyPlan, body_follows: bool) -> Result<(), S3Error> {
        let BodyPlan {
            mut check,
            decoded_length,
        } = plan;
        self.decoded_length = decoded_length;
        if body_follows {
            // An aws-chunked upload of 0 bytes has no payload byte to hold back: the backend
            // would store the empty object as soon as it saw the head. Its whole (small) body
            // is read and verified before the backend is contacted.
            self.verify_first = decoded_length == Some(0);
            self.check = Some(check);
        } else {
            check.finish()?;
            self.md5 = check.md5_hex();
        }
        Ok(())
    }
}

/// What every answer to the request carries, and what was answered.
pub struct Reply {
    /// The `x-amz-request-id` header and the `RequestId` of error documents.
    pub request_id: String,
    /// CORS headers (the request's Origin matched a `[[cors]]` rule).
    pub cors_headers: Vec<(&'static str, String)>,
    /// The error answered, for the access log and metrics.
    pub error_code: Option<S3ErrorCode>,
    /// `kind = "http"`: replace the backend's answer body by this.
    pub replacement_body: Option<Bytes>,
}

impl Reply {
    fn new(request_id: String) -> Reply {
        Reply {
            request_id,
            cors_headers: Vec::new(),
            error_code: None,
            replacement_body: None,
        }
    }
}
