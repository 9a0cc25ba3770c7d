#!/usr/bin/env python3
"""Soak test of issue 15: many concurrent clients, honest and hostile, against the real proxy in
front of a real nginx (WebDAV), loopback only, bounded in time.

N keep-alive connections (default 1,000) loop for D seconds (default 60) over a weighted mix of
signed PUTs (hashed and UNSIGNED-PAYLOAD), signed aws-chunked PUTs, unsigned aws-chunked PUTs
with a CRC32 trailer, signed and presigned GETs (body hash checked), presigned PUTs, SigV4 POST
form uploads, and attacks: forged signatures, tampered bodies, tampered chunks, wrong trailers,
scope violations. Every answer's status and S3 error code is compared with the one expected; any
other answer, a reset or a timeout is "unexpected". Beside them, M slow connections (default
1,000) send part of a request head (or a form's head and the start of its body) and then one byte
every ~2 s: what the proxy does with them (closes, answers 408/400/503, or keeps them open) is
counted and timed, not judged.

Every second the proxy's RSS and open file descriptors are read from /proc. At the end: every
object the proxy acknowledged is on nginx's disk with exactly the bytes sent (SHA-256), no
refused upload left an object, no object exists that nobody was told was stored; the proxy's fds
are back to their baseline (within --fd-margin) once the clients have gone and the upstream pool
has drained; its peak RSS is under --max-rss-mib; its log has no panic. Exit status 1 if any of
this fails, 2 for a setup problem.

Signing is independent of the proxy's code: headers and presigned URLs by botocore
(S3SigV4Auth with the payload hash we declare, S3SigV4QueryAuth), forms by botocore's
generate_presigned_post, aws-chunked chunk signatures by the small implementation below, which is
first checked against the Amazon S3 documentation's streaming example (../shared/vectors).

Usage: scripts/soak.py [--connections 1000] [--duration 60] [--slow 1000] [--max-rss-mib 256]
                       [--profile release | --proxy-bin PATH] [--json FILE]
                       [--server-setting 'header_timeout = "10s"']...
       scripts/soak.py --short      # scripts/test.sh: 200 + 200 connections, 15 s, debug build
Run it with the test venv's python (.venv-test/bin/python: botocore). The signer, the client
connection and the stack are in scripts/soak_support.py. Figures: docs/soak.md.
"""
import argparse
import asyncio
import hashlib
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.dont_write_bytecode = True  # no scripts/__pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak_support import (  # noqa: E402  (after the path is set)
    BUCKET, DEFAULT_VECTORS, EMPTY_SHA256, KIB, MIB, PUBLIC, READER, REGION, ROOT,
    STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER, UNSIGNED, WRITER, Conn, HeaderAuth, Response,
    Stack, check_chunk_signer, chunk_sizes, cpu_seconds, crc32_base64, proc_figures,
    signed_chunked_body, signed_chunked_length, signing_key, trimmed_rss, unsigned_trailer_body)

SLOW_BYTE_INTERVAL = 2.0  # seconds between two bytes of a slow connection
SLOW_PAST_DEADLINE = "still open after --slow-deadline"
# What the proxy may do with a head that never ends: close it, or answer one of these
# (server.header_timeout: 400 RequestTimeout; limits.unauthenticated_memory: 503 SlowDown).
SLOW_ENDINGS = ("closed without an answer", "answered 400 RequestTimeout", "answered 408",
                "answered 503 SlowDown")


# --- the load ----------------------------------------------------------------------------------

class Soak:
    def __init__(self, stack, args):
        self.stack, self.args = stack, args
        self.host = f"127.0.0.1:{stack.port}"
        self.base = f"http://{self.host}"
        self.pool = os.urandom(args.max_size + 64 * KIB)
        self.counts = {}          # kind -> [sent, as expected]
        self.unexpected = []      # (kind, what happened)
        self.acked = {}           # key -> (size, sha256) the proxy answered 2xx for
        self.refused = set()      # keys of uploads answered with an error: must not exist
        self.uncertain = set()    # keys sent whose answer was unexpected or never came
        self.known = []           # (key, size, sha256) preloaded objects, in both buckets
        self.samples = []         # (seconds since start, rss KiB, fds)
        self.slow = {}            # outcome -> count
        self.slow_close_times, self.slow_connect_times, self.loop_lag = [], [], []
        self.late_closed = []     # silences of new connections the client left past the deadline
        self.slow_open = 0
        self.stop_at, self.round, self.cpu = None, 0, {}

    # -- bookkeeping

    def judge(self, kind, response, status, code=None, key=None, stored=None, body_sha=None):
        """Compares an answer with the expected status and S3 code (and a GET's body hash);
        records what the store must hold afterwards."""
        entry = self.counts.setdefault(kind, [0, 0])
        entry[0] += 1
        got_code = response.code() if response.status >= 300 else None
        ok = response.status == status and (code is None or got_code == code)
        if ok and body_sha is not None and hashlib.sha256(response.body).hexdigest() != body_sha:
            ok = False
            self.note(kind, f"{response.status}, body of {len(response.body)} bytes has the "
                            "wrong SHA-256")
        elif not ok:
            self.note(kind, f"expected {status} {code or ''}, got {response.status} "
                            f"{got_code or ''} request-id {response.headers.get('x-amz-request-id')}"
                            f" key {key}: {response.body[:300]!r}")
        if ok:
            entry[1] += 1
        if key is not None:
            if ok and stored is not None:
                self.acked[key] = stored
                self.uncertain.discard(key)
            elif ok:
                self.refused.add(key)
                self.uncertain.discard(key)
        return ok

    def note(self, kind, what):
        self.unexpected.append((kind, what))

    def payload(self, key, rng, largest=None):
        """Unique bytes for a key (its name first), of a mixed size: mostly small, some up to
        --max-size, a few --large-size."""
        roll = rng.random()
        if roll < 0.70:
            size = rng.randint(KIB, 32 * KIB)
        elif roll < 0.95:
            size = rng.randint(32 * KIB, 256 * KIB)
        elif roll < 0.995:
            size = rng.randint(256 * KIB, self.args.max_size // 4)
        else:
            size = rng.randint(self.args.max_size // 4, self.args.max_size)
        size = min(size, largest or size)
        offset = rng.randrange(0, len(self.pool) - size)
        return key.encode().ljust(64, b".") + self.pool[offset:offset + size - 64]

    # -- request heads, signed by botocore

    def head(self, method, target, headers):
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def signed(self, method, target, headers, payload_hash, cred=WRITER, forge=False):
        request = AWSRequest(method=method, url=self.base + target, headers=headers)
        request.headers["X-Amz-Content-SHA256"] = payload_hash
        HeaderAuth(Credentials(*cred), "s3", REGION).add_auth(request)
        out = dict(request.headers.items())
        if forge:
            sig = out["Authorization"]
            out["Authorization"] = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        return out

    def presign(self, method, target, expires):
        request = AWSRequest(method=method, url=self.base + target)
        S3SigV4QueryAuth(Credentials(*WRITER), "s3", REGION, expires=expires).add_auth(request)
        return request.url[len(self.base):]

    # -- the operations, each one request and its judgement

    async def put_signed(self, conn, rng, key, kind="put-signed", tamper=False, forge=False):
        body = self.payload(key, rng, 256 * KIB if (tamper or forge) else None)
        sha = hashlib.sha256(body).hexdigest()
        headers = self.signed("PUT", f"/{BUCKET}/{key}", {"Content-Length": str(len(body))}, sha,
                              forge=forge)
        if tamper:
            body = body[:-1] + bytes([body[-1] ^ 0x20])
        response = await conn.exchange(self.head("PUT", f"/{BUCKET}/{key}", headers), body)
        if forge:
            return self.judge(kind, response, 403, "SignatureDoesNotMatch", key)
        if tamper:
            return self.judge(kind, response, 400, "XAmzContentSHA256Mismatch", key)
        return self.judge(kind, response, 200, key=key, stored=(len(body), sha))

    async def put_unsigned(self, conn, rng, key):
        body = self.payload(key, rng)
        headers = self.signed("PUT", f"/{BUCKET}/{key}", {"Content-Length": str(len(body))},
                              UNSIGNED)
        response = await conn.exchange(self.head("PUT", f"/{BUCKET}/{key}", headers), body)
        return self.judge("put-unsigned-payload", response, 200, key=key,
                          stored=(len(body), hashlib.sha256(body).hexdigest()))

    async def put_chunked(self, conn, rng, key, tamper=False):
        data = self.payload(key, rng, 512 * KIB if tamper else None)
        chunk = rng.choice((8 * KIB, 64 * KIB, 100 * KIB))
        target = f"/{BUCKET}/{key}"
        headers = self.signed("PUT", target, {
            "Content-Encoding": "aws-chunked",
            "X-Amz-Decoded-Content-Length": str(len(data)),
            "Content-Length": str(signed_chunked_length(len(data), chunk)),
        }, STREAMING_SIGNED)
        seed = headers["Authorization"].rsplit("Signature=", 1)[1]
        amz_date = headers["X-Amz-Date"]
        scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
        tamper_chunk = rng.randrange(len(chunk_sizes(len(data), chunk)) - 1) if tamper else None
        body = signed_chunked_body(data, chunk, signing_key(WRITER[1], amz_date[:8]), amz_date,
                                   scope, seed, tamper_chunk)
        response = await conn.exchange(self.head("PUT", target, headers), body)
        if tamper:
            return self.judge("tampered-chunk", response, 403, "SignatureDoesNotMatch", key)
        return self.judge("put-aws-chunked-signed", response, 200, key=key,
                          stored=(len(data), hashlib.sha256(data).hexdigest()))

    async def put_trailer(self, conn, rng, key, wrong=False):
        data = self.payload(key, rng, 256 * KIB if wrong else None)
        chunk = rng.choice((8 * KIB, 64 * KIB))
        crc = crc32_base64(data[1:] if wrong else data)
        body = unsigned_trailer_body(data, chunk, "x-amz-checksum-crc32", crc)
        target = f"/{BUCKET}/{key}"
        headers = self.signed("PUT", target, {
            "Content-Encoding": "aws-chunked",
            "X-Amz-Decoded-Content-Length": str(len(data)),
            "X-Amz-Trailer": "x-amz-checksum-crc32",
            "Content-Length": str(len(body)),
        }, STREAMING_UNSIGNED_TRAILER)
        response = await conn.exchange(self.head("PUT", target, headers), body)
        if wrong:
            return self.judge("wrong-trailer", response, 400, "BadDigest", key)
        return self.judge("put-trailer-crc32", response, 200, key=key,
                          stored=(len(data), hashlib.sha256(data).hexdigest()))

    async def put_presigned(self, conn, rng, key):
        body = self.payload(key, rng)
        target = self.presign("PUT", f"/{BUCKET}/{key}", 900)
        response = await conn.exchange(
            self.head("PUT", target, {"Content-Length": str(len(body))}), body)
        return self.judge("put-presigned", response, 200, key=key,
                          stored=(len(body), hashlib.sha256(body).hexdigest()))

    async def form_post(self, conn, rng, key):
        name = key.replace("/", "-")
        self.uncertain.add(f"forms/{name}")
        data = self.payload(f"forms/{name}", rng)
        boundary = "----soak" + format(rng.getrandbits(64), "x")
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in self.form_fields.items())
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
        body += data + f"\r\n--{boundary}--\r\n".encode()
        head = self.head("POST", f"/{BUCKET}", {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(body))})
        response = await conn.exchange(head, body)
        return self.judge("form-post", response, 204, key=f"forms/{name}",
                          stored=(len(data), hashlib.sha256(data).hexdigest()))

    async def get_signed(self, conn, rng, bucket=BUCKET, cred=WRITER, kind="get-signed",
                         status=200, code=None, forge=False):
        key, _size, sha = rng.choice(self.known)
        target = f"/{bucket}/{key}"
        headers = self.signed("GET", target, {}, EMPTY_SHA256, cred=cred, forge=forge)
        response = await conn.exchange(self.head("GET", target, headers))
        return self.judge(kind, response, status, code, body_sha=sha if status == 200 else None)

    async def get_presigned(self, conn, rng):
        index = rng.randrange(len(self.known))
        response = await conn.exchange(self.head("GET", self.presigned_gets[index], {}))
        return self.judge("get-presigned", response, 200, body_sha=self.known[index][2])

    async def scope_put(self, conn, rng, key):
        body = self.payload(key, rng, 16 * KIB)
        target = f"/{BUCKET}/{key}"
        headers = self.signed("PUT", target, {"Content-Length": str(len(body))},
                              hashlib.sha256(body).hexdigest(), cred=READER)
        response = await conn.exchange(self.head("PUT", target, headers), body)
        return self.judge("scope-put", response, 403, "AccessDenied", key)

    def operations(self):
        """(kind, weight, run(conn, rng, key)); the weights are out of 100."""
        return [
            ("put-signed", 12, self.put_signed),
            ("put-unsigned-payload", 7, self.put_unsigned),
            ("put-aws-chunked-signed", 9, self.put_chunked),
            ("put-trailer-crc32", 7, self.put_trailer),
            ("put-presigned", 6, self.put_presigned),
            ("form-post", 6, self.form_post),
            ("get-signed", 16, lambda c, r, k: self.get_signed(c, r)),
            ("get-presigned", 6, lambda c, r, k: self.get_presigned(c, r)),
            ("get-readonly-key", 4, lambda c, r, k: self.get_signed(
                c, r, PUBLIC, READER, "get-readonly-key")),
            ("forged-get", 4, lambda c, r, k: self.get_signed(
                c, r, kind="forged-get", status=403, code="SignatureDoesNotMatch", forge=True)),
            ("forged-put", 4, lambda c, r, k: self.put_signed(c, r, k, "forged-put", forge=True)),
            ("tampered-body", 5, lambda c, r, k: self.put_signed(c, r, k, "tampered-body",
                                                                 tamper=True)),
            ("tampered-chunk", 5, lambda c, r, k: self.put_chunked(c, r, k, tamper=True)),
            ("wrong-trailer", 4, lambda c, r, k: self.put_trailer(c, r, k, wrong=True)),
            ("scope-put", 3, self.scope_put),
            ("scope-get", 2, lambda c, r, k: self.get_signed(
                c, r, BUCKET, READER, "scope-get", 403, "AccessDenied")),
        ]

    async def preload(self):
        """The objects the GETs read: the same bytes in both buckets, 1 KiB to 4 MiB."""
        conn, rng = Conn(self.stack.port), random.Random(1)
        sizes = [KIB, 4 * KIB, 16 * KIB, 64 * KIB, 100 * KIB, 256 * KIB, MIB, 4 * MIB]
        for i, size in enumerate(sizes):
            key = f"known/{i}"
            offset = rng.randrange(0, len(self.pool) - size) if size < len(self.pool) else 0
            body = (self.pool * (1 + size // len(self.pool)))[offset:offset + size]
            sha = hashlib.sha256(body).hexdigest()
            for bucket in (BUCKET, PUBLIC):
                target = f"/{bucket}/{key}"
                headers = self.signed("PUT", target, {"Content-Length": str(size)}, sha)
                response = await conn.exchange(self.head("PUT", target, headers), body)
                if response.status != 200:
                    raise SystemExit(f"soak: preloading {target} answered {response.status}: "
                                     f"{response.body[:300]!r}")
                self.acked[f"{bucket}/{key}" if bucket != BUCKET else key] = (size, sha)
            self.known.append((key, size, sha))
        conn.close()
        expires = int(self.args.duration) + 900
        self.presigned_gets = [self.presign("GET", f"/{BUCKET}/{k}", expires)
                               for k, _, _ in self.known]
        from botocore.config import Config
        from botocore.session import get_session
        client = get_session().create_client(
            "s3", region_name=REGION, endpoint_url=self.base, aws_access_key_id=WRITER[0],
            aws_secret_access_key=WRITER[1], config=Config(signature_version="s3v4"))
        post = client.generate_presigned_post(
            BUCKET, "forms/${filename}", Conditions=[["content-length-range", 0, 64 * MIB]],
            ExpiresIn=expires)
        self.form_fields = post["fields"]

    async def client(self, index, operations):
        await asyncio.sleep(index * self.args.ramp / max(1, self.args.connections))
        rng = random.Random(index + 1_000_000 * self.round)
        conn = Conn(self.stack.port)
        kinds = [op[0] for op in operations]
        weights = [op[1] for op in operations]
        runs = {op[0]: op[2] for op in operations}
        seq = 0
        while time.monotonic() < self.stop_at:
            kind = rng.choices(kinds, weights)[0]
            seq += 1
            key = f"w/{self.round}.{index}/{seq}-{kind}"
            self.uncertain.add(key)
            asked = time.monotonic()
            reused = conn.wire is not None
            try:
                await asyncio.wait_for(runs[kind](conn, rng, key), self.args.request_timeout)
            except Exception as error:  # a reset, a timeout, a malformed answer: all unexpected
                silence = conn.first_silence
                if isinstance(error, ConnectionError) and silence is not None \
                        and silence > self.args.header_timeout:
                    # Not the proxy: this client (its event loop lagging) left a new connection
                    # silent past server.header_timeout, and the proxy closed it, as it must.
                    self.late_closed.append(silence)
                    conn.close()
                    continue
                self.counts.setdefault(kind, [0, 0])[0] += 1
                now = time.monotonic()
                self.note(kind, f"{type(error).__name__}: {error} (key {key}; sent at "
                                f"{asked - self.t0:.1f} s on a {'reused' if reused else 'new'} "
                                f"connection, failed {now - asked:.1f} s later)")
                conn.close()
        conn.close()

    async def slow_client(self, index, done):
        """Keeps one slow pre-auth connection open until `done`: part of a head, or a form's head
        and the start of its body, then a byte every ~2 s. A closed one is replaced."""
        await asyncio.sleep(index * self.args.ramp / max(1, self.args.slow))
        rng = random.Random(-1 - index - 1_000_000 * self.round)
        while not done.is_set():
            variant = index % 3
            if variant == 0:
                start = f"GET /{BUCKET}/known/0 HTTP/1.1\r\nHost: {self.host}\r\nX-Slow: "
            elif variant == 1:
                start = f"GET /{BUCKET}/known/"
            else:
                start = (f"POST /{BUCKET} HTTP/1.1\r\nHost: {self.host}\r\n"
                         "Content-Type: multipart/form-data; boundary=slowslow\r\n"
                         "Content-Length: 1000000\r\n\r\n--slowslow\r\n"
                         'Content-Disposition: form-data; name="key"\r\n\r\nforms/slow-')
            outcome = await self.one_slow(start.encode(), rng, done)
            self.slow[outcome] = self.slow.get(outcome, 0) + 1

    async def one_slow(self, start, rng, done):
        asked = time.monotonic()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.stack.port)
        except OSError as error:
            return f"connect failed: {type(error).__name__}"
        opened = time.monotonic()
        self.slow_connect_times.append(opened - asked)
        self.slow_open += 1
        answer = asyncio.ensure_future(reader.read(4096))
        finished = asyncio.ensure_future(done.wait())
        outcome, deadline = None, self.args.slow_deadline
        try:
            writer.write(start)
            while outcome is None:
                await asyncio.wait({answer, finished},
                                   timeout=SLOW_BYTE_INTERVAL * rng.uniform(0.8, 1.2))
                if answer.done():
                    outcome = slow_outcome(answer)
                elif deadline and time.monotonic() - opened > deadline:
                    outcome = SLOW_PAST_DEADLINE
                elif finished.done():
                    outcome = "still open at the end"
                else:
                    writer.write(b"a")
                    await writer.drain()
        except OSError as error:
            outcome = f"write failed: {type(error).__name__}"
        finally:
            self.slow_open -= 1
            for task in (answer, finished):
                task.cancel()
            writer.close()
        if outcome not in ("still open at the end", SLOW_PAST_DEADLINE):
            self.slow_close_times.append(time.monotonic() - opened)
        return outcome

    async def sampler(self, started, done):
        pid = self.stack.proxy.pid
        next_report = started + 10
        while not done.is_set():
            try:
                rss, fds = proc_figures(pid)
            except (FileNotFoundError, ProcessLookupError, StopIteration):
                self.note("proxy", "the proxy process is gone")
                return
            now = time.monotonic()
            self.samples.append((now - started, rss, fds))
            if now >= next_report:
                next_report += 10
                sent = sum(c[0] for c in self.counts.values())
                print(f"  {now - started:5.0f} s  {sent} requests ({sent / (now - started):.0f}/s)"
                      f"  unexpected {len(self.unexpected)}  rss {rss / 1024:.0f} MiB  fds {fds}"
                      f"  slow open {self.slow_open}", flush=True)
            asked = time.monotonic()
            try:
                await asyncio.wait_for(done.wait(), 1.0)
            except asyncio.TimeoutError:
                # How late this client's own event loop wakes up: client-side timings (connect,
                # time to close) are inflated by as much.
                self.loop_lag.append(time.monotonic() - asked - 1.0)


def slow_outcome(answer):
    try:
        data = answer.result()
    except OSError as error:
        return f"reset ({type(error).__name__})"
    if not data:
        return "closed without an answer"
    status = data.split(b" ", 2)[1].decode(errors="replace") if data.startswith(b"HTTP/") else "?"
    code = re.search(rb"<Code>([^<]*)</Code>", data)
    return f"answered {status} {code.group(1).decode() if code else ''}".rstrip()


def check_store(soak):
    """Every acknowledged object whole, nothing for a refused upload, nothing unannounced."""
    root = os.path.join(soak.stack.root, BUCKET)
    problems, on_disk = [], {}
    for folder, _dirs, files in os.walk(soak.stack.root):
        for name in files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, soak.stack.root)
            if rel.startswith(".s3-auth-proxy" + os.sep):
                continue  # the proxy's own records (ETags, staging)
            key = os.path.relpath(path, root) if rel.startswith(BUCKET + os.sep) else rel
            on_disk[key] = path
    for key, (size, sha) in soak.acked.items():
        path = on_disk.get(key)
        if path is None:
            problems.append(f"acknowledged {key} is missing")
            continue
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
            problems.append(f"acknowledged {key} holds {len(data)} bytes, not the {size} sent")
    for key in soak.refused & on_disk.keys():
        problems.append(f"refused upload {key} was stored")
    stray = on_disk.keys() - soak.acked.keys() - soak.refused - soak.uncertain
    problems += [f"{key} is stored but no upload of it was acknowledged" for key in sorted(stray)]
    with_unclear_answer = len(soak.uncertain & on_disk.keys())
    temp = sum(len(f) for _, _, f in os.walk(soak.stack.nginx_temp))
    return problems, len(soak.acked), len(soak.refused), with_unclear_answer, temp


def check_the_judge(soak):
    """Answers that must count as unexpected do: a wrong status, a wrong code, a wrong body."""
    def answer(status, code, body=b""):
        xml = f"<Error><Code>{code}</Code></Error>".encode() if code else body
        return Response(status, {}, xml, False)
    cases = [(answer(200, None), 403, "SignatureDoesNotMatch", None),
             (answer(403, "AccessDenied"), 403, "SignatureDoesNotMatch", None),
             (answer(400, "BadDigest"), 400, "XAmzContentSHA256Mismatch", None),
             (answer(200, None, b"x"), 200, None, hashlib.sha256(b"y").hexdigest())]
    for response, status, code, sha in cases:
        if soak.judge("self-check", response, status, code, body_sha=sha):
            raise SystemExit(f"soak: the judge accepts {response.status} {response.code()} "
                             f"for {status} {code}")
    soak.counts.pop("self-check")
    soak.unexpected.clear()


def check_the_store_check(soak):
    """After the real check: one acknowledged object changed, one removed, an object for a
    refused upload and one nobody announced must give exactly four problems."""
    acked = sorted(k for k in soak.acked if k.startswith("w/"))
    refused = sorted(soak.refused)
    if len(acked) < 2 or not refused:
        return "too few objects to check the store check"
    path = lambda key: os.path.join(soak.stack.root, BUCKET, key)
    with open(path(acked[0]), "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 1]))
    os.remove(path(acked[1]))
    for key in (refused[0], "w/never-announced"):
        os.makedirs(os.path.dirname(path(key)), exist_ok=True)
        with open(path(key), "wb") as f:
            f.write(b"x")
    problems = check_store(soak)[0]
    return None if len(problems) == 4 else f"the store check found {problems}, not 4 problems"


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


async def run(soak, args):
    check_the_judge(soak)
    await soak.preload()
    await asyncio.sleep(0.5)
    base = proc_figures(soak.stack.proxy.pid)
    print(f"baseline: rss {base[0] / 1024:.1f} MiB, fds {base[1]}", flush=True)
    soak.t0 = started = time.monotonic()
    done = asyncio.Event()
    sampler = asyncio.ensure_future(soak.sampler(started, done))
    rounds = [await load_round(soak, args, r, base) for r in range(args.rounds)]
    done.set()
    await sampler
    return base, rounds


async def load_round(soak, args, round_, base):
    """One round of load, then every connection closed and the upstream pool drained."""
    soak.round = round_
    operations = soak.operations()
    pids = {"proxy": soak.stack.proxy.pid, "nginx": soak.stack.nginx.pid}
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    cpu["client"] = time.process_time()
    started = time.monotonic()
    soak.stop_at = started + args.duration
    slow_done = asyncio.Event()
    slow = [asyncio.ensure_future(soak.slow_client(i, slow_done)) for i in range(args.slow)]
    await asyncio.gather(*(soak.client(i, operations) for i in range(args.connections)))
    elapsed = time.monotonic() - started
    for name, pid in pids.items():
        soak.cpu[name] = soak.cpu.get(name, 0) + cpu_seconds(pid) - cpu[name]
    soak.cpu["client"] = soak.cpu.get("client", 0) + time.process_time() - cpu["client"]
    slow_done.set()
    await asyncio.gather(*slow)
    # Every client connection is closed: the proxy's fds go back to the baseline once the
    # upstream connections pooled during the round have idled out. Wait for that (or the
    # deadline); the report then allows --fd-margin above the baseline.
    settle_deadline = time.monotonic() + args.pool_idle + 15
    while True:
        await asyncio.sleep(1)
        rss, fds = proc_figures(soak.stack.proxy.pid)
        if fds <= base[1] or time.monotonic() > settle_deadline:
            break
    peak = max([s[1] for s in soak.samples if s[0] >= started - soak.t0] + [rss])
    figures = {"seconds": elapsed, "end_rss_kib": rss, "end_fds": fds, "peak_rss_kib": peak,
               "settled_seconds": time.monotonic() - started - elapsed}
    trimmed = ""
    if args.trim:
        figures["trimmed_rss_kib"] = trimmed_rss(soak.stack.proxy.pid)
        trimmed = f" ({figures['trimmed_rss_kib'] / 1024:.1f} MiB after malloc_trim)"
    print(f"round {round_ + 1}: {elapsed:.0f} s of load; after it rss {rss / 1024:.1f} MiB"
          f"{trimmed}, fds {fds}", flush=True)
    return figures


def raise_nofile(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed and os.geteuid() == 0:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))  # root may raise it
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"soak: needs {needed} open files, the hard limit is {hard} "
                         "(raise it: ulimit -Hn, or run as root)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--duration", type=float, default=60, help="seconds of load per round")
    ap.add_argument("--rounds", type=int, default=1, help="rounds of load in the same proxy")
    ap.add_argument("--trim", action="store_true",
                    help="after each round, call malloc_trim(0) in the proxy with gdb and read "
                         "RSS again; with 2 rounds or more, that figure after the last round must "
                         "not exceed it after the first by more than 16 MiB (a leak)")
    ap.add_argument("--slow", type=int, default=1000, help="slow pre-auth connections")
    ap.add_argument("--max-rss-mib", type=float,
                    help="bound on the proxy's peak RSS (default 448 MiB; 256 with --short): "
                         "about 1.5x the highest peak measured, docs/soak.md")
    ap.add_argument("--fd-margin", type=int, default=8,
                    help="fds the proxy may hold above its baseline at the end")
    ap.add_argument("--header-timeout", type=float, default=10,
                    help="the proxy's server.header_timeout, s: a new connection this client "
                         "left silent longer than this may be closed before its request")
    ap.add_argument("--slow-deadline", type=float, default=20,
                    help="a slow connection still open after this many seconds is a failure "
                         "(server.header_timeout, 10 s by default, plus slack; 0: no limit)")
    ap.add_argument("--max-size", type=int, default=4 * MIB, help="largest object, bytes")
    ap.add_argument("--ramp", type=float, default=3.0, help="seconds over which connections open")
    ap.add_argument("--request-timeout", type=float, default=120)
    ap.add_argument("--threads", type=int, default=2, help="server.threads")
    ap.add_argument("--pool-idle", type=int, default=5, help="upstream.pool_idle_timeout, s")
    ap.add_argument("--server-setting", action="append", default=[],
                    help='an extra line for [server], e.g. \'header_timeout = "10s"\'')
    ap.add_argument("--log-level", default="warn")
    ap.add_argument("--profile", default="release", help="cargo profile to build and run")
    ap.add_argument("--proxy-bin", help="run this binary instead of building")
    ap.add_argument("--vectors", default=DEFAULT_VECTORS)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--short", action="store_true",
                    help="scripts/test.sh's run: debug build, 200 + 200 connections, 15 s, "
                         "objects up to 1 MiB")
    args = ap.parse_args()
    if args.short:
        args.profile, args.connections, args.slow, args.duration = "dev", 200, 200, 15
        args.max_size, args.ramp = MIB, 1.0
    if args.max_rss_mib is None:
        args.max_rss_mib = 256 if args.short else 448

    if args.trim and not shutil.which("gdb"):
        raise SystemExit("soak: --trim needs gdb (apt-get install gdb)")
    check_chunk_signer(args.vectors)
    nofile = raise_nofile(3 * (args.connections + args.slow) + 512)
    binary = args.proxy_bin
    if not binary:
        subprocess.run(["cargo", "build", "--profile", args.profile, "--quiet"], cwd=ROOT,
                       check=True)
        meta = json.loads(subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=ROOT, check=True,
            capture_output=True, text=True).stdout)
        binary = os.path.join(meta["target_directory"],
                              "debug" if args.profile == "dev" else args.profile, "s3-auth-proxy")
    work = tempfile.mkdtemp(prefix="s3-auth-proxy-soak-")
    stack = None
    try:
        stack = Stack(binary, work, args)
        print(f"soak: proxy {binary} on 127.0.0.1:{stack.port}, nginx on "
              f"127.0.0.1:{stack.nginx_port}; {args.connections} connections + {args.slow} slow "
              f"for {args.duration:.0f} s; nofile {nofile}", flush=True)
        soak = Soak(stack, args)
        base, rounds = asyncio.run(run(soak, args))
        failed = report(soak, args, base, rounds, binary)
    finally:
        if stack:
            stack.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failed else 0)


def report(soak, args, base, rounds, binary):
    elapsed = sum(r["seconds"] for r in rounds)
    end = (rounds[-1]["end_rss_kib"], rounds[-1]["end_fds"])
    failures = []
    sent = sum(c[0] for c in soak.counts.values())
    print(f"\n{sent} requests in {elapsed:.1f} s = {sent / elapsed:.0f}/s over "
          f"{args.connections} connections")
    print("CPU seconds during the load: " + ", ".join(
        f"{name} {sec:.1f} ({100 * sec / elapsed:.0f}%)" for name, sec in soak.cpu.items())
        + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if soak.loop_lag:
        print(f"client event loop lag: median {percentile(soak.loop_lag, 0.5):.2f} s, "
              f"p99 {percentile(soak.loop_lag, 0.99):.2f} s (client-side timings include it)")
    print(f"  {'kind':<24}{'sent':>8}{'as expected':>13}")
    for kind, (n, ok) in sorted(soak.counts.items()):
        print(f"  {kind:<24}{n:>8}{ok:>13}")
    if soak.unexpected:
        failures.append(f"{len(soak.unexpected)} unexpected answers")
        for kind, what in soak.unexpected[:10]:
            print(f"  UNEXPECTED {kind}: {what}")
    if soak.late_closed:
        print(f"  {len(soak.late_closed)} new connections the client left silent for "
              f"{min(soak.late_closed):.1f} to {max(soak.late_closed):.1f} s (its own lag, over "
              f"server.header_timeout = {args.header_timeout:.0f} s) were closed by the proxy "
              "before their request, as they must be: not counted as unexpected")
    missing = {k for k, _, _ in soak.operations()} - soak.counts.keys()
    if missing:
        failures.append(f"kinds never sent: {sorted(missing)}")
    wrong = {o: n for o, n in soak.slow.items()
             if o not in SLOW_ENDINGS and o != "still open at the end" and not o.startswith(("reset", "write failed"))}
    if wrong:
        failures.append(f"slow connections ended otherwise: {wrong}")
    opened = sum(soak.slow.values())
    print(f"slow connections: {opened} opened (kept at {args.slow}), outcomes:")
    for outcome, n in sorted(soak.slow.items()):
        print(f"  {outcome:<40}{n:>8}")
    if soak.slow_close_times:
        print(f"  time to close/answer: median {percentile(soak.slow_close_times, 0.5):.1f} s, "
              f"p99 {percentile(soak.slow_close_times, 0.99):.1f} s")
    if soak.slow_connect_times:
        print(f"  time to connect: median {percentile(soak.slow_connect_times, 0.5):.2f} s, "
              f"p99 {percentile(soak.slow_connect_times, 0.99):.2f} s, "
              f"max {max(soak.slow_connect_times):.2f} s")
    peak_rss = max([s[1] for s in soak.samples] + [base[0], end[0]])
    peak_fds = max([s[2] for s in soak.samples] + [base[1], end[1]])
    print(f"proxy rss: baseline {base[0] / 1024:.1f} MiB, peak {peak_rss / 1024:.1f} MiB, "
          f"end {end[0] / 1024:.1f} MiB (bound {args.max_rss_mib:.0f} MiB)")
    print(f"proxy fds: baseline {base[1]}, peak {peak_fds}, end {end[1]} "
          f"({rounds[-1]['settled_seconds']:.0f} s after the last client; margin {args.fd_margin})")
    if peak_rss / 1024 > args.max_rss_mib:
        failures.append(f"peak RSS {peak_rss / 1024:.1f} MiB over {args.max_rss_mib} MiB")
    for number, r in enumerate(rounds, 1):
        if len(rounds) > 1:
            trimmed = (f" ({r['trimmed_rss_kib'] / 1024:.1f} MiB after malloc_trim)"
                       if "trimmed_rss_kib" in r else "")
            print(f"  round {number}: peak rss {r['peak_rss_kib'] / 1024:.1f} MiB, after it "
                  f"{r['end_rss_kib'] / 1024:.1f} MiB{trimmed} and {r['end_fds']} fds")
        if r["end_fds"] > base[1] + args.fd_margin:
            failures.append(f"{r['end_fds']} fds after round {number}, baseline {base[1]}")
    # glibc keeps the free memory of a busy round (RSS after a round follows that round's peak,
    # which varies with the machine's load), so only the trimmed heap tells a leak.
    if args.trim and len(rounds) > 1:
        growth = rounds[-1]["trimmed_rss_kib"] - rounds[0]["trimmed_rss_kib"]
        if growth > 16 * 1024:
            failures.append(f"the heap after malloc_trim grew {growth / 1024:.1f} MiB from "
                            f"round 1 to round {len(rounds)}")
    problems, acked, refused, unclear, temp = check_store(soak)
    stored_mib = sum(size for size, _ in soak.acked.values()) / MIB
    print(f"store: {acked} acknowledged objects ({stored_mib:.0f} MiB) hash-checked, "
          f"{refused} refused uploads absent, "
          f"{unclear} stored with an unexpected answer, nginx temp files {temp}")
    if problems:
        failures.append(f"{len(problems)} store problems")
        for p in problems[:10]:
            print(f"  STORE {p}")
    broken = check_the_store_check(soak)
    if broken:
        failures.append(broken)
    else:
        print("checks of the checks: the judge refused 4 wrong answers; the store check found "
              "the 4 problems planted after it (a changed, a missing, a refused, a stray object)")
    log = open(soak.stack.log_path, errors="replace").read()
    errors = [line for line in log.splitlines() if "ERROR" in line]
    warnings = sum("WARN" in line for line in log.splitlines())
    print(f"proxy log: {len(errors)} ERROR and {warnings} WARN lines")
    for line in errors[:3]:
        print(f"  LOG {line[:300]}")
    panics = [line for line in log.splitlines() if "panic" in line.lower()]
    if panics:
        failures.append(f"{len(panics)} panic lines in the proxy log")
        for line in panics[:5]:
            print(f"  LOG {line}")
    if soak.stack.proxy.poll() is not None:
        failures.append(f"the proxy exited with {soak.stack.proxy.returncode}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"binary": binary, "connections": args.connections, "slow": args.slow,
                       "seconds": elapsed, "requests": sent, "counts": soak.counts,
                       "unexpected": soak.unexpected[:50], "slow_outcomes": soak.slow,
                       "rss_kib": [base[0], peak_rss, end[0]], "fds": [base[1], peak_fds, end[1]],
                       "rounds": rounds,
                       "samples": soak.samples, "store": [acked, refused, unclear, temp],
                       "cpu_seconds": soak.cpu, "slow_close_times": soak.slow_close_times,
                       "late_closed": soak.late_closed,
                       "slow_connect_times": soak.slow_connect_times, "loop_lag": soak.loop_lag,
                       "failures": failures}, f, indent=1)
    print("FAILED: " + "; ".join(failures) if failures else "soak: all checks passed")
    return bool(failures)


if __name__ == "__main__":
    main()
