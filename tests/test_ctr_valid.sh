#!/bin/sh
# test_ctr_valid.sh — the ctr demo's validation rows (data.valid_fraction):
# the rows split into training, validation and test parts of the sizes the
# keys say; the training rows are the same whatever the other two parts
# hold (validation rows never reach training) and the test rows the same
# whatever the validation part is; the run keeps the epoch with the best
# validation AUC, reports that epoch's test figures in its summary (with
# valid_auc and valid_logloss) and saves that epoch's model; the figures
# repeat exactly.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_ctr_valid.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$tmp/err")"
}
# json_num KEY FILE: the number KEY has in a summary file (empty if none).
json_num() {
    sed -n "s/^ *\"$1\": \([-+0-9.eE]*\),\{0,1\}\$/\1/p" "$2" | head -n 1
}
# column N FILE: column N of a CSV report, without its header.
column() { tail -n +2 "$2" | cut -d, -f"$1"; }

# 3000 rows overfit within a few epochs: the best validation epoch is
# neither the last (so keeping the best model is seen in what is saved)
# nor the best test epoch (so a choice made on test figures is seen).
small="--set job.kind=ctr --set data.rows=3000 --set train.epochs=6 --set train.lr=0.1 --set backend.threads=1"

# The parts: 20% test (the last 600 rows), 10% validation (the 300 before).
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $small --report "$tmp/a.csv" --summary "$tmp/a.json" --save "$tmp/a.frm"
cp "$tmp/out" "$tmp/a.out"
grep -q "2100 training, 300 validation and 600 test rows" "$tmp/a.out" || fail "parts: $(head -n 1 "$tmp/a.out")"
head -n 1 "$tmp/a.csv" | grep -qx "epoch,train_loss,valid_logloss,valid_auc,test_logloss,test_auc,seconds" ||
    fail "report header: $(head -n 1 "$tmp/a.csv")"
[ "$(tail -n +2 "$tmp/a.csv" | grep -c .)" = 6 ] || fail "report: $(cat "$tmp/a.csv")"
[ "$(column 4 "$tmp/a.csv")" = "$(column 6 "$tmp/a.csv")" ] && fail "validation and test AUC equal every epoch: one part scored twice"

# The same training rows with the validation and test parts swapped in
# size (10% test, 20% validation): training sees the same 2100 rows in the
# same order, so its losses are equal to the last digit; the validation
# figures, now on 600 rows, are not.
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $small --set data.test_fraction=0.1 --set data.valid_fraction=0.2 --report "$tmp/b.csv" --quiet
[ "$(column 2 "$tmp/a.csv")" = "$(column 2 "$tmp/b.csv")" ] ||
    fail "the training losses depend on the validation part: $(paste -d'|' "$tmp/a.csv" "$tmp/b.csv")"
[ "$(column 4 "$tmp/a.csv")" = "$(column 4 "$tmp/b.csv")" ] &&
    fail "300 and 600 validation rows gave the same validation AUC: the validation part did not move"
# More validation rows, the same test rows: the saved model scores the
# same on them whatever data.valid_fraction says (its configuration kept
# 0.1), and the validation rows take nothing from the test part.
expect 0 "$FEDREC" eval "$tmp/a.frm"
cp "$tmp/out" "$tmp/eval1"
expect 0 "$FEDREC" eval "$tmp/a.frm" --set data.valid_fraction=0.5
grep -v '^model' "$tmp/out" | cmp -s - "$(grep -v '^model' "$tmp/eval1" >"$tmp/eval1b"; echo "$tmp/eval1b")" ||
    fail "the test figures moved with data.valid_fraction: $(cat "$tmp/eval1" "$tmp/out")"
grep -q "^test_rows *600$" "$tmp/eval1" || fail "eval: $(cat "$tmp/eval1")"

# The best validation epoch: the report's highest valid_auc (the earlier
# on ties), never chosen on test figures.
best=$(awk -F, 'NR > 1 && (b == "" || $4 > b) { b = $4; e = $1 } END { print e }' "$tmp/a.csv")
last=$(tail -n 1 "$tmp/a.csv" | cut -d, -f1)
best_test=$(awk -F, 'NR > 1 && (b == "" || $6 > b) { b = $6; e = $1 } END { print e }' "$tmp/a.csv")
if [ "$best" = "$last" ] || [ "$best" = "$best_test" ]; then
    fail "the fixture no longer tells the choices apart (best validation epoch $best, best test epoch $best_test, last $last): change it"
fi
row=$(awk -F, -v e="$best" 'NR > 1 && $1 == e' "$tmp/a.csv")
for pair in valid_logloss:3 valid_auc:4 test_logloss:5 test_auc:6; do
    key=${pair%:*} col=${pair#*:}
    want=$(echo "$row" | cut -d, -f"$col")
    got=$(json_num "$key" "$tmp/a.json")
    awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; exit !(a != "" && d <= 1e-6 && -d <= 1e-6) }' ||
        fail "summary $key = '$got', the best validation epoch $best's report row has $want"
done
[ "$(json_num best_epoch "$tmp/a.json")" = "$best" ] || fail "summary best_epoch $(json_num best_epoch "$tmp/a.json"), the report's is $best"
[ "$(json_num epochs "$tmp/a.json")" = 6 ] || fail "summary epochs: $(json_num epochs "$tmp/a.json")"
grep -q "^best validation epoch $best of 6: " "$tmp/a.out" || fail "train's last line: $(tail -n 2 "$tmp/a.out")"
# The model saved is that epoch's: eval prints its test AUC, not the last epoch's.
want=$(echo "$row" | cut -d, -f6)
grep -q "^test_auc *$want$" "$tmp/eval1" || fail "eval printed '$(cat "$tmp/eval1")', the best validation epoch's test AUC is $want"

# Reproducible: the same configuration gives the same figures, with one
# thread or two.
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $small --report "$tmp/c.csv" --summary "$tmp/c.json" --quiet
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $small --set backend.threads=2 --report "$tmp/d.csv" --quiet
cut -d, -f1-6 "$tmp/a.csv" >"$tmp/a6"
for r in c d; do
    cut -d, -f1-6 "$tmp/$r.csv" | cmp -s "$tmp/a6" - || fail "run $r differs: $(paste -d'|' "$tmp/a.csv" "$tmp/$r.csv")"
done
sed -n '/"metrics"/,/}/p' "$tmp/a.json" >"$tmp/am"
sed -n '/"metrics"/,/}/p' "$tmp/c.json" | cmp -s "$tmp/am" - || fail "summaries differ: $(cat "$tmp/am")"

if [ "$failures" -ne 0 ]; then
    echo "test_ctr_valid: $failures failure(s)" >&2
    exit 1
fi
echo "test_ctr_valid: all checks passed" >&2
exit 0
