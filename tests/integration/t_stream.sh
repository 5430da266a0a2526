# t_stream: smfs subscribed to a tickerplant that is not smfs's code (tests/node/
# tickerplant.js, on node-q's codec, writing a real -11! log). A day published in every
# form kdb+tick uses (list of columns, table, one row of atoms), SIGKILLed at 20 random
# moments while it receives: after each restart the rows smfs holds are exactly the
# rows the tickerplant logged -- same count, every sequence number once, in order, and
# at the end every value. Then: a login (refused, then accepted), hostile updates and
# a tickerplant sending garbage (refused by name and counted, the subscription goes
# on), the end of day (sealed) including one that passed while smfs was away, _reload
# reaching a second subscriber after a commit, and a torn and a foreign log (named with
# the file and the offset, the subscription goes on). Runs without FUSE (symlink mode).
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
M="$T/mnt"
A="$T/adm.sock"
pid=
tpp=
subp=
trap stream_cleanup EXIT

# ---- the tickerplant ---------------------------------------------------------------------
printf 'smfs:secret\n' >"$T/tp.users"
tp_start --users "$T/tp.users"
tprows() { tp '{"cmd":"stats"}' | jq -c "[.rows.trade, .rows.quote]"; }

# ---- smfs -----------------------------------------------------------------------------------
"$SMCTL" config default | sed "s#/var/lib/smfs#$T#g; s#localhost:5010#127.0.0.1:$port#" >"$T/a.yaml"
mkdir -p "$T/hdb/data" "$M"
printf 'smfs:wrong\n' >"$T/bad.login"
printf 'smfs:secret\n' >"$T/tp.login"
chmod 600 "$T/bad.login" "$T/tp.login"
start() {
    "$SMFS" -c "$T/a.yaml" --admin "$A" --vanilla --q-socket none --http 127.0.0.1:0 -f \
        --stream-checkpoint-ms 200 "$@" "$M" 2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
}
# stop: SIGTERM, and smfs must exit cleanly (under ASan, a leak or an error would not).
stop() {
    kill -TERM "$pid"
    wait "$pid" || fail "smfs exited with status $?: $(tail -5 "$T/log")"
    pid=
}
sjson() { "$SMCTL" stream --admin "$A" --json; }
# wait_for JQ-CONDITION WHAT: until the stream status satisfies it (a bound, not a timing).
wait_for() {
    _i=0
    until sjson | jq -e "$1" >/dev/null 2>&1; do
        _i=$((_i + 1)); [ $_i -lt 600 ] || fail "$2: $(sjson | jq -c '{state, error, tables, counts}')"
        sleep 0.1
    done
}
held() { sjson | jq -c "[.tables.trade.rows, .tables.quote.rows]"; }
# same_rows WHAT: with the tickerplant quiet, smfs catches up to exactly what it
# logged today; then the sequence columns are today's first, first+1, ..., each once,
# in order.
same_rows() {
    want=$(tprows)
    st=$(tp '{"cmd":"stats"}')
    _i=0
    until [ "$(held)" = "$want" ]; do
        _i=$((_i + 1)); [ $_i -lt 600 ] || fail "$1: smfs holds $(held), the tickerplant logged $want"
        sleep 0.1
    done
    for tq in trade:3 quote:4; do
        t=${tq%:*}; c=${tq#*:}
        f=$(echo "$st" | jq ".first.$t")
        n=$("$SMCTL" stream rows "$t" --limit 100000 --admin "$A" --json |
            jq "[.rows[] | .[$c]] as \$s | if \$s == [range($f; $f + (\$s | length))] then (\$s | length) else -1 end")
        [ "$n" -ge 0 ] || fail "$1: the $t rows smfs holds are not each logged row once, in order"
    done
}

# A wrong login is refused and said; the right one subscribes.
start --tp-login "$T/bad.login"
wait_for '.error // "" | test("login refused")' "a refused login was not shown"
stop
tp '{"cmd":"publish","table":"trade","batches":3,"rows":40,"form":"table"}' >/dev/null
tp '{"cmd":"publish","table":"quote","batches":2,"rows":25,"form":"cols"}' >/dev/null
start --tp-login "$T/tp.login"
wait_for '.state == "live"' "never live"
same_rows "replay of what was logged before smfs started"

# ---- 20 SIGKILLs while the day is published in every form ------------------------------------
tp '{"cmd":"run","every_ms":20,"rows":20}' >/dev/null
for k in $(seq 1 20); do
    sleep "0.$(( (k * 7919) % 9 + 1 ))"
    kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
    [ $((k % 3)) -eq 0 ] && sleep 0.3          # sometimes away a while: more to replay
    start --tp-login "$T/tp.login"
    wait_for '.state == "live"' "kill $k: never live again"
    tp '{"cmd":"halt"}' >/dev/null
    same_rows "after kill $k"
    tp '{"cmd":"run","every_ms":20,"rows":20}' >/dev/null
done
tp '{"cmd":"halt"}' >/dev/null
same_rows "after 20 kills"
echo "20 kills: smfs holds $(held) rows, as logged"

# Every value of every row, as the tickerplant made it (rowOf in tickerplant.js).
"$SMCTL" stream rows trade --limit 100000 --admin "$A" --json | jq -e '
  .rows | to_entries | all(.key as $k | .value as $r |
    $r[0] == (["AAPL","MSFT","IBM","GOOG","VOD.L","BP.L","7203.T"][$k % 7]) and
    ($r[1] | startswith("2026.02.18D")) and
    $r[2] == (10 + ($k % 1000) * 0.25) and $r[3] == $k and $r[4] == ("NLQ"[$k % 3:$k % 3 + 1]) and
    $r[5] == (if $k % 11 == 0 then "" else "c\($k % 13)" end))' >/dev/null ||
    fail "trade rows differ from what the tickerplant published"
"$SMCTL" stream rows quote --limit 100000 --admin "$A" --json | jq -e '
  .rows | to_entries | all(.key as $k | .value as $r |
    $r[0] == (["AAPL","MSFT","IBM","GOOG","VOD.L","BP.L","7203.T"][($k * 3) % 7]) and
    $r[2] == (10 + ($k % 800) * 0.125) and $r[3] == ($r[2] + 0.25) and $r[4] == $k and
    $r[5] == (($k % 200) + 2) and $r[7] == "m\($k % 5)")' >/dev/null ||
    fail "quote rows differ from what the tickerplant published"
# A row's timestamp to the nanosecond: row 1234 is 09:00:01.234.
expect_eq "timestamp of trade row 1234" \
    "$("$SMCTL" stream rows trade --from 1234 --limit 1 --admin "$A" --json | jq -r '.rows[0][1]')" \
    "2026.02.18D09:00:01.234000000"

# ---- hostile updates and garbage ----------------------------------------------------------------
before=$(sjson | jq .counts.reconnects)
for kind in badtype unknown fewcols notupd; do tp "{\"cmd\":\"hostile\",\"kind\":\"$kind\"}" >/dev/null; done
tp '{"cmd":"badlog"}' >/dev/null                   # logged too: refused again at each replay
wait_for '.tables.trade.refused == 3 and .counts.refused == 4 and .counts.other == 1' "hostile updates not counted"
expect_in "refusal named" "$(sjson | jq -r .last_refused)" "update of trade: column size is a float vector, the assembly says long"
grep -q "column price is a long vector, the assembly says float" "$T/log" || fail "refusal not logged: $(tail -3 "$T/log")"
hport=$("$SMCTL" status --admin "$A" --json | jq .api.http_port)
curl -s "127.0.0.1:$hport/metrics" | grep -q '^smfs_stream_refused_total{table="trade"} 3$' ||
    fail "refusals not in /metrics: $(curl -s "127.0.0.1:$hport/metrics" | grep stream_refused)"
tp '{"cmd":"hostile","kind":"garbage"}' >/dev/null
wait_for ".counts.reconnects > $before and .state == \"live\"" "garbage did not end in a reconnect"
tp '{"cmd":"publish","table":"trade","batches":2,"rows":7,"form":"row"}' >/dev/null
same_rows "after hostile updates and garbage"

# ---- _reload reaches a second subscriber after a commit ----------------------------------------
subscriber_start smfs:secret
"$SMCTL" gen-hdb "$T/stg" --days 1 --rows 10 --start 2024.03.01 >/dev/null
"$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$T/stg" >/dev/null || fail "ingest"
i=0
until grep -q '"table":"_reload"' "$T/sub.out"; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "no _reload reached the second subscriber: $(sjson | jq -c .counts)"
    sleep 0.1
done
r=$(grep '"table":"_reload"' "$T/sub.out" | head -1)
expect_eq "_reload columns: time, sym, mount, params" "$(echo "$r" | jq '.data | length')" 4
expect_in "_reload for the hdb mount" "$(echo "$r" | jq -c '.data[2]')" '"hdb"'
expect_eq "_reload params as the reload signal" "$(echo "$r" | jq -c '(.data[2] | index("hdb")) as $i | .data[3][$i] | keys')" \
    '["maxTS","minTS","ts"]'

# ---- the end of day, live and while away --------------------------------------------------------
tp '{"cmd":"end"}' >/dev/null
wait_for '.counts.days_sealed == 1 and (.log | endswith("sym2026.02.19"))' "end of day not sealed"
# The sealed day is written down (t_eod checks every row of it) and its store removed.
i=0
until [ "$("$SMCTL" status --admin "$A" --json | jq .eod.done)" = 1 ]; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "2026.02.18 was not written down"
    sleep 0.1
done
[ -d "$T/hdb/stream/sym2026.02.18" ] && fail "the written day's store was not removed"
expect_in "2026.02.18 loads" "$("$SMCTL" load "$M")" "2026.02.18"
tp '{"cmd":"publish","table":"trade","batches":2,"rows":5}' >/dev/null
same_rows "the next day"
stop
tp '{"cmd":"publish","table":"quote","batches":2,"rows":6,"form":"row"}' >/dev/null
tp '{"cmd":"end"}' >/dev/null
tp '{"cmd":"publish","table":"trade","rows":4}' >/dev/null
start --tp-login "$T/tp.login"
wait_for '.state == "live" and (.log | endswith("sym2026.02.20"))' "a day that ended while away"
same_rows "after a day that ended while away"
i=0
until [ "$("$SMCTL" status --admin "$A" --json | jq .eod.done)" = 1 ]; do   # this process's first
    i=$((i + 1)); [ $i -lt 300 ] || fail "2026.02.19 was not written down after the restart"
    sleep 0.1
done
cur=$("$SMCTL" status --admin "$A" --json | jq .current)
expect_eq "quote rows of 2026.02.19, replayed, sealed and written" \
    "$("$SMCTL" inspect --json -n 1 "$M/v$cur\$/hdb/2026.02.19/quote/sym" | jq .count)" 12

# ---- a torn log and a foreign one: named, and the subscription goes on ----------------------------
stop
tp '{"cmd":"publish","table":"trade","batches":3,"rows":10}' >/dev/null
log=$(tp '{"cmd":"stats"}' | jq -r .log)
size=$(stat -c %s "$log")
truncate -s $((size - 5)) "$log"
start --tp-login "$T/tp.login"
wait_for '.state == "live" and .counts.gaps == 1' "a torn log was not a gap"
err=$(sjson | jq -r .gap)
expect_in "torn log named" "$err" "$log"
expect_in "torn log offset" "$err" "at offset"
expect_in "torn message said" "$err" "is cut short"
expect_eq "rows up to the torn message" "$(held)" "[24,0]"
tp '{"cmd":"publish","table":"trade","rows":3}' >/dev/null
wait_for '.tables.trade.rows == 27' "the subscription did not go on after a torn log"
stop
mkdir -p "$T/foreign"
printf 'not a log at all, just text\n' >"$T/foreign/$(basename "$log")"
tp '{"cmd":"publish","table":"trade","rows":2}' >/dev/null
start --tp-login "$T/tp.login" --tp-log-dir "$T/foreign"
wait_for '.state == "live" and (.gap // "" | test("is not a tickerplant journal"))' "a foreign log was not named"
expect_in "foreign log named" "$(sjson | jq -r .gap)" "$T/foreign/$(basename "$log")"
tp '{"cmd":"publish","table":"trade","rows":1}' >/dev/null
wait_for '.tables.trade.rows == 28' "the subscription did not go on after a foreign log"
stop

# ---- a manual end of day over REST (Insights' trigger): 202, its state at GET /eod; one at a
#      time -- a second POST while the first is being written is refused (409), not queued.
#      The writedown is held at its first column ($T/go) to see it in progress.
export SMFS_FAULT="wd.column:1:wait=$T/go"
start --tp-login "$T/tp.login"
unset SMFS_FAULT
wait_for '.state == "live"' "not live before the manual EOD"
hport=$("$SMCTL" status --admin "$A" --json | jq .api.http_port)
eod() { curl -s -w ' %{http_code}' -XPOST -d "$1" "http://127.0.0.1:$hport/eod"; }
expect_eq "POST /eod with a bad date" "$(eod '{"date":"2024-13-01"}')" '{"error":"POST /eod: \"date\" must be YYYY.MM.DD"} 400'
expect_eq "POST /eod" "$(eod '')" '{"state":"pending"} 202'
i=0
until [ "$(curl -s "http://127.0.0.1:$hport/eod" | jq -r .manual.state)" = processing ]; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "the manual EOD never reached its writedown: $(curl -s "http://127.0.0.1:$hport/eod")"
    sleep 0.1
done
out=$(eod '')
expect_in "a second POST /eod while one is written" "$out" " 409"
expect_in "says why" "$out" "an end of day is already in progress (processing)"
touch "$T/go"
i=0
until [ "$(curl -s "http://127.0.0.1:$hport/eod" | jq -r .manual.state)" = completed ]; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "the manual EOD did not complete: $(curl -s "http://127.0.0.1:$hport/eod")"
    sleep 0.1
done
expect_eq "one end of day written" "$("$SMCTL" status --admin "$A" --json | jq .eod.done)" 1
expect_eq "POST /eod once it is done" "$(eod '')" '{"state":"pending"} 202'
stop
echo "t_stream: ok"
