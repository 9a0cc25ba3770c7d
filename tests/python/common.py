"""Shared set-up of the boto3 scripts, driven by tests/boto3.rs.

Environment (all set by the Rust test):
  ENDPOINT     http://127.0.0.1:PORT or https://127.0.0.1:PORT (the proxy)
  CA_BUNDLE    PEM file of the CA that signed the proxy's certificate ("" for plain HTTP)
  ACCESS_KEY   a credential the proxy knows
  SECRET_KEY   its secret
  NGINX_ROOT   the folder nginx stores objects in: <root>/<bucket>/<key>
  CHECKSUMS    "default" for botocore's default checksum behaviour (optional)
"""

import hashlib
import os
import sys
import time

import boto3
from botocore.config import Config

ENDPOINT = os.environ["ENDPOINT"]
CA_BUNDLE = os.environ.get("CA_BUNDLE") or None
ACCESS_KEY = os.environ["ACCESS_KEY"]
SECRET_KEY = os.environ["SECRET_KEY"]
NGINX_ROOT = os.environ["NGINX_ROOT"]

# Keys that must survive the trip: spaces, non-ASCII, + = ~ $, and a name that looks encoded.
SPECIAL_KEYS = [
    "dir with spaces/file name.txt",
    "unicode/naïve-日本語-ключ.txt",
    "plus+equals=tilde~.txt",
    "looks%2Fencoded",
    "dollar$sign.txt",
]


def verify():
    """What `verify=` gets: the test CA for HTTPS, the default otherwise."""
    return CA_BUNDLE if CA_BUNDLE else True


# CHECKSUMS=default keeps botocore's default, which sends a CRC32 trailer with every upload
# (aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER); otherwise checksums go only where an operation
# requires one and uploads are plain signed bodies.
DEFAULT_CHECKSUMS = os.environ.get("CHECKSUMS") == "default"


def client(access_key=ACCESS_KEY, secret_key=SECRET_KEY):
    options = dict(
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        retries={"max_attempts": 1},
    )
    if not DEFAULT_CHECKSUMS:
        options.update(request_checksum_calculation="when_required",
                       response_checksum_validation="when_required")
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        verify=verify(),
        config=Config(**options),
    )


def stored(bucket, key):
    """The bytes nginx wrote for bucket/key, or None."""
    path = os.path.join(NGINX_ROOT, bucket, key)
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def stored_paths():
    """Every object file under nginx's root, relative, sorted: not the proxy's own files under
    .s3-auth-proxy/ (ETag records, staged parts and copies), which are no objects."""
    out = []
    for folder, _dirs, files in os.walk(NGINX_ROOT):
        for name in files:
            path = os.path.relpath(os.path.join(folder, name), NGINX_ROOT)
            if not path.startswith(".s3-auth-proxy" + os.sep):
                out.append(path)
    return sorted(out)


def assert_nothing_stored_at(bucket, key):
    # The proxy may answer a moment before nginx is done: look again after a short while.
    for _ in range(5):
        assert stored(bucket, key) is None, f"{bucket}/{key} was stored: {stored_paths()}"
        time.sleep(0.1)


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def patterned(n):
    return bytes((i % 251) ^ ((i // 251) & 0xFF) for i in range(n))


def run(tests):
    """Runs each test function, prints its name, exits 1 on the first failure."""
    for test in tests:
        print(f"{test.__name__} ...", flush=True)
        test()
        print(f"{test.__name__} ok", flush=True)
    print(f"{len(tests)} passed against {ENDPOINT}")
    sys.exit(0)
