//! The signer: the other side of verification, for the people who build pages and links. It
//! signs presigned URLs (`s3-auth-proxy presign`) and ready HTML upload forms with a signed POST
//! policy (`s3-auth-proxy post-form`). Pure: the caller brings the signing key and the time.

use std::time::Duration;

use base64::Engine;
use percent_encoding::{utf8_percent_encode, AsciiSet};

use crate::auth::sigv4::canonical::{
    canonical_query, canonical_request, canonical_uri, SIGV4_ENCODE,
};
use crate::auth::sigv4::signing::{signature_hex, string_to_sign, ALGORITHM};
use crate::auth::sigv4::SigningKey;

/// SigV4 encoding with `/` kept: how an object key is written in a path.
const PATH_ENCODE: &AsciiSet = &SIGV4_ENCODE.remove(b'/');

/// Who signs, when, and for which scope.
#[derive(Debug, Clone)]
pub struct Signer<'a> {
    /// The access key id.
    pub access_key: &'a str,
    /// Its derived key for `amz_date`'s day, `region` and `s3`.
    pub signing_key: &'a SigningKey,
    /// The region of the scope.
    pub region: &'a str,
    /// `YYYYMMDDTHHMMSSZ`, the signing time.
    pub amz_date: &'a str,
}

impl Signer<'_> {
    fn credential(&self) -> String {
        format!(
            "{}/{}/{}/s3/aws4_request",
            self.access_key,
            &self.amz_date[..8],
            self.region
        )
    }

    fn scope(&self) -> String {
        format!("{}/{}/s3/aws4_request", &self.amz_date[..8], self.region)
    }
}

/// A presigned URL: `scheme://host` + `path` (decoded object path such as `/bucket/key`),
/// valid for `expires`, signing only `host` with an unsigned payload (what the SDKs' presigners
/// do, so that a browser or curl can use the URL as it is).
pub fn presigned_url(
    signer: &Signer<'_>,
    method: &str,
    scheme: &str,
    host: &str,
    path: &str,
    expires: Duration,
) -> String {
    let encoded_path = utf8_percent_encode(path, PATH_ENCODE).to_string();
    let query = format!(
        "X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={}&X-Amz-Date={}&X-Amz-Expires={}&X-Amz-SignedHeaders=host",
        utf8_percent_encode(&signer.credential(), SIGV4_ENCODE),
        signer.amz_date,
        expires.as_secs()
    );
    let creq = canonical_request(
        method,
        &canonical_uri(&encoded_path),
        &canonical_query(&query, true),
        &format!("host:{host}\n"),
        "host",
        "UNSIGNED-PAYLOAD",
    );
    let sts = string_to_sign(signer.amz_date, &signer.scope(), &creq);
    let signature = signature_hex(signer.signing_key, &sts);
    format!("{scheme}://{host}{encoded_path}?{query}&X-Amz-Signature={signature}")
}

/// What a generated upload form allows.
#[derive(Debug, Clone)]
pub struct PostFormSpec<'a> {
    /// Where the form posts to: `scheme://host[:port]` of the proxy as browsers reach it.
    pub endpoint: &'a str,
    /// The bucket.
    pub bucket: &'a str,
    /// Keys must start with this; the form's key is `<prefix>${filename}`.
    pub key_prefix: &'a str,
    /// Largest file, if limited (`content-length-range`).
    pub max_size: Option<u64>,
    /// Where the browser goes after a successful upload (`success_action_redirect`); without it
    /// the proxy answers 201 with the `PostResponse` XML.
    pub redirect: Option<&'a str>,
    /// The policy's `expiration`, ISO 8601 (`2026-11-23T13:00:00Z`).
    pub expiration: &'a str,
}

/// The policy document of a generated form (JSON text, before base64).
pub fn post_policy_json(signer: &Signer<'_>, spec: &PostFormSpec<'_>) -> String {
    let mut conditions = vec![
        serde_json::json!({ "bucket": spec.bucket }),
        serde_json::json!(["starts-with", "$key", spec.key_prefix]),
        serde_json::json!({ "x-amz-algorithm": ALGORITHM }),
        serde_json::json!({ "x-amz-credential": signer.credential() }),
        serde_json::json!({ "x-amz-date": signer.amz_date }),
        // Lets a page author add a Content-Type field without re-signing.
        serde_json::json!(["starts-with", "$Content-Type", ""]),
    ];
    match spec.redirect {
        Some(url) => conditions.push(serde_json::json!({ "success_action_redirect": url })),
        None => conditions.push(serde_json::json!({ "success_action_status": "201" })),
    }
    if let Some(max) = spec.max_size {
        conditions.push(serde_json::json!(["content-length-range", 0, max]));
    }
    serde_json::json!({ "expiration": spec.expiration, "conditions": conditions }).to_string()
}

/// A complete HTML page with the upload form: hidden fields (policy, credential, date,
/// signature, key), a file chooser and a submit button.
pub fn post_form_html(signer: &Signer<'_>, spec: &PostFormSpec<'_>) -> String {
    let policy_b64 =
        base64::engine::general_purpose::STANDARD.encode(post_policy_json(signer, spec));
    let signature = crate::post::policy::sign_policy_v4(signer.signing_key, &policy_b64);
    let key = format!("{}${{filename}}", spec.key_prefix);
    let credential = signer.credential();
    let mut fields: Vec<(&str, &str)> = vec![
        ("key", &key),
        ("x-amz-algorithm", ALGORITHM),
        ("x-amz-credential", &credential),
        ("x-amz-date", signer.amz_date),
    ];
    match spec.redirect {
        Some(url) => fields.push(("success_action_redirect", url)),
        None => fields.push(("success_action_status", "201")),
    }
    fields.push(("policy", &policy_b64));
    fields.push(("x-amz-signature", &signature));
    let action = format!(
        "{}/{}",
        spec.endpoint.trim_end_matches('/'),
        utf8_percent_encode(spec.bucket, PATH_ENCODE)
    );
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Upload</title>\n</head>\n<body>\n",
    );
    html.push_str(&format!(
        "<!-- Signed for {}; valid until {}. Files go to {}/{}<name>. -->\n",
        html_escape(signer.access_key),
        html_escape(spec.expiration),
        html_escape(spec.bucket),
        html_escape(spec.key_prefix)
    ));
    html.push_str(&format!(
        "<form id=\"upload\" action=\"{}\" method=\"post\" enctype=\"multipart/form-data\">\n",
        html_escape(&action)
    ));
    for (name, value) in fields {
        html.push_str(&format!(
            "  <input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            html_escape(name),
            html_escape(value)
        ));
    }
    // The file must be the last meaningful field: S3 and this proxy ignore fields after it.
    html.push_str(
        "  <input type=\"file\" name=\"file\" id=\"file\">\n  \
         <button type=\"submit\" id=\"submit\">Upload</button>\n</form>\n</body>\n</html>\n",
    );
    html
}

/// Escape text for an HTML attribute value or element body (the XML escapes are valid HTML).
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    crate::error::xml_escape_into(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sigv4::signing::derive_signing_key;

    fn doc_vectors() -> serde_json::Value {
        serde_json::from_str(include_str!("../../shared/vectors/s3-doc-examples.json")).unwrap()
    }

    #[test]
    fn presigned_url_is_the_aws_documentation_example() {
        // "Authenticating Requests: Using Query Parameters", the GET example: every value of
        // the expected URL comes from the page.
        let v = doc_vectors();
        let creds = &v["credentials"];
        let expected = v["presigned_url"]["url"].as_str().unwrap();
        let key = derive_signing_key(
            creds["secret_access_key"].as_str().unwrap(),
            "20130524",
            "us-east-1",
            "s3",
        );
        let signer = Signer {
            access_key: creds["access_key_id"].as_str().unwrap(),
            signing_key: &key,
            region: "us-east-1",
            amz_date: "20130524T000000Z",
        };
        let url = presigned_url(
            &signer,
            "GET",
            "https",
            "examplebucket.s3.amazonaws.com",
            "/test.txt",
            Duration::from_secs(86_400),
        );
        assert_eq!(url, expected);
        // Any other input gives another URL.
        let other = presigned_url(
            &signer,
            "PUT",
            "https",
            "examplebucket.s3.amazonaws.com",
            "/test.txt",
            Duration::from_secs(86_400),
        );
        assert_ne!(other, expected);
    }

    /// A signer for tests whose output is checked for shape, not for its signature.
    fn test_signer(key: &SigningKey) -> Signer<'_> {
        Signer {
            access_key: "AK",
            signing_key: key,
            region: "us-east-1",
            amz_date: "20261123T000000Z",
        }
    }

    #[test]
    fn keys_are_encoded_in_the_path_with_slashes_kept() {
        let key = derive_signing_key("s", "20261123", "us-east-1", "s3");
        let signer = test_signer(&key);
        let url = presigned_url(
            &signer,
            "GET",
            "http",
            "127.0.0.1:8080",
            "/b/dir/a b+c.txt",
            Duration::from_secs(60),
        );
        assert!(
            url.starts_with("http://127.0.0.1:8080/b/dir/a%20b%2Bc.txt?X-Amz-Algorithm="),
            "{url}"
        );
    }

    #[test]
    fn the_form_page_carries_every_signed_field_escaped_and_the_file_last() {
        let key = derive_signing_key("s", "20261123", "us-east-1", "s3");
        let signer = test_signer(&key);
        let spec = PostFormSpec {
            endpoint: "http://127.0.0.1:8080/",
            bucket: "photos",
            key_prefix: "uploads/\"x\"/",
            max_size: Some(1024),
            redirect: Some("http://127.0.0.1:9/done?a=1&b=2"),
            expiration: "2026-11-23T13:00:00Z",
        };
        let policy: serde_json::Value =
            serde_json::from_str(&post_policy_json(&signer, &spec)).unwrap();
        assert_eq!(policy["expiration"], "2026-11-23T13:00:00Z");
        let conditions = policy["conditions"].as_array().unwrap();
        assert!(conditions.contains(&serde_json::json!(["content-length-range", 0, 1024])));
        assert!(conditions.contains(&serde_json::json!([
            "starts-with",
            "$key",
            "uploads/\"x\"/"
        ])));
        let html = post_form_html(&signer, &spec);
        assert!(html.contains("action=\"http://127.0.0.1:8080/photos\""));
        assert!(html.contains("value=\"uploads/&quot;x&quot;/${filename}\""));
        assert!(html.contains("value=\"http://127.0.0.1:9/done?a=1&amp;b=2\""));
        let file_at = html.find("type=\"file\"").unwrap();
        assert!(html.rfind("type=\"hidden\"").unwrap() < file_at);
    }
}
