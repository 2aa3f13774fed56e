#!/bin/sh
# test_saved_msmt.sh — the multi-scenario jobs' saved models end to end:
# msmt (every architecture, ESMM) and fedmsmt (every method) save on
# --save the model of the best validation epoch or round; `fedrec eval`
# of the file prints, on the same data, exactly the table of AUC and log
# loss per scenario x task that training printed, and on new rows of the
# same schema (another draw, another table file) other figures; data of
# another schema and --set keys that shape the model are refused, naming
# what differs; `fedrec export` writes arrays that numpy reads back and
# runs to eval's figures (tests/check_export_msmt.py).
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_saved_msmt.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect CODE CMD...: run CMD, check its exit code, keep output in $tmp/out.
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(head -c 600 "$tmp/err")"
}

# table FILE: the per-scenario x task table (header to the mean line).
table() {
    sed -n '/^scenario  *task  *valid_auc/,/^mean /p' "$1"
}

# same_summary NAME TRAIN_JSON EVAL_JSON: the four figures to the last digit.
same_summary() {
    for key in test_auc test_logloss valid_auc valid_logloss; do
        a=$(sed -n "s/.*\"$key\": *\([^,]*\),*$/\1/p" "$2") b=$(sed -n "s/.*\"$key\": *\([^,]*\),*$/\1/p" "$3")
        [ -n "$a" ] && [ "$a" = "$b" ] || fail "$1: $key is '$b' in eval's summary, '$a' in training's"
    done
}

# same_table NAME TRAIN_OUT: eval's table ($tmp/out) equals training's.
same_table() {
    table "$2" >"$tmp/t_train"
    table "$tmp/out" >"$tmp/t_eval"
    if [ ! -s "$tmp/t_train" ] || ! cmp -s "$tmp/t_train" "$tmp/t_eval"; then
        fail "$1: eval's table differs from training's:
$(diff "$tmp/t_train" "$tmp/t_eval" | head -n 12)"
    fi
}

# Generated rows (data.rows and data.vocab are read for synthetic data
# only), training, and the sizes each architecture reads (a key set for a
# model that does not read it is refused: LR has no experts or towers,
# AutoIFS has keys of its own).
TRAIN="--set train.batch_size=256 --set train.lr=0.01"
SMALL="--set data.rows=6000 --set data.vocab=12 $TRAIN"
EXPERTS="--set msmt.expert_layers=8 --set msmt.tower_layers=4"
MMOE_SMALL="$EXPERTS --set msmt.experts=2"

# msmt: each architecture. AutoIFS: two search epochs, the rewind, a
# retrain; its widths small.
IFS_SMALL="--set autoifs.bottom=16,8 --set autoifs.width=8 --set autoifs.search_epochs=2 --set autoifs.rewind_epoch=1"
for arch in lr shared-bottom mmoe ple autoifs esmm; do
    model=$arch extra=""
    case $arch in
    shared-bottom) extra="$EXPERTS" ;;
    mmoe) extra="$EXPERTS --set msmt.experts=2" ;;
    esmm) model=mmoe extra="$EXPERTS --set msmt.experts=2 --set msmt.esmm=true" ;;
    ple) extra="$EXPERTS --set msmt.experts=2 --set msmt.levels=2" ;;
    autoifs) extra="$IFS_SMALL" ;;
    esac
    expect 0 "$FEDREC" train --set job.kind=msmt --set msmt.model=$model $SMALL $extra --set train.epochs=3 \
        --save "$tmp/$arch.frm" --summary "$tmp/train_$arch.json"
    cp "$tmp/out" "$tmp/train_$arch.out"
    best=$(sed -n 's/^best validation epoch \([0-9]*\) of \([0-9]*\);.*/epoch \1 of \2/p' "$tmp/out")
    grep -q "^model saved to $tmp/$arch.frm ($best)$" "$tmp/out" ||
        fail "msmt $arch: no 'model saved' line naming the best epoch ($best): $(tail -n 2 "$tmp/out")"
    expect 0 "$FEDREC" eval "$tmp/$arch.frm" --summary "$tmp/eval_$arch.json"
    same_table "msmt $arch" "$tmp/train_$arch.out"
    same_summary "msmt $arch" "$tmp/train_$arch.json" "$tmp/eval_$arch.json"
    grep -q "($model[^)]*), $best$" "$tmp/out" && grep -q "the data the model was trained on" "$tmp/out" ||
        fail "msmt $arch: eval's header: $(head -n 2 "$tmp/out")"
done

# The best epoch, not the last: a learning rate this high peaks early.
expect 0 "$FEDREC" train --set job.kind=msmt $SMALL $MMOE_SMALL --set train.lr=0.2 --set train.epochs=6 --set msmt.patience=0 \
    --save "$tmp/peak.frm"
cp "$tmp/out" "$tmp/train_peak.out"
grep -q "^model saved to .* (epoch [1-5] of 6)$" "$tmp/out" ||
    fail "lr 0.2: expected the best epoch before the last: $(tail -n 2 "$tmp/out")"
expect 0 "$FEDREC" eval "$tmp/peak.frm"
same_table "msmt, best epoch before the last" "$tmp/train_peak.out"

# output.model_from = last: the last epoch's model, whose validation
# figures are the report's last row.
expect 0 "$FEDREC" train --set job.kind=msmt $SMALL $MMOE_SMALL --set train.lr=0.2 --set train.epochs=6 --set msmt.patience=0 \
    --set output.model_from=last --report "$tmp/last.csv" --save "$tmp/last.frm"
grep -q "^model saved to .* (epoch 6 of 6 (the last))$" "$tmp/out" || fail "model_from = last: $(tail -n 1 "$tmp/out")"
expect 0 "$FEDREC" eval "$tmp/last.frm" --summary "$tmp/last.json"
got=$(sed -n 's/.*"valid_auc": *\([^,]*\),*$/\1/p' "$tmp/last.json")
want=$(tail -n 1 "$tmp/last.csv" | cut -d, -f3)
[ -n "$want" ] && [ "$(printf '%.6f' "$got")" = "$want" ] ||
    fail "model_from = last: eval's validation AUC $got, the report's last epoch $want"

# New rows of the same schema: another draw of the generator.
expect 0 "$FEDREC" eval "$tmp/mmoe.frm" --set run.seed=11 --set data.rows=4000
grep -q "4000 rows .*other rows of the same schema" "$tmp/out" || fail "another draw: $(head -n 2 "$tmp/out")"
table "$tmp/out" >"$tmp/t_new"
table "$tmp/train_mmoe.out" >"$tmp/t_train"
[ -s "$tmp/t_new" ] && ! cmp -s "$tmp/t_new" "$tmp/t_train" || fail "another draw gave training's table (or none)"
# Another schema: vocabularies, scenarios; keys that shape the model.
expect 4 "$FEDREC" eval "$tmp/mmoe.frm" --set data.vocab=13
grep -q "categorical field 1 has 13 values; the model in $tmp/mmoe.frm has embeddings for 12" "$tmp/err" ||
    fail "other vocabulary: $(cat "$tmp/err")"
expect 4 "$FEDREC" eval "$tmp/mmoe.frm" --set msmt.scenarios=3
grep -q "scenarios 's0', 's1', 's2'; the model in .* was trained on scenarios 's0', 's1', 's2', 's3'" "$tmp/err" ||
    fail "other scenarios: $(cat "$tmp/err")"
expect 3 "$FEDREC" eval "$tmp/mmoe.frm" --set msmt.experts=4
grep -q "msmt.experts=4: msmt.experts is part of the model .*mmoe.frm holds (job.kind = msmt)" "$tmp/err" ||
    fail "model key: $(cat "$tmp/err")"

# Table files: trained on one, evaluated on another of the same schema.
expect 0 "$FEDREC" data synth --out "$tmp/a.tbl" --rows 5000 --vocab 12 --seed 1
expect 0 "$FEDREC" data synth --out "$tmp/b.tbl" --rows 3000 --vocab 12 --seed 2
expect 0 "$FEDREC" train --set job.kind=msmt --set data.source=table --set "data.path=$tmp/a.tbl" $TRAIN $MMOE_SMALL \
    --set train.epochs=2 --save "$tmp/tbl.frm"
cp "$tmp/out" "$tmp/train_tbl.out"
expect 0 "$FEDREC" eval "$tmp/tbl.frm"
same_table "msmt on a table file" "$tmp/train_tbl.out"
expect 0 "$FEDREC" eval "$tmp/tbl.frm" --set "data.path=$tmp/b.tbl"
grep -q "^data: $tmp/b.tbl: 3000 rows .*other rows of the same schema" "$tmp/out" ||
    fail "another table file: $(head -n 2 "$tmp/out")"

# fedmsmt: every method saves every client's model of the best round.
FED="--set data.rows=8000 --set data.vocab=12 --set msmt.expert_layers=8 --set msmt.tower_layers=4 \
    --set train.batch_size=128 --set train.lr=0.02 --set train.rounds=3"
for method in pfmsmtrec fedavg fedprox fedbn local; do
    extra=""
    [ "$method" = fedprox ] && extra="--set fedmsmt.prox_mu=0.1"
    expect 0 "$FEDREC" train --set job.kind=fedmsmt --set fedmsmt.method=$method $FED $extra \
        --set fedmsmt.shared_experts=2 --set fedmsmt.private_experts=1 --save "$tmp/f_$method.frm" \
        --summary "$tmp/train_f_$method.json"
    cp "$tmp/out" "$tmp/train_f_$method.out"
    best=$(sed -n 's/^best validation round \([0-9]*\) of \([0-9]*\);.*/round \1 of \2/p' "$tmp/out")
    grep -q "^model saved to $tmp/f_$method.frm ($best)$" "$tmp/out" ||
        fail "fedmsmt $method: no 'model saved' line naming the best round ($best): $(tail -n 2 "$tmp/out")"
    expect 0 "$FEDREC" eval "$tmp/f_$method.frm" --summary "$tmp/eval_f_$method.json"
    same_table "fedmsmt $method" "$tmp/train_f_$method.out"
    same_summary "fedmsmt $method" "$tmp/train_f_$method.json" "$tmp/eval_f_$method.json"
    grep -q "fedmsmt model ($method, one MMoE client per scenario), $best$" "$tmp/out" ||
        fail "fedmsmt $method: eval's header: $(head -n 1 "$tmp/out")"
done
expect 0 "$FEDREC" train --set job.kind=fedmsmt $FED --set train.lr=0.3 --set train.rounds=5 --save "$tmp/f_peak.frm"
cp "$tmp/out" "$tmp/train_f_peak.out"
grep -q "^model saved to .* (round [1-4] of 5)$" "$tmp/out" ||
    fail "fedmsmt lr 0.3: expected the best round before the last: $(tail -n 2 "$tmp/out")"
expect 0 "$FEDREC" eval "$tmp/f_peak.frm"
same_table "fedmsmt, best round before the last" "$tmp/train_f_peak.out"
expect 0 "$FEDREC" train --set job.kind=fedmsmt $FED --set train.lr=0.3 --set train.rounds=5 \
    --set output.model_from=last --report "$tmp/f_last.csv" --save "$tmp/f_last.frm"
grep -q "^model saved to .* (round 5 of 5 (the last))$" "$tmp/out" || fail "fedmsmt model_from = last: $(tail -n 1 "$tmp/out")"
expect 0 "$FEDREC" eval "$tmp/f_last.frm" --summary "$tmp/f_last.json"
got=$(sed -n 's/.*"test_auc": *\([^,]*\),*$/\1/p' "$tmp/f_last.json")
want=$(tail -n 1 "$tmp/f_last.csv" | cut -d, -f5)
[ -n "$want" ] && [ "$(printf '%.6f' "$got")" = "$want" ] ||
    fail "fedmsmt model_from = last: eval's test AUC $got, the report's last round $want"
expect 0 "$FEDREC" eval "$tmp/f_pfmsmtrec.frm" --set run.seed=5
grep -q "other rows of the same schema" "$tmp/out" || fail "fedmsmt on another draw: $(head -n 2 "$tmp/out")"
expect 3 "$FEDREC" eval "$tmp/f_pfmsmtrec.frm" --set fedmsmt.private_experts=2
grep -q "fedmsmt.private_experts is part of the model .* (job.kind = fedmsmt)" "$tmp/err" ||
    fail "fedmsmt model key: $(cat "$tmp/err")"

# fedrec export, read back with numpy (tests/check_export_msmt.py): every
# architecture's files as the manifest says; LR, MMoE and a fedmsmt
# model's arrays, run forward in numpy on the test rows, give eval's test
# log loss (so the embedding rows are the table's ids, the expert slices
# the right ones, each client its own arrays).
PY=/usr/bin/python3
CHECK="$top_srcdir/tests/check_export_msmt.py"
if ! "$PY" -c 'import numpy' 2>/dev/null; then
    skip_part "test_saved_msmt: fedrec export read back with numpy: $PY with numpy is not installed (python3-numpy)"
else
    for arch in lr shared-bottom mmoe ple autoifs esmm; do
        expect 0 "$FEDREC" export "$tmp/$arch.frm" --out "$tmp/x_$arch"
        grep -q "^exported $tmp/$arch.frm (job.kind = msmt) to $tmp/x_$arch: [1-9][0-9]* file(s)" "$tmp/out" ||
            fail "export of $arch: $(cat "$tmp/out")"
        "$PY" "$CHECK" "$tmp/x_$arch" - files >"$tmp/out" 2>&1 || fail "export of $arch: $(tail -n 5 "$tmp/out")"
    done
    expect 0 "$FEDREC" export "$tmp/f_pfmsmtrec.frm" --out "$tmp/x_fed"
    "$PY" "$CHECK" "$tmp/x_fed" - files >"$tmp/out" 2>&1 || fail "export of fedmsmt: $(tail -n 5 "$tmp/out")"
    for scen in north south east; do
        awk -v s=$scen 'BEGIN { srand(length(s)); print "a,b,c,x,y,click,buy,part";
            for (r = 0; r < 1200; r++) { a = int(rand() * 9); b = int(rand() * 5); c = int(rand() * 4);
                x = rand(); y = rand() * 2 - 1; z = (a % 3) * 0.8 + (b == 2) - x + (s == "east") * 0.5 + rand() * 1.5;
                p = r % 10 < 7 ? "train" : r % 10 < 8 ? "val" : "test";
                printf "v%d,w%d,u%d,%.4f,%.4f,%d,%d,%s\n", a, b, c, x, y, (z > 1.6), (z > 2.2), p } }' >"$tmp/$scen.csv"
    done
    expect 0 "$FEDREC" data convert --columns cat:a,cat:b,cat:c,num:x,num:y,label:click,label:buy,split:part \
        --header --out "$tmp/sc.tbl" "$tmp/north.csv:north" "$tmp/south.csv:south" "$tmp/east.csv:east"
    SC="--set data.source=table --set data.path=$tmp/sc.tbl --set train.batch_size=128 --set train.lr=0.01 --quiet"
    LAYERS="--set msmt.expert_layers=8,6 --set msmt.tower_layers=4" # not LR's
    for kind in lr msmt fedmsmt; do
        case $kind in
        lr) job="--set job.kind=msmt --set msmt.model=lr --set train.epochs=3" ;;
        msmt) job="--set job.kind=msmt --set msmt.experts=3 --set train.epochs=3 $LAYERS" ;;
        fedmsmt) job="--set job.kind=fedmsmt --set train.rounds=3 --set fedmsmt.shared_experts=1 --set fedmsmt.private_experts=2 $LAYERS" ;;
        esac
        expect 0 "$FEDREC" train $job $SC --save "$tmp/n_$kind.frm"
        expect 0 "$FEDREC" eval "$tmp/n_$kind.frm" --summary "$tmp/n_$kind.json"
        expect 0 "$FEDREC" export "$tmp/n_$kind.frm" --out "$tmp/nx_$kind"
        "$PY" "$CHECK" "$tmp/nx_$kind" "$tmp/n_$kind.json" $kind "$tmp/north.csv:north" "$tmp/south.csv:south" \
            "$tmp/east.csv:east" >"$tmp/out" 2>&1 || fail "export of $kind, run in numpy: $(tail -n 5 "$tmp/out")"
    done
fi

# Saving is checked before training: a folder that does not exist.
expect 1 "$FEDREC" train --set job.kind=msmt $SMALL $MMOE_SMALL --save "$tmp/no/such/m.frm"
grep -q "output.model = '$tmp/no/such/m.frm' (--save): cannot write there: $tmp/no/such: No such file or directory" "$tmp/err" &&
    ! grep -q "^epoch" "$tmp/out" || fail "unwritable model folder: $(cat "$tmp/err")"

if [ "$failures" -ne 0 ]; then
    echo "test_saved_msmt: $failures failure(s)" >&2
    exit 1
fi
echo "test_saved_msmt: all checks passed" >&2
exit 0
