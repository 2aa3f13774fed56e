#!/bin/sh
# test_saved_models.sh — saved models of the rating jobs (pfedrec, fedmf,
# fedncf, central-mf) and of mtrec, end to end:
# - train --save, then eval: the figures training printed for the saved
#   round (its best-validation one), the same printed lines and the same
#   --summary values to the last digit; output.model_from = last: the last
#   round's figures of the report;
# - eval on data read again (--set data.path=the same file: the same
#   figures; another file: its users and items the model does not know left
#   out and counted);
# - recommend: no item the user interacted with, the ranking a brute force
#   recomputes from the exported files with numpy (tests/saved/brute_force.py),
#   text, CSV and JSON;
# - export: .npy files numpy reads, equal to the CSV files, ids in the
#   original id space, every file in manifest.json.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
top_builddir=$(cd "$top_builddir" && pwd) top_srcdir=$(cd "$top_srcdir" && pwd)
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_saved.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 99
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
PY=/usr/bin/python3
have_numpy=0
"$PY" -c 'import numpy' 2>/dev/null && have_numpy=1
[ "$have_numpy" -eq 1 ] || skip_part "test_saved_models: the numpy checks (brute-force ranking, .npy files): /usr/bin/python3 with numpy not found (apt install python3-numpy)"

# The commands are listed and describe themselves.
"$FEDREC" --help >commands.out 2>&1 || fail "fedrec --help failed"
for cmd in eval recommend export; do
    grep -q "^  $cmd " commands.out || fail "fedrec --help does not list $cmd"
    "$FEDREC" $cmd --help >help.out 2>&1 || fail "fedrec $cmd --help failed"
    grep -q "^Usage: fedrec $cmd MODEL" help.out || fail "fedrec $cmd --help: $(head -n 2 help.out)"
done

# A u.data-like file with sparse original ids: 50 users, 10 to 22
# interactions each over 90 items (user 1000 + 7u, item 5000 + 3i).
awk 'BEGIN { for (u = 0; u < 50; u++) { n = 10 + (u * 5) % 13
               for (k = 0; k < n; k++) printf "%d\t%d\t%d\t%d\n", 1000 + 7 * u, 5000 + 3 * ((u * 11 + k * k + 3 * k) % 90), 1 + (u + k) % 5, k } }' >r.data
# metric NAME FILE: a summary's metric, as printed (%.10g).
metric() { sed -n "s/^ *\"$1\": \([^,]*\),*$/\1/p" "$2"; }
# The final table's lines of training and eval: "  validation ..." and "  test ...".
table() { grep -E '^  (validation|test) ' "$1"; }

R="--set data.source=movielens --set data.path=r.data --set pfedrec.eval_negatives=20 --set pfedrec.dim=8"
for kind in pfedrec fedmf fedncf central-mf; do
    case $kind in
        fedmf|fedncf) extra="--set pfedrec.lr_eta=1" ;;
        central-mf) extra="--set pfedrec.central_lr=0.01" ;;
        *) extra="" ;;
    esac
    # shellcheck disable=SC2086
    "$FEDREC" train $R $extra --set job.kind=$kind --set train.rounds=4 --report $kind.csv --summary $kind.json \
        --save $kind.frm >$kind.out 2>$kind.err || { fail "$kind: training failed: $(cat $kind.err)"; continue; }
    grep -q "^model saved to $kind.frm (round [1-4]: the best validation round)" $kind.out ||
        fail "$kind: no 'model saved' line: $(tail -n 2 $kind.out)"
    "$FEDREC" eval $kind.frm --summary $kind.eval.json >$kind.eval 2>&1 || fail "$kind: eval failed: $(cat $kind.eval)"
    table $kind.out >want.txt
    table $kind.eval >got.txt
    [ -s want.txt ] && cmp -s want.txt got.txt || fail "$kind: eval printed '$(cat got.txt)', training '$(cat want.txt)'"
    for m in val_hr val_ndcg test_hr test_ndcg; do
        a=$(metric $m $kind.json) b=$(metric $m $kind.eval.json)
        [ -n "$a" ] && [ "$a" = "$b" ] || fail "$kind: $m trained $a, evaluated $b"
    done
    [ "$(metric best_round $kind.json)" = "$(metric round $kind.eval.json)" ] ||
        fail "$kind: saved round $(metric round $kind.eval.json), best $(metric best_round $kind.json)"
    # The same data read again gives the same figures and says so.
    "$FEDREC" eval $kind.frm --set data.path=r.data --summary again.json >again.out 2>&1 || fail "$kind: eval on r.data failed: $(cat again.out)"
    grep -q "the same split as training" again.out || fail "$kind: eval on the same file: $(head -n 3 again.out)"
    [ "$(metric test_ndcg again.json)" = "$(metric test_ndcg $kind.json)" ] || fail "$kind: eval on r.data: test NDCG differs"

    # The last round's model: the report's last row.
    # shellcheck disable=SC2086
    "$FEDREC" train $R $extra --set job.kind=$kind --set train.rounds=3 --set output.model_from=last --report last.csv \
        --save last.frm --quiet >last.out 2>&1 || fail "$kind: training (last) failed: $(cat last.out)"
    grep -q "model saved to last.frm (round 3: the last round)" last.out || fail "$kind: last: $(tail -n 1 last.out)"
    "$FEDREC" eval last.frm --summary last.json >/dev/null 2>&1 || fail "$kind: eval of the last round failed"
    want=$(awk -F, 'END { printf "%.6f %.6f", $5, $6 }' last.csv)
    got=$(awk -v h="$(metric test_hr last.json)" -v n="$(metric test_ndcg last.json)" 'BEGIN { printf "%.6f %.6f", h, n }')
    [ "$want" = "$got" ] || fail "$kind: the last round's test HR, NDCG $want in the report, $got evaluated"

    # recommend: every user, brute-forced from the export.
    cut -f 1 r.data | sort -u >users.txt
    "$FEDREC" recommend $kind.frm --users users.txt --top 7 --format csv >rec.csv 2>rec.err || fail "$kind: recommend failed: $(cat rec.err)"
    [ "$(wc -l <rec.csv)" -eq $((50 * 7 + 1)) ] || fail "$kind: recommend wrote $(wc -l <rec.csv) lines, expected 351"
    # No interacted item (original ids on both sides).
    awk -F'\t' 'NR == FNR { seen[$1 "," $2] = 1; next } FNR > 1 { split($0, f, ","); if (seen[f[1] "," f[3]]) { print "user " f[1] " got item " f[3]; bad = 1 } } END { exit bad }' \
        r.data rec.csv || fail "$kind: recommend listed items the user interacted with"
    "$FEDREC" export $kind.frm --out ex_$kind >ex.out 2>&1 || fail "$kind: export failed: $(cat ex.out)"
    if [ "$have_numpy" -eq 1 ]; then
        "$PY" "$top_srcdir/tests/saved/brute_force.py" ex_$kind r.data rec.csv 7 >bf.out 2>&1 ||
            fail "$kind: recommend differs from the brute force over the export: $(head -n 5 bf.out)"
        "$PY" "$top_srcdir/tests/saved/check_export.py" ex_$kind >ce.out 2>&1 ||
            fail "$kind: export: $(head -n 5 ce.out)"
    fi
done

# The printed forms of recommend.
U=$(head -n 1 users.txt)
"$FEDREC" recommend pfedrec.frm --user "$U" --top 3 >text.out 2>&1 || fail "recommend text failed: $(cat text.out)"
grep -q "^user $U: the top 3 of [0-9]* items the user has not interacted with" text.out || fail "recommend text: $(cat text.out)"
[ "$(grep -c '^ *[123]  5[0-9]* ' text.out)" -eq 3 ] || fail "recommend text: not 3 ranked items: $(cat text.out)"
"$FEDREC" recommend pfedrec.frm --user "$U" --user "$U" --top 2 --format json >j.out 2>&1 || fail "recommend json failed"
if [ "$have_numpy" -eq 1 ]; then
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["kind"] == "pfedrec" and len(d["users"]) == 2 and len(d["users"][1]["items"]) == 2 and d["users"][0]["items"][0]["rank"] == 1' j.out ||
        fail "recommend json: $(cat j.out)"
fi

# Eval on other data: a user and an item the model does not know, left out and counted.
{ head -n 300 r.data; printf '77\t5000\t3\t1\n77\t5003\t3\t2\n77\t5006\t3\t3\n1000\t99999\t3\t9\n'; } >other.data
"$FEDREC" eval pfedrec.frm --set data.path=other.data >other.out 2>&1 || fail "eval on other data failed: $(cat other.out)"
grep -q "on other.data (304 rows; 4 left out: 1 user(s) and 1 item(s) the model does not know)" other.out ||
    fail "eval on other data: $(head -n 3 other.out)"
grep -q "a split other than training's" other.out || fail "eval on other data: not told apart: $(head -n 3 other.out)"

# mtrec: central and federated, on the same file split per user.
MT="--set job.kind=mtrec --set data.source=movielens --set data.path=r.data --set mtrec.dim=8 --set mtrec.tasks=bpr,rating --set train.batch_size=64"
for mode in central federated; do
    fed=false
    [ $mode = federated ] && fed=true
    # shellcheck disable=SC2086
    length="--set train.epochs=4"
    [ $fed = true ] && length="--set train.rounds=4" # rounds, not epochs, when federated
    "$FEDREC" train $MT --set mtrec.federated=$fed $length --summary mt.json --save mt.frm >mt.out 2>&1 ||
        { fail "mtrec $mode: training failed: $(tail -n 3 mt.out)"; continue; }
    "$FEDREC" eval mt.frm --summary mt.eval.json >mt.eval 2>&1 || fail "mtrec $mode: eval failed: $(cat mt.eval)"
    for m in test_recall@5 test_recall@20 test_ndcg@10 test_ndcg@40 valid_recall@20; do
        a=$(metric "$m" mt.json) b=$(metric "$m" mt.eval.json)
        [ -n "$a" ] && [ "$a" = "$b" ] || fail "mtrec $mode: $m trained $a, evaluated $b"
    done
    # The test table's lines as training printed them.
    sed -n '/test at that/,/NDCG/p' mt.out | grep -E '^ *(Recall|NDCG) ' >want.txt
    sed -n '/^test (/,/NDCG/p' mt.eval | grep -E '^ *(Recall|NDCG) ' >got.txt
    [ -s want.txt ] && cmp -s want.txt got.txt || fail "mtrec $mode: eval printed '$(cat got.txt)', training '$(cat want.txt)'"
    "$FEDREC" eval mt.frm --set data.path=r.data --summary mt.again.json >mt.again 2>&1 || fail "mtrec $mode: eval on r.data failed: $(cat mt.again)"
    grep -q "the same data as training" mt.again || fail "mtrec $mode: eval on the same file: $(head -n 2 mt.again)"
    [ "$(metric test_ndcg@20 mt.again.json)" = "$(metric test_ndcg@20 mt.json)" ] || fail "mtrec $mode: eval on r.data differs"
    "$FEDREC" recommend mt.frm --users users.txt --top 5 --format csv >mrec.csv 2>&1 || fail "mtrec $mode: recommend failed: $(cat mrec.csv)"
    # mtrec leaves out training, validation and test items: all of r.data's.
    awk -F'\t' 'NR == FNR { seen[$1 "," $2] = 1; next } FNR > 1 { split($0, f, ","); if (seen[f[1] "," f[3]]) { print "user " f[1] " got item " f[3]; bad = 1 } } END { exit bad }' \
        r.data mrec.csv || fail "mtrec $mode: recommend listed items the user interacted with"
    "$FEDREC" export mt.frm --out ex_mt >/dev/null 2>&1 || fail "mtrec $mode: export failed"
    if [ "$have_numpy" -eq 1 ]; then
        "$PY" "$top_srcdir/tests/saved/brute_force.py" ex_mt r.data mrec.csv 5 >bf.out 2>&1 ||
            fail "mtrec $mode: recommend differs from the brute force: $(head -n 5 bf.out)"
        "$PY" "$top_srcdir/tests/saved/check_export.py" ex_mt >ce.out 2>&1 || fail "mtrec $mode: export: $(head -n 5 ce.out)"
    fi
    rm -rf ex_mt
done

if [ "$failures" -ne 0 ]; then
    echo "test_saved_models: $failures failure(s)" >&2
    exit 1
fi
echo "test_saved_models: all checks passed" >&2
exit 0
