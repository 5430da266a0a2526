#!/bin/sh
# t_kill_s3: the daemon killed with SIGKILL at random moments of a migration that
# uploads five days to an S3 tier (s3rver). After each kill: the store verifies offline
# at the version before or after; a restarted smfs serves that version; the next
# migration finishes the work, adopting or removing whatever the killed run had put in
# the bucket; then the bucket, as aws lists it, holds exactly the five days with
# gen-hdb's files (none extra, no upload marker) and they decompress to its bytes.
# 10 kills (3 under ASan, whose every step is slower).
. tests/integration/lib.sh
need_s3

SMFS="$BUILD/smfs"
M="$T/tree"
A="$T/adm.sock"
S="$T/kdb/hdb/data"
pid=
s3p=
trap s3_cleanup EXIT
s3_start hdb
start() {
    "$SMFS" -c "$T/a.yaml" --admin "$A" -f --q-socket none --vanilla "$M" 2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
}
version() { "$SMCTL" store log --json "$S" | jq '[.[].version] | max // 0'; }
days() { ls "$M/v$1\$/$2" 2>/dev/null | tr '\n' ' '; }
keys() { awsq s3api list-objects-v2 --bucket hdb --prefix equities/db/ | jq -r '.Contents // [] | .[].Key' | sort; }

# Slow keeps 1 day: at the 9th, the 1st to 5th leave fast and pass slow to the bucket.
SLOW_DAYS=1 S3_TIER=s3://hdb/equities/db tiers_assembly 12
"$SMCTL" gen-hdb "$S" --days 10 --rows 3000 --start 2024.01.01 >/dev/null || fail "gen-hdb"
"$SMCTL" gen-hdb "$T/orig" --days 10 --rows 3000 --start 2024.01.01 >/dev/null || fail "gen-hdb orig"
"$SMCTL" import -c "$T/a.yaml" --no-verify >/dev/null || fail "import"
mkdir -p "$T/slowdisk" "$T/pristine"
cp -a "$T/kdb" "$T/slowdisk" "$T/pristine/" || fail "copy of the imported store"
all="2024.01.01 2024.01.02 2024.01.03 2024.01.04 2024.01.05 2024.01.08 2024.01.09 2024.01.10 2024.01.11 2024.01.12 "
fast="2024.01.08 2024.01.09 2024.01.10 2024.01.11 2024.01.12 "
gone="2024.01.01 2024.01.02 2024.01.03 2024.01.04 2024.01.05"
want=$(cd "$T/orig" && for d in $gone; do find "$d" -type f; done | sed 's|^|equities/db/|' | sort)

case "$BUILD" in *asan*) kills=3 scale=1500 ;; *) kills=10 scale=700 ;; esac
before=0 after=0 adopted=0 removed=0
for k in $(seq 1 "$kills"); do
    rm -rf "$T/kdb" "$T/slowdisk" "$M"
    mkdir "$M"
    cp -a "$T/pristine/kdb" "$T/pristine/slowdisk" "$T/"
    awsq s3 rm --quiet --recursive s3://hdb/equities/db/ >/dev/null || fail "kill $k: emptying the bucket"
    start
    wait_ms=$(( $(od -An -N2 -tu2 /dev/urandom) % scale ))
    "$SMCTL" migrate --admin "$A" --now 2024.01.09 >/dev/null 2>&1 &
    job=$!
    sleep "$(printf '%d.%03d' $((wait_ms / 1000)) $((wait_ms % 1000)))"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    pid=
    wait $job 2>/dev/null
    out=$("$SMCTL" store verify "$S" 2>&1) || fail "kill $k after ${wait_ms} ms: store verify: $out"
    v=$(version)
    case "$v" in 1) before=$((before + 1)) ;; 2) after=$((after + 1)) ;; *) fail "kill $k: version $v" ;; esac
    start
    if [ "$v" = 1 ]; then
        expect_eq "kill $k: v1 fast" "$(days 1 fast)" "$all"
    else
        expect_eq "kill $k: v2 fast" "$(days 2 fast)" "$fast"
    fi
    j=$("$SMCTL" migrate --admin "$A" --now 2024.01.09 --json 2>&1) || fail "kill $k: the next migration: $j"
    adopted=$((adopted + $(echo "$j" | jq '.s3.adopted')))
    removed=$((removed + $(echo "$j" | jq '.s3.orphans_removed')))
    n=$("$SMCTL" status --admin "$A" --json | jq -r .current)
    expect_eq "kill $k: after the next run, fast" "$(days "$n" fast)" "$fast"
    expect_eq "kill $k: after the next run, the bucket holds exactly the five days" "$(keys)" "$want"
    for f in trade/price trade/sym quote/bid; do
        awsq s3 cp --quiet "s3://hdb/equities/db/2024.01.03/$f" "$T/obj" || fail "kill $k: aws cp $f"
        "$BUILD/tests/kunzip" "$T/obj" 2>/dev/null | cmp -s - "$T/orig/2024.01.03/$f" ||
            fail "kill $k: s3 2024.01.03/$f does not decompress to the original"
    done
    kill -TERM "$pid"
    wait "$pid"
    pid=
    out=$("$SMCTL" store verify "$S" 2>&1) || fail "kill $k: store verify at the end: $out"
done
# One kill at a known point: in the second day's upload (the 40th object). The next
# run, on a clock at which nothing is due, removes everything the killed run put in the
# bucket; the run after that uploads the five days whole.
rm -rf "$T/kdb" "$T/slowdisk" "$M"
mkdir "$M"
cp -a "$T/pristine/kdb" "$T/pristine/slowdisk" "$T/"
awsq s3 rm --quiet --recursive s3://hdb/equities/db/ >/dev/null || fail "emptying the bucket"
SMFS_FAULT=tiers.s3.put:40:kill start
"$SMCTL" migrate --admin "$A" --now 2024.01.09 >/dev/null 2>&1 && fail "the migration survived its kill"
wait "$pid" 2>/dev/null
pid=
expect_eq "killed mid-upload: version" "$(version)" 1
[ -n "$(keys)" ] || fail "the killed run left nothing in the bucket (the kill came too early)"
start
j=$("$SMCTL" migrate --admin "$A" --now 2024.01.04 --json 2>&1) || fail "the run with nothing due: $j"
[ "$(echo "$j" | jq '.s3.orphans_removed')" -gt 30 ] || fail "the unfinished upload's objects were not removed: $j $(tail -20 "$T/log"); keys: $(keys | head -3)"
expect_eq "nothing left in the bucket" "$(keys)" ""
expect_eq "nothing committed" "$("$SMCTL" status --admin "$A" --json | jq -r .current)" 1
"$SMCTL" migrate --admin "$A" --now 2024.01.09 >/dev/null 2>&1 || fail "the run after"
expect_eq "the bucket after the run after" "$(keys)" "$want"
kill -TERM "$pid"
wait "$pid"
pid=
out=$("$SMCTL" store verify "$S" 2>&1) || fail "store verify at the end: $out"

echo "t_kill_s3: $kills kills: $before at the version before, $after after; the next runs adopted $adopted objects and removed $removed"
s3_signatures_ok
echo "t_kill_s3: ok"
