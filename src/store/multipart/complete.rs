//! CompleteMultipartUpload's document, read strictly, and checked against the staged parts
//! with S3's rules: ascending part numbers (`InvalidPartOrder`), each part uploaded with the
//! ETag named (`InvalidPart`), each but the last at least 5 MiB (`EntityTooSmall`).

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{StagedPart, MAX_PART_NUMBER, MIN_PART_SIZE};
use crate::body::md5::Md5;
use crate::error::{S3Error, S3ErrorCode};

/// One `Part` of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedPart {
    /// Its `PartNumber`.
    pub number: u32,
    /// Its `ETag`, without quotes, lowercase.
    pub etag: String,
}

/// What Complete writes: the parts in order, the object's length and its ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The staged files to concatenate, in order.
    pub parts: Vec<StagedPart>,
    /// The sum of their sizes.
    pub length: u64,
    /// S3's multipart ETag, quoted: the MD5 of the parts' binary MD5s, `-` and their count.
    pub etag: String,
}

fn malformed(why: &str) -> S3Error {
    S3Error::new(
        S3ErrorCode::MalformedXML,
        format!(
            "The XML you provided was not well-formed or did not validate against our \
             published schema: {why}."
        ),
    )
}

/// Where each element may stand. The checksum elements S3 accepts are read and ignored: the
/// store keeps no checksums, and each part's was verified when it was uploaded.
fn allowed_parent(name: &str) -> Option<&'static str> {
    match name {
        "CompleteMultipartUpload" => Some(""),
        "Part" => Some("CompleteMultipartUpload"),
        "PartNumber" | "ETag" | "ChecksumCRC32" | "ChecksumCRC32C" | "ChecksumCRC64NVME"
        | "ChecksumSHA1" | "ChecksumSHA256" => Some("Part"),
        _ => None,
    }
}

/// A part being read.
#[derive(Default)]
struct PartFields {
    number: Option<String>,
    etag: Option<String>,
}

/// The parts a CompleteMultipartUpload document lists, in the document's order: 1 to
/// 10,000 `Part`s, each with one `PartNumber` and one `ETag`.
pub fn parse_complete(body: &[u8]) -> Result<Vec<RequestedPart>, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
    let mut reader = Reader::from_str(text);
    let mut parents: Vec<String> = Vec::new();
    let mut parts = Vec::new();
    let mut part = PartFields::default();
    let mut field: Option<String> = None;
    let mut seen_root = false;
    loop {
        match reader.read_event().map_err(|e| malformed(&e.to_string()))? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let parent = parents.last().map(String::as_str).unwrap_or("");
                if allowed_parent(&name) != Some(parent) {
                    return Err(malformed(&format!("unexpected element {name}")));
                }
                match name.as_str() {
                    "CompleteMultipartUpload" if seen_root => {
                        return Err(malformed("a second CompleteMultipartUpload"))
                    }
                    "CompleteMultipartUpload" => seen_root = true,
                    "Part" => part = PartFields::default(),
                    _ => field = Some(String::new()),
                }
                parents.push(name);
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                return Err(malformed(&format!("an empty {name}")));
            }
            Event::End(_) => match parents.pop().as_deref() {
                Some("Part") => parts.push(finish_part(std::mem::take(&mut part))?),
                Some(name @ ("PartNumber" | "ETag")) => {
                    let slot = if name == "ETag" {
                        &mut part.etag
                    } else {
                        &mut part.number
                    };
                    if slot.replace(field.take().unwrap_or_default()).is_some() {
                        return Err(malformed(&format!("a Part with two {name}s")));
                    }
                }
                _ => field = None,
            },
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| malformed(&e.to_string()))?;
                match field.as_mut() {
                    Some(f) => f.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(malformed("text outside an element")),
                }
            }
            Event::CData(_) => return Err(malformed("CDATA is not expected here")),
            Event::Decl(_) | Event::Comment(_) => {}
            Event::DocType(_) | Event::PI(_) => {
                return Err(malformed("no DOCTYPE or processing instruction is allowed"))
            }
            Event::Eof => break,
        }
        if parts.len() > MAX_PART_NUMBER as usize {
            return Err(malformed("more than 10,000 parts"));
        }
    }
    if !seen_root || !parents.is_empty() {
        return Err(malformed("the document is incomplete"));
    }
    if parts.is_empty() {
        return Err(malformed("no Part is listed"));
    }
    Ok(parts)
}

fn finish_part(part: PartFields) -> Result<RequestedPart, S3Error> {
    let (Some(number), Some(etag)) = (part.number, part.etag) else {
        return Err(malformed("a Part needs a PartNumber and an ETag"));
    };
    let number: u32 = number
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| malformed("a PartNumber is not between 1 and 10,000"))?;
    let etag = etag.trim();
    let etag = etag
        .strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(etag)
        .to_ascii_lowercase();
    Ok(RequestedPart { number, etag })
}

/// Check the requested parts against the staged ones (all files, a number possibly staged
/// twice) and say what to write.
pub fn plan_completion(
    requested: &[RequestedPart],
    staged: &[StagedPart],
) -> Result<Completion, S3Error> {
    let ascending = requested.windows(2).all(|w| w[0].number < w[1].number);
    if !ascending {
        return Err(S3Error::new(
            S3ErrorCode::InvalidPartOrder,
            "The list of parts was not in ascending order. The parts list must be specified \
             in order by part number.",
        ));
    }
    let mut parts = Vec::with_capacity(requested.len());
    for want in requested {
        // The newest upload of this number with this MD5.
        let found = staged
            .iter()
            .filter(|p| p.number == want.number && p.md5 == want.etag)
            .max_by(|a, b| a.mtime.cmp(&b.mtime).then(a.file.cmp(&b.file)));
        let Some(found) = found else {
            return Err(S3Error::new(
                S3ErrorCode::InvalidPart,
                format!(
                    "One or more of the specified parts could not be found. The part may not \
                     have been uploaded, or the specified entity tag may not match the part's \
                     entity tag (part {}).",
                    want.number
                ),
            ));
        };
        parts.push(found.clone());
    }
    let last = parts.len() - 1;
    if let Some(small) = parts[..last].iter().find(|p| p.size < MIN_PART_SIZE) {
        return Err(S3Error::new(
            S3ErrorCode::EntityTooSmall,
            format!(
                "Your proposed upload is smaller than the minimum allowed size: part {} is \
                 {} bytes, every part but the last must be at least 5 MiB.",
                small.number, small.size
            ),
        ));
    }
    let mut digests = Md5::new();
    for part in &parts {
        // The names were checked to hold 32 hex digits (`parse_part_name`).
        let binary = hex::decode(&part.md5).map_err(|_| S3Error::internal())?;
        digests.update(&binary);
    }
    let etag = format!("\"{}-{}\"", hex::encode(digests.finalize()), parts.len());
    Ok(Completion {
        length: parts.iter().map(|p| p.size).sum(),
        parts,
        etag,
    })
}
