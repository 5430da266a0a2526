#!/bin/sh
# mk/deps.sh: install what the build and the tests need, and nothing when all is there.
# Called by `make deps` (and so by `make check` and `make demo`). Debian packages by name,
# npm packages for the tests from tests/package-lock.json. Quick when everything is present:
# one dpkg-query, one stat of node_modules.
set -eu

PKGS="gcc make pkg-config clang libclang-rt-14-dev
      libfuse3-dev fuse3 libyaml-dev libjansson-dev libcurl4-openssl-dev libssl-dev
      libcmocka-dev libmicrohttpd-dev zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev libxxhash-dev
      libxml2-dev libsystemd-dev groff-base man-db dpkg-dev fakeroot jq curl attr zstd awscli"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = "installed" ] || missing="$missing $p"
done

# node and npm: Debian's nodejs+npm packages, unless a node that ships npm is already there
# (the nodesource build conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"

if [ -n "$missing" ]; then
    echo "deps: installing:$missing"
    if [ "$(id -u)" != 0 ]; then
        echo "deps: not root; install these packages first:$missing" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm test peers (node-q, s3rver), pinned by the lockfile. Reinstall only when the lockfile changed.
top=$(cd "$(dirname "$0")/.." && pwd)
lock="$top/tests/package-lock.json"
stamp="$top/tests/node_modules/.smfs-lock"
if [ -f "$lock" ] && ! cmp -s "$lock" "$stamp" 2>/dev/null; then
    echo "deps: npm ci in tests/"
    (cd "$top/tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$lock" "$stamp"
fi
