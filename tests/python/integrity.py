"""Integrity claims made by boto3 itself, checked against the body (issue 12, item 4): presigned
URLs (SigV4 with ChecksumCRC32 / ChecksumSHA256 in Params, SigV2 with ContentMD5 and
ChecksumCRC32, which botocore moves into the URL's query) and POST forms whose policy allows a
Content-MD5 or an x-amz-checksum-* field. Each tampered body is refused with S3's code and nothing
is stored; its neighbour with the right bytes is stored byte-exact.

NGINX_ROOT is the backend's folder (nginx's root or s3s-fs's), BACKEND "http" or "s3".
Digests come from hashlib and zlib, never from the proxy.
"""

import base64
import hashlib
import os
import xml.etree.ElementTree as ET
import zlib

import boto3
import requests
from botocore.config import Config

from common import (ACCESS_KEY, ENDPOINT, NGINX_ROOT, SECRET_KEY, assert_nothing_stored_at,
                    client, patterned, run, stored, verify)

BUCKET = "integrity"
BACKEND = os.environ.get("BACKEND", "http")


def b64(digest):
    return base64.b64encode(digest).decode()


def md5_b64(data):
    return b64(hashlib.md5(data).digest())


def sha256_b64(data):
    return b64(hashlib.sha256(data).digest())


def crc32_b64(data):
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def tampered(data):
    out = bytearray(data)
    out[len(out) // 2] ^= 0x01
    return bytes(out)


def error_code(response):
    return ET.fromstring(response.content).findtext("Code")


def assert_refused(response, code, key):
    assert response.status_code == 400, (key, response.status_code, response.text)
    assert error_code(response) == code, (key, response.text)
    assert_nothing_stored_at(BUCKET, key)


def assert_stored(response, key, body, status=200):
    assert response.status_code == status, (key, response.status_code, response.text)
    assert stored(BUCKET, key) == body, key


def sigv2_client():
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        verify=verify(),
        config=Config(signature_version="s3", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}),
    )


def presign(s3, key, **params):
    return s3.generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key, **params}, ExpiresIn=300)


def test_sigv4_presigned_put_with_a_checksum():
    # botocore signs the checksum as a header (X-Amz-SignedHeaders=host;x-amz-checksum-...):
    # the client sends that header with the body.
    body = patterned(100_000)
    for param, header, value in [("ChecksumCRC32", "x-amz-checksum-crc32", crc32_b64(body)),
                                 ("ChecksumSHA256", "x-amz-checksum-sha256", sha256_b64(body))]:
        key = f"v4/{param}.bin"
        url = presign(client(), key, **{param: value})
        assert header in url, url
        r = requests.put(url, data=tampered(body), headers={header: value}, verify=verify())
        assert_refused(r, "BadDigest", key)
        r = requests.put(url, data=body, headers={header: value}, verify=verify())
        assert_stored(r, key, body)


def test_sigv2_presigned_put_with_content_md5_in_the_query():
    # botocore's HmacV1QueryAuth moves Content-MD5 into the URL (content-md5=...): the client
    # sends only the body, and the signed MD5 must still hold for it.
    body = patterned(100_000)
    key = "v2/md5.bin"
    url = presign(sigv2_client(), key, ContentMD5=md5_b64(body))
    assert "content-md5=" in url and "Signature=" in url, url
    r = requests.put(url, data=tampered(body), verify=verify())
    assert_refused(r, "BadDigest", key)
    r = requests.put(url, data=body, verify=verify())
    assert_stored(r, key, body)


def test_sigv2_presigned_put_with_a_checksum_in_the_query():
    body = patterned(50_000)
    key = "v2/crc32.bin"
    url = presign(sigv2_client(), key, ChecksumCRC32=crc32_b64(body))
    assert "x-amz-checksum-crc32=" in url, url
    r = requests.put(url, data=tampered(body), verify=verify())
    assert_refused(r, "BadDigest", key)
    r = requests.put(url, data=body, verify=verify())
    assert_stored(r, key, body)


def form(key, fields, s3=None):
    """A presigned POST for exactly `key` whose policy allows exactly these field values."""
    s3 = s3 or client()
    conditions = [{name: value} for name, value in fields.items()]
    return s3.generate_presigned_post(BUCKET, key, Fields=dict(fields), Conditions=conditions,
                                      ExpiresIn=300)


def post(data, body):
    return requests.post(data["url"], data=data["fields"],
                         files={"file": ("f.bin", body, "application/octet-stream")},
                         verify=verify(), allow_redirects=False)


def test_post_form_content_md5_field():
    body = patterned(80_000)
    for s3, key in [(client(), "form/md5-v4.bin"), (sigv2_client(), "form/md5-v2.bin")]:
        data = form(key, {"Content-MD5": md5_b64(body)}, s3)
        assert_refused(post(data, tampered(body)), "BadDigest", key)
        assert_stored(post(data, body), key, body, status=204)


def test_post_form_checksum_field():
    body = patterned(80_000)
    key = "form/sha256.bin"
    data = form(key, {"x-amz-checksum-sha256": sha256_b64(body)})
    assert_refused(post(data, tampered(body)), "BadDigest", key)
    assert_stored(post(data, body), key, body, status=204)
    if BACKEND == "s3":
        # Passed on: s3s-fs keeps the checksum it was given with the object's metadata.
        kept = [open(os.path.join(NGINX_ROOT, name)).read() for name in os.listdir(NGINX_ROOT)
                if name.endswith(".internal.json")]
        assert any(sha256_b64(body) in text for text in kept), kept


def test_post_form_with_two_checksums_is_refused():
    body = patterned(1000)
    key = "form/two.bin"
    data = form(key, {"x-amz-checksum-crc32": crc32_b64(body),
                      "x-amz-checksum-sha256": sha256_b64(body)})
    r = post(data, body)
    assert_refused(r, "InvalidRequest", key)
    one = "form/one.bin"
    data = form(one, {"x-amz-checksum-crc32": crc32_b64(body)})
    assert_stored(post(data, body), one, body, status=204)


if __name__ == "__main__":
    os.makedirs(os.path.join(NGINX_ROOT, BUCKET), exist_ok=True)
    run([
        test_sigv4_presigned_put_with_a_checksum,
        test_sigv2_presigned_put_with_content_md5_in_the_query,
        test_sigv2_presigned_put_with_a_checksum_in_the_query,
        test_post_form_content_md5_field,
        test_post_form_checksum_field,
        test_post_form_with_two_checksums_is_refused,
    ])
