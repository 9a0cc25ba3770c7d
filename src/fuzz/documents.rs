//! The document targets: the POST policy and a form's signature (`post_policy`), DeleteObjects'
//! XML (`delete_list`), CompleteMultipartUpload's XML (`complete_multipart`) and nginx's JSON
//! folder index (`folder_index`). Each document that parses is written again and must read
//! back as itself.

use std::time::{Duration, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::auth::{settings, Keys};
use crate::auth::sigv2::SigV2Keys;
use crate::auth::sigv4::credential::Credential;
use crate::auth::sigv4::AuthKind;
use crate::auth::{Schemes, SigningKeys};
use crate::body::delete_list::{parse_delete_keys, DeleteList};
use crate::post::policy::{form_signature, sign_policy_v4, FormSignature, PostPolicy};
use crate::post::{verify_form, FilePart, FormField, FormPrefix};
use crate::store::multipart::complete::{parse_complete, RequestedPart};
use crate::store::{EntryKind, Index};

/// The form's clock when the input gives none: 2015-12-29T00:00:00Z, the day of the S3
/// documentation's POST example.
const DEFAULT_FORM_NOW: u64 = 1_451_347_200;

/// The `post_policy` entry point. Input: an optional `@<Unix seconds>` line (the clock), a
/// line with the bucket of the URL, then form fields as `name=value` lines up to an empty line
/// (`file=<name>` names the file), then the policy document as JSON.
///
/// The policy field is the base64 of that JSON unless a `policy=` line gives one, and the form
/// is signed by the harness with the right secret (SigV4 when it has `x-amz-credential`, SigV2
/// when it has `AWSAccessKeyId`) unless it carries its own signature, so the policy's
/// conditions are evaluated. Checked: the JSON, parsed, written again from its conditions and
/// parsed, is the same policy; a verified form is refused under another secret.
pub fn post_policy(data: &[u8]) {
    let _ = form_verifies(data);
}

/// [`post_policy`]'s work: whether the form verified under the right secret.
pub fn form_verifies(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let (head, json) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let mut now = UNIX_EPOCH + Duration::from_secs(DEFAULT_FORM_NOW);
    let mut bucket = lines.next().unwrap_or_default();
    if let Some(seconds) = bucket.strip_prefix('@') {
        let clock = seconds.trim().parse().ok().map(Duration::from_secs);
        let Some(clock) = clock.and_then(|d| UNIX_EPOCH.checked_add(d)) else {
            return false;
        };
        now = clock;
        bucket = lines.next().unwrap_or_default();
    }
    policy_round_trip(json.as_bytes());

    let mut prefix = FormPrefix {
        fields: Vec::new(),
        file: FilePart {
            filename: None,
            content_type: None,
        },
        bytes_before_file: 0,
    };
    for line in lines {
        let (name, value) = line.split_once('=').unwrap_or((line, ""));
        if name.eq_ignore_ascii_case("file") {
            prefix.file.filename = Some(value.to_owned());
        } else {
            prefix.fields.push(FormField {
                name: name.to_owned(),
                value: value.to_owned(),
            });
        }
    }
    if prefix.field("policy").is_none() {
        prefix.fields.push(field("policy", &BASE64.encode(json)));
    }
    sign_form(&mut prefix);
    let verify = |keys: Keys| {
        let settings = settings();
        let schemes = Schemes {
            settings: &settings,
            sigv2: true,
        };
        verify_form(&prefix, bucket, &keys, schemes, now)
    };
    let verified = verify(Keys::Right).is_ok();
    if verified {
        assert!(
            verify(Keys::Other).is_err(),
            "a form accepted under another secret"
        );
    }
    verified
}

fn field(name: &str, value: &str) -> FormField {
    FormField {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// Add the signature field the form's scheme needs, unless the form has one.
fn sign_form(prefix: &mut FormPrefix) {
    let Some(policy) = prefix.field("policy").map(str::to_owned) else {
        return;
    };
    match form_signature(prefix) {
        Ok(FormSignature::V4) if prefix.field("x-amz-signature").is_none() => {
            let Some(credential) = prefix.field("x-amz-credential") else {
                return;
            };
            let Ok(credential) = Credential::parse(credential, AuthKind::Presigned) else {
                return;
            };
            let scope = &credential.scope;
            let key = Keys::Right.signing_key(
                &credential.access_key,
                &scope.date,
                &scope.region,
                &scope.service,
            );
            if let Some(key) = key {
                let signature = sign_policy_v4(&key, &policy);
                prefix.fields.push(field("x-amz-signature", &signature));
            }
        }
        Ok(FormSignature::V2) if prefix.field("signature").is_none() => {
            let access_key = prefix.field("AWSAccessKeyId").unwrap_or_default();
            if let Some(mac) = Keys::Right.hmac_sha1(access_key, policy.as_bytes()) {
                prefix.fields.push(field("signature", &BASE64.encode(mac)));
            }
        }
        _ => {}
    }
}

/// A policy that parses is written again (its expiration to the second, its conditions in the
/// array form S3 quotes) and must parse to the same policy; the base64 path agrees.
fn policy_round_trip(json: &[u8]) {
    let parsed = PostPolicy::parse_json(json);
    assert_eq!(
        PostPolicy::parse_base64(&BASE64.encode(json)).ok(),
        parsed.as_ref().ok().cloned(),
        "base64 and JSON disagree"
    );
    let Ok(policy) = parsed else {
        return;
    };
    let _ = policy.content_length_range();
    let expiration = time::OffsetDateTime::from_unix_timestamp(policy.expiration_unix)
        .expect("a parsed expiration is a real date");
    let conditions: Vec<String> = policy
        .conditions
        .iter()
        .map(|c| c.to_policy_json())
        .collect();
    let written = format!(
        "{{\"expiration\": \"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z\", \"conditions\": [{}]}}",
        expiration.year(),
        u8::from(expiration.month()),
        expiration.day(),
        expiration.hour(),
        expiration.minute(),
        expiration.second(),
        conditions.join(", ")
    );
    let again = PostPolicy::parse_json(written.as_bytes());
    assert_eq!(again.ok(), Some(policy), "{written}");
}

/// The `delete_list` entry point: a DeleteObjects body. Checked: a list that parses, written
/// again, parses to itself.
pub fn delete_list(data: &[u8]) {
    let Ok(list) = parse_delete_keys(data) else {
        return;
    };
    let _ = list.keys();
    let written = write_delete_list(&list);
    assert_eq!(
        parse_delete_keys(written.as_bytes()).ok(),
        Some(list),
        "{written}"
    );
}

fn write_delete_list(list: &DeleteList) -> String {
    let mut out = String::from("<Delete>");
    if list.quiet {
        out.push_str("<Quiet>true</Quiet>");
    }
    for object in &list.objects {
        out.push_str("<Object><Key>");
        out.push_str(&xml_text(&object.key));
        out.push_str("</Key>");
        if let Some(version) = &object.version_id {
            out.push_str("<VersionId>");
            out.push_str(&xml_text(version));
            out.push_str("</VersionId>");
        }
        if object.conditional {
            out.push_str("<ETag>x</ETag>");
        }
        out.push_str("</Object>");
    }
    out.push_str("</Delete>");
    out
}

/// Text for an XML element: `&`, `<` and `>` escaped, everything else as it is.
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The `complete_multipart` entry point: a CompleteMultipartUpload body. Checked: the parts
/// that parse, written again, parse to themselves.
pub fn complete_multipart(data: &[u8]) {
    let Ok(parts) = parse_complete(data) else {
        return;
    };
    let written = write_complete(&parts);
    assert_eq!(
        parse_complete(written.as_bytes()).ok(),
        Some(parts),
        "{written}"
    );
}

fn write_complete(parts: &[RequestedPart]) -> String {
    let mut out = String::from("<CompleteMultipartUpload>");
    for part in parts {
        out.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>\"{}\"</ETag></Part>",
            part.number,
            xml_text(&part.etag)
        ));
    }
    out.push_str("</CompleteMultipartUpload>");
    out
}

/// The `folder_index` entry point: nginx's JSON index of a folder. Checked: the entries are in
/// S3's order, and written again as nginx would, read back the same.
pub fn folder_index(data: &[u8]) {
    let Ok(index) = Index::parse(data) else {
        return;
    };
    assert!(
        index
            .entries
            .windows(2)
            .all(|w| w[0].s3_order(&w[1]).is_le()),
        "entries out of S3's order"
    );
    let written: Vec<serde_json::Value> = index
        .entries
        .iter()
        .map(|entry| {
            let mtime = UNIX_EPOCH + Duration::from_secs(entry.mtime as u64);
            let kind = match entry.kind {
                EntryKind::File => "file",
                EntryKind::Folder => "directory",
            };
            let _ = entry.etag();
            serde_json::json!({
                "name": entry.name,
                "type": kind,
                "mtime": httpdate::fmt_http_date(mtime),
                "size": entry.size,
            })
        })
        .collect();
    let written = serde_json::to_vec(&written).expect("JSON values serialize");
    let again = Index::parse(&written).expect("a written index parses");
    assert_eq!(again.entries, index.entries);
}
