#!/bin/sh
# mtrec_scale.sh — the mtrec job at the PMTRec paper's scale (doc/BENCHMARKS.md,
# "mtrec at real-world scale"): a generated data set of 22,166 users,
# 296,277 long-tailed items, 922,267 ratings, 355,754 trust links and 27
# item categories (bench/mtrec_scale_data.py, seeded), then
# `fedrec bench mtrec` on it: data load, training epochs of bpr + social +
# category (PMTRec, lazy Adam), full ranking of every validation and test
# user over all items (GEMM and top-K selection apart), the product alone
# and a square SGEMM for reference, peak RSS; with the CPU's name and the
# load average, since a shared machine's wall times say little.
#
#   bench/mtrec_scale.sh [--fedrec PATH] [--data DIR] [--epochs N]
#                        [--threads N] [--single-category] [--set K=V]...
#
# --fedrec   the fedrec binary (default: ./fedrec, else fedrec on PATH)
# --data     where the data set is (made there when DIR/train.txt is
#            missing; default /tmp/fedrec-mtrec-scale)
# --epochs   training epochs timed (default 1)
# --threads  backend.threads (default 0: every online core)
# --single-category  make the data with one category per item (default:
#            577 items in a second category too, as the real set)
# --set      change the configuration below (as for fedrec train), e.g.
#            --set train.lr=1e-9 for a table that has not learnt (the
#            ranking's worst case: every item norm alike)
#
# The generator needs numpy (Debian's python3-numpy at /usr/bin/python3);
# fedrec does not.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fedrec=
data=/tmp/fedrec-mtrec-scale
epochs=1
threads=0
second=577
sets=
while [ $# -gt 0 ]; do
    case $1 in
    --fedrec) fedrec=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --second-category) second=577; shift ;; # the default; kept for old command lines
    --single-category) second=0; shift ;;
    --set) sets="$sets --set $2"; shift 2 ;;
    *) echo "mtrec_scale.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$fedrec" ]; then
    if [ -x ./fedrec ]; then fedrec=./fedrec; else fedrec=fedrec; fi
fi
if [ ! -f "$data/train.txt" ]; then
    /usr/bin/python3 "$here/mtrec_scale_data.py" "$data" --second-category "$second"
fi
ini=$(mktemp /tmp/mtrec-scale.XXXXXX.ini)
trap 'rm -f "$ini"' EXIT
cat >"$ini" <<INI
; the Epinions-shaped task set of doc/MTREC.md on the generated data
[job]
kind = mtrec
[run]
name = mtrec-scale
seed = 0
[backend]
threads = $threads
[data]
source = split
path = $data
delimiter = comma
columns = user,item,rating
[train]
batch_size = 2048
; the defaults: lr 0.01, no weight decay (doc/MTREC.md, "Weight decay
; under lazy Adam"; at lr 0.001 and decay 1e-4 the BPR loss stays at ln 2)
lr = 0.01
weight_decay = 0
[mtrec]
tasks = bpr,social,category
combiner = pmtrec
dim = 32
alpha = 1.1
tau = 0.1
dense_adam = false
links = $data/links.txt
categories = $data/categories.txt
INI
echo "CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) online cores"
echo "uptime: $(uptime)"
# shellcheck disable=SC2086
"$fedrec" bench mtrec "$ini" --epochs "$epochs" $sets
