# t_eod: end of day through the test tickerplant (tests/node/tickerplant.js). Days
# published in every update form end with .u.end, with late rows for the day before,
# and with a manual EOD; each is written as one commit that `smctl load` (our \l) loads
# through the FUSE mount and through the symlink tree, every column decoding to exactly
# the rows published (each sequence number once), sorted by sym then time with p# on
# sym, symbols resolving through sym to the published names; _prtnEnd and _reload reach
# a second subscriber. Then SIGKILL at 50 random moments of an end of day: the store is
# at the version before or after it, and after the restart the day is written once
# with every row.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
M="$T/mnt"
A="$T/adm.sock"
pid=
tpp=
subp=
trap stream_cleanup EXIT
fuse=1
has_fuse || { fuse=0; echo "SKIP: /dev/fuse absent: the FUSE half runs as a symlink tree"; }

tp_start

# No IDB tier: its intervals (t_eoi) would add versions between the ends of day counted here.
"$SMCTL" config default | sed "s#/var/lib/smfs#$T#g; s#localhost:5010#127.0.0.1:$port#" | grep -v idb >"$T/a.yaml"
mkdir -p "$T/hdb/data" "$M"
start() {
    "$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none -f --stream-checkpoint-ms 200 "$@" "$M" 2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
}
stop() {
    kill -TERM "$pid"
    wait "$pid" || fail "smfs exited with status $?: $(tail -5 "$T/log")"
    pid=
    unmount "$M"
}
# day_is DATE TABLE SEQCOL FIRST N: the partition holds exactly sequence numbers
# FIRST..FIRST+N-1 (any order, each once), sorted by sym then time, p# on sym.
day_is() {
    d="$M/v$(st | jq .current)\$/hdb/$1/$2"
    n=$("$SMCTL" inspect --json -n 1000000 "$d/sym" | jq .count)
    expect_eq "$1 $2 rows" "$n" "$5"
    expect_eq "$1 $2 p# on sym" "$("$SMCTL" inspect --json -n 1 "$d/sym" | jq -r .attr)" p
    "$SMCTL" inspect --json -n 1000000 "$d/sym" "$d/time" "$d/$3" | jq -s -e --argjson f "$4" --argjson n "$5" '
        (.[0].values) as $s | (.[1].values) as $t | (.[2].values | map(tonumber)) as $q |
        ($q | sort) == [range($f; $f + $n)] and
        ([range(1; $n)] | all(. as $i | $s[$i - 1] < $s[$i] or ($s[$i - 1] == $s[$i] and $t[$i - 1] <= $t[$i])))' \
        >/dev/null || fail "$1 $2: not exactly rows $4.. once each, sorted by sym then time"
}
# Every value of trade on DATE as the tickerplant made row s (rowOf in tickerplant.js).
trade_values() {
    d="$M/v$(st | jq .current)\$/hdb/$1/trade"
    "$SMCTL" inspect --json -n 1000000 "$d/sym" "$d/price" "$d/size" "$d/ex" "$d/cond" | jq -s -e '
        (.[0].values) as $y | (.[1].values | map(tonumber)) as $p | (.[2].values | map(tonumber)) as $q |
        (.[3].values) as $x | (.[4].values) as $c |
        [range(0; $q | length)] | all(. as $i | $q[$i] as $s |
          $y[$i] == (["AAPL","MSFT","IBM","GOOG","VOD.L","BP.L","7203.T"][$s % 7]) and
          $p[$i] == (10 + ($s % 1000) * 0.25) and $x[$i] == ("NLQ"[$s % 3:$s % 3 + 1]) and
          $c[$i] == (if $s % 11 == 0 then "\"\"" else "\"c\($s % 13)\"" end))' >/dev/null ||
        fail "$1: trade values differ from what the tickerplant published"
}

fmode=""
[ $fuse -eq 1 ] || fmode="--vanilla"
start $fmode
wait_status '.stream.state == "live"' "never live"
subscriber_start

# ---- day 1: every form, then .u.end --------------------------------------------------------
tp '{"cmd":"publish","table":"trade","batches":4,"rows":500,"form":"cols"}' >/dev/null
tp '{"cmd":"publish","table":"trade","batches":3,"rows":300,"form":"table"}' >/dev/null
tp '{"cmd":"publish","table":"trade","batches":50,"rows":1,"form":"row"}' >/dev/null
tp '{"cmd":"publish","table":"quote","batches":5,"rows":400,"form":"table"}' >/dev/null
s1=$(tp '{"cmd":"stats"}')
tp '{"cmd":"end"}' >/dev/null
wait_status '.eod.done == 1' "the end of day of 2026.02.18 was not written"
out=$("$SMCTL" load "$M") || fail "smctl load: $out"
expect_in "load: the new partition" "$out" "partitions: 1 (2026.02.18 .. 2026.02.18)"
expect_in "load: trade rows" "$out" "table trade    2950 rows"
expect_in "load: quote rows" "$out" "table quote    2000 rows"
day_is 2026.02.18 trade size 0 2950
day_is 2026.02.18 quote bsize 0 2000
trade_values 2026.02.18
expect_eq "rows the tickerplant logged" "$(echo "$s1" | jq -c '[.rows.trade, .rows.quote]')" "[2950,2000]"

# ---- day 2: its rows and late rows for day 1 ------------------------------------------------
tp '{"cmd":"publish","table":"trade","batches":2,"rows":400}' >/dev/null
tp '{"cmd":"publish","table":"trade","batches":3,"rows":10,"late":1,"form":"table"}' >/dev/null
tp '{"cmd":"publish","table":"quote","batches":2,"rows":100,"form":"row"}' >/dev/null
tp '{"cmd":"end"}' >/dev/null
wait_status '.eod.done == 2' "the end of day of 2026.02.19 was not written"
expect_eq "late rows counted" "$(st | jq .eod.last.late_rows)" 30
out=$("$SMCTL" load "$M") || fail "smctl load: $out"
expect_in "load: two days" "$out" "partitions: 2 (2026.02.18 .. 2026.02.19)"
day_is 2026.02.19 trade size 2950 800
"$SMCTL" inspect --json -n 1000000 "$M/v$(st | jq .current)\$/hdb/2026.02.18/trade/size" |
    jq -e '[.values[] | tonumber] | sort == ([range(0; 2950)] + [range(3750; 3780)])' >/dev/null ||
    fail "2026.02.18 does not hold its 30 late rows with the day's"
day_is 2026.02.19 quote bsize 2000 200

# ---- day 3: a manual end of day, then more rows of the day, then .u.end ---------------------------
tp '{"cmd":"publish","table":"trade","batches":1,"rows":100}' >/dev/null
wait_status '.stream.tables.trade.rows == 100' "day 3's rows not taken"
out=$("$SMCTL" eod --admin "$A" --wait) || fail "smctl eod: $out"
expect_in "manual eod completed" "$out" "manual EOD (today): completed"
day_is 2026.02.20 trade size 3780 100
tp '{"cmd":"publish","table":"trade","batches":1,"rows":20}' >/dev/null
tp '{"cmd":"end"}' >/dev/null
wait_status '.eod.done == 4' "the end of day after a manual one was not written"
day_is 2026.02.20 trade size 3780 120

# ---- the signals reached the second subscriber ----------------------------------------------------
i=0
until [ "$(grep -c '"table":"_prtnEnd"' "$T/sub.out")" -ge 4 ]; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "_prtnEnd did not reach the second subscriber ($(grep -c _prtnEnd "$T/sub.out"))"
    sleep 0.1
done
p=$(grep '"table":"_prtnEnd"' "$T/sub.out" | head -1)
expect_eq "_prtnEnd columns: time, sym, signal, endTS, opts" "$(echo "$p" | jq '.data | length')" 5
expect_eq "_prtnEnd signal" "$(echo "$p" | jq -c '.data[2]')" '["eod"]'
# endTS is the day's last nanosecond, which node-q (milliseconds) shows rounded up.
expect_eq "_prtnEnd endTS" "$(echo "$p" | jq -r '.data[3][0]')" "2026-02-19T00:00:00.000Z"
expect_eq "_prtnEnd opts: the day" "$(echo "$p" | jq -r '.data[4][0].date')" "2026-02-18T00:00:00.000Z"
grep -q '"table":"_reload"' "$T/sub.out" || fail "no _reload after the end of day"

# ---- the same database as a symlink tree -------------------------------------------------------------
stop
if [ $fuse -eq 1 ]; then
    start --vanilla
    out=$("$SMCTL" load "$M") || fail "smctl load of the symlink tree: $out"
    expect_in "symlink tree: three days" "$out" "partitions: 3 (2026.02.18 .. 2026.02.20)"
    day_is 2026.02.18 quote bsize 0 2000
    trade_values 2026.02.19
    stop
fi

# ---- SIGKILL at 50 random moments of an end of day (25 under ASan, whose every step is slower) ----
kills=0; before=0; after=0
case "$BUILD" in *asan*) n=25 ;; *) n=50 ;; esac
for k in $(seq 1 "$n"); do
    start --vanilla
    wait_status '.stream.state == "live" and .eod.pending == 0' "kill $k: not ready"
    tp '{"cmd":"publish","table":"trade","batches":4,"rows":2500}' >/dev/null
    tp '{"cmd":"publish","table":"quote","batches":2,"rows":2500,"form":"table"}' >/dev/null
    wait_status '.stream.tables.trade.rows == 10000 and .stream.tables.quote.rows == 5000' "kill $k: rows not taken"
    s=$(tp '{"cmd":"stats"}')
    day=$(echo "$s" | jq -r .date)
    ft=$(echo "$s" | jq .first.trade)
    v0=$(st | jq .current)
    tp '{"cmd":"end"}' >/dev/null
    sleep "0.0$(( (k * 7919) % 10 ))$(( (k * 104729) % 10 ))"
    kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
    kills=$((kills + 1))
    v=$("$SMCTL" store log --json "$T/hdb/data" | jq '[.[].version] | max // 0')
    if [ "$v" = "$v0" ]; then before=$((before + 1));
    elif [ "$v" = "$((v0 + 1))" ]; then after=$((after + 1));
    else fail "kill $k: the store is at version $v, neither $v0 nor $((v0 + 1))"; fi
    start --vanilla
    wait_status ".eod.pending == 0 and .current == $((v0 + 1))" "kill $k: the day was not written after the restart"
    day_is "$day" trade size "$ft" 10000
    stop
done
echo "SIGKILL at $kills moments of an end of day: $before left the version before, $after the version after; each day written once, whole"
echo "t_eod: ok"
