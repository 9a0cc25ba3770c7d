#!/usr/bin/env bash
# Try s3-auth-proxy locally: nginx (WebDAV) on 127.0.0.1:9000 as the backend, the proxy on
# 127.0.0.1:8080 in front of it, with proxy.toml and examples/secrets.toml.
# Objects land in .local/nginx/data/<bucket>/<key>. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq nginx-core cmake >/dev/null
    else
        echo "nginx is needed as the backend: install it (Debian/Ubuntu: apt-get install nginx-core)" >&2
        exit 1
    fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

prefix="$PWD/.local/nginx"
mkdir -p "$prefix/data" "$prefix/tmp"
cp deploy/nginx/dev-nginx.conf "$prefix/nginx.conf"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
"$NGINX" -p "$prefix/" -c "$prefix/nginx.conf" -g "$user_line" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null || true' EXIT

cargo build --release
exec_status=0
./target/release/s3-auth-proxy --config proxy.toml || exec_status=$?
exit $exec_status
