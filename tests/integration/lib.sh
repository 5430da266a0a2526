# tests/integration/lib.sh: sourced by t_*.sh. Each test runs the real smctl on real
# files; a failed check prints what was expected and exits 1. Exit 77 = skipped.
set -u
: "${SMCTL:?run through mk/run-tests.sh (SMCTL unset)}"
T=$(mktemp -d "${SMFS_TEST_TMP:-/tmp}/it.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"; }
# expect_in WHAT HAYSTACK NEEDLE
expect_in() { case "$2" in *"$3"*) ;; *) fail "$1: '$3' not in: $2";; esac; }
need_golden() { [ -d "$GOLDEN" ] || { echo "golden folder absent ($GOLDEN)"; exit 77; }; }
