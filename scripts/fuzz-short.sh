#!/usr/bin/env bash
# A short fuzzing run of every cargo-fuzz target, cheap enough for CI (the long runs and their
# figures: docs/fuzzing.md).
#
#   scripts/fuzz-short.sh          # 60 s shared by aws_chunked and multipart, 20 s for each other target
#   scripts/fuzz-short.sh 600 120  # any numbers of seconds
#
# Needs only stable Rust: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags (sanitizer,
# coverage instrumentation) to the stable compiler. Installs cargo-fuzz (from crates.io) and
# cmake + a C compiler (pingora's build needs them) when missing and allowed to. The corpus and
# crash artifacts stay in fuzz/corpus and fuzz/artifacts (ignored by git); each target also reads
# its committed seeds (fuzz/seeds/<target>, written by fuzz/make-seeds.py). A crash, a hang (an
# input over 10 s) or a process over 512 MiB makes the script fail; libFuzzer prints the input
# that reproduces it.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
each="${2:-20}"
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
cargo fuzz build
# The time is shared: the aws-chunked decoder and the POST form reader.
for target in aws_chunked multipart; do
    log "fuzzing $target for $(( (seconds + 1) / 2 ))s"
    cargo fuzz run "$target" -- -max_total_time="$(( (seconds + 1) / 2 ))"
done
# Every other parser a client reaches, with its seeds and the longest input its format needs.
while read -r target max_len; do
    log "fuzzing $target for ${each}s"
    mkdir -p "corpus/$target"
    cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- -max_total_time="$each" \
        -max_len="$max_len" -rss_limit_mb=512 -timeout=10 </dev/null
done < <(grep -v '^#' targets.txt)
