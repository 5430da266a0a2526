#!/bin/sh
# mk/run-tests.sh VARIANT BUILD_DIR: run every unit test (cmocka) and integration test
# (tests/integration/t_*.sh) of one build variant; print a summary line and fail if
# any test failed. Integration tests get SMCTL, BUILD, GOLDEN and TMPDIR in their
# environment and exit 77 to mean "skipped" (with a reason on stdout); a part of one
# that cannot run here prints a line "SKIP: reason" and carries on.
# The closing line counts test cases: each cmocka test (its skip()s as skipped), each
# integration script, and each SKIP: line of a script that passed.
set -u
variant=$1
build=$2
top=$(cd "$(dirname "$0")/.." && pwd)
export SMCTL="$top/$build/smctl" BUILD="$top/$build"
export GOLDEN="${GOLDEN:-$top/../shared/golden}"
export SMFS_TEST_TMP="${SMFS_TEST_TMP:-$(mktemp -d /tmp/smfs-test.XXXXXX)}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
pass=0 fail=0 skip=0 failed="" skipped=""
log="$SMFS_TEST_TMP/unit.log"

# cmocka's closing lines of each group: "[  PASSED  ] N test(s)." and, when there
# are some, "[  SKIPPED ] N test(s), listed below:" and "[  FAILED  ] N test(s), …".
count() { sed -n "s/^\[  $1 *\] \([0-9][0-9]*\) test(s).*/\1/p" "$log" | awk '{s+=$1} END {print s+0}'; }

for t in "$top/$build"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    (cd "$top" && "$t") >"$log" 2>&1
    rc=$?
    cat "$log"
    p=$(count PASSED) f=$(count FAILED) s=$(count SKIPPED)
    pass=$((pass + p)); skip=$((skip + s))
    if [ $s -gt 0 ]; then
        skipped="$skipped $(sed -n 's/^\[  SKIPPED \] \([^0-9].*\)/\1/p' "$log" | sort -u | sed "s/^/$name:/" | tr '\n' ' ')"
    fi
    # A binary that crashed or failed outside a test case counts as one failure.
    if [ $rc -ne 0 ] && [ $f -eq 0 ]; then f=1; fi
    if [ $f -gt 0 ]; then fail=$((fail + f)); failed="$failed $name"; fi
done

for t in "$top"/tests/integration/t_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    t0=$(date +%s)
    out=$(cd "$top" && sh "$t" 2>&1)
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "[  PASSED  ] $variant $name (${secs} s)"
        subs=$(echo "$out" | grep '^SKIP: ' || true)
        if [ -n "$subs" ]; then
            n=$(echo "$subs" | wc -l)
            skip=$((skip + n)); skipped="$skipped $name($n)"
            echo "$subs" | sed "s/^SKIP: /[  SKIPPED ] $variant $name: /"
        fi
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); skipped="$skipped $name"
        echo "[  SKIPPED ] $variant $name: $(echo "$out" | tail -n 1)"
    else
        fail=$((fail + 1)); failed="$failed $name"
        echo "[  FAILED  ] $variant $name (exit $rc)"; echo "$out" | tail -n 30 | sed 's/^/    /'
    fi
done

rm -rf "$SMFS_TEST_TMP"
echo "$variant: $pass passed, $fail failed, $skip skipped"
[ $skip -eq 0 ] || echo "$variant: skipped:$skipped"
[ $fail -eq 0 ] || { echo "$variant: failed:$failed"; exit 1; }
