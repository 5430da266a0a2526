# t_tiers_view: a database over several date tiers (fast, slow, an s3:// line), served
# through FUSE and as a symlink tree, each checked by the independent loader (smctl
# load): with the slow tier still empty (an empty segment directory, as kdb+ loads
# it), and with days in both local tiers. Then every object is read-only (0444) and
# the tree's sym cannot be appended to through its symlink; verify names the path.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
M="$T/mnt"
V="$T/tree"
A="$T/adm.sock"
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    unmount "$M"
    rm -rf "$T"
}
trap cleanup EXIT
fuse=1
has_fuse || fuse=0
start() {   # start DIR [options]: serve at DIR until stop
    d=$1
    shift
    "$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none -f "$@" "$d" 2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
}
stop() {
    kill -TERM "$pid"
    wait "$pid"
    pid=
}
# both ARGS…: check ARGS through FUSE (where there is FUSE), then the symlink tree.
both() {
    if [ $fuse -eq 1 ]; then
        mkdir -p "$M"
        start "$M"
        check "$M" "$@"
        stop
    fi
    mkdir -p "$V"
    start "$V" --vanilla
    check "$V" "$@"
}
# check DIR SEGS FAST SLOW: the root, par.txt, each segment's listing and smctl load.
check() {
    expect_eq "$1: par.txt" "$(cat "$1/par.txt" | tr '\n' ' ')" "v$2\$/fast v$2\$/slow s3://acme-hdb/equities/db "
    expect_eq "$1: segments" "$(ls "$1/v$2\$" | tr '\n' ' ')" "fast idb slow "   # idb: the IDB's ordinal partitions (empty)
    expect_eq "$1: fast" "$(ls "$1/v$2\$/fast" | tr '\n' ' ')" "$3"
    expect_eq "$1: slow" "$(ls "$1/v$2\$/slow" | tr '\n' ' ')" "$4"
    out=$("$SMCTL" load --json "$1") || fail "$1: smctl load: $out"
    expect_eq "$1: loader segments" "$(echo "$out" | jq -c .segments)" "[\"v$2\$/fast\",\"v$2\$/slow\",\"s3://acme-hdb/equities/db\"]"
    expect_eq "$1: loader partitions" "$(echo "$out" | jq -r .partitions)" "$5"
    # smctl inspect finds sym from a column five levels down (<root>/v<N>$/<seg>/<date>/<table>).
    d=$(ls "$1/v$2\$/fast" | head -1)
    out=$("$SMCTL" inspect -n 2 "$1/v$2\$/fast/$d/trade/sym") || fail "$1: inspect"
    case "$out" in *"domain file not found"*) fail "$1: inspect did not find sym: $out" ;; esac
}

sed -e "s#/srv/kdb#$T/kdb#g" -e "s#/mnt/slowdisk#$T/slowdisk#g" mnt-examples/tiers-s3.yaml >"$T/a.yaml"
"$SMCTL" config check "$T/a.yaml" >/dev/null || fail "the example assembly does not load"

# 1. Recent days only: the slow tier holds nothing yet.
"$SMCTL" gen-hdb "$T/kdb/hdb/data" --days 3 --rows 100 >/dev/null || fail "gen-hdb"
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import"
[ $fuse -eq 1 ] || echo "SKIP: the FUSE half (no /dev/fuse or fusermount3); the symlink tree is tested"
both 1 "2024.01.02 2024.01.03 2024.01.04 " "" 3
stop

# 2. Days in both local tiers: older ones already in the slow tier's store directory.
rm -rf "$T/kdb" "$T/slowdisk" "$V" "$M"
"$SMCTL" gen-hdb "$T/kdb/hdb/data" --days 3 --rows 100 --start 2024.01.08 >/dev/null || fail "gen-hdb fast"
"$SMCTL" gen-hdb "$T/old" --days 2 --rows 100 --start 2024.01.02 >/dev/null || fail "gen-hdb slow"
mkdir -p "$T/slowdisk/equities"
mv "$T/old/2024.01.02" "$T/old/2024.01.03" "$T/slowdisk/equities/"
# The sym of the fast tier must cover both: regenerate it over all five days.
"$SMCTL" gen-hdb "$T/all" --days 5 --rows 100 --start 2024.01.02 >/dev/null
rm -rf "$T/kdb/hdb/data" "$T/slowdisk/equities"/*
mkdir -p "$T/kdb/hdb/data"
mv "$T/all/2024.01.02" "$T/all/2024.01.03" "$T/slowdisk/equities/"
mv "$T/all/"* "$T/kdb/hdb/data/"
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import into two tiers"
both 1 "2024.01.04 2024.01.05 2024.01.08 " "2024.01.02 2024.01.03 " 5

# 3. Objects are read-only, in every tier: writing through the tree's symlinks fails.
find "$T/kdb/hdb/data/objects" "$T/slowdisk/equities/objects" -type f ! -perm 0444 | head -3 >"$T/rw"
[ -s "$T/rw" ] && fail "objects that are not 0444: $(cat "$T/rw")"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    chmod o+x "$T" "$(dirname "$T")"
    setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c "printf 'NEWSYM\\0' >>'$V/sym'" 2>/dev/null &&
        fail "another user appended to sym through the symlink tree"
    # The store's directories are 0750: another user cannot reach an object directly.
    obj=$(find "$T/kdb/hdb/data/objects" -type f | head -1)
    expect_eq "objects directory mode" "$(stat -c %a "$T/kdb/hdb/data/objects")" 750
    setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$obj" >/dev/null 2>&1 &&
        fail "another user read a store object directly"
fi
stop
# Root ignores modes: what a careless root write does, verify names as the view shows it.
printf 'NEWSYM\0' >>"$V/sym"
out=$("$SMCTL" store verify "$T/kdb/hdb/data" 2>&1) && fail "verify missed a changed object"
expect_in "verify names the path" "$out" "'sym': object"
echo "t_tiers_view: ok"
