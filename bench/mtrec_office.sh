#!/bin/sh
# mtrec_office.sh — the PMTRec speed benchmark of doc/BENCHMARKS.md, on an
# otherwise idle machine:
#  1. fedrec, E epochs of conf/pmtrec-office.ini with early stopping off:
#     seconds per epoch (training, full-ranking evaluation), from its
#     summary;
#  2. the same reading in PyTorch (bench/pmtrec_torch.py), E epochs, same
#     threads: seconds per epoch, and fedrec's ratio;
#  3. fedrec, the full run of conf/pmtrec-office.ini (early stopping as
#     configured): epochs, wall time, peak RSS, test Recall@20 / NDCG@20.
#
#   bench/mtrec_office.sh [--fedrec PATH] [--data DIR] [--epochs E]
#                         [--threads N] [--no-torch] [--no-full]
#
# --fedrec  the fedrec binary (default: ./fedrec, else fedrec on PATH)
# --data    the Office folder (default ../shared/data/amazon-office)
# --epochs  epochs of parts 1 and 2 (default 20)
# --threads threads of both (default: all online cores)
#
# PyTorch is Debian's python3-torch under /usr/bin/python3, only the
# comparison here, never a dependency of fedrec.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
fedrec=
data=$top/../shared/data/amazon-office
epochs=20
threads=$(nproc)
torch=1
full=1
while [ $# -gt 0 ]; do
    case $1 in
    --fedrec) fedrec=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --no-torch) torch=0; shift ;;
    --no-full) full=0; shift ;;
    *) echo "mtrec_office.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$fedrec" ]; then
    if [ -x ./fedrec ]; then fedrec=./fedrec; else fedrec=fedrec; fi
fi
[ -f "$data/train.txt" ] || { echo "mtrec_office.sh: no $data/train.txt" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

field() { # field NAME FILE: a number from the summary JSON
    sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" "$2" | head -n 1
}

"$fedrec" train "$top/conf/pmtrec-office.ini" --set "data.path=$data" --set "train.epochs=$epochs" \
    --set mtrec.patience=0 --set "backend.threads=$threads" --quiet --summary "$tmp/e.json" >/dev/null
tr=$(field train_seconds_per_epoch "$tmp/e.json")
ev=$(field eval_seconds_per_epoch "$tmp/e.json")
awk -v e="$epochs" -v n="$threads" -v a="$tr" -v b="$ev" 'BEGIN { printf "fedrec  %d epochs, %d thread(s): %.3f s per epoch (training %.3f, full-ranking evaluation %.3f)\n", e, n, a + b, a, b }'
if [ "$torch" = 1 ]; then
    /usr/bin/python3 "$here/pmtrec_torch.py" --data "$data" --epochs "$epochs" --threads "$threads" >"$tmp/t.out"
    line=$(tail -n 1 "$tmp/t.out")
    echo "PyTorch $epochs epochs, $threads thread(s): $line"
    tt=$(echo "$line" | sed 's/seconds per epoch: \([0-9.]*\).*/\1/')
    awk -v a="$tt" -v b="$tr" -v c="$ev" 'BEGIN { printf "fedrec is %.1fx faster per epoch (%.3f s vs %.3f s)\n", a / (b + c), b + c, a }'
fi
if [ "$full" = 1 ]; then
    "$fedrec" train "$top/conf/pmtrec-office.ini" --set "data.path=$data" --set "backend.threads=$threads" \
        --quiet --summary "$tmp/f.json" >/dev/null
    awk -v e="$(field epochs "$tmp/f.json")" -v b="$(field best_epoch "$tmp/f.json")" \
        -v w="$(field wall_seconds "$tmp/f.json")" -v r="$(field peak_rss_bytes "$tmp/f.json")" \
        -v t="$(field train_seconds_per_epoch "$tmp/f.json")" -v v="$(field eval_seconds_per_epoch "$tmp/f.json")" \
        -v rc="$(field test_recall@20 "$tmp/f.json")" -v nd="$(field test_ndcg@20 "$tmp/f.json")" \
        'BEGIN { printf "full run: %d epochs (best %d), %.1f s wall, peak RSS %.1f MiB, %.3f + %.3f s per epoch; test Recall@20 %.4f NDCG@20 %.4f\n", e, b, w, r / 1048576, t, v, rc, nd }'
fi
