"""Multipart upload in front of a plain store (nginx, upstream.kind = "http"), driven by
tests/plain_store_multipart.rs: boto3's upload_file at its defaults, the low-level calls,
S3's rules, and the attacks of issue 14 (another key's upload, the staging area, a part that
fails verification, an abort racing a complete, a second proxy taking over).

Extra environment: ENDPOINT2, a second proxy in front of the same nginx (optional)."""

import os
import threading

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
import requests

from common import NGINX_ROOT, client, md5_hex, patterned, run, stored, stored_paths

BUCKET = "mpu"
MIB = 1024 * 1024
STAGING = os.path.join(NGINX_ROOT, ".s3-auth-proxy", "uploads", BUCKET)


def code(err):
    return err.response["Error"]["Code"]


def expect_error(expected, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as err:
        assert code(err) == expected, (expected, err.response)
        return err
    raise AssertionError(f"expected {expected}")


def staged_files(upload_id):
    folder = os.path.join(STAGING, upload_id)
    if not os.path.isdir(folder):
        return None
    return sorted(os.listdir(folder))


def setup():
    s3 = client()
    try:
        s3.create_bucket(Bucket=BUCKET)
    except ClientError as err:
        assert code(err) == "BucketAlreadyOwnedByYou", err.response
    return s3


def multipart_etag(parts):
    digests = b"".join(bytes.fromhex(md5_hex(p)) for p in parts)
    return f'"{md5_hex(digests)}-{len(parts)}"'


def test_upload_file_30_mib_at_the_defaults():
    s3 = setup()
    data = patterned(30 * MIB)
    path = "/tmp/plain-store-mpu-30"
    with open(path, "wb") as f:
        f.write(data)
    etags = []
    s3.meta.events.register(
        "after-call.s3.CompleteMultipartUpload",
        lambda parsed, **_: etags.append(parsed["ETag"]))
    s3.upload_file(path, BUCKET, "big/thirty.bin")
    # boto3's default: 8 MiB parts, so 4 parts; the ETag is the MD5 of their MD5s.
    chunks = [data[i:i + 8 * MIB] for i in range(0, len(data), 8 * MIB)]
    assert etags == [multipart_etag(chunks)], etags
    assert etags[0].endswith('-4"')
    assert stored(BUCKET, "big/thirty.bin") == data
    got = s3.get_object(Bucket=BUCKET, Key="big/thirty.bin")["Body"].read()
    assert got == data
    # The parts are gone; the staging area is never listed.
    assert not os.path.isdir(STAGING) or os.listdir(STAGING) == [], os.listdir(STAGING)
    listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert [(o["Key"], o["ETag"]) for o in listed] == [("big/thirty.bin", etags[0])], listed


def test_low_level_calls_and_listings():
    s3 = setup()
    key = "low/level.bin"
    up = s3.create_multipart_upload(Bucket=BUCKET, Key=key)
    upload_id = up["UploadId"]
    assert up["Key"] == key and len(upload_id) == 22, up
    part1, part2 = patterned(5 * MIB), b"the tail"
    e1 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=part1)
    e2 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=2, Body=part2)
    assert e1["ETag"] == f'"{md5_hex(part1)}"', e1
    parts = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts["Parts"]] == [
        (1, e1["ETag"], 5 * MIB), (2, e2["ETag"], len(part2))], parts
    page = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id, MaxParts=1)
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 1, page
    uploads = s3.list_multipart_uploads(Bucket=BUCKET)
    assert [(u["Key"], u["UploadId"]) for u in uploads["Uploads"]] == [(key, upload_id)], uploads
    assert s3.list_multipart_uploads(Bucket=BUCKET, Prefix="other/").get("Uploads", []) == []
    # Uploading a part again replaces it.
    part2 = b"the new tail"
    e2 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=2, Body=part2)
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1["ETag"]},
                                   {"PartNumber": 2, "ETag": e2["ETag"]}]})
    assert done["ETag"] == multipart_etag([part1, part2]), done
    assert stored(BUCKET, key) == part1 + part2
    assert staged_files(upload_id) is None
    expect_error("NoSuchUpload", s3.list_parts, Bucket=BUCKET, Key=key, UploadId=upload_id)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_s3s_rules_for_completing():
    s3 = setup()
    key = "rules.bin"
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    small = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1,
                           Body=b"too small")["ETag"]
    tail = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=2,
                          Body=b"tail")["ETag"]

    def complete(parts):
        return s3.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]})

    expect_error("EntityTooSmall", complete, [(1, small), (2, tail)])
    expect_error("InvalidPartOrder", complete, [(2, tail), (1, small)])
    expect_error("InvalidPart", complete, [(1, tail)])
    expect_error("InvalidPart", complete, [(3, tail)])
    expect_error("InvalidArgument", s3.upload_part, Bucket=BUCKET, Key=key, UploadId=upload_id,
                 PartNumber=10001, Body=b"x")
    assert stored(BUCKET, key) is None
    # A single small part is a whole object.
    done = complete([(1, small)])
    assert done["ETag"] == multipart_etag([b"too small"])
    assert stored(BUCKET, key) == b"too small"


def test_another_keys_upload_cannot_be_used():
    s3 = setup()
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="mine")["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key="mine", UploadId=upload_id, PartNumber=1,
                          Body=b"my part")["ETag"]
    before = staged_files(upload_id)
    expect_error("NoSuchUpload", s3.upload_part, Bucket=BUCKET, Key="theirs",
                 UploadId=upload_id, PartNumber=2, Body=b"intruder")
    expect_error("NoSuchUpload", s3.list_parts, Bucket=BUCKET, Key="theirs", UploadId=upload_id)
    expect_error("NoSuchUpload", s3.complete_multipart_upload, Bucket=BUCKET, Key="theirs",
                 UploadId=upload_id,
                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    expect_error("NoSuchUpload", s3.abort_multipart_upload, Bucket=BUCKET, Key="theirs",
                 UploadId=upload_id)
    s3.create_bucket(Bucket="mpu-other")
    expect_error("NoSuchUpload", s3.upload_part, Bucket="mpu-other", Key="mine",
                 UploadId=upload_id, PartNumber=2, Body=b"intruder")
    # A made-up or path-like id never reaches the store.
    for bad in ["x" * 22, "../../mpu/mine", upload_id + "/.."]:
        expect_error("NoSuchUpload", s3.upload_part, Bucket=BUCKET, Key="mine",
                     UploadId=bad, PartNumber=1, Body=b"x")
    assert staged_files(upload_id) == before
    assert stored(BUCKET, "theirs") is None and stored("mpu-other", "mine") is None
    s3.abort_multipart_upload(Bucket=BUCKET, Key="mine", UploadId=upload_id)
    assert staged_files(upload_id) is None
    assert stored(BUCKET, "mine") is None


def test_the_staging_area_cannot_be_addressed():
    s3 = setup()
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="secret")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="secret", UploadId=upload_id, PartNumber=1, Body=b"part")
    for bucket, key in [(".s3-auth-proxy", f"uploads/{BUCKET}/{upload_id}/upload.json"),
                        (BUCKET, f".s3-auth-proxy/uploads/{BUCKET}/{upload_id}/upload.json"),
                        (BUCKET, f"a/../.s3-auth-proxy/x")]:
        try:
            s3.get_object(Bucket=bucket, Key=key)
            raise AssertionError(f"{bucket}/{key} was readable")
        except ClientError as err:
            assert code(err) in ("InvalidBucketName", "InvalidArgument", "InvalidURI",
                                 "AccessDenied"), err.response
        except Exception as err:  # botocore refuses the bucket name itself
            assert "bucket" in str(err).lower(), err
    # Raw requests a client library would not even send.
    endpoint = os.environ["ENDPOINT"]
    for path in [f"/.s3-auth-proxy/uploads/{BUCKET}/{upload_id}/upload.json",
                 f"/%2Es3-auth-proxy/uploads/{BUCKET}/",
                 f"/{BUCKET}/%2Es3-auth-proxy/uploads/"]:
        status = requests.get(endpoint + path).status_code
        assert status in (400, 403), (path, status)
    listing = s3.list_objects_v2(Bucket=BUCKET)
    assert all(".s3-auth-proxy" not in o["Key"] for o in listing.get("Contents", []))
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert ".s3-auth-proxy" not in buckets, buckets
    s3.abort_multipart_upload(Bucket=BUCKET, Key="secret", UploadId=upload_id)


def test_a_part_that_fails_verification_is_never_staged():
    s3 = setup()
    key = "tampered.bin"
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    before = staged_files(upload_id)

    def tamper(request, **_):
        # The signed payload hash stays; the bytes change after signing.
        body = request.body
        data = body.read() if hasattr(body, "read") else bytes(body)
        request.body = b"B" + data[1:]

    s3.meta.events.register("before-send.s3.UploadPart", tamper)
    expect_error("XAmzContentSHA256Mismatch", s3.upload_part, Bucket=BUCKET, Key=key,
                 UploadId=upload_id, PartNumber=1, Body=b"A" * (256 * 1024))
    s3.meta.events.unregister("before-send.s3.UploadPart", tamper)
    assert staged_files(upload_id) == before, staged_files(upload_id)
    assert s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)


def test_an_abort_racing_a_complete_leaves_all_or_nothing():
    s3 = setup()
    for round_ in range(6):
        key = f"race/{round_}.bin"
        upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        parts = [patterned(5 * MIB), patterned(5 * MIB)[::-1], b"end"]
        etags = [s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=n + 1,
                                Body=p)["ETag"] for n, p in enumerate(parts)]
        outcome = {}

        def complete():
            try:
                s3.complete_multipart_upload(
                    Bucket=BUCKET, Key=key, UploadId=upload_id,
                    MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e}
                                               for n, e in enumerate(etags)]})
                outcome["complete"] = "ok"
            except ClientError as err:
                outcome["complete"] = code(err)

        def abort():
            try:
                client().abort_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id)
                outcome["abort"] = "ok"
            except ClientError as err:
                outcome["abort"] = code(err)

        threads = [threading.Thread(target=complete), threading.Thread(target=abort)]
        if round_ % 2:
            threads.reverse()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = stored(BUCKET, key)
        # Nothing visible half-made, nothing lost: the whole object or none.
        if outcome["complete"] == "ok":
            assert got == b"".join(parts), (outcome, len(got or b""))
        else:
            # An Abort that removed the upload before or while Complete read it (an Abort
            # deleting the folder file by file can leave Complete seeing some parts only).
            assert outcome["complete"] in ("NoSuchUpload", "InvalidPart"), outcome
            assert got is None, (outcome, len(got))
        assert staged_files(upload_id) is None, (outcome, staged_files(upload_id))
        assert not [p for p in stored_paths() if p.startswith(BUCKET + "/race/") and
                    p != f"{BUCKET}/{key}" and not p.endswith(".bin")]


def test_a_second_proxy_takes_over():
    other = os.environ.get("ENDPOINT2")
    if not other:
        return
    first = setup()
    second = boto3.client("s3", endpoint_url=other, aws_access_key_id=os.environ["ACCESS_KEY"],
                          aws_secret_access_key=os.environ["SECRET_KEY"], region_name="us-east-1",
                          config=first.meta.config)
    key = "replicas.bin"
    upload_id = first.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = [patterned(5 * MIB), b"from the second"]
    e1 = second.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1,
                            Body=parts[0])["ETag"]
    e2 = first.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=2,
                           Body=parts[1])["ETag"]
    listed = second.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)["Parts"]
    assert [p["ETag"] for p in listed] == [e1, e2]
    second.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                   {"PartNumber": 2, "ETag": e2}]})
    assert stored(BUCKET, key) == b"".join(parts)


if __name__ == "__main__":
    run([
        test_upload_file_30_mib_at_the_defaults,
        test_low_level_calls_and_listings,
        test_s3s_rules_for_completing,
        test_another_keys_upload_cannot_be_used,
        test_the_staging_area_cannot_be_addressed,
        test_a_part_that_fails_verification_is_never_staged,
        test_an_abort_racing_a_complete_leaves_all_or_nothing,
        test_a_second_proxy_takes_over,
    ])
