# tests/integration/lib.sh: sourced by t_*.sh. Each test runs the real smctl on real
# files; a failed check prints what was expected and exits 1. Exit 77 = skipped.
set -u
: "${SMCTL:?run through mk/run-tests.sh (SMCTL unset)}"
T=$(mktemp -d "${SMFS_TEST_TMP:-/tmp}/it.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }
# expect_in WHAT HAYSTACK NEEDLE
expect_in() { case "$2" in *"$3"*) ;; *) fail "$1: '$3' not in: $2";; esac; }
# unmount DIR: clear a FUSE mount at DIR (live or dead) if there is one.
unmount() {
    grep -q " $1 fuse" /proc/mounts && { fusermount3 -u "$1" 2>/dev/null || umount -l "$1"; }
    return 0
}
# has_fuse: /dev/fuse and fusermount3 are here (FUSE tests skip, or fall back, if not).
has_fuse() { [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; }
# has_cap_sys_admin: whether processes started here hold CAP_SYS_ADMIN (bit 21).
has_cap_sys_admin() {
    _c=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
    [ $(( (0x$_c >> 21) & 1 )) -eq 1 ]
}
need_golden() { [ -d "$GOLDEN" ] || { echo "golden folder absent ($GOLDEN)"; exit 77; }; }
# smfs_wait PID ADMIN_SOCKET LOG: wait until the smfs started as PID answers on its
# admin socket (it opens that once the mount or the symlink tree is up; a file test
# could be answered from the kernel's cache of a dead mount). Fails with its log.
smfs_wait() {
    _i=0
    until "$SMCTL" status --admin "$2" >/dev/null 2>&1; do
        _i=$((_i + 1)); [ $_i -lt 300 ] || fail "smfs did not start: $(tail -5 "$3")"
        kill -0 "$1" 2>/dev/null || fail "smfs exited: $(tail -5 "$3")"
        sleep 0.1
    done
}

# tp_start [ARGS]: the test tickerplant (tests/node/tickerplant.js, on node-q) on free
# ports, logging under $T/logs; sets tpp (its pid), port and ctl. tp JSON: one command.
tp_start() {
    node tests/node/tickerplant.js 0 "$T/logs" 0 "$@" >"$T/tp.out" 2>"$T/tp.err" &
    tpp=$!
    _i=0
    until [ -s "$T/tp.out" ]; do
        _i=$((_i + 1)); [ $_i -lt 100 ] || fail "the tickerplant did not start: $(cat "$T/tp.err")"
        sleep 0.1
    done
    port=$(jq .port "$T/tp.out")
    ctl=$(jq .ctl "$T/tp.out")
}
tp() { curl -sf -XPOST "127.0.0.1:$ctl" -d "$1" || fail "tickerplant command $1: $(tail -3 "$T/tp.err")"; }
# subscriber_start [LOGIN]: a second subscriber (node-q) of _prtnEnd and _reload,
# writing what it receives to $T/sub.out; sets subp.
subscriber_start() {
    node tests/node/subscriber.js "$port" "$T/sub.out" "$@" 2>"$T/sub.err" &
    subp=$!
    _i=0
    until grep -q subscribed "$T/sub.out" 2>/dev/null; do
        _i=$((_i + 1)); [ $_i -lt 100 ] || fail "second subscriber: $(cat "$T/sub.err")"
        sleep 0.1
    done
}

# stream_cleanup: for a trap: smfs ($pid), the tickerplant ($tpp) and a subscriber
# ($subp) gone, the mount point ($M) clear, $T removed.
stream_cleanup() {
    [ -n "${pid:-}" ] && kill -KILL "$pid" 2>/dev/null
    [ -n "${tpp:-}" ] && kill "$tpp" 2>/dev/null
    [ -n "${subp:-}" ] && kill "$subp" 2>/dev/null
    wait 2>/dev/null
    [ -n "${M:-}" ] && unmount "$M"
    rm -rf "$T"
}
# st: the running smfs's status (admin socket $A); wait_status JQ WHAT: until it
# satisfies JQ (a bound of a minute, not a timing), else fail saying WHAT.
st() { "$SMCTL" status --admin "$A" --json; }
wait_status() {
    _i=0
    until st | jq -e "$1" >/dev/null 2>&1; do
        _i=$((_i + 1)); [ $_i -lt 600 ] || fail "$2: $(st | jq -c '{eod, stream: .stream | {state, error, tables}}')"
        sleep 0.1
    done
}

# hold NAME A B: readcmp --hold opens and maps B (checked against A) in the background
# until "release NAME"; its output in $T/NAME.out, its pid in $hp.
hold() {
    mkfifo "$T/$1"
    "$BUILD/tests/readcmp" --hold "$2" "$3" <"$T/$1" >"$T/$1.out" 2>&1 &
    hp=$!
    exec 3>"$T/$1"
    _i=0
    until grep -q ready "$T/$1.out"; do _i=$((_i + 1)); [ $_i -lt 200 ] || fail "holder: $(cat "$T/$1.out")"; sleep 0.1; done
}
release() {
    echo go >&3
    exec 3>&-
    wait $hp || fail "holder: $(cat "$T/$1.out")"
}

# smfs_start [ARGS]: smfs on $T/a.yaml mounted at $M in the foreground (pid in $pid), its
# admin socket $A, no q socket, REST on a free loopback port, no automatic vacuum (the
# test says when); returns once it serves. smfs_stop: SIGTERM, and wait for its exit (under
# ASan, the leak check). mig ARGS: `smctl migrate`, failing the test with its answer.
smfs_start() {
    mkdir -p "$M"
    "$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none --http 127.0.0.1:0 --no-auto-vacuum -f "$@" "$M" 2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
}
smfs_stop() {
    kill -TERM "$pid"
    wait "$pid"
    pid=
}
mig() { "$SMCTL" migrate --admin "$A" "$@" 2>&1 || fail "smctl migrate $*: $("$SMCTL" migrate --admin "$A" "$@" 2>&1)"; }

# tiers_assembly BLOCKLOG2: $T/a.yaml with the tables of mnt-examples/tiers-s3.yaml and
# two date tiers under $T: fast (kept 3 days, uncompressed) and slow ($T/slowdisk, kept
# $SLOW_DAYS (7) days, zstd level 3 in blocks of 2^BLOCKLOG2) -- the tier migration
# tests' database; with S3_TIER=s3://bucket/prefix a third, s3 (lz4hc level 4), after them.
tiers_assembly() {
    sed -n '1,/^bus:/p' mnt-examples/tiers-s3.yaml | sed '$d' >"$T/a.yaml"
    cat >>"$T/a.yaml" <<EOF
bus:
  stream: {protocol: tp, nodes: ["localhost:5010"]}
mounts:
  rdb: {type: stream, baseURI: none, partition: none}
  hdb: {type: local, baseURI: "file://$T/kdb/hdb", partition: date}
elements:
  sm:
    source: stream
    tiers:
      - {name: stream, mount: rdb}
      - {name: fast, mount: hdb, retain: {time: 3 days}}
      - {name: slow, mount: hdb, store: "file://$T/slowdisk", retain: {time: ${SLOW_DAYS:-7} days}, compression: {algorithm: zstd, block: $1, level: 3}}
EOF
    [ -z "${S3_TIER:-}" ] || echo "      - {name: s3, mount: hdb, store: \"$S3_TIER\", compression: {algorithm: lz4hc, block: $1, level: 4}}" >>"$T/a.yaml"
}

# s3_start BUCKET...: s3rver (tests/node_modules, a real S3 API) on a free port with its
# data under $T/s3d and BUCKETs made, behind tests/node/sigv4proxy.js, which checks every
# request's SigV4 signature with aws4 (s3rver does not); sets s3p (both pids) and exports
# the AWS variables smfs and awscli read, the endpoint being the proxy's. Node 20's
# OpenSSL needs the legacy provider for s3rver's continuation tokens. awsq ARGS: Debian's
# aws CLI against it (the independent client). s3_signatures_ok: no request was refused
# for its signature, and some were checked.
s3_start() {
    _b=""
    for _x in "$@"; do _b="$_b --configure-bucket $_x"; done
    mkdir -p "$T/s3d"
    # shellcheck disable=SC2086
    NODE_OPTIONS=--openssl-legacy-provider tests/node_modules/.bin/s3rver -d "$T/s3d" -a 127.0.0.1 -p 0 $_b \
        >"$T/s3rver.log" 2>&1 &
    s3p=$!
    _i=0
    until grep -q "listening on" "$T/s3rver.log" 2>/dev/null; do
        _i=$((_i + 1)); [ $_i -lt 200 ] || fail "s3rver did not start: $(tail -5 "$T/s3rver.log")"
        kill -0 $s3p 2>/dev/null || fail "s3rver exited: $(tail -5 "$T/s3rver.log")"
        sleep 0.1
    done
    s3port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$T/s3rver.log" | head -1)
    node tests/node/sigv4proxy.js "$s3port" S3RVER >"$T/sigv4.out" 2>"$T/sigv4.err" &
    s3p="$s3p $!"
    _i=0
    until [ -s "$T/sigv4.out" ]; do
        _i=$((_i + 1)); [ $_i -lt 100 ] || fail "the SigV4 proxy did not start: $(cat "$T/sigv4.err")"
        sleep 0.1
    done
    sigport=$(jq .port "$T/sigv4.out")
    export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    export AWS_ENDPOINT_URL="http://127.0.0.1:$sigport" AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 2>/dev/null || true
}
# s3_cleanup: for a trap: smfs ($pid) stopped (SIGTERM: under ASan its exit checks for
# leaks), s3rver and its SigV4 proxy ($s3p) gone,
# the mount point ($M) clear, $T removed.
s3_cleanup() {
    [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    # shellcheck disable=SC2086
    [ -n "${s3p:-}" ] && kill $s3p 2>/dev/null
    wait 2>/dev/null
    [ -n "${M:-}" ] && unmount "$M"
    rm -rf "$T"
}
# need_s3: skip (77) where s3rver or the aws CLI cannot run (make deps installs both).
need_s3() {
    command -v node >/dev/null || { echo "node absent: s3rver cannot run"; exit 77; }
    [ -x /usr/bin/aws ] || { echo "awscli absent (make deps installs it)"; exit 77; }
}
s3_signatures_ok() {
    _s=$(curl -s "http://127.0.0.1:$sigport/__sigv4")
    [ "$(echo "$_s" | jq .bad)" = 0 ] || fail "requests refused for their SigV4 signature: $_s"
    [ "$(echo "$_s" | jq .ok)" -gt 0 ] || fail "no request went through the SigV4 proxy: $_s"
}
awsq() { /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
