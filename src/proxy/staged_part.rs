//! UploadPart in front of a plain store: the part goes to the backend like any upload, through
//! the same body verifiers, but under a name in its upload's staging folder
//! (`store::multipart`), and is renamed to record its MD5 once the backend stored it whole.

use crate::error::{S3Error, S3ErrorCode};
use crate::request::upstream_path;
use crate::store::multipart::run::load_upload;
use crate::store::multipart::{
    incoming_name, no_such_upload, part_name, part_nonce, upload_folder, UploadId,
};
use crate::store::Store;

/// Where one part goes on the store.
#[derive(Debug, Clone)]
pub struct StagedPart {
    bucket: String,
    key: String,
    upload_id: UploadId,
    folder: String,
    part_number: u32,
    nonce: String,
}

impl StagedPart {
    /// Check that `upload_id` is an upload of this bucket and key (else `NoSuchUpload`,
    /// before any of the body is read), and name the part's files.
    pub async fn prepare(
        store: &dyn Store,
        bucket: &str,
        key: &str,
        upload_id: &UploadId,
        part_number: u32,
    ) -> Result<StagedPart, S3Error> {
        load_upload(store, bucket, key, upload_id).await?;
        Ok(StagedPart {
            bucket: bucket.to_string(),
            key: key.to_string(),
            upload_id: upload_id.clone(),
            folder: upload_folder(bucket, upload_id),
            part_number,
            nonce: part_nonce()?,
        })
    }

    fn incoming(&self) -> String {
        format!(
            "{}{}",
            self.folder,
            incoming_name(self.part_number, &self.nonce)
        )
    }

    /// The backend path the part is PUT to.
    pub fn upstream_path(&self) -> String {
        let incoming = self.incoming();
        let (first, rest) = incoming.split_once('/').unwrap_or((&incoming, ""));
        upstream_path(first, rest)
    }

    /// Give the stored part the name that records its MD5 (lowercase hex).
    pub async fn commit(&self, store: &dyn Store, md5: &str) -> Result<(), S3Error> {
        let done = format!(
            "{}{}",
            self.folder,
            part_name(self.part_number, md5, &self.nonce)
        );
        let moved = store.move_file(&self.incoming(), &done).await?;
        // An Abort (or expiry) that removed the upload while the part was arriving: the PUT
        // may have made the folder again, without its record. Remove what it left.
        match load_upload(store, &self.bucket, &self.key, &self.upload_id).await {
            Ok(_) if moved => Ok(()),
            Ok(_) => Err(no_such_upload()),
            Err(err) if err.code == S3ErrorCode::NoSuchUpload => {
                store.delete_folder(&self.folder).await?;
                Err(err)
            }
            Err(err) => Err(err),
        }
    }
}
