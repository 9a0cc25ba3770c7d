#!/usr/bin/env bash
# Tests scripts/run-local.sh's prerequisite check (`run-local.sh --check`) on this machine without
# uninstalling anything: each case runs it with PATH set to a folder of links to this machine's
# commands minus the ones the case takes away, with stand-ins for `id` (root or not) and
# `apt-get` (records what it is asked to install and "installs" it by adding a stand-in command,
# or fails). nginx is a stand-in too, present in every case, as on the machine of the bug report.
# Needs no root, no network; writes only in a temporary folder. scripts/test-deploy.sh runs it,
# and runs the same check for real in a container that has nginx but no cmake.
#
#   scripts/test-run-local.sh     # prints PASS/FAIL per case, `N passed, M failed`; exits 1 on a failure
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TMP=$(mktemp -d "${TMPDIR:-/tmp}/test-run-local.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PASSED=0 FAILED=0
pass() { printf 'PASS: %s\n' "$*"; PASSED=$((PASSED + 1)); }
fail() { printf 'FAIL: %s\n' "$*"; FAILED=$((FAILED + 1)); }

# The commands a case may take away; every other command of this machine is linked once into
# $TMP/base, which comes last on each case's PATH.
TAKEABLE=(cmake cc gcc make cargo)
mkdir "$TMP/base"
IFS=: read -ra path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
    [ -d "$d" ] || continue
    for f in "$d"/*; do
        name=${f##*/}
        [ -x "$f" ] && [ ! -d "$f" ] && [ ! -e "$TMP/base/$name" ] || continue
        case " ${TAKEABLE[*]} id apt-get nginx " in *" $name "*) continue ;; esac
        ln -s "$f" "$TMP/base/$name"
    done
done

# fake_path DIR NAME...: DIR/bin holds the TAKEABLE commands but the NAMEs, and stand-ins for id,
# apt-get and nginx.
fake_path() {
    local dir=$1 c; shift
    rm -rf "$dir" && mkdir -p "$dir/bin"
    for c in "${TAKEABLE[@]}"; do
        case " $* " in *" $c "*) continue ;; esac
        if command -v "$c" >/dev/null 2>&1; then ln -s "$(command -v "$c")" "$dir/bin/$c"; fi
    done
    printf '#!/bin/sh\n[ "$1" = -u ] && { echo "${FAKE_UID:-1000}"; exit 0; }\nexec %s "$@"\n' \
        "$(command -v id)" >"$dir/bin/id"
    printf '#!/bin/sh\nexit 0\n' >"$dir/bin/nginx"
    # apt-get: logs its arguments; `install` adds the command each package provides (or fails
    # when FAKE_APT_FAIL=1).
    cat >"$dir/bin/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >>"$dir/apt.log"
[ "\$1" = install ] || exit 0
[ "\${FAKE_APT_FAIL:-}" = 1 ] && { echo "E: Unable to locate package" >&2; exit 100; }
for p in "\$@"; do
    case \$p in
        gcc) c=cc ;; nginx-core) c=nginx ;; cmake|make) c=\$p ;; *) continue ;;
    esac
    # the cc stand-in finds the C library's start files (-print-file-name)
    printf '#!/bin/sh\necho /usr/lib/stand-in/Scrt1.o\n' >"$dir/bin/\$c" && chmod +x "$dir/bin/\$c"
done
EOF
    chmod +x "$dir/bin/id" "$dir/bin/nginx" "$dir/bin/apt-get"
    : >"$dir/apt.log"
}

# run_case NAME UID [VAR=VALUE...] -- NAME_TAKEN_AWAY...: runs run-local.sh --check in the fake
# PATH, prints its exit status; leaves its stderr in $TMP/NAME/err, the apt-get calls in $TMP/NAME/apt.log.
run_case() {
    local name=$1 uid=$2; shift 2
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    fake_path "$TMP/$name" "$@"
    env -i HOME="$TMP/$name" PATH="$TMP/$name/bin:$TMP/base" TMPDIR="$TMP/$name" FAKE_UID="$uid" "${envs[@]}" \
        "$TMP/base/bash" "$ROOT/scripts/run-local.sh" --check >"$TMP/$name/out" 2>"$TMP/$name/err"
    echo $?
}
lines() { grep -c '' "$1"; }

# 1. The report: nginx there, cmake not, no root: one line naming cmake only, exit 1, no install.
st=$(run_case no-cmake-user 1000 -- cmake)
err=$(cat "$TMP/no-cmake-user/err")
if [ "$st" = 1 ] && [ "$(lines "$TMP/no-cmake-user/err")" = 1 ] \
    && [ "$err" = "run-local.sh: missing cmake (apt-get install cmake)" ] \
    && [ ! -s "$TMP/no-cmake-user/apt.log" ]; then
    pass "nginx present, cmake missing, not root: exit 1, one line: $err"
else
    fail "nginx present, cmake missing, not root (status $st): $err"
fi

# 2. The same as root: cmake alone is installed, nginx left alone; then all is there.
st=$(run_case no-cmake-root 0 -- cmake)
apt=$(grep ' install ' "$TMP/no-cmake-root/apt.log")
err=$(cat "$TMP/no-cmake-root/err")
if [ "$st" = 0 ] && [ "$apt" = "apt-get install -y -qq --no-install-recommends cmake" ] \
    && [ "$err" = "run-local.sh: installing cmake" ]; then
    pass "nginx present, cmake missing, root: installs cmake alone ($apt), exit 0"
else
    fail "nginx present, cmake missing, root (status $st): $err / $apt"
fi

# 3. Each prerequisite on its own: cc and make missing, cmake there: only those installed.
st=$(run_case no-cc-make-root 0 -- cc gcc make)
apt=$(grep ' install ' "$TMP/no-cc-make-root/apt.log")
if [ "$st" = 0 ] && [ "$apt" = "apt-get install -y -qq --no-install-recommends gcc libc6-dev make" ]; then
    pass "cc and make missing, root: installs gcc, libc6-dev and make, not cmake or nginx-core, exit 0"
else
    fail "cc and make missing, root (status $st): $(cat "$TMP/no-cc-make-root/err") / $apt"
fi

# 3b. A compiler without the C library's files (gcc installed without libc6-dev) cannot link:
# named as missing.
fake_path "$TMP/no-libc" cc
printf '#!/bin/sh\necho Scrt1.o\n' >"$TMP/no-libc/bin/cc" && chmod +x "$TMP/no-libc/bin/cc"
env -i HOME="$TMP/no-libc" PATH="$TMP/no-libc/bin:$TMP/base" FAKE_UID=1000 \
    "$TMP/base/bash" "$ROOT/scripts/run-local.sh" --check >/dev/null 2>"$TMP/no-libc/err"
st=$?
err=$(cat "$TMP/no-libc/err")
if [ "$st" = 1 ] && [ "$err" = "run-local.sh: missing cc (apt-get install gcc libc6-dev)" ]; then
    pass "cc without libc6-dev, not root: exit 1, one line: $err"
else
    fail "cc without libc6-dev (status $st): $err"
fi

# 4. Installing fails: one line names every missing prerequisite and where apt-get's output is.
st=$(run_case apt-fails 0 FAKE_APT_FAIL=1 -- cmake make)
last=$(tail -1 "$TMP/apt-fails/err")
if [ "$st" = 1 ] && [ "$(lines "$TMP/apt-fails/err")" = 2 ] \
    && [[ $last == "run-local.sh: missing make (apt-get install make); cmake (apt-get install cmake) (apt-get install make cmake failed: "*")" ]]; then
    pass "apt-get fails: exit 1, one line after 'installing': $last"
else
    fail "apt-get fails (status $st): $(cat "$TMP/apt-fails/err")"
fi

# 5. cargo cannot come from apt-get: named with where to get it, nothing installed for it.
st=$(run_case no-cargo 0 -- cargo)
err=$(cat "$TMP/no-cargo/err")
if [ "$st" = 1 ] && [ "$(lines "$TMP/no-cargo/err")" = 1 ] && [[ $err == "run-local.sh: missing cargo (install Rust from https://rustup.rs"* ]] \
    && [ ! -s "$TMP/no-cargo/apt.log" ]; then
    pass "cargo missing, root: exit 1, no apt-get, one line: $err"
else
    fail "cargo missing (status $st): $err / $(cat "$TMP/no-cargo/apt.log")"
fi

# 6. Everything there: silent, exit 0, apt-get not called.
st=$(run_case all-there 0 --)
if [ "$st" = 0 ] && [ ! -s "$TMP/all-there/err" ] && [ ! -s "$TMP/all-there/apt.log" ]; then
    pass "everything present: exit 0, silent, apt-get not called"
else
    fail "everything present (status $st): $(cat "$TMP/all-there/err")"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
