//! The S3 canonical request (SigV4 "Create a canonical request"):
//!
//! ```text
//! HTTPMethod\n
//! CanonicalURI\n
//! CanonicalQueryString\n
//! CanonicalHeaders\n        (each header line ends with \n, so a blank line follows them)
//! SignedHeaders\n
//! HashedPayload
//! ```
//!
//! S3 differs from the other services in one place that matters for security: the path is
//! neither normalised (`.`/`..`/`//` are part of object keys) nor encoded twice. Everything here
//! works on the request as received, so what we hash is what the client hashed.

use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::AuthKind;
use crate::error::{S3Error, S3ErrorCode};

/// Everything but the SigV4 unreserved characters `A-Z a-z 0-9 - . _ ~` is percent-encoded.
pub const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The query parameter that carries a presigned signature; it is the one parameter not signed.
pub const SIGNATURE_PARAM: &str = "X-Amz-Signature";

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn push_percent_encoded(out: &mut String, b: u8) {
    out.push('%');
    out.push(char::from(UPPER_HEX[usize::from(b >> 4)]));
    out.push(char::from(UPPER_HEX[usize::from(b & 0x0f)]));
}

/// CanonicalURI for S3: the raw path encoded once, nothing decoded, nothing normalised.
///
/// Clients sign the object key URI-encoded once (`/` kept) and send exactly that, so the raw
/// path normally *is* the canonical URI. To match it byte for byte we keep every valid `%XX`
/// triplet (upper-casing its hex digits, as encoders write them), keep `/` and the unreserved
/// characters, and encode anything else a lenient client left raw (a space, UTF-8, `$`, `+`).
/// An empty path is `/`.
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    let bytes = raw_path.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                out.push('%');
                out.push(char::from(hi.to_ascii_uppercase()));
                out.push(char::from(lo.to_ascii_uppercase()));
                i += 3;
                continue;
            }
            (b'/', _, _) => out.push('/'),
            (b, _, _) if is_unreserved(b) => out.push(char::from(b)),
            (b, _, _) => push_percent_encoded(&mut out, b),
        }
        i += 1;
    }
    out
}

/// CanonicalQueryString: each `&`-separated parameter split at its first `=` (a parameter
/// without `=` such as `?lifecycle` has an empty value and becomes `lifecycle=`), name and value
/// percent-decoded and re-encoded with the SigV4 rule, sorted by encoded name then encoded value,
/// joined with `&`. Empty segments (`a&&b`, a trailing `&`) carry no parameter and are skipped.
///
/// A raw `+` is a literal plus, not a space: SigV4 clients encode spaces as `%20` and sign
/// `%2B` for `+`, so `+` must come out as `%2B`. Presigned requests pass
/// `exclude_signature = true` to leave out `X-Amz-Signature`, the one parameter not signed.
pub fn canonical_query(raw_query: &str, exclude_signature: bool) -> String {
    let mut params: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            (reencode(name), reencode(value))
        })
        .filter(|(name, _)| !(exclude_signature && name == SIGNATURE_PARAM))
        .collect();
    params.sort_unstable();
    let mut out = String::with_capacity(raw_query.len() + 16);
    for (n, (name, value)) in params.iter().enumerate() {
        if n > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Decode `%XX` (an invalid triplet stays literal) and encode with the SigV4 rule.
fn reencode(raw: &str) -> String {
    let decoded: Vec<u8> = percent_decode_str(raw).collect();
    percent_encode(&decoded, SIGV4_ENCODE).to_string()
}

/// A validated `SignedHeaders` list: lower-case header names, sorted, unique, `;`-separated.
///
/// Sorted and unique is not a formality: the canonical headers are built from this list, so
/// accepting a list in another order or with repeats would only accept lists no SDK produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    joined: String,
}

impl SignedHeaders {
    /// Parse `host;range;x-amz-date`. `kind` decides the error code S3 uses.
    pub fn parse(value: &str, kind: AuthKind) -> Result<SignedHeaders, S3Error> {
        let malformed = |detail: String| kind.malformed("SignedHeaders", detail);
        if value.is_empty() {
            return Err(malformed("SignedHeaders is empty".into()));
        }
        let mut previous: Option<&str> = None;
        for name in value.split(';') {
            if name.is_empty() {
                return Err(malformed(format!(
                    "SignedHeaders '{value}' has an empty header name"
                )));
            }
            if name.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(malformed(format!(
                    "SignedHeaders name '{name}' is not lower-case"
                )));
            }
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(malformed(format!(
                    "SignedHeaders name '{name}' is not a header name"
                )));
            }
            match previous {
                Some(p) if p == name => {
                    return Err(malformed(format!("SignedHeaders lists '{name}' twice")));
                }
                Some(p) if p > name => {
                    return Err(malformed(format!(
                        "SignedHeaders is not sorted: '{p}' comes before '{name}'"
                    )));
                }
                _ => {}
            }
            previous = Some(name);
        }
        Ok(SignedHeaders {
            joined: value.to_owned(),
        })
    }

    /// The list as sent, the SignedHeaders line of the canonical request.
    pub fn as_str(&self) -> &str {
        &self.joined
    }

    /// The names in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.joined.split(';')
    }

    /// Whether `name` (lower-case) is signed.
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }
}

/// Why the canonical headers could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CanonicalHeadersError {
    /// SignedHeaders names a header the request does not carry.
    Missing(String),
    /// A signed header's value is not UTF-8, so it cannot be a line of the canonical request.
    NotUtf8(String),
    /// `content-length` sent more than once with different values: which body length did the
    /// client sign? Refused as HTTP itself refuses it (RFC 9110 §8.6).
    ConflictingContentLength,
}

impl CanonicalHeadersError {
    /// The S3 error for this failure, for the given kind of authentication.
    pub fn into_s3_error(self, kind: AuthKind) -> S3Error {
        match self {
            CanonicalHeadersError::Missing(name) => kind.malformed(
                "SignedHeaders",
                format!("the signed header '{name}' is not present in the request"),
            ),
            CanonicalHeadersError::NotUtf8(name) => S3Error::new(
                S3ErrorCode::InvalidArgument,
                format!("the signed header '{name}' has a value that is not UTF-8"),
            ),
            CanonicalHeadersError::ConflictingContentLength => S3Error::new(
                S3ErrorCode::InvalidRequest,
                "Content-Length was sent more than once with different values",
            ),
        }
    }
}

/// CanonicalHeaders: for each signed name, in order, `name:value\n`, where value is every value
/// of that header in the order received, each trimmed with inner runs of spaces and tabs folded
/// to one space, joined with `,`.
///
/// One exception: a signed `content-length` sent several times with the same value counts once.
/// rclone's presigned uploads arrive like that (the length is both signed and set by the HTTP
/// stack), and the client signed a single value.
pub fn canonical_headers(
    headers: &http::HeaderMap,
    signed: &SignedHeaders,
) -> Result<String, CanonicalHeadersError> {
    let mut out = String::with_capacity(256);
    for name in signed.iter() {
        out.push_str(name);
        out.push(':');
        let line_start = out.len();
        let mut first_value: Option<(usize, usize)> = None;
        for value in headers.get_all(name) {
            let text = std::str::from_utf8(value.as_bytes())
                .map_err(|_| CanonicalHeadersError::NotUtf8(name.to_owned()))?;
            match first_value {
                None => {
                    fold_whitespace_into(&mut out, text);
                    first_value = Some((line_start, out.len()));
                }
                Some((start, end)) if name == http::header::CONTENT_LENGTH.as_str() => {
                    let mut folded = String::with_capacity(text.len());
                    fold_whitespace_into(&mut folded, text);
                    if folded != out[start..end] {
                        return Err(CanonicalHeadersError::ConflictingContentLength);
                    }
                }
                Some(_) => {
                    out.push(',');
                    fold_whitespace_into(&mut out, text);
                }
            }
        }
        if first_value.is_none() {
            return Err(CanonicalHeadersError::Missing(name.to_owned()));
        }
        out.push('\n');
    }
    Ok(out)
}

/// Append `value` trimmed of spaces and tabs at both ends, inner runs of them folded into one
/// space.
fn fold_whitespace_into(out: &mut String, value: &str) {
    let mut first = true;
    for word in value.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if !first {
            out.push(' ');
        }
        out.push_str(word);
        first = false;
    }
}

/// Assemble the canonical request from its already-canonical parts.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    hashed_payload: &str,
) -> String {
    let mut out = String::with_capacity(
        method.len()
            + canonical_uri.len()
            + canonical_query.len()
            + canonical_headers.len()
            + signed_headers.len()
            + hashed_payload.len()
            + 5,
    );
    out.push_str(method); // HTTPMethod
    out.push('\n');
    out.push_str(canonical_uri); // CanonicalURI
    out.push('\n');
    out.push_str(canonical_query); // CanonicalQueryString
    out.push('\n');
    out.push_str(canonical_headers); // CanonicalHeaders, each line already ends in \n
    out.push('\n');
    out.push_str(signed_headers); // SignedHeaders
    out.push('\n');
    out.push_str(hashed_payload); // HashedPayload
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn uri_of_an_already_encoded_key_is_unchanged() {
        // What an SDK sends for keys with a space, UTF-8, `+`, `=`, `~`, `$` and an encoded `/`.
        for path in [
            "/bucket/my%20file.txt",
            "/bucket/%E1%88%B4",
            "/bucket/a%2Bb",
            "/bucket/a%3Db",
            "/bucket/a~b",
            "/test%24file.text",
            "/bucket/a%2Fb",
            "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        ] {
            assert_eq!(canonical_uri(path), path);
        }
    }

    #[test]
    fn uri_encodes_what_a_lenient_client_left_raw() {
        assert_eq!(
            canonical_uri("/bucket/my file.txt"),
            "/bucket/my%20file.txt"
        );
        assert_eq!(canonical_uri("/bucket/ሴ"), "/bucket/%E1%88%B4");
        assert_eq!(canonical_uri("/bucket/a+b"), "/bucket/a%2Bb");
        assert_eq!(canonical_uri("/bucket/a=b"), "/bucket/a%3Db");
        assert_eq!(canonical_uri("/test$file.text"), "/test%24file.text");
        assert_eq!(canonical_uri("/a:b@c!*'()"), "/a%3Ab%40c%21%2A%27%28%29");
    }

    #[test]
    fn uri_upper_cases_triplets_and_encodes_stray_percent() {
        assert_eq!(canonical_uri("/bucket/a%2fb"), "/bucket/a%2Fb");
        assert_eq!(canonical_uri("/bucket/100%"), "/bucket/100%25");
        assert_eq!(canonical_uri("/bucket/100%z1"), "/bucket/100%25z1");
        assert_eq!(canonical_uri("/bucket/%4"), "/bucket/%254");
    }

    #[test]
    fn uri_is_never_normalised() {
        for path in ["//", "/./", "/example/..", "//example//", "/a/./b/../c"] {
            assert_eq!(canonical_uri(path), path);
        }
        assert_eq!(canonical_uri(""), "/");
    }

    #[test]
    fn query_sorts_by_name_then_value() {
        assert_eq!(canonical_query("b=2&a=1", false), "a=1&b=2");
        assert_eq!(canonical_query("a=2&a=1&A=3", false), "A=3&a=1&a=2");
        assert_eq!(
            canonical_query("max-keys=2&prefix=J", false),
            "max-keys=2&prefix=J"
        );
    }

    #[test]
    fn valueless_and_empty_params_keep_an_empty_value() {
        assert_eq!(canonical_query("lifecycle", false), "lifecycle=");
        assert_eq!(
            canonical_query("uploads&prefix=", false),
            "prefix=&uploads="
        );
        assert_eq!(canonical_query("a=&a", false), "a=&a=");
        assert_eq!(canonical_query("", false), "");
        assert_eq!(canonical_query("a=1&&b=2&", false), "a=1&b=2");
    }

    #[test]
    fn query_is_decoded_and_re_encoded() {
        assert_eq!(canonical_query("prefix=a%2fb", false), "prefix=a%2Fb");
        assert_eq!(canonical_query("prefix=a/b", false), "prefix=a%2Fb");
        assert_eq!(canonical_query("k=a%7Eb", false), "k=a~b");
        assert_eq!(canonical_query("k=a b", false), "k=a%20b");
        assert_eq!(canonical_query("k=a+b", false), "k=a%2Bb");
        assert_eq!(canonical_query("k=a=b", false), "k=a%3Db");
        assert_eq!(canonical_query("%E1%88%B4=bar", false), "%E1%88%B4=bar");
        assert_eq!(canonical_query("k=100%", false), "k=100%25");
    }

    #[test]
    fn only_the_signature_param_is_excluded() {
        let q = "X-Amz-Signature=abc&X-Amz-Date=1&x-amz-signature=def";
        assert_eq!(canonical_query(q, true), "X-Amz-Date=1&x-amz-signature=def");
        assert_eq!(
            canonical_query(q, false),
            "X-Amz-Date=1&X-Amz-Signature=abc&x-amz-signature=def"
        );
        // Also when the name itself arrives percent-encoded.
        assert_eq!(canonical_query("X%2DAmz-Signature=abc&a=1", true), "a=1");
    }

    fn signed(list: &str) -> SignedHeaders {
        SignedHeaders::parse(list, AuthKind::Header).unwrap()
    }

    #[test]
    fn signed_headers_must_be_lower_case_sorted_unique_and_non_empty() {
        assert_eq!(signed("host;range;x-amz-date").iter().count(), 3);
        assert!(signed("host;x-amz-date").contains("x-amz-date"));
        assert!(!signed("host;x-amz-date").contains("x-amz"));
        for (bad, why) in [
            ("", "empty"),
            ("host;", "empty header name"),
            (";host", "empty header name"),
            ("host;;x-amz-date", "empty header name"),
            ("Host;x-amz-date", "not lower-case"),
            ("x-amz-date;host", "not sorted"),
            ("host;host", "twice"),
            ("host;x amz", "not a header name"),
            ("host,range", "not a header name"),
        ] {
            let err = SignedHeaders::parse(bad, AuthKind::Header).unwrap_err();
            assert_eq!(
                err.code,
                S3ErrorCode::AuthorizationHeaderMalformed,
                "{bad:?}"
            );
            assert!(err.message.contains(why), "{bad:?}: {}", err.message);
            let err = SignedHeaders::parse(bad, AuthKind::Presigned).unwrap_err();
            assert_eq!(
                err.code,
                S3ErrorCode::AuthorizationQueryParametersError,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn header_values_are_trimmed_folded_and_joined_in_order() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com"));
        headers.append("my-header1", HeaderValue::from_static("  value4 "));
        headers.append("my-header1", HeaderValue::from_static("value1"));
        headers.append("my-header1", HeaderValue::from_static("a \t  b\t\tc"));
        headers.insert("my-header2", HeaderValue::from_static("\"a   b   c\""));
        headers.insert("unsigned", HeaderValue::from_static("x"));
        let got = canonical_headers(&headers, &signed("host;my-header1;my-header2")).unwrap();
        assert_eq!(
            got,
            "host:example.com\nmy-header1:value4,value1,a b c\nmy-header2:\"a b c\"\n"
        );
    }

    #[test]
    fn an_empty_header_value_is_an_empty_line_value() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-meta-empty", HeaderValue::from_static(""));
        assert_eq!(
            canonical_headers(&headers, &signed("x-amz-meta-empty")).unwrap(),
            "x-amz-meta-empty:\n"
        );
    }

    #[test]
    fn an_absent_signed_header_is_named() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com"));
        let err = canonical_headers(&headers, &signed("host;range")).unwrap_err();
        assert_eq!(err, CanonicalHeadersError::Missing("range".into()));
        let s3 = err.into_s3_error(AuthKind::Header);
        assert_eq!(s3.code, S3ErrorCode::AuthorizationHeaderMalformed);
        assert!(s3.message.contains("'range'"));
    }

    #[test]
    fn non_utf8_signed_value_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-meta-a", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let err = canonical_headers(&headers, &signed("x-amz-meta-a")).unwrap_err();
        assert_eq!(err, CanonicalHeadersError::NotUtf8("x-amz-meta-a".into()));
    }

    #[test]
    fn repeated_equal_content_length_counts_once() {
        let mut headers = HeaderMap::new();
        headers.append("content-length", HeaderValue::from_static("13"));
        headers.append("content-length", HeaderValue::from_static("13"));
        assert_eq!(
            canonical_headers(&headers, &signed("content-length")).unwrap(),
            "content-length:13\n"
        );
        headers.append("content-length", HeaderValue::from_static("14"));
        let err = canonical_headers(&headers, &signed("content-length")).unwrap_err();
        assert_eq!(err, CanonicalHeadersError::ConflictingContentLength);
        assert_eq!(
            err.into_s3_error(AuthKind::Presigned).code,
            S3ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn other_repeated_headers_keep_every_value() {
        let mut headers = HeaderMap::new();
        headers.append("x-amz-meta-a", HeaderValue::from_static("1"));
        headers.append("x-amz-meta-a", HeaderValue::from_static("1"));
        assert_eq!(
            canonical_headers(&headers, &signed("x-amz-meta-a")).unwrap(),
            "x-amz-meta-a:1,1\n"
        );
    }

    #[test]
    fn canonical_request_has_its_lines_in_order() {
        let creq = canonical_request("GET", "/", "a=1", "host:h\n", "host", "UNSIGNED-PAYLOAD");
        assert_eq!(creq, "GET\n/\na=1\nhost:h\n\nhost\nUNSIGNED-PAYLOAD");
    }

    proptest::proptest! {
        #[test]
        fn canonicalisers_never_panic(input in ".*") {
            let _ = canonical_uri(&input);
            let _ = canonical_query(&input, true);
            let _ = SignedHeaders::parse(&input, AuthKind::Header);
        }

        #[test]
        fn canonical_uri_is_idempotent(input in "[a-zA-Z0-9/%+ =~$.\\-_ሴ]*") {
            let once = canonical_uri(&input);
            proptest::prop_assert_eq!(canonical_uri(&once), once.clone());
        }

        #[test]
        fn canonical_query_output_is_its_own_canonical_form(input in "[a-zA-Z0-9&=%+ ~ሴ]*") {
            let once = canonical_query(&input, false);
            proptest::prop_assert_eq!(canonical_query(&once, false), once.clone());
        }
    }
}
