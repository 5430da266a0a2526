#!/bin/sh
# t_import_s3: the initial import's object-storage scenarios (sm-spec §9) against
# s3rver. (2) partitions only in object storage: the first tier's directory holds only
# sym, the days are under the S3 tier's prefix (uploaded with aws, some columns
# compressed); import checks them by listing and ranged reads -- far fewer bytes than
# the partitions hold -- and names them; the daemon serves par.txt with the bucket's
# line (columns' first blocks are most of what is read: a fifth of these small
# partitions, far less of real ones), a migration does not upload them again, verify counts them apart.
# (3) days on disk and in the bucket: imported together; the same day in both is
# refused, naming it. A partition in the bucket whose schema differs (a column of the
# wrong type, a table missing) is refused, naming table and
# column; nothing is changed by a refused import.
. tests/integration/lib.sh
need_s3

SMFS="$BUILD/smfs"
M="$T/tree"
A="$T/adm.sock"
pid=
s3p=
trap s3_cleanup EXIT
s3_start hdb

S3_TIER=s3://hdb/equities/db tiers_assembly 17
"$SMCTL" gen-hdb "$T/gen" --days 7 --rows 20000 --start 2024.01.01 >/dev/null || fail "gen-hdb"
"$SMCTL" gen-hdb "$T/genz" --days 6 --rows 20000 --start 2024.01.01 --compress zstd:16 >/dev/null || fail "gen-hdb zstd"

# Scenario 2: sym on disk, the days in the bucket (three plain, three compressed).
mkdir -p "$T/kdb/hdb/data"
cp "$T/gen/sym" "$T/kdb/hdb/data/sym"
for d in 2024.01.01 2024.01.02 2024.01.03; do
    awsq s3 cp --quiet --recursive "$T/gen/$d" "s3://hdb/equities/db/$d" || fail "aws cp $d"
done
for d in 2024.01.04 2024.01.05 2024.01.08; do
    awsq s3 cp --quiet --recursive "$T/genz/$d" "s3://hdb/equities/db/$d" || fail "aws cp $d"
done
objects=$(awsq s3 ls --recursive s3://hdb/equities/db/ | wc -l)
bytes=$(awsq s3 ls --recursive --summarize s3://hdb/equities/db/ | sed -n 's/.*Total Size: *\([0-9]*\).*/\1/p')

# A bad column in the bucket first: refused, naming it; nothing changes.
awsq s3 cp --quiet "$T/gen/2024.01.02/trade/price" s3://hdb/equities/db/2024.01.03/trade/size || fail "aws cp bad"
out=$("$SMCTL" import -c "$T/a.yaml" 2>&1) && fail "import with a wrong column type succeeded: $out"
expect_in "wrong type named" "$out" "In object storage: the column has the wrong type: table=trade column=size type=float expected=long"
expect_in "its partition named" "$out" "2024.01.03"
[ -e "$T/kdb/hdb/data/STORE" ] && fail "a refused import left a store"
awsq s3 cp --quiet "$T/gen/2024.01.03/trade/size" s3://hdb/equities/db/2024.01.03/trade/size || fail "aws cp good"

# A table missing from a day, and a .d without a column: refused.
awsq s3 rm --quiet --recursive s3://hdb/equities/db/2024.01.05/quote >/dev/null || fail "aws rm quote"
out=$("$SMCTL" import -c "$T/a.yaml" 2>&1) && fail "import with a missing table succeeded: $out"
expect_in "missing table named" "$out" "In object storage: the partition lacks a table of the assembly: table=quote"
awsq s3 cp --quiet --recursive "$T/genz/2024.01.05/quote" s3://hdb/equities/db/2024.01.05/quote || fail "aws cp quote back"

# Now it imports: named, not copied, and checked by ranged reads only.
out=$("$SMCTL" import -c "$T/a.yaml" 2>&1) || fail "import: $out"
expect_in "plan" "$out" "tier s3: 6 partitions 2024.01.01..2024.01.08"
read_bytes=$(echo "$out" | sed -n 's/.* ranged reads of \([0-9]*\) bytes.*/\1/p')
[ -n "$read_bytes" ] && [ "$read_bytes" -lt $((bytes / 5)) ] ||
    fail "import read $read_bytes bytes of partitions holding $bytes: $out"
expect_eq "bucket untouched" "$(awsq s3 ls --recursive s3://hdb/equities/db/ | wc -l)" "$objects"
out=$("$SMCTL" store verify "$T/kdb/hdb/data" 2>&1) || fail "store verify: $out"

mkdir -p "$M"
"$SMFS" -c "$T/a.yaml" --admin "$A" -f --q-socket none --http 127.0.0.1:0 --no-auto-vacuum --vanilla "$M" 2>>"$T/log" &
pid=$!
smfs_wait "$pid" "$A" "$T/log"
expect_eq "par.txt" "$(cat "$M/par.txt" | tr '\n' ' ')" "v1\$/fast v1\$/slow s3://hdb/equities/db "
expect_eq "status: s3 files" "$("$SMCTL" status --admin "$A" --json | jq '.tiers[2].files')" "$objects"
out=$("$SMCTL" migrate --admin "$A" --now 2024.02.01 2>&1) || fail "migrate: $out"
expect_in "nothing to upload" "$out" "nothing past its tier's retention"
expect_eq "bucket still untouched" "$(awsq s3 ls --recursive s3://hdb/equities/db/ | wc -l)" "$objects"
kill -TERM "$pid"
wait "$pid"
pid=

# Scenario 3: days on disk and days in the bucket; one day in both is refused.
rm -rf "$T/kdb" "$T/slowdisk" "$M"
mkdir -p "$T/kdb/hdb/data"
cp -a "$T/gen/sym" "$T/gen/2024.01.08" "$T/gen/2024.01.09" "$T/kdb/hdb/data/"
out=$("$SMCTL" import -c "$T/a.yaml" 2>&1) && fail "import with a day in both succeeded: $out"
expect_in "overlap named" "$out" "The partition is both on disk (tier fast) and in object storage (s3://hdb/equities/db): the same date partition can't exist in both"
expect_in "overlap's day" "$out" "2024.01.08"
[ -d "$T/kdb/hdb/data/2024.01.08/trade" ] || fail "a refused import moved the day on disk"
awsq s3 rm --quiet --recursive s3://hdb/equities/db/2024.01.08 >/dev/null || fail "aws rm"
out=$("$SMCTL" import -c "$T/a.yaml" 2>&1) || fail "import of scenario 3: $out"
expect_in "plan: disk" "$out" "tier fast: 2 partitions 2024.01.08..2024.01.09"
expect_in "plan: bucket" "$out" "tier s3: 5 partitions 2024.01.01..2024.01.05"
out=$("$SMCTL" store verify "$T/kdb/hdb/data" 2>&1) || fail "store verify: $out"
s3_signatures_ok
echo "t_import_s3: ok"
