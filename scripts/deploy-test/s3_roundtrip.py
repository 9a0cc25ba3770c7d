"""S3 round trip through a deployed s3-auth-proxy, for scripts/test-deploy.sh.

    python s3_roundtrip.py http://127.0.0.1:PORT BUCKET [--expect-file PATH]

With boto3 (SigV4, path-style): PUT an object of random bytes, GET it back and compare the bytes;
then the controls: the same PUT with a wrong secret key is refused (403 SignatureDoesNotMatch)
and the read-only key may not write (403 AccessDenied). With --expect-file, the object's bytes
must also be in that file (the backend's storage, seen from the host). Exit 0 only if all hold.
"""

import hashlib
import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
RO_KEY_ID = "AKIAREADONLYEXAMPLE"
RO_SECRET = "readonly/EXAMPLE/secret/key/0123456789"


def client(endpoint, key_id, secret):
    cfg = Config(
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        retries={"max_attempts": 1},
        connect_timeout=5,
        read_timeout=30,
        # botocore's defaults otherwise (checksums "when_supported"), as `aws s3 cp` sends them
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=cfg,
    )


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]
    return 200, "no error"


def main():
    endpoint, bucket = sys.argv[1], sys.argv[2]
    expect_file = None
    if "--expect-file" in sys.argv:
        expect_file = sys.argv[sys.argv.index("--expect-file") + 1]
    key = os.environ.get("S3_KEY", "deploy-test/object.bin")
    body = os.urandom(1024 * 1024 + 12345)
    digest = hashlib.sha256(body).hexdigest()
    ok = True

    s3 = client(endpoint, KEY_ID, SECRET)
    # the proxy may still be starting: retry the first request for a while
    deadline = time.time() + 20
    while True:
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            break
        except Exception as e:  # connection refused / reset while starting
            if time.time() > deadline:
                print(f"  PUT failed: {e!r}")
                return 1
            time.sleep(0.5)
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    same = hashlib.sha256(got).hexdigest() == digest
    print(f"  PUT+GET {len(body)} bytes of s3://{bucket}/{key}: bytes {'equal' if same else 'DIFFER'}")
    ok &= same

    if expect_file:
        with open(expect_file, "rb") as f:
            stored = f.read()
        same = hashlib.sha256(stored).hexdigest() == digest
        print(f"  backend storage holds the same bytes: {same}")
        ok &= same

    bad = client(endpoint, KEY_ID, SECRET[:-1] + "X")
    status, code = error_code(lambda: bad.put_object(Bucket=bucket, Key=key + ".bad", Body=b"x"))
    print(f"  PUT with a wrong secret: {status} {code}")
    ok &= (status, code) == (403, "SignatureDoesNotMatch")

    ro = client(endpoint, RO_KEY_ID, RO_SECRET)
    status, code = error_code(lambda: ro.put_object(Bucket=bucket, Key=key + ".ro", Body=b"x"))
    print(f"  PUT with the read-only key: {status} {code}")
    ok &= (status, code) == (403, "AccessDenied")

    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
