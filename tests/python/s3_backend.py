"""The proxy in front of a keyless S3 server (s3s-fs, upstream.kind = "s3"): what a plain HTTP
store cannot do (buckets, listing, multipart uploads) passes through, still verified.

NGINX_ROOT is the S3 server's folder here: objects are files <root>/<bucket>/<key>.
"""

import os
import time
import xml.etree.ElementTree as ET

import requests
from botocore.exceptions import ClientError

from common import client, md5_hex, patterned, run, stored, verify

BUCKET = "backend-bucket"


def test_bucket_listing_and_objects():
    s3 = client()
    s3.create_bucket(Bucket=BUCKET)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert BUCKET in names, names
    body = patterned(300_000)
    put = s3.put_object(Bucket=BUCKET, Key="dir/a.bin", Body=body)
    assert put["ETag"] == f'"{md5_hex(body)}"', put
    s3.put_object(Bucket=BUCKET, Key="dir/b.txt", Body=b"b")
    assert stored(BUCKET, "dir/a.bin") == body
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a.bin", "dir/b.txt"], listed
    got = s3.get_object(Bucket=BUCKET, Key="dir/a.bin")["Body"].read()
    assert got == body
    s3.delete_object(Bucket=BUCKET, Key="dir/b.txt")
    try:
        s3.head_object(Bucket=BUCKET, Key="dir/b.txt")
        raise AssertionError("deleted object still there")
    except ClientError as e:
        assert e.response["Error"]["Code"] in ("404", "NoSuchKey"), e.response


def test_multipart_upload():
    s3 = client()
    part1 = patterned(5 * 1024 * 1024)
    part2 = b"tail of the object"
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key="multi/obj.bin")
    uid = upload["UploadId"]
    e1 = s3.upload_part(Bucket=BUCKET, Key="multi/obj.bin", UploadId=uid, PartNumber=1, Body=part1)
    e2 = s3.upload_part(Bucket=BUCKET, Key="multi/obj.bin", UploadId=uid, PartNumber=2, Body=part2)
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="multi/obj.bin", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1["ETag"]},
                                   {"PartNumber": 2, "ETag": e2["ETag"]}]})
    assert stored(BUCKET, "multi/obj.bin") == part1 + part2


def test_presigned_and_post_form():
    s3 = client()
    url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "pre/x.txt"})
    r = requests.put(url, data=b"presigned", verify=verify())
    assert r.status_code == 200, (r.status_code, r.text)
    assert stored(BUCKET, "pre/x.txt") == b"presigned"
    post = s3.generate_presigned_post(BUCKET, "form/${filename}")
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f.txt", b"form body")},
                      verify=verify())
    assert r.status_code == 204, (r.status_code, r.text)
    assert stored(BUCKET, "form/f.txt") == b"form body"


def test_a_wrong_signature_never_reaches_the_server():
    s3 = client(secret_key="x" * 40)
    try:
        s3.put_object(Bucket=BUCKET, Key="forged.txt", Body=b"forged")
        raise AssertionError("forged PUT accepted")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "SignatureDoesNotMatch", e.response
    time.sleep(0.2)
    assert stored(BUCKET, "forged.txt") is None
    # Unsigned requests are refused too, even though the server behind would take them.
    r = requests.get(f"{os.environ['ENDPOINT']}/{BUCKET}", verify=verify())
    assert r.status_code == 403, (r.status_code, r.text)
    assert ET.fromstring(r.content).findtext("Code") == "AccessDenied", r.text


run([
    test_bucket_listing_and_objects,
    test_multipart_upload,
    test_presigned_and_post_form,
    test_a_wrong_signature_never_reaches_the_server,
])
