#!/bin/sh
# mk/fuzz-smoke.sh FUZZER...: run each fuzz target briefly over a seed corpus (the golden
# files, a generated HDB and the example assembly files), so `make check` proves the
# targets build and the seeds are clean.
# `make fuzz-long` runs it with FUZZ_SECONDS (default 3600 per target) and FUZZ_KEEP=DIR:
# each target then grows its own corpus in DIR/<target> (seeded as above, kept between
# runs), and a crash leaves its input in DIR/<target>.crash-*, to add to the seeds.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${FUZZ_SECONDS:-8}
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
    # shellcheck disable=SC2086
    if ! "$f" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 $art "$dir" >"$corpus.$name.log" 2>&1; then
        tail -n 40 "$corpus.$name.log"
        echo "fuzz: $name FAILED"
        rm -f "$corpus".*.log
        exit 1
    fi
    echo "fuzz: $name ran ${secs}s: $(grep -o 'Done [0-9]* runs' "$corpus.$name.log" | awk '{print $2}') executions, no crash${FUZZ_KEEP:+, corpus $(ls "$dir" | wc -l) inputs in $dir}"
done
rm -f "$corpus".*.log
rm -rf /tmp/smfs-fuzz-store.*   # fuzz_store's scratch stores
