//! Which query parameters a SigV2 signature covers: the sub-resources of the
//! CanonicalizedResource, and why every other parameter is left out.
//!
//! SigV2 signs the path but, of the query, only the sub-resources. S3 picks the operation from
//! the method, the path and the *names* in the query: `GET /b/k` reads the object,
//! `GET /b/k?retention` its retention, `DELETE /b` deletes the bucket, `DELETE /b?cors` its CORS
//! rules. A name that selects an operation but is not signed lets whoever holds a signed request
//! (a presigned URL shared with someone, above all) append it and run another operation, with the
//! same method on the same path, under the same signature.
//!
//! The rule: **every name that S3, or a common S3-compatible server, treats as selecting an
//! operation, a version, an upload or a part, or as overriding the response, is a signed
//! sub-resource** ([`is_signed`]). Present in the query, it is part of the string to sign; a
//! client that sent it without signing it gets `SignatureDoesNotMatch`, whose `StringToSign`
//! shows the `?name` it should have signed. That is what S3 itself does: it put `?object-lock` in
//! the string to sign before botocore did (boto/botocore#2468, `SignatureDoesNotMatch` from S3
//! for `get_object_lock_configuration` with `signature_version='s3'`), and MinIO's and Ceph RGW's
//! SigV2 verifiers sign `retention`, `legal-hold`, `encryption`, `publicAccessBlock` … although
//! botocore does not. Signing is the one rule with no second list to keep in step: the name is
//! either covered by the signature or the request fails, and a client that signs more of these
//! names (one written against MinIO, whose verifier wants `retention` and `legal-hold` signed)
//! verifies here as it does there.
//!
//! What is *not* signed, each group for its reason:
//!
//! - [`LISTING_PARAMETERS`] choose which entries of a listing come back (or which page), never
//!   another operation. S3 has never signed them in SigV2 and no client does, so signing them
//!   would refuse every listing with a prefix. Whoever holds a signed listing can narrow or page
//!   it, as at S3; the proxy's scopes are checked on the prefix as sent, not on the signature.
//! - [`LIST_TYPE`] (`list-type=2`) picks ListObjectsV2 over ListObjects: the same keys under the
//!   same permission, another XML shape. botocore sends it unsigned (`aws s3 ls`,
//!   `list_objects_v2` with `signature_version='s3'`) and S3 accepts that; signing it would
//!   refuse those listings and protect nothing.
//! - [`CONFIGURATION_IDS`] (`id`, `annotationName`) name which configuration of a signed
//!   sub-resource (`?analytics&id=…`) a request is about; they never change the sub-resource nor
//!   the method. S3 does not sign them and botocore does not either.
//! - [`OPERATION_HINT`] (`x-id=GetObject`), added by the newer SDKs, only repeats the operation;
//!   S3 dispatches without it. (s3s reads it on `GET /` alone, to tell ListDirectoryBuckets from
//!   ListBuckets: both list the buckets.)
//! - The presigned `AWSAccessKeyId`, `Expires` and `Signature`, and `x-amz-*` parameters, which a
//!   presigned string to sign covers as headers ([`super::canonical::canonicalized_amz_headers`]).
//! - Any other name is no S3 name; it goes to the backend as sent. A backend with selectors of
//!   its own beyond the ones below needs them added to [`OPERATION_SELECTORS`].

/// The sub-resources SigV2 clients sign: the S3 page's list ("Signing and authenticating REST
/// requests": acl, delete, lifecycle, location, logging, notification, partNumber, policy,
/// requestPayment, tagging, torrent, uploadId, uploads, versionId, versioning, versions, website,
/// cors, restore and the six `response-*` overrides), and botocore's
/// `HmacV1Auth.QSAOfInterest`, which adds accelerate, analytics, defaultObjectAcl, inventory,
/// metrics, object-lock, replication, select, select-type and storageClass. s3cmd signs a subset.
/// Their values are signed too (`?versionId=…`, `?partNumber=…`, `?response-content-type=…`).
pub const CLIENT_SIGNED: [&str; 35] = [
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// Names that select an S3 operation and that botocore does not sign: every query literal of the
/// `requestUri`s of botocore's S3 model (`botocore/data/s3/*/service-2.json`, checked by
/// `tests/sigv2_subresources.rs` against the installed botocore) that [`CLIENT_SIGNED`] lacks,
/// except [`LIST_TYPE`] and [`OPERATION_HINT`]; the extra names MinIO's SigV2 verifier signs
/// (encryption, legal-hold, retention) and Ceph RGW's (encryption, policyStatus,
/// publicAccessBlock); and `append`, RGW's and Alibaba OSS's AppendObject
/// (`PUT /b/k?append&position=…`, which would turn a signed upload into an append).
pub const OPERATION_SELECTORS: [&str; 20] = [
    "abac",                    // Get/PutBucketAbac
    "annotation",              // Get/Put/Delete/ListObjectAnnotation(s)
    "append",                  // AppendObject (Ceph RGW, Alibaba OSS)
    "attributes",              // GetObjectAttributes
    "default-storage-class",   // Get/PutBucketDefaultStorageClass
    "encryption",              // Get/Put/DeleteBucketEncryption
    "intelligent-tiering",     // …BucketIntelligentTieringConfiguration(s)
    "legal-hold",              // Get/PutObjectLegalHold
    "metadataAnnotationTable", // UpdateBucketMetadataAnnotationTableConfiguration
    "metadataConfiguration",   // Create/Get/DeleteBucketMetadataConfiguration
    "metadataInventoryTable",  // UpdateBucketMetadataInventoryTableConfiguration
    "metadataJournalTable",    // UpdateBucketMetadataJournalTableConfiguration
    "metadataTable",           // Create/Get/DeleteBucketMetadataTableConfiguration
    "ownershipControls",       // Get/Put/DeleteBucketOwnershipControls
    "part",                    // GetPart
    "policyStatus",            // GetBucketPolicyStatus
    "publicAccessBlock",       // Get/Put/DeletePublicAccessBlock
    "renameObject",            // RenameObject
    "retention",               // Get/PutObjectRetention
    "session",                 // CreateSession
];

/// Listing and paging parameters: which entries, never which operation. Not signed (see the
/// module documentation).
pub const LISTING_PARAMETERS: [&str; 19] = [
    "annotation-prefix",
    "bucket-region",
    "continuation-token",
    "delimiter",
    "encoding-type",
    "fetch-owner",
    "key-marker",
    "marker",
    "max-annotation-results",
    "max-buckets",
    "max-directory-buckets",
    "max-keys",
    "max-parts",
    "max-uploads",
    "part-number-marker",
    "prefix",
    "start-after",
    "upload-id-marker",
    "version-id-marker",
];

/// `list-type=2`: ListObjectsV2 instead of ListObjects. Not signed (see the module documentation).
pub const LIST_TYPE: &str = "list-type";

/// Which configuration or annotation of a signed sub-resource. Not signed (see the module
/// documentation).
pub const CONFIGURATION_IDS: [&str; 2] = ["annotationName", "id"];

/// The SDKs' operation hint. Not signed (see the module documentation).
pub const OPERATION_HINT: &str = "x-id";

/// Whether the query parameter `name` (percent-decoded) is a signed sub-resource: one of
/// [`CLIENT_SIGNED`] or [`OPERATION_SELECTORS`], compared without regard to ASCII case.
///
/// S3 and the S3 servers we know match these names exactly, and no client sends them in another
/// case; a name in another case (`?Retention`) is signed as it was sent, so a backend that
/// matched names without regard to case cannot receive an unsigned selector either. A client
/// that never sends such a name loses nothing; one that does must sign it.
pub fn is_signed(name: &str) -> bool {
    CLIENT_SIGNED
        .iter()
        .chain(OPERATION_SELECTORS.iter())
        .any(|signed| signed.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_sorted_and_unique(list: &[&str]) {
        let mut sorted = list.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, list);
    }

    #[test]
    fn lists_are_sorted_unique_and_disjoint() {
        assert_sorted_and_unique(&CLIENT_SIGNED);
        assert_sorted_and_unique(&OPERATION_SELECTORS);
        assert_sorted_and_unique(&LISTING_PARAMETERS);
        assert_sorted_and_unique(&CONFIGURATION_IDS);
        let unsigned = LISTING_PARAMETERS
            .iter()
            .chain(CONFIGURATION_IDS.iter())
            .chain([LIST_TYPE, OPERATION_HINT].iter());
        for name in unsigned {
            assert!(!is_signed(name), "{name} is meant to stay unsigned");
        }
        for name in CLIENT_SIGNED {
            assert!(!OPERATION_SELECTORS.contains(&name), "{name} twice");
        }
    }

    #[test]
    fn every_selector_is_signed_in_any_case() {
        for name in CLIENT_SIGNED.iter().chain(OPERATION_SELECTORS.iter()) {
            assert!(is_signed(name), "{name}");
            assert!(is_signed(&name.to_ascii_uppercase()), "{name} upper-cased");
        }
        for name in [
            "retention",
            "Retention",
            "LEGAL-HOLD",
            "attributes",
            "renameObject",
        ] {
            assert!(is_signed(name), "{name}");
        }
        for name in [
            "prefix",
            "list-type",
            "x-id",
            "id",
            "foo",
            "",
            "retention ",
            "acl=",
        ] {
            assert!(!is_signed(name), "{name}");
        }
    }
}
