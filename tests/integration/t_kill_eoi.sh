#!/bin/sh
# t_kill_eoi: the daemon killed with SIGKILL at random moments while rows stream in and
# the IDB tier writes an interval every second (one commit each). After each kill: the
# store verifies offline, nothing is left under a temporary name, and a restarted smfs
# (replaying the tickerplant's log) brings the IDB to hold every row the tickerplant
# logged, each exactly once, every partition in time order; then the end of day moves
# them all to the HDB once. 10 kills (3 under ASan). Symlink tree (the kill leaves no
# mount to clear).
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
M="$T/mnt"
A="$T/adm.sock"
pid=
tpp=
subp=
trap stream_cleanup EXIT
tp_start
"$SMCTL" config default | sed "s#/var/lib/smfs#$T#g; s#localhost:5010#127.0.0.1:$port#; s#freq: 0D00:10:00#freq: 0D00:00:01#" >"$T/a.yaml"
grep -q "freq: 0D00:00:01" "$T/a.yaml" || fail "the IDB tier's schedule was not set"
mkdir -p "$T/hdb/data" "$M"
start() {
    "$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none --http 127.0.0.1:0 -f --vanilla "$M" 2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
    wait_status '.stream.state == "live"' "never live"
}
# idb_sizes: every trade row's size (its id) across the current IDB's partitions,
# checking each partition is in time order.
idb_sizes() {
    cur=$(st | jq .current)
    for p in $(ls "$M/v$cur\$/idb" 2>/dev/null); do
        d="$M/v$cur\$/idb/$p/trade"
        "$SMCTL" inspect --json -n 1000000 "$d/time" | jq -e '.values as $t | [range(1; $t | length)] |
            all($t[. - 1] <= $t[.])' >/dev/null || fail "idb/$p/trade is not in time order"
        "$SMCTL" inspect --json -n 1000000 "$d/size" | jq -r '.values[]'
    done
}

case "$BUILD" in *asan*) kills=3 ;; *) kills=10 ;; esac
for k in $(seq 1 "$kills"); do
    start
    for b in 1 2 3 4; do
        tp '{"cmd":"publish","table":"trade","batches":2,"rows":100}' >/dev/null
        tp '{"cmd":"publish","table":"quote","rows":50,"form":"table"}' >/dev/null
        sleep 0.3
    done
    sleep "$(printf '0.%03d' $(( $(od -An -N2 -tu2 /dev/urandom) % 1000 )))"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    pid=
    out=$("$SMCTL" store verify "$T/hdb/data" 2>&1) || fail "kill $k: store verify: $out"
    tmp=$(find "$T/hdb" -name '*.tmp' | head -3)
    [ -z "$tmp" ] || fail "kill $k: left under a temporary name: $tmp"
    logged=$(tp '{"cmd":"stats"}' | jq .rows.trade)
    start
    i=0
    until [ "$(idb_sizes | wc -l)" -ge "$logged" ]; do
        i=$((i + 1)); [ $i -lt 300 ] || fail "kill $k: the IDB did not come to hold the $logged logged rows: $(st | jq -c .eod.eoi)"
        sleep 0.1
    done
    sizes=$(idb_sizes)
    expect_eq "kill $k: IDB rows" "$(echo "$sizes" | wc -l)" "$logged"
    expect_eq "kill $k: each row once" "$(echo "$sizes" | sort -n | uniq | wc -l)" "$logged"
    kill -TERM "$pid"
    wait "$pid" || fail "kill $k: smfs exited with status $?: $(tail -5 "$T/log")"
    pid=
done

# The end of day: every row of the day in the HDB once, the IDB empty.
start
total=$(tp '{"cmd":"stats"}' | jq -c '[.rows.trade, .rows.quote]')
tp '{"cmd":"end"}' >/dev/null
wait_status '.eod.done == 1' "the end of day was not written"
out=$("$SMCTL" load "$M") || fail "smctl load: $out"
expect_in "the day in the HDB" "$out" "table trade    $(echo "$total" | jq '.[0]') rows"
expect_in "the day in the HDB" "$out" "table quote    $(echo "$total" | jq '.[1]') rows"
cur=$(st | jq .current)
expect_eq "the IDB is empty after the end of day" "$(ls "$M/v$cur\$/idb" | wc -l)" 0
kill -TERM "$pid"
wait "$pid" || fail "smfs exited with status $?: $(tail -5 "$T/log")"
pid=
out=$("$SMCTL" store verify "$T/hdb/data" 2>&1) || fail "store verify at the end: $out"
echo "t_kill_eoi: $kills kills while intervals were written; each time every logged row once in the IDB"
echo "t_kill_eoi: ok"
