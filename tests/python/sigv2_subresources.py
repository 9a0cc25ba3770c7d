"""boto3 with signature_version='s3' (SigV2, botocore's HmacV1Auth) through the proxy to a keyless
S3 server (s3s-fs): the operations whose sub-resources botocore signs work; an operation whose
selector botocore leaves unsigned is refused by the proxy (SignatureDoesNotMatch) instead of
reaching the server under a signature for another operation.

NGINX_ROOT is the S3 server's folder: objects are files <root>/<bucket>/<key>.
"""

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from common import ACCESS_KEY, ENDPOINT, SECRET_KEY, patterned, run, stored

BUCKET = "sigv2-bucket"


def sigv2_client():
    return boto3.client(
        "s3", endpoint_url=ENDPOINT, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
        config=Config(signature_version="s3", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1},
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"),
    )


def error_code(call):
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"]
    raise AssertionError("the call succeeded")


def test_signed_sub_resources_work():
    s3 = sigv2_client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="dir/a.txt", Body=b"a")
    s3.put_object(Bucket=BUCKET, Key="dir/b.txt", Body=b"b")
    assert s3.get_object(Bucket=BUCKET, Key="dir/a.txt")["Body"].read() == b"a"
    # list-type=2, prefix, max-keys: unsigned, as botocore and S3 leave them.
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="dir/", MaxKeys=10)
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a.txt", "dir/b.txt"], listed
    s3.get_bucket_location(Bucket=BUCKET)  # ?location
    # ?uploads, ?partNumber&uploadId, ?uploadId: all signed by botocore.
    uid = s3.create_multipart_upload(Bucket=BUCKET, Key="multi.bin")["UploadId"]
    part = patterned(5 * 1024 * 1024)
    etag = s3.upload_part(Bucket=BUCKET, Key="multi.bin", UploadId=uid, PartNumber=1,
                          Body=part)["ETag"]
    s3.complete_multipart_upload(Bucket=BUCKET, Key="multi.bin", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert stored(BUCKET, "multi.bin") == part
    # ?delete (DeleteObjects).
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "dir/b.txt"}]})
    assert stored(BUCKET, "dir/b.txt") is None


def test_a_signed_selector_reaches_the_server():
    # botocore signs ?tagging: the proxy forwards it and s3s-fs, which has no tagging, says so.
    s3 = sigv2_client()
    assert error_code(lambda: s3.get_object_tagging(Bucket=BUCKET, Key="dir/a.txt")) \
        == "NotImplemented"


def test_a_selector_botocore_leaves_unsigned_is_refused():
    # botocore does not sign ?retention, ?legal-hold or ?attributes: its signature is the plain
    # GET's, so the proxy refuses rather than let the server act on an unsigned selector.
    s3 = sigv2_client()
    for call in (
        lambda: s3.get_object_retention(Bucket=BUCKET, Key="dir/a.txt"),
        lambda: s3.get_object_legal_hold(Bucket=BUCKET, Key="dir/a.txt"),
        lambda: s3.get_object_attributes(Bucket=BUCKET, Key="dir/a.txt",
                                         ObjectAttributes=["ETag"]),
        lambda: s3.get_bucket_encryption(Bucket=BUCKET),
    ):
        assert error_code(call) == "SignatureDoesNotMatch"
    assert stored(BUCKET, "dir/a.txt") == b"a"


if __name__ == "__main__":
    run([test_signed_sub_resources_work, test_a_signed_selector_reaches_the_server,
         test_a_selector_botocore_leaves_unsigned_is_refused])
