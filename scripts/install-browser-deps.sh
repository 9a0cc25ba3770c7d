#!/usr/bin/env bash
# Installs what the browser integration tests need (tests/support/browser.rs drives
# tests/browser/driver.mjs): Debian's headless Chromium and the pinned playwright-core.
#
#   scripts/install-browser-deps.sh
#
# Idempotent and fast when everything is there: it only checks.
#  - /usr/bin/chromium missing: apt-get install chromium (and fonts-liberation so pages render
#    real text), as root, without recommends. Playwright's own browser download is never used:
#    the driver launches Debian's build.
#  - tests/browser/node_modules missing or not what package-lock.json pins: npm ci there.
# Needs node >= 20 and npm on PATH (playwright-core requires node 20).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'install-browser-deps.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# --- Debian packages --------------------------------------------------------------------------
apt_missing=()
[ -x /usr/bin/chromium ] || apt_missing+=(chromium)
[ -d /usr/share/fonts/truetype/liberation ] || apt_missing+=(fonts-liberation)
if [ "${#apt_missing[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${apt_missing[*]}: run as root, or: sudo apt-get install -y --no-install-recommends ${apt_missing[*]}"
    command -v apt-get >/dev/null 2>&1 || die "missing ${apt_missing[*]} and no apt-get to install them"
    log "installing ${apt_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists yet: update once and retry.
    if ! apt-get install -y --no-install-recommends "${apt_missing[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${apt_missing[@]}"
    fi
fi
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is still missing"

# --- node and playwright-core -----------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node is missing: install Node.js 20 or newer (with npm)"
command -v npm >/dev/null 2>&1 || die "npm is missing: install npm for Node.js 20 or newer"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "node $(node --version) is too old: playwright-core needs 20 or newer"

# Up to date when every package the lockfile pins is installed at the pinned version.
lock_satisfied() {
    node -e '
        const fs = require("fs");
        const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
        for (const [where, pkg] of Object.entries(lock.packages || {})) {
            if (where === "" || pkg.optional) continue;
            let installed;
            try {
                installed = JSON.parse(fs.readFileSync(where + "/package.json", "utf8")).version;
            } catch {
                process.exit(1);
            }
            if (installed !== pkg.version) process.exit(1);
        }
    ' 2>/dev/null
}

cd tests/browser
if [ -d node_modules ] && lock_satisfied; then
    :
else
    log "npm ci in tests/browser"
    # playwright-core downloads no browser on install; the driver uses /usr/bin/chromium.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
    lock_satisfied || die "tests/browser/node_modules still does not match package-lock.json"
fi
