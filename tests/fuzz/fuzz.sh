#!/bin/sh
# fuzz.sh — fuzz one reader for a while with libFuzzer and print what it
# did. Needs a build configured with CC=clang --enable-fuzzing.
#
#   tests/fuzz/fuzz.sh BUILDDIR TARGET SECONDS [WORKDIR]
#
# TARGET is one of movielens delimited aliexpress relations table_file
# config checkpoint split. The corpus grows in WORKDIR/TARGET/corpus (default
# WORKDIR: fuzz-work), starting from the seeds in tests/fuzz/seeds (config
# also starts from conf/*.ini); findings land in WORKDIR/TARGET/ as
# crash-*, leak-*, timeout-* files: fix the bug, then copy the input to
# tests/fuzz/regress/TARGET so test_fuzz_inputs.sh keeps checking it.
# The last line gives the seconds run (less than asked when it stopped at
# a finding), executions, executions per second, coverage
# (edges), features, corpus size and the number of findings.
set -eu
if [ $# -lt 3 ]; then
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
build=$1 target=$2 seconds=$3 work=${4:-fuzz-work}
src=$(cd "$(dirname "$0")/../.." && pwd)
prog=$build/tests/fuzz/fuzz_$target
[ -x "$prog" ] || { echo "fuzz.sh: $prog not built (make check in a --enable-fuzzing build)" >&2; exit 1; }
dir=$work/$target
mkdir -p "$dir/corpus" "$dir/seeds"
cp "$src"/tests/fuzz/seeds/"$target"/* "$dir/seeds/" 2>/dev/null || true
rm -f "$dir/seeds/.keep"
if [ "$target" = config ]; then
    for f in "$src"/conf/*.ini; do
        { printf '\000'; cat "$f"; } >"$dir/seeds/$(basename "$f")"
    done
fi
max_len=4096
[ "$target" = table_file ] && max_len=65536
[ "$target" = checkpoint ] && max_len=16384
[ "$target" = aliexpress ] && max_len=16384
cd "$dir"
started=$(date +%s)
FR_FUZZ_SEED_DIR="$PWD/seeds" "$prog" -max_total_time="$seconds" -max_len=$max_len \
    -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 corpus seeds >log.txt 2>&1 || true
elapsed=$(( $(date +%s) - started ))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' log.txt)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' log.txt)
cov=$(grep -o 'cov: [0-9]*' log.txt | tail -n 1 | cut -d' ' -f2)
ft=$(grep -o 'ft: [0-9]*' log.txt | tail -n 1 | cut -d' ' -f2)
corpus=$(ls corpus | wc -l)
findings=$(ls | grep -c -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
echo "$target: ${elapsed}s (of ${seconds}s asked), ${execs:-?} executions, ${rate:-?}/s, cov ${cov:-?}, ft ${ft:-?}, corpus $corpus, findings $findings"
