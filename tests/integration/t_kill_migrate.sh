# t_kill_migrate: the daemon killed with SIGKILL at random moments of a tier migration
# (fast -> slow with zstd, and deletion past slow). After each kill: the store verifies
# offline at the version before or after; no object is left under a temporary name; a
# restarted smfs serves that version (its symlink tree shows each tier's days); the next
# migration finishes the work, and every moved file decompresses to gen-hdb's bytes.
# 10 kills (5 under ASan, whose every step is slower).
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
M="$T/tree"
A="$T/adm.sock"
S="$T/kdb/hdb/data"
pid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
start() {
    "$SMFS" -c "$T/a.yaml" --admin "$A" -f --q-socket none --vanilla "$M" 2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
}
version() { "$SMCTL" store log --json "$S" | jq '[.[].version] | max // 0'; }
days() { ls "$M/v$1\$/$2" 2>/dev/null | tr '\n' ' '; }

tiers_assembly 12
"$SMCTL" gen-hdb "$S" --days 10 --rows 3000 --start 2024.01.01 >/dev/null || fail "gen-hdb"
"$SMCTL" gen-hdb "$T/orig" --days 10 --rows 3000 --start 2024.01.01 >/dev/null || fail "gen-hdb orig"
"$SMCTL" import -c "$T/a.yaml" --no-verify >/dev/null || fail "import"
# Each kill starts again from the imported store (both tiers' directories).
mkdir -p "$T/slowdisk" "$T/pristine"
cp -a "$T/kdb" "$T/slowdisk" "$T/pristine/" || fail "copy of the imported store"
all="2024.01.01 2024.01.02 2024.01.03 2024.01.04 2024.01.05 2024.01.08 2024.01.09 2024.01.10 2024.01.11 2024.01.12 "
fast="2024.01.08 2024.01.09 2024.01.10 2024.01.11 2024.01.12 "
slow="2024.01.04 2024.01.05 "

case "$BUILD" in *asan*) kills=5 scale=400 ;; *) kills=10 scale=80 ;; esac
before=0 after=0
for k in $(seq 1 "$kills"); do
    rm -rf "$T/kdb" "$T/slowdisk" "$M"
    mkdir "$M"
    cp -a "$T/pristine/kdb" "$T/pristine/slowdisk" "$T/"
    start
    wait_ms=$(( $(od -An -N2 -tu2 /dev/urandom) % scale ))
    "$SMCTL" migrate --admin "$A" --now 2024.01.11 >/dev/null 2>&1 &
    job=$!
    sleep "$(printf '0.%03d' "$wait_ms")"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    pid=
    wait $job 2>/dev/null
    out=$("$SMCTL" store verify "$S" 2>&1) || fail "kill $k after ${wait_ms} ms: store verify: $out"
    v=$(version)
    case "$v" in 1) before=$((before + 1)) ;; 2) after=$((after + 1)) ;; *) fail "kill $k: version $v" ;; esac
    tmp=$(find "$T/kdb" "$T/slowdisk" -name '*.tmp' | head -3)
    [ -z "$tmp" ] || fail "kill $k: left under a temporary name: $tmp"
    start
    if [ "$v" = 1 ]; then
        expect_eq "kill $k: v1 fast" "$(days 1 fast)" "$all"
    else
        expect_eq "kill $k: v2 fast" "$(days 2 fast)" "$fast"
        expect_eq "kill $k: v2 slow" "$(days 2 slow)" "$slow"
    fi
    out=$("$SMCTL" migrate --admin "$A" --now 2024.01.11 2>&1) || fail "kill $k: the next migration: $out"
    n=$("$SMCTL" status --admin "$A" --json | jq -r .current)
    expect_eq "kill $k: after the next run, fast" "$(days "$n" fast)" "$fast"
    expect_eq "kill $k: after the next run, slow" "$(days "$n" slow)" "$slow"
    for f in trade/price trade/sym quote/bid; do
        "$BUILD/tests/kunzip" "$M/v$n\$/slow/2024.01.05/$f" 2>/dev/null | cmp -s - "$T/orig/2024.01.05/$f" ||
            fail "kill $k: slow/2024.01.05/$f does not decompress to the original"
    done
    kill -TERM "$pid"
    wait "$pid"
    pid=
    out=$("$SMCTL" store verify "$S" 2>&1) || fail "kill $k: store verify at the end: $out"
done
echo "t_kill_migrate: $kills kills: $before at the version before, $after after"
echo "t_kill_migrate: ok"
