#!/usr/bin/env python3
"""The two benchmarks of issue 14, in front of a plain store (nginx WebDAV, `upstream.kind = "http"`):

(a) listing: ListObjectsV2 through the proxy over one folder of N objects (default 10,000) in
    pages of 1,000, against fetching nginx's own JSON index of that folder once per page (what
    the proxy reads for each page). Rounds alternate which side goes first; each side's time is
    the sum of its page requests, each made by curl (its time_total, connect to last byte;
    signing and token extraction are outside the clock). Reports both medians and their ratio (goal <= 2x).
(b) upload: a 1 GiB `aws s3 cp` at the AWS CLI's defaults (multipart, 8 MiB parts, 10 threads)
    against the same `aws s3 cp` with multipart_threshold above the size (one PUT), both through
    the proxy; MB/s and their ratio (goal >= 0.5x). Skipped, saying why, if the proxy answers
    NotImplemented (a build without multipart upload).

Loopback only; everything it starts it stops; each step has a time limit and the whole run stops
starting new rounds after --max-seconds. Needs nginx, curl, python3 with botocore and the AWS CLI (the
test venv: run it with .venv-test/bin/python, or set AWS_CLI), a build of the proxy
(`--profile release` by default; `--profile profiling` with `--perf FILE` records the proxy with
perf during the listing rounds, see docs/benchmarks.md, "Profiling").

Usage: scripts/bench-plain-store.py [--objects 10000] [--page 1000] [--rounds 7]
                                    [--upload-mib 1024] [--upload-runs 2] [--only listing|upload]
                                    [--profile release] [--perf perf.data] [--max-seconds 900]
       scripts/bench-plain-store.py --smoke     # scripts/test.sh: small, debug build, ~15 s
"""
import argparse
import hashlib
import importlib.util
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
BUCKET = "bench"
FOLDER = "many/"


def _load_upload_bench():
    """scripts/bench-upload.py's helpers (free_port, wait_port, target_dir, cpu_seconds)."""
    sys.dont_write_bytecode = True  # no scripts/__pycache__
    spec = importlib.util.spec_from_file_location(
        "bench_upload", os.path.join(ROOT, "scripts", "bench-upload.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


upload_bench = _load_upload_bench()
free_port, wait_port = upload_bench.free_port, upload_bench.wait_port
cpu_seconds = upload_bench.cpu_seconds


class Stack:
    """nginx (deploy/nginx/dev-nginx.conf on a free port) and the proxy in front of it."""

    def __init__(self, binary, work):
        self.work = work
        self.procs = []
        self.nginx_port, self.proxy_port, metrics_port = free_port(), free_port(), free_port()
        prefix = os.path.join(work, "nginx")
        self.data = os.path.join(prefix, "data")
        os.makedirs(self.data)
        os.makedirs(os.path.join(prefix, "tmp"))
        conf = open(os.path.join(ROOT, "deploy/nginx/dev-nginx.conf")).read()
        conf = conf.replace("listen 127.0.0.1:9000;", f"listen 127.0.0.1:{self.nginx_port};")
        with open(os.path.join(prefix, "nginx.conf"), "w") as f:
            f.write(conf)
        user = ["-g", "user root;"] if os.geteuid() == 0 else []
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.procs.append(subprocess.Popen([nginx, "-p", prefix + "/", "-c", prefix + "/nginx.conf"]
                                           + user))
        with open(os.path.join(work, "secrets.toml"), "w") as f:
            f.write(f'[[credentials]]\naccess_key = "{ACCESS_KEY}"\nsecret_key = "{SECRET_KEY}"\n')
        with open(os.path.join(work, "proxy.toml"), "w") as f:
            f.write(f"""[server]
listen = "127.0.0.1:{self.proxy_port}"
metrics_listen = "127.0.0.1:{metrics_port}"
threads = 2
[upstream]
address = "127.0.0.1:{self.nginx_port}"
kind = "http"
[auth]
secrets_file = "secrets.toml"
region = "{REGION}"
[log]
level = "warn"
""")
        self.proxy = subprocess.Popen([binary, "--config", os.path.join(work, "proxy.toml")])
        self.procs.append(self.proxy)
        wait_port(self.nginx_port)
        wait_port(self.proxy_port)

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def verdict(args, met):
    if args.smoke:
        return "smoke run, debug build: no verdict on the goal of"
    return "meets the goal of" if met else "misses the goal of"


# --- (a) listing --------------------------------------------------------------------------------

def fill_folder(stack, count, records=True):
    """`count` small objects in one folder, written straight into nginx's root, each with the
    ETag record the proxy writes for an object PUT through it (src/store/etags.rs), so that
    listings read the records folder too, as they do for objects uploaded through the proxy."""
    folder = os.path.join(stack.data, BUCKET, FOLDER)
    mirror = os.path.join(stack.data, ".s3-auth-proxy", "etags", BUCKET, FOLDER)
    os.makedirs(folder)
    os.makedirs(mirror, exist_ok=True)
    for i in range(count):
        name = f"object-{i:06d}.bin"
        body = b"x" * (100 + i % 900)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(body)
        if records:
            st = os.stat(os.path.join(folder, name))
            record = "%s.%s.%x-%x" % (hashlib.sha256(name.encode()).hexdigest()[:16],
                                      hashlib.md5(body).hexdigest(), int(st.st_mtime), len(body))
            open(os.path.join(mirror, record), "wb").close()


def signed_get(port, path, query):
    """botocore signs the GET; returns the target and headers to send."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    target = path + "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    req = AWSRequest(method="GET", url=f"http://127.0.0.1:{port}{target}")
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(req)
    return target, dict(req.headers.items())


def timed_get(port, target, headers, out):
    """One GET by curl into `out`: (seconds from connect to last byte, status, body).

    curl, not Python, so the client costs little and the same on both sides (Python's reading
    of nginx's chunked 1 MB index alone adds ~10 ms); its time excludes starting the process.
    """
    cmd = ["curl", "-s", "-o", out, "-w", "%{http_code} %{time_total}",
           f"http://127.0.0.1:{port}{target}"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    status, seconds = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                     timeout=60).stdout.split()
    with open(out, "rb") as f:
        return float(seconds), int(status), f.read()


def list_through_proxy(stack, page):
    """Every page of ListObjectsV2 over the folder; (seconds, keys listed, pages)."""
    out = os.path.join(stack.work, "page.xml")
    total, keys, pages, token = 0.0, 0, 0, None
    while True:
        query = {"list-type": "2", "prefix": FOLDER, "max-keys": str(page)}
        if token:
            query["continuation-token"] = token
        target, headers = signed_get(stack.proxy_port, f"/{BUCKET}", sorted(query.items()))
        seconds, status, body = timed_get(stack.proxy_port, target, headers, out)
        if status != 200:
            raise SystemExit(f"ListObjectsV2 answered {status}: {body[:300]!r}")
        total += seconds
        pages += 1
        keys += body.count(b"<Key>")
        # The ETags are the records' MD5s, not nginx's "<mtime>-<size>": the records were read.
        if body.count(b"<ETag>&quot;") != len(re.findall(rb"<ETag>&quot;[0-9a-f]{32}&quot;", body)):
            raise SystemExit("a listed ETag is not a recorded MD5")
        found = re.search(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
        if not found:
            break
        token = found.group(1).decode()
    return total, keys, pages


def fetch_nginx_index(stack, pages):
    """nginx's JSON index of the folder, fetched `pages` times; (seconds, bytes of one index)."""
    out = os.path.join(stack.work, "index.json")
    total, size = 0.0, 0
    for _ in range(pages):
        seconds, status, body = timed_get(stack.nginx_port, f"/{BUCKET}/{FOLDER}", {}, out)
        if status != 200:
            raise SystemExit(f"nginx's index answered {status}")
        total += seconds
        size = len(body)
    return total, size


def bench_listing(stack, args, deadline):
    fill_folder(stack, args.objects)
    expected_pages = -(-args.objects // args.page)
    # One warm-up of each side (page cache, connection pools), not counted.
    list_through_proxy(stack, args.page)
    fetch_nginx_index(stack, expected_pages)
    proxy_cpu_before = cpu_seconds(stack.proxy.pid)
    proxy_times, nginx_times = [], []
    index_size = 0
    for r in range(args.rounds):
        if time.time() > deadline:
            print(f"  (stopped after {r} rounds: --max-seconds reached)")
            break
        order = ["proxy", "nginx"] if r % 2 == 0 else ["nginx", "proxy"]
        for side in order:
            if side == "proxy":
                seconds, keys, pages = list_through_proxy(stack, args.page)
                if keys != args.objects or pages != expected_pages:
                    raise SystemExit(f"listed {keys} keys in {pages} pages, expected "
                                     f"{args.objects} in {expected_pages}")
                proxy_times.append(seconds)
            else:
                seconds, index_size = fetch_nginx_index(stack, expected_pages)
                nginx_times.append(seconds)
    if not proxy_times:
        raise SystemExit("no listing round ran")
    proxy_cpu = (cpu_seconds(stack.proxy.pid) - proxy_cpu_before) / len(proxy_times)
    p, n = statistics.median(proxy_times), statistics.median(nginx_times)
    print(f"\n(a) listing: {args.objects} objects in one folder, pages of {args.page} "
          f"({expected_pages} pages), {len(proxy_times)} rounds")
    print(f"  ListObjectsV2 through the proxy      median {p * 1000:8.1f} ms per listing "
          f"({p * 1000 / expected_pages:.1f} ms per page; rounds: "
          f"{', '.join(f'{t * 1000:.0f}' for t in proxy_times)} ms)")
    print(f"  nginx's JSON index, once per page    median {n * 1000:8.1f} ms "
          f"({n * 1000 / expected_pages:.1f} ms per fetch of {index_size / 1024:.0f} KiB; rounds: "
          f"{', '.join(f'{t * 1000:.0f}' for t in nginx_times)} ms)")
    print(f"  proxy CPU per listing {proxy_cpu * 1000:.0f} ms")
    print(f"  ratio proxy / nginx index: {p / n:.2f}x ({verdict(args, p / n <= 2)} <= 2x)")


# --- (b) upload ---------------------------------------------------------------------------------

def aws_cli():
    """The AWS CLI: $AWS_CLI, else beside this interpreter (the test venv), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "aws")
    return os.environ.get("AWS_CLI") or (beside if os.path.isfile(beside) else "aws")


def aws_cp(stack, src, key, config_file, timeout):
    """`aws s3 cp src s3://bench/key` through the proxy; (seconds, completed process)."""
    env = dict(os.environ)
    env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
               AWS_CONFIG_FILE=config_file, AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_EC2_METADATA_DISABLED="true", NO_PROXY="127.0.0.1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                 "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(name, None)
    cmd = [aws_cli(), "--endpoint-url", f"http://127.0.0.1:{stack.proxy_port}", "--region", REGION,
           "s3", "cp", "--only-show-errors", src, f"s3://{BUCKET}/{key}"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return time.perf_counter() - t0, out


def bench_upload(stack, args, deadline):
    size = args.upload_mib * 1024 * 1024
    work = stack.work
    payload = os.path.join(work, "payload.bin")
    with open(payload, "wb") as f:
        block = os.urandom(1024 * 1024)
        for i in range(args.upload_mib):
            f.write(block[i % 1024:] + block[:i % 1024])
    single_config = os.path.join(work, "single-put.config")
    with open(single_config, "w") as f:
        # Above the payload: the CLI sends one PutObject.
        f.write(f"[default]\ns3 =\n  multipart_threshold = {args.upload_mib + 1}MB\n")
    os.makedirs(os.path.join(stack.data, BUCKET), exist_ok=True)
    timeout = max(120, args.upload_mib)  # at least 1 MB/s
    results = {"multipart": [], "single": []}
    cpu = {"multipart": [], "single": []}
    for r in range(args.upload_runs):
        if time.time() > deadline and results["multipart"]:
            print(f"  (stopped after {r} runs: --max-seconds reached)")
            break
        order = ["multipart", "single"] if r % 2 == 0 else ["single", "multipart"]
        for kind in order:
            config = "/dev/null" if kind == "multipart" else single_config
            before = cpu_seconds(stack.proxy.pid)
            seconds, out = aws_cp(stack, payload, f"{kind}-{r}.bin", config, timeout)
            if out.returncode != 0:
                if "NotImplemented" in out.stderr:
                    print(f"\n(b) upload: skipped: the proxy answered NotImplemented to the {kind} "
                          f"upload (a build without multipart upload?):\n  {out.stderr.strip()}")
                    return
                raise SystemExit(f"aws s3 cp ({kind}) failed: {out.stderr}")
            cpu[kind].append(cpu_seconds(stack.proxy.pid) - before)
            stored = os.path.join(stack.data, BUCKET, f"{kind}-{r}.bin")
            if os.path.getsize(stored) != size:
                raise SystemExit(f"{kind}: stored {os.path.getsize(stored)} bytes, sent {size}")
            os.remove(stored)
            results[kind].append(seconds)
    best = {kind: size / min(times) / 1e6 for kind, times in results.items()}
    print(f"\n(b) upload: {args.upload_mib} MiB with `aws s3 cp` through the proxy, best of "
          f"{len(results['multipart'])} runs each")
    for kind, label in (("multipart", "multipart (CLI defaults: 8 MiB parts)"),
                        ("single", "one PUT (multipart_threshold above size)")):
        print(f"  {label:42s} {best[kind]:7.0f} MB/s  (runs: "
              f"{', '.join(f'{t:.1f}s' for t in results[kind])}; proxy CPU "
              f"{', '.join(f'{c:.1f}s' for c in cpu[kind])})")
    ratio = best["multipart"] / best["single"]
    print(f"  ratio multipart / one PUT: {ratio:.2f}x ({verdict(args, ratio >= 0.5)} >= 0.5x)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=10_000)
    ap.add_argument("--page", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--upload-mib", type=int, default=1024)
    ap.add_argument("--upload-runs", type=int, default=2)
    ap.add_argument("--only", choices=["listing", "upload"])
    ap.add_argument("--profile", default="release",
                    help="the cargo profile to build and run (dev: the debug build, for a smoke run)")
    ap.add_argument("--perf", metavar="FILE",
                    help="perf record the proxy (DWARF call graphs) into FILE during the listings")
    ap.add_argument("--max-seconds", type=float, default=900,
                    help="start no new round after this long")
    ap.add_argument("--smoke", action="store_true",
                    help="what scripts/test.sh runs: the debug build, 2,000 objects, 3 rounds, "
                         "64 MiB once; checks the script and both paths work, its figures mean "
                         "nothing")
    args = ap.parse_args()
    if args.smoke:
        args.profile, args.objects, args.rounds = "dev", 2000, 3
        args.upload_mib, args.upload_runs, args.max_seconds = 64, 1, 120
    deadline = time.time() + args.max_seconds

    subprocess.run(["cargo", "build", "--profile", args.profile, "--quiet"], cwd=ROOT, check=True)
    binary = os.path.join(upload_bench.target_dir(), "debug" if args.profile == "dev"
                          else args.profile, "s3-auth-proxy")
    work = tempfile.mkdtemp(prefix="s3-auth-proxy-bench-store-")
    stack = None
    try:
        stack = Stack(binary, work)
        print(f"proxy {binary} (profile {args.profile}), nginx on 127.0.0.1:{stack.nginx_port}")
        if args.only in (None, "listing"):
            perf = args.perf and subprocess.Popen(
                ["perf", "record", "-q", "-F", "999", "--call-graph", "dwarf", "-p",
                 str(stack.proxy.pid), "-o", args.perf])
            try:
                bench_listing(stack, args, deadline)
            finally:
                if perf:
                    perf.send_signal(signal.SIGINT)  # perf writes FILE, then exits
                    perf.wait(timeout=120)
        if args.only in (None, "upload"):
            bench_upload(stack, args, deadline)
    finally:
        if stack:
            stack.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
