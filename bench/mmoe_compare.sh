#!/bin/sh
# mmoe_compare.sh — the MMoE speed benchmark of doc/BENCHMARKS.md: fedrec
# and PyTorch train the same MMoE (embedding 16, 8 experts of (256, 128),
# towers (64), batch 2048, Adam 1e-3) on the same synthetic 4-scenario
# table, one after the other on an otherwise idle machine, and it prints
# training samples/s and test mean AUC (at the best validation epoch) for
# fedrec and for every PyTorch thread setting, with fedrec's ratio to
# PyTorch's best.
#
#   bench/mmoe_compare.sh [--fedrec PATH] [--rows N] [--epochs E]
#                         [--coretype NAME] [--keep-table FILE] [--converge]
#                         [--seeds N]
#
# --fedrec    the fedrec binary (default: ./fedrec, else fedrec on PATH)
# --rows      rows of the synthetic table (default 400000: 320k training)
# --epochs    passes over the training rows (default 2)
# --coretype  also run PyTorch with OPENBLAS_CORETYPE=NAME (for machines
#             where OpenBLAS misdetects the CPU, e.g. SkylakeX on a VM that
#             hides the CPU model: OpenBLAS falls back to Prescott kernels)
# --keep-table FILE  write the table there and keep it (default: a
#             temporary file, removed at the end)
# --converge  then train fedrec and PyTorch's fastest setting to
#             convergence (early stopping on the mean validation AUC,
#             patience 2, at most 20 epochs) and compare their test AUC
# --seeds N   with --converge: train each N times (seeds 0..N-1: initial
#             values and batch order) and compare mean +- std; one run's
#             AUC moves by about 0.01 with the seed (default 1)
#
# PyTorch is Debian's python3-torch under /usr/bin/python3; it is only the
# comparison here, never a dependency of fedrec. PyTorch runs with
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (unless --coretype), with
# OpenBLAS at 1 and 2 threads and torch at 1 and 2 threads; then the rate
# of PyTorch's own GEMM on the experts' first-layer shape, and the
# training throughput that rate would allow at most.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fedrec=
rows=400000
epochs=2
coretype=
keep=
converge=
seeds=1
while [ $# -gt 0 ]; do
    case $1 in
    --fedrec) fedrec=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --coretype) coretype=$2; shift 2 ;;
    --keep-table) keep=$2; shift 2 ;;
    --converge) converge=1; shift ;;
    --seeds) seeds=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "mmoe_compare.sh: unknown argument '$1' (--help lists them)" >&2; exit 2 ;;
    esac
done
if [ -z "$fedrec" ]; then
    if [ -x ./fedrec ]; then fedrec=./fedrec; else fedrec=fedrec; fi
fi
if ! /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then
    echo "mmoe_compare.sh: needs python3-torch and python3-numpy for /usr/bin/python3 (apt-get install python3-torch)" >&2
    exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
table=${keep:-$tmp/synthetic.tbl}
"$fedrec" data synth --out "$table" --rows "$rows" --scenarios 4 --vocab 1000 --seed 0 >/dev/null

conf=$here/../conf/msmt-synthetic.ini
[ -f "$conf" ] || conf=$(dirname "$(command -v "$fedrec")")/../share/fedrec/conf/msmt-synthetic.ini
echo "fedrec: $("$fedrec" --version | head -1); torch: $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'); $(nproc) cores"
echo "table: $rows rows (4 scenarios, 2 tasks); $epochs epochs; batch 2048"
echo
"$fedrec" train "$conf" --set data.source=table --set "data.path=$table" --set "train.epochs=$epochs" \
    --set msmt.patience=0 --quiet --summary "$tmp/fedrec.json" >/dev/null
fr_speed=$(/usr/bin/python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; print('%.0f %.4f' % (m['train_samples_per_second'], m['test_auc']))" "$tmp/fedrec.json")
printf '%-44s %10s %10s\n' setting samples/s test_auc
printf '%-44s %10s %10s\n' "fedrec (all cores)" $fr_speed

run_torch() { # label, then environment assignments
    label=$1; shift
    for ob in 1 2; do
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@" OPENBLAS_NUM_THREADS=$ob \
            /usr/bin/python3 "$here/mmoe_torch.py" "$table" --threads 1,2 --epochs "$epochs" |
            sed -n "s/^pytorch [^ ]* threads \([0-9]*\): .* = \([0-9]*\) samples\/s.*test mean AUC \([0-9.]*\)$/$label openblas $ob, torch \1 \2 \3/p"
    done
}
{
    run_torch "pytorch"
    [ -z "$coretype" ] || run_torch "pytorch $coretype" OPENBLAS_CORETYPE="$coretype"
} > "$tmp/torch.txt"
awk '{ n = NF; printf "%-44s %10s %10s\n", substr($0, 1, length($0) - length($(n-1)) - length($n) - 2), $(n-1), $n }' "$tmp/torch.txt"
echo
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$here/mmoe_torch.py" --gemm-rate
[ -z "$coretype" ] || env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE="$coretype" OPENBLAS_NUM_THREADS=1 \
    /usr/bin/python3 "$here/mmoe_torch.py" --gemm-rate | sed "s/^pytorch [^ ]*/& ($coretype)/"
best=$(awk 'BEGIN { b = 0 } { if ($(NF-1) > b) { b = $(NF-1); a = $NF } } END { print b, a }' "$tmp/torch.txt")
set -- $fr_speed $best
echo
awk -v f="$1" -v fa="$2" -v t="$3" -v ta="$4" 'BEGIN {
    printf "fedrec / PyTorch best: %.2fx throughput; test AUC %.4f vs %.4f (difference %+.4f)\n", f / t, fa, ta, fa - ta }'

[ -n "$converge" ] || exit 0
# PyTorch's fastest setting, as "CORETYPE OPENBLAS_THREADS TORCH_THREADS".
setting=$(awk '{ if ($(NF-1) > b) { b = $(NF-1); l = $0 } } END { print l }' "$tmp/torch.txt" |
    sed -n 's/^pytorch \(.*\)openblas \([0-9]*\), torch \([0-9]*\) .*/\1 \2 \3/p')
set -- $setting
if [ $# -eq 3 ]; then core=$1; ob=$2; th=$3; else core=; ob=$1; th=$2; fi
echo
echo "to convergence (patience 2, at most 20 epochs); PyTorch at openblas $ob, torch $th${core:+, OPENBLAS_CORETYPE=$core}:"
seed=0
while [ "$seed" -lt "$seeds" ]; do
    "$fedrec" train "$conf" --set data.source=table --set "data.path=$table" --set train.epochs=20 \
        --set msmt.patience=2 --set run.seed=$seed --quiet --summary "$tmp/fedrec2.json" >/dev/null
    /usr/bin/python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']
print('fedrec  seed %s: best validation epoch %d of %d, test mean AUC %.4f' % (sys.argv[2], m['best_epoch'], m['epochs'], m['test_auc']))" \
        "$tmp/fedrec2.json" $seed | tee -a "$tmp/converge.txt"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ${core:+OPENBLAS_CORETYPE=$core} OPENBLAS_NUM_THREADS=$ob \
        /usr/bin/python3 "$here/mmoe_torch.py" "$table" --threads "$th" --epochs 20 --patience 2 --seed $seed 2>/dev/null |
        sed "s/^.*best validation epoch \([0-9]*\): valid AUC [0-9.]* test mean AUC \([0-9.]*\)$/pytorch seed $seed: best validation epoch \1, test mean AUC \2/" |
        tee -a "$tmp/converge.txt"
    seed=$((seed + 1))
done
[ "$seeds" -gt 1 ] || exit 0
awk '{ k = $1; a = $NF; n[k]++; s[k] += a; q[k] += a * a }
END {
    for (k in n) { m[k] = s[k] / n[k]; v = q[k] / n[k] - m[k] * m[k]; sd[k] = sqrt(v > 0 ? v * n[k] / (n[k] - 1) : 0) }
    printf "over %d seeds: fedrec %.4f +- %.4f, PyTorch %.4f +- %.4f (difference of means %+.4f)\n",
        n["fedrec"], m["fedrec"], sd["fedrec"], m["pytorch"], sd["pytorch"], m["fedrec"] - m["pytorch"] }' "$tmp/converge.txt"
