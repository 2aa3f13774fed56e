#!/bin/sh
# test_tune.sh — `fedrec tune` end to end on tiny runs: the trials run as
# child processes (side by side), every trial is a row of trials.csv, the
# chosen configuration is the one with the best mean validation figure
# (checked against the table with awk), only its test figures are shown
# (the mean over its seeds), best.ini holds it; a rerun skips finished
# trials and reruns removed or interrupted ones; random draws repeat with
# the same --seed and stay in range; a failing trial is reported; every job
# kind tunes, the ctr demo on its validation rows.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_tune.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$tmp/err")"
}
rows() { tail -n +2 "$1" | grep -c .; }

R="--set data.users=40 --set data.items=60 --set data.per_user=10 --set train.rounds=3 --set pfedrec.eval_negatives=20"
# shellcheck disable=SC2086
expect 0 "$FEDREC" tune $R --grid pfedrec.lr=0.05,0.5 --grid pfedrec.dim=8,16 --seeds 0,1 --jobs 2 --out "$tmp/g"
cp "$tmp/out" "$tmp/g.out"
csv=$tmp/g/trials.csv
head -1 "$csv" | grep -q '^config,seed,pfedrec.lr,pfedrec.dim,status,val_hr,test_hr,test_ndcg,seconds$' ||
    fail "trials.csv header: $(head -1 "$csv")"
[ "$(rows "$csv")" = 8 ] || fail "$(rows "$csv") rows for 4 configurations x 2 seeds"
[ "$(cut -d, -f5 "$csv" | grep -c '^ok$')" = 8 ] || fail "not every trial ok: $(cut -d, -f5 "$csv" | sort | uniq -c)"
# The choice: the best mean val_hr over the seeds, from the table itself.
best=$(awk -F, 'NR > 1 { s[$1] += $6; n[$1]++ } END { b = -1; for (c in s) if (s[c] / n[c] > b || (s[c] / n[c] == b && c + 0 < bc + 0)) { b = s[c] / n[c]; bc = c } print bc }' "$csv")
grep -q "^chosen: configuration $best," "$tmp/g.out" || fail "chose $(grep '^chosen' "$tmp/g.out"), the table's best mean val_hr is configuration $best"
# Its test figure: the mean over its own trials (not the best test of all).
want=$(awk -F, -v c="$best" 'NR > 1 && $1 == c { s += $7; n++ } END { printf "%.4f", s / n }' "$csv")
grep -q "test (this configuration only): test_hr $want +- " "$tmp/g.out" || fail "test_hr shown is not $want: $(grep test_hr "$tmp/g.out")"
lr=$(awk -F, -v c="$best" 'NR > 1 && $1 == c { print $3; exit }' "$csv")
dim=$(awk -F, -v c="$best" 'NR > 1 && $1 == c { print $4; exit }' "$csv")
awk -v lr="$lr" -v dim="$dim" '/^\[/ { p = $0 == "[pfedrec]" } p && $1 == "lr" { l = $3 } p && $1 == "dim" { d = $3 } END { exit !(l == lr && d == dim) }' "$tmp/g/best.ini" ||
    fail "best.ini does not hold pfedrec.lr = $lr, pfedrec.dim = $dim"
expect 0 "$FEDREC" config --check "$tmp/g/best.ini"
# Each trial ran with its own values and seed (its summary's configuration).
n=0
for j in "$tmp"/g/trials/*.json; do
    n=$((n + 1))
    grep -q 'lr = 0.05\\n\|lr = 0.5\\n' "$j" || fail "$j: no searched pfedrec.lr in its configuration"
done
[ "$n" = 8 ] || fail "$n trial summaries, expected 8"

# A rerun runs nothing; a removed row and an interrupted trial run again.
# shellcheck disable=SC2086
expect 0 "$FEDREC" tune $R --grid pfedrec.lr=0.05,0.5 --grid pfedrec.dim=8,16 --seeds 0,1 --jobs 2 --out "$tmp/g"
grep -q '(8 done before)' "$tmp/out" || fail "rerun: $(head -1 "$tmp/out")"
grep -q '^trial ' "$tmp/out" && fail "rerun ran trials again"
[ "$(rows "$csv")" = 8 ] || fail "rerun added rows"
sed -i '3d' "$csv"
sed -i '2s/,ok,/,killed (signal 15),/' "$csv"
# shellcheck disable=SC2086
expect 0 "$FEDREC" tune $R --grid pfedrec.lr=0.05,0.5 --grid pfedrec.dim=8,16 --seeds 0,1 --jobs 2 --out "$tmp/g"
grep -q '(6 done before)' "$tmp/out" || fail "resume: $(head -1 "$tmp/out")"
[ "$(grep -c '^trial ' "$tmp/out")" = 2 ] || fail "resume ran $(grep -c '^trial ' "$tmp/out") trials, expected 2"
grep "^chosen" "$tmp/out" | cmp -s - "$(grep '^chosen' "$tmp/g.out" >"$tmp/c1"; echo "$tmp/c1")" || fail "the resumed search chose otherwise"

# Random draws: in range, integers for integer keys, the same for the same --seed.
# shellcheck disable=SC2086
expect 0 "$FEDREC" tune $R --random pfedrec.lr=0.01:1:log --random pfedrec.dim=4:32 --trials 4 --seed 7 --jobs 2 --out "$tmp/r1" --quiet
# shellcheck disable=SC2086
expect 0 "$FEDREC" tune $R --random pfedrec.lr=0.01:1:log --random pfedrec.dim=4:32 --trials 4 --seed 7 --jobs 1 --out "$tmp/r2" --quiet
# shellcheck disable=SC2086
expect 0 "$FEDREC" tune $R --random pfedrec.lr=0.01:1:log --random pfedrec.dim=4:32 --trials 4 --seed 8 --out "$tmp/r3" --quiet
draws() { tail -n +2 "$1/trials.csv" | cut -d, -f1,3,4 | sort; }
[ "$(draws "$tmp/r1")" = "$(draws "$tmp/r2")" ] || fail "the same --seed drew differently"
[ "$(draws "$tmp/r1")" = "$(draws "$tmp/r3")" ] && fail "--seed 7 and 8 drew the same"
[ "$(rows "$tmp/r1/trials.csv")" = 4 ] || fail "--trials 4 ran $(rows "$tmp/r1/trials.csv")"
tail -n +2 "$tmp/r1/trials.csv" | awk -F, '!($3 >= 0.01 && $3 <= 1 && $4 >= 4 && $4 <= 32 && $4 == int($4)) { bad = 1 } END { exit bad }' ||
    fail "a draw out of range: $(cat "$tmp/r1/trials.csv")"

# A trial that fails: reported, the choice made among the others, exit 1.
# shellcheck disable=SC2086
expect 1 "$FEDREC" tune $R --grid data.source=synthetic,movielens --out "$tmp/f"
grep -q 'failed (exit 3)' "$tmp/f/trials.csv" || fail "the failed trial's row: $(cat "$tmp/f/trials.csv")"
grep -q '^chosen: configuration 1, data.source=synthetic' "$tmp/out" || fail "no choice among the finished: $(cat "$tmp/out")"
grep -q '1 trial failed; their logs are in' "$tmp/err" || fail "failure not reported: $(cat "$tmp/err")"
ls "$tmp"/f/trials/*.log >/dev/null 2>&1 || fail "no trial logs"

# Every job kind that has a validation metric.
for k in fedmf fedncf central-mf; do
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" tune $R --set job.kind=$k --grid pfedrec.negatives=2,4 --out "$tmp/$k" --quiet
    grep -q '^chosen: configuration [12], pfedrec.negatives=' "$tmp/out" || fail "$k: $(cat "$tmp/out" "$tmp/err")"
done
# (msmt.experts: the msmt job's; fedmsmt refuses it)
fedmsmt_sizes="--set data.rows=3000 --set msmt.expert_layers=8 --set msmt.tower_layers=4"
msmt="$fedmsmt_sizes --set msmt.experts=2"
# shellcheck disable=SC2086
expect 0 "$FEDREC" tune "$top_srcdir/conf/msmt-synthetic.ini" $msmt --set train.epochs=2 --grid train.lr=0.001,0.01 --out "$tmp/msmt" --quiet
grep -q 'validation valid_auc 0\.' "$tmp/out" || fail "msmt: $(cat "$tmp/out" "$tmp/err")"
# shellcheck disable=SC2086
expect 0 "$FEDREC" tune "$top_srcdir/conf/pfmsmtrec-synthetic.ini" $fedmsmt_sizes --set train.rounds=2 --grid fedmsmt.method=fedavg,pfmsmtrec --out "$tmp/fedmsmt" --quiet
grep -q 'validation valid_auc 0\.' "$tmp/out" || fail "fedmsmt: $(cat "$tmp/out" "$tmp/err")"
expect 0 "$FEDREC" tune "$top_srcdir/conf/mtrec-synthetic.ini" --set data.users=80 --set data.items=60 --set train.epochs=2 \
    --set mtrec.min_epochs=1 --grid mtrec.combiner=ew,pmtrec --out "$tmp/mtrec" --quiet
grep -q 'validation valid_recall@20 0\.' "$tmp/out" || fail "mtrec: $(cat "$tmp/out" "$tmp/err")"
# A key a configuration's job does not read is dropped from its trials
# (mtrec.tau is PMTRec's alone): EW runs once per seed, not once per tau,
# its row says n/a, and the tune says how many combinations it folded.
mt="--set data.users=80 --set data.items=60 --set train.epochs=2 --set mtrec.min_epochs=1"
fold() {
    # shellcheck disable=SC2086
    expect "$1" "$FEDREC" tune "$top_srcdir/conf/mtrec-synthetic.ini" $mt --grid mtrec.combiner=pmtrec,ew --grid mtrec.tau=0.1,1 \
        --seeds 0,1 --jobs 2 --out "$tmp/fold"
}
fold 0
cp "$tmp/out" "$tmp/fold.out"
csv=$tmp/fold/trials.csv
[ "$(rows "$csv")" = 6 ] || fail "fold: $(rows "$csv") rows, expected 3 configurations x 2 seeds: $(cat "$csv")"
pairs=$(tail -n +2 "$csv" | cut -d, -f1,3,4,5 | sort | uniq -c | awk '{ printf "%s %s;", $1, $2 }')
[ "$pairs" = "2 1,pmtrec,0.1,ok;2 2,pmtrec,1,ok;2 3,ew,n/a,ok;" ] || fail "fold: the trials (count config,combiner,tau,status): $pairs"
grep -q '^fedrec tune: .*, 3 configurations (4 combinations, 1 folded into another' "$tmp/fold.out" ||
    fail "fold: the header does not say 1 of 4 folded: $(head -1 "$tmp/fold.out")"
grep -q '^1 of the 4 combinations folded into another' "$tmp/fold.out" || fail "fold: the result does not say 1 of 4 folded"
grep -q 'mtrec.combiner=ew mtrec.tau=n/a' "$tmp/fold.out" || fail "fold: the EW configuration is not listed with tau n/a"
best=$(awk -F, 'NR > 1 { s[$1] += $6; n[$1]++ } END { b = -1; for (c in s) if (s[c] / n[c] > b || (s[c] / n[c] == b && c + 0 < bc + 0)) { b = s[c] / n[c]; bc = c } print bc }' "$csv")
grep -q "^chosen: configuration $best," "$tmp/fold.out" || fail "fold: chose $(grep '^chosen' "$tmp/fold.out"), the table's best mean valid_recall@20 is configuration $best"
expect 0 "$FEDREC" config --check "$tmp/fold/best.ini"
# A rerun runs nothing; the EW row removed runs that trial alone again.
fold 0
grep -q '(6 done before)' "$tmp/out" || fail "fold rerun: $(head -1 "$tmp/out")"
grep -q '^trial ' "$tmp/out" && fail "fold rerun ran trials again"
sed -i '/,ew,n\/a,ok,/{/^3,1,/d}' "$csv"
[ "$(rows "$csv")" = 5 ] || fail "fold: the EW row of seed 1 was not removed: $(cat "$csv")"
fold 0
[ "$(grep -c '^trial ' "$tmp/out")" = 1 ] && grep -q '^trial 6/6: mtrec.combiner=ew mtrec.tau=n/a, seed 1: ' "$tmp/out" ||
    fail "fold resume: expected the EW trial of seed 1 alone: $(grep '^trial' "$tmp/out")"
# A searched key no configuration reads: refused before anything runs.
# shellcheck disable=SC2086
expect 3 "$FEDREC" tune "$top_srcdir/conf/mtrec-synthetic.ini" $mt --set mtrec.combiner=ew --grid mtrec.tau=0.1,1 --out "$tmp/none"
grep -q 'mtrec.tau: job.kind = mtrec reads it only with mtrec.combiner = pmtrec, and no configuration of this search has that' "$tmp/err" ||
    fail "a key read by no configuration: $(cat "$tmp/err")"
[ -e "$tmp/none" ] && fail "a refused search created its folder"
# shellcheck disable=SC2086
expect 3 "$FEDREC" tune "$top_srcdir/conf/mtrec-synthetic.ini" $mt --grid mtrec.combiner=ew,main --random mtrec.tau=0.1:1 --out "$tmp/none"
grep -q 'random mtrec.tau: job.kind = mtrec reads it only with' "$tmp/err" || fail "a --random key read by no configuration: $(cat "$tmp/err")"
expect 3 "$FEDREC" tune $R --grid mtrec.tau=0.1,1 --out "$tmp/none"
grep -q 'grid mtrec.tau: job.kind = pfedrec does not read it (the jobs that do: mtrec' "$tmp/err" || fail "a key of another job: $(cat "$tmp/err")"
expect 2 "$FEDREC" tune $R --grid pfedrec.lr=0.1,n/a --out "$tmp/none"
grep -q "'n/a' is how trials.csv marks" "$tmp/err" || fail "n/a as a value: $(cat "$tmp/err")"
# The ctr demo selects on its validation rows' AUC: the choice is the best
# mean valid_auc of the table, the test figures shown are the chosen
# configuration's mean, and each trial's summary holds the test figures of
# its report's best validation epoch.
ctr="--set job.kind=ctr --set data.rows=3000 --set train.epochs=3"
# shellcheck disable=SC2086
expect 0 "$FEDREC" tune $ctr --grid train.lr=0.001,0.01 --seeds 0,1 --jobs 2 --out "$tmp/ctr" --quiet
csv=$tmp/ctr/trials.csv
head -1 "$csv" | grep -q '^config,seed,train.lr,status,valid_auc,test_auc,test_logloss,seconds$' ||
    fail "ctr trials.csv header: $(head -1 "$csv")"
[ "$(cut -d, -f4 "$csv" | grep -c '^ok$')" = 4 ] || fail "ctr: not every trial ok: $(cat "$csv" "$tmp/err")"
best=$(awk -F, 'NR > 1 { s[$1] += $5; n[$1]++ } END { b = -1; for (c in s) if (s[c] / n[c] > b) { b = s[c] / n[c]; bc = c } print bc }' "$csv")
grep -q "^chosen: configuration $best," "$tmp/out" || fail "ctr chose $(grep '^chosen' "$tmp/out"), the table's best mean valid_auc is configuration $best"
want=$(awk -F, -v c="$best" 'NR > 1 && $1 == c { s += $6; n++ } END { printf "%.4f", s / n }' "$csv")
grep -q "test (this configuration only): test_auc $want +- " "$tmp/out" || fail "ctr: test_auc shown is not $want: $(grep test_auc "$tmp/out")"
n=0
for j in "$tmp"/ctr/trials/*.json; do
    n=$((n + 1))
    r=${j%.json}.csv
    [ -s "$r" ] || { fail "ctr: no report $r beside $j"; continue; }
    # The report row with the highest valid_auc (the earlier on ties).
    row=$(awk -F, 'NR > 1 && (b == "" || $4 > b) { b = $4; t = $6; e = $1 } END { print e, t }' "$r")
    got=$(sed -n 's/^ *"best_epoch": \([0-9]*\),*$/\1/p' "$j")
    tauc=$(sed -n 's/^ *"test_auc": \([-+0-9.eE]*\),*$/\1/p' "$j")
    awk -v row="$row" -v e="$got" -v t="$tauc" 'BEGIN { split(row, w, " "); d = w[2] - t; exit !(w[1] == e && d < 1e-6 && -d < 1e-6) }' ||
        fail "ctr: $j says best epoch $got, test_auc $tauc; its report's best validation row is epoch/test_auc $row"
done
[ "$n" = 4 ] || fail "ctr: $n trial summaries, expected 4"
expect 0 "$FEDREC" tune --help
grep -q -- '--random' "$tmp/out" || fail "tune --help does not describe --random"
grep -q "runs 3 configurations" "$tmp/out" || fail "tune --help does not describe folding"

if [ "$failures" -ne 0 ]; then
    echo "test_tune: $failures failure(s)" >&2
    exit 1
fi
echo "test_tune: all checks passed" >&2
exit 0
