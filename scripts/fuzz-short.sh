#!/usr/bin/env bash
# A short fuzzing run of the aws-chunked verifier, cheap enough for CI.
#
#   scripts/fuzz-short.sh        # 60 seconds
#   scripts/fuzz-short.sh 600    # any number of seconds
#
# Needs only stable Rust: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags (sanitizer,
# coverage instrumentation) to the stable compiler. Installs cargo-fuzz (from crates.io) and
# cmake + a C compiler (pingora's build needs them) when missing and allowed to. The corpus and
# crash artifacts stay in fuzz/corpus and fuzz/artifacts (ignored by git); a crash makes the
# script fail and libFuzzer prints the input that reproduces it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
log() { printf 'fuzz-short.sh: %s\n' "$*" >&2; }

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        log "missing ${missing[*]}: install them first"
        exit 1
    fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
log "building the fuzz targets (first build: several minutes)"
cargo fuzz build aws_chunked
cargo fuzz build multipart
# The time is shared: the aws-chunked decoder and the POST form reader.
for target in aws_chunked multipart; do
    log "fuzzing $target for $(( (seconds + 1) / 2 ))s"
    cargo fuzz run "$target" -- -max_total_time="$(( (seconds + 1) / 2 ))"
done
