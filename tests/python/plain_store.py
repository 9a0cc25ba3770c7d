"""boto3 in front of a plain store (nginx, upstream.kind = "http"): the proxy's own listings
against a known tree, page by page (pages written out by hand), V1 markers, ListBuckets and the
bucket queries tools make first."""

import os

from botocore.exceptions import ClientError

from common import NGINX_ROOT, client, run

BUCKET = "tree"
KEYS = [
    "a-b",
    "a/x",
    "a/y/z",
    "a0",
    "photos/2024/feb.jpg",
    "photos/2024/jan.jpg",
    "photos/2025/mar.jpg",
    "photos/index.html",
    "zeta",
    "été",
]


def setup():
    s3 = client()
    s3.create_bucket(Bucket=BUCKET)
    for key in KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    # Dot-named files (a later staging area) and an empty folder never list.
    os.makedirs(os.path.join(NGINX_ROOT, BUCKET, ".staging"), exist_ok=True)
    with open(os.path.join(NGINX_ROOT, BUCKET, ".staging", "part"), "wb") as f:
        f.write(b"hidden")
    os.makedirs(os.path.join(NGINX_ROOT, BUCKET, "photos", "empty"), exist_ok=True)
    return s3


def page(resp):
    keys = [o["Key"] for o in resp.get("Contents", [])]
    prefixes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
    return keys, prefixes, resp["IsTruncated"]


def test_list_objects_v2_pages():
    s3 = setup()
    full = s3.list_objects_v2(Bucket=BUCKET)
    assert [o["Key"] for o in full["Contents"]] == KEYS, full
    first = full["Contents"][0]
    assert first["Size"] == 3 and first["ETag"].startswith('"'), first
    assert first["LastModified"].microsecond == 0, first
    again = s3.list_objects_v2(Bucket=BUCKET)
    assert again["Contents"] == full["Contents"], "stable across listings"

    p1 = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/", MaxKeys=2)
    assert page(p1) == (["a-b"], ["a/"], True), p1
    assert p1["KeyCount"] == 2
    p2 = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/", MaxKeys=2,
                            ContinuationToken=p1["NextContinuationToken"])
    assert page(p2) == (["a0"], ["photos/"], True), p2
    p3 = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/", MaxKeys=2,
                            ContinuationToken=p2["NextContinuationToken"])
    assert page(p3) == (["zeta", "été"], [], False), p3
    assert "NextContinuationToken" not in p3

    ph = s3.list_objects_v2(Bucket=BUCKET, Prefix="photos/", Delimiter="/")
    assert page(ph) == (["photos/index.html"], ["photos/2024/", "photos/2025/"], False), ph
    pa = s3.list_objects_v2(Bucket=BUCKET, Prefix="photos/2024/", MaxKeys=1)
    assert page(pa) == (["photos/2024/feb.jpg"], [], True), pa
    pb = s3.list_objects_v2(Bucket=BUCKET, Prefix="photos/2024/", MaxKeys=1,
                            ContinuationToken=pa["NextContinuationToken"])
    assert page(pb) == (["photos/2024/jan.jpg"], [], False), pb
    sa = s3.list_objects_v2(Bucket=BUCKET, StartAfter="photos/2024/jan.jpg", MaxKeys=2)
    assert page(sa) == (["photos/2025/mar.jpg", "photos/index.html"], [], True), sa

    paginated = []
    for resp in s3.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, PaginationConfig={"PageSize": 3}):
        paginated += [o["Key"] for o in resp.get("Contents", [])]
    assert paginated == KEYS, paginated


def test_list_objects_v1_markers():
    s3 = client()
    p1 = s3.list_objects(Bucket=BUCKET, MaxKeys=4)
    assert page(p1) == (KEYS[:4], [], True), p1
    p2 = s3.list_objects(Bucket=BUCKET, Marker="a0", MaxKeys=3)
    assert page(p2) == (KEYS[4:7], [], True), p2
    assert p2["Contents"][0]["Owner"]["ID"], p2
    d = s3.list_objects(Bucket=BUCKET, Delimiter="/", Marker="a/")
    assert page(d) == (["a0", "zeta", "été"], ["photos/"], False), d
    # Keys URL-encoded on the wire (botocore's default for list_objects) come back decoded.
    assert [o["Key"] for o in d["Contents"]][-1] == "été"


def test_buckets_and_queries():
    s3 = client()
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert BUCKET in names, names
    s3.head_bucket(Bucket=BUCKET)
    assert s3.get_bucket_location(Bucket=BUCKET).get("LocationConstraint") is None
    assert "Status" not in s3.get_bucket_versioning(Bucket=BUCKET)
    for call, code in [
        (lambda: s3.head_bucket(Bucket="no-such-bucket"), "404"),
        (lambda: s3.list_objects_v2(Bucket="no-such-bucket"), "NoSuchBucket"),
        (lambda: s3.get_bucket_policy(Bucket=BUCKET), "NoSuchBucketPolicy"),
        (lambda: s3.get_bucket_cors(Bucket=BUCKET), "NoSuchCORSConfiguration"),
        (lambda: s3.create_bucket(Bucket=BUCKET), "BucketAlreadyOwnedByYou"),
        (lambda: s3.delete_bucket(Bucket=BUCKET), "BucketNotEmpty"),
    ]:
        try:
            call()
            raise AssertionError(f"expected {code}")
        except ClientError as e:
            assert e.response["Error"]["Code"] == code, e.response
    # Empty delimiter= (minio, rclone) is a recursive listing.
    import requests  # noqa: F401  (botocore drops empty params, so sign a raw request)
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from common import ACCESS_KEY, ENDPOINT, SECRET_KEY
    url = f"{ENDPOINT}/{BUCKET}?delimiter=&list-type=2&prefix=photos%2F"
    req = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(req)
    resp = requests.get(url, headers=dict(req.headers))
    assert resp.status_code == 200, resp.text
    assert "<Key>photos/2024/feb.jpg</Key>" in resp.text and "CommonPrefixes" not in resp.text, resp.text


def test_list_object_versions():
    s3 = client()
    full = s3.list_object_versions(Bucket=BUCKET)
    versions = full["Versions"]
    assert [v["Key"] for v in versions] == KEYS, full
    assert all(v["VersionId"] == "null" and v["IsLatest"] for v in versions), versions
    assert full.get("DeleteMarkers", []) == []
    listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [(v["Size"], v["ETag"]) for v in versions] == [(o["Size"], o["ETag"]) for o in listed]
    # boto3's paginator follows NextKeyMarker / NextVersionIdMarker.
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=BUCKET, Prefix="photos/", Delimiter="/", PaginationConfig={"PageSize": 1})
    seen = [(tuple(v["Key"] for v in p.get("Versions", [])),
             tuple(c["Prefix"] for c in p.get("CommonPrefixes", []))) for p in pages]
    assert seen == [((), ("photos/2024/",)), ((), ("photos/2025/",)),
                    (("photos/index.html",), ())], seen


if __name__ == "__main__":
    run([test_list_objects_v2_pages, test_list_objects_v1_markers, test_buckets_and_queries,
         test_list_object_versions])
