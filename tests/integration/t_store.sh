# t_store: smctl store log/ls/cat/verify/vacuum on a real store holding a generated
# HDB in two versions: every file reads back byte for byte, a flipped bit is found,
# vacuum reclaims the old version, and a store held by another process is refused.
. tests/integration/lib.sh
FIX="$BUILD/tests/store_fixture"

"$SMCTL" gen-hdb "$T/h" --days 3 --rows 500 --seed 9 >/dev/null || fail "gen-hdb"
v=$("$FIX" "$T/s" "$T/h" kind=import) || fail "fixture v1"
expect_eq "first version" "$v" 1
cp -a "$T/h" "$T/h2"
"$SMCTL" gen-hdb "$T/extra" --days 4 --rows 100 --seed 3 >/dev/null || fail "gen extra"
cp -a "$T/extra/2024.01.05" "$T/h2/"
v=$("$FIX" "$T/s" "$T/h2" kind=ingest signal=2024.01.05) || fail "fixture v2"
expect_eq "second version" "$v" 2

out=$("$SMCTL" store log "$T/s") || fail "log exited $?"
expect_in "log current" "$out" "version 2 (current)"
expect_in "log meta" "$out" "    kind: ingest"
expect_in "log signal" "$out" "    signal: 2024.01.05"
expect_eq "log json" "$("$SMCTL" store log --json "$T/s" | jq -c '[.[].version]')" "[2,1]"

out=$("$SMCTL" store ls "$T/s") || fail "ls exited $?"
expect_in "ls root" "$out" "2024.01.05"
out=$("$SMCTL" store ls "$T/s" 1) || fail "ls v1 exited $?"
case "$out" in *2024.01.05*) fail "version 1 lists a partition of version 2";; esac
j=$("$SMCTL" store ls --json "$T/s" 2024.01.02/trade)
expect_eq "ls json names" "$(printf '%s\n' "$j" | jq -r '[.[].name] | join(",")')" \
    "$(ls -A "$T/h/2024.01.02/trade" | LC_ALL=C sort | paste -sd, -)"

# Every file of version 2, byte for byte.
n=0
for f in $(cd "$T/h2" && find . -type f | sed 's|^\./||'); do
    "$SMCTL" store cat "$T/s" "$f" >"$T/got" || fail "cat $f"
    cmp -s "$T/got" "$T/h2/$f" || fail "store copy of $f differs"
    n=$((n + 1))
done
[ "$n" -gt 20 ] || fail "only $n files compared"
out=$("$SMCTL" store cat "$T/s" 1 2024.01.05/trade/price 2>&1); expect_eq "cat absent exit" $? 1
expect_in "cat absent" "$out" "'2024.01.05/trade/price' is not in version 1 (no '2024.01.05')"

out=$("$SMCTL" store verify "$T/s") || fail "verify exited $?: $out"
expect_in "verify" "$out" ": ok"

# Flip one bit of one object: verify names the file and exits 1.
obj=$("$SMCTL" store ls --json "$T/s" 2024.01.03/quote/bid | jq -r '.id')
p="$T/s/objects/$(printf '%02x' $((obj & 255)))/$(printf '%016x' "$obj")"
[ -f "$p" ] || fail "object file $p"
chmod u+w "$p"
printf '\377' | dd of="$p" bs=1 seek=20 conv=notrunc 2>/dev/null
out=$("$SMCTL" store verify "$T/s" 2>&1); expect_eq "verify bad exit" $? 1
expect_in "verify bad" "$out" "'2024.01.03/quote/bid': object"
expect_in "verify bad why" "$out" "(its bytes changed)"
expect_eq "verify json" "$("$SMCTL" store verify --json "$T/s" | jq -c '[.ok, (.problems|length)]')" "[false,1]"
cp "$T/h2/2024.01.03/quote/bid" "$p"

out=$("$SMCTL" store vacuum --keep 1 "$T/s") || fail "vacuum exited $?"
expect_in "vacuum" "$out" "dropped 1 versions (kept 1)"
expect_eq "log after vacuum" "$("$SMCTL" store log --json "$T/s" | jq -c '[.[].version]')" "[2]"
"$SMCTL" store verify "$T/s" >/dev/null || fail "verify after vacuum"
out=$("$SMCTL" store vacuum --keep 0 "$T/s" 2>&1); expect_eq "keep 0 exit" $? 2

# A store held by another process (here flock(1), standing in for smfs) is refused.
flock "$T/s/lock" sleep 30 &
holder=$!
while flock -n "$T/s/lock" true; do sleep 0.05; done   # until the holder has it
out=$("$SMCTL" store log "$T/s" 2>&1); expect_eq "held exit" $? 1
expect_in "held" "$out" "is in use by process"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

out=$("$SMCTL" store log "$T/nope" 2>&1); expect_eq "not a store exit" $? 1
expect_in "not a store" "$out" "open($T/nope): No such file or directory"
out=$("$SMCTL" store frob "$T/s" 2>&1); expect_eq "unknown exit" $? 2
echo ok
