//! Browser POST uploads (AWS "browser-based uploads using POST"): pure, I/O-free parts.
//!
//! Data flow: the raw `multipart/form-data` body goes through [`multipart::MultipartReader`], which
//! collects the fields that precede the file (bounded) and then streams the file's bytes, holding
//! back the last one until the form has ended properly. Once the fields are known,
//! [`policy`] checks the form's signature and its policy's conditions; only then may any file
//! byte go upstream (as a plain `PUT`). [`verify_form`] is the entry point for a form's
//! signature and policy; the proxy's glue lives in `crate::proxy::form_upload`.

pub mod multipart;
pub mod policy;
pub mod verify;

pub use verify::{form_auth_method, verify_form};

/// One text field of the form, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    /// The field name exactly as sent (`Content-Disposition: form-data; name="…"`). Form field
    /// names are case-insensitive: compare with `eq_ignore_ascii_case`.
    pub name: String,
    /// The value, decoded as UTF-8.
    pub value: String,
}

/// The part that carries the file (the field named `file`, which S3 requires to be the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart {
    /// `filename="…"` of its Content-Disposition, if sent (what `${filename}` in `key` becomes).
    pub filename: Option<String>,
    /// The part's own `Content-Type`, if sent.
    pub content_type: Option<String>,
}

/// Everything before the file's first byte: the fields and the file part's headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPrefix {
    /// The text fields, in order.
    pub fields: Vec<FormField>,
    /// The file part's headers.
    pub file: FilePart,
    /// Raw body bytes before the file's first data byte (preamble, every part, the file part's
    /// headers). With the form's Content-Length it gives the file's length.
    pub bytes_before_file: u64,
}

impl FormPrefix {
    /// The value of a field, matched case-insensitively; the first one if repeated.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    }
}
