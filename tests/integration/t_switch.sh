# t_switch: readers through version switches. 8 reader processes load tables through
# the mount as q does (open every column, map it, read it) and check every byte again
# after a pause, while 50 versions are committed by ingest through the daemon and 100
# q IPC clients registered for reloads acknowledge at random delays, never, or drop
# their connection and come back. Every loaded file reads the same bytes to the end,
# with no ESTALE or EIO; every old version is vacuumed once its last reader lets go;
# the passthrough registrations left are only the current version's; the store
# verifies.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
SR="$BUILD/tests/switchreader"
[ -c /dev/fuse ] || { echo "no /dev/fuse here: FUSE tests skipped"; exit 77; }
command -v fusermount3 >/dev/null || { echo "fusermount3 is not installed: FUSE tests skipped"; exit 77; }
[ -d tests/node_modules/node-q ] || { echo "skipped: node-q missing (make deps runs npm ci)"; exit 77; }

M="$T/mnt"
A="$T/adm.sock"
pid= crowd= readers=
cleanup() {
    touch "$T/stop"
    for r in $readers $crowd; do kill "$r" 2>/dev/null; done
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    grep -q " $M fuse" /proc/mounts && { fusermount3 -u "$M" 2>/dev/null || umount -l "$M"; }
    rm -rf "$T"
}
trap cleanup EXIT

sed "s#/var/lib/smfs#$T#g" <<EOF >"$T/a.yaml"
$("$SMCTL" config default)
EOF
"$SMCTL" gen-hdb "$T/hdb/data" --days 6 --rows 2000 >/dev/null || fail "gen-hdb"
"$SMCTL" import -c "$T/a.yaml" --no-verify >/dev/null || fail "import"
mkdir "$M"
"$SMFS" -c "$T/a.yaml" --admin "$A" -f --port 127.0.0.1:0 --q-socket none "$M" 2>>"$T/log" &
pid=$!
smfs_wait "$pid" "$A" "$T/log"
qport=$("$SMCTL" status --admin "$A" --json | jq .api.q_port)

node tests/node/crowd.js "$qport" 100 "$T/stop" >"$T/crowd.out" 2>"$T/crowd.err" &
crowd=$!
i=0
until [ "$("$SMCTL" clients --admin "$A" --json | jq '.clients | length')" = 100 ]; do
    i=$((i + 1)); [ $i -lt 600 ] || fail "the crowd did not register: $(cat "$T/crowd.err")"
    kill -0 "$crowd" 2>/dev/null || fail "the crowd exited: $(cat "$T/crowd.err")"
    sleep 0.1
done

for r in 1 2 3 4 5 6 7 8; do
    "$SR" "$M" "$T/stop" "$r" >"$T/r$r.out" 2>&1 &
    readers="$readers $!"
done

# 50 versions, each replacing one of the six days with different rows.
set -- 2024.01.02 2024.01.03 2024.01.04 2024.01.05 2024.01.08 2024.01.09
for v in $(seq 1 50); do
    eval "day=\${$(( (v % 6) + 1 ))}"
    rm -rf "$T/stg"
    "$SMCTL" gen-hdb "$T/stg" --days 1 --rows $((500 + v)) --seed "$v" --start "$day" >/dev/null || fail "gen-hdb $v"
    out=$("$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$T/stg" 2>&1) || fail "ingest $v: $out"
done
cur=$("$SMCTL" status --admin "$A" --json | jq .current)
expect_eq "versions committed" "$cur" 51

touch "$T/stop"
loads=0
for r in $readers; do
    wait "$r" || fail "a reader failed: $(cat "$T"/r*.out | grep switchreader)"
done
readers=
for r in 1 2 3 4 5 6 7 8; do
    l=$(sed -n 's/^loads \([0-9]*\),.*/\1/p' "$T/r$r.out")
    [ -n "$l" ] && [ "$l" -gt 0 ] || fail "reader $r loaded nothing: $(cat "$T/r$r.out")"
    loads=$((loads + l))
done
wait "$crowd" || fail "the crowd: $(cat "$T/crowd.err")"
crowd=
got=$(cat "$T/crowd.out")
[ "$(echo "$got" | jq .signals)" -ge 50 ] || fail "the crowd saw too few signals: $got"
[ "$(echo "$got" | jq .reconnects)" -gt 0 ] || fail "no client came back: $got"
echo "t_switch: $loads tables loaded by 8 readers across 50 versions; crowd $got"

# Every old version goes once its readers and registrants are done (the silent ones
# by their 2 s timeout).
i=0
until [ "$("$SMCTL" versions --admin "$A" --json | jq -c '[.versions[].version]')" = "[51]" ]; do
    i=$((i + 1))
    [ $i -lt 600 ] || fail "old versions kept: $("$SMCTL" versions --admin "$A" --json | jq -c .versions)"
    sleep 0.1
done
# The registrations kept are for files of the current version only.
files=$(find "$M/v51\$" -type f | wc -l)
kept=$("$SMCTL" status --admin "$A" --json | jq .fuse.backings)
[ "$kept" -le "$files" ] || fail "$kept passthrough registrations kept for $files files of the current version"
expect_in "verify" "$("$SMCTL" verify --admin "$A")" "no problems"
kill -TERM "$pid"; wait "$pid" || fail "smfs exit $?: $(tail -5 "$T/log")"
pid=
