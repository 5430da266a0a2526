# t_eoi: end of interval through the test tickerplant, with the IDB tier's schedule at
# one second. While rows arrive, each second's rows become the next ordinal partition of
# the IDB (one commit each): an IDB process loads them at idb$ (par.txt "../v<N>$/idb" and
# sym), each row of the day once across the partitions, each partition in time order;
# the IDB mount's purview (GET /status) ends at the last interval; _prtnEnd `eoi reaches
# a second subscriber. The end of day then writes every row into the HDB and empties the
# IDB in the same commit. Symlink tree where FUSE is absent.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
M="$T/mnt"
A="$T/adm.sock"
pid=
tpp=
subp=
trap stream_cleanup EXIT
fmode=""
has_fuse || { fmode="--vanilla"; echo "SKIP: /dev/fuse absent: served as a symlink tree"; }

tp_start
"$SMCTL" config default | sed "s#/var/lib/smfs#$T#g; s#localhost:5010#127.0.0.1:$port#; s#freq: 0D00:10:00#freq: 0D00:00:01#" >"$T/a.yaml"
grep -q "freq: 0D00:00:01" "$T/a.yaml" || fail "the IDB tier's schedule was not set"
mkdir -p "$T/hdb/data" "$M"
"$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none --http 127.0.0.1:0 -f $fmode "$M" 2>>"$T/log" &
pid=$!
smfs_wait "$pid" "$A" "$T/log"
wait_status '.stream.state == "live"' "never live"
subscriber_start

# Rows over about three seconds: at least two intervals.
for b in 1 2 3 4 5 6 7; do
    tp '{"cmd":"publish","table":"trade","batches":2,"rows":150}' >/dev/null
    tp '{"cmd":"publish","table":"quote","rows":100,"form":"table"}' >/dev/null
    sleep 0.45
done
want=$(tp '{"cmd":"stats"}' | jq -c '[.rows.trade, .rows.quote]')
expect_eq "rows the tickerplant logged" "$want" "[2100,700]"
# Every row reaches the IDB (the last ones at the next second's interval).
i=0
until out=$("$SMCTL" load "$M/idb\$" 2>&1) && echo "$out" | grep -q "table trade    2100 rows" &&
      echo "$out" | grep -q "table quote    700 rows"; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "the IDB did not come to hold every row: $out $(st | jq -c .eod.eoi)"
    sleep 0.1
done
n=$(st | jq .eod.eoi.done)
[ "$n" -ge 2 ] || fail "only $n intervals were written"
echo "IDB: $n intervals, $(echo "$out" | grep partitions)"
expect_eq "idb$/par.txt" "$(cat "$M/idb\$/par.txt")" "../v$(st | jq .current)\$/idb"
# Each sequence number once over the partitions; each partition in time order.
cur=$(st | jq .current)
all=""
for p in $(ls "$M/v$cur\$/idb"); do
    d="$M/v$cur\$/idb/$p/trade"
    "$SMCTL" inspect --json -n 1000000 "$d/time" | jq -e '.values as $t | [range(1; $t | length)] |
        all($t[. - 1] <= $t[.])' >/dev/null || fail "idb/$p/trade is not in time order"
    all="$all $("$SMCTL" inspect --json -n 1000000 "$d/size" | jq -r '.values | join(" ")')"
done
expect_eq "every trade row once in the IDB" "$(echo $all | tr ' ' '\n' | sort -n | uniq | wc -l)" 2100
expect_eq "and no row twice" "$(echo $all | wc -w)" 2100
# The IDB mount's purview ends at the last interval; the stream mount follows it.
hport=$(st | jq .api.http_port)
idbmax=$(curl -s "127.0.0.1:$hport/status" | jq -r '.[] | select(.mount == "idb") | .params.maxTS')
rdbmin=$(curl -s "127.0.0.1:$hport/status" | jq -r '.[] | select(.mount == "rdb") | .params.minTS')
[ "$idbmax" != null ] && [ -n "$idbmax" ] || fail "the IDB's purview has no end: $(curl -s "127.0.0.1:$hport/status")"
[ "$rdbmin" != null ] || fail "no stream purview"
i=0
until grep -q '"signal"\|\["eoi"\]' "$T/sub.out"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "_prtnEnd eoi did not reach the second subscriber"
    sleep 0.1
done

# The end of day: every row in the HDB, the IDB empty, in one commit.
tp '{"cmd":"end"}' >/dev/null
wait_status '.eod.done == 1' "the end of day was not written"
out=$("$SMCTL" load "$M") || fail "smctl load: $out"
expect_in "the day in the HDB" "$out" "table trade    2100 rows"
expect_in "the day in the HDB" "$out" "table quote    700 rows"
cur=$(st | jq .current)
expect_eq "the IDB is empty after the end of day" "$(ls "$M/v$cur\$/idb" | wc -l)" 0
expect_eq "idb$ after the end of day" "$(cat "$M/idb\$/par.txt")" "../v$cur\$/idb"
kill -TERM "$pid"
wait "$pid" || fail "smfs exited with status $?: $(tail -5 "$T/log")"
pid=
echo "t_eoi: ok"
