"""boto3 in front of a plain store (nginx, upstream.kind = "http"): the proxy's own listings
against a known tree, page by page (pages written out by hand), V1 markers, ListBuckets and the
bucket queries tools make first; DeleteObjects (Quiet, missing keys, keys the store cannot hold)
and CopyObject (within and across buckets, special keys, onto itself, what is refused)."""

import os

from botocore.exceptions import ClientError

from common import NGINX_ROOT, SPECIAL_KEYS, client, run, stored

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


def expect_error(call, code):
    try:
        call()
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response
        return e.response
    raise AssertionError(f"expected {code}")


OBJS = "objs"


def test_delete_objects():
    s3 = client()
    s3.create_bucket(Bucket=OBJS)
    for key in ["d/1", "d/2", "d/3", "d/4", "keep", "folder/inside"]:
        s3.put_object(Bucket=OBJS, Key=key, Body=b"x")
    # Existing and missing keys: all reported deleted, as S3 does.
    resp = s3.delete_objects(Bucket=OBJS, Delete={"Objects": [
        {"Key": "d/1"}, {"Key": "missing"}, {"Key": "d/2"}]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == ["d/1", "d/2", "missing"], resp
    assert "Errors" not in resp, resp
    assert stored(OBJS, "d/1") is None and stored(OBJS, "d/2") is None
    assert stored(OBJS, "keep") == b"x"
    # Quiet: only what failed is listed. A folder is never deleted (its name with a '/' is a
    # per-key error, without it there is no such object); nor is the reserved name.
    resp = s3.delete_objects(Bucket=OBJS, Delete={"Quiet": True, "Objects": [
        {"Key": "d/3"}, {"Key": "folder/"}, {"Key": "folder"},
        {"Key": "x/.s3-auth-proxy/no-index"}]})
    assert "Deleted" not in resp, resp
    errors = {e["Key"]: e["Code"] for e in resp["Errors"]}
    assert errors == {"folder/": "NotImplemented",
                      "x/.s3-auth-proxy/no-index": "InvalidArgument"}, resp
    assert stored(OBJS, "d/3") is None
    assert stored(OBJS, "folder/inside") == b"x"
    # A version or a condition is not ignored: that key is not deleted.
    resp = s3.delete_objects(Bucket=OBJS, Delete={"Objects": [
        {"Key": "keep", "VersionId": "v1"}, {"Key": "d/4"}]})
    assert [e["Key"] for e in resp["Errors"]] == ["keep"], resp
    assert resp["Errors"][0]["Code"] == "NotImplemented", resp
    assert [d["Key"] for d in resp["Deleted"]] == ["d/4"], resp
    assert stored(OBJS, "keep") == b"x"
    # Many keys at once.
    many = [f"many/{i:03}" for i in range(300)]
    os.makedirs(os.path.join(NGINX_ROOT, OBJS, "many"), exist_ok=True)
    for key in many:
        with open(os.path.join(NGINX_ROOT, OBJS, key), "wb") as f:
            f.write(b"m")
    resp = s3.delete_objects(Bucket=OBJS, Delete={"Objects": [{"Key": k} for k in many]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == many, resp
    assert os.listdir(os.path.join(NGINX_ROOT, OBJS, "many")) == []
    expect_error(lambda: s3.delete_objects(
        Bucket="no-such-bucket", Delete={"Objects": [{"Key": "a"}]}), "NoSuchBucket")


def test_copy_object():
    s3 = client()
    data = bytes(range(256)) * 1000
    s3.put_object(Bucket=OBJS, Key="src/a.bin", Body=data)
    resp = s3.copy_object(Bucket=OBJS, Key="dst/b.bin",
                          CopySource={"Bucket": OBJS, "Key": "src/a.bin"})
    head = s3.head_object(Bucket=OBJS, Key="dst/b.bin")
    result = resp["CopyObjectResult"]
    assert result["ETag"] == head["ETag"], (resp, head)
    assert result["LastModified"] == head["LastModified"], (resp, head)
    assert stored(OBJS, "dst/b.bin") == data
    s3.create_bucket(Bucket="objs-2")
    s3.copy_object(Bucket="objs-2", Key="copied", CopySource=f"{OBJS}/src/a.bin")
    assert stored("objs-2", "copied") == data
    # Keys that must survive the trip, as source and as destination (nginx decodes a WebDAV
    # Destination once, as it decodes the request target).
    for key in SPECIAL_KEYS + ["q?mark#hash%3F&amp;.txt", "pct%25%2e%2e/x"]:
        s3.put_object(Bucket=OBJS, Key=key, Body=key.encode())
        s3.copy_object(Bucket=OBJS, Key="copies/" + key,
                       CopySource={"Bucket": OBJS, "Key": key})
        assert stored(OBJS, "copies/" + key) == key.encode(), key
        got = s3.get_object(Bucket=OBJS, Key="copies/" + key)["Body"].read()
        assert got == key.encode(), key
    # Onto itself: only with REPLACE (the store keeps no metadata: nothing changes).
    expect_error(lambda: s3.copy_object(Bucket=OBJS, Key="src/a.bin",
                                        CopySource=f"{OBJS}/src/a.bin"), "InvalidRequest")
    same = s3.copy_object(Bucket=OBJS, Key="src/a.bin", CopySource=f"{OBJS}/src/a.bin",
                          MetadataDirective="REPLACE", Metadata={"k": "v"})
    assert same["CopyObjectResult"]["ETag"] == s3.head_object(Bucket=OBJS, Key="src/a.bin")["ETag"]
    assert stored(OBJS, "src/a.bin") == data
    err = expect_error(lambda: s3.copy_object(Bucket=OBJS, Key="dst/none",
                                              CopySource=f"{OBJS}/src/none"), "NoSuchKey")
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 404, err
    expect_error(lambda: s3.copy_object(Bucket=OBJS, Key="dst/none",
                                        CopySource="no-such-bucket/src"), "NoSuchBucket")
    for extra in [dict(CopySourceIfMatch=head["ETag"]),
                  dict(CopySourceIfModifiedSince=head["LastModified"])]:
        expect_error(lambda: s3.copy_object(Bucket=OBJS, Key="dst/cond",
                                            CopySource=f"{OBJS}/src/a.bin", **extra),
                     "NotImplemented")
    expect_error(lambda: s3.copy_object(
        Bucket=OBJS, Key="dst/v",
        CopySource={"Bucket": OBJS, "Key": "src/a.bin", "VersionId": "v1"}), "NotImplemented")
    assert stored(OBJS, "dst/none") is None and stored(OBJS, "dst/cond") is None
    assert stored(OBJS, "dst/v") is None
    staging = os.path.join(NGINX_ROOT, ".s3-auth-proxy", "copies")
    assert os.listdir(staging) == [], os.listdir(staging)


def test_listing_etags_are_the_md5s_the_proxy_recorded():
    import datetime
    import hashlib
    s3 = client()
    s3.create_bucket(Bucket="etags")
    s3.put_object(Bucket="etags", Key="d/one", Body=b"first")
    listed = s3.list_objects_v2(Bucket="etags")["Contents"]
    assert [(o["Key"], o["ETag"]) for o in listed] == [
        ("d/one", '"%s"' % hashlib.md5(b"first").hexdigest())], listed
    # Overwritten: the new MD5; the old record is stale and the listing removes it.
    s3.put_object(Bucket="etags", Key="d/one", Body=b"second!")
    listed = s3.list_objects_v2(Bucket="etags")["Contents"]
    assert listed[0]["ETag"] == '"%s"' % hashlib.md5(b"second!").hexdigest(), listed
    records = os.path.join(NGINX_ROOT, ".s3-auth-proxy", "etags", "etags", "d")
    assert len(os.listdir(records)) == 1, os.listdir(records)
    # Written behind the proxy's back: nginx's ETag, never a wrong MD5.
    path = os.path.join(NGINX_ROOT, "etags", "d", "one")
    with open(path, "wb") as f:
        f.write(b"changed")  # the same size, a later time
    stat = os.stat(path)
    os.utime(path, (stat.st_atime, stat.st_mtime + 2))
    listed = s3.list_objects_v2(Bucket="etags")["Contents"]
    assert "-" in listed[0]["ETag"], listed
    # A client's own Date never becomes the object's LastModified: the proxy gives its own.
    def old_date(request, **_):
        request.headers["Date"] = "Sat, 01 Jan 2000 00:00:00 GMT"
    s3.meta.events.register("before-sign.s3.PutObject", old_date)
    s3.put_object(Bucket="etags", Key="dated", Body=b"x")
    s3.meta.events.unregister("before-sign.s3.PutObject", old_date)
    head = s3.head_object(Bucket="etags", Key="dated")
    age = datetime.datetime.now(datetime.timezone.utc) - head["LastModified"]
    assert age < datetime.timedelta(minutes=5), head["LastModified"]


if __name__ == "__main__":
    run([test_list_objects_v2_pages, test_list_objects_v1_markers, test_buckets_and_queries,
         test_list_object_versions, test_delete_objects, test_copy_object,
         test_listing_etags_are_the_md5s_the_proxy_recorded])
