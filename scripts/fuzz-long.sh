#!/usr/bin/env bash
# The long fuzzing runs of docs/fuzzing.md: every target of issue 15 until libFuzzer has executed
# its count (10 million by default), one after another, at the lowest CPU priority so it can share
# a development machine. Not run by CI (scripts/fuzz-short.sh is CI's share).
#
#   scripts/fuzz-long.sh                         # every target, 10,000,000 executions each
#   RUNS=1000 scripts/fuzz-long.sh sigv2         # chosen targets and count
#   SANITIZER=address scripts/fuzz-long.sh sigv2 # under AddressSanitizer (what CI's short runs use)
#
# SANITIZER is cargo-fuzz's -s: `none` by default, because the parsers are safe Rust (the crate
# denies unsafe code but for the MD5 binding, which no target reaches) and AddressSanitizer makes
# them 8-9 times slower (sigv4_header: ~3,100 against ~26,700 executions/s, same machine, same
# minute): 10 million executions take minutes instead of an hour. A panic, a hang and a process
# over 512 MiB are caught either way; what ASan adds, a single huge allocation caught before its
# pages are touched, the short CI runs and docs/fuzzing.md's ASan runs keep. Each sanitizer
# builds into its own target dir (fuzz/target, fuzz/target-none), so both can run side by side.
#
# Each target continues from fuzz/corpus/<target> (grown by earlier runs, not in git) and reads its
# committed seeds. Logs, with libFuzzer's final statistics, go to fuzz/logs/<target>-<sanitizer>.log;
# the script stops at the first target that finds a crash, a hang (an input over 10 s) or a
# process over 512 MiB.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
runs="${RUNS:-10000000}"
sanitizer="${SANITIZER:-none}"
target_dir=target
[ "$sanitizer" = address ] || target_dir="target-$sanitizer"
export RUSTC_BOOTSTRAP=1
mkdir -p logs

nice -n 19 cargo fuzz build -s "$sanitizer" --target-dir "$target_dir"
while read -r target max_len; do
    if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$target"; then continue; fi
    mkdir -p "corpus/$target"
    log="logs/$target-$sanitizer.log"
    echo "fuzz-long.sh: $target, $runs executions, sanitizer $sanitizer, started $(date -u +%FT%TZ)" | tee "$log" >&2
    nice -n 19 cargo fuzz run -s "$sanitizer" --target-dir "$target_dir" "$target" \
        "corpus/$target" "seeds/$target" -- \
        -runs="$runs" -rss_limit_mb=512 -max_len="$max_len" -timeout=10 \
        -print_final_stats=1 </dev/null >>"$log" 2>&1
    echo "fuzz-long.sh: $target finished $(date -u +%FT%TZ)" | tee -a "$log" >&2
done < <(grep -v '^#' targets.txt)
