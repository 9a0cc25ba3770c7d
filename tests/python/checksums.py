"""boto3 put_object with each ChecksumAlgorithm (botocore's default checksum settings, so over
HTTPS the checksum travels as an aws-chunked trailer), read back and compared with nginx's disk.

CRC32C and CRC64NVME need the `awscrt` package (botocore raises MissingDependencyException
without it); without it those algorithms are reported as skipped and the others still tested.
"""

import os

os.environ["CHECKSUMS"] = "default"  # common.client keeps botocore's defaults

from common import client, run, patterned, stored  # noqa: E402

try:
    import awscrt  # noqa: F401
    HAVE_CRT = True
except ImportError:
    HAVE_CRT = False

NEED_CRT = ["CRC32C", "CRC64NVME"]
ALGORITHMS = ["CRC32", "SHA256"] + (NEED_CRT if HAVE_CRT else [])
SIZES = [1024, 5 * 1024 * 1024]


def recording_client():
    """A client that remembers the headers of every PutObject it sends."""
    s3 = client()
    sent = []

    def remember(request, **_kwargs):
        sent.append({k.lower(): (v.decode() if isinstance(v, bytes) else v)
                     for k, v in request.headers.items()})

    s3.meta.events.register("before-send.s3.PutObject", remember)
    return s3, sent


def check(algorithm, size):
    s3, sent = recording_client()
    key = f"checksums/{algorithm.lower()}-{size}.bin"
    body = patterned(size)
    s3.put_object(Bucket="bucket", Key=key, Body=body, ChecksumAlgorithm=algorithm)

    headers = sent[-1]
    trailer = f"x-amz-checksum-{algorithm.lower()}"
    assert "aws-chunked" in headers.get("content-encoding", ""), headers
    assert headers.get("x-amz-trailer") == trailer, headers
    assert headers.get("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER", headers

    got = s3.get_object(Bucket="bucket", Key=key)["Body"].read()
    assert got == body, f"GET {key} returned {len(got)} other bytes"
    assert stored("bucket", key) == body, f"nginx's copy of {key} differs"


def make_test(algorithm, size):
    def test():
        check(algorithm, size)
    test.__name__ = f"test_{algorithm.lower()}_{size}_bytes"
    return test


if __name__ == "__main__":
    if not HAVE_CRT:
        print(f"SKIPPED {', '.join(NEED_CRT)}: `import awscrt` failed (botocore needs the awscrt "
              f"package for them); {', '.join(ALGORITHMS)} are still tested", flush=True)
    run([make_test(a, s) for a in ALGORITHMS for s in SIZES])
