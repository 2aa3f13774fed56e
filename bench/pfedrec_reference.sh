#!/bin/bash
# pfedrec_reference.sh — fedrec's PFedRec beside the authors' PyTorch code,
# run for run on the same leave-one-out split (doc/BENCHMARKS.md). For each
# data set and seed s, fedrec trains with run.seed = s and writes the split
# it drew (output.split); the authors' code, driven by
# bench/pfedrec_reference.py from a scratch copy outside the project, then
# trains on the same rating file, evaluated on that split file. It prints,
# per data set: the mean test HR@10 of both sides at rounds 1-10 and their
# difference, the best-validation test HR@10 / NDCG@10 per seed and their
# means, whether fedrec's leave-one-out choice (its tie rule) picks the same
# validation and test items as the reference's own, and PASS/FAIL against
# the targets: |mean difference| <= 0.03 at every round 2..10, best-
# validation means within 0.02 (HR@10 and NDCG@10), every user's held-out
# items the same.
#
#   bench/pfedrec_reference.sh [--rounds N] [--seeds "0 1 2"] [--work DIR]
#                              [--data ml100k|sparse|both] [--fedrec PATH]
#                              [--jobs J] [--ref DIR] [--u-data FILE]
#
# --rounds  federated rounds per run (default 100, the spec's)
# --seeds   the seeds, one run per side and data set each (default "0 1 2")
# --work    keep the scratch files there (the copy of the authors' code, the
#           rating files, splits, reports, logs); default: a temporary
#           folder, removed at the end. Must be outside the project.
# --data    ml100k: MovieLens-100K (u.data as it comes, comma-separated);
#           sparse: its sparse derivative (bench/sparse_ratings.py, seed 0:
#           per user a random 8 of its ratings, timestamps floored to the
#           day, rows sorted by item id, so a user's latest day often holds
#           several items and the tie rule decides); both (default)
# --fedrec  the fedrec binary (default: ./fedrec, else the build beside this
#           script, else fedrec on PATH)
# --jobs    reference runs at a time (default: the cores, as far as memory
#           allows about 1.5 GB each; a run holds about 1.1 GB on ML-100K)
# --ref     the authors' folder (default ../shared/reference/pfedrec beside
#           the project)
# --u-data  MovieLens-100K's u.data (default ../shared/data/ml-100k/u.data)
#
# The reference needs Debian's python3-torch and python3-pandas under
# /usr/bin/python3 (only for this comparison, never a dependency of fedrec).
# It is slow: about 15 s a round on ML-100K and 5 s on the sparse set on one
# core of a 2-core AMD EPYC VM; fedrec takes a fraction of a second a round.
# Exit status: 0 when every target is met, 1 when one is missed, 2 on error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/.." && pwd)
rounds=100
seeds="0 1 2"
work=
data=both
fedrec=
jobs=
ref=$project/../shared/reference/pfedrec
udata=$project/../shared/data/ml-100k/u.data
die() { echo "pfedrec_reference.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=${2-}; shift 2 || die "--rounds needs a value" ;;
    --seeds) seeds=${2-}; shift 2 || die "--seeds needs a value" ;;
    --work) work=${2-}; shift 2 || die "--work needs a value" ;;
    --data) data=${2-}; shift 2 || die "--data needs a value" ;;
    --fedrec) fedrec=${2-}; shift 2 || die "--fedrec needs a value" ;;
    --jobs) jobs=${2-}; shift 2 || die "--jobs needs a value" ;;
    --ref) ref=${2-}; shift 2 || die "--ref needs a value" ;;
    --u-data) udata=${2-}; shift 2 || die "--u-data needs a value" ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (--help lists them)" ;;
    esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds: expected a positive integer, got '$rounds'"
[[ $seeds =~ ^[[:space:]]*[0-9]+([[:space:]]+[0-9]+)*[[:space:]]*$ ]] ||
    die "--seeds: expected non-negative integers separated by spaces, got '$seeds'"
case $data in
ml100k) sets=ml100k ;;
sparse) sets=sparse ;;
both) sets="ml100k sparse" ;;
*) die "--data: expected ml100k, sparse or both, got '$data'" ;;
esac
[ -z "$jobs" ] || [[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs: expected a positive integer, got '$jobs'"

if [ -z "$fedrec" ]; then
    if [ -x ./fedrec ]; then fedrec=./fedrec
    elif [ -x "$project/fedrec" ]; then fedrec=$project/fedrec
    else fedrec=fedrec; fi
fi
command -v "$fedrec" >/dev/null || die "no fedrec binary at '$fedrec' (build it, or give --fedrec PATH)"
fedrec=$(cd "$(dirname "$(command -v "$fedrec")")" && pwd)/$(basename "$fedrec")
"$fedrec" config --keys | grep -q '^output\.split\b' ||
    die "$fedrec has no output.split key (the split-file feature): this fedrec is too old for the bench"
if ! /usr/bin/python3 -c 'import torch, pandas' 2>/dev/null; then
    die "the reference needs PyTorch and pandas for /usr/bin/python3: apt-get install python3-torch python3-pandas"
fi
[ -f "$ref/engine.py" ] && [ -f "$ref/data.py" ] && [ -f "$ref/mlp.py" ] ||
    die "$ref: not the PFedRec authors' folder (engine.py, data.py, mlp.py); give --ref DIR"
[ -f "$udata" ] || die "$udata: no MovieLens-100K u.data there; give --u-data FILE"
conf=$project/conf/pfedrec-ml100k.ini
[ -f "$conf" ] || conf=$(dirname "$fedrec")/../share/fedrec/conf/pfedrec-ml100k.ini
[ -f "$conf" ] || die "cannot find conf/pfedrec-ml100k.ini beside the project or the fedrec binary"

if [ -n "$work" ]; then
    work=$(realpath -m "$work")
    case $work/ in "$project"/*) die "--work $work is inside the project; put the scratch files outside it" ;; esac
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/pfedrec-reference.XXXXXX")
    remove_work=1
fi
remove_work=${remove_work-}
# On the way out, stop the reference runs this script started, then drop a
# temporary work folder.
cleanup() {
    local p
    for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
    [ -z "$remove_work" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -z "$jobs" ]; then
    avail_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
    jobs=$(( avail_kb / 1500000 ))
    cores=$(nproc)
    [ "$jobs" -le "$cores" ] || jobs=$cores
    [ "$jobs" -ge 1 ] || jobs=1
fi

# The scratch copy of the authors' code: imported from there, never edited.
rm -rf "$work/pfedrec-ref"
cp -r "$ref" "$work/pfedrec-ref"

echo "fedrec: $("$fedrec" --version | head -1) ($fedrec)"
echo "reference: the authors' PFedRec code ($ref), torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), one torch thread per run, $jobs run(s) at a time"
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $rounds rounds; seeds: $seeds; work: $work"

# The rating files, then fedrec's runs (each writes the split it drew).
for set in $sets; do
    dir=$work/$set
    mkdir -p "$dir"
    if [ "$set" = ml100k ]; then
        tr '\t' ',' <"$udata" >"$dir/ratings.csv"
    else
        /usr/bin/python3 "$here/sparse_ratings.py" "$udata" "$dir/ratings.csv" --seed 0 --per-user 8 >/dev/null
    fi
    for s in $seeds; do
        rm -f "$dir/split-$s.tsv" "$dir/fedrec-$s.csv" "$dir/fedrec-wall-$s.txt" "$dir/ref-$s.csv" \
            "$dir/refloo-$s.tsv" "$dir/ref-wall-$s.txt"
        start=$(date +%s.%N)
        "$fedrec" train "$conf" --quiet --set data.source=delimited --set "data.path=$dir/ratings.csv" \
            --set data.delimiter=, --set data.columns=user,item,rating,time --set "run.seed=$s" \
            --set "train.rounds=$rounds" --set "output.split=$dir/split-$s.tsv" \
            --set "output.report=$dir/fedrec-$s.csv" --set output.report_format=csv \
            >"$dir/fedrec-$s.log" 2>&1 || { cat "$dir/fedrec-$s.log" >&2; die "fedrec failed on $set, seed $s"; }
        echo "$s $(date +%s.%N) $start" | awk '{ printf "%s %.2f\n", $1, $2 - $3 }' >"$dir/fedrec-wall-$s.txt"
    done
done

# The reference's runs on fedrec's splits, $jobs at a time (one torch
# thread each), all data sets in one queue, the slow ML-100K runs first.
pids=()
for set in $sets; do
    dir=$work/$set
    for s in $seeds; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
        (
            start=$(date +%s.%N)
            /usr/bin/python3 "$here/pfedrec_reference.py" --ref "$work/pfedrec-ref" --ratings "$dir/ratings.csv" \
                --split "$dir/split-$s.tsv" --seed "$s" --rounds "$rounds" --threads 1 \
                --report "$dir/ref-$s.csv" --write-loo "$dir/refloo-$s.tsv" >"$dir/ref-$s.log" 2>"$dir/ref-$s.err" &
            child=$!
            trap 'kill "$child" 2>/dev/null; exit 143' TERM
            wait "$child"
            echo "$s $(date +%s.%N) $start" | awk '{ printf "%s %.2f\n", $1, $2 - $3 }' >"$dir/ref-wall-$s.txt"
        ) &
        pids+=($!)
    done
done
for p in "${pids[@]}"; do
    wait "$p" || true
done

status=0
for set in $sets; do
    dir=$work/$set
    for s in $seeds; do
        [ -f "$dir/ref-wall-$s.txt" ] ||
            { tail -5 "$dir/ref-$s.err" >&2; die "the reference failed on $set, seed $s (log: $dir/ref-$s.err)"; }
    done
    if [ "$set" = ml100k ]; then
        title="MovieLens-100K ($udata, comma-separated, file order kept)"
    else
        title="sparse derivative of MovieLens-100K (per user a random 8 ratings, seed 0; day timestamps; sorted by item)"
    fi
    echo
    /usr/bin/python3 "$here/pfedrec_compare.py" --dir "$dir" --title "$title" --seeds "$seeds" --rounds "$rounds" ||
        status=1
done
exit $status
