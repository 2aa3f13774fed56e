#!/bin/sh
# test_fuzz_inputs.sh — runs every fuzz target (tests/fuzz) once on each of
# its seeds (the text ones kept in tests/fuzz/seeds, the binary ones each
# target writes at start-up) and on every input a fuzzing run ever found
# (tests/fuzz/regress: each crash fixed became one). A target aborts when
# a reader misbehaves: a crash, a refusal whose message does not name the
# file, an accepted input that breaks an invariant, a refused checkpoint
# that changed the engine. In builds with --enable-fuzzing the targets are
# libFuzzer programs and -runs=0 makes them run the inputs and stop.
set -u
srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
work=$(mktemp -d "${TMPDIR:-/tmp}/fr_fuzz_inputs.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
fail=0
total=0
for target in movielens delimited aliexpress relations table_file config checkpoint split; do
    prog=$builddir/tests/fuzz/fuzz_$target
    if [ ! -x "$prog" ]; then
        echo "FAIL: $prog was not built"
        fail=1
        continue
    fi
    mkdir -p "$work/$target"
    n=$(find "$srcdir/tests/fuzz/seeds/$target" "$srcdir/tests/fuzz/regress/$target" -type f ! -name '.keep' | wc -l)
    if FR_FUZZ_SEED_DIR="$work/$target" "$prog" -runs=0 "$work/$target" \
        "$srcdir/tests/fuzz/seeds/$target" "$srcdir/tests/fuzz/regress/$target" \
        >"$work/$target.log" 2>&1; then
        made=$(find "$work/$target" -type f | wc -l)
        echo "ok: fuzz_$target ran $((n + made)) input(s)"
        total=$((total + n + made))
    else
        echo "FAIL: fuzz_$target on its inputs:"
        tail -n 30 "$work/$target.log"
        fail=1
    fi
done
# The binary targets must have written their seeds (else they fuzzed nothing real).
for target in table_file checkpoint; do
    if [ -z "$(ls "$work/$target" 2>/dev/null)" ]; then
        echo "FAIL: fuzz_$target wrote no seed"
        fail=1
    fi
done
echo "$total input(s) run"
exit $fail
