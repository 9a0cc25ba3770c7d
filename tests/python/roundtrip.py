"""boto3 PUT / GET / HEAD / DELETE through the proxy, compared with nginx's disk."""

from botocore.exceptions import ClientError

from common import SPECIAL_KEYS, client, md5_hex, patterned, run, stored


def round_trip(s3, key, body):
    put = s3.put_object(Bucket="bucket", Key=key, Body=body)
    assert put.get("ETag") == f'"{md5_hex(body)}"', (key, put["ResponseMetadata"])
    assert stored("bucket", key) == body, f"nginx's copy of {key!r} differs"

    got = s3.get_object(Bucket="bucket", Key=key)["Body"].read()
    assert got == body, f"GET {key!r} returned other bytes"

    head = s3.head_object(Bucket="bucket", Key=key)
    assert head["ContentLength"] == len(body), (key, head["ContentLength"])

    s3.delete_object(Bucket="bucket", Key=key)
    assert stored("bucket", key) is None, f"{key!r} still on disk after DELETE"

    try:
        s3.get_object(Bucket="bucket", Key=key)
        raise AssertionError(f"GET of deleted {key!r} succeeded")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchKey", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    try:
        s3.head_object(Bucket="bucket", Key=key)
        raise AssertionError(f"HEAD of deleted {key!r} succeeded")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response


def test_small_object():
    round_trip(client(), "hello.txt", b"hello from boto3")


def test_large_object():
    round_trip(client(), "big/blob.bin", patterned(5 * 1024 * 1024 + 11))


def test_empty_object():
    round_trip(client(), "empty", b"")


def test_special_keys():
    s3 = client()
    for key in SPECIAL_KEYS:
        round_trip(s3, key, f"contents of {key}".encode())


def test_delete_of_a_missing_key_succeeds():
    response = client().delete_object(Bucket="bucket", Key="never-written")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204, response


if __name__ == "__main__":
    run([
        test_small_object,
        test_large_object,
        test_empty_object,
        test_special_keys,
        test_delete_of_a_missing_key_succeeds,
    ])
