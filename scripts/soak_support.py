"""The parts of scripts/soak.py that know nothing of the load: the aws-chunked chunk signer and
its check against the Amazon S3 documentation's streaming example, a raw HTTP/1.1 client
connection, the nginx + proxy stack in a temporary folder, and /proc readings of a process."""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import time
import zlib

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VECTORS = os.path.join(ROOT, "..", "shared", "vectors", "s3-doc-examples.json")
WRITER = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
# Allowed to read bucket "public" only: its writes and its reads of "soak" are AccessDenied.
READER = ("AKIAREADONLYEXAMPLE", "readonly/EXAMPLE/secret/key/0123456789")
REGION = "us-east-1"
BUCKET, PUBLIC = "soak", "public"
KIB, MIB = 1024, 1024 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


# --- aws-chunked chunk signatures (sigv4-streaming), independent of src/signer.rs --------------

def signing_key(secret, day, region=REGION, service="s3"):
    """kSigning = HMAC chain over date, region, service, "aws4_request" from "AWS4" + secret."""
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def chunk_signature(key, amz_date, scope, previous, data):
    """One chunk's signature: its string to sign chains the previous signature (the seed for the
    first chunk) and the hash of the chunk's data."""
    sts = "\n".join(("AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY_SHA256,
                     hashlib.sha256(data).hexdigest()))
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def chunk_sizes(size, chunk):
    """The data chunks of a payload, then the final empty one."""
    return [min(chunk, size - at) for at in range(0, size, chunk)] + [0]


def signed_chunked_length(size, chunk):
    """Wire length of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body: known before signing, since the
    Content-Length is signed."""
    return sum(len(f"{n:x};chunk-signature=") + 64 + 2 + n + 2 for n in chunk_sizes(size, chunk))


def signed_chunked_body(data, chunk, key, amz_date, scope, seed, tamper_chunk=None):
    """The wire body, each chunk signed over the previous signature; with tamper_chunk, one byte
    of that data chunk is changed after it was signed."""
    out, previous, at = [], seed, 0
    for index, n in enumerate(chunk_sizes(len(data), chunk)):
        piece = data[at:at + n]
        at += n
        previous = chunk_signature(key, amz_date, scope, previous, piece)
        if index == tamper_chunk and n:
            piece = piece[:n // 2] + bytes([piece[n // 2] ^ 0x01]) + piece[n // 2 + 1:]
        out.append(f"{n:x};chunk-signature={previous}\r\n".encode() + piece + b"\r\n")
    return b"".join(out)


def unsigned_trailer_body(data, chunk, trailer_name, trailer_value):
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER framing: plain chunks, the empty one, the trailer."""
    out = [f"{n:x}\r\n".encode() + data[at:at + n] + b"\r\n"
           for at, n in zip(range(0, len(data), chunk), chunk_sizes(len(data), chunk)[:-1])]
    out.append(f"0\r\n{trailer_name}:{trailer_value}\r\n\r\n".encode())
    return b"".join(out)


def crc32_base64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


class HeaderAuth(S3SigV4Auth):
    """botocore's S3 header signer (S3's unnormalised path) that keeps the x-amz-content-sha256
    we declare (a hash, UNSIGNED-PAYLOAD or a STREAMING-* mode) instead of hashing the body."""

    def _modify_request_before_signing(self, request):
        SigV4Auth._modify_request_before_signing(self, request)


def check_chunk_signer(path):
    """The streaming example of the Amazon S3 documentation: botocore's seed signature over its
    head, then every chunk signature and the wire length from the code above. A copy with one
    byte changed must not give the documented signature (so this check can fail)."""
    doc = json.load(open(path))
    ex, cred = doc["streaming_signed"], doc["credentials"]
    headers = {k: v for k, v in ex["headers"] if k.lower() != "host"}
    host = dict((k.lower(), v) for k, v in ex["headers"])["host"]
    request = AWSRequest(method=ex["method"], url=f"http://{host}{ex['path']}", headers=headers)
    amz_date = headers["x-amz-date"]
    request.context["timestamp"] = amz_date
    auth = HeaderAuth(Credentials(cred["access_key_id"], cred["secret_access_key"]),
                      cred["service"], cred["region"])
    problems = []
    if auth.signed_headers(auth.headers_to_sign(request)) != ex["signed_headers"]:
        problems.append("signed headers differ")
    canonical = auth.canonical_request(request)
    if hashlib.sha256(canonical.encode()).hexdigest() != ex["expected_canonical_request_sha256"]:
        problems.append("canonical request differs")
    seed = auth.signature(auth.string_to_sign(request, canonical), request)
    if seed != ex["expected_seed_signature"]:
        problems.append("seed signature differs")
    key = signing_key(cred["secret_access_key"], amz_date[:8], cred["region"], cred["service"])
    scope = f"{amz_date[:8]}/{cred['region']}/{cred['service']}/aws4_request"
    previous, wire = ex["expected_seed_signature"], 0
    for chunk in ex["chunks"]:
        data = chunk["byte"].encode() * chunk["size"]
        previous = chunk_signature(key, amz_date, scope, previous, data)
        if previous != chunk["expected_signature"]:
            problems.append(f"signature of the {chunk['size']}-byte chunk differs")
        wire += len(f"{chunk['size']:x};chunk-signature={previous}\r\n") + chunk["size"] + 2
    size = sum(c["size"] for c in ex["chunks"])
    if wire != ex["expected_wire_body_length"] or \
            signed_chunked_length(size, ex["chunks"][0]["size"]) != wire:
        problems.append("wire length differs")
    first = ex["chunks"][0]
    changed = b"b" + first["byte"].encode() * (first["size"] - 1)
    if chunk_signature(key, amz_date, scope, ex["expected_seed_signature"], changed) \
            == first["expected_signature"]:
        problems.append("a changed chunk still gives the documented signature")
    if problems:
        raise SystemExit(f"soak: the chunk signer fails the S3 streaming example: {problems}")


# --- raw HTTP/1.1 over asyncio streams ----------------------------------------------------------

class Response:
    def __init__(self, status, headers, body, closed):
        self.status, self.headers, self.body, self.closed = status, headers, body, closed

    def code(self):
        found = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return found.group(1).decode() if found else None


class Wire:
    """A client connection's bytes, on a plain non-blocking socket. Reading does not stop when
    a write fails (asyncio's transports and streams do: their reader then raises at once and
    drops what the kernel holds), so an answer the proxy wrote before closing is read whole, as
    a client that reads while it sends would; only bytes the kernel discarded are lost."""

    def __init__(self, sock):
        self.sock, self.buffer, self.eof = sock, bytearray(), False
        self.loop = asyncio.get_running_loop()
        self.connected_at, self.first_sent_at = time.monotonic(), None

    @classmethod
    async def connect(cls, port):
        sock = socket.socket()
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    async def _more(self):
        if self.eof:
            raise ConnectionError("connection closed before a whole answer")
        data = await self.loop.sock_recv(self.sock, 256 * KIB)  # a reset raises here
        if not data:
            self.eof = True
            raise ConnectionError("connection closed before a whole answer")
        self.buffer += data

    async def read_until(self, separator):
        while (at := self.buffer.find(separator)) < 0:
            await self._more()
        line = bytes(self.buffer[:at + len(separator)])
        del self.buffer[:at + len(separator)]
        return line

    async def read_exactly(self, n):
        while len(self.buffer) < n:
            await self._more()
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    async def read_to_eof(self):
        try:
            while True:
                await self._more()
        except ConnectionError:
            if not self.eof:
                raise
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    async def write(self, data):
        if self.first_sent_at is None:
            self.first_sent_at = time.monotonic()
        await self.loop.sock_sendall(self.sock, data)

    def silent_for(self):
        """Seconds from the connect to the first byte sent (so far)."""
        return (self.first_sent_at or time.monotonic()) - self.connected_at

    def close(self):
        # Unregister first: a sock_recv/sock_sendall still pending would otherwise leave the fd
        # in the selector, and the next socket given the same number would never be polled.
        self.loop.remove_reader(self.sock.fileno())
        self.loop.remove_writer(self.sock.fileno())
        self.sock.close()


async def read_response(wire):
    line = await wire.read_until(b"\r\n")
    status = int(line.split(b" ", 2)[1])
    headers = {}
    while True:
        line = await wire.read_until(b"\r\n")
        if line == b"\r\n":
            break
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode()] = value.strip().decode("latin-1")
    closed = headers.get("connection", "").lower() == "close"
    if status in (204, 304) or status < 200:
        body = b""
    elif "content-length" in headers:
        body = await wire.read_exactly(int(headers["content-length"]))
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while True:
            size = int((await wire.read_until(b"\r\n")).split(b";")[0], 16)
            parts.append(await wire.read_exactly(size + 2))
            if size == 0:
                break
        body = b"".join(p[:-2] for p in parts)
    else:
        body, closed = await wire.read_to_eof(), True
    return Response(status, headers, body, closed)


class Conn:
    """One client connection, kept alive across requests, reopened after a close."""

    def __init__(self, port):
        self.port, self.wire = port, None
        # For a request that failed as the first on its connection: how long the connection
        # was silent first (the proxy closes a new connection silent for server.header_timeout).
        self.first_silence = None

    async def exchange(self, head, body=b""):
        if self.wire is None:
            self.wire = await Wire.connect(self.port)
        fresh = self.wire.first_sent_at is None
        sending = asyncio.ensure_future(self._send(head, body))
        try:
            response = await read_response(self.wire)
        except BaseException:
            sending.cancel()
            self.first_silence = self.wire.silent_for() if fresh else None
            self.close()
            raise
        if not sending.done():
            sending.cancel()  # answered before the whole body was sent: unusable
            response.closed = True
        elif sending.cancelled() or sending.exception() is not None:
            response.closed = True
        if response.closed:
            self.close()
        return response

    async def _send(self, head, body):
        await self.wire.write(head)
        view = memoryview(body)
        for at in range(0, len(body), 256 * KIB):
            await self.wire.write(view[at:at + 256 * KIB])

    def close(self):
        if self.wire is not None:
            self.wire.close()
        self.wire = None


# --- the stack: nginx (WebDAV) and the proxy, in a temporary folder ------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"soak: {proc.args[0]} exited with {proc.returncode} at startup")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"soak: port {port} never opened")


NGINX_CONF = """{user}
worker_processes 1;
worker_rlimit_nofile {nofile};
pid {p}/nginx.pid;
daemon off;
error_log {p}/logs/error.log warn;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    underscores_in_headers on;
    # Outside the root: a partial body buffered here must never look like a stored object.
    client_body_temp_path {p}/client_body_temp;
    proxy_temp_path {p}/proxy_temp;
    fastcgi_temp_path {p}/fastcgi_temp;
    uwsgi_temp_path {p}/uwsgi_temp;
    scgi_temp_path {p}/scgi_temp;
    server {{
        # nginx's default backlog (511) overflows when ~1,000 uploads open their upstream
        # connections at once on a loaded machine: the proxy's connect then times out (503).
        listen 127.0.0.1:{port} backlog=4096;
        root {p}/root;
        location / {{
            dav_methods PUT DELETE MKCOL COPY MOVE;
            autoindex on;
            autoindex_format json;
            index .s3-auth-proxy/no-index;
            create_full_put_path on;
            client_max_body_size 0;
        }}
    }}
}}
"""


class Stack:
    """nginx as tests/support/nginx.rs configures it (more worker connections: the proxy may
    hold one upstream connection per client), and the proxy with two keys in front of it."""

    def __init__(self, binary, work, args):
        self.work, self.procs = work, []
        self.nginx_port, self.port, self.metrics_port = free_port(), free_port(), free_port()
        prefix = os.path.join(work, "nginx")
        self.root = os.path.join(prefix, "root")
        self.nginx_temp = os.path.join(prefix, "client_body_temp")
        for sub in ("root", "logs", "client_body_temp", "proxy_temp", "fastcgi_temp",
                    "uwsgi_temp", "scgi_temp"):
            os.makedirs(os.path.join(prefix, sub))
        connections = 2 * (args.connections + args.slow) + 256
        with open(os.path.join(prefix, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(user="user root;" if os.geteuid() == 0 else "",
                                      p=prefix, port=self.nginx_port, connections=connections,
                                      nofile=2 * connections))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nginx = subprocess.Popen([nginx, "-p", prefix + "/", "-c", prefix + "/nginx.conf"],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(prefix, "logs/stderr.log"), "w"))
        self.procs.append(self.nginx)
        with open(os.path.join(work, "secrets.toml"), "w") as f:
            f.write(f'[[credentials]]\naccess_key = "{WRITER[0]}"\nsecret_key = "{WRITER[1]}"\n\n'
                    f'[[credentials]]\naccess_key = "{READER[0]}"\nsecret_key = "{READER[1]}"\n'
                    f'allow = ["read:{PUBLIC}/*"]\n')
        server_extra = "".join(line + "\n" for line in args.server_setting)
        with open(os.path.join(work, "proxy.toml"), "w") as f:
            f.write(f"""[server]
listen = "127.0.0.1:{self.port}"
metrics_listen = "127.0.0.1:{self.metrics_port}"
threads = {args.threads}
{server_extra}[upstream]
address = "127.0.0.1:{self.nginx_port}"
kind = "http"
pool_idle_timeout = "{args.pool_idle}s"
[auth]
secrets_file = "secrets.toml"
region = "{REGION}"
[log]
level = "{args.log_level}"
""")
        self.log_path = os.path.join(work, "proxy.log")
        self.proxy = subprocess.Popen([binary, "--config", os.path.join(work, "proxy.toml")],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=open(self.log_path, "w"))
        self.procs.append(self.proxy)
        wait_port(self.nginx_port, self.nginx)
        wait_port(self.port, self.proxy)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def cpu_seconds(pid):
    """User + system CPU time of a process, its reaped children and its live children (nginx's
    worker), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    total = sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return total + sum(cpu_seconds(int(child)) for child in f.read().split())


def proc_figures(pid):
    """(RSS in KiB, open fds) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def trimmed_rss(pid):
    """RSS after glibc's malloc_trim(0), called in the process by gdb: what the heap still uses,
    without the free memory the allocator keeps after a busy period."""
    done = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "call (int) malloc_trim(0)"],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise SystemExit(f"soak: gdb could not call malloc_trim: {done.stderr[-300:]}")
    return proc_figures(pid)[0]
