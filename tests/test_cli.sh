#!/bin/sh
# test_cli.sh — the fedrec program end to end: help and version, exit codes
# for bad commands, options and configurations, the demo job (its loss must
# fall and its test AUC beat chance), its report file, saving a model and
# evaluating it to the same figures, refusing a damaged model, and results
# independent of the thread count.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_cli.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect CODE CMD...: run CMD, check its exit code, keep output in $tmp/out.
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$tmp/err")"
}

# check_conf FILE: a shipped configuration passes config --check, run from
# the source tree, where its relative data path points (an out-of-tree
# build, as in distcheck, runs elsewhere); SKIP where that data is absent.
fedrec_abs=$(cd "$(dirname "$FEDREC")" && pwd)/$(basename "$FEDREC")
check_conf() {
    local conf=$1 path
    path=$(cd "$top_srcdir" && "$fedrec_abs" config --print "$conf" 2>/dev/null | sed -n 's/^path = //p' | head -n 1)
    if [ -n "$path" ] && [ ! -e "$top_srcdir/$path" ]; then
        skip_part "test_cli: config --check $(basename "$conf"): its data $path is not here"
        return
    fi
    (cd "$top_srcdir" && "$fedrec_abs" config --check "$conf") >"$tmp/out" 2>"$tmp/err" ||
        fail "config --check $conf: $(cat "$tmp/err")"
}

expect 0 "$FEDREC" --help
grep -q "train" "$tmp/out" || fail "--help does not list train"
expect 0 "$FEDREC" --version
grep -q "^fedrec [0-9]" "$tmp/out" || fail "--version printed '$(cat "$tmp/out")'"
expect 2 "$FEDREC"
expect 2 "$FEDREC" frobnicate
grep -q "unknown command 'frobnicate'" "$tmp/err" || fail "unknown command message: $(cat "$tmp/err")"
for cmd in train eval devices config bench plot compare tune; do
    expect 0 "$FEDREC" "$cmd" --help
    grep -qi "usage" "$tmp/out" || fail "$cmd --help prints no usage"
done
expect 2 "$FEDREC" train --no-such-option
expect 0 "$FEDREC" devices
grep -q "<- auto" "$tmp/out" || fail "devices shows no auto choice"

# Configuration errors: exit 3 with the key named.
expect 3 "$FEDREC" train --set train.epoks=3
grep -q "train.epochs" "$tmp/err" || fail "no suggestion for train.epoks: $(cat "$tmp/err")"
expect 3 "$FEDREC" train --set train.lr=fast
grep -q "train.lr" "$tmp/err" || fail "bad lr not named: $(cat "$tmp/err")"
expect 2 "$FEDREC" train --set
expect 3 "$FEDREC" train --set backend.cpu_isa=sse9
grep -q "backend.cpu_isa" "$tmp/err" || fail "bad cpu_isa not named: $(cat "$tmp/err")"
# A path this CPU or build lacks is refused before any work.
for isa in avx512 avx2 neon; do
    if ! "$FEDREC" devices | grep -q "^  $isa *yes *yes"; then
        expect 3 "$FEDREC" train --set backend.cpu_isa=$isa --set train.rounds=1
        grep -q "$isa" "$tmp/err" || fail "missing path $isa not named: $(cat "$tmp/err")"
    fi
done
if ! have_opencl_device; then
    expect 3 "$FEDREC" train --set job.kind=ctr --set backend.kind=opencl
    grep -qi "opencl" "$tmp/err" || fail "opencl refusal: $(cat "$tmp/err")"
fi
expect 0 "$FEDREC" config --check "$top_srcdir/conf/demo.ini"
expect 3 "$FEDREC" train "$tmp/missing.ini"
grep -q "missing.ini" "$tmp/err" || fail "missing file not named: $(cat "$tmp/err")"

# The demo job, small: loss falls, AUC beats chance, report and model written.
small="--set job.kind=ctr --set train.epochs=4 --set backend.threads=1"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $small --report "$tmp/r.csv" --save "$tmp/m.frm"
cp "$tmp/out" "$tmp/train.out"
[ -s "$tmp/m.frm" ] || fail "no model file written"
lines=$(wc -l <"$tmp/r.csv")
[ "$lines" -eq 5 ] || fail "report has $lines lines, expected a header and 4 epochs"
head -n 1 "$tmp/r.csv" | grep -q "^epoch,train_loss,valid_logloss,valid_auc,test_logloss,test_auc" || fail "report header: $(head -n 1 "$tmp/r.csv")"
awk -F, 'NR == 2 { l1 = $2 } NR == 5 { l4 = $2; auc = $6 }
         END { if (!(l4 < l1 * 0.97)) { print "loss did not fall: " l1 " -> " l4; exit 1 }
               if (!(auc > 0.65)) { print "test AUC " auc " not above 0.65"; exit 1 } }' \
    "$tmp/r.csv" >&2 || fail "demo did not learn"
best_auc=$(awk -F, 'NR > 1 && (b == "" || $4 > b) { b = $4; t = $6 } END { print t }' "$tmp/r.csv")

# Evaluating the saved model gives the best validation epoch's test AUC
# (tests/test_ctr_valid.sh checks the choice of that epoch).
expect 0 "$FEDREC" eval "$tmp/m.frm"
grep -q "test_auc *$best_auc" "$tmp/out" || fail "eval printed '$(cat "$tmp/out")', train's best validation epoch's test AUC was $best_auc"

# JSON lines report.
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $small --set output.report_format=jsonl --report "$tmp/r.jsonl" --quiet
grep -c '^{"epoch":' "$tmp/r.jsonl" | grep -q '^4$' || fail "jsonl report: $(cat "$tmp/r.jsonl")"

# Same seed, other thread count: the same figures.
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $small --set backend.threads=2 --report "$tmp/r2.csv" --quiet
cut -d, -f1-6 "$tmp/r.csv" >"$tmp/a" && cut -d, -f1-6 "$tmp/r2.csv" >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "1 and 2 threads differ: $(paste -d'|' "$tmp/a" "$tmp/b")"

# OpenCL, where this build has it and the machine a device: the same small
# job trained on the device (every op there) gives the CPU's losses within
# float tolerance. 6000 rows: 600 validation and 1200 test rows, enough
# that an AUC does not move by more than that tolerance when a few scores
# within float error trade places.
if have_opencl_device; then
    ocl="--set job.kind=ctr --set data.rows=6000 --set train.epochs=2 --set backend.threads=1"
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" train $ocl --set backend.kind=cpu --report "$tmp/c.csv" --quiet
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" train $ocl --set backend.kind=opencl --set opencl.min_elements=0 --report "$tmp/o.csv" --quiet
    paste -d, "$tmp/c.csv" "$tmp/o.csv" | awk -F, 'NR > 1 {
        for (k = 2; k <= 6; k++) { a = $k; b = $(k + 7); d = a - b; if (d < 0) d = -d;
            if (d > 2e-3 * (a < 0 ? -a : a) + 1e-4) { print "epoch " $1 " column " k ": cpu " a ", opencl " b; bad = 1 } } }
        END { exit bad }' >&2 || fail "OpenCL and CPU training differ"
    expect 3 "$FEDREC" train --set job.kind=ctr --set backend.kind=opencl --set opencl.device=no-such-device
    grep -q "no-such-device" "$tmp/err" || fail "unknown device not named: $(cat "$tmp/err")"
    # The federated rating jobs on the device (clients as cohorts) give the
    # host path's figures: losses within 1e-4, HR / NDCG within 0.02.
    for job in pfedrec fedmf fedncf; do
        rat="--set job.kind=$job --set data.users=150 --set data.items=400 --set train.rounds=2"
        # shellcheck disable=SC2086
        expect 0 "$FEDREC" train $rat --report "$tmp/rh.csv" --quiet
        # shellcheck disable=SC2086
        expect 0 "$FEDREC" train $rat --set backend.kind=opencl --report "$tmp/ro.csv"
        grep -q "cohorts of" "$tmp/out" || fail "$job on opencl: no cohorts named in '$(cat "$tmp/out")'"
        paste -d, "$tmp/rh.csv" "$tmp/ro.csv" | awk -F, -v job="$job" 'NR > 1 {
            for (k = 2; k <= 6; k++) { a = $k; b = $(k + NF / 2); d = a - b; if (d < 0) d = -d;
                if (d > (k == 2 ? 1e-4 * a : 0.02)) { print job " round " $1 " column " k ": host " a ", opencl " b; bad = 1 } } }
            END { exit bad }' >&2 || fail "$job: OpenCL cohorts and the host path differ"
    done
    # Federated mtrec's clients on the device (cohorts, DirectAU and PMTRec
    # included) print the host path's figures: every column but the times
    # within 1e-5 relative (they agree to about 1e-7: tests/test_mtr_backend).
    mt="--set job.kind=mtrec --set mtrec.federated=true --set data.users=120 --set data.items=200
        --set data.per_user=10 --set train.rounds=2 --set train.batch_size=64
        --set mtrec.tasks=bpr,directau,rating,category --set mtrec.local_steps=2"
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" train $mt --report "$tmp/mh.csv" --quiet
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" train $mt --set backend.kind=opencl --report "$tmp/mo.csv"
    grep -q "clients trained on opencl.*cohorts of" "$tmp/out" || fail "mtrec on opencl: no cohorts named in '$(cat "$tmp/out")'"
    [ "$(wc -l <"$tmp/mo.csv")" -eq 3 ] || fail "mtrec on opencl: the report is not 2 rounds: $(cat "$tmp/mo.csv")"
    paste -d, "$tmp/mh.csv" "$tmp/mo.csv" | awk -F, 'NR > 1 { n = NF / 2;
        for (k = 2; k <= n - 2; k++) { a = $k; b = $(k + n); d = a - b; if (d < 0) d = -d;
            if (d > 1e-5 * (a < 0 ? -a : a) + 1e-6) { print "mtrec round " $1 " column " k ": host " a ", opencl " b; bad = 1 } } }
        END { exit bad }' >&2 || fail "federated mtrec: OpenCL cohorts and the host path differ"
else
    skip_part "test_cli: the CPU/OpenCL comparison: no OpenCL device here (pocl-opencl-icd gives one on any CPU)"
fi

# PFedRec on a small delimited file: rounds run, the report has a row each,
# and the example configuration checks. Rating data is required.
check_conf conf/pfedrec-ml100k.ini
expect 3 "$FEDREC" train --set data.source=movielens
grep -q "data.path" "$tmp/err" || fail "pfedrec without a path: $(cat "$tmp/err")"
# check_best NAME OUT REPORT: the summary in OUT names the round of REPORT
# with the highest validation HR (the later one on ties) as the best, and
# prints that round's validation and test HR and NDCG.
check_best() {
    awk -F, '
        NR == FNR { if (FNR > 1 && $3 >= best) { best = $3; r = $1; v = $3; vn = $4; t = $5; tn = $6 }; n = FNR - 1; next }
        { split($0, w, " ") }
        /^best validation round / { got = w[4] " " w[6] }
        w[1] == "validation" { gv = w[2]; gvn = w[3] }
        w[1] == "test" { gt = w[2]; gtn = w[3] }
        function far(a, b) { return a - b > 1.5e-4 || b - a > 1.5e-4 }
        END {
            if (got != r " " n) { print "best round printed \"" got "\", the report says " r " of " n; exit 1 }
            if (far(gv, v) || far(gvn, vn) || far(gt, t) || far(gtn, tn)) {
                print "round " r ": printed " gv " " gvn " / " gt " " gtn ", the report has " v " " vn " / " t " " tn; exit 1 }
        }' "$3" "$2" >&2 || fail "$1: the best validation round in the summary is not the report's"
}
# json_num KEY FILE: the number KEY has in a summary file (empty if none).
json_num() {
    sed -n "s/^ *\"$1\": \([-+0-9.eE]*\),\{0,1\}\$/\1/p" "$2" | head -n 1
}
# near A B [TOL]: A and B are numbers within TOL (1e-4) of each other.
near() {
    awk -v a="$1" -v b="$2" -v t="${3:-1e-4}" 'BEGIN { d = a - b; exit !(a != "" && b != "" && d <= t && -d <= t) }'
}
# above A FLOOR: A is a number greater than FLOOR.
above() {
    awk -v a="$1" -v f="$2" 'BEGIN { exit !(a != "" && a + 0 > f + 0) }'
}
# The default job: PFedRec on synthetic ratings, well above random ranking.
expect 0 "$FEDREC" train --set train.rounds=15 --report "$tmp/default.csv"
grep -A3 "best validation round" "$tmp/out" | awk '$1 == "test" && $2 > 0.3 { ok = 1 } END { exit !ok }' ||
    fail "default job did not learn: $(tail -n 6 "$tmp/out")"
check_best "default job" "$tmp/out" "$tmp/default.csv"
awk 'BEGIN { print "user;item;stars;when"; for (u = 0; u < 40; u++) for (k = 0; k < 10; k++)
        printf "u%d;i%d;5;%d\n", u, (u * 7 + k * 13) % 320, k }' >"$tmp/r.csv"
expect 0 "$FEDREC" train --set job.kind=pfedrec --set data.source=delimited --set "data.path=$tmp/r.csv" \
    --set data.delimiter=semicolon --set data.header=true --set train.rounds=3 --set pfedrec.eval_negatives=20 \
    --report "$tmp/pf.csv"
[ "$(wc -l <"$tmp/pf.csv")" -eq 4 ] || fail "pfedrec report: $(cat "$tmp/pf.csv")"
check_best "pfedrec on a delimited file" "$tmp/out" "$tmp/pf.csv"
# Split files, for every rating job: a run given the split another run
# wrote repeats that run's figures exactly; a run of another seed given it
# evaluates on it (writes it back unchanged) instead of drawing its own.
rd="--set data.source=delimited --set data.path=$tmp/r.csv --set data.delimiter=semicolon --set data.header=true
    --set train.rounds=3 --set pfedrec.eval_negatives=20 --quiet"
for c in pfedrec fedmf fedncf central-mf; do
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" train --set job.kind=$c $rd --set output.split="$tmp/$c.split" --report "$tmp/$c-a.csv"
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" train --set job.kind=$c $rd --set data.split_file="$tmp/$c.split" --report "$tmp/$c-b.csv"
    cut -d, -f1-6 "$tmp/$c-a.csv" >"$tmp/a"; cut -d, -f1-6 "$tmp/$c-b.csv" >"$tmp/b"
    cmp -s "$tmp/a" "$tmp/b" || fail "$c: the run on the split file differs: $(paste -d'|' "$tmp/a" "$tmp/b")"
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" train --set job.kind=$c $rd --set run.seed=7 --set output.split="$tmp/$c-7.split"
    cmp -s "$tmp/$c.split" "$tmp/$c-7.split" && fail "$c: seed 7 drew the same split as seed 42"
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" train --set job.kind=$c $rd --set run.seed=7 --set data.split_file="$tmp/$c.split" \
        --set output.split="$tmp/$c-7b.split"
    cmp -s "$tmp/$c.split" "$tmp/$c-7b.split" || fail "$c: a split read from a file was not the one used"
done
# fedrec plot: an SVG with one line per metric; bad reports refused.
expect 0 "$FEDREC" plot "$tmp/pf.csv" --out "$tmp/pf.svg"
grep -c "<polyline" "$tmp/pf.svg" | grep -q '^4$' || fail "plot lines (validation and test HR, NDCG): $(grep -c '<polyline' "$tmp/pf.svg")"
expect 0 "$FEDREC" plot "$tmp/r.jsonl" --metrics test_auc,train_loss --out "$tmp/j.svg"
grep -c "<polyline" "$tmp/j.svg" | grep -q '^2$' || fail "plot of jsonl"
printf 'round,loss\n1,0.5\n2,abc\n' >"$tmp/badr.csv"
expect 4 "$FEDREC" plot "$tmp/badr.csv"
grep -q "badr.csv:3" "$tmp/err" || fail "bad report line not named: $(cat "$tmp/err")"
expect 2 "$FEDREC" plot "$tmp/pf.csv" --metrics nothing

# Checkpoint and resume: 4 rounds, then resumed to 6, equal 6 in one go.
pf="--set data.users=60 --set data.items=400 --set train.checkpoint_every=2 --set output.checkpoint=$tmp/ck --quiet"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $pf --set train.rounds=6 --report "$tmp/full.csv"
rm -f "$tmp/ck"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $pf --set train.rounds=4 --report "$tmp/part.csv"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $pf --set train.rounds=6 --report "$tmp/part.csv" --resume
cut -d, -f1-6 "$tmp/full.csv" >"$tmp/a"; cut -d, -f1-6 "$tmp/part.csv" >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "resumed run differs: $(paste -d'|' "$tmp/a" "$tmp/b")"
# The checkpoint holds the job's fingerprint. A resume may change the
# rounds, the checkpoint interval, the outputs and the threads, and read a
# copy of the data at another path: it goes on to the same figures.
rm -f "$tmp/ck"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $pf --set train.rounds=4 --report "$tmp/part.csv"
cp "$tmp/ck" "$tmp/ck4"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $pf --set train.rounds=6 --set train.checkpoint_every=3 --set backend.threads=1 \
    --set run.name=other --set "output.split=$tmp/resumed.split" --report "$tmp/part.csv" --resume
cut -d, -f1-6 "$tmp/part.csv" >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "resumed with other rounds, threads, outputs: differs: $(paste -d'|' "$tmp/a" "$tmp/b")"
# Under other options: refused, each key named with both values, the
# checkpoint untouched.
for change in "pfedrec.lr=5|pfedrec.lr: checkpoint 0.1, now 5" \
    "pfedrec.negatives=0|pfedrec.negatives: checkpoint 4, now 0" \
    "fed.clip_norm=2|fed.clip_norm: checkpoint 0, now 2" \
    "privacy.local_noise=0.5|privacy.local_noise: checkpoint 0, now 0.5" \
    "fault.huge=0.1|fault.huge: checkpoint 0, now 0.1" \
    "fed.aggregator=median|fed.aggregator: checkpoint mean, now median" \
    "run.seed=7|run.seed: checkpoint 42, now 7"; do
    cp "$tmp/ck4" "$tmp/ck"
    # shellcheck disable=SC2086
    expect 3 "$FEDREC" train $pf --set train.rounds=6 --set "${change%%|*}" --resume
    grep -qF "ck: the checkpoint was written under another configuration, 1 key differs: ${change#*|} (" "$tmp/err" ||
        fail "resume with ${change%%|*}: $(cat "$tmp/err")"
    cmp -s "$tmp/ck" "$tmp/ck4" || fail "resume with ${change%%|*}: the checkpoint changed"
done
cp "$tmp/ck4" "$tmp/ck"
# shellcheck disable=SC2086
expect 3 "$FEDREC" train $pf --set train.rounds=6 --set pfedrec.lr=5 --set pfedrec.negatives=0 --resume
grep -qF "2 keys differ: pfedrec.lr: checkpoint 0.1, now 5; pfedrec.negatives: checkpoint 4, now 0" "$tmp/err" ||
    fail "resume with two keys changed: $(cat "$tmp/err")"
# The same value written otherwise is the same value.
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $pf --set train.rounds=5 --set pfedrec.lr=0.10 --set pfedrec.item_personalisation=yes --resume
# A target epsilon fixes the rounds: the noise is set for the whole run.
dp="--set fed.clip_norm=1 --set privacy.dp_epsilon=8"
rm -f "$tmp/ck"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $pf $dp --set train.rounds=2
# shellcheck disable=SC2086
expect 3 "$FEDREC" train $pf $dp --set train.rounds=4 --resume
grep -qF "train.rounds (fixed by privacy.dp_epsilon): checkpoint 2, now 4" "$tmp/err" ||
    fail "resume with a target epsilon and more rounds: $(cat "$tmp/err")"
# The data: a copy elsewhere resumes; other contents of the same size do not.
awk 'BEGIN { for (u = 1; u <= 30; u++) for (k = 0; k < 6; k++) printf "%d\t%d\t4\t%d\n", u, (u * 7 + k * 3) % 40 + 1, k }' >"$tmp/a.data"
awk 'BEGIN { for (u = 1; u <= 30; u++) for (k = 0; k < 6; k++) printf "%d\t%d\t4\t%d\n", u, (u * 11 + k * 3) % 40 + 1, k }' >"$tmp/b.data"
ml="--set data.source=movielens --set pfedrec.eval_negatives=5 --set output.checkpoint=$tmp/ml.ck --quiet"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $ml --set "data.path=$tmp/a.data" --set train.rounds=2
mkdir "$tmp/moved" && cp "$tmp/a.data" "$tmp/moved/a.data"
cp "$tmp/ml.ck" "$tmp/ml.ck2"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $ml --set "data.path=$tmp/moved/a.data" --set train.rounds=3 --resume
cp "$tmp/ml.ck2" "$tmp/ml.ck"
# shellcheck disable=SC2086
expect 4 "$FEDREC" train $ml --set "data.path=$tmp/b.data" --set train.rounds=3 --resume
grep -qF "ml.ck: the checkpoint was written on other data: the same 30 users, 40 items and 180 ratings, but other contents" "$tmp/err" ||
    fail "resume on other data of the same size: $(cat "$tmp/err")"
# Jobs without checkpoints refuse output.checkpoint rather than ignore it
# (msmt's: tests/test_crash_msmt.sh; mtrec's: tests/test_crash_mtrec.sh;
# fedmsmt's: tests/test_crash_fedmsmt.sh).
for kind in ctr; do
    expect 3 "$FEDREC" train --set job.kind=$kind --set "output.checkpoint=$tmp/none.ck"
    grep -qF "output.checkpoint = '$tmp/none.ck': job.kind = $kind writes no checkpoints" "$tmp/err" ||
        fail "$kind with output.checkpoint: $(cat "$tmp/err")"
    [ ! -e "$tmp/none.ck" ] || fail "$kind wrote $tmp/none.ck"
done
head -c 300 "$tmp/ck4" >"$tmp/ck.bad"
# shellcheck disable=SC2086
expect 4 "$FEDREC" train $pf --set train.rounds=6 --set "output.checkpoint=$tmp/ck.bad" --resume
grep -q "ck.bad" "$tmp/err" || fail "truncated checkpoint not named: $(cat "$tmp/err")"
expect 2 "$FEDREC" train --set job.kind=ctr --resume
expect 0 "$FEDREC" train --set job.kind=fedmf --set train.rounds=3 --set data.users=60 --set data.items=400
grep -q "FedMF (paper mode)" "$tmp/out" || fail "fedmf job: $(head -n 2 "$tmp/out")"
for c in fedmf fedncf central-mf; do
    check_conf "conf/$c-ml100k.ini"
done
expect 0 "$FEDREC" train --set job.kind=fedncf --set train.rounds=2 --set data.users=60 --set data.items=400
grep -q "FedNCF (paper mode)" "$tmp/out" || fail "fedncf job: $(head -n 2 "$tmp/out")"
expect 0 "$FEDREC" train --set job.kind=central-mf --set train.rounds=2 --set data.users=60 --set data.items=400
grep -q "centralised MF (paper mode)" "$tmp/out" || fail "central-mf job: $(head -n 2 "$tmp/out")"
expect 3 "$FEDREC" train --set job.kind=fedncf --set pfedrec.ncf_layers=32,x
grep -q "pfedrec.ncf_layers" "$tmp/err" || fail "bad ncf_layers not named: $(cat "$tmp/err")"
expect 0 "$FEDREC" train --set train.rounds=2 --set data.users=50 --set data.items=400 --summary "$tmp/s.json" \
    --report "$tmp/s.csv" --quiet
# The summary holds the figures of the report's best round (2: round 1's
# validation HR is 0.10, round 2's 0.32).
best_row=$(awk -F, 'NR > 1 && $3 >= b { b = $3; row = $0 } END { print row }' "$tmp/s.csv")
[ "$(json_num best_round "$tmp/s.json")" = "${best_row%%,*}" ] &&
    near "$(json_num val_hr "$tmp/s.json")" "$(echo "$best_row" | cut -d, -f3)" &&
    near "$(json_num test_hr "$tmp/s.json")" "$(echo "$best_row" | cut -d, -f5)" &&
    near "$(json_num test_ndcg "$tmp/s.json")" "$(echo "$best_row" | cut -d, -f6)" &&
    grep -q '"peak_rss_bytes": [1-9]' "$tmp/s.json" &&
    grep -q '"config": ".*kind = pfedrec' "$tmp/s.json" ||
    fail "summary JSON against the report's best row '$best_row': $(grep -v '"config"' "$tmp/s.json")"
expect 4 "$FEDREC" train --set job.kind=pfedrec --set data.source=delimited --set "data.path=$tmp/r.csv" \
    --set data.delimiter=','
grep -q "r.csv:1" "$tmp/err" || fail "wrong delimiter not reported with file and line: $(cat "$tmp/err")"

# mean_auc OUT: the test AUC on the "mean" line of a multi-scenario job.
mean_auc() {
    awk '$1 == "mean" { print $3 }' "$1" | tail -n 1
}
# Multi-scenario multi-task job and binary tables: the summary's test AUC
# is the printed mean, and clearly above chance (0.5; this run reaches 0.68).
expect 0 "$FEDREC" train --set job.kind=msmt --set data.rows=20000 --set data.vocab=20 --set train.epochs=3 \
    --set msmt.expert_layers=16 --set msmt.tower_layers=8 --set msmt.experts=2 --summary "$tmp/m.json"
auc=$(json_num test_auc "$tmp/m.json")
near "$auc" "$(mean_auc "$tmp/out")" && above "$auc" 0.62 ||
    fail "msmt job: summary test AUC '$auc', printed '$(mean_auc "$tmp/out")', expected the same and above 0.62"
# The parameter count and its trainable part, printed and in the summary.
trainable=$(sed -n 's/.* parameters (\([0-9]*\) trainable)$/\1/p' "$tmp/out")
[ -n "$trainable" ] && grep -Eq "\"trainable_parameters\": $trainable(,|$)" "$tmp/m.json" ||
    fail "msmt job: trainable parameters '$trainable' not printed or not in the summary: $(head -n 2 "$tmp/out")"
# Federated multi-scenario multi-task job: one client per scenario.
# Its summary's test AUC is the printed mean, clearly above chance (0.5;
# this run reaches 0.66).
expect 0 "$FEDREC" train "$top_srcdir/conf/pfmsmtrec-synthetic.ini" --set data.rows=40000 --set data.vocab=20 \
    --set train.rounds=3 --set train.lr=0.01 --set msmt.expert_layers=8 --set msmt.tower_layers=4 \
    --set train.batch_size=128 --summary "$tmp/fm.json"
auc=$(json_num test_auc "$tmp/fm.json")
grep -q "pfmsmtrec, 4 clients" "$tmp/out" && grep -q "experts per client: s0 8" "$tmp/out" ||
    fail "fedmsmt job: $(tail -n 4 "$tmp/out")"
near "$auc" "$(mean_auc "$tmp/out")" && above "$auc" 0.62 ||
    fail "fedmsmt job: summary test AUC '$auc', printed '$(mean_auc "$tmp/out")', expected the same and above 0.62"
expect 3 "$FEDREC" train "$top_srcdir/conf/pfmsmtrec-synthetic.ini" --set data.rows=3000 \
    --set "fedmsmt.membership=1100;0110;0x11;1001"
grep -q "fedmsmt.membership: membership row 3, column 2" "$tmp/err" || fail "bad membership: $(cat "$tmp/err")"
expect 3 "$FEDREC" train "$top_srcdir/conf/fedprox-msmt-synthetic.ini" --set fedmsmt.prox_mu=0
grep -q "prox_mu" "$tmp/err" || fail "FedProx without mu: $(cat "$tmp/err")"
# Multi-task recommender: the Epinions-style synthetic job end to end, a
# federated round, split files, and their errors.
# The summary's test Recall@20 is the printed one, and well above random
# ranking's (about 20 / 185 = 0.11 of each user's held-out items among the
# ~185 items a user has not trained on; this run reaches 0.19).
expect 0 "$FEDREC" train "$top_srcdir/conf/mtrec-synthetic.ini" --set data.users=300 --set data.items=200 \
    --set train.epochs=15 --set train.lr=0.01 --set mtrec.min_epochs=0 --set train.batch_size=256 \
    --summary "$tmp/mt.json" --report "$tmp/mt.csv"
grep -q "tasks: bpr social category" "$tmp/out" &&
    head -n 1 "$tmp/mt.csv" | grep -q "loss_social,loss_category,weight_bpr" &&
    [ "$(wc -l < "$tmp/mt.csv")" -eq 16 ] || fail "mtrec job: $(tail -n 4 "$tmp/out")"
recall=$(json_num 'test_recall@20' "$tmp/mt.json")
printed=$(awk '$1 == "Recall" { print $4 }' "$tmp/out")
near "$recall" "$printed" && above "$recall" 0.15 ||
    fail "mtrec job: summary test Recall@20 '$recall', printed '$printed', expected the same and above 0.15"
expect 0 "$FEDREC" train "$top_srcdir/conf/mtrec-synthetic.ini" --set data.users=300 --set data.items=200 \
    --set mtrec.tasks=bpr,directau,category --set mtrec.federated=true --set train.rounds=2 --quiet
expect 3 "$FEDREC" train "$top_srcdir/conf/mtrec-synthetic.ini" --set mtrec.federated=true --set data.users=300
grep -q "social" "$tmp/err" || fail "federated social not refused: $(cat "$tmp/err")"
expect 3 "$FEDREC" train "$top_srcdir/conf/mtrec-synthetic.ini" --set mtrec.tasks=directau,bpr
grep -q "mtrec.tasks" "$tmp/err" || fail "main task not first: $(cat "$tmp/err")"
expect 3 "$FEDREC" train "$top_srcdir/conf/mtrec-synthetic.ini" --set mtrec.tasks=bpr,,social
grep -q "field 2 is empty" "$tmp/err" || fail "empty task field: $(cat "$tmp/err")"
expect 1 "$FEDREC" train "$top_srcdir/conf/mtrec-synthetic.ini" --set data.users=300 --set "mtrec.links=$tmp/no-links.txt"
grep -q "no-links.txt" "$tmp/err" || fail "missing links file not named: $(cat "$tmp/err")"
mkdir -p "$tmp/split"
printf '1,10,5\n1,11,4\n2,10,3\n2,12,5\n3,11,4\n3,13,2\n' >"$tmp/split/train.txt"
printf '1,12,4\n2,11,5\n3,10,4\n' >"$tmp/split/val.txt"
printf '1,13,5\n2,13,4\n3,x\n' >"$tmp/split/test.txt"
expect 4 "$FEDREC" train --set job.kind=mtrec --set data.source=split --set "data.path=$tmp/split" \
    --set data.columns=user,item,rating --set data.delimiter=comma
grep -q "test.txt:3" "$tmp/err" || fail "bad split file line not named: $(cat "$tmp/err")"
printf '1,13,5\n2,13,4\n' >"$tmp/split/test.txt"
expect 0 "$FEDREC" train --set job.kind=mtrec --set data.source=split --set "data.path=$tmp/split" \
    --set data.columns=user,item,rating --set data.delimiter=comma --set train.epochs=2 --set train.batch_size=4
grep -q "3 users, 4 items, 6 training interactions" "$tmp/out" || fail "split files: $(head -n 3 "$tmp/out")"
expect 3 "$FEDREC" train --set job.kind=pfedrec --set data.source=split --set "data.path=$tmp/split"
grep -q "job.kind = mtrec" "$tmp/err" || fail "split for pfedrec: $(cat "$tmp/err")"
for c in "$top_srcdir"/conf/*.ini; do
    check_conf "conf/$(basename "$c")"
done
expect 0 "$FEDREC" data synth --out "$tmp/s.tbl" --rows 3000 --scenarios 3
expect 0 "$FEDREC" data info "$tmp/s.tbl" --check
grep -q "3000 rows" "$tmp/out" && grep -q "scenarios: s0 s1 s2" "$tmp/out" || fail "data info: $(cat "$tmp/out")"
expect 0 "$FEDREC" train --set job.kind=msmt --set data.source=table --set "data.path=$tmp/s.tbl" \
    --set train.epochs=1 --set msmt.model=ple --set msmt.expert_layers=8 --set msmt.tower_layers=4 --quiet
head -c 5000 "$tmp/s.tbl" >"$tmp/cut.tbl"
expect 4 "$FEDREC" data info "$tmp/cut.tbl"
grep -q "cut.tbl" "$tmp/err" || fail "truncated table not named: $(cat "$tmp/err")"
printf 'a,b,c\n1,2.5,1\n2,x,0\n' >"$tmp/t.csv"
expect 4 "$FEDREC" data convert --columns cat,num,label --header --out "$tmp/t.tbl" "$tmp/t.csv"
grep -q "t.csv:3: column 2" "$tmp/err" || fail "bad number not located: $(cat "$tmp/err")"
[ ! -e "$tmp/t.tbl" ] || fail "a failed conversion left $tmp/t.tbl"
printf '1,2.5,1\n2,3,0\n' >"$tmp/t.csv"
expect 0 "$FEDREC" data convert --columns cat,num,label:click --out "$tmp/t.tbl" "$tmp/t.csv:web"
expect 2 "$FEDREC" data convert --out "$tmp/t.tbl" "$tmp/t.csv"
printf 'search_id,categorical_1\n1,2\n' >"$tmp/ae_head.csv"
expect 4 "$FEDREC" data convert --format aliexpress --out "$tmp/t2.tbl" "$tmp/ae_head.csv"
grep -q "ae_head.csv:1: header" "$tmp/err" || fail "AliExpress header not checked: $(cat "$tmp/err")"
ae="$top_srcdir/../shared/data/aliexpress-sample"
if [ -r "$ae/train.csv" ]; then
    expect 0 "$FEDREC" data convert --format aliexpress --out "$tmp/ae.tbl" "$ae/train.csv" "$ae/test.csv"
    expect 0 "$FEDREC" data info "$tmp/ae.tbl" --check
    grep -q "120 rows" "$tmp/out" && grep -q "tasks: click conversion" "$tmp/out" || fail "AliExpress sample: $(cat "$tmp/out")"
    # A bad value in row 2 is located by file, line and column name, and
    # no output file is left.
    { head -n 2 "$ae/train.csv"; sed -n 3p "$ae/train.csv" | awk -F, 'BEGIN { OFS = "," } { $20 = "abc"; print }'; } \
        >"$tmp/ae_bad.csv"
    expect 4 "$FEDREC" data convert --format aliexpress --out "$tmp/ae_bad.tbl" "$tmp/ae_bad.csv"
    grep -q "ae_bad.csv:3: column 20 (numerical_3)" "$tmp/err" || fail "AliExpress bad value: $(cat "$tmp/err")"
    [ ! -e "$tmp/ae_bad.tbl" ] || fail "a failed AliExpress conversion left its output"
else
    skip_part "test_cli: the AliExpress sample conversion: $ae is absent"
fi

# Privacy (doc/PRIVACY.md): a target epsilon sets the noise and the report's
# last row reaches it (and not far below it); DP needs a clip; one of
# dp_noise and dp_epsilon; secure aggregation refuses a shared score.
small="--set data.users=120 --set data.items=300 --set train.rounds=4 --quiet"
expect 0 "$FEDREC" train $small --set fed.clip_norm=1 --set privacy.dp_epsilon=2 --set pfedrec.client_fraction=0.5 \
    --set output.report="$tmp/dp.csv"
head -n 1 "$tmp/dp.csv" | grep -q ",dp_epsilon$" || fail "no dp_epsilon column: $(head -n 1 "$tmp/dp.csv")"
last_eps=$(tail -n 1 "$tmp/dp.csv" | awk -F, '{print $NF}')
awk -v e="$last_eps" 'BEGIN { exit !(e <= 2 && e > 1.99) }' || fail "DP run ended at epsilon $last_eps, target 2"
expect 3 "$FEDREC" train $small --set privacy.dp_epsilon=2
grep -q "fed.clip_norm" "$tmp/err" || fail "DP without a clip: $(cat "$tmp/err")"
expect 3 "$FEDREC" train $small --set fed.clip_norm=1 --set privacy.dp_epsilon=2 --set privacy.dp_noise=1
grep -q "privacy.dp_noise" "$tmp/err" || fail "dp_noise with dp_epsilon: $(cat "$tmp/err")"
expect 3 "$FEDREC" train $small --set privacy.secure_agg=true --set pfedrec.personal_score=false
grep -qi "secure aggregation" "$tmp/err" || fail "secure aggregation + shared score: $(cat "$tmp/err")"
expect 0 "$FEDREC" train $small --set privacy.secure_agg=true --set output.report="$tmp/sa.csv"
expect 0 "$FEDREC" train $small --set output.report="$tmp/nosa.csv"
[ "$(cut -d, -f3-6 "$tmp/sa.csv")" = "$(cut -d, -f3-6 "$tmp/nosa.csv")" ] ||
    fail "secure aggregation changed the figures: $(paste -d'|' "$tmp/sa.csv" "$tmp/nosa.csv")"

# A damaged model is refused with exit 4; a failed save keeps the old file.
head -c 100 "$tmp/m.frm" >"$tmp/bad.frm"
expect 4 "$FEDREC" eval "$tmp/bad.frm"
grep -q "bad.frm" "$tmp/err" || fail "damaged model not named: $(cat "$tmp/err")"
expect 1 "$FEDREC" train --set job.kind=ctr --set data.rows=200 --set train.epochs=1 --save "$tmp/no/such/dir/m.frm" --quiet
expect 0 "$FEDREC" eval "$tmp/m.frm"

if [ "$failures" -ne 0 ]; then
    echo "test_cli: $failures failure(s)" >&2
    exit 1
fi
echo "test_cli: all checks passed" >&2
exit 0
