# t_import: smctl import and ingest end to end on a generated HDB (compressed, kdb+
# 4.x headers): dry run, refusal with named problems, an import killed by SIGKILL
# mid-way and resumed, every file byte-identical through `smctl store cat`, the
# summary line, rollback to the exact original tree, ingest, and usage errors.
. tests/integration/lib.sh

B="$T/hdb"
sed "s#/var/lib/smfs#$T#g" <<EOF >"$T/a.yaml"
$("$SMCTL" config default)
EOF
"$SMCTL" gen-hdb "$B/data" --days 12 --rows 400 --compress zstd --kdb4 >/dev/null || fail "gen-hdb"
cp -a "$B/data" "$T/orig"
# A tree's names, modes, sizes, mtimes and contents, as one checksum.
tree() { (cd "$1" && { find . -printf '%p %m %s %T@ %y\n' | LC_ALL=C sort; find . -type f -exec md5sum {} + | LC_ALL=C sort; } | md5sum); }

# Dry run: the plan, nothing changed.
out=$("$SMCTL" import -c "$T/a.yaml" --dry-run --batch 5) || fail "dry run exited $?"
expect_in "plan" "$out" "tier hdb: 12 partitions 2024.01.02..2024.01.17"
expect_in "plan commits" "$out" "12 partitions in 3 commits of up to 5"
expect_eq "dry run changes nothing" "$(tree "$B/data")" "$(tree "$T/orig")"

# A problem is named with its partition, and nothing moves.
mv "$B/data/2024.01.05/quote" "$T/q"
before=$(tree "$B/data")
out=$("$SMCTL" import -c "$T/a.yaml" 2>&1); expect_eq "refused exit" $? 1
expect_in "missing table" "$out" "The table is missing from the database: table=quote partitions=2024.01.05"
expect_in "nothing changed" "$out" "nothing was changed"
expect_eq "refusal changes nothing" "$(tree "$B/data")" "$before"
mv "$T/q" "$B/data/2024.01.05/quote"
rm -rf "$T/orig" && cp -a "$B/data" "$T/orig"

# Killed during the second commit's files, then run again: it resumes.
(SMFS_FAULT=import.file:150:kill "$SMCTL" import -c "$T/a.yaml" --batch 5 >/dev/null 2>&1) 2>/dev/null
expect_eq "killed" $? 137
[ -f "$B/data/import.journal" ] || fail "no journal after the kill"
out=$("$SMCTL" import -c "$T/a.yaml" --batch 5) || fail "resume exited $?"
expect_in "resumed" "$out" "resuming the interrupted import"
expect_in "summary" "$out" "imported 7 partitions"
expect_in "summary resumed" "$out" ", resumed; store version"
[ -d "$B/data/2024.01.02" ] && fail "an imported partition is still in the HDB directory"

n=0
for f in $(cd "$T/orig" && find . -type f | sed 's|^\./||'); do
    case "$f" in sym) p=sym ;; *) p="hdb/$f" ;; esac
    "$SMCTL" store cat "$B/data" "$p" >"$T/got" || fail "cat $p"
    cmp -s "$T/got" "$T/orig/$f" || fail "store copy of $f differs"
    n=$((n + 1))
done
expect_eq "files compared" "$n" "$(find "$T/orig" -type f | wc -l)"
"$SMCTL" store verify "$B/data" >/dev/null || fail "verify after import"
expect_eq "par.txt" "$("$SMCTL" store cat "$B/data" par.txt)" "hdb"
out=$("$SMCTL" import -c "$T/a.yaml") || fail "second import exited $?"
expect_in "already" "$out" "already imported"

# Ingest: two new days of trade (new symbols come from another seed's order).
"$SMCTL" gen-hdb "$T/stg" --days 2 --rows 50 --tables trade --seed 5 --start 2024.01.18 >/dev/null
out=$("$SMCTL" ingest -c "$T/a.yaml" "$T/stg") || fail "ingest exited $?"
expect_in "ingest add" "$out" "add partition 2024.01.18 in tier hdb: trade"
expect_in "ingest summary" "$out" "ingested 2 new and 0 replaced partitions"
expect_in "ingest filled" "$out" "2 empty tables added"
"$SMCTL" store ls "$B/data" 0 hdb/2024.01.19/quote >/dev/null || fail "new partition lacks quote"

# Rollback is refused once another kind of version follows the import...
out=$("$SMCTL" import -c "$T/a.yaml" --rollback 2>&1); expect_eq "rollback after ingest exit" $? 1
expect_in "rollback refused" "$out" "version 4 (ingest) was committed after it"

# ...and restores the exact original when it does not.
rm -rf "$B" && mkdir -p "$B" && cp -a "$T/orig" "$B/data"
"$SMCTL" import -c "$T/a.yaml" --no-verify >/dev/null || fail "import --no-verify"
out=$("$SMCTL" import -c "$T/a.yaml" --rollback) || fail "rollback exited $?"
expect_in "rolled back" "$out" "rolled back"
expect_eq "rollback restores the tree" "$(tree "$B/data")" "$(tree "$T/orig")"

# Usage.
out=$("$SMCTL" import --batch 0 2>&1); expect_eq "bad batch exit" $? 2
expect_in "bad batch" "$out" "--batch (partitions per commit): '0' is not a whole number from 1 to 1000000"
out=$("$SMCTL" ingest -c "$T/a.yaml" 2>&1); expect_eq "ingest no dir exit" $? 2
out=$("$SMCTL" import -c "$T/a.yaml" --rollback 2>&1); expect_eq "nothing to roll back exit" $? 1
expect_in "nothing to roll back" "$out" "nothing to roll back"
echo "t_import: ok ($n files)"
