# t_vanilla: smfs --vanilla writes the view as directories and symlinks: a loader's
# walk agrees with the original HDB, every file reads byte-identical through its
# symlink, an ingest switches par.txt to the new version while the old v<N>$ stays
# until vacuum, the tree survives the daemon, and a foreign non-empty directory is
# refused. Needs no FUSE.
. tests/integration/lib.sh

SMFS="$BUILD/smfs"
RC="$BUILD/tests/readcmp"
V="$T/tree"
A="$T/adm.sock"
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid"; rm -rf "$T"' EXIT
start() {
    "$SMFS" -c "$T/a.yaml" --admin "$A" --vanilla --no-auto-vacuum -f "$V" 2>>"$T/log" &
    pid=$!
    smfs_wait "$pid" "$A" "$T/log"
}

sed "s#/var/lib/smfs#$T#g" <<EOF2 >"$T/a.yaml"
$("$SMCTL" config default)
EOF2
"$SMCTL" gen-hdb "$T/hdb/data" --days 6 --rows 500 --compress zstd >/dev/null || fail "gen-hdb"
cp -a "$T/hdb/data" "$T/orig"
"$SMCTL" load --json "$T/orig" | jq -c 'del(.segments)' >"$T/want.json" || fail "load of the original"
mv "$T/orig/sym" "$T/orig.sym"
"$SMCTL" import -c "$T/a.yaml" >/dev/null || fail "import"

# A directory that is not empty and not ours is refused, and left alone.
mkdir -p "$V" && echo keep >"$V/notes"
out=$("$SMFS" -c "$T/a.yaml" --admin "$A" --vanilla -f "$V" 2>&1) && fail "foreign directory accepted"
expect_in "foreign dir" "$out" "is not empty and holds no smfs tree"
expect_eq "foreign dir untouched" "$(ls "$V")" "notes"
rm "$V/notes"

start
expect_eq "mode" "$("$SMCTL" status --admin "$A" --json | jq -r .mode)" vanilla
expect_eq "root" "$(ls -A "$V" | tr '\n' ' ')" 'idb$ par.txt sym v1$ '
expect_eq "par.txt" "$(cat "$V/par.txt")" 'v1$/hdb'
[ -L "$V/sym" ] && [ -d "$V/v1\$/hdb/2024.01.02/trade" ] && [ ! -L "$V/v1\$/hdb/2024.01.02" ] ||
    fail "want real directories and a symlink per file"
expect_in "symlink into the store" "$(readlink "$V/v1\$/hdb/2024.01.02/trade/price")" "$T/hdb/data/objects/"
got=$("$SMCTL" load --json "$V" | jq -c 'del(.segments)') || fail "load of the symlink tree"
expect_eq "loader view" "$got" "$(cat "$T/want.json")"
out=$("$RC" --tree "$T/orig" "$V/v1\$/hdb") || fail "files differ: $out"
expect_eq "files compared" "$out" "$(find "$T/orig" -type f | wc -l) files identical"
"$RC" "$T/orig.sym" "$V/sym" || fail "sym differs"

# A new version: par.txt switches, v1$ stays while kept, vacuum removes it.
"$SMCTL" gen-hdb "$T/stg" --days 1 --rows 30 --seed 4 --start 2024.01.10 >/dev/null
"$SMCTL" ingest -c "$T/a.yaml" --admin "$A" "$T/stg" >/dev/null || fail "ingest"
expect_eq "par.txt after ingest" "$(cat "$V/par.txt")" 'v2$/hdb'
expect_eq "root after ingest" "$(ls -A "$V" | tr '\n' ' ')" 'idb$ par.txt sym v1$ v2$ '
expect_eq "new partition" "$("$SMCTL" load --json "$V" | jq -r .last)" "2024.01.10"
"$SMCTL" vacuum --admin "$A" >/dev/null || fail "vacuum"
expect_eq "root after vacuum" "$(ls -A "$V" | tr '\n' ' ')" 'idb$ par.txt sym v2$ '
ls -A "$V" | grep -q 'tmp\$' && fail "temporary names left behind"

# The tree outlives the daemon (kdb+ keeps loading it); a restart picks it up.
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=
expect_eq "exit after SIGTERM" $rc 0
grep -q unmounting "$T/log" && fail "symlink mode says it is unmounting: $(grep unmounting "$T/log")"
"$SMCTL" load "$V" >/dev/null || fail "tree unusable after stop"
start
expect_eq "restart" "$(cat "$V/par.txt")" 'v2$/hdb'

# smctl stop ends a symlink-mode daemon too (its main thread waits for a signal or
# the stop request), with exit 0 and the tree left in place.
"$SMCTL" stop --admin "$A" >/dev/null || fail "smctl stop"
wait "$pid"; rc=$?; pid=
expect_eq "exit after smctl stop" $rc 0
expect_eq "tree after smctl stop" "$(cat "$V/par.txt")" 'v2$/hdb'
exit 0
