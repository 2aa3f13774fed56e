#!/bin/sh
# mtrec_scale_results.sh — the comparison of doc/RESULTS.md, "Multi-task MF
# on the generated large set": BPR alone, EW, Nash-MTL, Aligned-MTL and
# PMTRec (absolute tau and this project's tau_relative) on the data set of
# bench/mtrec_scale_data.py (22,166 users, 296,277 items, bpr + social +
# category), each tuned by `fedrec tune` on validation Recall@20.
#
#   bench/mtrec_scale_results.sh [--fedrec PATH] [--data DIR] [--out DIR]
#                                [--jobs J] [--epochs N]
#
# --fedrec  the fedrec binary (default: ./fedrec, else fedrec on PATH)
# --data    the data set (made there when DIR/train.txt is missing, 577
#           items in two categories; default /tmp/fedrec-mtrec-scale)
# --out     where the searches go (default /tmp/fedrec-mtrec-results)
# --jobs    trials side by side (default: online cores; each 1 thread)
# --epochs  the epoch cap of every trial (default 40; BPR alone 3 times it)
#
# Two stages, so the search fits a 2-core machine in a couple of hours:
#  1. each method's grid (train.lr x train.weight_decay, and tau for
#     PMTRec) on seed 0; the best validation Recall@20 picks its point;
#  2. that point on seeds 0, 1, 2 (`fedrec tune` again in the same folder,
#     the grid narrowed to the point: seed 0 is not run again).
# Every trial evaluates every 2 epochs and stops after 5 evaluations
# without improvement. The last lines are the table of doc/RESULTS.md:
# the chosen point, validation and test figures (mean +- sd over the 3
# seeds), seconds per epoch (training + evaluation, 1 thread, J trials
# side by side) and the largest peak RSS. A rerun skips finished trials.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fedrec=
data=/tmp/fedrec-mtrec-scale
out=/tmp/fedrec-mtrec-results
jobs=$(nproc)
epochs=40
while [ $# -gt 0 ]; do
    case $1 in
    --fedrec) fedrec=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    *) echo "mtrec_scale_results.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if [ -z "$fedrec" ]; then
    if [ -x ./fedrec ]; then fedrec=./fedrec; else fedrec=fedrec; fi
fi
if [ ! -f "$data/train.txt" ]; then
    /usr/bin/python3 "$here/mtrec_scale_data.py" "$data" --second-category 577
fi
mkdir -p "$out"
data=$(cd "$data" && pwd)

# base.ini: bpr alone; base3.ini: + social + category
write_base() { # write_base FILE TASKS
    cat >"$1" <<INI
[job]
kind = mtrec
[run]
name = mtrec-scale
seed = 0
[data]
source = split
path = $data
delimiter = comma
columns = user,item,rating
[train]
epochs = $epochs
eval_every = 2
batch_size = 2048
lr = 0.01
weight_decay = 0
[mtrec]
tasks = $2
combiner = ew
dim = 32
dense_adam = false
patience = 5
INI
    if [ "$2" != bpr ]; then
        printf 'links = %s/links.txt\ncategories = %s/categories.txt\n' "$data" "$data" >>"$1"
    fi
}
write_base "$out/base.ini" bpr
write_base "$out/base3.ini" bpr,social,category

grid_lr="--grid train.lr=0.001,0.003,0.01 --grid train.weight_decay=0,1e-5,1e-4"

# search NAME INI ARGS...: stage 1 in $out/NAME
search() {
    name=$1 ini=$2
    shift 2
    echo "== $name: stage 1 (seed 0)"
    # shellcheck disable=SC2086
    "$fedrec" tune "$ini" "$@" $grid_lr --seeds 0 --jobs "$jobs" --out "$out/$name" --quiet >"$out/$name.stage1.txt" 2>&1 ||
        { echo "mtrec_scale_results.sh: the search $name failed: $out/$name.stage1.txt" >&2; exit 1; }
}

# best NAME [COMBINER]: the --grid arguments of the best seed-0 point
# (among the rows of COMBINER when given)
best() {
    /usr/bin/python3 - "$out/$1/trials.csv" "${2:-}" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["seed"] == "0" and r["status"] == "ok"]
if sys.argv[2]:
    rows = [r for r in rows if r.get("mtrec.combiner") == sys.argv[2]]
b = max(rows, key=lambda r: float(r["valid_recall@20"]))
keys = [k for k in b if "." in k]
print(" ".join(f"--grid {k}={b[k]}" for k in keys if b[k] != "n/a"))
PY
}

# final NAME LABEL [COMBINER]: stage 2 of the best point on seeds 0, 1, 2
final() {
    args=$(best "$1" "${3:-}")
    echo "== $2: stage 2 (seeds 0,1,2): $args"
    ini=$out/base3.ini
    [ "$1" = bpr ] && ini=$out/base.ini
    extra=
    [ "$1" = bpr ] && extra="--set train.epochs=$((epochs * 3))"
    [ "$1" = pmtrec ] && extra="--set mtrec.combiner=pmtrec"
    [ "$1" = pmtrec-relative ] && extra="--set mtrec.combiner=pmtrec --set mtrec.tau_relative=true"
    # shellcheck disable=SC2086
    "$fedrec" tune "$ini" $extra $args --seeds 0,1,2 --jobs "$jobs" --out "$out/$1" >"$out/$2.final.txt" 2>&1 ||
        { echo "mtrec_scale_results.sh: the final runs of $2 failed: $out/$2.final.txt" >&2; exit 1; }
    echo "$2|$args|$out/$1" >>"$out/finals.txt"
}

# BPR alone learns more slowly (at lr 1e-3 its best epoch was the 40th
# of 40) and its epochs cost a fifth: three times the epochs
search bpr "$out/base.ini" --set train.epochs=$((epochs * 3))
search global "$out/base3.ini" --grid mtrec.combiner=ew,nash,aligned
# PMTRec without decay 1e-4: with it the rows collapse to zero (doc/MTREC.md,
# "Weight decay under lazy Adam"), and it was the worst decay of every
# method above
grid_lr="--grid train.lr=0.001,0.003,0.01 --grid train.weight_decay=0,1e-5"
search pmtrec "$out/base3.ini" --set mtrec.combiner=pmtrec --grid mtrec.tau=0.00001,0.0001,1
search pmtrec-relative "$out/base3.ini" --set mtrec.combiner=pmtrec --set mtrec.tau_relative=true \
    --grid mtrec.tau=0.5,1,2
: >"$out/finals.txt"
final bpr "BPR alone"
final global EW ew
final global Nash-MTL nash
final global Aligned-MTL aligned
final pmtrec "PMTRec (tau)"
final pmtrec-relative "PMTRec (tau_relative)"

echo "CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) online cores; $jobs trials side by side"
/usr/bin/python3 - "$out/finals.txt" <<'PY'
import csv, glob, json, statistics as st, sys

def ms(v):
    return f"{st.mean(v):.4f} ± {st.stdev(v):.4f}" if len(v) > 1 else f"{v[0]:.4f}"

def settings(text):
    """section.key -> value of a summary's effective configuration."""
    out, sec = {}, ""
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith("["):
            sec = line.strip("[]")
        elif line and not line.startswith(";") and "=" in line:
            k, v = line.split("=", 1)
            out[f"{sec}.{k.strip()}"] = v.strip()
    return out

print("| method | chosen on seed 0 | val R@20 | test R@20 | test N@20 | epochs (best) | s/epoch | peak RSS MiB |")
print("|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    label, args, d = line.rstrip("\n").split("|")
    want = dict(a.split("=", 1) for a in args.replace("--grid ", "").split())
    runs = {}
    for f in glob.glob(f"{d}/trials/*.json"):
        s = json.load(open(f))
        cfg = settings(s["config"])
        if s["status"] == "completed" and all(float(cfg[k]) == float(v) if k != "mtrec.combiner" else cfg[k] == v
                                              for k, v in want.items()):
            runs[s["seed"]] = s
    runs = [runs[k] for k in sorted(runs) if k in (0, 1, 2)]
    m = [r["metrics"] for r in runs]
    per_epoch = [x["train_seconds_per_epoch"] + x["eval_seconds_per_epoch"] for x in m]
    chosen = ", ".join(k.split(".")[1] + " " + v for k, v in want.items())
    epochs = " ".join("%d (%d)" % (x["epochs"], x["best_epoch"]) for x in m)
    rss = max(r["peak_rss_bytes"] for r in runs) / 1048576
    print(f"| {label} | {chosen} | {ms([x['valid_recall@20'] for x in m])} | "
          f"{ms([x['test_recall@20'] for x in m])} | {ms([x['test_ndcg@20'] for x in m])} | "
          f"{epochs} | {st.mean(per_epoch):.2f} | {rss:.0f} |")
PY
