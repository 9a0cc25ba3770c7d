#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/seeds/<target>/) from the test vectors
(../shared/vectors: the S3 documentation's SigV4 and SigV2 examples, the aws-c-auth SigV4 suite)
and the unit tests' examples. The seeds are committed; run this again after changing it:

    python3 fuzz/make-seeds.py

Each seed is named after what it holds. The input formats are documented on the entry points
(`s3_auth_proxy::fuzz`, `body::chunked::fuzz_trailer`).
"""
import base64
import hashlib
import json
import os
import re
import shutil
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.path.join(ROOT, "..", "shared", "vectors")
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
DOC_NOW = 1369353600  # 2013-05-24T00:00:00Z
ZERO_SIG = "0" * 64

seeds = {}


def add(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    name = re.sub(r"[^A-Za-z0-9._]+", "-", name).strip("-").lower()
    seeds.setdefault(target, {})[name] = data


def head(method, target, headers, now=None):
    lines = [] if now is None else [f"@{now}"]
    lines.append(f"{method} {target} HTTP/1.1")
    lines += [f"{n}: {v}" for n, v in headers]
    return "\n".join(lines) + "\n"


def load(name):
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        return json.load(f)


doc = load("s3-doc-examples.json")
v2 = load("sigv2-doc-examples.json")
cred = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"

# --- SigV4 header: the S3 documentation's examples, right and with a wrong signature ----------
for i, ex in enumerate(doc["header_auth"] + [doc["streaming_signed"], doc["streaming_signed_trailer"]]):
    sig = ex.get("expected_signature") or ex["expected_seed_signature"]
    target = ex["path"] + ("?" + ex["query"] if ex.get("query") else "")
    for label, s in (("", sig), ("-wrong-sig", ZERO_SIG)):
        auth = (f"AWS4-HMAC-SHA256 Credential={cred},SignedHeaders={ex['signed_headers']},"
                f"Signature={s}")
        h = head(ex["method"], target, ex["headers"] + [["Authorization", auth]])
        add("sigv4_header", f"doc{i}-{ex['name'][:36]}{label}", h)
        add("request_target", f"doc{i}-{ex['name'][:36]}{label}", h)

# --- SigV4 presigned: the documentation's URL -------------------------------------------------
ex = doc["presigned_url"]
url = ex["url"].split(ex["host"], 1)[1]
add("sigv4_presigned", "doc-presigned", head("GET", url, [["Host", ex["host"]]]))
add("sigv4_presigned", "doc-presigned-wrong-sig",
    head("GET", url.replace(ex["expected_signature"], ZERO_SIG), [["Host", ex["host"]]]))
add("request_target", "doc-presigned", head("GET", url, [["Host", ex["host"]]]))

# --- the aws-c-auth suite: header- and query-signed requests as sent --------------------------
suite = os.path.join(VECTORS, "sigv4-suite", "aws-c-auth", "v4")
for case in sorted(os.listdir(suite)):
    with open(os.path.join(suite, case, "context.json")) as f:
        ctx = json.load(f)
    now = int(datetime.strptime(ctx["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
              .replace(tzinfo=timezone.utc).timestamp())
    for kind, target in (("header", "sigv4_header"), ("query", "sigv4_presigned")):
        path = os.path.join(suite, case, f"{kind}-signed-request.txt")
        if not os.path.exists(path):
            continue
        with open(path, "rb") as f:
            raw = f.read().replace(b"\r\n", b"\n")
        text = f"@{now}\n".encode() + raw.split(b"\n\n", 1)[0] + b"\n"
        add(target, f"aws-c-auth-{case}", text)
        if kind == "header":
            add("request_target", f"aws-c-auth-{case}", text)

# --- SigV2: header, presigned and the 2007 Delete --------------------------------------------
def rfc1123_to_unix(date):
    return int(datetime.strptime(date, "%a, %d %b %Y %H:%M:%S %z").timestamp())


for ex in v2["header"]:
    hdrs = [list(h) for h in ex["headers"]]
    date = next(v for n, v in hdrs if n.lower() in ("date", "x-amz-date"))
    query = "&".join(n if v == "" else f"{n}={v}" for n, v in ex["query"])
    target = ex["path"] + ("?" + query if query else "")
    hdrs.append(["Authorization", f"AWS {v2['access_key']}:{ex['signature']}"])
    add("sigv2", "header-" + ex["name"], head(ex["method"], target, hdrs, rfc1123_to_unix(date)))
for ex in v2["query"]:
    sig = ex.get("url_signature") or ex["signature"]
    target = (f"{ex['path']}?AWSAccessKeyId={v2['access_key']}&Expires={ex['expires']}"
              f"&Signature={sig}")
    add("sigv2", "query-" + ex["name"],
        head(ex["method"], target, [["Host", ex["host"]]], ex["expires"] - 60))
ex = v2["delete_2007"]
hdrs = [list(h) for h in ex["headers"]] + [
    ["Authorization", f"AWS {ex['access_key']}:{ex['signature']}"]]
add("sigv2", "delete-2007", head(ex["method"], ex["path"], hdrs,
                                  rfc1123_to_unix("Tue, 27 Mar 2007 21:20:26 +0000")))
add("request_target", "sigv2-delete-2007", head(ex["method"], ex["path"], hdrs))

# --- the request model: the shapes the unit tests name ----------------------------------------
host = [["Host", "s3.amazonaws.com"]]
for name, method, target, extra in [
    ("path-style-key", "GET", "/bucket/a%20b/c+d.txt", []),
    ("virtual-host", "GET", "/photos/puppy.jpg", [["Host", "johnsmith.s3.amazonaws.com"]]),
    ("absolute-form", "GET", "http://s3.amazonaws.com/bucket/key", []),
    ("list-v2", "GET", "/bucket?list-type=2&prefix=a%2Fb&delimiter=%2F&max-keys=2", []),
    ("uploads", "POST", "/bucket/key?uploads", []),
    ("upload-part", "PUT", "/bucket/key?partNumber=1&uploadId=abc", []),
    ("delete-objects", "POST", "/bucket?delete", []),
    ("copy", "PUT", "/bucket/key", [["x-amz-copy-source", "/src/a%2Fb?versionId=v1"]]),
    ("rename", "PUT", "/bucket/key", [["x-amz-rename-source", "src/k"]]),
    ("h2-authority", "GET", "/k", [["x-fuzz-authority", "bkt.s3.amazonaws.com"]]),
    ("dot-segments", "GET", "/bucket/a/../b", []),
    ("versions", "GET", "/bucket?versions&key-marker=a", []),
    ("service", "GET", "/", []),
]:
    hdrs = extra if any(h[0] in ("Host", "x-fuzz-authority") for h in extra) else host + extra
    add("request_target", name, head(method, target, hdrs))

# --- POST forms: the SigV4 example (signed by the page) and the SigV2 one ---------------------
ex = doc["post_policy"]
fields = {k: v for k, v in ex["form_fields"].items()}
fields["Policy"] = ex["policy_base64"]
fields["X-Amz-Signature"] = ex["expected_signature"]
lines = [ex["bucket"]] + [f"{k}={v}" for k, v in fields.items()] + ["file=photo.jpg"]
add("post_policy", "sigv4-doc-example", "\n".join(lines) + "\n\n" + ex["policy_json_crlf"])
# The same fields, no signature nor policy field: the harness signs the JSON section.
lines = [ex["bucket"]] + [f"{k}={v}" for k, v in ex["form_fields"].items()
                          if k not in ("Policy", "X-Amz-Signature")] + ["file=photo.jpg"]
add("post_policy", "sigv4-harness-signed", "\n".join(lines) + "\n\n" + ex["policy_json_crlf"])
ex = v2["post"]
policy = base64.b64decode(ex["policy_b64"]).decode()
lines = ["@1196000000", "johnsmith", "key=user/eric/${filename}", "acl=public-read",
         "success_action_redirect=http://johnsmith.s3.amazonaws.com/successful_upload.html",
         "Content-Type=image/jpeg", "x-amz-meta-uuid=14365123651274", "x-amz-meta-tag=",
         "AWSAccessKeyId=0PN5J17HBGZHT7JJ3X82", f"policy={ex['policy_b64']}",
         f"signature={ex['signature']}", "file=photo.jpg"]
add("post_policy", "sigv2-doc-example", "\n".join(lines) + "\n\n" + policy)
add("post_policy", "content-length-range", "bkt\nkey=k\nAWSAccessKeyId=AKIAIOSFODNN7EXAMPLE\n\n"
    '{"expiration":"2030-01-01T00:00:00Z","conditions":[["content-length-range",1,"10"],'
    '{"key":"k"},["eq","$bucket","bkt"],["starts-with","$Content-Type",""]]}')

# --- aws-chunked trailers after an empty body -------------------------------------------------
ex = doc["streaming_signed_trailer"]
name, value = ex["trailers"][0]
sig = ex["expected_trailer_signature"]
# Byte 0: signed (bit 0 clear), crc32c declared (bit 2); byte 1: split seed.
add("chunked_trailer", "doc-signed-crc32c",
    bytes([0x04, 7]) + f"{name}:{value}\r\nx-amz-trailer-signature:{sig}\r\n\r\n".encode())
empty = {
    "crc32": "AAAAAA==", "crc32c": "AAAAAA==", "crc64nvme": "AAAAAAAAAAA=",
    "sha1": base64.b64encode(hashlib.sha1(b"").digest()).decode(),
    "sha256": base64.b64encode(hashlib.sha256(b"").digest()).decode(),
}
for bit, algo in enumerate(["crc32", "crc32c", "crc64nvme", "sha1", "sha256"]):
    line = f"x-amz-checksum-{algo}:{empty[algo]}\r\n".encode()
    add("chunked_trailer", f"unsigned-{algo}", bytes([0x01 | (0x02 << bit), 3]) + line + b"\r\n")
    add("chunked_trailer", f"signed-resigned-{algo}",
        bytes([0x40 | (0x02 << bit), 5]) + line + f"x-amz-trailer-signature:{ZERO_SIG}\r\n\r\n".encode())
add("chunked_trailer", "signed-other-key", bytes([0x80 | 0x02, 9]) +
    f"x-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:{ZERO_SIG}\r\n\r\n".encode())
add("chunked_trailer", "unsigned-two", bytes([0x01 | 0x02 | 0x10, 1]) +
    f"x-amz-checksum-crc32:{empty['crc32']}\r\nX-Amz-Checksum-SHA1: {empty['sha1']} \r\n\r\n".encode())

# --- DeleteObjects, CompleteMultipartUpload, nginx's index (the unit tests' examples) ---------
add("delete_list", "doc-example", """<?xml version="1.0" encoding="UTF-8"?>
<Delete>
    <Object>
         <Key>sample1.txt</Key>
    </Object>
    <Object>
       <Key>sample2.txt</Key>
       <VersionId>OYcLXagmS.WaD..oyH4KRguB95_YhLs7</VersionId>
    </Object>
</Delete>""")
add("delete_list", "boto3", '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object>'
    '<Key>a &amp; b/&lt;c&gt; &#x20AC;</Key></Object><Object><Key> spaced </Key></Object>'
    '<Quiet>true</Quiet></Delete>')
add("delete_list", "cdata-conditional", "<Delete><Object><Key><![CDATA[x<y]]></Key>"
    "<ETag>\"e\"</ETag><Size>3</Size></Object><!-- c --><Quiet>False</Quiet></Delete>")
add("complete_multipart", "doc-example", """<CompleteMultipartUpload>
  <Part>
    <PartNumber>1</PartNumber>
    <ETag>"a54357aff0632cce46d942af68356b38"</ETag>
  </Part>
  <Part>
    <PartNumber>2</PartNumber>
    <ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <ETag>"acbd18db4cc2f85cedef654fccc4a4d8"</ETag>
  </Part>
</CompleteMultipartUpload>""")
add("complete_multipart", "checksums", '<?xml version="1.0"?><CompleteMultipartUpload '
    'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>&quot;ABC&quot;</ETag>'
    '<ChecksumCRC32>AAAAAA==</ChecksumCRC32><PartNumber> 10000 </PartNumber></Part>'
    '</CompleteMultipartUpload>')
add("folder_index", "nginx", r"""[
{ "name":"a0", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":1 },
{ "name":"a", "type":"directory", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT" },
{ "name":"a-b", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":2 },
{ "name":"\u00e9t\u00e9", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":3 },
{ "name":"z", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":4 },
{ "name":"ctl\u0001\"\\", "type":"file", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT", "size":5 },
{ "name":"sock", "type":"other", "mtime":"Sun, 06 Dec 2026 08:17:41 GMT" }
]""")
add("folder_index", "empty", "[]")
add("folder_index", "dots", '[{"name":".","type":"directory","mtime":"Thu, 01 Jan 1970 00:00:00 GMT"},'
    '{"name":"x/y","type":"file","mtime":"Sun, 06 Nov 1994 08:49:37 GMT","size":18446744073709551615}]')

for target, files in seeds.items():
    folder = os.path.join(SEEDS, target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(files)} seeds")
