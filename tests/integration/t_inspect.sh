# t_inspect: smctl inspect on kdb+-written files, human and --json, and its errors.
. tests/integration/lib.sh
need_golden
G=$GOLDEN

out=$("$SMCTL" inspect "$G/kdb-tick-hdb/2019.04.02/trade/sym") || fail "inspect sym exited $?"
expect_in "p# enum32" "$out" "format      enum32"
expect_in "p# attr" "$out" "attribute   p"
expect_in "resolved through ../../sym" "$out" 'values      `sym$`MSFT.O`VOD.L'

j=$("$SMCTL" inspect --json "$G/dolphindb-kdb-sample/compressCharArrayVector/id") || fail "json exited $?"
expect_eq "type" "$(echo "$j" | jq -r .type)" 6
expect_eq "count" "$(echo "$j" | jq -r .count)" 2000
expect_eq "algorithm" "$(echo "$j" | jq -r .compressed.name)" gzip
expect_eq "uncompressed" "$(echo "$j" | jq -r .compressed.uncompressed)" 8016
expect_eq "format" "$(echo "$j" | jq -r .format)" vector

j=$("$SMCTL" inspect --json "$G/dolphindb-kdb-sample/2022.12.05/ORD/asset_type")
expect_eq "domain" "$(echo "$j" | jq -r .domain)" sym_ORD
expect_eq "enum type" "$(echo "$j" | jq -r .type)" 20
expect_eq "first value" "$(echo "$j" | jq -r '.values[0]')" IDX

# every golden file: one JSON object each; only the text hexdump fails, with one line
all=$(find "$G" -type f ! -name README.md | sort)
n=$(echo "$all" | wc -l)
# shellcheck disable=SC2086
"$SMCTL" inspect --json -n 3 $all >"$T/out.json" 2>"$T/err.txt"
rc=$?
expect_eq "exit status with one bad file" "$rc" 1
expect_eq "objects" "$(wc -l <"$T/out.json")" "$n"
expect_eq "error lines" "$(wc -l <"$T/err.txt")" 1
expect_in "error names the file" "$(cat "$T/err.txt")" "Daily/binary' is not a kdb+ file"
expect_eq "objects with errors" "$(jq -r 'select(.error) | .path' "$T/out.json" | wc -l)" 1
jq -e 'select(.error == null) | .path and .format and (.type|type=="number") and (.count|type=="number") and (.compressed != null)' \
    "$T/out.json" >/dev/null || fail "a JSON object lacks a required key"

# missing and truncated files
out=$("$SMCTL" inspect "$T/nope" 2>&1) && fail "missing file accepted"
expect_in "missing" "$out" "open($T/nope): No such file or directory"
head -c 100 "$G/dolphindb-kdb-sample/2022.12.05/ORD/price" >"$T/price"
out=$("$SMCTL" inspect "$T/price" 2>&1) && fail "truncated file accepted"
expect_in "truncated" "$out" "price': 100 bytes is not a 16-byte header plus whole 8-byte float items"
printf '\376\040\011\000\000\000\000\000\350\003\000\000\000\000\000\000' >"$T/short"
out=$("$SMCTL" inspect "$T/short" 2>&1) && fail "short file accepted"
expect_in "short" "$out" "truncated: header says 1000 items (8016 bytes), file has 16 bytes"
"$SMCTL" inspect >/dev/null 2>&1; expect_eq "usage exit" $? 2
echo ok
