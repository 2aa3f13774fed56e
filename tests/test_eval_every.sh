#!/bin/sh
# test_eval_every.sh — train.eval_every and the 'not learning' warning.
#
# For mtrec, msmt, fedmsmt, a rating job (fedmf) and ctr: with
# eval_every = K the report has a row for every epoch or round, its
# evaluation cells filled exactly at the multiples of K and at the last
# one planned (empty in CSV, null in JSON lines elsewhere); the training
# figures of every row and the evaluation figures of the evaluated rows
# equal those of a run that evaluates every epoch (evaluation changes no
# training); the best epoch is the best of the evaluated ones; early
# stopping (mtrec.patience, msmt.patience) counts evaluations: the epoch
# a run stops at is the one a simulation over the every-epoch run's
# validation figures predicts. eval_every = 1 gives the same report as
# leaving it unset. fedrec plot draws an evaluation column through the
# evaluated rows only. The warning: printed once, on standard error (so
# under --quiet too), on runs that cannot learn (a learning rate of
# 1e-9), and not on the same runs with their usual learning rate.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_eval_every.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# run NAME ARGS...: fedrec train ARGS, stdout to NAME.out, stderr to NAME.err.
run() {
    name=$1; shift
    "$FEDREC" train "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || fail "$name: exited $?: $(cat "$tmp/$name.err")"
}
# col NAME FILE: the values of CSV column NAME (by its header), one a line.
col() {
    awk -F, -v want="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next } { print $c }' "$2"
}
# evaluated COLUMN FILE: the first column of the rows where COLUMN is not empty.
evaluated() {
    awk -F, -v want="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next } $c != "" { printf "%s ", $1 }' "$2"
}
# expect_evals N K: the epochs 1..N evaluated with eval_every K.
expect_evals() {
    awk -v n="$1" -v k="$2" 'BEGIN { for (e = 1; e <= n; e++) if (e % k == 0 || e == n) printf "%d ", e }'
}
# rows FILE: data rows of a CSV report.
rows() { tail -n +2 "$1" | grep -c .; }
# same_at COLUMN EVERY.csv BASE.csv: COLUMN of EVERY's evaluated rows equals BASE's at those epochs.
same_at() {
    awk -F, -v want="$1" 'FNR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
        NR == FNR { base[$1] = $c; next }
        $c != "" && $c != base[$1] { print "epoch " $1 ": " $c " vs " base[$1]; bad = 1 }
        END { exit bad }' "$3" "$2"
}
# stop_at COLUMN BASE.csv K PATIENCE MIN LAST: the epoch a run evaluating
# every K epochs stops at and its best epoch, from BASE's figures (the
# first evaluation, then any strictly better, is the best; PATIENCE
# evaluations without a better one end the run at an epoch >= MIN).
stop_at() {
    awk -F, -v want="$1" -v k="$3" -v p="$4" -v min="$5" -v last="$6" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
        { e = $1; if (e % k != 0 && e != last) next
          if (best == "" || $c + 0 > bestv) { best = e; bestv = $c + 0; since = 0 } else since++
          if (p > 0 && since >= p && e >= min) { print e, best; done = 1; exit } }
        END { if (!done) print last, best }' "$2"
}

common="--set run.seed=3 --set backend.threads=1"

# ---- mtrec: a small table that overfits, so that patience ends runs ----
mtrec="--set job.kind=mtrec --set data.source=synthetic --set data.users=300 --set data.items=400 --set data.per_user=20
 --set mtrec.tasks=bpr --set mtrec.combiner=ew --set train.lr=0.02 --set train.batch_size=256 --set mtrec.min_epochs=0 $common"
# shellcheck disable=SC2086
run m_base $mtrec --set train.epochs=24 --set mtrec.patience=0 --report "$tmp/m_base.csv"
# shellcheck disable=SC2086
run m_one $mtrec --set train.epochs=24 --set mtrec.patience=0 --set train.eval_every=1 --report "$tmp/m_one.csv"
cut -d, -f1-13 "$tmp/m_base.csv" >"$tmp/m_base.fig"
cut -d, -f1-13 "$tmp/m_one.csv" >"$tmp/m_one.fig"
cmp -s "$tmp/m_base.fig" "$tmp/m_one.fig" || fail "mtrec: eval_every = 1 and unset differ: $(diff "$tmp/m_base.fig" "$tmp/m_one.fig" | head -n 4)"
[ "$(evaluated valid_recall@20 "$tmp/m_base.csv")" = "$(expect_evals 24 1)" ] || fail "mtrec: every epoch evaluated by default"
# Without patience: evaluations at 5, 10, 15, 20 and the last (24).
# shellcheck disable=SC2086
run m_5 $mtrec --set train.epochs=24 --set mtrec.patience=0 --set train.eval_every=5 --report "$tmp/m_5.csv"
[ "$(rows "$tmp/m_5.csv")" = 24 ] || fail "mtrec eval_every 5: $(rows "$tmp/m_5.csv") rows, expected 24"
[ "$(evaluated valid_recall@20 "$tmp/m_5.csv")" = "$(expect_evals 24 5)" ] ||
    fail "mtrec eval_every 5: evaluated at $(evaluated valid_recall@20 "$tmp/m_5.csv"), expected $(expect_evals 24 5)"
[ "$(evaluated valid_ndcg@40 "$tmp/m_5.csv")" = "$(expect_evals 24 5)" ] || fail "mtrec eval_every 5: valid_ndcg@40 cells"
[ "$(col loss_bpr "$tmp/m_5.csv")" = "$(col loss_bpr "$tmp/m_base.csv")" ] || fail "mtrec eval_every 5: the losses changed"
for c in valid_recall@20 valid_ndcg@5 valid_recall@40; do
    same_at "$c" "$tmp/m_5.csv" "$tmp/m_base.csv" || fail "mtrec eval_every 5: $c differs from the every-epoch run's"
done
grep -q '^     4    [0-9.]*    [0-9.]*           -          -' "$tmp/m_5.out" || fail "mtrec eval_every 5: epoch 4 not printed with '-': $(grep '^     4 ' "$tmp/m_5.out")"
# Patience counts evaluations: simulated on the every-epoch figures.
for kp in "1 3" "2 2" "3 1" "4 2"; do
    set -- $kp
    # shellcheck disable=SC2086
    run m_p $mtrec --set train.epochs=24 --set mtrec.patience=$2 --set train.eval_every=$1 --report "$tmp/m_p.csv" --summary "$tmp/m_p.json"
    set -- $kp $(stop_at valid_recall@20 "$tmp/m_base.csv" "$1" "$2" 0 24)
    [ "$3" -lt 24 ] || fail "mtrec eval_every $1 patience $2: no early stop in the simulation; the test needs one"
    [ "$(rows "$tmp/m_p.csv")" = "$3" ] || fail "mtrec eval_every $1 patience $2: stopped after $(rows "$tmp/m_p.csv") epochs, expected $3"
    [ "$(evaluated valid_recall@20 "$tmp/m_p.csv")" = "$(expect_evals "$3" "$1")" ] || fail "mtrec eval_every $1 patience $2: evaluated at $(evaluated valid_recall@20 "$tmp/m_p.csv")"
    grep -q "\"best_epoch\": $4," "$tmp/m_p.json" || fail "mtrec eval_every $1 patience $2: best epoch $(grep best_epoch "$tmp/m_p.json"), expected $4"
    grep -q "^best validation epoch $4 of $3 " "$tmp/m_p.out" || fail "mtrec eval_every $1 patience $2: $(grep '^best validation' "$tmp/m_p.out")"
done
# JSON lines: null where not evaluated.
# shellcheck disable=SC2086
run m_j $mtrec --set train.epochs=4 --set train.eval_every=3 --report "$tmp/m_j.jsonl"
sed -n 1p "$tmp/m_j.jsonl" | grep -q '"valid_recall@20":null' || fail "mtrec jsonl: epoch 1 not null: $(sed -n 1p "$tmp/m_j.jsonl")"
sed -n 3p "$tmp/m_j.jsonl" | grep -q '"valid_recall@20":0\.[0-9]' || fail "mtrec jsonl: epoch 3 not evaluated: $(sed -n 3p "$tmp/m_j.jsonl")"
sed -n 4p "$tmp/m_j.jsonl" | grep -q '"valid_recall@20":0\.[0-9]' || fail "mtrec jsonl: the last epoch not evaluated"
# fedrec plot: a line through the evaluated rows (5 of them) only.
"$FEDREC" plot "$tmp/m_5.csv" --metrics valid_recall@20 --out "$tmp/m_5.svg" >/dev/null 2>"$tmp/plot.err" || fail "plot: $(cat "$tmp/plot.err")"
[ "$(grep -c '<polyline class="series"' "$tmp/m_5.svg")" = 1 ] || fail "plot: $(grep -c '<polyline class="series"' "$tmp/m_5.svg") lines for one series, expected one through the gaps"
[ "$(grep '<polyline class="series"' "$tmp/m_5.svg" | sed 's/.*points="//; s/".*//' | wc -w)" = 5 ] ||
    fail "plot: the line has not the 5 evaluated points: $(grep '<polyline class="series"' "$tmp/m_5.svg")"

# ---- msmt (MMoE on synthetic rows) ----
msmt="--set job.kind=msmt --set msmt.model=mmoe --set data.rows=4000 --set msmt.expert_layers=16 --set msmt.tower_layers=8
 --set msmt.experts=2 --set train.batch_size=256 --set train.lr=0.01 --set msmt.min_epochs=0 $common"
# shellcheck disable=SC2086
run s_base $msmt --set train.epochs=7 --set msmt.patience=0 --report "$tmp/s_base.csv"
# shellcheck disable=SC2086
run s_3 $msmt --set train.epochs=7 --set msmt.patience=0 --set train.eval_every=3 --report "$tmp/s_3.csv" --summary "$tmp/s_3.json"
[ "$(evaluated valid_auc "$tmp/s_3.csv")" = "$(expect_evals 7 3)" ] ||
    fail "msmt eval_every 3: evaluated at $(evaluated valid_auc "$tmp/s_3.csv"), expected $(expect_evals 7 3)"
[ "$(col train_loss "$tmp/s_3.csv")" = "$(col train_loss "$tmp/s_base.csv")" ] || fail "msmt eval_every 3: the losses changed"
same_at valid_auc "$tmp/s_3.csv" "$tmp/s_base.csv" || fail "msmt eval_every 3: valid_auc differs"
same_at valid_logloss "$tmp/s_3.csv" "$tmp/s_base.csv" || fail "msmt eval_every 3: valid_logloss differs"
set -- $(stop_at valid_auc "$tmp/s_3.csv" 3 0 0 7)
grep -q "\"best_epoch\": $2," "$tmp/s_3.json" || fail "msmt eval_every 3: best epoch $(grep best_epoch "$tmp/s_3.json"), expected $2"
# shellcheck disable=SC2086
run s_base12 $msmt --set train.epochs=12 --set msmt.patience=0 --report "$tmp/s_base12.csv"
for kp in "1 2" "2 2" "3 2"; do
    set -- $kp
    # shellcheck disable=SC2086
    run s_p $msmt --set train.epochs=12 --set msmt.patience=$2 --set train.eval_every=$1 --report "$tmp/s_p.csv" --summary "$tmp/s_p.json"
    set -- $kp $(stop_at valid_auc "$tmp/s_base12.csv" "$1" "$2" 0 12)
    [ "$3" -lt 12 ] || fail "msmt eval_every $1 patience $2: no early stop in the simulation; the test needs one"
    [ "$(rows "$tmp/s_p.csv")" = "$3" ] || fail "msmt eval_every $1 patience $2: stopped after $(rows "$tmp/s_p.csv") epochs, expected $3"
    grep -q "\"best_epoch\": $4," "$tmp/s_p.json" || fail "msmt eval_every $1 patience $2: best epoch $(grep best_epoch "$tmp/s_p.json"), expected $4"
done

# ---- fedmsmt ----
fedmsmt="--set job.kind=fedmsmt --set data.rows=3000 --set msmt.expert_layers=8 --set msmt.tower_layers=4 $common"
# shellcheck disable=SC2086
run f_base $fedmsmt --set train.rounds=5 --report "$tmp/f_base.csv"
# shellcheck disable=SC2086
run f_2 $fedmsmt --set train.rounds=5 --set train.eval_every=2 --report "$tmp/f_2.csv" --summary "$tmp/f_2.json"
[ "$(evaluated valid_auc "$tmp/f_2.csv")" = "$(expect_evals 5 2)" ] ||
    fail "fedmsmt eval_every 2: evaluated at $(evaluated valid_auc "$tmp/f_2.csv"), expected $(expect_evals 5 2)"
cell=$(head -n 1 "$tmp/f_2.csv" | tr , '\n' | grep '^test_logloss_' | tail -n 1)
[ "$(evaluated "$cell" "$tmp/f_2.csv")" = "$(expect_evals 5 2)" ] || fail "fedmsmt eval_every 2: cell $cell"
[ "$(col train_loss "$tmp/f_2.csv")" = "$(col train_loss "$tmp/f_base.csv")" ] || fail "fedmsmt eval_every 2: the losses changed"
same_at valid_auc "$tmp/f_2.csv" "$tmp/f_base.csv" || fail "fedmsmt eval_every 2: valid_auc differs"
same_at "$cell" "$tmp/f_2.csv" "$tmp/f_base.csv" || fail "fedmsmt eval_every 2: $cell differs"
set -- $(stop_at valid_auc "$tmp/f_2.csv" 2 0 0 5)
grep -q "\"best_round\": $2," "$tmp/f_2.json" || fail "fedmsmt eval_every 2: best round $(grep best_round "$tmp/f_2.json"), expected $2"
# shellcheck disable=SC2086
run f_j $fedmsmt --set train.rounds=2 --set train.eval_every=2 --report "$tmp/f_j.jsonl"
sed -n 1p "$tmp/f_j.jsonl" | grep -q '"valid_auc":null,"test_auc":null,"valid_logloss":null,"test_logloss":null' || fail "fedmsmt jsonl: round 1 not null"

# ---- a rating job (FedMF) ----
rating="--set job.kind=fedmf --set data.users=60 --set data.items=120 --set data.per_user=15 --set pfedrec.eval_negatives=30 $common"
# shellcheck disable=SC2086
run r_base $rating --set train.rounds=7 --report "$tmp/r_base.csv"
# shellcheck disable=SC2086
run r_3 $rating --set train.rounds=7 --set train.eval_every=3 --report "$tmp/r_3.csv" --summary "$tmp/r_3.json"
[ "$(evaluated val_hr "$tmp/r_3.csv")" = "$(expect_evals 7 3)" ] ||
    fail "fedmf eval_every 3: evaluated at $(evaluated val_hr "$tmp/r_3.csv"), expected $(expect_evals 7 3)"
[ "$(evaluated test_ndcg "$tmp/r_3.csv")" = "$(expect_evals 7 3)" ] || fail "fedmf eval_every 3: test_ndcg cells"
[ "$(col train_loss "$tmp/r_3.csv")" = "$(col train_loss "$tmp/r_base.csv")" ] || fail "fedmf eval_every 3: the losses changed"
for c in val_hr val_ndcg test_hr test_ndcg; do
    same_at "$c" "$tmp/r_3.csv" "$tmp/r_base.csv" || fail "fedmf eval_every 3: $c differs"
done
# the best round: the highest val_hr among the evaluated, the later on ties
best=$(awk -F, 'NR > 1 && $3 != "" && (b == "" || $3 + 0 >= v) { b = $1; v = $3 + 0 } END { print b }' "$tmp/r_3.csv")
grep -q "\"best_round\": $best," "$tmp/r_3.json" || fail "fedmf eval_every 3: best round $(grep best_round "$tmp/r_3.json"), expected $best"

# Half the clients a round: a client trained only in rounds that do not
# evaluate keeps older figures, so the evaluated rounds' figures differ
# from the every-round run's (clients really skip their evaluation), and
# the training is the same.
# shellcheck disable=SC2086
run r_half $rating --set train.rounds=7 --set pfedrec.client_fraction=0.5 --report "$tmp/r_half.csv"
# shellcheck disable=SC2086
run r_half3 $rating --set train.rounds=7 --set pfedrec.client_fraction=0.5 --set train.eval_every=3 --report "$tmp/r_half3.csv"
[ "$(col train_loss "$tmp/r_half3.csv")" = "$(col train_loss "$tmp/r_half.csv")" ] || fail "fedmf half the clients, eval_every 3: the losses changed"
same_at val_ndcg "$tmp/r_half3.csv" "$tmp/r_half.csv" >/dev/null &&
    fail "fedmf half the clients, eval_every 3: the figures equal the every-round run's: the clients of rounds 4 and 5 were evaluated"

# ---- ctr ----
ctr="--set job.kind=ctr --set data.rows=3000 $common"
# shellcheck disable=SC2086
run c_base $ctr --set train.epochs=5 --report "$tmp/c_base.csv"
# shellcheck disable=SC2086
run c_4 $ctr --set train.epochs=5 --set train.eval_every=4 --report "$tmp/c_4.csv"
[ "$(evaluated valid_auc "$tmp/c_4.csv")" = "$(expect_evals 5 4)" ] || fail "ctr eval_every 4: evaluated at $(evaluated valid_auc "$tmp/c_4.csv")"
[ "$(col train_loss "$tmp/c_4.csv")" = "$(col train_loss "$tmp/c_base.csv")" ] || fail "ctr eval_every 4: the losses changed"
same_at test_auc "$tmp/c_4.csv" "$tmp/c_base.csv" || fail "ctr eval_every 4: test_auc differs"

# ---- the 'not learning' warning ----
# None on runs of 20 epochs or rounds that learn (the warning needs 20),
# with their usual learning rates; each job's run at 1e-9 below warns.
# shellcheck disable=SC2086
run s_learn $msmt --set train.epochs=20 --set msmt.patience=0 --set train.eval_every=20
# shellcheck disable=SC2086
run f_learn $fedmsmt --set train.rounds=20 --set train.eval_every=20
# shellcheck disable=SC2086
run r_learn $rating --set train.rounds=20 --set train.eval_every=20
# shellcheck disable=SC2086
run c_learn $ctr --set train.epochs=20 --set train.eval_every=20
for r in m_base s_learn f_learn r_learn c_learn; do
    grep -q "not learning" "$tmp/$r.err" && fail "$r: warned on a run that learns: $(cat "$tmp/$r.err")"
done
# a learning rate of 1e-9: the loss does not move; one warning, on
# standard error, under --quiet too
# shellcheck disable=SC2086
run m_flat $mtrec --set mtrec.patience=0 --set train.epochs=20 --set train.lr=1e-9 --set train.weight_decay=0 --quiet
[ "$(grep -c "not learning" "$tmp/m_flat.err")" = 1 ] || fail "mtrec lr 1e-9: $(grep -c "not learning" "$tmp/m_flat.err") warnings, expected 1: $(cat "$tmp/m_flat.err")"
grep -q "ln 2" "$tmp/m_flat.err" || fail "mtrec lr 1e-9: the BPR loss at ln 2 not said: $(cat "$tmp/m_flat.err")"
grep -q "train.lr = 1e-09" "$tmp/m_flat.err" || fail "mtrec lr 1e-9: the learning rate not named"
grep -q "not learning" "$tmp/m_flat.out" && fail "mtrec lr 1e-9: the warning went to standard output"
# dense Adam with weight decay: named first
# shellcheck disable=SC2086
run m_flat2 $mtrec --set mtrec.patience=0 --set train.epochs=20 --set train.lr=1e-9 --set train.weight_decay=0.0001 --set mtrec.dense_adam=true
grep -q "mtrec.dense_adam = true with train.weight_decay = 0.0001" "$tmp/m_flat2.err" || fail "mtrec dense Adam: not named: $(cat "$tmp/m_flat2.err")"
# lazy Adam with weight decay (the default Adam): the decay named with
# the table's size, and pmtrec's weights summing to 1
# shellcheck disable=SC2086
run m_flat3 $mtrec --set mtrec.patience=0 --set train.epochs=20 --set train.lr=1e-9 --set train.weight_decay=0.0001 --set mtrec.combiner=pmtrec
grep -q "train.weight_decay = 0.0001, added to each row's gradient, outweighing the task gradients of a table of [0-9]* rows.*pmtrec's weights, which sum to 1" "$tmp/m_flat3.err" ||
    fail "mtrec lazy Adam with decay: not named: $(cat "$tmp/m_flat3.err")"
grep -q "dense Adam decays" "$tmp/m_flat3.err" && fail "mtrec lazy Adam: blamed dense Adam: $(cat "$tmp/m_flat3.err")"
# 19 epochs: too few to tell
# shellcheck disable=SC2086
run m_short $mtrec --set mtrec.patience=0 --set train.epochs=19 --set train.lr=1e-9 --set train.eval_every=19
grep -q "not learning" "$tmp/m_short.err" && fail "mtrec 19 epochs: warned before 20 epochs"
# shellcheck disable=SC2086
run s_flat $msmt --set train.epochs=20 --set train.lr=1e-9 --set msmt.patience=0 --set train.eval_every=20
grep -q "not learning" "$tmp/s_flat.err" || fail "msmt lr 1e-9: no warning: $(cat "$tmp/s_flat.err")"
# shellcheck disable=SC2086
run f_flat $fedmsmt --set train.rounds=20 --set train.lr=1e-9 --set train.eval_every=20
grep -q "not learning" "$tmp/f_flat.err" || fail "fedmsmt lr 1e-9: no warning"
# shellcheck disable=SC2086
run r_flat $rating --set train.rounds=20 --set train.eval_every=20 --set pfedrec.lr=1e-9
grep -q "pfedrec.lr = 1e-09" "$tmp/r_flat.err" || fail "fedmf lr 1e-9: no warning naming pfedrec.lr: $(cat "$tmp/r_flat.err")"
# shellcheck disable=SC2086
run c_flat $ctr --set train.epochs=20 --set train.lr=1e-9 --set train.eval_every=20
grep -q "not learning" "$tmp/c_flat.err" || fail "ctr lr 1e-9: no warning"

[ "$failures" -eq 0 ] || exit 1
echo "PASS: train.eval_every (mtrec, msmt, fedmsmt, fedmf, ctr) and the not-learning warning"
