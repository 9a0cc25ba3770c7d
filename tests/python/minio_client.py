"""minio-py at its defaults through the proxy in front of a plain store (tests/plain_store_clients.rs).

SIZE picks the upload (set by the Rust test):
  small   1 MiB: minio-py sends it as one PUT
  large   20 MiB: above minio-py's 5 MiB part size, so a multipart upload of 4 parts

Each run creates its bucket with make_bucket, uploads with fput_object, checks the bytes nginx
stored, downloads with fget_object and compares, and lists with list_objects(recursive=True)
(which sends an empty delimiter).
"""

import os
import sys
import tempfile

try:
    from minio import Minio
except ImportError as e:  # a machine without it must not look green
    sys.exit(f"minio-py is not importable ({e}): run scripts/test.sh, which installs it in .venv-test")

from common import ACCESS_KEY, ENDPOINT, SECRET_KEY, md5_hex, run, stored

SIZE = os.environ["SIZE"]
LENGTH = {"small": 1024 * 1024, "large": 20 * 1024 * 1024}[SIZE]
BUCKET = "minio-bkt"


def client():
    scheme, host = ENDPOINT.split("://", 1)
    assert scheme == "http", ENDPOINT
    return Minio(host, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False)


def payload(n):
    # Not patterned(): that is too slow in Python for 20 MiB; any bytes that do not repeat
    # at a power-of-two period will do.
    block = bytes(range(251)) * 4
    return (block * (n // len(block) + 1))[:n]


def test_fput_fget_and_list():
    mc = client()
    assert not mc.bucket_exists(BUCKET)
    mc.make_bucket(BUCKET)
    assert mc.bucket_exists(BUCKET)
    body = payload(LENGTH)
    key = f"nested/dir/{SIZE}.bin"
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "up.bin")
        with open(src, "wb") as f:
            f.write(body)
        result = mc.fput_object(BUCKET, key, src)
        assert stored(BUCKET, key) == body, "nginx stored other bytes"
        if SIZE == "small":
            assert result.etag == md5_hex(body), result.etag
        else:
            # S3's multipart ETag: MD5 of the part MD5s, then the number of parts.
            assert result.etag.endswith("-4"), result.etag
        dst = os.path.join(tmp, "down.bin")
        mc.fget_object(BUCKET, key, dst)
        with open(dst, "rb") as f:
            assert f.read() == body, "fget_object returned other bytes"
    mc.put_object(BUCKET, "top.txt", open(os.devnull, "rb"), 0)
    listed = [(o.object_name, o.size) for o in mc.list_objects(BUCKET, recursive=True)]
    assert listed == [(key, LENGTH), ("top.txt", 0)], listed
    # minio-py yields a page's objects before its common prefixes.
    top = [(o.object_name, o.is_dir) for o in mc.list_objects(BUCKET)]
    assert top == [("top.txt", False), ("nested/", True)], top


run([test_fput_fget_and_list])
