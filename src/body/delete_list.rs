//! The body of DeleteObjects (`POST /bucket?delete`): an XML list of keys, each of which the
//! scopes must allow before the backend sees any of it. The body is small and bounded
//! (`limits.max_delete_body`), so it is held back whole behind the usual payload check, read
//! the one strict way written here, and released only once every key was authorized by the
//! proxy. A body the backend could read as other keys (a DOCTYPE with its own entities, two
//! `Key`s in one `Object`, unknown elements) is refused, not guessed at.

use bytes::Bytes;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::plan::BodyCheck;
use super::BodyVerifier;
use crate::error::{S3Error, S3ErrorCode};

/// S3's most keys in one DeleteObjects request.
pub const MAX_DELETE_KEYS: usize = 1000;

/// A DeleteObjects body: checked by `inner` (digest, Content-MD5, checksums), held whole, its
/// keys read at the end.
pub struct DeleteListCheck {
    inner: Box<BodyCheck>,
    held: Vec<Bytes>,
    held_len: usize,
    limit: usize,
    keys: Option<Vec<String>>,
}

impl DeleteListCheck {
    /// Hold the body that `inner` verifies, at most `limit` bytes.
    pub fn new(inner: BodyCheck, limit: usize) -> DeleteListCheck {
        DeleteListCheck {
            inner: Box::new(inner),
            held: Vec::new(),
            held_len: 0,
            limit,
            keys: None,
        }
    }

    /// The keys the body names, once it has been finished.
    pub fn keys(&self) -> Option<&[String]> {
        self.keys.as_deref()
    }

    fn hold(&mut self, bytes: Bytes) -> Result<(), S3Error> {
        self.held_len += bytes.len();
        if self.held_len > self.limit {
            return Err(S3Error::new(
                S3ErrorCode::MalformedXML,
                format!(
                    "The DeleteObjects body is longer than {} bytes (limits.max_delete_body).",
                    self.limit
                ),
            ));
        }
        self.held.push(bytes);
        Ok(())
    }
}

impl BodyVerifier for DeleteListCheck {
    fn feed(&mut self, input: Bytes) -> Result<Bytes, S3Error> {
        let released = self.inner.feed(input)?;
        self.hold(released)?;
        Ok(Bytes::new())
    }

    fn finish(&mut self) -> Result<Bytes, S3Error> {
        let tail = self.inner.finish()?;
        self.hold(tail)?;
        let body = super::join(&mut self.held);
        self.keys = Some(parse_delete_keys(&body)?);
        Ok(body)
    }

    fn reset(&mut self) {
        self.inner.reset();
        self.held.clear();
        self.held_len = 0;
        self.keys = None;
    }

    fn md5_hex(&self) -> Option<String> {
        self.inner.md5_hex()
    }
}

fn malformed(why: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedXML,
        format!("The XML you provided was not well-formed or did not validate against our published schema: {why}."),
    )
}

/// Where each element may stand: `Delete` at the root, `Object` and `Quiet` in it, an
/// object's fields in `Object`.
fn allowed_parent(name: &str) -> Option<&'static str> {
    match name {
        "Delete" => Some(""),
        "Object" | "Quiet" => Some("Delete"),
        "Key" | "VersionId" | "ETag" | "LastModifiedTime" | "Size" => Some("Object"),
        _ => None,
    }
}

fn element_name(e: &BytesStart<'_>, parents: &[String]) -> Result<String, S3Error> {
    let name = std::str::from_utf8(e.local_name().as_ref())
        .map_err(|_| malformed("an element name is not UTF-8"))?
        .to_string();
    let parent = parents.last().map(String::as_str).unwrap_or("");
    if allowed_parent(&name) != Some(parent) {
        return Err(malformed(&format!("unexpected element {name}")));
    }
    Ok(name)
}

/// The keys of a DeleteObjects document, in order: 1 to 1,000 `Object`s with exactly one
/// non-empty `Key` each.
pub fn parse_delete_keys(body: &[u8]) -> Result<Vec<String>, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    let mut parents: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    // The text of the `Key` being read, and the keys of the current `Object`.
    let mut key_text: Option<String> = None;
    let mut keys_in_object = 0;
    let mut seen_root = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(&format!("{e}")))?;
        match event {
            Event::Start(e) => {
                let name = element_name(&e, &parents)?;
                if name == "Delete" {
                    if seen_root {
                        return Err(malformed("a second Delete element"));
                    }
                    seen_root = true;
                }
                match name.as_str() {
                    "Object" => keys_in_object = 0,
                    "Key" => key_text = Some(String::new()),
                    _ => {}
                }
                parents.push(name);
            }
            Event::Empty(e) => {
                let name = element_name(&e, &parents)?;
                if matches!(name.as_str(), "Delete" | "Object" | "Key") {
                    return Err(malformed(&format!("an empty {name}")));
                }
            }
            Event::End(_) => match parents.pop().as_deref() {
                Some("Key") => {
                    let key = key_text.take().unwrap_or_default();
                    if key.is_empty() {
                        return Err(malformed("an empty Key"));
                    }
                    keys.push(key);
                    keys_in_object += 1;
                }
                Some("Object") if keys_in_object != 1 => {
                    return Err(malformed("an Object needs exactly one Key"));
                }
                _ => {}
            },
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| malformed(&format!("{e}")))?;
                match key_text.as_mut() {
                    Some(key) => key.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None if matches!(
                        parents.last().map(String::as_str),
                        Some("Delete" | "Object") | None
                    ) =>
                    {
                        return Err(malformed("text outside an element"));
                    }
                    None => {}
                }
            }
            Event::CData(c) => {
                let raw = c.into_inner();
                let text =
                    std::str::from_utf8(&raw).map_err(|_| malformed("CDATA is not UTF-8"))?;
                match key_text.as_mut() {
                    Some(key) => key.push_str(text),
                    None => return Err(malformed("CDATA outside a Key")),
                }
            }
            Event::Decl(_) | Event::Comment(_) => {}
            Event::DocType(_) | Event::PI(_) => {
                return Err(malformed("no DOCTYPE or processing instruction is allowed"));
            }
            Event::Eof => break,
        }
    }
    if !seen_root || !parents.is_empty() {
        return Err(malformed("the document is not one Delete element"));
    }
    if keys.is_empty() || keys.len() > MAX_DELETE_KEYS {
        return Err(malformed(&format!(
            "a Delete names 1 to {MAX_DELETE_KEYS} objects, not {}",
            keys.len()
        )));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(xml: &str) -> Vec<String> {
        parse_delete_keys(xml.as_bytes()).unwrap()
    }

    fn refused(xml: &str) {
        let err = parse_delete_keys(xml.as_bytes()).expect_err(xml);
        assert_eq!(err.code, S3ErrorCode::MalformedXML, "{xml}");
    }

    #[test]
    fn keys_of_the_s3_documentation_example_and_of_boto3() {
        // The DeleteObjects request body of the S3 API reference (Examples, sample request).
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<Delete>
    <Object>
         <Key>sample1.txt</Key>
    </Object>
    <Object>
       <Key>sample2.txt</Key>
       <VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId>
    </Object>
</Delete>"#;
        assert_eq!(keys(doc), ["sample1.txt", "sample2.txt"]);
        // boto3's serialisation: namespace, Quiet, no whitespace; escaped characters.
        let boto = r#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a &amp; b/&lt;c&gt; &#x20AC;</Key></Object><Object><Key> spaced </Key></Object><Quiet>true</Quiet></Delete>"#;
        assert_eq!(keys(boto), ["a & b/<c> €", " spaced "]);
        assert_eq!(
            keys("<Delete><Object><Key><![CDATA[x<y]]></Key></Object></Delete>"),
            ["x<y"]
        );
    }

    #[test]
    fn anything_a_backend_could_read_otherwise_is_refused() {
        refused("");
        refused("<Delete></Delete>");
        refused("<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>");
        refused("<Delete><Object><VersionId>1</VersionId></Object></Delete>");
        refused("<Delete><Object><Key></Key></Object></Delete>");
        refused("<Delete><Object><Key/></Object></Delete>");
        refused("<Delete><Key>a</Key></Delete>");
        refused("<Delete><Object><Key>a</Key><Other>x</Other></Object></Delete>");
        refused("<Other><Object><Key>a</Key></Object></Other>");
        refused("<Delete><Object><Key>a</Key></Object></Delete><Delete><Object><Key>b</Key></Object></Delete>");
        refused(
            r#"<!DOCTYPE d [<!ENTITY x "secret">]><Delete><Object><Key>&x;</Key></Object></Delete>"#,
        );
        refused("<Delete><Object><Key>&unknown;</Key></Object></Delete>");
        refused("<Delete><Object><Key>a</Object></Key></Delete>");
        refused("<Delete><Object><Key>a</Key></Object>");
        refused("<Delete>text<Object><Key>a</Key></Object></Delete>");
        let many: String = (0..=MAX_DELETE_KEYS)
            .map(|i| format!("<Object><Key>k{i}</Key></Object>"))
            .collect();
        refused(&format!("<Delete>{many}</Delete>"));
    }

    #[test]
    fn the_body_is_held_whole_and_bounded() {
        use crate::body::payload::{PayloadExpectations, PayloadVerifier};
        let plain = || BodyCheck::Whole(PayloadVerifier::new(PayloadExpectations::default()));
        let body = b"<Delete><Object><Key>a</Key></Object></Delete>";
        let mut check = DeleteListCheck::new(plain(), 1024);
        for piece in body.chunks(7) {
            assert!(check
                .feed(Bytes::copy_from_slice(piece))
                .unwrap()
                .is_empty());
        }
        assert_eq!(&check.finish().unwrap()[..], &body[..]);
        assert_eq!(check.keys().unwrap(), ["a"]);
        check.reset();
        assert!(check.keys().is_none());
        let mut small = DeleteListCheck::new(plain(), 10);
        let err = small
            .feed(Bytes::from_static(body))
            .and_then(|_| small.finish());
        assert_eq!(err.unwrap_err().code, S3ErrorCode::MalformedXML);
    }
}
