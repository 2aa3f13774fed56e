#!/bin/sh
# test_crash_msmt.sh — crash safety of the msmt job (doc/RELIABILITY.md):
# with output.checkpoint set it writes a checkpoint after every epoch, and
# a run killed anywhere and resumed with --resume ends with exactly what
# the uninterrupted run gives: the report's rows (every column but the
# timings, JSON lines at 10 digits), the final table and best epoch, the
# --summary file (but its timings and start time) and the saved model,
# byte for byte. Three models, on small generated data: MMoE with dropout
# and batch-norm, validated every second epoch, stopped early; AutoIFS
# (search with dropout, the rewind, the retrain); Shared-Bottom under SGD
# saving its last epoch (output.model_from = last).
#  - Deterministic kills: for each model, a fresh run killed (the test
#    hook FEDREC_TEST_CRASH_AT) inside its N-th file write, for every N:
#    each epoch's checkpoint, at the points created, written, synced,
#    linked and renamed in turn, and the saved model's and the summary's
#    writes after the last; each resumed from what the kill left (the
#    epoch after the checkpoint expected, named on its first line) and
#    compared. A resumed run killed again inside its report's rewrite, and
#    resumed once more.
#  - Random kills: a larger MMoE run killed with SIGKILL at 12 moments
#    drawn from a fixed seed (start-up, epochs, checkpoint writes), each
#    resumed from what the kill before left, and compared at the end.
# Where a resume is not exact (an optimiser's moments or step count, a
# batch-norm statistic, the dropout or shuffle key, the early-stopping
# counts left out), the figures part from the uninterrupted run's and
# this test fails.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
unset FEDREC_TEST_CRASH_AT
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_crash_msmt.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# The run's files: the same names for every run, so that the saved
# model's and the summary's configurations agree.
ck="$tmp/ck" report="$tmp/r.jsonl" model="$tmp/m.frm" summary="$tmp/s.json"
BASE="--set job.kind=msmt --set backend.kind=cpu --set backend.threads=2 --set data.vocab=12
      --set train.batch_size=256 --set train.lr=0.01 --set output.checkpoint=$ck
      --report $report --save $model --summary $summary"
MMOE="--set data.rows=6000 --set msmt.model=mmoe --set msmt.expert_layers=8 --set msmt.tower_layers=4
      --set msmt.experts=2 --set model.dropout=0.2 --set train.epochs=9 --set train.eval_every=2
      --set msmt.patience=2 --set train.lr=0.05"
AUTOIFS="--set data.rows=4000 --set msmt.model=autoifs --set autoifs.bottom=16,8 --set autoifs.width=8
         --set autoifs.search_epochs=3 --set autoifs.rewind_epoch=1 --set model.dropout=0.1
         --set train.epochs=4 --set msmt.patience=0"
SB="--set data.rows=4000 --set msmt.model=shared-bottom --set msmt.expert_layers=8 --set msmt.tower_layers=4
    --set train.optimizer=sgd --set train.lr=0.1 --set train.epochs=4 --set output.model_from=last"

clean() { rm -f "$ck" "$ck".prev "$ck".tmp.* "$report" "$report".tmp.* "$model" "$model".tmp.* "$summary" "$summary".tmp.*; }

# outcome DIR OUT: what a finished run left, without its timings, into DIR:
# the report, the printed table and best epoch, the summary, the model.
outcome() {
    mkdir -p "$1"
    sed -E 's/,"samples_per_second":[^,]*,"seconds":[^}]*//' "$report" >"$1/report"
    sed -n '/^scenario  *task/,$p' "$2" | sed -E 's/; [0-9.]+ training samples\/s; [0-9.]+ s$//' >"$1/table"
    grep -v '"started"\|"wall_seconds"\|"peak_rss_bytes"\|"train_samples_per_second"' "$summary" >"$1/summary"
    cp "$model" "$1/model"
}

# same_as FULL GOT WHAT: the outcomes agree, file by file.
same_as() {
    for f in report table summary model; do
        if ! cmp -s "$1/$f" "$2/$f"; then
            fail "$3: the $f differs from the uninterrupted run's: $(diff "$1/$f" "$2/$f" 2>/dev/null | head -n 4)"
            return
        fi
    done
}

# run_to_end ARGS: resume (or start, when no checkpoint exists) and finish.
run_to_end() {
    resume=
    [ -f "$ck" ] && resume=--resume
    # shellcheck disable=SC2086
    "$FEDREC" train "$@" $resume >"$tmp/out" 2>"$tmp/err" || fail "$name: the run after the kill failed: $(cat "$tmp/err")"
}

points="created written synced linked renamed"
total_kills=0
for name in mmoe autoifs sb; do
    case $name in
    mmoe) args="$BASE $MMOE" ;;
    autoifs) args="$BASE $AUTOIFS" ;;
    sb) args="$BASE $SB" ;;
    esac
    clean
    # shellcheck disable=SC2086
    "$FEDREC" train $args >"$tmp/full.out" 2>"$tmp/err" || fail "$name: the uninterrupted run failed: $(cat "$tmp/err")"
    outcome "$tmp/full_$name" "$tmp/full.out"
    epochs=$(wc -l <"$report" | tr -d ' ')
    [ "$epochs" -ge 4 ] || fail "$name: only $epochs epoch(s) in the uninterrupted run"
    # Write N: the checkpoint of epoch N (N <= epochs), then the model, then the summary.
    n=1 k=0
    while [ "$n" -le $((epochs + 2)) ]; do
        set -- $points
        shift $((k % 5))
        point=$1
        k=$((k + 1))
        clean
        # shellcheck disable=SC2086
        FEDREC_TEST_CRASH_AT="$point:$n" "$FEDREC" train $args >"$tmp/out" 2>"$tmp/err"
        code=$?
        [ "$code" -eq 137 ] || fail "$name: FEDREC_TEST_CRASH_AT=$point:$n: exit $code, expected 137 (SIGKILL): $(tail -n 2 "$tmp/err")"
        total_kills=$((total_kills + 1))
        # The checkpoint the kill left: that of epoch N after a rename,
        # else the one before (none before the first).
        if [ "$n" -gt "$epochs" ]; then
            expect=$epochs
        elif [ "$point" = renamed ]; then
            expect=$n
        else
            expect=$((n - 1))
        fi
        if [ "$point" = linked ] && [ "$n" -gt 1 ] && [ "$n" -le "$epochs" ]; then
            [ "$ck" -ef "$ck.prev" ] || fail "$name: linked:$n: $ck.prev is not the checkpoint being replaced"
        fi
        rm -f "$ck".tmp.*
        # shellcheck disable=SC2086
        run_to_end $args
        if [ "$expect" -gt 0 ]; then
            grep -q "^resuming after epoch $expect from $ck" "$tmp/out" ||
                fail "$name: killed at $point:$n: expected to resume after epoch $expect: $(sed -n 3,4p "$tmp/out")"
        fi
        outcome "$tmp/got" "$tmp/out"
        same_as "$tmp/full_$name" "$tmp/got" "$name, killed at $point:$n"
        n=$((n + 1))
    done
done

# A resumed run killed inside the rewrite of its report (its first write),
# before and after the rename, then resumed once more: MMoE from epoch 3.
args="$BASE $MMOE"
for point in written renamed; do
    clean
    # shellcheck disable=SC2086
    FEDREC_TEST_CRASH_AT=renamed:3 "$FEDREC" train $args >/dev/null 2>&1
    # shellcheck disable=SC2086
    FEDREC_TEST_CRASH_AT=$point:1 "$FEDREC" train $args --resume >"$tmp/out" 2>"$tmp/err"
    code=$?
    [ "$code" -eq 137 ] || fail "report rewrite, $point: exit $code, expected 137: $(tail -n 2 "$tmp/err")"
    total_kills=$((total_kills + 2))
    rm -f "$ck".tmp.* "$report".tmp.*
    # shellcheck disable=SC2086
    run_to_end $args
    grep -q "^resuming after epoch 3 from $ck" "$tmp/out" || fail "report rewrite, $point: $(sed -n 3p "$tmp/out")"
    outcome "$tmp/got" "$tmp/out"
    same_as "$tmp/full_mmoe" "$tmp/got" "killed in the report's rewrite at $point"
done
echo "test_crash_msmt: $total_kills deterministic kills (every checkpoint of MMoE, AutoIFS and Shared-Bottom at each point of a write, the model's and the summary's writes, the report's rewrite)" >&2

# --- Random kills on a larger run. ---
args="$BASE --set data.rows=60000 --set msmt.model=mmoe --set msmt.expert_layers=16 --set msmt.tower_layers=8
      --set msmt.experts=2 --set model.dropout=0.2 --set train.epochs=16 --set msmt.patience=0"
now() { date +%s.%N; }
clean
t0=$(now)
# shellcheck disable=SC2086
"$FEDREC" train $args --set train.epochs=1 --set output.checkpoint= >/dev/null 2>&1 || fail "a one-epoch run failed"
t1=$(now)
clean
# shellcheck disable=SC2086
"$FEDREC" train $args >"$tmp/full.out" 2>"$tmp/err" || fail "the larger uninterrupted run failed: $(cat "$tmp/err")"
t2=$(now)
outcome "$tmp/full_large" "$tmp/full.out"
startup=$(echo "$t0 $t1 $t2" | awk '{ print ($2 - $1) * 0.5 }')
per_epoch=$(echo "$t1 $t2 $startup" | awk '{ print ($2 - $1 - $3) / 16 }')
awk -v s="$startup" -v e="$per_epoch" 'BEGIN { srand(20261207); for (i = 0; i < 100; i++) printf "%.3f\n", s * 0.5 + rand() * (s * 0.7 + 2 * e) }' >"$tmp/delays"
clean
kills=0 in_write=0 finished=0 passes=1
while read -r delay; do
    resume=
    [ -f "$ck" ] && resume=--resume
    # shellcheck disable=SC2086
    "$FEDREC" train $args $resume >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    sleep "$delay"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        kills=$((kills + 1))
        if ls "$ck".tmp.* >/dev/null 2>&1; then
            in_write=$((in_write + 1))
            rm -f "$ck".tmp.*
        fi
        rm -f "$report".tmp.* "$model".tmp.* "$summary".tmp.*
    else
        wait "$pid" || fail "a resumed run (after $kills kills) failed: $(cat "$tmp/err")"
        finished=1
        [ "$kills" -ge 6 ] && break
        # The machine sped up under the timing's estimate: check this run
        # and start another, so that the kills still add up.
        outcome "$tmp/got" "$tmp/out"
        same_as "$tmp/full_large" "$tmp/got" "the larger run killed $kills times (pass $passes)"
        passes=$((passes + 1))
        finished=0
        clean
        continue
    fi
    [ "$kills" -ge 12 ] && break
done <"$tmp/delays"
[ "$finished" -eq 1 ] || run_to_end $args
outcome "$tmp/got" "$tmp/out"
same_as "$tmp/full_large" "$tmp/got" "the larger run killed $kills times"
echo "test_crash_msmt: $kills random kills ($in_write during a checkpoint write) of a run of 16 epochs (${per_epoch} s each), $passes pass(es)" >&2
[ "$kills" -ge 6 ] || fail "only $kills random kills landed before the run finished (start-up $startup s, $per_epoch s an epoch)"
# The checkpoint before the last, kept as PATH.prev, resumes the last
# epoch to the same end.
cp "$ck.prev" "$tmp/prev"
# shellcheck disable=SC2086
"$FEDREC" train $args --set "output.checkpoint=$tmp/prev" --resume >"$tmp/out" 2>"$tmp/err" ||
    fail "the kept previous checkpoint does not resume: $(cat "$tmp/err")"
grep -q "^resuming after epoch 15 from $tmp/prev" "$tmp/out" || fail "PATH.prev: $(sed -n 3p "$tmp/out")"
outcome "$tmp/got" "$tmp/out"
# Its configuration names another checkpoint file: the rest agrees.
sed -i "s|$tmp/prev|$ck|g" "$tmp/got/summary"
for f in report table summary; do
    cmp -s "$tmp/full_large/$f" "$tmp/got/$f" || fail "resumed from PATH.prev, the $f differs: $(diff "$tmp/full_large/$f" "$tmp/got/$f" | head -n 4)"
done

if [ "$failures" -ne 0 ]; then
    echo "test_crash_msmt: $failures failure(s)" >&2
    exit 1
fi
echo "test_crash_msmt: all checks passed"
