//! The query of a request as decoded parameters: what selects the S3 operation (`?uploads`,
//! `?delete`, `?tagging`…) and its arguments (`prefix`, `uploadId`…), read once here and sent
//! on re-encoded, so the backend cannot read a different operation or prefix from the same
//! bytes (a repeated name, an encoded `%75ploads`, a raw `+` some read as a space) than the one
//! that was authorized and signed.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::auth::sigv2::sub_resources;
use crate::error::{S3Error, S3ErrorCode};

/// Query parameters that carry presigned-URL authentication: never forwarded upstream.
pub const AUTH_QUERY_PARAMS: &[&str] = &[
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-signedheaders",
    "x-amz-signature",
    "x-amz-security-token",
    // SigV2 presigned URLs.
    "awsaccesskeyid",
    "expires",
    "signature",
];

/// Parameters that change what an operation acts on (a part, an upload, a version), not which
/// operation it is: they may stand beside an operation's name (`?tagging&versionId=3`).
pub const OPERATION_MODIFIERS: &[&str] = &["partNumber", "uploadId", "versionId", "select-type"];

/// The S3 query names the project knows, and what each is, from the one list
/// `auth::sigv2::sub_resources` keeps (checked there against botocore's S3 model): what SigV2
/// signs selects an operation, a version, an upload, a part or an answer override; the rest are
/// listing and paging arguments, the configuration ids and the SDKs' operation hint.
fn known_spelling(name: &str) -> Option<&'static str> {
    sub_resources::CLIENT_SIGNED
        .iter()
        .chain(sub_resources::OPERATION_SELECTORS.iter())
        .chain(sub_resources::LISTING_PARAMETERS.iter())
        .chain(sub_resources::CONFIGURATION_IDS.iter())
        .chain([sub_resources::LIST_TYPE, sub_resources::OPERATION_HINT].iter())
        .copied()
        .find(|known| known.eq_ignore_ascii_case(name))
}

/// Whether a name selects an S3 operation of its own (at most one per request): a signed
/// sub-resource that is neither a modifier nor an answer override (`response-*`).
pub fn is_operation(name: &str) -> bool {
    sub_resources::is_signed(name)
        && !OPERATION_MODIFIERS.contains(&name)
        && !name.starts_with("response-")
}

/// Characters kept as they are in a re-encoded query name or value: RFC 3986 unreserved.
const QUERY_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One query parameter, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The name.
    pub name: String,
    /// The value; `None` when the client wrote no `=` (`?uploads`).
    pub value: Option<String>,
}

/// The decoded query parameters, in the client's order, without the auth ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    params: Vec<Param>,
}

impl Query {
    /// Decode a raw query (without `?`); a raw `+` is a plus, as the signature covers it.
    /// Refused: a name or value that is not UTF-8 once decoded, an S3 parameter given twice
    /// (backends differ on which one counts; other names pass on, every value in order), a
    /// known sub-resource spelled in another case.
    pub fn parse(raw_query: &str) -> Result<Query, S3Error> {
        let mut params: Vec<Param> = Vec::new();
        for pair in raw_query.split('&').filter(|pair| !pair.is_empty()) {
            let (raw_name, raw_value) = match pair.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (pair, None),
            };
            let name = decode_component(raw_name)?;
            if AUTH_QUERY_PARAMS.contains(&name.to_ascii_lowercase().as_str()) {
                continue;
            }
            check_spelling(&name)?;
            if known_spelling(&name).is_some() && params.iter().any(|p| p.name == name) {
                return Err(S3Error::new(
                    S3ErrorCode::InvalidArgument,
                    format!("The query parameter {name} is given more than once."),
                ));
            }
            let value = raw_value.map(decode_component).transpose()?;
            params.push(Param { name, value });
        }
        Ok(Query { params })
    }

    /// No parameters.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// The parameters.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Whether a parameter is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.params.iter().any(|p| p.name == name)
    }

    /// A parameter's value (`""` when written without one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_deref().unwrap_or(""))
    }

    /// The one operation-selecting sub-resource present, if any; two at once is refused (which
    /// one a backend would act on is its own choice).
    pub fn operation(&self) -> Result<Option<&str>, S3Error> {
        let mut found = self
            .params
            .iter()
            .map(|p| p.name.as_str())
            .filter(|name| is_operation(name));
        let first = found.next();
        if let Some(second) = found.next() {
            return Err(S3Error::new(
                S3ErrorCode::InvalidRequest,
                format!(
                    "The request names more than one operation: ?{} and ?{second}.",
                    first.unwrap_or_default()
                ),
            ));
        }
        Ok(first)
    }

    /// The query for the backend, every name and value percent-encoded anew.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, param) in self.params.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.extend(utf8_percent_encode(&param.name, QUERY_KEEP));
            if let Some(value) = &param.value {
                out.push('=');
                out.extend(utf8_percent_encode(value, QUERY_KEEP));
            }
        }
        out
    }
}

/// Refuse a name that equals a known sub-resource or modifier but for case: S3 matches them
/// exactly, some backends do not.
fn check_spelling(name: &str) -> Result<(), S3Error> {
    match known_spelling(name) {
        Some(known) if known != name => Err(S3Error::new(
            S3ErrorCode::InvalidArgument,
            format!("The query parameter {name} is not spelled as S3 spells it ({known})."),
        )),
        _ => Ok(()),
    }
}

/// Decode one query component: percent-decoding into UTF-8. A raw `+` stays a plus, as the
/// signature reads it (`auth::sigv4::canonical::canonical_query`): re-encoded as `%2B`, the
/// backend cannot take it for a space.
fn decode_component(raw: &str) -> Result<String, S3Error> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            S3Error::new(
                S3ErrorCode::InvalidArgument,
                "A query parameter is not valid UTF-8 once decoded.",
            )
        })
}
