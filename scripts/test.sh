#!/usr/bin/env bash
# The one command that runs every test (and what CI runs, through .ci/run).
#
#   scripts/test.sh                      # layout check, cargo test --all-targets, deploy tests, short fuzz run of every target
#   scripts/test.sh --test attacks       # any other cargo test arguments instead
#
# First makes sure the tests' real parts are present, installing what is missing when run as root
# on Debian/Ubuntu: cmake and a C compiler (to build pingora/aws-lc), nginx-core (the WebDAV
# backend of the integration tests), curl (a real client, --aws-sigv4 over HTTP/2), rclone (its
# presigned uploads, tests/client_requests.rs; sync and check, tests/plain_store_clients.rs),
# restic (tests/plain_store_clients.rs), wrk (scripts/bench-hop.py --smoke), python3 with venv; then a virtualenv at .venv-test with
# boto3, requests, pytest, awscrt, the AWS CLI, s3cmd and minio-py (tests/python/); s3s-fs, a
# keyless S3 server (tests/s3_backend.rs); Debian's chromium and playwright-core
# (scripts/install-browser-deps.sh, tests/post_forms.rs). Idempotent: when everything is there it
# only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'test.sh: %s\n' "$*" >&2; }

is_root() { [ "$(id -u)" = 0 ]; }
have_apt() { command -v apt-get >/dev/null 2>&1; }

# --- system packages --------------------------------------------------------------------------
missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
[ -x /usr/sbin/nginx ] || missing+=(nginx-core)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v restic >/dev/null 2>&1 || missing+=(restic)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
# Debian's python3 creates venvs only with python3-venv (ensurepip); only needed if the venv is absent.
if [ ! -x .venv-test/bin/python ] && command -v python3 >/dev/null 2>&1 \
    && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
if [ ! -x .venv-test/bin/python ] && ! command -v python3 >/dev/null 2>&1; then
    missing+=(python3-venv)
fi

if [ ${#missing[@]} -gt 0 ]; then
    if is_root && have_apt; then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        log "missing: ${missing[*]}"
        log "install them (Debian/Ubuntu: apt-get install ${missing[*]}) or run this script as root"
        exit 1
    fi
fi

if ! command -v cargo >/dev/null 2>&1; then
    log "cargo is missing: install a Rust toolchain (https://rustup.rs)"
    exit 1
fi

# --- Python for the boto3 tests -----------------------------------------------------------------
venv_ok() {
    [ -x .venv-test/bin/python ] && .venv-test/bin/python -c 'import boto3, requests, awscrt, minio' >/dev/null 2>&1 \
        && [ -x .venv-test/bin/aws ] && [ -x .venv-test/bin/s3cmd ]
}
if ! venv_ok; then
    # A venv that runs keeps what it has; pip adds what is missing (minio-py, new since).
    if ! .venv-test/bin/python -c 'import sys' >/dev/null 2>&1; then
        log "creating .venv-test"
        rm -rf .venv-test
        python3 -m venv .venv-test
        .venv-test/bin/python -m pip install --quiet --upgrade pip >/dev/null
    fi
    log "installing into .venv-test: boto3, requests, pytest, awscrt (CRC32C/CRC64NVME checksums), awscli, s3cmd, minio"
    .venv-test/bin/python -m pip install --quiet boto3 requests pytest awscrt awscli s3cmd minio
fi
venv_ok || { log ".venv-test cannot import boto3, requests, awscrt and minio"; exit 1; }
PYTHON="$PWD/.venv-test/bin/python"
export PYTHON

# --- a keyless S3 server as a second kind of backend (tests/s3_backend.rs) ----------------------
# s3s-fs 0.14.1: the newest release that builds with this machine's Rust (0.17 needs 1.96).
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]; then
    log "installing s3s-fs (a keyless S3 server for the upstream.kind = \"s3\" tests)"
    cargo install s3s-fs --version 0.14.1 --locked --features binary
fi

# --- headless Chromium for the browser tests (tests/post_forms.rs) ------------------------------
if is_root && have_apt; then
    bash scripts/install-browser-deps.sh
else
    log "not root: the browser tests need scripts/install-browser-deps.sh to have been run once"
fi

# --- the tests ----------------------------------------------------------------------------------
# --no-fail-fast: one failing test binary must not hide the results of the others.
if [ $# -gt 0 ]; then
    exec cargo test "$@"
fi
status=0
# The layout the README promises: no import circle, no fn over 100 lines, no file over 900.
python3 scripts/check-layout.py || status=1
cargo test --all-targets --no-fail-fast || status=1

# The plain-store benchmark's smoke run (~15 s; the real run and its figures: docs/benchmarks.md):
# the script and both its paths still work. Debug build, small sizes: its figures are not judged.
"$PYTHON" scripts/bench-plain-store.py --smoke || status=1

# The soak's short run (~30 s, debug build; the full run and its figures: docs/soak.md): 200
# keep-alive clients mixing honest and hostile requests and 200 slow heads for 15 s; every answer,
# every stored byte, the slow heads' ending, the proxy's RSS and fds are checked.
"$PYTHON" scripts/soak.py --short || status=1

# The proxy hop's benchmark (issue 16), smoke run (< 1 min; the real run: docs/benchmarks.md):
# wrk GETs (header-signed, presigned) and PUTs (signed, aws-chunked) through nginx proxy_pass and
# the proxy. Debug build, 2 s per workload, 16 MiB: its figures are not judged.
"$PYTHON" scripts/bench-hop.py --smoke || status=1

# The deploy files, run for real: image, compose stack, Kubernetes pod (podman), manifests.
if is_root && have_apt; then
    bash scripts/test-deploy.sh || status=1
else
    log "skipping scripts/test-deploy.sh (needs root on Debian: apt-get, rootful podman)"
fi

# A short fuzz run of every target: 30 s shared by the aws-chunked decoder and the POST form
# reader, 20 s for each of the nine others (~3.5 min with the build; the long runs: docs/fuzzing.md).
bash scripts/fuzz-short.sh "${FUZZ_SECONDS:-30}" "${FUZZ_TARGET_SECONDS:-20}" || status=1

exit $status
