#!/bin/sh
# Assembles the runtime image's whole filesystem in /rootfs, run inside a Debian stage of
# deploy/Containerfile after the binary was put at /rootfs/usr/local/bin/s3-auth-proxy:
#   - the shared libraries the binary needs (from ldd: glibc, libgcc_s), and nothing else: no
#     shell, no package manager, no coreutils;
#   - CA certificates; /etc/passwd and /etc/group with the non-root user 65532 ("nonroot");
#   - /etc/nsswitch.conf, so that upstream names resolve through /etc/hosts and DNS.
# Then it runs the binary inside /rootfs (chroot) to prove that nothing is missing.
set -eu

R=/rootfs
BIN=$R/usr/local/bin/s3-auth-proxy
[ -x "$BIN" ] || { echo "rootfs.sh: $BIN is missing" >&2; exit 1; }

mkdir -p "$R/etc/ssl/certs" "$R/etc/s3-auth-proxy" "$R/tmp"
chmod 1777 "$R/tmp"

# Shared libraries, by the paths the dynamic linker resolved (lines "lib => /path (addr)" and
# the interpreter "/lib64/ld-linux-x86-64.so.2 (addr)"); -L copies the files behind symlinks.
ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u |
    while read -r lib; do
        cp -L --parents "$lib" "$R/"
    done

cp -L /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"

cat > "$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin
EOF
cat > "$R/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
cat > "$R/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files dns
EOF

# The binary must start in the assembled tree: no library may be missing.
chroot "$R" /usr/local/bin/s3-auth-proxy --version
