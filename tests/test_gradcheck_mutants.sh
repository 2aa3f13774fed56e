#!/bin/sh
# test_gradcheck_mutants.sh — the gradient check must be able to fail.
# For every case test_gradcheck runs, the test hook FR_GRADCHECK_MUTATE
# scales that case's analytic gradients by 1.01 (a 1 % systematic bug) and
# also, in a second run, by 0.99; this script passes only when each such
# run fails (exit 1), every gradient tensor of the mutated case is
# reported FAIL on every backend, and no other case is. The one exemption
# is a tensor whose exact gradient is 0 (a bias before training-mode
# batch-norm), where a scale changes nothing: the check requires its
# values to be rounding of zero instead. The unmutated run must pass.
set -u
: "${top_builddir:=.}"
PROG="$top_builddir/tests/test_gradcheck"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_gcmut.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

"$PROG" >"$tmp/clean.log" 2>&1
rc=$?
if [ $rc -eq 77 ]; then
    echo "SKIP: test_gradcheck skipped" >&2
    exit 77
fi
if [ $rc -ne 0 ]; then
    cat "$tmp/clean.log" >&2
    echo "FAIL: the unmutated gradient check failed (exit $rc)" >&2
    exit 1
fi
# Summary lines: "  <case> <tensor> worst error ... [  (exact gradient 0)][  FAIL]".
cases=$(awk '$3 == "worst" { print $1 }' "$tmp/clean.log" | sort -u)
n_cases=$(echo "$cases" | wc -w)
if [ "$n_cases" -lt 20 ]; then
    fail "found $n_cases cases in test_gradcheck's output, expected at least 20"
fi

for scale in 1.01 0.99; do
    for c in $cases; do
        FR_GRADCHECK_MUTATE=$c FR_GRADCHECK_SCALE=$scale "$PROG" >"$tmp/mut.log" 2>&1
        rc=$?
        if [ $rc -ne 1 ]; then
            fail "$c scaled by $scale: exit $rc, expected 1 (the check must reject it)"
            continue
        fi
        # Per gradient line of the mutated case: rejected or exempt; the
        # forward lines and the other cases: not rejected.
        awk -v c="$c" -v scale="$scale" '
            $3 != "worst" { next }
            $1 == c && $2 ~ /^d/ {
                if (/\(exact gradient 0\)/) { exempt++; next }
                if ($NF == "FAIL") rejected++
                else { print "FAIL: " c " scaled by " scale ": " $2 " passed the check"; bad++ }
                next
            }
            $NF == "FAIL" { print "FAIL: " c " scaled by " scale ": unmutated " $1 " " $2 " failed"; bad++ }
            END {
                if (rejected == 0) { print "FAIL: " c " scaled by " scale ": no gradient was rejected"; bad++ }
                exit bad > 0
            }' "$tmp/mut.log" >&2 || failures=$((failures + 1))
    done
done

# The hook itself refuses a case that does not exist rather than pass.
FR_GRADCHECK_MUTATE=no_such_case "$PROG" >"$tmp/none.log" 2>&1
rc=$?
[ $rc -eq 2 ] || fail "an unknown mutated case gave exit $rc, expected 2"

if [ $failures -gt 0 ]; then
    echo "test_gradcheck_mutants: $failures failure(s)" >&2
    exit 1
fi
echo "test_gradcheck_mutants: all $n_cases cases reject gradients scaled by 1.01 and by 0.99" >&2
exit 0
