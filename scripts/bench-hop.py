#!/usr/bin/env python3
"""What the proxy hop costs against nginx's own proxy hop (issue 16), in one run.

Starts, on loopback ports of its own:
  backend      nginx with WebDAV (deploy/nginx/dev-nginx.conf), the store behind both hops;
  proxy_pass   nginx in front of it: keepalive upstream, `proxy_request_buffering off`, 2 workers,
               its access log on (to a file);
  proxy        the s3-auth-proxy build in front of the same backend, 2 threads, `log.level =
               "info"` so its access log is on, stderr to a file (as users run it);
  proxy-nomd5  (PUTs only) the same with `upstream.md5_etag = false`.
Then alternates rounds (the order flips every round) of
  get64 / get1024   wrk, 1 KiB GET at 64 / 1,024 connections, a SigV4 header-signed request (the
                    same request bytes to both hops; nginx ignores the signature);
  presigned64       the same through a SigV4 presigned URL;
  put-signed        1 GiB curl PUT, the payload's real SHA-256 in x-amz-content-sha256;
  put-chunked       1 GiB signed aws-chunked PUT (body file made here; proxy only: nginx cannot
                    decode it, its reference is proxy_pass's plain PUT of the same payload);
  put-crc32 / put-crc64nvme
                    1 GiB STREAMING-UNSIGNED-PAYLOAD-TRAILER PUT with an x-amz-checksum-crc32 /
                    -crc64nvme trailer (awscrt computes it), proxy only, as put-chunked;
  idle1000          (before and after the rounds) 1,000 keep-alive connections, one signed GET
                    each, then left idle: each hop's RSS with them open;
and reports, per workload and hop, medians of: requests/s, p99, the hop's own CPU per request or
per GiB (utime+stime from /proc/<pid>/stat, summed over nginx's workers), with paired ratios
(proxy / proxy_pass, the same round); single-core SHA-256 and MD5 s/GiB (Python hashlib, this
run); RSS. Every signature is made here with botocore or hashlib/hmac, never by the proxy's code.

Usage: scripts/bench-hop.py [--rounds 5] [--seconds 10] [--put-mib 1024] [--only get|put]
                            [--profile release] [--smoke]
  --smoke    what scripts/test.sh runs: the debug build, 1 round of 2 s per GET workload and
             16 MiB PUTs (< 1 min): the script and every path still work; figures mean nothing.
Needs: nginx, wrk, curl, python3 with botocore (the test venv), cargo.
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import importlib.util
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
CHUNK = 64 * 1024
GIB = 1024 ** 3
CLK = os.sysconf("SC_CLK_TCK")


def _load_upload_bench():
    """scripts/bench-upload.py's helpers (target_dir, free_port, wait_port), as
    scripts/bench-plain-store.py loads them."""
    sys.dont_write_bytecode = True  # no scripts/__pycache__
    spec = importlib.util.spec_from_file_location(
        "bench_upload", os.path.join(ROOT, "scripts", "bench-upload.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


upload_bench = _load_upload_bench()
target_dir, free_port, wait_port = upload_bench.target_dir, upload_bench.free_port, upload_bench.wait_port


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def rss_kib(pids, field="VmRSS"):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


class Server:
    """A process (and its workers) whose CPU time is the hop's cost."""

    def __init__(self, name, popen, port, workers_of_master=False):
        self.name, self.popen, self.port = name, popen, port
        self.workers_of_master = workers_of_master

    def pids(self):
        if self.workers_of_master:
            return children(self.popen.pid) or [self.popen.pid]
        return [self.popen.pid]

    def cpu(self):
        return cpu_ticks(self.pids()) / CLK


# --- configs -------------------------------------------------------------------------------------

def nginx_prefix(work, name, conf):
    prefix = os.path.join(work, name)
    os.makedirs(os.path.join(prefix, "data"), exist_ok=True)
    os.makedirs(os.path.join(prefix, "tmp"), exist_ok=True)
    with open(os.path.join(prefix, "nginx.conf"), "w") as f:
        f.write(conf)
    return prefix


def start_nginx(prefix):
    user = ["-g", "user root;"] if os.geteuid() == 0 else []
    return subprocess.Popen(["nginx", "-p", prefix + "/", "-c", prefix + "/nginx.conf"] + user)


def proxy_pass_conf(port, backend_port):
    # nginx's own hop as users run it: keepalive to the upstream, request bodies streamed,
    # the default combined access log to a file.
    return f"""worker_processes 2;
pid nginx.pid;
error_log error.log warn;
daemon off;
worker_rlimit_nofile 8192;
events {{ worker_connections 4096; }}
http {{
    access_log access.log combined;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    upstream store {{ server 127.0.0.1:{backend_port}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        client_max_body_size 0;
        location / {{
            proxy_pass http://store;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
        }}
    }}
}}
"""


def proxy_conf(port, metrics_port, backend_port, md5_etag):
    return f"""[server]
listen = "127.0.0.1:{port}"
metrics_listen = "127.0.0.1:{metrics_port}"
threads = 2
shutdown_grace = "2s"
[upstream]
address = "127.0.0.1:{backend_port}"
kind = "http"
md5_etag = {"true" if md5_etag else "false"}
[auth]
secrets_file = "secrets.toml"
region = "{REGION}"
[log]
level = "info"
"""


# --- signing (botocore, hashlib/hmac; never the proxy's signer) ----------------------------------

def sign_headers(method, port, path, headers):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=f"http://127.0.0.1:{port}{path}", headers=headers)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(req)
    return {k: v for k, v in req.headers.items()}


def presign(port, path, expires=3600):
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="GET", url=f"http://127.0.0.1:{port}{path}")
    S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION, expires=expires).add_auth(req)
    return req.url.split(f"127.0.0.1:{port}", 1)[1]


def signing_key(date):
    k = hmac.new(("AWS4" + SECRET_KEY).encode(), date.encode(), hashlib.sha256).digest()
    for part in (REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def chunked_len(size):
    n = -(-size // CHUNK)
    total = sum(len(f"{min(CHUNK, size - i * CHUNK):x};chunk-signature=") + 64 + 4
                + min(CHUNK, size - i * CHUNK) for i in range(n))
    return total + len("0;chunk-signature=") + 64 + 4


def write_chunked_body(path, payload_file, size, amz_date, seed):
    key = signing_key(amz_date[:8])
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    prev = seed
    with open(payload_file, "rb") as src, open(path, "wb") as out:
        while True:
            data = src.read(CHUNK)
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY_SHA256,
                             hashlib.sha256(data).hexdigest()])
            prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            out.write(f"{len(data):x};chunk-signature={prev}\r\n".encode())
            out.write(data)
            out.write(b"\r\n")
            if not data:
                break


def trailer_len(size, trailer):
    n = -(-size // CHUNK)
    return (sum(len(f"{min(CHUNK, size - i * CHUNK):x}\r\n") + min(CHUNK, size - i * CHUNK) + 2
                for i in range(n)) + len(f"0\r\n{trailer}\r\n\r\n"))


def checksum_trailer(payload_file, algorithm):
    """`x-amz-checksum-<algorithm>:<base64>` of the payload, by awscrt (the CRT the SDKs use)."""
    from awscrt import checksums

    crc, width = (checksums.crc32, 4) if algorithm == "crc32" else (checksums.crc64nvme, 8)
    value = 0
    with open(payload_file, "rb") as src:
        while data := src.read(1 << 20):
            value = crc(data, value)
    return f"x-amz-checksum-{algorithm}:" + base64.b64encode(value.to_bytes(width, "big")).decode()


def write_trailer_body(path, payload_file, trailer):
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER framing: plain 64 KiB chunks, the empty one, the trailer."""
    with open(payload_file, "rb") as src, open(path, "wb") as out:
        while data := src.read(CHUNK):
            out.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        out.write(f"0\r\n{trailer}\r\n\r\n".encode())


# --- the workloads -------------------------------------------------------------------------------

def wrk_script(path, headers, work, name):
    """A wrk script sending one fixed request (the same bytes to every hop)."""
    lua = [f'wrk.method = "GET"', f'wrk.path = "{path}"']
    for k, v in headers.items():
        if k.lower() == "host":
            continue
        lua.append(f'wrk.headers["{k}"] = "{v}"')
    file = os.path.join(work, f"{name}.lua")
    with open(file, "w") as f:
        f.write("\n".join(lua) + "\n")
    return file


def signed_get(port, path, presigned):
    """The request for one round (re-signed each round: it stays within the clock skew)."""
    if presigned:
        return presign(port, path), {}
    h = sign_headers("GET", port, path, {"x-amz-content-sha256": EMPTY_SHA256})
    return path, {k: v for k, v in h.items() if k.lower() != "host"}


def parse_latency(text):
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def run_wrk(server, port, path, headers, conns, seconds, work, name):
    url_host = f"http://127.0.0.1:{port}"
    script = wrk_script(path, headers, work, name)
    cpu0 = server.cpu()
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout",
                          "10s", "-s", script, url_host], capture_output=True, text=True,
                         timeout=seconds + 60)
    cpu = server.cpu() - cpu0
    text = out.stdout
    reqs = int(re.search(r"(\d+) requests in", text).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errs = re.search(r"Socket errors: (.*)", text)
    if bad or reqs == 0:
        raise SystemExit(f"{server.name} {name}: {bad.group(0) if bad else 'no requests'}\n{text}")
    return {"rps": rps, "p99_ms": parse_latency(text), "cpu_us": cpu / reqs * 1e6,
            "errors": errs.group(1) if errs else ""}


def curl_put(server, port, path, body_file, headers, size):
    cmd = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", body_file,
           f"http://127.0.0.1:{port}{path}", "-H", "Expect:", "-H", "Transfer-Encoding:"]
    for k, v in headers.items():
        if k.lower() not in ("host", "content-length"):
            cmd += ["-H", f"{k}: {v}"]
    cpu0 = server.cpu()
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    cpu = server.cpu() - cpu0
    if out.stdout.strip() not in ("200", "201", "204"):
        raise SystemExit(f"{server.name} PUT {path} answered {out.stdout} {out.stderr}")
    return {"mbps": size / elapsed / 1e6, "cpu_s_gib": cpu * GIB / size}


def count_syscalls(server, work):
    """System calls per request of one hop during a 5 s get64 run, from `strace -c -f`."""
    path, headers = signed_get(server.port, "/bench/obj1k", False)
    out = os.path.join(work, f"strace-{server.name}.txt")
    cmd = ["strace", "-c", "-f", "-o", out]
    for pid in server.pids():
        cmd += ["-p", str(pid)]
    tracer = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    time.sleep(1)
    script = wrk_script(path, headers, work, f"strace-{server.name}")
    text = subprocess.run(["wrk", "-t2", "-c64", "-d5s", "-s", script,
                           f"http://127.0.0.1:{server.port}"], capture_output=True, text=True).stdout
    reqs = int(re.search(r"(\d+) requests in", text).group(1))
    time.sleep(0.5)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout=60)
    calls = {}
    for line in open(out):
        f = line.split()
        if len(f) >= 5 and f[3].isdigit():
            calls[f[-1]] = int(f[3])
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:8]
    total = sum(v for k, v in calls.items() if k != "total")
    print(f"syscalls per request, {server.name} ({reqs} requests under strace): {total / reqs:.2f} "
          f"in all; " + ", ".join(f"{k} {v / reqs:.2f}" for k, v in top if k != "total"), flush=True)


def idle_keepalive_rss(server, work, count=1000):
    """RSS of a hop holding `count` keep-alive connections that each made one signed GET and
    then went quiet (the issue's "1,000 idle keep-alive connections")."""
    path, headers = signed_get(server.port, "/bench/obj1k", False)
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    conns = []
    try:
        for _ in range(count):
            c = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            c.sendall(request)
            conns.append(c)
        for c in conns:
            got = b""
            while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < 1024:
                more = c.recv(65536)
                if not more:
                    raise SystemExit(f"{server.name}: a keep-alive connection closed")
                got += more
            if not got.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"{server.name}: {got[:80]!r}")
        time.sleep(2)
        return rss_kib(server.pids())
    finally:
        for c in conns:
            c.close()


def hash_speed(mib):
    """Single-core s/GiB of SHA-256 and MD5 (hashlib: OpenSSL's), in this run."""
    block = os.urandom(1024 * 1024)
    out = {}
    for name in ("sha256", "md5"):
        h = hashlib.new(name)
        t0 = time.process_time()
        for _ in range(mib):
            h.update(block)
        out[name] = (time.process_time() - t0) * 1024 / mib
    return out


# --- the report ----------------------------------------------------------------------------------

def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def report(results, hashes, rss, args, loads):
    print(f"\n{datetime.date.today()}  rounds {args.rounds}, {args.seconds} s per GET round, "
          f"{args.put_mib} MiB PUTs; load average {' / '.join(loads)}")
    print(f"single-core SHA-256 {hashes['sha256']:.2f} s/GiB, MD5 {hashes['md5']:.2f} s/GiB "
          f"(hashlib; min of {len(hashes['rounds'])})")
    print("\n| workload | hop | rps (median) | p99 ms | CPU µs/req | rps ratio | CPU ratio | p99 ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for wl in ("get64", "presigned64", "get1024"):
        if wl not in results:
            continue
        base = results[wl].get("proxy_pass", [])
        for hop, rows in results[wl].items():
            ratios = ""
            if hop != "proxy_pass" and base:
                pr = lambda k: med([r[k] / b[k] for r, b in zip(rows, base)])
                ratios = f"{pr('rps'):.2f}× | {pr('cpu_us'):.2f}× | {pr('p99_ms'):.2f}×"
            else:
                ratios = "| |"
            print(f"| {wl} | {hop} | {med([r['rps'] for r in rows]):,.0f} | "
                  f"{med([r['p99_ms'] for r in rows]):.1f} | {med([r['cpu_us'] for r in rows]):.1f} | {ratios} |")
    for wl, hops in results.items():
        if "proxy-before" in hops and "proxy" in hops:
            key = "cpu_us" if wl.startswith("get") or wl.startswith("pre") else "cpu_s_gib"
            speed = "rps" if key == "cpu_us" else "mbps"
            pair = lambda k: med([a[k] / b[k] for a, b in zip(hops["proxy"], hops["proxy-before"])])
            print(f"{wl}: proxy / proxy-before (paired, median): CPU {pair(key):.2f}×, "
                  f"{speed} {pair(speed):.2f}×")
    if any(k.startswith("put") for k in results):
        pp = med([r["cpu_s_gib"] for r in results.get("put-signed", {}).get("proxy_pass", [])])
        print("\n| workload | hop | MB/s (median) | CPU s/GiB | goal: ≤ factor × (proxy_pass + hashes) | ratio |")
        print("|---|---|---|---|---|---|")
        for wl in ("put-signed", "put-chunked", "put-crc32", "put-crc64nvme"):
            for hop, rows in results.get(wl, {}).items():
                cpu = med([r["cpu_s_gib"] for r in rows])
                if hop == "proxy_pass":
                    bound, ratio = "", ""
                else:
                    # Trailer uploads carry no SHA-256 (their goal: 1.25 × (proxy_pass + MD5)).
                    trailer = wl in ("put-crc32", "put-crc64nvme")
                    ref = (pp + (0 if trailer else hashes["sha256"])
                           + (hashes["md5"] if hop != "proxy-nomd5" else 0))
                    factor = 1.25 if trailer else 1.15
                    bound, ratio = f"{factor} × {ref:.2f} = {factor * ref:.2f}", f"{cpu / ref:.2f}×"
                print(f"| {wl} | {hop} | {med([r['mbps'] for r in rows]):,.0f} | {cpu:.2f} | {bound} | {ratio} |")
    print("\nRSS (MiB): " + ", ".join(f"{k} {v / 1024:.1f}" for k, v in rss.items()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--put-mib", type=int, default=1024)
    ap.add_argument("--only", choices=["get", "put"])
    ap.add_argument("--profile", default="release")
    ap.add_argument("--binary", help="run this proxy binary instead of building one")
    ap.add_argument("--before", metavar="BINARY",
                    help="also run this proxy binary (hop proxy-before) in the same rounds: "
                         "paired before/after ratios of a change")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--perf", metavar="FILE",
                    help="perf record the proxy (DWARF call graphs) into FILE during its first "
                         "get64 round (use --profile profiling for inlined frames)")
    ap.add_argument("--syscalls", action="store_true",
                    help="after the rounds, count each hop's system calls per request (strace -c "
                         "during a 5 s get64 run; strace slows the hop, the counts are what matter)")
    ap.add_argument("--keep", action="store_true", help="print the work folder and keep it")
    args = ap.parse_args()
    if args.smoke:
        args.profile, args.rounds, args.seconds, args.put_mib = "dev", 1, 2, 16
    started = time.time()

    binary = args.binary
    if not binary:
        subprocess.run(["cargo", "build", "--profile", args.profile, "--quiet"], cwd=ROOT, check=True)
        binary = os.path.join(target_dir(), "debug" if args.profile == "dev" else args.profile,
                              "s3-auth-proxy")
    work = tempfile.mkdtemp(prefix="s3-auth-proxy-hop-")
    procs = []
    loads = [f"{os.getloadavg()[0]:.1f}"]
    try:
        bport, ppport, pport, mport, p2port, m2port, p3port, m3port = (free_port() for _ in range(8))
        conf = open(os.path.join(ROOT, "deploy/nginx/dev-nginx.conf")).read()
        conf = conf.replace("listen 127.0.0.1:9000;", f"listen 127.0.0.1:{bport} backlog=4096;")
        conf = conf.replace("worker_connections 256;", "worker_connections 4096;")
        bprefix = nginx_prefix(work, "backend", conf)
        procs.append(start_nginx(bprefix))
        ppprefix = nginx_prefix(work, "proxy_pass", proxy_pass_conf(ppport, bport))
        pp = start_nginx(ppprefix)
        procs.append(pp)
        with open(os.path.join(work, "secrets.toml"), "w") as f:
            f.write(f'[[credentials]]\naccess_key = "{ACCESS_KEY}"\nsecret_key = "{SECRET_KEY}"\n')
        servers = {"proxy_pass": Server("proxy_pass", pp, ppport, workers_of_master=True)}
        proxies = [("proxy", binary, pport, mport, True), ("proxy-nomd5", binary, p2port, m2port, False)]
        if args.before:
            proxies.append(("proxy-before", args.before, p3port, m3port, True))
        for name, exe, port, mp, md5 in proxies:
            if name == "proxy-nomd5" and args.only == "get":
                continue
            cfg = os.path.join(work, f"{name}.toml")
            with open(cfg, "w") as f:
                f.write(proxy_conf(port, mp, bport, md5))
            log = open(os.path.join(work, f"{name}.log"), "wb")
            p = subprocess.Popen([exe, "--config", cfg], stderr=log)
            procs.append(p)
            servers[name] = Server(name, p, port)
        for s in servers.values():
            wait_port(s.port)
        wait_port(bport)
        os.makedirs(os.path.join(bprefix, "data", "bench"))
        with open(os.path.join(bprefix, "data", "bench", "obj1k"), "wb") as f:
            f.write(os.urandom(1024))
        rss = {f"{n} idle": rss_kib(s.pids()) for n, s in servers.items()}
        if args.only != "put":
            # Before any load: what the connections themselves hold (the same measure after the
            # rounds adds the heap the loads left behind).
            for hop in ["proxy_pass", "proxy"] + (["proxy-before"] if args.before else []):
                rss[f"{hop} 1,000 idle keep-alive (fresh)"] = idle_keepalive_rss(
                    servers[hop], work, 100 if args.smoke else 1000)

        results = {}
        hashes = {"rounds": []}
        payload = body = None
        trailers = {}
        if args.only != "get":
            size = args.put_mib * 1024 * 1024
            payload = os.path.join(work, "payload.bin")
            with open(payload, "wb") as f:
                block = os.urandom(1024 * 1024)
                for i in range(args.put_mib):
                    f.write(hashlib.sha256(block + i.to_bytes(4, "big")).digest() * 32768)
            h = hashlib.sha256()
            with open(payload, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            payload_sha = h.hexdigest()
        for rnd in range(args.rounds):
            hops = ["proxy_pass", "proxy"] + (["proxy-before"] if args.before else [])
            hops = hops[rnd % len(hops):] + hops[:rnd % len(hops)]
            if rnd % 2:
                hops.reverse()
            if args.only != "put":
                for wl, conns, presigned in (("get64", 64, False), ("presigned64", 64, True),
                                             ("get1024", 1024, False)):
                    for hop in hops:
                        s = servers[hop]
                        path, headers = signed_get(s.port, "/bench/obj1k", presigned)
                        perf = None
                        if args.perf and rnd == 0 and wl == "get64" and hop == "proxy":
                            perf = subprocess.Popen(["perf", "record", "-q", "-F", "999", "--call-graph",
                                                     "dwarf", "-p", str(s.popen.pid), "-o", args.perf])
                            time.sleep(1)
                        r = run_wrk(s, s.port, path, headers, conns, args.seconds, work, f"{wl}-{hop}")
                        if perf:
                            perf.send_signal(signal.SIGINT)
                            perf.wait(timeout=300)
                        if wl == "get1024":
                            rss[f"{hop} 1,024 conns"] = max(rss.get(f"{hop} 1,024 conns", 0),
                                                           rss_kib(s.pids()))
                        results.setdefault(wl, {}).setdefault(hop, []).append(r)
                        print(f"round {rnd + 1} {wl:12s} {hop:12s} {r['rps']:9.0f} rps  p99 "
                              f"{r['p99_ms']:7.1f} ms  {r['cpu_us']:6.1f} µs/req {r['errors']}",
                              flush=True)
            if args.only != "get":
                put_hops = ["proxy_pass", "proxy", "proxy-nomd5"] + (["proxy-before"] if args.before else [])
                if rnd % 2:
                    put_hops.reverse()
                for hop in put_hops:
                    s = servers[hop]
                    wls = ["put-signed"] + (["put-chunked"] if hop != "proxy_pass" else [])
                    if hop in ("proxy", "proxy-before"):
                        wls += ["put-crc32", "put-crc64nvme"]
                    for wl in wls:
                        key = f"/bench/{wl}-{hop}-{rnd}"
                        if wl == "put-signed":
                            headers = sign_headers("PUT", s.port, key, {
                                "x-amz-content-sha256": payload_sha, "content-length": str(size)})
                            r = curl_put(s, s.port, key, payload, headers, size)
                        elif wl in ("put-crc32", "put-crc64nvme"):
                            algorithm = wl.split("-")[1]
                            if algorithm not in trailers:
                                trailers[algorithm] = checksum_trailer(payload, algorithm)
                            trailer = trailers[algorithm]
                            headers = sign_headers("PUT", s.port, key, {
                                "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                "x-amz-trailer": f"x-amz-checksum-{algorithm}",
                                "x-amz-decoded-content-length": str(size),
                                "content-encoding": "aws-chunked",
                                "content-length": str(trailer_len(size, trailer))})
                            body = os.path.join(work, "body.trailer")
                            write_trailer_body(body, payload, trailer)
                            r = curl_put(s, s.port, key, body, headers, size)
                            os.remove(body)
                        else:
                            wire = chunked_len(size)
                            headers = sign_headers("PUT", s.port, key, {
                                "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                                "x-amz-decoded-content-length": str(size),
                                "content-encoding": "aws-chunked", "content-length": str(wire)})
                            seed = re.search(r"Signature=([0-9a-f]{64})", headers["Authorization"]).group(1)
                            body = os.path.join(work, "body.chunked")
                            write_chunked_body(body, payload, size, headers["X-Amz-Date"], seed)
                            r = curl_put(s, s.port, key, body, headers, size)
                            os.remove(body)
                        stored = os.path.join(bprefix, "data", key.lstrip("/"))
                        if os.path.getsize(stored) != size:
                            raise SystemExit(f"{hop} {wl}: stored {os.path.getsize(stored)} bytes")
                        os.remove(stored)
                        results.setdefault(wl, {}).setdefault(hop, []).append(r)
                        print(f"round {rnd + 1} {wl:12s} {hop:12s} {r['mbps']:9.0f} MB/s "
                              f"{r['cpu_s_gib']:6.2f} CPU-s/GiB", flush=True)
                    rss[f"{hop} peak"] = rss_kib(s.pids(), "VmHWM")
            hashes["rounds"].append(hash_speed(64 if args.smoke else 256))
            loads.append(f"{os.getloadavg()[0]:.1f}")
        if args.only != "put":
            for hop in ["proxy_pass", "proxy"] + (["proxy-before"] if args.before else []):
                rss[f"{hop} 1,000 idle keep-alive (after the loads)"] = idle_keepalive_rss(
                    servers[hop], work, 100 if args.smoke else 1000)
        if args.syscalls:
            for hop in ["proxy_pass", "proxy"] + (["proxy-before"] if args.before else []):
                count_syscalls(servers[hop], work)
        hashes["sha256"] = min(h["sha256"] for h in hashes["rounds"])
        hashes["md5"] = min(h["md5"] for h in hashes["rounds"])
        logsize = os.path.getsize(os.path.join(work, "proxy.log"))
        report(results, hashes, rss, args, loads)
        print(f"proxy access log: {logsize / 1e6:.1f} MB; proxy_pass access log: "
              f"{os.path.getsize(os.path.join(ppprefix, 'access.log')) / 1e6:.1f} MB; "
              f"{time.time() - started:.0f} s in all")
        if args.smoke:
            print("smoke run, debug build: the paths work; the figures are not judged")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
