//! Each rule of the claims parser, with values computed outside this crate (Python's hashlib
//! and zlib, and the CRC catalogue's check values).

use super::*;

/// "123456789": CRC-32/ISO-HDLC check value 0xCBF43926, CRC-32/ISCSI 0xE3069283 (the CRC
/// catalogue), SHA-1 from Python's hashlib; each as S3 writes it (base64, big-endian).
const CHECK_CRC32_B64: &str = "y/Q5Jg==";
const CHECK_CRC32C_B64: &str = "4waSgw==";
const CHECK_SHA1_B64: &str = "98O8HYCOBHMq32eZZczDTKeuNEE=";
/// RFC 1321: MD5("abc") = 900150983cd24fb0d6963f7d28e17f72, and its base64.
const ABC_MD5_HEX: &str = "900150983cd24fb0d6963f7d28e17f72";
const ABC_MD5_B64: &str = "kAFQmDzST7DWlj99KOF/cg==";
/// RFC 1321: MD5("") in base64.
const EMPTY_MD5_B64: &str = "1B2M2Y8AsgTpgAmY7PhCfg==";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
            http::HeaderValue::from_str(value).expect("test header value"),
        );
    }
    map
}

fn head(pairs: &[(&str, &str)], query: &str) -> Result<IntegrityClaims, S3Error> {
    IntegrityClaims::from_head(&headers(pairs), query)
}

fn refused(result: Result<IntegrityClaims, S3Error>, code: S3ErrorCode, message: &str) {
    let err = result.expect_err("must be refused");
    assert_eq!(err.code, code, "{err}");
    assert_eq!(err.message, message);
}

fn crc32_claim() -> Option<ChecksumClaim> {
    Some(ChecksumClaim::Value(
        ChecksumAlgorithm::Crc32,
        0xCBF4_3926u32.to_be_bytes().to_vec(),
    ))
}

fn abc_md5() -> Option<[u8; 16]> {
    hex::decode(ABC_MD5_HEX)
        .ok()
        .and_then(|v| v.try_into().ok())
}

const MULTIPLE: &str =
    "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.";

#[test]
fn no_claims_at_all() {
    assert_eq!(head(&[], ""), Ok(IntegrityClaims::default()));
    assert_eq!(
        head(
            &[("x-amz-meta-a", "1")],
            "prefix=x-amz-checksum-crc32&uploads"
        ),
        Ok(IntegrityClaims::default())
    );
}

#[test]
fn a_header_claim_is_read_and_decoded() {
    let claims = head(
        &[
            ("Content-MD5", ABC_MD5_B64),
            ("X-Amz-Checksum-CRC32", CHECK_CRC32_B64),
        ],
        "",
    )
    .expect("valid");
    assert_eq!(claims.content_md5, abc_md5());
    assert_eq!(claims.checksum, crc32_claim());
}

#[test]
fn a_query_claim_is_read_as_its_header_is() {
    // botocore's SigV2 presigned URL: `content-md5` and `x-amz-checksum-crc32`, percent-encoded.
    let claims = head(
        &[],
        "AWSAccessKeyId=AK&content-md5=kAFQmDzST7DWlj99KOF%2Fcg%3D%3D\
         &x-amz-checksum-crc32=y%2FQ5Jg%3D%3D&Expires=1",
    )
    .expect("valid");
    assert_eq!(claims.content_md5, abc_md5());
    assert_eq!(claims.checksum, crc32_claim());
    // A SigV4 presigned URL with hoisted headers (any case), and the algorithm named too.
    let claims = head(
        &[],
        "X-Amz-Checksum-Crc32=y%2FQ5Jg%3D%3D&x-amz-sdk-checksum-algorithm=CRC32",
    )
    .expect("valid");
    assert_eq!(claims.checksum, crc32_claim());
}

#[test]
fn header_and_query_must_agree() {
    let same = head(
        &[("x-amz-checksum-crc32", CHECK_CRC32_B64)],
        "x-amz-checksum-crc32=y/Q5Jg==",
    );
    assert_eq!(same.map(|c| c.checksum), Ok(crc32_claim()));
    refused(
        head(
            &[("x-amz-checksum-crc32", CHECK_CRC32_B64)],
            "x-amz-checksum-crc32=AAAAAA%3D%3D",
        ),
        S3ErrorCode::InvalidRequest,
        "The request carries conflicting x-amz-checksum-crc32 values.",
    );
    refused(
        head(
            &[("content-md5", ABC_MD5_B64)],
            &format!("Content-MD5={EMPTY_MD5_B64}"),
        ),
        S3ErrorCode::InvalidDigest,
        "The request carries conflicting content-md5 values.",
    );
    refused(
        head(
            &[("content-md5", ABC_MD5_B64), ("content-md5", EMPTY_MD5_B64)],
            "",
        ),
        S3ErrorCode::InvalidDigest,
        "The request carries conflicting content-md5 values.",
    );
}

#[test]
fn two_algorithms_are_refused_wherever_they_come_from() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[
                ("x-amz-checksum-crc32", CHECK_CRC32_B64),
                ("x-amz-checksum-crc32c", CHECK_CRC32C_B64),
            ],
            "",
        ),
        (
            &[("x-amz-checksum-crc32", CHECK_CRC32_B64)],
            "x-amz-checksum-sha1=98O8HYCOBHMq32eZZczDTKeuNEE%3D",
        ),
        (
            &[],
            "x-amz-checksum-crc32=y%2FQ5Jg%3D%3D&x-amz-checksum-crc32c=4waSgw%3D%3D",
        ),
        // Even when one of the values is malformed: S3 counts before it decodes.
        (
            &[
                ("x-amz-checksum-crc32", "%%%"),
                ("x-amz-checksum-sha1", CHECK_SHA1_B64),
            ],
            "",
        ),
    ];
    for (pairs, query) in cases {
        refused(head(pairs, query), S3ErrorCode::InvalidRequest, MULTIPLE);
    }
    let fields = [
        ("x-amz-checksum-crc32", CHECK_CRC32_B64.as_bytes()),
        ("X-Amz-Checksum-SHA1", CHECK_SHA1_B64.as_bytes()),
    ];
    refused(
        IntegrityClaims::from_fields(fields),
        S3ErrorCode::InvalidRequest,
        MULTIPLE,
    );
}

#[test]
fn a_trailer_and_a_value_are_two_checksums() {
    refused(
        head(
            &[
                ("x-amz-trailer", "x-amz-checksum-crc32c"),
                ("x-amz-checksum-crc32", CHECK_CRC32_B64),
            ],
            "",
        ),
        S3ErrorCode::InvalidRequest,
        "Expecting a single x-amz-checksum- header",
    );
    // The same algorithm twice is still two claims.
    refused(
        head(
            &[("x-amz-trailer", "x-amz-checksum-crc32")],
            "x-amz-checksum-crc32=y%2FQ5Jg%3D%3D",
        ),
        S3ErrorCode::InvalidRequest,
        "Expecting a single x-amz-checksum- header",
    );
}

#[test]
fn a_trailer_declaration_names_one_algorithm() {
    let claims = head(&[("x-amz-trailer", " X-Amz-Checksum-CRC32C ,")], "").expect("valid");
    assert_eq!(
        claims.checksum,
        Some(ChecksumClaim::Trailer(ChecksumAlgorithm::Crc32c))
    );
    refused(
        head(
            &[(
                "x-amz-trailer",
                "x-amz-checksum-crc32,x-amz-checksum-crc32c",
            )],
            "",
        ),
        S3ErrorCode::InvalidRequest,
        MULTIPLE,
    );
    // Two x-amz-trailer fields are one list.
    refused(
        head(
            &[
                ("x-amz-trailer", "x-amz-checksum-crc32"),
                ("x-amz-trailer", "x-amz-checksum-sha1"),
            ],
            "",
        ),
        S3ErrorCode::InvalidRequest,
        MULTIPLE,
    );
    let err = head(&[("x-amz-trailer", "x-amz-checksum-md5")], "").expect_err("unknown");
    assert_eq!(err.code, S3ErrorCode::InvalidRequest);
}

#[test]
fn unknown_checksum_names_are_refused_but_not_the_names_that_carry_no_value() {
    for name in [
        "x-amz-checksum-md5",
        "x-amz-checksum-crc",
        "x-amz-checksum-",
        "x-amz-checksum-sha512",
    ] {
        refused(
            head(&[(name, CHECK_CRC32_B64)], ""),
            S3ErrorCode::InvalidRequest,
            "The algorithm type you specified in x-amz-checksum- header is invalid.",
        );
        refused(
            head(&[], &format!("{name}=AAAAAA%3D%3D")),
            S3ErrorCode::InvalidRequest,
            "The algorithm type you specified in x-amz-checksum- header is invalid.",
        );
    }
    let not_values = head(
        &[
            ("x-amz-checksum-type", "FULL_OBJECT"),
            ("x-amz-checksum-mode", "ENABLED"),
            ("x-amz-checksum-algorithm", "CRC32"),
            ("x-amz-checksum-crc32", CHECK_CRC32_B64),
        ],
        "x-amz-checksum-mode=ENABLED",
    );
    assert_eq!(not_values.map(|c| c.checksum), Ok(crc32_claim()));
}

#[test]
fn bad_values_get_the_error_of_their_header() {
    refused(
        head(&[], "x-amz-checksum-crc32=y%2FQ5Jg"),
        S3ErrorCode::InvalidRequest,
        "Value for x-amz-checksum-crc32 header is invalid.",
    );
    refused(
        head(&[], "content-md5=kAFQmDzST7DWlj99KOF"),
        S3ErrorCode::InvalidDigest,
        "The Content-MD5 you specified was not valid.",
    );
    // 15 bytes are not an MD5.
    refused(
        head(&[("content-md5", "AAAAAAAAAAAAAAAAAAAA")], ""),
        S3ErrorCode::InvalidDigest,
        "The Content-MD5 you specified was not valid.",
    );
}

#[test]
fn the_sdk_algorithm_must_name_the_checksum_sent() {
    let named = head(
        &[
            ("x-amz-sdk-checksum-algorithm", "crc32"),
            ("x-amz-checksum-crc32", CHECK_CRC32_B64),
        ],
        "",
    );
    assert_eq!(named.map(|c| c.checksum), Ok(crc32_claim()));
    let trailer = head(
        &[
            ("x-amz-sdk-checksum-algorithm", "CRC32C"),
            ("x-amz-trailer", "x-amz-checksum-crc32c"),
        ],
        "",
    );
    assert!(trailer.is_ok());
    refused(
        head(
            &[
                ("x-amz-sdk-checksum-algorithm", "SHA1"),
                ("x-amz-checksum-crc32", CHECK_CRC32_B64),
            ],
            "",
        ),
        S3ErrorCode::InvalidRequest,
        "Value for x-amz-sdk-checksum-algorithm header is invalid.",
    );
    refused(
        head(&[], "x-amz-sdk-checksum-algorithm=CRC32"),
        S3ErrorCode::InvalidRequest,
        "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or \
         x-amz-trailer headers were found.",
    );
    refused(
        head(
            &[
                ("x-amz-sdk-checksum-algorithm", "MD5"),
                ("x-amz-checksum-crc32", CHECK_CRC32_B64),
            ],
            "",
        ),
        S3ErrorCode::InvalidRequest,
        "Value for x-amz-sdk-checksum-algorithm header is invalid.",
    );
}

#[test]
fn form_fields_are_claims_too_and_go_upstream_as_headers() {
    let fields = [
        ("key", &b"uploads/a"[..]),
        ("Content-MD5", ABC_MD5_B64.as_bytes()),
        ("x-amz-checksum-crc32", b" y/Q5Jg== "),
        ("x-amz-checksum-algorithm", b"CRC32"),
    ];
    let claims = IntegrityClaims::from_fields(fields).expect("valid");
    assert_eq!(claims.content_md5, abc_md5());
    assert_eq!(claims.checksum, crc32_claim());
    assert_eq!(
        claims.upstream_headers(),
        vec![
            ("content-md5".to_string(), ABC_MD5_B64.to_string()),
            (
                "x-amz-checksum-crc32".to_string(),
                CHECK_CRC32_B64.to_string()
            ),
        ]
    );
    assert!(IntegrityClaims::default().upstream_headers().is_empty());
    let trailer = IntegrityClaims {
        content_md5: None,
        checksum: Some(ChecksumClaim::Trailer(ChecksumAlgorithm::Crc32)),
    };
    assert!(
        trailer.upstream_headers().is_empty(),
        "a trailer has no header"
    );
}

#[test]
fn a_multipart_completion_claims_only_its_content_md5() {
    let map = headers(&[
        ("content-md5", ABC_MD5_B64),
        ("x-amz-checksum-crc32", "y/Q5Jg==-3"),
        ("x-amz-checksum-sha1", CHECK_SHA1_B64),
        ("x-amz-sdk-checksum-algorithm", "CRC32C"),
    ]);
    let claims = IntegrityClaims::of_multipart_completion(&map, "uploadId=u");
    assert_eq!(
        claims,
        Ok(IntegrityClaims {
            content_md5: abc_md5(),
            checksum: None,
        })
    );
    // The same head on any other request is refused: two algorithms.
    refused(
        IntegrityClaims::from_head(&map, ""),
        S3ErrorCode::InvalidRequest,
        MULTIPLE,
    );
}
