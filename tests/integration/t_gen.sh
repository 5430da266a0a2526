# t_gen: smctl gen-hdb writes an HDB that smctl inspect reads back whole, compressed
# or not, and refuses bad options with exit 2.
. tests/integration/lib.sh

out=$("$SMCTL" gen-hdb "$T/h" --days 3 --rows 2000 --seed 5) || fail "gen-hdb exited $?"
expect_in "summary" "$out" "3 partitions x 2 tables x 2000 rows"
files=$(find "$T/h" -type f ! -name '*#' | sort)
# shellcheck disable=SC2086
"$SMCTL" inspect --json -n 2 $files >"$T/all.json" || fail "inspect of the generated HDB failed"
bad=$(jq -r 'select((.path|test("/[.]d$|/sym$")|not) and .count != 2000) | .path' "$T/all.json")
expect_eq "columns with a count other than 2000" "$bad" ""
expect_eq "string column" "$(jq -r 'select(.path|endswith("trade/cond")) | .format' "$T/all.json" | head -1)" anymap

"$SMCTL" gen-hdb "$T/z" --days 2 --rows 5000 --compress zstd:14:5 >/dev/null || fail "compressed gen failed"
j=$("$SMCTL" inspect --json "$T/z/2024.01.03/quote/bid")
expect_eq "compressed alg" "$(echo "$j" | jq -r .compressed.name)" zstd
expect_eq "compressed block" "$(echo "$j" | jq -r .compressed.block_size)" 16384
expect_eq "compressed count" "$(echo "$j" | jq -r .count)" 5000

out=$("$SMCTL" gen-hdb "$T/h" --days 1 --rows 1 2>&1); expect_eq "existing exit" $? 1
expect_in "existing" "$out" "already holds an HDB"
out=$("$SMCTL" gen-hdb "$T/x" --days 0 --rows 1 2>&1); expect_eq "days exit" $? 2
expect_in "days" "$out" "--days: '0' is not a whole number from 1 to 100000"
out=$("$SMCTL" gen-hdb "$T/x" --days 1 --rows 1 --compress brotli 2>&1); expect_eq "compress exit" $? 2
expect_in "compress" "$out" "--compress wants ALG"
out=$("$SMCTL" gen-hdb "$T/x" --days 1 --rows 1 --compress gzip:17:12 2>&1); expect_eq "level exit" $? 1
expect_in "level" "$out" "compression level 12 is out of range for gzip (0..9)"
echo ok
