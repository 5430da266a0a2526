#!/bin/sh
# t_s3_cache: `smfs --s3-cache DIR:SIZE` serves the S3 tier's days (an s3rver bucket) as
# an ordinary segment, so a kdb+ without the object-store library can \l them: par.txt
# says v<N>$/s3 instead of the s3:// line; `smctl load` walks every day, the bucket's
# included; each file read through the mount (read, pread, both mmaps) is the object
# aws downloads, and decompresses to gen-hdb's bytes; the cache holds at most SIZE once
# nothing is open (files fetched on first open, evicted least recently used); without
# the option the line is the bucket's again; with --vanilla the option is refused.
. tests/integration/lib.sh
need_s3
has_fuse || { echo "no /dev/fuse or fusermount3: --s3-cache serves through a FUSE mount"; exit 77; }

SMFS="$BUILD/smfs"
M="$T/mnt"
A="$T/adm.sock"
pid=
s3p=
trap s3_cleanup EXIT
s3_start hdb
s3days="2024.01.01 2024.01.02 2024.01.03 2024.01.04 2024.01.05"

SLOW_DAYS=1 S3_TIER=s3://hdb/equities/db tiers_assembly 17
"$SMCTL" gen-hdb "$T/kdb/hdb/data" --days 10 --rows 5000 --start 2024.01.01 >/dev/null || fail "gen-hdb"
"$SMCTL" gen-hdb "$T/orig" --days 10 --rows 5000 --start 2024.01.01 >/dev/null || fail "gen-hdb orig"
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import"
smfs_start
out=$("$SMCTL" migrate --admin "$A" --now 2024.01.09 2>&1) || fail "migrate: $out"
expect_in "migrate" "$out" "5 partitions moved"
expect_in "par.txt without the cache" "$(cat "$M/par.txt")" "s3://hdb/equities/db"
smfs_stop
unmount "$M"

# The cache: 1 MiB, less than the bucket's days hold, so files are evicted as the walk goes.
smfs_start --s3-cache "$T/cache:1M"
expect_eq "par.txt with the cache" "$(cat "$M/par.txt" | tr '\n' ' ')" "v2\$/fast v2\$/slow v2\$/s3 "
expect_eq "the bucket's days as a segment" "$(ls "$M/v2\$/s3" | tr '\n' ' ')" "$s3days "
out=$("$SMCTL" load --json "$M" 2>&1) || fail "smctl load through the cache: $out $(tail -5 "$T/log")"
expect_eq "every day loads" "$(echo "$out" | jq -r .partitions)" 10
awsq s3 cp --quiet --recursive s3://hdb/equities/db/ "$T/dl/" || fail "aws s3 cp"
for d in $s3days; do
    out=$("$BUILD/tests/readcmp" --tree "$T/dl/$d" "$M/v2\$/s3/$d") || fail "s3/$d through the mount differs from the bucket: $out"
done
for f in trade/price trade/sym quote/bid; do
    "$BUILD/tests/kunzip" "$M/v2\$/s3/2024.01.03/$f" 2>/dev/null | cmp -s - "$T/orig/2024.01.03/$f" ||
        fail "s3/2024.01.03/$f does not decompress to the original"
done
used=$(du -sb "$T/cache" | cut -f1)
[ "$used" -le $((1024 * 1024 + 4096)) ] || fail "the cache holds $used bytes, over its 1 MiB"
[ "$(ls "$T/cache" | wc -l)" -gt 0 ] || fail "nothing was cached"
# A second walk reads what the first left, fetching the rest again.
out=$("$SMCTL" load --json "$M") || fail "second walk: $out"
expect_eq "second walk" "$(echo "$out" | jq -r .partitions)" 10
ls "$T/cache" | grep -q '\.part$' && fail "a fetch left a partial file"
smfs_stop
unmount "$M"

# Refused where it cannot work.
"$SMFS" -c "$T/a.yaml" --admin "$A" --q-socket none -f --vanilla --s3-cache "$T/cache" "$M" 2>"$T/err" &&
    fail "--s3-cache with --vanilla started"
expect_in "vanilla refused" "$(cat "$T/err")" "--s3-cache needs the FUSE mount"
s3_signatures_ok
echo "t_s3_cache: ok"
