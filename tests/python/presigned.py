"""boto3 presigned URLs (SigV4, generate_presigned_url) fetched with requests."""

import time
import xml.etree.ElementTree as ET

import requests

from common import (SPECIAL_KEYS, assert_nothing_stored_at, client, md5_hex,
                    patterned, run, stored, verify)


def error_code(response):
    return ET.fromstring(response.content).findtext("Code")


def presign(s3, method, key, expires=300):
    return s3.generate_presigned_url(
        method, Params={"Bucket": "bucket", "Key": key}, ExpiresIn=expires
    )


def test_presigned_put_then_get():
    s3 = client()
    body = patterned(200_000)

    put = requests.put(presign(s3, "put_object", "shared/data.bin"), data=body, verify=verify())
    assert put.status_code == 200, (put.status_code, put.text)
    assert put.headers["ETag"] == f'"{md5_hex(body)}"', put.headers
    assert stored("bucket", "shared/data.bin") == body

    get = requests.get(presign(s3, "get_object", "shared/data.bin"), verify=verify())
    assert get.status_code == 200, (get.status_code, get.text)
    assert get.content == body


def test_presigned_special_keys():
    s3 = client()
    for key in SPECIAL_KEYS:
        body = f"presigned {key}".encode()
        put = requests.put(presign(s3, "put_object", key), data=body, verify=verify())
        assert put.status_code == 200, (key, put.status_code, put.text)
        assert stored("bucket", key) == body, key
        get = requests.get(presign(s3, "get_object", key), verify=verify())
        assert get.status_code == 200, (key, get.status_code, get.text)
        assert get.content == body, key


def test_expired_presigned_put_is_refused():
    url = presign(client(), "put_object", "late.txt", expires=1)
    time.sleep(2.5)

    put = requests.put(url, data=b"too late", verify=verify())

    assert put.status_code == 403, (put.status_code, put.text)
    assert error_code(put) == "AccessDenied", put.text
    assert_nothing_stored_at("bucket", "late.txt")


def test_tampered_presigned_put_is_refused():
    url = presign(client(), "put_object", "tampered.txt")
    signature = url.split("X-Amz-Signature=")[1][:64]
    changed = ("1" if signature[0] == "0" else "0") + signature[1:]

    put = requests.put(url.replace(signature, changed), data=b"evil", verify=verify())

    assert put.status_code == 403, (put.status_code, put.text)
    assert error_code(put) == "SignatureDoesNotMatch", put.text
    assert_nothing_stored_at("bucket", "tampered.txt")


def test_presigned_url_for_another_key_is_refused():
    url = presign(client(), "put_object", "signed-key.txt")

    put = requests.put(url.replace("/signed-key.txt?", "/other-key.txt?"), data=b"evil", verify=verify())

    assert put.status_code == 403, (put.status_code, put.text)
    assert error_code(put) == "SignatureDoesNotMatch", put.text
    assert_nothing_stored_at("bucket", "other-key.txt")


if __name__ == "__main__":
    run([
        test_presigned_put_then_get,
        test_presigned_special_keys,
        test_expired_presigned_put_is_refused,
        test_tampered_presigned_put_is_refused,
        test_presigned_url_for_another_key_is_refused,
    ])
