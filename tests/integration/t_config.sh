# t_config: smctl config check on the examples (exit 0, the derived par.txt), on a
# broken file (exit 1, every error with FILE:LINE:COL), in JSON, and the resolution
# order through $KXI_ASSEMBLY_FILE and ./assembly.yaml.
. tests/integration/lib.sh

for f in mnt-examples/*.yaml; do
    out=$("$SMCTL" config check "$f" 2>&1) || fail "config check $f exited $?: $out"
    # Only the settings smfs does not act on yet may be warned about.
    other=$(echo "$out" | grep 'warning' | grep -v 'has no effect' || true)
    [ -z "$other" ] || fail "$f has warnings: $other"
done
out=$("$SMCTL" config check mnt-examples/full.yaml)
expect_in "par.txt" "$out" "  v1\$/hdbfast
  v1\$/hdbslow
  s3://acme-kdb/equities/db"
j=$("$SMCTL" config check --json mnt-examples/tiers-s3.yaml)
expect_eq "json valid" "$(printf "%s\n" "$j" | jq -r .valid)" true
expect_eq "json par.txt" "$(printf "%s\n" "$j" | jq -r .config.parTxt)" "v1\$/fast
v1\$/slow
s3://acme-hdb/equities/db"
expect_eq "json slow store" "$(printf "%s\n" "$j" | jq -r '.config.tiers[] | select(.name=="slow") | .storePath')" /mnt/slowdisk/equities

cat >"$T/bad.yaml" <<'YAML'
name: bad
tables:
  trade:
    type: partitioned
    prtnCol: sym
    columns:
      - {name: time, type: timestamp}
      - {name: sym, type: symbol}
mounts:
  hdb: {type: local, baseURI: "file:///d/hdb", partition: date}
elements:
  sm:
    source: stream
    tiers:
      - {name: hdb, mount: hdb, retain: {time: 3 hours}}
YAML
out=$("$SMCTL" config check "$T/bad.yaml" 2>&1); expect_eq "bad exit" $? 1
expect_in "prtnCol" "$out" "$T/bad.yaml:5:14: tables.trade.prtnCol: column 'sym' is of type 'symbol'; the partition column must be a timestamp"
expect_in "source" "$out" "$T/bad.yaml:13:13: elements.sm.source: bus 'stream' is not defined (there is no bus section)"
expect_in "retain" "$out" "$T/bad.yaml:15:41: elements.sm.tiers[0].retain: a date tier keeps whole days: give days, weeks, months or years, not hours"
expect_in "summary" "$out" "smctl: '$T/bad.yaml': 3 errors in the assembly configuration"
j=$("$SMCTL" config check --json "$T/bad.yaml" 2>/dev/null)
expect_eq "json invalid" "$(printf "%s\n" "$j" | jq -r .valid)" false
expect_eq "json error count" "$(printf "%s\n" "$j" | jq '.errors | length')" 3
expect_eq "json first error" "$(printf "%s\n" "$j" | jq -r '.errors[0] | "\(.line):\(.col) \(.path)"')" "5:14 tables.trade.prtnCol"

out=$("$SMCTL" config check "$T/missing.yaml" 2>&1); expect_eq "missing exit" $? 1
expect_in "missing" "$out" "smctl: assembly file: open($T/missing.yaml): No such file or directory"

# Resolution: $KXI_ASSEMBLY_FILE, then ./assembly.yaml, then the embedded default.
top=$(pwd)
mkdir -p "$T/cwd"
out=$(cd "$T/cwd" && env -u KXI_ASSEMBLY_FILE "$SMCTL" config check) || fail "default exited $?"
expect_in "default" "$out" "assembly smfs (<embedded default>, from embedded default)"
cp "$top/mnt-examples/minimal.yaml" "$T/cwd/assembly.yaml"
out=$(cd "$T/cwd" && env -u KXI_ASSEMBLY_FILE "$SMCTL" config check) || fail "cwd exited $?"
expect_in "cwd" "$out" "assembly minimal (assembly.yaml, from ./assembly.yaml)"
out=$(cd "$T/cwd" && KXI_ASSEMBLY_FILE="$top/mnt-examples/full.yaml" "$SMCTL" config check) || fail "env exited $?"
expect_in "env" "$out" "from \$KXI_ASSEMBLY_FILE"
"$SMCTL" config default >"$T/default.yaml"
"$SMCTL" config check "$T/default.yaml" >/dev/null || fail "the printed default does not load"
echo ok
