#!/bin/sh
# mnt-examples/demo.sh SMCTL DIR: the README's first command (`make demo`). Generates a
# month of tick data as a date-partitioned HDB with smctl gen-hdb and shows what a kdb+
# loader sees in it, read back through smctl inspect. (Import into the store and the
# FUSE mount join this demo as those issues land.)
set -eu
smctl=$1
dir=$2
rm -rf "$dir"
echo "== generating a month of trades and quotes (22 weekdays x 2 tables x 20000 rows) in $dir"
"$smctl" gen-hdb "$dir/hdb" --days 22 --rows 20000 --seed 2024
echo
echo "== what \\l sees: partitions, tables, columns"
parts=$(ls "$dir/hdb" | grep -c '^[0-9]')
first=$(ls "$dir/hdb" | grep '^[0-9]' | head -1)
last=$(ls "$dir/hdb" | grep '^[0-9]' | tail -1)
echo "partitions: $parts ($first .. $last)"
for t in trade quote; do
    cols=$("$smctl" inspect -n 20 "$dir/hdb/$last/$t/.d" | sed -n 's/^  values      //p')
    rows=$("$smctl" inspect --json "$dir/hdb/$last/$t/time" | sed 's/.*"count":\([0-9]*\).*/\1/')
    echo "table $t: columns $cols, $rows rows in $last"
done
echo
echo "== the sym domain and a few columns, as q would print them"
"$smctl" inspect -n 8 "$dir/hdb/sym" "$dir/hdb/$last/trade/sym" "$dir/hdb/$last/trade/price" "$dir/hdb/$last/trade/cond"
echo
echo "== the same day written compressed (zstd), and read back"
"$smctl" gen-hdb "$dir/zhdb" --days 1 --rows 20000 --seed 2024 --start "$first" --compress zstd >/dev/null
"$smctl" inspect -n 4 "$dir/zhdb/$first/quote/bid"
echo
echo "demo done: the HDB is in $dir/hdb (a stock kdb+ can \\l it); remove it with: rm -rf $dir"
