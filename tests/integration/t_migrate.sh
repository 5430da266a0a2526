# t_migrate: tier migration and retention through the running daemon. A database of
# ten weekdays (2024.01.01-05 and 08-12) in a fast tier (kept 3 days, uncompressed) with a slow tier after it (kept
# 7 days, zstd); `smctl migrate --now` walks the clock over the retention boundaries.
# After each step the mount (FUSE where there is FUSE) and then the symlink tree show
# exactly the days each tier should hold, every file in slow compressed with zstd and
# decompressing to the bytes gen-hdb wrote, every file in fast byte-identical; a reader
# holding a file of the first version reads it unchanged throughout; a dry run changes
# nothing; status names each tier and its filesystem; POST /migrate may not set the
# clock, and a flood of it is coalesced; the store verifies.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
M="$T/mnt"
A="$T/adm.sock"
pid=
cleanup() {
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    unmount "$M"
    rm -rf "$T"
}
trap cleanup EXIT
mode=
has_fuse || { mode=--vanilla; echo "SKIP: the FUSE half (no /dev/fuse or fusermount3); the symlink tree is tested"; }
ver() { "$SMCTL" status --admin "$A" --json | jq -r .current; }

# check N FAST SLOW: version N at the mount: the days of each tier, and every file of
# them against the original (slow: decompressed, and compressed with zstd).
check() {
    expect_eq "v$1: par.txt" "$(cat "$M/par.txt" | tr '\n' ' ')" "v$1\$/fast v$1\$/slow "
    expect_eq "v$1: fast" "$(ls "$M/v$1\$/fast" 2>/dev/null | tr '\n' ' ')" "$2"
    expect_eq "v$1: slow" "$(ls "$M/v$1\$/slow" 2>/dev/null | tr '\n' ' ')" "$3"
    for d in $2; do
        out=$("$BUILD/tests/readcmp" --tree "$T/orig/$d" "$M/v$1\$/fast/$d") || fail "v$1: fast/$d differs: $out"
    done
    nz=0
    for d in $3; do
        for f in $(cd "$T/orig/$d" && find . -type f | sort); do
            "$BUILD/tests/kunzip" "$M/v$1\$/slow/$d/$f" >"$T/un" 2>"$T/un.err" || fail "v$1: slow/$d/$f: $(cat "$T/un.err")"
            cmp -s "$T/un" "$T/orig/$d/$f" || fail "v$1: slow/$d/$f does not decompress to the original"
            grep -q "zip zstd" "$T/un.err" && nz=$((nz + 1))
        done
        [ "$(head -c 8 "$M/v$1\$/slow/$d/trade/price")" = kxzipped ] || fail "v$1: slow/$d/trade/price is not compressed"
    done
    [ -z "$3" ] || [ $nz -gt 0 ] || fail "v$1: no file in slow is compressed with zstd"
    n=$(echo $2 $3 | wc -w)
    out=$("$SMCTL" load --json "$M") || fail "v$1: smctl load: $out"
    expect_eq "v$1: loader partitions" "$(echo "$out" | jq -r .partitions)" "$n"
}

tiers_assembly 17
out=$("$SMCTL" config check "$T/a.yaml" 2>&1) || fail "the assembly does not load: $out"
case "$out" in *"no effect"*) fail "retention is said to have no effect: $out" ;; esac
"$SMCTL" gen-hdb "$T/kdb/hdb/data" --days 10 --rows 2000 --start 2024.01.01 >/dev/null || fail "gen-hdb"
"$SMCTL" gen-hdb "$T/orig" --days 10 --rows 2000 --start 2024.01.01 >/dev/null || fail "gen-hdb orig"
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import"
smfs_start $mode
all="2024.01.01 2024.01.02 2024.01.03 2024.01.04 2024.01.05 2024.01.08 2024.01.09 2024.01.10 2024.01.11 2024.01.12 "
check 1 "$all" ""

# A reader of version 1 holds a day that will move and then expire.
hold r1 "$T/orig/2024.01.05/trade/price" "$M/v1\$/fast/2024.01.05/trade/price"

# A dry run lists and changes nothing.
out=$(mig --dry-run --now 2024.01.11)
expect_in "dry run" "$out" "2 partitions would move, 3 be deleted"
expect_in "dry run lists" "$out" "2024.01.04 fast -> slow (age)"
expect_eq "dry run: version" "$(ver)" 1

# Noon on the 11th: fast keeps from the 8th, slow from the 4th.
out=$(mig --now 2024.01.11D12:00:00)
expect_in "migrate" "$out" "version 2: 2 partitions moved, 3 deleted, 0 held"
expect_in "migrate lists" "$out" "2024.01.01 fast -> deleted (age)"
check 2 "2024.01.08 2024.01.09 2024.01.10 2024.01.11 2024.01.12 " "2024.01.04 2024.01.05 "
st=$("$SMCTL" status --admin "$A") || fail "status"
expect_in "status: slow tier" "$st" "tier slow: file://$T/slowdisk, zstd"
expect_in "status: last run" "$st" "migrate: last run version 2, 2 moved, 3 deleted"
expect_eq "status: tiers" "$("$SMCTL" status --admin "$A" --json | jq -c '[.tiers[] | .name, .files > 0, (.used_pct != null)]')" \
    '["fast",true,true,"slow",true,true]'
hport=$("$SMCTL" status --admin "$A" --json | jq .api.http_port)
expect_eq "POST /migrate may not set the clock" \
    "$(curl -s -o /dev/null -w '%{http_code}' -XPOST -d '{"now_ns":1}' "http://127.0.0.1:$hport/migrate")" 403
expect_eq "GET /migrate" "$(curl -s "http://127.0.0.1:$hport/migrate" | jq -c '[.last.version, .last.moved]')" "[2,2]"

# Two days on: the 8th and 9th move, the 4th and 5th expire; version 1's reader reads on.
out=$(mig --now 2024.01.13)
expect_in "migrate 2" "$out" "version 3: 2 partitions moved, 2 deleted"
out=$("$SMCTL" vacuum --admin "$A") || fail "vacuum: $out"
check 3 "2024.01.10 2024.01.11 2024.01.12 " "2024.01.08 2024.01.09 "
release r1
out=$(mig --now 2024.01.13)
expect_in "nothing more" "$out" "nothing past its tier's retention"
expect_eq "no empty commit" "$(ver)" 3
out=$("$SMCTL" verify --admin "$A") || fail "verify: $out"

# The symlink tree shows the same.
smfs_stop
[ -z "$mode" ] && { unmount "$M"; smfs_start --vanilla; check 3 "2024.01.10 2024.01.11 2024.01.12 " "2024.01.08 2024.01.09 "; smfs_stop; }
out=$("$SMCTL" store verify "$T/kdb/hdb/data" 2>&1) || fail "store verify: $out"

# A flood of POST /migrate does not grow the writer's queue: while a wall-clock run waits
# to start, further requests are covered by it (counted as coalesced). The first run is
# held at its commit (every day left is past retention by today's clock) until $T/go.
export SMFS_FAULT="tiers.commit:1:wait=$T/go"
smfs_start $mode
unset SMFS_FAULT
hport=$("$SMCTL" status --admin "$A" --json | jq .api.http_port)
mg() { curl -s "http://127.0.0.1:$hport/migrate"; }
d0=$(mg | jq .done)
expect_eq "POST /migrate" "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$hport/migrate")" 202
wait_status '.job.cmd == "migrate"' "the first run did not start"
i=0
while [ $i -lt 50 ]; do
    expect_eq "POST /migrate $i" "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$hport/migrate")" 202
    i=$((i + 1))
done
m=$(mg)
q=$(echo "$m" | jq .queued)
[ "$q" -le 2 ] || fail "50 requests grew the queue: $m"
expect_eq "each request queued or covered" "$(($(echo "$m" | jq .coalesced) + q - 1))" 50
touch "$T/go"
i=0
until [ "$(mg | jq .queued)" = 0 ]; do i=$((i + 1)); [ $i -lt 600 ] || fail "the runs never finished: $(mg)"; sleep 0.1; done
expect_eq "runs done: the held one and at most one more" "$(mg | jq .done)" $((d0 + q))
smfs_stop
out=$("$SMCTL" store verify "$T/kdb/hdb/data" 2>&1) || fail "store verify after the flood: $out"
echo "t_migrate: ok"
