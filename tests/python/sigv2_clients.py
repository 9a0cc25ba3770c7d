"""Signature Version 2 from real clients at their defaults, and attacks on every signed element.

Signers here are the clients' own: boto3 with no signature_version configured (its presigned URLs
and POST policies are SigV2 against a custom endpoint), `aws s3 presign`, s3cmd (header auth,
`--signature-v2`) and `s3cmd signurl`, and botocore's HmacV1Auth / HmacV1QueryAuth for the
tampering tests. Nothing here is signed by the proxy's code.
"""

import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from email.utils import formatdate

import boto3
import requests
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from common import ACCESS_KEY, ENDPOINT, SECRET_KEY, md5_hex, patterned, run, stored, stored_paths

BIN = os.path.dirname(sys.executable)
HOSTPORT = ENDPOINT.split("://", 1)[1]


def error_code(response):
    return ET.fromstring(response.content).findtext("Code")


def default_client():
    """boto3 as a user gets it: no signature_version, no s3v4."""
    return boto3.client(
        "s3", endpoint_url=ENDPOINT, aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def clean():
    root = os.environ["NGINX_ROOT"]
    for path in stored_paths():
        os.remove(os.path.join(root, path))


def assert_refused(response, status, code):
    assert response.status_code == status, (response.status_code, response.text)
    assert error_code(response) == code, response.text
    for _ in range(5):
        assert stored_paths() == [], f"stored after a refused request: {stored_paths()}"
        time.sleep(0.05)


def env():
    e = dict(os.environ)
    e.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
             AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    return e


def s3cmd(*args):
    with tempfile.NamedTemporaryFile("w", suffix=".s3cfg", delete=False) as cfg:
        cfg.write(f"[default]\naccess_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\n"
                  f"host_base = {HOSTPORT}\nhost_bucket = {HOSTPORT}\nuse_https = False\n"
                  "bucket_location = us-east-1\n")
    try:
        out = subprocess.run([os.path.join(BIN, "s3cmd"), "-c", cfg.name, *args],
                             capture_output=True, text=True, env=env(), timeout=60)
    finally:
        os.remove(cfg.name)
    assert out.returncode == 0, (args, out.stdout, out.stderr)
    return out.stdout


# ------------------------------------------------------------------------------------------
# Real clients at their defaults


def test_boto3_default_presigned_put_and_get_are_sigv2():
    s3 = default_client()
    body = patterned(100_000)
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "bkt", "Key": "v2/p.bin"})
    assert "AWSAccessKeyId=" in put_url and "X-Amz-" not in put_url, put_url
    r = requests.put(put_url, data=body)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["ETag"] == f'"{md5_hex(body)}"'
    assert stored("bkt", "v2/p.bin") == body
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "v2/p.bin"})
    r = requests.get(get_url)
    assert r.status_code == 200 and r.content == body, (r.status_code, r.text)
    clean()


def test_boto3_default_presigned_post_is_sigv2():
    s3 = default_client()
    post = s3.generate_presigned_post(
        "bkt", "v2form/${filename}", Fields={"Content-Type": "text/plain"},
        Conditions=[{"Content-Type": "text/plain"}, ["content-length-range", 1, 10_000]])
    assert "AWSAccessKeyId" in post["fields"] and "signature" in post["fields"], post
    r = requests.post(post["url"], data=post["fields"],
                      files={"file": ("n.txt", b"sigv2 form", "text/plain")}, allow_redirects=False)
    assert r.status_code == 204, (r.status_code, r.text)
    assert stored("bkt", "v2form/n.txt") == b"sigv2 form"
    clean()


def test_aws_s3_presign_at_its_default_is_sigv2():
    s3 = default_client()
    s3.put_object(Bucket="bkt", Key="cli/x.txt", Body=b"from the cli")
    out = subprocess.run([os.path.join(BIN, "aws"), "--region", "us-east-1", "--endpoint-url",
                          ENDPOINT, "s3", "presign", "s3://bkt/cli/x.txt"],
                         capture_output=True, text=True, env=env(), timeout=60)
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip()
    assert "AWSAccessKeyId=" in url, url
    r = requests.get(url)
    assert r.status_code == 200 and r.content == b"from the cli", (r.status_code, r.text)
    clean()


def test_s3cmd_header_auth_and_signurl():
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(patterned(50_000))
    try:
        s3cmd("put", f.name, "s3://bkt/s3cmd/default.bin")  # s3cmd's default signing
        s3cmd("--signature-v2", "put", f.name, "s3://bkt/s3cmd/v2.bin")
        assert stored("bkt", "s3cmd/default.bin") == patterned(50_000)
        assert stored("bkt", "s3cmd/v2.bin") == patterned(50_000)
        out = f.name + ".out"
        s3cmd("--signature-v2", "get", "--force", "s3://bkt/s3cmd/v2.bin", out)
        with open(out, "rb") as got:
            assert got.read() == patterned(50_000)
        os.remove(out)
    finally:
        os.remove(f.name)
    url = s3cmd("signurl", "s3://bkt/s3cmd/v2.bin", "+300").strip()
    assert "AWSAccessKeyId=" in url and "Signature=" in url, url
    r = requests.get(url)
    assert r.status_code == 200 and r.content == patterned(50_000), (r.status_code, r.text)
    clean()


# ------------------------------------------------------------------------------------------
# Attacks: a valid botocore HmacV1 signature, then exactly one signed element changed


def signed(method, path, headers=None, body=b""):
    req = AWSRequest(method=method, url=ENDPOINT + path, headers=dict(headers or {}), data=body)
    HmacV1Auth(Credentials(ACCESS_KEY, SECRET_KEY)).add_auth(req)
    return dict(req.headers.items())


def presigned(method, path, expires=300):
    req = AWSRequest(method=method, url=ENDPOINT + path)
    HmacV1QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), expires=expires).add_auth(req)
    return req.url


def test_a_valid_signature_passes_first():
    headers = signed("PUT", "/bkt/ok.txt", {"Content-Type": "text/plain"}, b"fine")
    r = requests.put(ENDPOINT + "/bkt/ok.txt", headers=headers, data=b"fine")
    assert r.status_code == 200, (r.status_code, r.text)
    assert stored("bkt", "ok.txt") == b"fine"
    clean()


def test_changed_method():
    headers = signed("GET", "/bkt/m.txt")
    assert_refused(requests.put(ENDPOINT + "/bkt/m.txt", headers=headers, data=b"x"), 403,
                   "SignatureDoesNotMatch")


def test_changed_content_type():
    headers = signed("PUT", "/bkt/ct.txt", {"Content-Type": "text/plain"}, b"x")
    headers["Content-Type"] = "text/html"
    assert_refused(requests.put(ENDPOINT + "/bkt/ct.txt", headers=headers, data=b"x"), 403,
                   "SignatureDoesNotMatch")


def test_changed_content_md5_header():
    import base64, hashlib
    md5 = base64.b64encode(hashlib.md5(b"body").digest()).decode()
    headers = signed("PUT", "/bkt/md5.txt", {"Content-MD5": md5}, b"body")
    headers["Content-MD5"] = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert_refused(requests.put(ENDPOINT + "/bkt/md5.txt", headers=headers, data=b"other"), 403,
                   "SignatureDoesNotMatch")


def test_body_not_matching_its_signed_content_md5():
    import base64, hashlib
    md5 = base64.b64encode(hashlib.md5(b"body").digest()).decode()
    headers = signed("PUT", "/bkt/md5b.txt", {"Content-MD5": md5}, b"body")
    assert_refused(requests.put(ENDPOINT + "/bkt/md5b.txt", headers=headers, data=b"bodx"), 400,
                   "BadDigest")


def test_changed_amz_header():
    headers = signed("PUT", "/bkt/meta.txt", {"x-amz-meta-owner": "alice"}, b"x")
    headers["x-amz-meta-owner"] = "mallory"
    assert_refused(requests.put(ENDPOINT + "/bkt/meta.txt", headers=headers, data=b"x"), 403,
                   "SignatureDoesNotMatch")


def test_added_amz_header():
    headers = signed("PUT", "/bkt/added.txt", {}, b"x")
    headers["x-amz-meta-extra"] = "1"
    assert_refused(requests.put(ENDPOINT + "/bkt/added.txt", headers=headers, data=b"x"), 403,
                   "SignatureDoesNotMatch")


def test_added_sub_resource():
    headers = signed("PUT", "/bkt/sub.txt", {}, b"x")
    assert_refused(requests.put(ENDPOINT + "/bkt/sub.txt?tagging", headers=headers, data=b"x"), 403,
                   "SignatureDoesNotMatch")


def test_changed_resource():
    headers = signed("PUT", "/bkt/one.txt", {}, b"x")
    assert_refused(requests.put(ENDPOINT + "/bkt/two.txt", headers=headers, data=b"x"), 403,
                   "SignatureDoesNotMatch")


class HourOldHmacV1Auth(HmacV1Auth):
    """botocore's signer, dating its requests an hour back (a captured request replayed)."""

    def _get_date(self):
        return formatdate(time.time() - 3600, usegmt=True)


def test_date_outside_the_clock_skew():
    req = AWSRequest(method="PUT", url=ENDPOINT + "/bkt/old.txt", data=b"x")
    HourOldHmacV1Auth(Credentials(ACCESS_KEY, SECRET_KEY)).add_auth(req)
    headers = dict(req.headers.items())
    assert_refused(requests.put(ENDPOINT + "/bkt/old.txt", headers=headers, data=b"x"), 403,
                   "RequestTimeTooSkewed")


def test_presigned_expires_changed():
    url = presigned("PUT", "/bkt/exp.txt")
    expires = int(url.split("Expires=")[1].split("&")[0])
    url = url.replace(f"Expires={expires}", f"Expires={expires + 3600}")
    assert_refused(requests.put(url, data=b"x"), 403, "SignatureDoesNotMatch")


def test_presigned_expired():
    url = presigned("PUT", "/bkt/late.txt", expires=1)
    time.sleep(2.2)
    assert_refused(requests.put(url, data=b"x"), 403, "AccessDenied")


def test_presigned_method_changed():
    url = presigned("GET", "/bkt/pm.txt")
    assert_refused(requests.put(url, data=b"x"), 403, "SignatureDoesNotMatch")


def test_form_policy_changed():
    s3 = default_client()
    post = s3.generate_presigned_post("bkt", "f/${filename}")
    other = s3.generate_presigned_post("bkt", "g/${filename}")
    post["fields"]["policy"] = other["fields"]["policy"]
    r = requests.post(post["url"], data=post["fields"], files={"file": ("a", b"x")},
                      allow_redirects=False)
    assert_refused(r, 403, "SignatureDoesNotMatch")


def test_form_condition_violated():
    s3 = default_client()
    post = s3.generate_presigned_post("bkt", "f/${filename}")
    post["fields"]["key"] = "elsewhere/${filename}"
    r = requests.post(post["url"], data=post["fields"], files={"file": ("a", b"x")},
                      allow_redirects=False)
    assert_refused(r, 403, "AccessDenied")


run([
    test_boto3_default_presigned_put_and_get_are_sigv2,
    test_boto3_default_presigned_post_is_sigv2,
    test_aws_s3_presign_at_its_default_is_sigv2,
    test_s3cmd_header_auth_and_signurl,
    test_a_valid_signature_passes_first,
    test_changed_method,
    test_changed_content_type,
    test_changed_content_md5_header,
    test_body_not_matching_its_signed_content_md5,
    test_changed_amz_header,
    test_added_amz_header,
    test_added_sub_resource,
    test_changed_resource,
    test_date_outside_the_clock_skew,
    test_presigned_expires_changed,
    test_presigned_expired,
    test_presigned_method_changed,
    test_form_policy_changed,
    test_form_condition_violated,
])
