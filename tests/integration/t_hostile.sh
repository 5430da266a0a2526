# t_hostile: the running daemon under crowds from one address, each bounded in time:
# 2,000 q IPC connections that never log in or sit idle, 1,000 HTTP connections that
# trickle a header forever, 2,000 REST registrations with callbacks nobody answers and
# a commit that signals them all -- while a canary from another address calls
# .sm.api.getStatus and GET /healthz throughout and is never refused; the daemon's
# memory and descriptors stay bounded. Then, on the FUSE cached path, more files held
# open than the daemon may have descriptors read correctly.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
FLOOD="node tests/node/flood.js"
# How long each crowd holds its connections: 6 s in make check; FLOOD_SECONDS=60 for the
# minute-long flood of the reliability campaign (run by hand).
secs=${FLOOD_SECONDS:-6}
M="$T/mnt"
A="$T/adm.sock"
RSS_MAX_KB=262144       # the stated bound: 256 MiB resident through every crowd
FD_MAX=1000             # and fewer than 1,000 descriptors
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    unmount "$M"
    rm -rf "$T"
}
trap cleanup EXIT
fuse=1
has_fuse || fuse=0
vanilla=""
[ $fuse -eq 1 ] || vanilla="--vanilla"
start() {
    "$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none --port 127.0.0.1:0 --http 127.0.0.1:0 -f $vanilla \
        "$@" "$M" 2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
    qport=$("$SMCTL" status --admin "$A" --json | jq .api.q_port)
    hport=$("$SMCTL" status --admin "$A" --json | jq .api.http_port)
}
# bounded WHAT: the daemon's resident memory and descriptors are under the bounds.
bounded() {
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    fds=$(ls "/proc/$pid/fd" | wc -l)
    [ "$rss" -lt $RSS_MAX_KB ] || fail "$1: the daemon holds $rss KiB (bound $RSS_MAX_KB)"
    [ "$fds" -lt $FD_MAX ] || fail "$1: the daemon holds $fds descriptors (bound $FD_MAX)"
    echo "$1: daemon at $rss KiB resident, $fds descriptors"
}
# canary_ok JSON: the canary was served every time, and at least once.
canary_ok() {
    expect_eq "$1: canary refused" "$(echo "$2" | jq .failed)" 0
    [ "$(echo "$2" | jq .ok)" -gt 0 ] || fail "$1: the canary made no call: $2"
}

sed "s#/var/lib/smfs#$T#g" <<EOF >"$T/a.yaml"
$("$SMCTL" config default)
EOF
"$SMCTL" gen-hdb "$T/hdb/data" --days 25 --rows 50 >/dev/null || fail "gen-hdb"
cp -a "$T/hdb/data" "$T/orig"
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import"
mkdir -p "$M"
start

# 1. q IPC: 2,000 connections from 127.0.0.1 (half never log in, half log in and idle).
$FLOOD qcanary "$qport" $((secs + 2)) >"$T/canary" &
cp=$!
crowd=$($FLOOD qflood "$qport" 2000 "$secs") || fail "qflood"
wait $cp || fail "q canary: $(cat "$T/canary")"
canary_ok "q IPC crowd" "$(cat "$T/canary")"
echo "q IPC crowd: $crowd"
bounded "after the q IPC crowd"
grep -q 'the limit per address' "$T/log" || fail "no per-address refusal logged"
n=$(grep -c 'refused 127.0.0.1' "$T/log")
[ "$n" -le 3 ] || fail "refusals logged one by one ($n lines)"

fds0=$(ls "/proc/$pid/fd" | wc -l)
# 2. REST: 1,000 connections trickling a header from 127.0.0.1 (slowloris).
$FLOOD restcanary "$hport" $((secs + 2)) >"$T/canary" &
cp=$!
crowd=$($FLOOD restflood "$hport" 1000 "$secs") || fail "restflood"
wait $cp || fail "REST canary: $(cat "$T/canary")"
canary_ok "REST crowd" "$(cat "$T/canary")"
echo "REST crowd: $crowd"
bounded "after the REST crowd"
# libmicrohttpd 0.9.75 (Debian 12) misses a close that arrives in the same wakeup as a
# connection's last header line (edge-triggered epoll: its short read clears
# read-readiness, so the FIN waits for no further event); such a connection then holds
# its per-address slot until the 10 s idle timeout drops it. Wait for that drop rather
# than let the registrations below meet the crowd's ghosts.
i=0
until [ "$(ls "/proc/$pid/fd" | wc -l)" -le $((fds0 + 2)) ]; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "the REST crowd's connections were never dropped ($(ls "/proc/$pid/fd" | wc -l) descriptors, $fds0 before)"
    sleep 0.1
done

# 3. Registrations: 2,000 callbacks nobody answers; 256 from one address are taken,
#    the rest refused with 429; a commit signals them all without freezing the loop.
got=$($FLOOD regs "$hport" 2000 "http://127.0.0.1:1/cb") || fail "regs"
expect_eq "registrations taken and refused" "$got" '{"200":256,"429":1744}'
"$SMCTL" gen-hdb "$T/stg" --days 1 --rows 10 --start 2024.03.01 >/dev/null
$FLOOD qcanary "$qport" 4 >"$T/canary" &
cp=$!
"$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$T/stg" >/dev/null || fail "ingest"
wait $cp || fail "canary during the fan-out: $(cat "$T/canary")"
canary_ok "fan-out to 256 dead callbacks" "$(cat "$T/canary")"
i=0
until [ "$("$SMCTL" status --admin "$A" --json | jq .reload.clients_rest)" = 0 ]; do
    i=$((i + 1)); [ $i -lt 300 ] || fail "dead callbacks were never dropped"
    sleep 0.1
done
bounded "after 2,000 registrations and their fan-out"
kill -TERM "$pid"
wait "$pid"
pid=

# 4. The cached path under a descriptor limit of 256: ~450 files held open at once
#    through the mount are all read right (the daemon keeps at most 64 descriptors).
if [ $fuse -eq 1 ]; then
    ( ulimit -n 256 && exec "$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none --no-passthrough -f "$M" ) \
        2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
    rm "$T/orig/sym"
    out=$("$BUILD/tests/holdopen" "$T/orig" "$M/v2\$/hdb") || fail "files held open: $out"
    echo "cached path: $out"
    [ "$(echo "$out" | cut -d' ' -f1)" -gt 300 ] || fail "too few files to pass the limit: $out"
    js=$("$SMCTL" status --admin "$A" --json)
    [ "$(echo "$js" | jq .fuse.fds_open)" -le "$(echo "$js" | jq .fuse.fds_max)" ] || fail "fd bound: $js"
    expect_eq "descriptor bound" "$(echo "$js" | jq .fuse.fds_max)" 64
else
    echo "SKIP: cached-path descriptor bound: needs FUSE"
fi
echo "t_hostile: ok"
