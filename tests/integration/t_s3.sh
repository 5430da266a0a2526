#!/bin/sh
# t_s3: core/s3 (through tests/helpers/s3tool) against s3rver, a real S3 API, each
# result checked with Debian's aws CLI, an independent client: one-request and
# multipart uploads (ETag = what was sent), ranged gets, listings across pages,
# deletes, retries after an injected transient failure, and errors that name the
# method, the object and S3's own code.
. tests/integration/lib.sh
need_s3
trap 'kill $s3p 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
s3_start bkt
S="$BUILD/tests/s3tool"

head -c 100000 /dev/urandom >"$T/small"
head -c 12582917 /dev/urandom >"$T/big"    # 12 MiB + 5: three parts of 5 MiB
: >"$T/empty"

# One request: the ETag is the MD5 of the bytes, and aws sees the same object.
e=$("$S" put bkt "db/2024.01.02/trade/price" "$T/small" 2>"$T/err") || fail "put: $(cat "$T/err")"
expect_eq "etag of a one-request put" "$e" "$(md5sum <"$T/small" | cut -d' ' -f1)"
expect_eq "size aws sees" "$(awsq s3api head-object --bucket bkt --key db/2024.01.02/trade/price | jq .ContentLength)" 100000
awsq s3 cp --quiet s3://bkt/db/2024.01.02/trade/price "$T/back" || fail "aws cp"
cmp "$T/small" "$T/back" || fail "aws downloads other bytes than were put"

# Multipart: parts of 5 MiB; the object aws downloads is the file.
SMFS_S3_PART_MB=5 "$S" put bkt "db/big file+=&.bin" "$T/big" >"$T/e" 2>"$T/err" || fail "multipart put: $(cat "$T/err")"
expect_in "multipart requests" "$(cat "$T/err")" "requests 5 "   # initiate, 3 parts, complete
awsq s3 cp --quiet "s3://bkt/db/big file+=&.bin" "$T/back" || fail "aws cp of the multipart object"
cmp "$T/big" "$T/back" || fail "the multipart object differs from its file"
expect_eq "head" "$("$S" head bkt "db/big file+=&.bin" 2>/dev/null)" "12582917 $(awsq s3api head-object --bucket bkt --key "db/big file+=&.bin" | jq -r .ETag | tr -d '"')"

# An empty object; ranged gets (inside, across the end, the whole).
"$S" put bkt db/empty "$T/empty" >/dev/null 2>&1 || fail "empty put"
expect_eq "empty object" "$(awsq s3api head-object --bucket bkt --key db/empty | jq .ContentLength)" 0
"$S" get bkt "db/big file+=&.bin" 5242870 20 >"$T/r" 2>/dev/null || fail "ranged get"
dd if="$T/big" bs=1 skip=5242870 count=20 2>/dev/null | cmp - "$T/r" || fail "ranged get across a part boundary"
"$S" get bkt db/2024.01.02/trade/price 99990 100 >"$T/r" 2>/dev/null || fail "ranged get past the end"
expect_eq "bytes of a range past the end" "$(wc -c <"$T/r")" 10
"$S" get bkt db/2024.01.02/trade/price >"$T/r" 2>/dev/null && cmp "$T/r" "$T/small" || fail "whole get"

# Listing across pages (one key per page) agrees with aws's.
for i in 1 2 3 4 5; do "$S" put bkt "db/2024.01.0$i/q/x" "$T/small" >/dev/null 2>&1 || fail "put $i"; done
SMFS_S3_LIST_PAGE=1 "$S" ls bkt db/ >"$T/ls" 2>"$T/err" || fail "ls: $(cat "$T/err")"
expect_in "pages requested" "$(cat "$T/err")" "requests 8 "
awsq s3api list-objects-v2 --bucket bkt --prefix db/ | jq -r '.Contents[] | "\(.Key) \(.Size)"' >"$T/aws.ls"
sed 's/ [^ ]*$//' "$T/ls" | cmp - "$T/aws.ls" || fail "listing differs from aws's: $(diff "$T/ls" "$T/aws.ls")"

# Delete: gone for aws too; deleting again is not an error.
"$S" rm bkt db/2024.01.03/q/x 2>/dev/null || fail "rm"
"$S" rm bkt db/2024.01.03/q/x 2>/dev/null || fail "rm of an absent key"
awsq s3api head-object --bucket bkt --key db/2024.01.03/q/x >/dev/null 2>&1 && fail "deleted key still there"

# A transient failure is retried and the put lands once.
SMFS_FAULT=s3.request:1 "$S" put bkt db/retried "$T/small" >/dev/null 2>"$T/err" || fail "retried put: $(cat "$T/err")"
expect_in "retry counted" "$(cat "$T/err")" "retries 1"
expect_eq "retried object" "$(awsq s3api head-object --bucket bkt --key db/retried | jq .ContentLength)" 100000

# Errors name the method, the object and what S3 said; exit 3 for a missing key.
"$S" head bkt db/nope 2>"$T/err"; expect_eq "missing key exit" $? 3
expect_in "missing key" "$(cat "$T/err")" "S3 HEAD s3://bkt/db/nope: 404"
"$S" put nobucket x "$T/small" 2>"$T/err" && fail "put to a missing bucket succeeded"
expect_in "missing bucket" "$(cat "$T/err")" "NoSuchBucket"
SMFS_S3_RETRIES=1 AWS_ENDPOINT_URL=http://127.0.0.1:1 "$S" head bkt x 2>"$T/err" && fail "unreachable endpoint succeeded"
expect_in "unreachable" "$(cat "$T/err")" "still failing (2 attempts)"
AWS_SECRET_ACCESS_KEY= "$S" head bkt x 2>"$T/err" && fail "no credentials accepted"
expect_in "no credentials" "$(cat "$T/err")" "AWS_SECRET_ACCESS_KEY"
AWS_ENDPOINT_URL=ftp://x "$S" head bkt x 2>"$T/err" && fail "ftp endpoint accepted"
expect_in "bad endpoint" "$(cat "$T/err")" "not an http:// or https:// URL"
"$S" head Bad_Bucket x 2>"$T/err" && fail "bad bucket name accepted"
expect_in "bad bucket" "$(cat "$T/err")" "not an S3 bucket name"
# Every request above (ours and aws's) carried a signature aws4 agrees with.
s3_signatures_ok
echo "ok: t_s3"
