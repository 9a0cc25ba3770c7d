#!/usr/bin/env bash
# Try s3-auth-proxy locally: nginx (WebDAV) on 127.0.0.1:9000 as the backend, the proxy on
# 127.0.0.1:8080 in front of it, with proxy.toml and examples/secrets.toml.
# Objects land in .local/nginx/data/<bucket>/<key>. Ctrl-C stops both.
#
#   scripts/run-local.sh           prerequisites, then build and run
#   scripts/run-local.sh --check   prerequisites only: exit 0 when all are there
#
# Each prerequisite is checked on its own: nginx (the backend), a C compiler that can link (ring
# and zlib-ng are C: gcc alone, without libc6-dev, cannot link), make and cmake (pingora's
# zlib-ng is built with them), cargo. As root with apt-get, exactly the
# missing ones are installed (nginx present and cmake absent: cmake is installed, nginx is left
# alone). Otherwise, or when installing fails, one line on stderr names each missing one and how to
# get it, and the script exits 1 before anything is built.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
    "") check_only="" ;;
    --check) check_only=1 ;;
    *) echo "usage: scripts/run-local.sh [--check]" >&2; exit 2 ;;
esac

# prerequisite, the Debian/Ubuntu packages that provide it (comma-separated; "-": not from
# apt), how to get it
PREREQS=(
    "nginx nginx-core apt-get install nginx-core"
    "cc gcc,libc6-dev apt-get install gcc libc6-dev"
    "make make apt-get install make"
    "cmake cmake apt-get install cmake"
    "cargo - install Rust from https://rustup.rs, Debian 12's cargo is too old for pingora"
)

# nginx is often in /usr/sbin, which is not on a user's PATH.
nginx_path() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; }; }
present() {
    case $1 in
        nginx) nginx_path >/dev/null ;;
        # a compiler finds the C library's start files only when libc6-dev is there
        cc) command -v cc >/dev/null 2>&1 && case $(cc -print-file-name=Scrt1.o) in /*) ;; *) false ;; esac ;;
        *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}
missing_prereqs() { # the PREREQS lines whose prerequisite is absent
    local line
    for line in "${PREREQS[@]}"; do
        present "${line%% *}" || printf '%s\n' "$line"
    done
}

mapfile -t missing < <(missing_prereqs)
packages=()
for line in "${missing[@]}"; do
    read -r _ pkg _ <<<"$line"
    if [ "$pkg" != - ]; then packages+=(${pkg//,/ }); fi
done
note=""
if [ ${#packages[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "run-local.sh: installing ${packages[*]}" >&2
    apt_log=$(mktemp "${TMPDIR:-/tmp}/run-local-apt.XXXXXX")
    export DEBIAN_FRONTEND=noninteractive
    if { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${packages[@]}"; } \
        >"$apt_log" 2>&1; then
        rm -f "$apt_log"
    else
        note=" (apt-get install ${packages[*]} failed: $apt_log)"
    fi
    mapfile -t missing < <(missing_prereqs)
fi
if [ ${#missing[@]} -gt 0 ]; then
    msg=""
    for line in "${missing[@]}"; do
        read -r name _ how <<<"$line"
        msg+="${msg:+; }$name ($how)"
    done
    echo "run-local.sh: missing $msg$note" >&2
    exit 1
fi
if [ -n "$check_only" ]; then exit 0; fi
NGINX=$(nginx_path)

prefix="$PWD/.local/nginx"
mkdir -p "$prefix/data" "$prefix/tmp"
cp deploy/nginx/dev-nginx.conf "$prefix/nginx.conf"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
"$NGINX" -p "$prefix/" -c "$prefix/nginx.conf" -g "$user_line" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null || true' EXIT

# cargo run: wherever the build lands (CARGO_TARGET_DIR or target/).
exec_status=0
cargo run --release -- --config proxy.toml || exec_status=$?
exit $exec_status
