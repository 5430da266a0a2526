#!/bin/sh
# mk/check-layers.sh: the one-way arrows of DESIGN.md, checked on every include:
#   core ← ipc ← control ← fs   (and fs → core; tools use core and ipc)
# core/ includes nothing above it, ipc/ only core/, control/ only core/ and ipc/;
# no file outside fs/ (and the tests that exercise it) includes fs/. Run by `make check`.
set -u
cd "$(dirname "$0")/.."
bad=0
check() {   # check DIR PATTERN WHY
    hits=$(grep -n "^#include \"$2/" "$1"/*.c "$1"/*.h 2>/dev/null)
    if [ -n "$hits" ]; then
        echo "layers: $1/ must not include $2/ ($3):"; echo "$hits" | sed 's/^/    /'
        bad=1
    fi
}
for up in ipc control fs tools; do check core "$up" "core knows no transport, no daemon, no FUSE"; done
for up in control fs tools; do check ipc "$up" "ipc is the wire only"; done
for up in fs tools; do check control "$up" "control reaches readers only through its hooks"; done
check tools fs "smctl talks to a daemon over its sockets"
check tools control "smctl talks to a daemon over its sockets"
# Bare includes ("x.h") inside a folder are its own headers: make sure they exist there.
for d in core ipc control fs tools; do
    for f in "$d"/*.c "$d"/*.h; do
        for h in $(sed -n 's/^#include "\([^/"]*\)".*/\1/p' "$f"); do
            [ -f "$d/$h" ] || { echo "layers: $f includes \"$h\", which is not in $d/"; bad=1; }
        done
    done
done
[ $bad -eq 0 ] && echo "layers: core <- ipc <- control <- fs, one way"
exit $bad
