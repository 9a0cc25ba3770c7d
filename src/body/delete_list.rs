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
            return Err(too_long(self.limit));
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
        self.keys = Some(parse_delete_keys(&body)?.keys());
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

/// The refusal of a DeleteObjects body longer than `limit` (`limits.max_delete_body`).
pub fn too_long(limit: usize) -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedXML,
        format!("The DeleteObjects body is longer than {limit} bytes (limits.max_delete_body)."),
    )
}

fn malformed(why: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedXML,
        format!("The XML you provided was not well-formed or did not validate against our published schema: {why}."),
    )
}

/// A DeleteObjects document as read: what to delete, and how to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteList {
    /// The objects, in the document's order.
    pub objects: Vec<ObjectToDelete>,
    /// `<Quiet>true</Quiet>`: the answer lists only the keys that could not be deleted.
    pub quiet: bool,
}

impl DeleteList {
    /// The keys, in order (the scopes must allow a write of each).
    pub fn keys(&self) -> Vec<String> {
        self.objects.iter().map(|o| o.key.clone()).collect()
    }
}

/// One `Object` of a DeleteObjects document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectToDelete {
    /// `Key`.
    pub key: String,
    /// `VersionId`: a version of the object rather than the object itself.
    pub version_id: Option<String>,
    /// An `ETag`, `LastModifiedTime` or `Size` condition: delete only if the object matches.
    pub conditional: bool,
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

/// The document read so far.
#[derive(Default)]
struct Reading {
    parents: Vec<String>,
    objects: Vec<ObjectToDelete>,
    /// The text of the `Key`, `VersionId` or `Quiet` being read.
    text: Option<String>,
    /// The `Object` being read: its keys, its version ids, whether it has a condition.
    keys: Vec<String>,
    version_ids: Vec<String>,
    conditional: bool,
    quiet: Option<bool>,
    seen_root: bool,
}

impl Reading {
    fn start(&mut self, e: &BytesStart<'_>) -> Result<(), S3Error> {
        let name = element_name(e, &self.parents)?;
        match name.as_str() {
            "Delete" if self.seen_root => return Err(malformed("a second Delete element")),
            "Delete" => self.seen_root = true,
            "Object" => {
                self.keys.clear();
                self.version_ids.clear();
                self.conditional = false;
            }
            "Key" | "VersionId" | "Quiet" => self.text = Some(String::new()),
            _ => self.conditional = true,
        }
        self.parents.push(name);
        Ok(())
    }

    fn empty(&mut self, e: &BytesStart<'_>) -> Result<(), S3Error> {
        let name = element_name(e, &self.parents)?;
        match name.as_str() {
            "Delete" | "Object" | "Key" | "VersionId" | "Quiet" => {
                Err(malformed(&format!("an empty {name}")))
            }
            _ => {
                self.conditional = true;
                Ok(())
            }
        }
    }

    fn end(&mut self) -> Result<(), S3Error> {
        let name = self.parents.pop().unwrap_or_default();
        let text = self.text.take();
        match (name.as_str(), text) {
            ("Key", Some(key)) if key.is_empty() => Err(malformed("an empty Key")),
            ("Key", Some(key)) => {
                self.keys.push(key);
                Ok(())
            }
            ("VersionId", Some(id)) => {
                self.version_ids.push(id);
                Ok(())
            }
            ("Quiet", Some(_)) if self.quiet.is_some() => Err(malformed("a second Quiet")),
            ("Quiet", Some(value)) => {
                let value = value.trim();
                self.quiet = Some(match () {
                    _ if value.eq_ignore_ascii_case("true") => true,
                    _ if value.eq_ignore_ascii_case("false") => false,
                    _ => return Err(malformed("Quiet is true or false")),
                });
                Ok(())
            }
            ("Object", _) if self.keys.len() != 1 => {
                Err(malformed("an Object needs exactly one Key"))
            }
            ("Object", _) if self.version_ids.len() > 1 => {
                Err(malformed("an Object has at most one VersionId"))
            }
            ("Object", _) => {
                self.objects.push(ObjectToDelete {
                    key: self.keys.pop().unwrap_or_default(),
                    version_id: self.version_ids.pop(),
                    conditional: self.conditional,
                });
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn text(&mut self, text: &str) -> Result<(), S3Error> {
        match self.text.as_mut() {
            Some(t) => t.push_str(text),
            None if text.trim().is_empty() => {}
            None if matches!(
                self.parents.last().map(String::as_str),
                Some("Delete" | "Object") | None
            ) =>
            {
                return Err(malformed("text outside an element"));
            }
            None => {}
        }
        Ok(())
    }

    fn cdata(&mut self, text: &str) -> Result<(), S3Error> {
        match (self.parents.last().map(String::as_str), self.text.as_mut()) {
            (Some("Key"), Some(key)) => {
                key.push_str(text);
                Ok(())
            }
            _ => Err(malformed("CDATA outside a Key")),
        }
    }
}

/// A DeleteObjects document: 1 to 1,000 `Object`s with exactly one non-empty `Key` each (and at
/// most one `VersionId`), and at most one `Quiet` (`true` or `false`).
pub fn parse_delete_keys(body: &[u8]) -> Result<DeleteList, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    let mut reading = Reading::default();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| malformed(&format!("{e}")))?;
        match event {
            Event::Start(e) => reading.start(&e)?,
            Event::Empty(e) => reading.empty(&e)?,
            Event::End(_) => reading.end()?,
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| malformed(&format!("{e}")))?;
                reading.text(&text)?;
            }
            Event::CData(c) => {
                let raw = c.into_inner();
                let text =
                    std::str::from_utf8(&raw).map_err(|_| malformed("CDATA is not UTF-8"))?;
                reading.cdata(text)?;
            }
            Event::Decl(_) | Event::Comment(_) => {}
            Event::DocType(_) | Event::PI(_) => {
                return Err(malformed("no DOCTYPE or processing instruction is allowed"));
            }
            Event::Eof => break,
        }
    }
    if !reading.seen_root || !reading.parents.is_empty() {
        return Err(malformed("the document is not one Delete element"));
    }
    let objects = reading.objects;
    if objects.is_empty() || objects.len() > MAX_DELETE_KEYS {
        return Err(malformed(&format!(
            "a Delete names 1 to {MAX_DELETE_KEYS} objects, not {}",
            objects.len()
        )));
    }
    Ok(DeleteList {
        objects,
        quiet: reading.quiet.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(xml: &str) -> Vec<String> {
        parse_delete_keys(xml.as_bytes()).unwrap().keys()
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
    fn quiet_version_ids_and_conditions_are_read() {
        let doc = "<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>v1</VersionId>\
                   </Object><Object><Key>b</Key><ETag>\"x\"</ETag></Object>\
                   <Object><Key>c</Key><Size>3</Size></Object></Delete>";
        let list = parse_delete_keys(doc.as_bytes()).unwrap();
        assert!(list.quiet);
        let summary: Vec<(&str, Option<&str>, bool)> = list
            .objects
            .iter()
            .map(|o| (o.key.as_str(), o.version_id.as_deref(), o.conditional))
            .collect();
        assert_eq!(
            summary,
            [
                ("a", Some("v1"), false),
                ("b", None, true),
                ("c", None, true)
            ]
        );
        for (quiet, expected) in [("false", false), (" TRUE ", true), ("False", false)] {
            let doc =
                format!("<Delete><Object><Key>a</Key></Object><Quiet>{quiet}</Quiet></Delete>");
            assert_eq!(parse_delete_keys(doc.as_bytes()).unwrap().quiet, expected);
        }
        let plain = parse_delete_keys(b"<Delete><Object><Key>a</Key></Object></Delete>").unwrap();
        assert!(!plain.quiet);
    }

    #[test]
    fn a_quiet_or_version_a_reader_could_take_two_ways_is_refused() {
        refused("<Delete><Quiet>yes</Quiet><Object><Key>a</Key></Object></Delete>");
        refused("<Delete><Quiet/><Object><Key>a</Key></Object></Delete>");
        refused(
            "<Delete><Quiet>true</Quiet><Quiet>false</Quiet><Object><Key>a</Key></Object></Delete>",
        );
        refused("<Delete><Object><Key>a</Key><VersionId>1</VersionId><VersionId>2</VersionId></Object></Delete>");
        refused("<Delete><Object><Key>a</Key><VersionId/></Object></Delete>");
        refused(
            "<Delete><Object><Key>a</Key><VersionId><![CDATA[1]]></VersionId></Object></Delete>",
        );
        refused("<Delete><Quiet><Object><Key>a</Key></Object></Quiet></Delete>");
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
