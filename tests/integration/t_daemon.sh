# t_daemon: smfs as a new administrator starts it. Daemon mode reports the real
# outcome (a taken port is a non-zero exit naming it); every problem of an assembly is
# printed, not just their count; no store is created inside a live HDB, and an empty
# store is served with a loud warning; the q port ($KXI_PORT or --port) listens on every
# interface unless a host is given, REST on loopback unless one is, neither by default;
# with --users, a wrong or missing login is refused; -o options are in --help and a misspelt one is
# one line; the q Unix socket's mode and group let another user's q in (and keep
# others out); allow_other lets another user read the mount; smctl status prints the
# same FUSE counters as --json; long commands report progress when not on a terminal
# and answer --json; under systemd's journal stream, lines carry "<N>" priorities.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
M="$T/mnt"
A="$T/adm.sock"
pids=""
cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    "$SMCTL" stop --admin "$A" >/dev/null 2>&1
    "$SMCTL" stop --admin "$T/b.sock" >/dev/null 2>&1
    sleep 0.3
    unmount "$M"
    unmount "$T/m2"
    rm -rf "$T"
}
trap cleanup EXIT
fuse=1
has_fuse || fuse=0
vanilla=""
[ $fuse -eq 1 ] || vanilla="--vanilla"

sed "s#/var/lib/smfs#$T#g" <<EOF >"$T/a.yaml"
$("$SMCTL" config default)
EOF
mkdir -p "$M" "$T/m2"

# --- the assembly's problems, each on its own line -----------------------------------
printf 'tables:\n  trade:\n    columns:\n      - name: sym\n        typo: 1\n        type: foo\n' >"$T/typo.yaml"
out=$("$SMFS" -f -c "$T/typo.yaml" "$M" 2>&1); rc=$?
expect_eq "bad assembly exit (3: the assembly)" $rc 3
expect_in "each problem with its position" "$out" "typo.yaml:6:15: tables.trade.columns[0].type: 'foo' is not a q type name"
expect_in "warnings too" "$out" "typo.yaml:5:9: warning: tables.trade.columns[0].typo: unknown key (ignored)"
expect_in "the count last" "$out" "6 errors in the assembly configuration; nothing was started"

# --- -o options: listed, and a misspelt one is one line ------------------------------
help=$("$SMFS" --help 2>&1)
for o in config= vanilla no_passthrough admin= log_level= log_file= readahead_kb= poll_us= port= q_socket= \
         q_socket_mode= socket_group= users= http= keep_versions= no_auto_vacuum; do
    expect_in "--help lists -o $o" "$help" "-o $o"
done
out=$("$SMFS" -f -o alow_other "$M" 2>&1); rc=$?
expect_eq "misspelt -o exit" $rc 2
expect_eq "misspelt -o: one line" "$out" "smfs: unknown option(s): \`-o alow_other' (smfs --help lists the options)"

# --- no store inside a live HDB; an empty store is served, loudly --------------------
"$SMCTL" gen-hdb "$T/hdb/data" --days 3 --rows 200 >/dev/null || fail "gen-hdb"
out=$("$SMFS" -c "$T/a.yaml" --admin "$A" $vanilla "$M" 2>&1); rc=$?
expect_eq "store over an HDB: exit (5: not servable as it is)" $rc 5
expect_in "store over an HDB: why" "$out" "holds a kdb+ database (2024.01.0"
expect_in "store over an HDB: what to do" "$out" "import it first with 'smctl import'"
[ -e "$T/hdb/data/STORE" ] && fail "a store was created inside the HDB"
expect_eq "the HDB untouched" "$(ls "$T/hdb/data" | tr '\n' ' ')" "2024.01.02 2024.01.03 2024.01.04 sym "
sed "s#$T/hdb#$T/empty#g" "$T/a.yaml" >"$T/e.yaml"
out=$("$SMFS" -c "$T/e.yaml" --admin "$T/b.sock" $vanilla "$T/m2" 2>&1) || fail "empty store: $out"
expect_in "empty store warned" "$out" "is empty: nothing is served until a database is imported"
"$SMCTL" stop --admin "$T/b.sock" >/dev/null || fail "stop the empty one"

# --- daemon mode: the real outcome ---------------------------------------------------
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import"
out=$("$SMFS" -c "$T/a.yaml" --admin "$A" --port 127.0.0.1:0 --q-socket "$T/q.sock" $vanilla "$M" 2>&1)
rc=$?
expect_eq "daemon start exit" $rc 0
expect_in "daemon start says it serves" "$out" "admin socket $A"
"$SMCTL" status --admin "$A" >/dev/null || fail "the daemon is not serving after a 0 exit"
port=$("$SMCTL" status --admin "$A" --json | jq .api.q_port)
out=$("$SMFS" -c "$T/e.yaml" --admin "$T/b.sock" --port "127.0.0.1:$port" $vanilla "$T/m2" 2>&1); rc=$?
expect_eq "port taken: exit (7: address in use)" $rc 7
expect_in "port taken: why" "$out" "127.0.0.1:$port: Address already in use"
"$SMCTL" status --admin "$T/b.sock" >/dev/null 2>&1 && fail "a daemon kept running without its port"
grep -q " $T/m2 fuse" /proc/mounts && fail "the failed daemon left its mount"

# --- where the listeners listen (README: q IPC on $KXI_PORT or --port, every interface
#     unless a host is given, as q -p does; REST on loopback unless a host is given) ---
# listen_on PORT: the local addresses listening on TCP PORT (hex, as /proc/net says).
listen_on() {
    awk -v p="$(printf '%04X' "$1")" '$4 == "0A" { split($2, a, ":"); if (a[2] == p) print a[1] }' \
        /proc/net/tcp /proc/net/tcp6 | sort | tr '\n' ' '
}
any4=00000000
any6=00000000000000000000000000000000
lo4=0100007F
listeners() {   # ENV ARGS...: start the empty store's daemon so; sets qp and hp
    _env=$1; shift
    out=$(env "$_env" "$SMFS" -c "$T/e.yaml" --admin "$T/b.sock" --q-socket none $vanilla "$@" "$T/m2" 2>&1) ||
        fail "listeners $*: $out"
    js=$("$SMCTL" status --admin "$T/b.sock" --json)
    qp=$(echo "$js" | jq .api.q_port)
    hp=$(echo "$js" | jq .api.http_port)
}
listeners_stop() { "$SMCTL" stop --admin "$T/b.sock" >/dev/null || fail "stop"; sleep 0.3; }
# $KXI_PORT alone: q on every interface; --http PORT: loopback only.
listeners KXI_PORT=0 --http 0
[ "$qp" -gt 0 ] || fail "\$KXI_PORT did not open the q port: $js"
case " $(listen_on "$qp")" in *" $any4 "*|*" $any6 "*) ;; *) fail "q on \$KXI_PORT: listens on $(listen_on "$qp"), not every interface";; esac
expect_eq "REST with a port only: loopback" "$(listen_on "$hp")" "$lo4 "
listeners_stop
# --port HOST:PORT and --http HOST:PORT: where they say.
listeners KXI_PORT=1 --port 127.0.0.1:0 --http 0.0.0.0:0
expect_eq "--port 127.0.0.1:P beats \$KXI_PORT, loopback only" "$(listen_on "$qp")" "$lo4 "
expect_eq "--http 0.0.0.0:P: every interface" "$(listen_on "$hp")" "$any4 "
listeners_stop
# --users FILE: logins are enforced on the q port (node-q as the client).
printf 'alice:secret\n' >"$T/users"
listeners KXI_PORT=1 --port 127.0.0.1:0 --users "$T/users"
expect_eq "the right login" "$(node tests/node/qlogin.js "$qp" alice secret)" "ok"
for who in "alice nope" "mallory x" ""; do
    # shellcheck disable=SC2086
    out=$(node tests/node/qlogin.js "$qp" $who) || fail "login '$who': $out"
    expect_in "login '$who' refused" "$out" "refused"
done
listeners_stop
# Neither: no q port and no REST (the Unix socket and the admin socket only).
listeners --unset=KXI_PORT
expect_eq "no --port, no \$KXI_PORT: no q port" "$qp" "-1"
expect_eq "no --http: no REST" "$hp" "-1"
listeners_stop

# --- the q socket: mode 0660 by default, a group lets that group in -----------------
expect_eq "q socket mode" "$(stat -c %a "$T/q.sock")" 660
"$SMCTL" stop --admin "$A" >/dev/null || fail "stop"
i=0; while "$SMCTL" status --admin "$A" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || fail "no stop"; sleep 0.1; done
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    # The test's own directories must be traversable by the other user.
    chmod o+x "$T" "$(dirname "$T")"
    ao=""
    [ $fuse -eq 1 ] && ao="-o allow_other"
    "$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket "$T/q.sock" --socket-group nogroup $ao $vanilla "$M" \
        >/dev/null 2>&1 || fail "start with --socket-group"
    expect_eq "q socket group" "$(stat -c '%a %G' "$T/q.sock")" "660 nogroup"
    as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
    conn='const s=require("net").connect(process.argv[1]);s.on("connect",()=>{console.log("connected");s.destroy()});s.on("error",e=>console.log(e.code))'
    expect_eq "nobody (group nogroup) connects" "$(as_nobody node -e "$conn" "$T/q.sock")" connected
    if [ $fuse -eq 1 ]; then
        expect_eq "allow_other: another user reads the mount" "$(as_nobody cat "$M/par.txt")" 'v1$/hdb'
    fi
    "$SMCTL" stop --admin "$A" >/dev/null
    i=0; while "$SMCTL" status --admin "$A" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || fail "no stop"; sleep 0.1; done
    "$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket "$T/q.sock" $vanilla "$M" >/dev/null 2>&1 || fail "restart"
    expect_eq "without the group: refused" "$(as_nobody node -e "$conn" "$T/q.sock")" EACCES
    # The admin socket: even opened to everyone by mistake, another user is refused by
    # the uid the kernel gives (SO_PEERCRED), not only by the file's mode.
    chmod 666 "$A"
    # (It says so before reading anything: the client only listens, for 5 s at most.)
    adm='const s=require("net").connect(process.argv[1]);let b="";setTimeout(()=>s.destroy(),5000);s.on("data",d=>b+=d);s.on("close",()=>console.log(b.trim()));s.on("error",e=>console.log(e.code))'
    out=$(as_nobody node -e "$adm" "$A")
    expect_in "admin socket: another uid refused" "$out" "admin socket: uid $(id -u nobody) may not drive this smfs (only uid 0 or root)"
    "$SMCTL" status --admin "$A" >/dev/null || fail "the daemon did not serve on after the refusal"
    if [ $fuse -eq 1 ]; then
        as_nobody cat "$M/par.txt" >/dev/null 2>&1 && fail "without allow_other another user read the mount"
    fi
    "$SMCTL" stop --admin "$A" >/dev/null
    i=0; while "$SMCTL" status --admin "$A" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || fail "no stop"; sleep 0.1; done
else
    echo "SKIP: socket group and allow_other for another user: needs root, setpriv and the user nobody"
fi

# --- smctl status: the text says what --json says ------------------------------------
# (This daemon holds its writer at the first partition of an ingest until $T/go
# exists, so that the progress check below sees the job under way.)
SMFS_FAULT="ingest.partition:1:wait=$T/go" "$SMFS" -c "$T/a.yaml" --admin "$A" $vanilla "$M" >/dev/null 2>&1 ||
    fail "start for status"
if [ $fuse -eq 1 ]; then
    cat "$M/par.txt" >/dev/null
    find "$M/v1\$" -type f | head -20 | xargs cat >/dev/null
    echo x 2>/dev/null >"$M/par.txt"
    js=$("$SMCTL" status --admin "$A" --json)
    want=$(echo "$js" | jq -r '.fuse | "      \(.lookups) lookups, \(.opens) opens (\(.passthrough_opens) passthrough), \(.reads) reads (\(.read_bytes) bytes), \(.erofs) writes refused"')
    expect_eq "status text agrees with --json" "$("$SMCTL" status --admin "$A" | grep 'lookups,')" "$want"
    want=$(echo "$js" | jq -r '.fuse | "      \(.backings) passthrough registrations (\(.backings_kept) kept since their last close), \(.fds_open) of \(.fds_max) cached-path descriptors open"')
    expect_eq "status text: registrations" "$("$SMCTL" status --admin "$A" | grep 'registrations (')" "$want"
fi

# --- progress lines when not on a terminal; --json on the long commands --------------
"$SMCTL" gen-hdb "$T/stg" --days 2 --rows 100 --start 2024.02.01 >/dev/null
SMCTL_PROGRESS_INTERVAL=0 "$SMCTL" ingest -c "$T/a.yaml" --admin "$A" --json "$T/stg" >"$T/ing.json" 2>"$T/prog" &
ip=$!
i=0
until grep -qs '"progress"' "$T/prog"; do
    i=$((i + 1)); [ $i -lt 600 ] || fail "no progress from an ingest through the daemon: $(cat "$T/prog")"
    sleep 0.1
done
expect_in "progress names the partition" "$(cat "$T/prog")" '"current":"2024.02.01"'
touch "$T/go"
wait $ip || fail "ingest --json: $(cat "$T/ing.json")"
expect_eq "ingest --json ok" "$(jq -r '.ok, .added, .live' "$T/ing.json" | tr '\n' ' ')" "true 2 true "
expect_in "ingest --json carries the daemon's lines" "$(jq -r '.diag[]' "$T/ing.json")" "add partition 2024.02.01"
"$SMCTL" stop --admin "$A" >/dev/null
i=0; while "$SMCTL" status --admin "$A" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || fail "no stop"; sleep 0.1; done
SMFS_FAULT="verify.object:1:wait=$T/go2" "$SMFS" -c "$T/a.yaml" --admin "$A" $vanilla "$M" >/dev/null 2>&1 ||
    fail "start for verify"
SMCTL_PROGRESS_INTERVAL=0 "$SMCTL" verify --admin "$A" >"$T/ver.out" 2>"$T/prog" &
vp=$!
i=0
until grep -qs '^verify: verify' "$T/prog"; do
    i=$((i + 1)); [ $i -lt 600 ] || fail "no progress line from verify: $(cat "$T/prog")"
    sleep 0.1
done
touch "$T/go2"
wait $vp || fail "verify: $(cat "$T/ver.out")"
expect_in "verify through the daemon" "$(cat "$T/ver.out")" "no problems"
"$SMCTL" stop --admin "$A" >/dev/null
i=0; while "$SMCTL" status --admin "$A" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 100 ] || fail "no stop"; sleep 0.1; done
# The admin socket closes before the exiting daemon lets go of the store's lock.
i=0
until out=$(SMCTL_PROGRESS_INTERVAL=0 "$SMCTL" store verify "$T/hdb/data" 2>"$T/prog"); do
    grep -q "in use by process" "$T/prog" || fail "store verify: $out $(cat "$T/prog")"
    i=$((i + 1)); [ $i -lt 100 ] || fail "the stopped daemon still holds the store: $(cat "$T/prog")"
    sleep 0.1
done
grep -q 'verify: verify 100%' "$T/prog" || fail "no progress from store verify: $(cat "$T/prog")"
out=$("$SMCTL" gen-hdb "$T/g2" --days 2 --rows 10 --json) || fail "gen-hdb --json"
expect_eq "gen-hdb --json" "$(echo "$out" | jq -c '[.ok, .partitions, .tables]')" '[true,2,2]'
out=$("$SMCTL" import -c "$T/a.yaml" --json); rc=$?
expect_eq "import --json on an imported store" "$(echo "$out" | jq -r .ok)" true
expect_in "import --json carries the lines" "$(echo "$out" | jq -r '.diag[]')" "already imported"

# --- a daemon that dies mid-ingest: smctl says the outcome is unknown and how to check -
SMFS_FAULT="ingest.partition:1:wait=$T/never" "$SMFS" -c "$T/a.yaml" --admin "$A" $vanilla "$M" >/dev/null 2>&1 ||
    fail "start for the kill"
dpid=$("$SMCTL" status --admin "$A" --json | jq .pid)
"$SMCTL" gen-hdb "$T/stg2" --days 1 --rows 10 --start 2024.03.01 >/dev/null
SMCTL_PROGRESS_INTERVAL=0 "$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$T/stg2" >"$T/k.out" 2>"$T/k.err" &
ip=$!
i=0
until grep -qs 'ingest' "$T/k.err"; do i=$((i + 1)); [ $i -lt 600 ] || fail "no progress before the kill"; sleep 0.1; done
kill -KILL "$dpid"
wait $ip && fail "ingest succeeded though its daemon was killed"
expect_in "unknown outcome said" "$(cat "$T/k.err")" "whether the ingest was committed is unknown: 'smctl versions'"
unmount "$M"

# --- systemd's journal: priorities as "<N>" prefixes ---------------------------------
touch "$T/journal"
js=$(stat -c '%d:%i' "$T/journal")
JOURNAL_STREAM=$js "$SMFS" -f -c "$T/typo.yaml" "$M" 2>>"$T/journal"
expect_eq "journal priority of an error" "$(grep -c '^<3>error: ' "$T/journal")" 7
expect_eq "journal priority of a warning" "$(grep -c '^<4>warn: ' "$T/journal")" 1
echo "t_daemon: ok"
