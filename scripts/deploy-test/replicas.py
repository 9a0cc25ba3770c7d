"""Two proxy replicas sharing one secret, for scripts/test-deploy.sh (step 2b).

    python replicas.py rotate    SECRETS_FILE|SECRET_DIR NAME=PID NAME=PID
    python replicas.py multipart NAME=PID NAME=PID
    python replicas.py kill      http://127.0.0.1:PORT DATA_DIR NAME=PID NAME=PID
    python replicas.py exact     http://127.0.0.1:PORT

NAME is a replica's container, PID its process on the host. Each replica is addressed on its own
loopback: a worker thread per replica enters the replica's network namespace (setns on
/proc/PID/ns/net, as `nsenter -n` does) and makes every request to that replica from there, to
127.0.0.1:8080 (S3) and 127.0.0.1:9090 (/metrics). Nothing is sent to a non-loopback address.

  rotate     the shared secrets file is rewritten in place (a key added, the read-only key
             dropped), as an operator edits a compose secret; given a directory (the host side
             of a mounted Kubernetes Secret), the kubelet's ..data symlink swap of
             secret_rotation.py does it instead. Each replica must accept the new key and refuse
             the dropped one within auth.secrets_poll_interval (2 s) plus a margin, measured per
             replica.
  multipart  one multipart upload whose parts go to different replicas (created on the first,
             part 1 through the first, part 2 through the second, completed on the second, read
             back from the first): the upload's state is on the store, not in a replica.
  kill       a large signed PUT streams through the balancer; the replica serving it (the one
             whose s3_proxy_in_flight_requests is 1) is killed with SIGKILL once nginx holds part
             of the body in its upload temp file (the control): the client
             must see an error (5xx or a reset, not 2xx nor 4xx), the store must hold neither the object
             nor a partial upload file, and the next PUT through the same address must succeed,
             served by the other replica (its PUT 2xx counter moves, and only its).
  exact      through the balancer: a key with a space, `+`, `%`, `~`, `;`, `=` and non-ASCII,
             PUT with a header signature and read back by a presigned URL (the signature in the
             query), then listed. Tried against broken balancers: `Host $host` (the port
             dropped) fails the signature; `proxy_pass` with a URI part, which re-encodes the
             path, still passes (the proxy verifies what the path decodes to), so this does not
             catch that one: the shape test pins `proxy_pass` without a URI part.
Exit 0 only if everything checked holds.
"""

import ctypes
import hashlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from s3_roundtrip import KEY_ID, RO_KEY_ID, RO_SECRET, SECRET, client
from secret_rotation import V2, credentials_toml, write_version

POLL_INTERVAL = 2.0  # auth.secrets_poll_interval in deploy/proxy.container.toml
MARGIN = 4.0  # a poll, the file read, a few requests of the check itself
CLONE_NEWNET = 0x40000000
LIBC = ctypes.CDLL(None, use_errno=True)


def enter_netns(pid):
    """Move the calling thread (only it) into the network namespace of process `pid`."""
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        if LIBC.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into the network namespace of {pid}: {os.strerror(err)}")
    finally:
        os.close(fd)


class Replica:
    """One proxy replica, reached on its own loopback from a thread inside its namespace."""

    def __init__(self, spec):
        self.name, pid = spec.split("=", 1)
        self.pid = int(pid)
        self.pool = ThreadPoolExecutor(1, initializer=enter_netns, initargs=(self.pid,))
        self.endpoint = "http://127.0.0.1:8080"

    def call(self, fn, *args):
        return self.pool.submit(fn, *args).result()

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def metrics(self):
        def scrape():
            with urllib.request.urlopen("http://127.0.0.1:9090/metrics", timeout=3) as r:
                return r.read().decode()

        series = {}
        for line in self.call(scrape).splitlines():
            m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)", line)
            if m:
                series[m.group(1)] = float(m.group(2))
        return series

    def puts_ok(self):
        return self.metrics().get('s3_proxy_requests_total{method="PUT",status="2xx"}', 0.0)

    def in_flight(self):
        return self.metrics().get("s3_proxy_in_flight_requests", -1.0)


def outcome(endpoint, key_id, secret):
    """What a signed PUT with this key gets: "ok" or the S3 error code."""
    try:
        client(endpoint, key_id, secret).put_object(
            Bucket="demo", Key=f"deploy-test/replicas-{key_id}", Body=b"rotation"
        )
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]
    except Exception as e:  # noqa: BLE001 - report whatever happened
        return repr(e)


def wait_for(replica, cases, deadline, start):
    """Poll until every (key, secret, wanted) holds on this replica; seconds taken or None."""
    while True:
        got = [outcome(replica.endpoint, k, s) for k, s, _ in cases]
        if got == [w for _, _, w in cases]:
            return time.time() - start, got
        if time.time() > deadline:
            return None, got
        time.sleep(0.2)


# --- rotate ------------------------------------------------------------------------------------------


def rotate(secrets_file, replicas):
    before = [(KEY_ID, SECRET, "ok"), (*V2, "InvalidAccessKeyId"), (RO_KEY_ID, RO_SECRET, "AccessDenied")]
    after = [(KEY_ID, SECRET, "ok"), (*V2, "ok"), (RO_KEY_ID, RO_SECRET, "InvalidAccessKeyId")]
    ok = True
    for r in replicas:
        took, got = r.call(wait_for, r, before, time.time() + 10, time.time())
        print(f"  {r.name} before rotation: {got}")
        ok &= took is not None
    new = credentials_toml((KEY_ID, SECRET), V2)
    if os.path.isdir(secrets_file):
        write_version(secrets_file, "..2026_01_01_00_00_00.000000002", new)
    else:
        # In place, as docs/deploy.md tells operators (a compose secret is a bind mount of the file).
        with open(secrets_file, "w") as f:
            f.write(new)
    start = time.time()
    limit = POLL_INTERVAL + MARGIN
    futures = [r.submit(wait_for, r, after, start + limit, start) for r in replicas]
    for r, fut in zip(replicas, futures):
        took, got = fut.result()
        if took is None:
            print(f"  {r.name}: rotation NOT picked up within {limit:.0f}s: {got}")
            ok = False
        else:
            print(f"  {r.name}: new key accepted, dropped key refused {took:.1f}s after the write: {got}")
    return ok


# --- multipart ---------------------------------------------------------------------------------------


def multipart(replicas):
    a, b = replicas
    key = "deploy-test/across-replicas.bin"
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1024 * 1024 + 7)]
    puts = [r.puts_ok() for r in replicas]
    s3a = a.call(client, a.endpoint, KEY_ID, SECRET)
    s3b = b.call(client, b.endpoint, KEY_ID, SECRET)
    upload_id = a.call(lambda: s3a.create_multipart_upload(Bucket="demo", Key=key)["UploadId"])
    e1 = a.call(lambda: s3a.upload_part(Bucket="demo", Key=key, UploadId=upload_id, PartNumber=1,
                                        Body=parts[0])["ETag"])
    e2 = b.call(lambda: s3b.upload_part(Bucket="demo", Key=key, UploadId=upload_id, PartNumber=2,
                                        Body=parts[1])["ETag"])
    listed = b.call(lambda: [p["PartNumber"] for p in s3b.list_parts(
        Bucket="demo", Key=key, UploadId=upload_id).get("Parts", [])])
    b.call(lambda: s3b.complete_multipart_upload(
        Bucket="demo", Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]}))
    got = a.call(lambda: s3a.get_object(Bucket="demo", Key=key)["Body"].read())
    moved = [r.puts_ok() - p for r, p in zip(replicas, puts)]
    same = hashlib.sha256(got).digest() == hashlib.sha256(b"".join(parts)).digest()
    print(f"  created on {a.name}, part 1 via {a.name}, part 2 via {b.name}; {b.name} lists parts {listed}")
    print(f"  completed on {b.name}, read back from {a.name}: {len(got)} bytes, "
          f"{'equal' if same else 'DIFFER'}; PUT 2xx per replica: +{moved[0]:.0f} / +{moved[1]:.0f}")
    return same and listed == [1, 2] and moved == [1.0, 1.0]


# --- kill --------------------------------------------------------------------------------------------


def signed_put_head(endpoint, path, body):
    url = urlparse(endpoint)
    req = AWSRequest(method="PUT", url=endpoint + path, data=b"",
                     headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    SigV4Auth(Credentials(KEY_ID, SECRET), "s3", "us-east-1").add_auth(req)
    head = f"PUT {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in req.headers.items() if k.lower() != "host")
    return (head + "\r\n").encode()


def send_rest(sock, body, offset):
    """Send the rest of the body; what the client saw: a status line, or the error."""
    try:
        for i in range(offset, len(body), 256 * 1024):
            sock.sendall(body[i:i + 256 * 1024])
        sent = "the whole body sent"
    except OSError as e:
        sent = f"sending failed: {e.__class__.__name__}"
    try:
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        status = answer.split(b"\r\n", 1)[0].decode(errors="replace") or "connection closed, no answer"
    except OSError as e:
        status = f"{e.__class__.__name__}"
    return sent, status


def leftovers(data_dir, name):
    """Files on the store that are the object or any part of it (temp files included)."""
    found = []
    for top in ("objects", ".upload-tmp"):
        for folder, _, files in os.walk(os.path.join(data_dir, top)):
            found += [os.path.join(folder, f) for f in files
                      if top == ".upload-tmp" or name in f]
    return found


def kill(endpoint, data_dir, replicas):
    url = urlparse(endpoint)
    body = os.urandom(48 * 1024 * 1024)
    path = "/demo/deploy-test/killed-mid-upload.bin"
    puts = [r.puts_ok() for r in replicas]

    sock = socket.create_connection((url.hostname, url.port), timeout=20)
    first = 8 * 1024 * 1024
    sock.sendall(signed_put_head(endpoint, path, body) + body[:first])
    serving, deadline = [], time.time() + 5
    while time.time() < deadline:
        flights = [r.in_flight() for r in replicas]
        serving = [r for r, n in zip(replicas, flights) if n >= 1]
        if len(serving) == 1 and sorted(flights) == [0.0, 1.0]:
            break
        time.sleep(0.1)
    if len(serving) != 1:
        print(f"  could not tell which replica serves the upload (in flight: {flights})")
        return False
    victim = serving[0]
    other = next(r for r in replicas if r is not victim)
    # The control: the upload has reached the store (nginx's temp file of it exists), so the
    # check for leftovers below looks where a partial upload would be.
    deadline = time.time() + 5
    while not (partial := leftovers(data_dir, "killed-mid-upload")) and time.time() < deadline:
        time.sleep(0.1)
    print(f"  upload in flight on {victim.name} (s3_proxy_in_flight_requests 1; {other.name}: 0), "
          f"{first >> 20} of {len(body) >> 20} MiB sent; on the store meanwhile: "
          f"{[p.removeprefix(data_dir) for p in partial]}")
    if not partial:
        return False
    subprocess.run(["podman", "kill", "--signal", "KILL", victim.name], check=True,
                   stdout=subprocess.DEVNULL)
    sent, status = send_rest(sock, body, first)
    sock.close()
    # a 5xx from the balancer or a cut connection; a 4xx would be a refusal, not this failure
    failed = status.startswith("HTTP/1.1 5") or not status.startswith("HTTP/")
    print(f"  SIGKILL {victim.name}: client {sent}; answer: {status}")

    time.sleep(1.0)  # nginx notices the cut connection and drops its temp file
    left = leftovers(data_dir, "killed-mid-upload")
    print(f"  on the store: {left or 'no object, no partial upload file'}")

    s3 = client(endpoint, KEY_ID, SECRET)
    after = os.urandom(1024 * 1024)
    try:
        s3.put_object(Bucket="demo", Key="deploy-test/after-kill.bin", Body=after)
        got = s3.get_object(Bucket="demo", Key="deploy-test/after-kill.bin")["Body"].read()
        next_ok = got == after
    except Exception as e:  # noqa: BLE001 - report whatever happened
        print(f"  next PUT through {endpoint}: {e!r}")
        next_ok = False
    moved = other.puts_ok() - puts[replicas.index(other)]
    print(f"  next PUT+GET through {url.netloc}: {'ok' if next_ok else 'FAILED'}, "
          f"served by {other.name} (its PUT 2xx +{moved:.0f})")
    return failed and not left and next_ok and moved == 1.0


# --- exact -------------------------------------------------------------------------------------------


def exact(endpoint):
    key = "deploy-test/odd name+%41~;=ü.bin"
    body = os.urandom(4096)
    s3 = client(endpoint, KEY_ID, SECRET)
    s3.put_object(Bucket="demo", Key=key, Body=body)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "demo", "Key": key}, ExpiresIn=300)
    with urllib.request.urlopen(url, timeout=10) as r:
        got = r.read()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="demo", Prefix="deploy-test/odd")["Contents"]]
    print(f"  PUT {key!r} (header signature), GET by presigned URL {urlparse(url).path}: "
          f"{'bytes equal' if got == body else 'DIFFER'}; listed as {listed}")
    return got == body and listed == [key]


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "rotate":
        ok = rotate(args[0], [Replica(s) for s in args[1:3]])
    elif mode == "multipart":
        ok = multipart([Replica(s) for s in args[0:2]])
    elif mode == "exact":
        ok = exact(args[0])
    elif mode == "kill":
        ok = kill(args[0], args[1], [Replica(s) for s in args[2:4]])
    else:
        sys.exit(f"unknown mode {mode}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
