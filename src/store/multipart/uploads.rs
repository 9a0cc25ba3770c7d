//! ListMultipartUploads' page, from the records of a bucket's uploads (pure): S3's order
//! (key, then initiation time), `prefix`, `delimiter`, `key-marker` / `upload-id-marker`,
//! `max-uploads`.

use super::{ListUploadsParams, UploadId, UploadRecord};

/// One upload as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUpload {
    /// Its id.
    pub id: UploadId,
    /// Its record.
    pub record: UploadRecord,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UploadsPage {
    /// The uploads, in order.
    pub uploads: Vec<ListedUpload>,
    /// Common prefixes (with a delimiter), in order.
    pub common_prefixes: Vec<String>,
    /// Whether more follow.
    pub truncated: bool,
    /// Where the next page starts (key, upload id), when truncated.
    pub next: Option<(String, String)>,
}

/// Select the page `params` asks for.
pub fn uploads_page(mut all: Vec<ListedUpload>, params: &ListUploadsParams) -> UploadsPage {
    all.retain(|u| u.record.key.starts_with(&params.prefix));
    all.sort_by(|a, b| {
        (a.record.key.as_bytes(), a.record.initiated, &a.id).cmp(&(
            b.record.key.as_bytes(),
            b.record.initiated,
            &b.id,
        ))
    });
    let after_marker = |u: &ListedUpload| -> bool {
        let marker = params.key_marker.as_str();
        if marker.is_empty() {
            return true;
        }
        match u.record.key.as_str().cmp(marker) {
            std::cmp::Ordering::Greater => true,
            // With an upload-id-marker, the uploads of the marker key after that id; without,
            // none of the marker key's.
            std::cmp::Ordering::Equal => {
                !params.upload_id_marker.is_empty()
                    && u.id.as_str() > params.upload_id_marker.as_str()
            }
            std::cmp::Ordering::Less => false,
        }
    };
    let mut page = UploadsPage::default();
    let mut count = 0;
    for upload in all.into_iter().filter(after_marker) {
        let common = common_prefix(&upload.record.key, params);
        if let Some(prefix) = &common {
            if page.common_prefixes.last() == Some(prefix) {
                continue;
            }
        }
        if count == params.max_uploads {
            page.truncated = true;
            break;
        }
        count += 1;
        page.next = Some((upload.record.key.clone(), upload.id.as_str().to_string()));
        match common {
            Some(prefix) => page.common_prefixes.push(prefix),
            None => page.uploads.push(upload),
        }
    }
    if !page.truncated {
        page.next = None;
    }
    page
}

/// The common prefix a key rolls up into: the prefix and what follows it up to and with
/// the first delimiter, if there is one.
fn common_prefix(key: &str, params: &ListUploadsParams) -> Option<String> {
    if params.delimiter.is_empty() {
        return None;
    }
    let rest = &key[params.prefix.len()..];
    rest.find(&params.delimiter).map(|at| {
        let end = params.prefix.len() + at + params.delimiter.len();
        key[..end].to_string()
    })
}
