#!/bin/sh
# mk/run-tests.sh VARIANT BUILD_DIR: run every unit test (cmocka) and integration test
# (tests/integration/t_*.sh) of one build variant; print a summary line and fail if
# any test failed. Integration tests get SMCTL, BUILD, GOLDEN and TMPDIR in their
# environment and exit 77 to mean "skipped" (with a reason on stdout).
set -u
variant=$1
build=$2
top=$(cd "$(dirname "$0")/.." && pwd)
export SMCTL="$top/$build/smctl" BUILD="$top/$build"
export GOLDEN="${GOLDEN:-$top/../shared/golden}"
export SMFS_TEST_TMP="${SMFS_TEST_TMP:-$(mktemp -d /tmp/smfs-test.XXXXXX)}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
pass=0 fail=0 skip=0 failed=""

for t in "$top/$build"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if (cd "$top" && "$t"); then pass=$((pass + 1)); else fail=$((fail + 1)); failed="$failed $name"; fi
done

for t in "$top"/tests/integration/t_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    out=$(cd "$top" && sh "$t" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "[  PASSED  ] $variant $name"
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); echo "[  SKIPPED ] $variant $name: $(echo "$out" | tail -n 1)"
    else
        fail=$((fail + 1)); failed="$failed $name"
        echo "[  FAILED  ] $variant $name (exit $rc)"; echo "$out" | tail -n 30 | sed 's/^/    /'
    fi
done

rm -rf "$SMFS_TEST_TMP"
echo "$variant: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ] || { echo "$variant: failed:$failed"; exit 1; }
