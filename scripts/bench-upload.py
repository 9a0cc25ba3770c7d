#!/usr/bin/env python3
"""Throughput of a large STREAMING-AWS4-HMAC-SHA256-PAYLOAD (signed aws-chunked) upload through
the proxy, compared in the same run with a plain PUT of the same bytes straight to nginx and with
single-core SHA-256 speed (`openssl speed -evp sha256`). Reports the ratios and the proxy's peak
RSS. Loopback only; everything it starts it stops.

Usage: scripts/bench-upload.py [--size-mib 1024] [--chunk-kib 64] [--runs 3]
                               [--profile profiling] [--perf perf.data]
Needs: nginx, curl, openssl, python3 with botocore (the test venv has it), a release build
(`cargo build --release`; the script runs it; `--profile profiling` builds and runs that profile
instead, and `--perf FILE` records the proxy with `perf record` while the uploads run: see
docs/benchmarks.md, "Profiling").

The aws-chunked body and its chunk signatures are computed here from the SigV4 streaming spec with
Python's hashlib/hmac, the seed signature by botocore: none of it by the proxy's code.
"""
import argparse
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def target_dir():
    """Where cargo puts its builds: target/, or CARGO_TARGET_DIR, or what .cargo/config says."""
    meta = subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout
    return json.loads(meta)["target_directory"]


_GIVEN_PORTS = set()


def free_port():
    """A free loopback port, never one this process handed out already: the kernel may give the
    same port to two binds in a row, and two servers would then be told to share it."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} never opened")


def signing_key(date):
    k = hmac.new(("AWS4" + SECRET_KEY).encode(), date.encode(), hashlib.sha256).digest()
    for part in (REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def write_chunked_body(path, payload_file, size, chunk, amz_date, seed):
    """The aws-chunked wire body, each chunk signed over the previous signature."""
    key = signing_key(amz_date[:8])
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    prev = seed
    with open(payload_file, "rb") as src, open(path, "wb") as out:
        remaining = size
        while True:
            data = src.read(min(chunk, remaining)) if remaining else b""
            remaining -= len(data)
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY_SHA256,
                             hashlib.sha256(data).hexdigest()])
            prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            out.write(f"{len(data):x};chunk-signature={prev}\r\n".encode())
            out.write(data)
            out.write(b"\r\n")
            if not data:
                break


def signed_headers(port, key_path, wire_len, size):
    """botocore signs the head (and stamps the date); returns headers, seed signature, date."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-decoded-content-length": str(size),
        "content-encoding": "aws-chunked",
        "content-length": str(wire_len),
    }
    req = AWSRequest(method="PUT", url=f"http://127.0.0.1:{port}{key_path}", headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(req)
    seed = re.search(r"Signature=([0-9a-f]{64})", req.headers["Authorization"]).group(1)
    return dict(req.headers.items()), seed, req.headers["X-Amz-Date"]


def curl_put(url, body_file, headers):
    cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", body_file, url,
           "-H", "Expect:", "-H", "Transfer-Encoding:"]
    for k, v in headers.items():
        if k.lower() in ("host", "content-length"):
            continue
        cmd += ["-H", f"{k}: {v}"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if out.stdout.strip() not in ("200", "201", "204"):
        raise SystemExit(f"PUT {url} answered {out.stdout} {out.stderr}")
    return elapsed


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    return 0


def cpu_seconds(pid):
    """User + system CPU time the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--chunk-kib", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-md5-etag", action="store_true",
                    help="run the proxy with upstream.md5_etag = false")
    ap.add_argument("--profile", default="release",
                    help="the cargo profile to build and run (profiling: with debug info for perf)")
    ap.add_argument("--perf", metavar="FILE",
                    help="perf record the proxy (DWARF call graphs) into FILE during the uploads")
    args = ap.parse_args()
    size = args.size_mib * 1024 * 1024
    chunk = args.chunk_kib * 1024

    subprocess.run(["cargo", "build", "--profile", args.profile, "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(target_dir(), "debug" if args.profile == "dev" else args.profile,
                          "s3-auth-proxy")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    work = tempfile.mkdtemp(prefix="s3-auth-proxy-bench-")
    procs = []
    try:
        nginx_port, proxy_port, metrics_port = free_port(), free_port(), free_port()
        prefix = os.path.join(work, "nginx")
        os.makedirs(os.path.join(prefix, "data"))
        os.makedirs(os.path.join(prefix, "tmp"))
        conf = open(os.path.join(ROOT, "deploy/nginx/dev-nginx.conf")).read()
        conf = conf.replace("listen 127.0.0.1:9000;", f"listen 127.0.0.1:{nginx_port};")
        with open(os.path.join(prefix, "nginx.conf"), "w") as f:
            f.write(conf)
        user = ["-g", "user root;"] if os.geteuid() == 0 else []
        procs.append(subprocess.Popen([nginx, "-p", prefix + "/", "-c", prefix + "/nginx.conf"] + user))
        with open(os.path.join(work, "secrets.toml"), "w") as f:
            f.write(f'[[credentials]]\naccess_key = "{ACCESS_KEY}"\nsecret_key = "{SECRET_KEY}"\n')
        with open(os.path.join(work, "proxy.toml"), "w") as f:
            f.write(f"""[server]
listen = "127.0.0.1:{proxy_port}"
metrics_listen = "127.0.0.1:{metrics_port}"
threads = 2
[upstream]
address = "127.0.0.1:{nginx_port}"
kind = "http"
md5_etag = {"false" if args.no_md5_etag else "true"}
[auth]
secrets_file = "secrets.toml"
region = "{REGION}"
[log]
level = "warn"
""")
        proxy = subprocess.Popen([binary, "--config", os.path.join(work, "proxy.toml")])
        procs.append(proxy)
        wait_port(nginx_port)
        wait_port(proxy_port)
        rss_idle = vm(proxy.pid, "VmRSS")
        if args.perf:
            # first in procs: stopped (SIGINT, perf then writes FILE) before the proxy
            procs.insert(0, subprocess.Popen(["perf", "record", "-q", "-F", "999", "--call-graph",
                                              "dwarf", "-p", str(proxy.pid), "-o", args.perf]))

        payload = os.path.join(work, "payload.bin")
        with open(payload, "wb") as f:
            block = os.urandom(1024 * 1024)
            for i in range(args.size_mib):
                f.write(hashlib.sha256(block + i.to_bytes(4, "big")).digest() * 32768)
        results = {"plain PUT to nginx": [], "signed aws-chunked PUT through proxy": []}
        proxy_cpu = []
        for run in range(args.runs):
            results["plain PUT to nginx"].append(
                curl_put(f"http://127.0.0.1:{nginx_port}/bench/plain-{run}", payload, {}))
            key_path = f"/bench/chunked-{run}"
            n_chunks = -(-size // chunk)
            wire_len = sum(len(f"{min(chunk, size - i * chunk):x};chunk-signature=") + 64 + 4
                           + min(chunk, size - i * chunk) for i in range(n_chunks))
            wire_len += len("0;chunk-signature=") + 64 + 4
            headers, seed, amz_date = signed_headers(proxy_port, key_path, wire_len, size)
            body = os.path.join(work, "body.chunked")
            write_chunked_body(body, payload, size, chunk, amz_date, seed)
            assert os.path.getsize(body) == wire_len, (os.path.getsize(body), wire_len)
            cpu_before = cpu_seconds(proxy.pid)
            results["signed aws-chunked PUT through proxy"].append(
                curl_put(f"http://127.0.0.1:{proxy_port}{key_path}", body, headers))
            proxy_cpu.append(cpu_seconds(proxy.pid) - cpu_before)
            stored = os.path.join(prefix, "data", key_path.lstrip("/"))
            assert os.path.getsize(stored) == size, "the proxy did not store the whole payload"
            os.remove(body)
            for name in os.listdir(os.path.join(prefix, "data", "bench")):
                os.remove(os.path.join(prefix, "data", "bench", name))
        rss_peak = vm(proxy.pid, "VmHWM")

        speed = subprocess.run(["openssl", "speed", "-evp", "sha256", "-bytes", str(chunk),
                                "-seconds", "3"], capture_output=True, text=True).stdout
        sha_kbps = float(speed.strip().splitlines()[-1].split()[-1].rstrip("k"))
        sha_mbps = sha_kbps * 1000 / 1e6
        mib = size / (1024 * 1024)
        print(f"\npayload {args.size_mib} MiB, {args.chunk_kib} KiB chunks, best of {args.runs} runs, "
              f"upstream.md5_etag = {not args.no_md5_etag}")
        best = {}
        for name, times in results.items():
            best[name] = size / min(times) / 1e6
            print(f"  {name:40s} {best[name]:8.0f} MB/s  (runs: {', '.join(f'{t:.2f}s' for t in times)})")
        print(f"  {'single-core SHA-256 (openssl speed)':40s} {sha_mbps:8.0f} MB/s")
        proxied = best["signed aws-chunked PUT through proxy"]
        print(f"  ratio to SHA-256 limit: {proxied / sha_mbps:.2f}x; to plain PUT: "
              f"{proxied / best['plain PUT to nginx']:.2f}x")
        # The cores are shared by curl, proxy and nginx: the proxy's own cost per byte is its CPU
        # time, whatever the others take.
        per_core = size / min(proxy_cpu) / 1e6
        print(f"  proxy CPU per upload: {', '.join(f'{c:.2f}s' for c in proxy_cpu)} = {per_core:.0f} MB "
              f"per CPU-second ({per_core / sha_mbps:.2f}x single-core SHA-256)")
        print(f"  proxy RSS: idle {rss_idle / 1024:.1f} MiB, peak {rss_peak / 1024:.1f} MiB "
              f"(growth {(rss_peak - rss_idle) / 1024:.1f} MiB for {mib:.0f} MiB uploaded x {args.runs})")
    finally:
        for p in procs:
            if args.perf and p.args[0] == "perf":
                p.send_signal(signal.SIGINT)
                p.wait(timeout=120)
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
