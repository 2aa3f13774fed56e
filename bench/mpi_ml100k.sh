#!/bin/sh
# bench/mpi_ml100k.sh — the multi-rank benchmark of doc/BENCHMARKS.md:
#   1. MovieLens-100K PFedRec, 100 rounds, on 1 rank and on 2 ranks (one
#      thread each), alternated REPS times on the same machine: the wall
#      time in rounds of each, their medians and the speed-up; the bytes
#      each rank sent and received per round; and a check that the two
#      reports agree in every column but wall time.
#   2. Two rounds of a simulated 1,000,000-client synthetic PFedRec job on
#      2 ranks: each round's time (the first faults in the clients' upload
#      buffers, the second reuses them) and each rank's peak resident
#      memory.
# Usage (from a build configured --with-mpi):
#   bench/mpi_ml100k.sh [FEDREC] [DATA] [REPS]
# FEDREC defaults to ./fedrec, DATA to ../shared/data/ml-100k/u.data,
# REPS to 3. MPIEXEC picks the launcher (default mpiexec); MPIFLAGS adds
# flags (as root, Open MPI needs --allow-run-as-root; this script adds it).
set -eu
FEDREC=${1:-./fedrec}
DATA=${2:-../shared/data/ml-100k/u.data}
REPS=${3:-3}
MPIEXEC=${MPIEXEC:-mpiexec}
flags=${MPIFLAGS:-}
if "$MPIEXEC" --version 2>&1 | grep -q "Open MPI\|OpenRTE"; then
    [ "$(id -u)" = 0 ] && flags="$flags --allow-run-as-root"
fi
here=$(cd "$(dirname "$0")" && pwd)
conf="$here/../conf/pfedrec-ml100k.ini"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_mpibench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

seconds() { sed -n 's/^time: \([0-9.]*\) s wall in rounds.*/\1/p' "$1"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "MovieLens-100K PFedRec, 100 rounds, one thread per rank, $REPS alternated runs each"
: >"$tmp/one"
: >"$tmp/two"
for rep in $(seq 1 "$REPS"); do
    # shellcheck disable=SC2086
    "$MPIEXEC" $flags -np 1 "$FEDREC" train "$conf" --quiet --set "data.path=$DATA" --set backend.threads=1 \
        --report "$tmp/r1.csv" >"$tmp/o1"
    # shellcheck disable=SC2086
    "$MPIEXEC" $flags -np 2 "$FEDREC" train "$conf" --quiet --set "data.path=$DATA" --set backend.threads=1 \
        --report "$tmp/r2.csv" --set "output.comm_report=$tmp/c2.csv" >"$tmp/o2"
    a=$(seconds "$tmp/o1")
    b=$(seconds "$tmp/o2")
    echo "$a" >>"$tmp/one"
    echo "$b" >>"$tmp/two"
    echo "  run $rep: 1 rank $a s, 2 ranks $b s (speed-up $(echo "$a $b" | awk '{ printf "%.2f", $1 / $2 }'))"
done
m1=$(median <"$tmp/one")
m2=$(median <"$tmp/two")
echo "median: 1 rank $m1 s, 2 ranks $m2 s: speed-up $(echo "$m1 $m2" | awk '{ printf "%.2f", $1 / $2 }')x"
cut -d, -f1-6,8,9 "$tmp/r1.csv" >"$tmp/s1"
cut -d, -f1-6,8,9 "$tmp/r2.csv" >"$tmp/s2"
if cmp -s "$tmp/s1" "$tmp/s2"; then
    echo "reports: identical but for wall time"
else
    echo "reports: DIFFER"
fi
# Per rank: mean bytes sent and received per round (the host/device field
# holds a comma inside quotes: count columns from the end).
awk -F, 'NR > 1 { s[$2] += $(NF - 5); r[$2] += $(NF - 4); n[$2]++ }
         END { for (k in s) printf "rank %s: %.0f bytes sent, %.0f received per round\n", k, s[k] / n[k], r[k] / n[k] }' \
    "$tmp/c2.csv" | sort
up=$(awk -F, 'NR > 1 { b += $8; n++ } END { printf "%.0f", b / n }' "$tmp/r2.csv")
echo "clients' uploads (the model's own traffic, all ranks): $up bytes per round"

echo
echo "simulated 1,000,000-client synthetic PFedRec (20,000 items, ~10 ratings per user), two rounds on 2 ranks"
start=$(date +%s.%N)
# shellcheck disable=SC2086
"$MPIEXEC" $flags -np 2 "$FEDREC" train "$here/../conf/quickstart.ini" --quiet --set data.users=1000000 \
    --set data.items=20000 --set data.per_user=10 --set train.rounds=2 --set backend.threads=1 \
    --set "output.comm_report=$tmp/c1m.csv" --report "$tmp/r1m.csv" >"$tmp/o1m"
end=$(date +%s.%N)
awk -F, 'NR > 1 { printf "round %s: %.1f s wall, every one of 1,000,000 clients trained and evaluated\n", $1, $7 }' "$tmp/r1m.csv"
echo "whole job (generation, split, start-up evaluation, 2 rounds): $(echo "$start $end" | awk '{ printf "%.1f", $2 - $1 }') s"
awk -F, 'NR > 1 { printf "rank %s: %s clients trained in %.1f s, %.1f s in exchanges, %.0f MB sent, %.0f MB received, peak RSS %.0f MiB\n",
                  $2, $(NF - 1), $(NF - 2), $(NF - 3), $(NF - 5) / 1e6, $(NF - 4) / 1e6, $NF }' "$tmp/c1m.csv"
