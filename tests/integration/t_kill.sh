# t_kill: the daemon killed with SIGKILL at random moments of what it does: an ingest
# through it, a vacuum, a verify, and an ingest whose reload signals are being fanned
# out to 20 registered q clients (some acknowledging late, some never, some leaving).
# After each kill: the store verifies offline; it holds the version before or after
# the work (the same version for vacuum and verify); no object is left under a
# temporary name; a restarted smfs clears the dead mount itself and serves exactly the
# committed bytes (every file of the changed day and sym, read through the mount,
# against the store's own copy read offline). 100 kills (30 under ASan, whose every
# step is slower; the moments differ, the checks do not).
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
RC="$BUILD/tests/readcmp"
[ -c /dev/fuse ] || { echo "no /dev/fuse here: FUSE tests skipped"; exit 77; }
command -v fusermount3 >/dev/null || { echo "fusermount3 is not installed: FUSE tests skipped"; exit 77; }
[ -d tests/node_modules/node-q ] || { echo "skipped: node-q missing (make deps runs npm ci)"; exit 77; }

M="$T/mnt"
A="$T/adm.sock"
S="$T/hdb/data"
pid= crowd= job=
cleanup() {
    touch "$T/stop"
    for p in $crowd $job; do kill "$p" 2>/dev/null; done
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    grep -q " $M fuse" /proc/mounts && { fusermount3 -u "$M" 2>/dev/null || umount -l "$M"; }
    rm -rf "$T"
}
trap cleanup EXIT
start() {
    "$SMFS" -c "$T/a.yaml" --admin "$A" -f --port 127.0.0.1:0 --q-socket none "$@" "$M" 2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
}
version() { "$SMCTL" store log --json "$S" | jq '[.[].version] | max // 0'; }

sed "s#/var/lib/smfs#$T#g" <<EOF >"$T/a.yaml"
$("$SMCTL" config default)
EOF
"$SMCTL" gen-hdb "$S" --days 4 --rows 300 >/dev/null || fail "gen-hdb"
"$SMCTL" import -c "$T/a.yaml" --no-verify >/dev/null || fail "import"
mkdir "$M"

# Kill moments: 0 to 39 ms after the work starts (an ingest of a day takes about that
# long here), 0 to 390 ms under ASan.
case "$BUILD" in *asan*) kills=30 pre=0. ;; *) kills=100 pre=0.0 ;; esac
set -- 2024.01.02 2024.01.03 2024.01.04 2024.01.05
before=0 after=0
for k in $(seq 1 "$kills"); do
    op=$((k % 4))   # 0 ingest, 1 vacuum, 2 verify, 3 ingest with a reload fan-out
    eval "day=\${$(( (k % 4) + 1 ))}"
    rm -rf "$T/stg" "$T/stop"
    "$SMCTL" gen-hdb "$T/stg" --days 1 --rows $((100 + k)) --seed "$k" --start "$day" >/dev/null || fail "gen-hdb $k"
    if [ $op = 1 ]; then
        # Something to vacuum: the version before this ingest, kept (no auto vacuum).
        start --no-auto-vacuum
        "$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$T/stg" >/dev/null || fail "kill $k: ingest before vacuum"
    else
        start
    fi
    if [ $op = 3 ]; then
        qport=$("$SMCTL" status --admin "$A" --json | jq .api.q_port)
        node tests/node/crowd.js "$qport" 20 "$T/stop" >/dev/null 2>&1 &
        crowd=$!
        i=0
        until [ "$("$SMCTL" clients --admin "$A" --json | jq '.clients | length')" = 20 ]; do
            i=$((i + 1)); [ $i -lt 300 ] || fail "kill $k: the crowd did not register"
            sleep 0.1
        done
    fi
    v0=$("$SMCTL" status --admin "$A" --json | jq .current)
    case $op in
        0|3) "$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$T/stg" >/dev/null 2>&1 & ;;
        1) "$SMCTL" vacuum --admin "$A" >/dev/null 2>&1 & ;;
        2) "$SMCTL" verify --admin "$A" >/dev/null 2>&1 & ;;
    esac
    job=$!
    sleep "$pre$(( (k * 7919) % 4 ))$(( (k * 104729) % 10 ))"
    kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
    wait "$job" 2>/dev/null; job=
    if [ -n "$crowd" ]; then touch "$T/stop"; kill "$crowd" 2>/dev/null; wait "$crowd" 2>/dev/null; crowd=; fi

    # Offline: the store verifies, at the version before or after, nothing temporary.
    out=$("$SMCTL" store verify "$S" 2>&1) || fail "kill $k (op $op): store verify: $out"
    v=$(version)
    case $op in
        0|3) if [ "$v" = "$v0" ]; then before=$((before + 1))
             elif [ "$v" = $((v0 + 1)) ]; then after=$((after + 1))
             else fail "kill $k (op $op): version $v, neither $v0 nor $((v0 + 1))"; fi ;;
        *) expect_eq "kill $k (op $op): version" "$v" "$v0" ;;
    esac
    left=$(find "$T/hdb" -name '*.tmp' | head -3)
    [ -z "$left" ] || fail "kill $k (op $op): left under a temporary name: $left"
    # The committed bytes of the day and of sym, as the store holds them.
    rm -rf "$T/exp"; mkdir -p "$T/exp/$day"
    for t in trade quote; do
        mkdir -p "$T/exp/$day/$t"
        names=$("$SMCTL" store ls --json "$S" "$v" "hdb/$day/$t" | jq -r '.[] | select(.kind == "file") | .name') ||
            fail "kill $k: store ls hdb/$day/$t"
        [ -n "$names" ] || fail "kill $k: no files in hdb/$day/$t of version $v"
        for f in $names; do
            "$SMCTL" store cat "$S" "$v" "hdb/$day/$t/$f" >"$T/exp/$day/$t/$f" || fail "kill $k: store cat $day/$t/$f"
        done
    done
    "$SMCTL" store cat "$S" "$v" sym >"$T/exp.sym" || fail "kill $k: store cat sym"

    # A restart clears the dead mount and serves those bytes.
    start
    expect_eq "kill $k (op $op): served version" "$("$SMCTL" status --admin "$A" --json | jq .current)" "$v"
    out=$("$RC" --tree "$T/exp/$day" "$M/v$v\$/hdb/$day") || fail "kill $k (op $op): served bytes differ: $out"
    expect_in "kill $k (op $op): files compared" "$out" "$(find "$T/exp/$day" -type f | wc -l) files identical"
    "$RC" "$T/exp.sym" "$M/sym" || fail "kill $k (op $op): sym differs"
    kill -TERM "$pid"; wait "$pid" || fail "kill $k: smfs exit $?"; pid=
done
[ $before -gt 0 ] && [ $after -gt 0 ] || echo "note: every ingest kill left the same side (before $before, after $after)"
echo "t_kill: $kills SIGKILLs; ingests left $before at the version before, $after at the version after; the store verified and served the committed bytes each time"
