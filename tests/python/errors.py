"""S3 error codes as boto3 reports them (botocore ClientError), and nothing stored on refusal."""

from botocore.exceptions import ClientError

from common import assert_nothing_stored_at, client, run


def expect_error(call, code, status):
    try:
        call()
    except ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), (got, e.response)
        return
    raise AssertionError(f"expected {status} {code}, the call succeeded")


def test_wrong_secret_is_signature_does_not_match():
    s3 = client(secret_key="not-the-secret")
    expect_error(lambda: s3.put_object(Bucket="bucket", Key="k1", Body=b"x"),
                 "SignatureDoesNotMatch", 403)
    assert_nothing_stored_at("bucket", "k1")


def test_unknown_access_key_is_invalid_access_key_id():
    s3 = client(access_key="AKIAUNKNOWNKEY000000")
    expect_error(lambda: s3.put_object(Bucket="bucket", Key="k2", Body=b"x"),
                 "InvalidAccessKeyId", 403)
    assert_nothing_stored_at("bucket", "k2")


def test_missing_key_is_no_such_key():
    expect_error(lambda: client().get_object(Bucket="bucket", Key="absent"), "NoSuchKey", 404)


def test_listing_a_missing_bucket_and_versions():
    # The proxy lists a plain store's folders itself (versions too: one null version per
    # key); a configuration write it cannot keep.
    expect_error(lambda: client().list_objects_v2(Bucket="no-such-bucket"), "NoSuchBucket", 404)
    expect_error(lambda: client().list_object_versions(Bucket="no-such-bucket"), "NoSuchBucket",
                 404)
    expect_error(lambda: client().put_bucket_policy(Bucket="bucket", Policy="{}"),
                 "NotImplemented", 501)


def test_wrong_content_md5_is_bad_digest():
    import base64
    import hashlib
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    s3 = client()
    expect_error(lambda: s3.put_object(Bucket="bucket", Key="k3", Body=b"body", ContentMD5=wrong),
                 "BadDigest", 400)
    assert_nothing_stored_at("bucket", "k3")


if __name__ == "__main__":
    run([
        test_wrong_secret_is_signature_does_not_match,
        test_unknown_access_key_is_invalid_access_key_id,
        test_missing_key_is_no_such_key,
        test_listing_a_missing_bucket_and_versions,
        test_wrong_content_md5_is_bad_digest,
    ])
