#!/bin/sh
# t_s3_tiers: three tiers -- fast (3 days), slow (5 days, zstd), s3 (an s3rver bucket,
# lz4hc) -- through the running daemon, `smctl migrate --now` walking the clock over
# the retention boundaries. After each step the mount (FUSE where there is FUSE, then
# the symlink tree) holds exactly fast's and slow's days and par.txt's third line is
# the bucket's; the bucket, as Debian's aws CLI lists and downloads it, holds exactly
# the s3 tier's days, every object lz4hc-compressed and decompressing to the bytes
# gen-hdb wrote, no upload marker left; `smctl load` walks a downloaded copy; a reader
# of version 1 reads a file that went to the bucket unchanged; the store verifies.
. tests/integration/lib.sh
need_s3

SMFS="$BUILD/smfs"
M="$T/mnt"
A="$T/adm.sock"
pid=
s3p=
trap s3_cleanup EXIT
s3_start hdb
mode=
has_fuse || { mode=--vanilla; echo "SKIP: the FUSE half (no /dev/fuse or fusermount3); the symlink tree is tested"; }

# bucket_days: the dates under the tier's prefix, as aws lists them.
bucket_days() {
    awsq s3api list-objects-v2 --bucket hdb --prefix equities/db/ | jq -r '.Contents // [] | .[].Key' |
        sed -n 's|^equities/db/\([0-9.]*\)/.*|\1|p' | sort -u | tr '\n' ' '
}
# check N FAST SLOW S3: version N at the mount and in the bucket.
check() {
    expect_eq "v$1: par.txt" "$(cat "$M/par.txt" | tr '\n' ' ')" "v$1\$/fast v$1\$/slow s3://hdb/equities/db "
    expect_eq "v$1: fast" "$(ls "$M/v$1\$/fast" 2>/dev/null | tr '\n' ' ')" "$2"
    expect_eq "v$1: slow" "$(ls "$M/v$1\$/slow" 2>/dev/null | tr '\n' ' ')" "$3"
    expect_eq "v$1: bucket" "$(bucket_days)" "$4"
    expect_eq "v$1: no upload marker left" "$(awsq s3 ls --recursive s3://hdb/equities/db/.smfs-pending/ | wc -l)" 0
    ls -a "$M" | grep -q '^\.smfs' && fail "v$1: the store's own .smfs shows at the mount"
    rm -rf "$T/dl"
    mkdir -p "$T/dl"
    awsq s3 cp --quiet --recursive s3://hdb/equities/db/ "$T/dl/" || fail "v$1: aws s3 cp --recursive"
    nz=0
    for d in $4; do
        expect_eq "v$1: objects of $d" "$(cd "$T/dl/$d" && find . -type f | sort | tr '\n' ' ')" \
            "$(cd "$T/orig/$d" && find . -type f | sort | tr '\n' ' ')"
        for f in $(cd "$T/orig/$d" && find . -type f | sort); do
            "$BUILD/tests/kunzip" "$T/dl/$d/$f" >"$T/un" 2>"$T/un.err" || fail "v$1: s3 $d/$f: $(cat "$T/un.err")"
            cmp -s "$T/un" "$T/orig/$d/$f" || fail "v$1: s3 $d/$f does not decompress to the original"
            grep -q "zip lz4hc" "$T/un.err" && nz=$((nz + 1))
        done
    done
    [ -z "$4" ] || [ $nz -gt 0 ] || fail "v$1: no object in the bucket is compressed with lz4hc"
    if [ -n "$4" ]; then
        # The downloaded days are a partitioned database q can \l (with the mount's sym).
        cp "$M/sym" "$T/dl/sym"
        out=$("$SMCTL" load --json "$T/dl") || fail "v$1: smctl load of the downloaded days: $out"
        expect_eq "v$1: downloaded partitions" "$(echo "$out" | jq -r .partitions)" "$(echo $4 | wc -w)"
    fi
}

SLOW_DAYS=5 S3_TIER=s3://hdb/equities/db tiers_assembly 17
out=$("$SMCTL" config check "$T/a.yaml" 2>&1) || fail "the assembly does not load: $out"
case "$out" in *"no effect"*) fail "retention is said to have no effect: $out" ;; esac
"$SMCTL" gen-hdb "$T/kdb/hdb/data" --days 10 --rows 2000 --start 2024.01.01 >/dev/null || fail "gen-hdb"
"$SMCTL" gen-hdb "$T/orig" --days 10 --rows 2000 --start 2024.01.01 >/dev/null || fail "gen-hdb orig"
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import"
smfs_start $mode
all="2024.01.01 2024.01.02 2024.01.03 2024.01.04 2024.01.05 2024.01.08 2024.01.09 2024.01.10 2024.01.11 2024.01.12 "
check 1 "$all" "" ""

# A reader of version 1 holds a file of a day that goes to the bucket.
hold r1 "$T/orig/2024.01.02/trade/price" "$M/v1\$/fast/2024.01.02/trade/price"

# A dry run asks nothing of the bucket and changes nothing.
out=$(mig --dry-run --now 2024.01.09)
expect_in "dry run" "$out" "5 partitions would move, 0 be deleted, 0 are held"
expect_eq "dry run: bucket" "$(bucket_days)" ""

# The 9th: fast keeps from the 6th, slow from the 4th: the 4th and 5th go to slow, the
# 1st to 3rd past it to the bucket.
out=$(mig --now 2024.01.09)
expect_in "migrate" "$out" "version 2: 5 partitions moved, 0 deleted, 0 held"
expect_in "migrate lists" "$out" "2024.01.01 fast -> s3 (age)"
check 2 "2024.01.08 2024.01.09 2024.01.10 2024.01.11 2024.01.12 " "2024.01.04 2024.01.05 " \
    "2024.01.01 2024.01.02 2024.01.03 "
j=$("$SMCTL" status --admin "$A" --json)
expect_eq "status: s3 tier" "$(echo "$j" | jq -c '.tiers[2] | [.name, .local, .compression]')" '["s3",false,"lz4hc"]'
expect_eq "status: s3 endpoint" "$(echo "$j" | jq -r '.tiers[2].endpoint')" "$AWS_ENDPOINT_URL"
expect_eq "status: s3 files" "$(echo "$j" | jq '.tiers[2].files')" \
    "$(cd "$T/orig" && find 2024.01.01 2024.01.02 2024.01.03 -type f | wc -l)"

# The 13th: the 8th and 9th go to slow, slow's 4th and 5th to the bucket; a vacuum
# drops the versions no one needs, and version 1's reader reads on.
out=$(mig --now 2024.01.13)
expect_in "migrate 2" "$out" "version 3: 4 partitions moved, 0 deleted"
out=$("$SMCTL" vacuum --admin "$A") || fail "vacuum: $out"
s3all="2024.01.01 2024.01.02 2024.01.03 2024.01.04 2024.01.05 "
check 3 "2024.01.10 2024.01.11 2024.01.12 " "2024.01.08 2024.01.09 " "$s3all"
release r1
out=$(mig --now 2024.01.13)
expect_in "nothing more" "$out" "nothing past its tier's retention"
out=$("$SMCTL" verify --admin "$A") || fail "verify: $out"
expect_in "verify counts the bucket's objects apart" "$out" "$(cd "$T/orig" && find 2024.01.0[1-5] -type f | wc -l) in object storage"
out=$("$SMCTL" load --json "$M") || fail "smctl load: $out"
expect_eq "local partitions" "$(echo "$out" | jq -r .partitions)" 5

# A date whose prefix holds an object this store did not write is not overwritten:
# that day stays in fast, said; the others go.
echo foreign >"$T/foreign"
awsq s3 cp --quiet "$T/foreign" s3://hdb/equities/db/2024.01.11/foreign || fail "aws cp foreign"
out=$(mig --now 2024.01.20)
expect_in "held" "$out" "4 partitions moved, 0 deleted, 1 held"
expect_in "held: why" "$out" "s3://hdb/equities/db/2024.01.11/ already holds objects this store did not write"
expect_eq "v4: fast" "$(ls "$M/v4\$/fast" | tr '\n' ' ')" "2024.01.11 "
expect_eq "v4: slow" "$(ls "$M/v4\$/slow" | tr '\n' ' ')" ""
expect_eq "v4: bucket" "$(bucket_days)" "${s3all}2024.01.08 2024.01.09 2024.01.10 2024.01.11 2024.01.12 "
expect_eq "the foreign object" "$(awsq s3 ls --recursive s3://hdb/equities/db/2024.01.11/ | wc -l)" 1

smfs_stop
[ -z "$mode" ] && { unmount "$M"; smfs_start --vanilla; expect_eq "symlink tree: fast" "$(ls "$M/v4\$/fast" | tr '\n' ' ')" "2024.01.11 "; smfs_stop; }
out=$("$SMCTL" store verify "$T/kdb/hdb/data" 2>&1) || fail "store verify: $out"
s3_signatures_ok
echo "t_s3_tiers: ok"
