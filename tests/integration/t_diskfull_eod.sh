#!/bin/sh
# t_diskfull_eod: an end of day into a store whose filesystem is full. The day's rows
# come from the test tickerplant into a smfs whose store, intraday store and logs are on
# a small tmpfs; the disk is filled; the end of day fails (sealing the day or writing it)
# with "No space left on device" naming the file, shown in status and logged once (not at
# every retry); the store verifies, the daemon serves the version before;
# once space is freed, the daemon's retry writes the day -- every row once -- without a
# restart.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
S="$T/small"
M="$T/mnt"
A="$T/adm.sock"
pid=
tpp=
subp=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    [ -n "$tpp" ] && kill "$tpp" 2>/dev/null
    wait 2>/dev/null
    umount "$S" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$S" "$M"
mount -t tmpfs -o size=24m tmpfs "$S" 2>/dev/null || { echo "cannot mount a small tmpfs here (needs root)"; exit 77; }

tp_start
"$SMCTL" config default | sed "s#/var/lib/smfs#$S#g; s#localhost:5010#127.0.0.1:$port#" >"$T/a.yaml"
mkdir -p "$S/hdb/data"
"$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none --http 127.0.0.1:0 -f --vanilla "$M" 2>>"$T/log" &
pid=$!
smfs_wait "$pid" "$A" "$T/log"
wait_status '.stream.state == "live"' "never live"
tp '{"cmd":"publish","table":"trade","batches":8,"rows":5000}' >/dev/null
tp '{"cmd":"publish","table":"quote","batches":4,"rows":5000,"form":"table"}' >/dev/null
wait_status '.stream.tables.trade.rows == 40000 and .stream.tables.quote.rows == 20000' "rows not taken"
v0=$(st | jq .current)

# The disk fills; the end of day fails, naming what it could not write.
dd if=/dev/zero of="$S/filler" bs=64k 2>/dev/null
tp '{"cmd":"end"}' >/dev/null
# Either sealing the day (the intraday store's checkpoint) or writing it runs out of room.
wait_status '.eod.failed >= 1 or (.stream.error // "" | test("No space"))' \
    "the end of day on a full disk did not fail: $(tail -5 "$T/log")"
err=$(st | jq -r '.eod.error // .stream.error')
expect_in "ENOSPC said plainly" "$err" "No space left on device"
expect_in "a file of the store named" "$err" "$S/"
expect_eq "the version before is current" "$(st | jq .current)" "$v0"
"$SMCTL" verify --admin "$A" >/dev/null || fail "the store does not verify after the failed end of day"
"$SMCTL" status --admin "$A" >/dev/null || fail "the daemon does not answer after the failed end of day"
[ -e "$M/par.txt" ] || [ "$v0" = 0 ] || fail "the tree is gone after the failed end of day"

# Room again: the retry writes the day, each row once, without a restart.
rm -f "$S/filler"
wait_status '.eod.done == 1' "the end of day was not written once there was room"
out=$("$SMCTL" load "$M") || fail "smctl load: $out"
expect_in "the day's trades" "$out" "table trade    40000 rows"
expect_in "the day's quotes" "$out" "table quote    20000 rows"
"$SMCTL" verify --admin "$A" >/dev/null || fail "the store does not verify at the end"
expect_eq "the stream's error is gone once live" "$(st | jq -r '.stream.error // "none"')" none
n=$(grep -c "No space left on device" "$T/log")
[ "$n" -le 3 ] || fail "the full disk was logged $n times: $(grep -m5 "No space" "$T/log")"
kill -TERM "$pid"
wait "$pid" || fail "smfs exited with status $?: $(tail -5 "$T/log")"
pid=
echo "t_diskfull_eod: ok"
