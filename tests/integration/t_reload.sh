# t_reload: the Storage Manager API of a running smfs, driven by independent clients:
# node-q query processes register (both signatures), receive their callbacks after an
# ingest and acknowledge with the exact ts; one that never acknowledges holds the old
# version until its timeout, after which it is vacuumed by itself; one that
# disconnects releases it at once; a REST client registers and gets the signal POSTed;
# /metrics is parsed; wrong types, unknown mounts and garbage get their errors; a
# daemon with nothing to serve answers 'state and 503; SIGHUP reopens the log file.
# Symlink mode, so it runs where FUSE is absent too (the control thread is the same).
. tests/integration/lib.sh

command -v node >/dev/null || { echo "skipped: node is not installed (make deps installs it)"; exit 77; }
[ -d tests/node_modules/node-q ] || { echo "skipped: node-q missing (make deps runs npm ci)"; exit 77; }

SMFS="$BUILD/smfs"
A="$T/adm.sock"
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
start() {
    "$SMFS" -c "$T/a.yaml" --vanilla -f --admin "$A" --port 127.0.0.1:0 --http 0 --log-file "$T/log" "$T/m" 2>>"$T/err" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
    qp=$("$SMCTL" status --admin "$A" --json | jq .api.q_port)
    hp=$("$SMCTL" status --admin "$A" --json | jq .api.http_port)
}
clients() { SMCTL="$SMCTL" ADMIN="$A" CFG="$T/a.yaml" TDIR="$T" QSOCK="$T/hdb/data/smfs.q.sock" node tests/node/reload.js "$1" "$qp" "$hp" 2>&1; }

# reloadTimeout one hour: only what a client asks for, or its going, ends a wait.
"$SMCTL" config default | sed -e "s#/var/lib/smfs#$T#g" -e "s#reloadTimeout: .*#reloadTimeout: 0D01:00:00#" >"$T/a.yaml"
grep -q "reloadTimeout: 0D01:00:00" "$T/a.yaml" || fail "assembly: reloadTimeout not set"

# Nothing imported yet: the daemon starts over an empty store and is not ready.
mkdir "$T/m"
start
out=$(clients notready) || fail "not ready: $out"
expect_eq "not ready" "$out" ok
kill -TERM "$pid"; wait "$pid"; pid=

"$SMCTL" gen-hdb "$T/hdb/data" --days 5 --rows 500 >/dev/null || fail "gen-hdb"
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import"
start
out=$(clients serve) || fail "reload cycle: $out
$(tail -20 "$T/log")"
expect_eq "reload cycle" "$out" ok
expect_in "timeout logged" "$(cat "$T/log")" "did not acknowledge the signal of version 2"
expect_eq "what \\l sees" "$(cat "$T/m/par.txt")" 'v4$/hdb'

# The human forms of the new admin commands.
expect_in "smctl clients" "$("$SMCTL" clients --admin "$A")" "rest "
expect_in "smctl verify" "$("$SMCTL" verify --admin "$A")" "no problems"
expect_in "smctl status" "$("$SMCTL" status --admin "$A")" "reload: 0 q IPC and 1 REST registrations"

# SIGHUP reopens the log (logrotate moved it) and the daemon keeps serving.
mv "$T/log" "$T/log.1"
kill -HUP "$pid"
i=0
until [ -s "$T/log" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no new log after SIGHUP"; sleep 0.1; done
expect_in "reopened" "$(cat "$T/log")" "SIGHUP: log reopened"
"$SMCTL" status --admin "$A" >/dev/null || fail "status after SIGHUP"
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
expect_eq "exit after SIGTERM" $rc 0
[ -s "$T/err" ] && fail "stderr not empty with --log-file: $(cat "$T/err")"
exit 0
