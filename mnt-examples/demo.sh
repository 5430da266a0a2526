#!/bin/sh
# mnt-examples/demo.sh SMCTL SMFS DIR: the README's first command (`make demo`).
# Generates a month of tick data as a date-partitioned HDB (smctl gen-hdb), imports it
# into the store in place, mounts it with smfs (FUSE, or the symlink tree where FUSE is
# unavailable), shows what a kdb+ loader sees there and reads a column through the
# mount, then lands a new day through the running daemon and shows the Storage
# Manager API (REST here; q IPC on the same daemon) announce it, then says how to
# unmount. Run it again at any time: it starts afresh.
set -eu
smctl=$1
smfs=$2
dir=$3
mnt="$dir/mnt"
adm="$dir/smfs.sock"

# A previous demo may still be mounted.
"$smctl" stop --admin "$adm" >/dev/null 2>&1 && sleep 1 || true
grep -q " $mnt fuse" /proc/mounts 2>/dev/null && { fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"; }
rm -rf "$dir"
mkdir -p "$dir" "$mnt"
"$smctl" config default | sed "s#/var/lib/smfs#$dir#g" >"$dir/assembly.yaml"

echo "== generating a month of trades and quotes (22 weekdays x 2 tables x 20000 rows)"
"$smctl" gen-hdb "$dir/hdb/data" --days 22 --rows 20000 --seed 2024
echo
echo "== importing it into the store, in place, validated against the assembly"
"$smctl" import -c "$dir/assembly.yaml"
echo
echo "== mounting it: smfs -c $dir/assembly.yaml --port 127.0.0.1:0 --http 0 $mnt"
# allow_other: q processes of other users may read the mount (root may always set it).
ao=""
[ "$(id -u)" = 0 ] && ao="-o allow_other"
"$smfs" -c "$dir/assembly.yaml" --admin "$adm" --port 127.0.0.1:0 --http 0 $ao "$mnt"
i=0
until "$smctl" status --admin "$adm" >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "smfs did not start (see syslog)"; exit 1; }
    sleep 0.1
done
"$smctl" status --admin "$adm" | grep -E '^(smfs|api|fuse:)'
http=$("$smctl" status --admin "$adm" --json | jq .api.http_port)
echo
echo "== what q's \\l sees in $mnt"
echo "\$ ls $mnt"; ls "$mnt"
echo "\$ cat $mnt/par.txt"; cat "$mnt/par.txt"
"$smctl" load "$mnt"
echo
seg=$(head -1 "$mnt/par.txt")
last=$(ls "$mnt/$seg" | tail -1)
echo "== a column read through the mount: $seg/$last/trade/price"
"$smctl" inspect -n 8 "$mnt/$seg/$last/trade/price"
echo
echo "== the Storage Manager API: what a query process registering now would be told"
echo "\$ curl -s http://127.0.0.1:$http/status"
curl -s "http://127.0.0.1:$http/status" | jq -c '.[]'
echo
next=$(date -d "$(echo "$last" | tr . -) + 3 days" +%Y.%m.%d)
echo "== a new day arrives: smctl ingest hands it to the running smfs (one commit, one new version)"
"$smctl" gen-hdb "$dir/staging" --days 1 --rows 20000 --seed 7 --start "$next" >/dev/null
"$smctl" ingest -c "$dir/assembly.yaml" --admin "$adm" "$dir/staging" | tail -1
echo "\$ cat $mnt/par.txt"; cat "$mnt/par.txt"
echo "\$ curl -s http://127.0.0.1:$http/status   (the hdb purview now ends with the new day)"
curl -s "http://127.0.0.1:$http/status" | jq -c '.[] | select(.mount == "hdb")'
echo
echo "demo done: a stock kdb+ can now \\l $mnt"
echo "  smctl status --admin $adm      what smfs serves, with its counters"
echo "  smctl clients --admin $adm     query processes registered for reload signals"
echo "  curl http://127.0.0.1:$http/metrics   the same counters for Prometheus"
echo "  smctl stop --admin $adm        unmount and stop (or: fusermount3 -u $mnt)"
