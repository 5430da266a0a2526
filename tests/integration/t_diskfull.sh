# t_diskfull: a store (and its staging) on a filesystem of its own that fills up. An
# ingest through the running smfs fails with "No space left on device" naming the
# store's file, the store still verifies, the daemon serves on and says what is wrong
# (/healthz, /readyz, smctl status) while it lasts, and once space is freed the next
# ingest succeeds -- no restart. A vacuum on the full disk frees room or fails naming
# the file; the store verifies; with room again it completes.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
S="$T/small"
M="$T/mnt"
A="$T/adm.sock"
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    unmount "$M"
    umount "$S" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$S" "$M"
mount -t tmpfs -o size=12m tmpfs "$S" 2>/dev/null || { echo "cannot mount a small tmpfs here (needs root)"; exit 77; }
vanilla=""
has_fuse || vanilla="--vanilla"

sed "s#/var/lib/smfs#$S#g" <<EOF >"$T/a.yaml"
$("$SMCTL" config default)
EOF
"$SMCTL" gen-hdb "$S/hdb/data" --days 30 --rows 100 >/dev/null || fail "gen-hdb"
# A staging copy of every partition with the very same sym: an ingest of it replaces
# 30 partitions by hard links (nothing re-mapped, nothing copied), so it needs room
# only for its index records (tens of KB of trees).
cp -a "$S/hdb/data" "$S/stg3"
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import"
"$SMCTL" gen-hdb "$S/stg" --days 2 --rows 20000 --start 2024.02.01 --compress gzip >/dev/null || fail "gen staging"
"$SMCTL" gen-hdb "$T/stg2" --days 1 --rows 50 --start 2024.03.01 >/dev/null
"$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none --http 127.0.0.1:0 -f $vanilla "$M" 2>>"$T/log" &
pid=$!
smfs_wait "$pid" "$A" "$T/log"
hport=$("$SMCTL" status --admin "$A" --json | jq .api.http_port)

# Fill the filesystem. 1: an ingest whose files must be copied (--keep-staging) runs
# out of room for an object's bytes.
dd if=/dev/zero of="$S/filler" bs=64k 2>/dev/null
out=$("$SMCTL" ingest -c "$T/a.yaml" --admin "$A" --keep-staging "$S/stg" 2>&1) && fail "an ingest into a full disk succeeded"
expect_in "ENOSPC said plainly" "$out" "No space left on device"
expect_in "the store's file named" "$out" "$S/hdb/data/objects/"
"$SMCTL" verify --admin "$A" >/dev/null || fail "the store does not verify after ENOSPC"

# 2: an ingest taken by hard links needs no room for data, only for its index records:
#    the index write fails, writes are held and said to be, reads go on.
out=$("$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$S/stg3" 2>&1) && fail "an index write into a full disk succeeded"
expect_in "index ENOSPC said plainly" "$out" "No space left on device"
expect_in "the pack file named" "$out" "$S/hdb/data/packs/p0000000"
case "$out" in *"short write"*) fail "bytes counted instead of the reason: $out" ;; esac
expect_eq "/healthz while writes are held" "$(curl -s "http://127.0.0.1:$hport/healthz" | jq -r .status)" degraded
expect_eq "/readyz while writes are held" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/readyz")" 503
"$SMCTL" status --admin "$A" | grep -q 'WRITES HELD' || fail "smctl status does not say writes are held"
"$SMCTL" load "$M" >/dev/null || fail "reads stopped while writes are held"

# Space again: the next ingest goes through, without a restart.
rm -f "$S/filler"
i=0   # the daemon retries the cut-back every few seconds by itself
until [ "$(curl -s "http://127.0.0.1:$hport/healthz" | jq -r .status)" = ok ]; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "the store did not recover by itself: $(curl -s "http://127.0.0.1:$hport/healthz")"
    sleep 0.1
done
out=$("$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$T/stg2" 2>&1) || fail "ingest after freeing space: $out"
expect_in "ingest after freeing space" "$out" "live in the running smfs"
expect_eq "healthy again" "$(curl -s "http://127.0.0.1:$hport/healthz" | jq -r .status)" ok
expect_eq "ready again" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/readyz")" 200
"$SMCTL" verify --admin "$A" >/dev/null || fail "the store does not verify after the ingest"

# 3: a vacuum on a full disk. A daemon that keeps old versions (--no-auto-vacuum) has
#    one to drop; the disk fills; the vacuum either frees it or fails naming the file,
#    the store verifies, and once there is room again the vacuum completes.
kill -TERM "$pid"; wait "$pid" || fail "smfs exit $?"; pid=
"$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none --http 127.0.0.1:0 -f --no-auto-vacuum $vanilla "$M" 2>>"$T/log" &
pid=$!
smfs_wait "$pid" "$A" "$T/log"
hport=$("$SMCTL" status --admin "$A" --json | jq .api.http_port)
rm -rf "$T/stg2"
"$SMCTL" gen-hdb "$T/stg2" --days 1 --rows 60 --start 2024.03.01 --seed 2 >/dev/null
out=$("$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$T/stg2" 2>&1) || fail "ingest before the vacuum: $out"
kept=$("$SMCTL" versions --admin "$A" --json | jq '.versions | length')
[ "$kept" -ge 2 ] || fail "no old version to vacuum: $kept kept"
dd if=/dev/zero of="$S/filler" bs=64k 2>/dev/null
if out=$("$SMCTL" vacuum --admin "$A" 2>&1); then
    echo "a vacuum on a full disk went through: $out"
else
    expect_in "vacuum ENOSPC said plainly" "$out" "No space left on device"
    expect_in "vacuum: the store's file named" "$out" "$S/hdb/data/"
fi
"$SMCTL" verify --admin "$A" >/dev/null || fail "the store does not verify after a vacuum on a full disk"
"$SMCTL" load "$M" >/dev/null || fail "reads stopped after a vacuum on a full disk"
rm -f "$S/filler"
i=0
until [ "$(curl -s "http://127.0.0.1:$hport/healthz" | jq -r .status)" = ok ]; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "the store did not recover after the vacuum: $(curl -s "http://127.0.0.1:$hport/healthz")"
    sleep 0.1
done
out=$("$SMCTL" vacuum --admin "$A" 2>&1) || fail "vacuum once there is room: $out"
expect_eq "versions after the vacuum" "$("$SMCTL" versions --admin "$A" --json | jq '.versions | length')" 1
"$SMCTL" verify --admin "$A" >/dev/null || fail "the store does not verify at the end"
echo "t_diskfull: ok"
