#!/usr/bin/env bash
# The long fuzzing runs of docs/fuzzing.md: every target of issue 15 until libFuzzer has executed
# its count (10 million by default), one after another, at the lowest CPU priority so it can share
# a development machine. Not run by CI (scripts/fuzz-short.sh is CI's share).
#
#   scripts/fuzz-long.sh                 # every target, 10,000,000 executions each
#   RUNS=1000 scripts/fuzz-long.sh sigv2 # chosen targets and count
#
# Each target continues from fuzz/corpus/<target> (grown by earlier runs, not in git) and reads its
# committed seeds. Logs, with libFuzzer's final statistics, go to fuzz/logs/<target>.log; the
# script stops at the first target that finds a crash, a hang (an input over 10 s) or an
# allocation of 512 MiB.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
runs="${RUNS:-10000000}"
export RUSTC_BOOTSTRAP=1
mkdir -p logs

nice -n 19 cargo fuzz build
while read -r target max_len; do
    if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$target"; then continue; fi
    mkdir -p "corpus/$target"
    echo "fuzz-long.sh: $target, $runs executions, started $(date -u +%FT%TZ)" | tee "logs/$target.log" >&2
    nice -n 19 cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -runs="$runs" -rss_limit_mb=512 -max_len="$max_len" -timeout=10 \
        -print_final_stats=1 </dev/null >>"logs/$target.log" 2>&1
    echo "fuzz-long.sh: $target finished $(date -u +%FT%TZ)" | tee -a "logs/$target.log" >&2
done < <(grep -v '^#' targets.txt)
