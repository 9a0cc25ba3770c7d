"""SIGTERM with an upload in flight, for scripts/test-deploy.sh.

    python inflight_put.py http://127.0.0.1:PORT CONTAINER STORED_FILE

Sends a signed PUT's head and half its body, has podman send SIGTERM to the container (the proxy
is its PID 1: exec-form ENTRYPOINT, no init), waits a second, sends the rest: the upload must
still succeed (200) with the whole body in STORED_FILE (the backend's storage, from the host), and
the container must then exit with status 0 well within Kubernetes' 30 s grace period. Exit 0 only if all of that holds.
"""

import hashlib
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlparse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3_roundtrip import KEY_ID, SECRET


def main():
    endpoint, container, stored_file = sys.argv[1:4]
    url = urlparse(endpoint)
    body = os.urandom(2 * 1024 * 1024)
    path = "/demo/deploy-test/inflight.bin"
    req = AWSRequest(
        method="PUT",
        url=endpoint + path,
        data=body,
        headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()},
    )
    SigV4Auth(Credentials(KEY_ID, SECRET), "s3", "us-east-1").add_auth(req)
    head = f"PUT {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in req.headers.items() if k.lower() != "host")
    head += "\r\n"

    sock = socket.create_connection((url.hostname, url.port), timeout=30)
    half = len(body) // 2
    sock.sendall(head.encode() + body[:half])
    time.sleep(0.5)
    t_term = time.time()
    subprocess.run(["podman", "kill", "--signal", "TERM", container], check=True,
                   stdout=subprocess.DEVNULL)
    time.sleep(1.0)
    sock.sendall(body[half:])
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    status = answer.split(b"\r\n", 1)[0].decode(errors="replace")
    sock.close()
    print(f"  upload in flight at SIGTERM: {status}")
    ok = status.startswith("HTTP/1.1 200")
    try:
        with open(stored_file, "rb") as f:
            same = f.read() == body
    except OSError:
        same = False
    print(f"  the backend holds the whole body: {same}")
    ok &= same

    # the container ends by itself once the request has drained
    waited = subprocess.run(["podman", "wait", container], capture_output=True, text=True, timeout=40)
    took = time.time() - t_term
    code = waited.stdout.strip()
    print(f"  container exited with status {code}, {took:.1f}s after SIGTERM")
    ok &= code == "0" and took < 30
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
