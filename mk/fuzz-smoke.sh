#!/bin/sh
# mk/fuzz-smoke.sh FUZZER...: run each fuzz target briefly over a seed corpus (the golden
# files, a generated HDB and the example assembly files), so `make check` proves the
# targets build and the seeds are clean.
# `make fuzz-long` runs it with FUZZ_SECONDS (default 3600 CPU seconds a target) and FUZZ_KEEP=DIR:
# each target then grows its own corpus in DIR/<target> (seeded as above, kept between
# runs), and a crash leaves its input in DIR/<target>.crash-*, to add to the seeds.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${FUZZ_SECONDS:-5}
corpus=$(mktemp -d /tmp/smfs-fuzz.XXXXXX)
trap 'rm -rf "$corpus"' EXIT
golden="${GOLDEN:-$top/../shared/golden}"
if [ -d "$golden" ]; then
    find "$golden" -type f -size -300k | while read -r f; do cp "$f" "$corpus/$(echo "$f" | md5sum | cut -c1-16)"; done
fi
# Real tickerplant logs seed fuzz_journal.
samples="$(dirname "$golden")/samples/journals-advanced-kdb-tick-arch"
if [ -d "$samples" ]; then
    find "$samples" -type f -size -300k | while read -r f; do cp "$f" "$corpus/j$(echo "$f" | md5sum | cut -c1-16)"; done
fi
"$top/build/rel/smctl" gen-hdb "$corpus/hdb" --days 1 --rows 20 --compress gzip >/dev/null 2>&1 || true
find "$corpus/hdb" -type f 2>/dev/null | while read -r f; do cp "$f" "$corpus/g$(echo "$f" | md5sum | cut -c1-16)"; done
# A real pack file (two versions of that HDB) seeds fuzz_store.
if "$top/build/rel/tests/store_fixture" "$corpus/st" "$corpus/hdb" >/dev/null 2>&1 &&
   "$top/build/rel/tests/store_fixture" "$corpus/st" "$top/mnt-examples" kind=x >/dev/null 2>&1; then
    cp "$corpus/st/packs/p00000001.pack" "$corpus/pack1"
fi
rm -rf "$corpus/hdb" "$corpus/st"
for f in "$top"/mnt-examples/*.yaml; do cp "$f" "$corpus/y$(basename "$f")"; done
# Calls as a q user types them (fuzz_qcall).
printf '%s' '.sm.api.getStatus[]' >"$corpus/q1"
printf '%s' '.sm.api.register[`hdb;0D00:05:00;`onReload]' >"$corpus/q2"
printf '%s' '.sm.api.reloadComplete 2024.01.02D10:00:00.123456789' >"$corpus/q3"
printf '%s' 'f[1b;42i;-3j;1.5;"s";2024.01.02;00:10:30.250;0Nn]' >"$corpus/q4"
# S3 listings as a server answers them (fuzz_s3).
printf '%s' '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>db/2024.01.02/trade/price</Key><Size>8016</Size><ETag>"b1946ac92492d2347c6235b4d2611184"</ETag></Contents><NextContinuationToken>abc</NextContinuationToken></ListBucketResult>' >"$corpus/s1"
printf '%s' '<?xml version="1.0"?><Error><Code>NoSuchBucket</Code><Message>x</Message></Error>' >"$corpus/s2"
fail() {
    tail -n 40 "$corpus.$1.log"
    echo "fuzz: $1 FAILED"
    rm -f "$corpus".*.log
    exit 1
}
# User plus system CPU seconds a process has spent (fields 14 and 15 of /proc/PID/stat, in
# clock ticks; the name in field 2 has no spaces for our targets).
cpu_seconds() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# Inputs that once found a defect (tests/fuzz/seeds, named for what they found).
cp "$top"/tests/fuzz/seeds/* "$corpus"/
# The daemon's doors (fuzz_rest, fuzz_admin, fuzz_qserver). A leading NUL picks
# fuzz_qserver's logged-in mode.
rest() { printf '%s\n%s' "$1" "$2" >"$corpus/r$3"; }
rest "GET /status" "" 1
rest "POST /register" '{"mount":"hdb","callback":"http://127.0.0.1:1/cb"}' 2
rest "GET /healthz" "" 3
rest "POST /eod" '{"date":"2024.01.02"}' 4
rest "POST /migrate" '{}' 5
rest "GET /metrics" "" 6
rest "HEAD /readyz" "" 7
adm() { printf '%s\n' "$1" >"$corpus/a$2"; }
adm '{"cmd":"status"}' 1
adm '{"cmd":"versions"}' 2
adm '{"cmd":"clients"}' 3
adm '{"cmd":"verify"}' 4
adm '{"cmd":"vacuum","keep":1}' 5
adm '{"cmd":"migrate","now_ns":1893456000000000000}' 6
adm '{"cmd":"eod","date":"2024.01.02"}' 7
adm '{"cmd":"stream-rows","table":"trade"}' 8
# A q sync message: a char vector the server runs as a call (header, type 10, length).
le32() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\000\\000"; }
qmsg() {
    { printf '\000\001\001\000\000'; le32 $((14 + ${#1})); printf '\012\000'; le32 ${#1}; printf '%s' "$1"; } >"$corpus/q$2"
}
qmsg '.sm.api.getStatus[]' 5
qmsg '.sm.api.register[`hdb;0D00:05:00;`onReload]' 6
qmsg '.sm.api.reloadComplete 2024.01.02D10:00:00.123456789' 7
for f in "$@"; do
    name=$(basename "$f")
    dir=$corpus
    art=""
    if [ -n "${FUZZ_KEEP:-}" ]; then
        dir="$FUZZ_KEEP/$name"
        mkdir -p "$dir"
        cp -n "$corpus"/* "$dir"/ 2>/dev/null || true
        art="-artifact_prefix=$FUZZ_KEEP/$name."
    fi
    if [ -z "${FUZZ_KEEP:-}" ]; then
        # shellcheck disable=SC2086
        if ! "$f" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 "$dir" >"$corpus.$name.log" 2>&1; then
            fail "$name"
        fi
        echo "fuzz: $name ran ${secs}s: $(grep -o 'Done [0-9]* runs' "$corpus.$name.log" | awk '{print $2}') executions, no crash"
        continue
    fi
    # Long runs count CPU seconds, not wall seconds: a run that shares the machine (nice'd
    # under a build) still gets its full budget, and the figure reported is what was spent.
    # libFuzzer stops on SIGINT with exit code 72 after printing its final stats.
    # shellcheck disable=SC2086
    "$f" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 $art "$dir" >"$corpus.$name.log" 2>&1 &
    pid=$!
    start=$(date +%s)
    while kill -0 "$pid" 2>/dev/null; do
        cpu=$(cpu_seconds "$pid")
        [ "$cpu" -ge "$secs" ] && kill -INT "$pid" 2>/dev/null
        sleep 5
    done
    rc=0
    wait "$pid" || rc=$?
    if [ "$rc" -ne 72 ] && [ "$rc" -ne 0 ]; then
        fail "$name"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$corpus.$name.log" | tail -n 1)
    echo "fuzz: $name ran ${cpu}s of CPU ($(( $(date +%s) - start ))s wall): $runs executions, no crash, corpus $(ls "$dir" | wc -l) inputs in $dir"
done
rm -f "$corpus".*.log
# The scratch stores and spills of fuzz_store, fuzz_upd and the door targets, named by
# pid: only those of finished runs (another `make fuzz-long` may be running).
for d in /tmp/smfs-fuzz-store.* /tmp/smfs-fuzz-ctl.* /tmp/smfs-fuzz-upd.* /dev/shm/smfs-fuzz-upd.*; do
    [ -d "$d" ] && ! kill -0 "${d##*.}" 2>/dev/null && rm -rf "$d"
done
true
