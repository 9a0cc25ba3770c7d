"""CompleteMultipartUpload kept alive (tests/plain_store_multipart.rs runs the proxy with
upstream.complete_keepalive = "1ms"): the answer is 200 at once, spaces after the XML
declaration while the parts are copied, then the result; an error found after that point
arrives in the 200's body and boto3 reads it as the error."""

from botocore.exceptions import ClientError

from common import client, md5_hex, patterned, run, stored

BUCKET = "keepalive"
MIB = 1024 * 1024


def test_a_long_complete_is_kept_alive_and_read_by_boto3():
    s3 = client()
    s3.create_bucket(Bucket=BUCKET)
    raw = []
    s3.meta.events.register(
        "after-call.s3.CompleteMultipartUpload",
        lambda http_response, parsed, **_: raw.append((http_response.status_code,
                                                        http_response.content, parsed)))
    data = patterned(20 * MIB)
    path = "/tmp/plain-store-keepalive-20"
    with open(path, "wb") as f:
        f.write(data)
    s3.upload_file(path, BUCKET, "big.bin")
    assert stored(BUCKET, "big.bin") == data
    status, body, parsed = raw[0]
    assert status == 200
    head = b'<?xml version="1.0" encoding="UTF-8"?>\n'
    assert body.startswith(head + b" "), body[:80]
    assert body[len(head):].lstrip(b" ").startswith(b"<CompleteMultipartUploadResult"), body[:200]
    chunks = [data[i:i + 8 * MIB] for i in range(0, len(data), 8 * MIB)]
    digests = b"".join(bytes.fromhex(md5_hex(c)) for c in chunks)
    assert parsed["ETag"] == f'"{md5_hex(digests)}-3"', parsed


def test_an_error_after_the_200_is_still_the_error():
    s3 = client()
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="bad")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="bad", UploadId=upload_id, PartNumber=1, Body=b"x")
    try:
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="bad", UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]})
        raise AssertionError("completed with a wrong ETag")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "InvalidPart", err.response
    assert stored(BUCKET, "bad") is None


if __name__ == "__main__":
    run([test_a_long_complete_is_kept_alive_and_read_by_boto3,
         test_an_error_after_the_200_is_still_the_error])
