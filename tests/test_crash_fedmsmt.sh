#!/bin/sh
# test_crash_fedmsmt.sh — crash safety of the fedmsmt job
# (doc/RELIABILITY.md): with output.checkpoint set it writes a checkpoint
# every train.checkpoint_every rounds and after the last, and a run killed
# anywhere and resumed with --resume ends with exactly what the
# uninterrupted run gives: the report's rows (every column but the
# timings), the final table and best round, the --summary file (but its
# timings and start time) and the saved model, byte for byte. Three runs
# on small generated data: PF-MSMTrec with dropout (coordination, personal
# aggregation, local batch-norm), validated every second round; FedProx
# (its proximal anchors) with stragglers drawn on the simulated clock (a
# late client's last received model kept across rounds); FedBN under SGD
# saving its last round (output.model_from = last).
#  - Deterministic kills: for each run, a fresh run killed (the test hook
#    FEDREC_TEST_CRASH_AT) inside its N-th file write, for every N: each
#    checkpoint, at the points created, written, synced, linked and
#    renamed in turn, and the saved model's and the summary's writes after
#    the last; each resumed from what the kill left (the round of the
#    checkpoint expected, named on its first line) and compared. A resumed
#    run killed again inside its report's rewrite, and resumed once more.
#  - Random kills: a larger PF-MSMTrec run killed with SIGKILL at 10
#    moments drawn from a fixed seed, each resumed from what the kill
#    before left, and compared at the end.
# Where a resume is not exact (a client's optimiser moments or step
# count, a batch-norm statistic, what a late client last received, the
# best round's models or figures left out), the figures part from the
# uninterrupted run's and this test fails.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
unset FEDREC_TEST_CRASH_AT
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_crash_fedmsmt.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

ck="$tmp/ck" report="$tmp/r.csv" model="$tmp/m.frm" summary="$tmp/s.json"
BASE="--set job.kind=fedmsmt --set backend.kind=cpu --set backend.threads=2 --set data.vocab=12
      --set data.rows=3000 --set train.batch_size=256 --set msmt.expert_layers=8 --set msmt.tower_layers=4
      --set fedmsmt.shared_experts=1 --set fedmsmt.private_experts=1 --set output.checkpoint=$ck
      --report $report --save $model --summary $summary"
PF="--set fedmsmt.method=pfmsmtrec --set model.dropout=0.2 --set train.rounds=7 --set train.eval_every=2
    --set train.checkpoint_every=2 --set train.lr=0.01"
PROX="--set fedmsmt.method=fedprox --set fedmsmt.prox_mu=0.1 --set train.rounds=5 --set train.checkpoint_every=1
      --set fed.deadline=1 --set fed.deadline_clock=simulated --set fed.latency=0.8 --set train.lr=0.01"
BN="--set fedmsmt.method=fedbn --set train.optimizer=sgd --set train.lr=0.1 --set train.rounds=5
    --set train.checkpoint_every=3 --set output.model_from=last"

clean() { rm -f "$ck" "$ck".prev "$ck".tmp.* "$report" "$report".tmp.* "$model" "$model".tmp.* "$summary" "$summary".tmp.*; }

# outcome DIR OUT: what a finished run left, without its timings, into DIR:
# the report, the printed table and best round, the summary, the model.
outcome() {
    mkdir -p "$1"
    sed -E 's/(,[^,]*){4}$//' "$report" >"$1/report"
    sed -n '/^scenario  *task/,$p' "$2" | sed -E 's/; [0-9.]+ rounds\/s, aggregation [0-9.]+ % of the time; [0-9.]+ s$//' >"$1/table"
    grep -v '"started"\|"wall_seconds"\|"peak_rss_bytes"\|"rounds_per_second"\|"aggregate_share"' "$summary" >"$1/summary"
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

# checkpoint_round ROUNDS EVERY N: the round of the N-th checkpoint (0: none).
checkpoint_round() {
    awk -v r="$1" -v e="$2" -v n="$3" 'BEGIN { k = 0; for (i = 1; i <= r; i++) if (i % e == 0 || i == r) { k++; if (k == n) { print i; exit } } print 0 }'
}

points="created written synced linked renamed"
total_kills=0
for name in pf prox bn; do
    case $name in
    pf) args="$BASE $PF" rounds=7 every=2 ;;
    prox) args="$BASE $PROX" rounds=5 every=1 ;;
    bn) args="$BASE $BN" rounds=5 every=3 ;;
    esac
    clean
    # shellcheck disable=SC2086
    "$FEDREC" train $args >"$tmp/full.out" 2>"$tmp/err" || fail "$name: the uninterrupted run failed: $(cat "$tmp/err")"
    outcome "$tmp/full_$name" "$tmp/full.out"
    [ "$(wc -l <"$report" | tr -d ' ')" -eq $((rounds + 1)) ] || fail "$name: the report has not $rounds rounds"
    if [ "$name" = prox ]; then
        grep -q "clients' updates arrived in time" "$tmp/full.out" || fail "prox: no client was late: $(cat "$tmp/full.out")"
    fi
    writes=$(awk -v r="$rounds" -v e="$every" 'BEGIN { k = 0; for (i = 1; i <= r; i++) if (i % e == 0 || i == r) k++; print k }')
    # Write N: checkpoint N (N <= writes), then the model, then the summary.
    n=1 k=0
    while [ "$n" -le $((writes + 2)) ]; do
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
        if [ "$n" -gt "$writes" ]; then
            expect=$rounds
        elif [ "$point" = renamed ]; then
            expect=$(checkpoint_round "$rounds" "$every" "$n")
        else
            expect=$(checkpoint_round "$rounds" "$every" $((n - 1)))
        fi
        if [ "$point" = linked ] && [ "$n" -gt 1 ] && [ "$n" -le "$writes" ]; then
            [ "$ck" -ef "$ck.prev" ] || fail "$name: linked:$n: $ck.prev is not the checkpoint being replaced"
        fi
        rm -f "$ck".tmp.*
        # shellcheck disable=SC2086
        run_to_end $args
        if [ "$expect" -gt 0 ]; then
            grep -q "^resuming after round $expect from $ck" "$tmp/out" ||
                fail "$name: killed at $point:$n: expected to resume after round $expect: $(sed -n 3,4p "$tmp/out")"
        fi
        outcome "$tmp/got" "$tmp/out"
        same_as "$tmp/full_$name" "$tmp/got" "$name, killed at $point:$n"
        n=$((n + 1))
    done
done

# A resumed run killed inside the rewrite of its report (its first write),
# before and after the rename, then resumed once more: PF-MSMTrec from round 4.
name=pf
args="$BASE $PF"
for point in written renamed; do
    clean
    # shellcheck disable=SC2086
    FEDREC_TEST_CRASH_AT=renamed:2 "$FEDREC" train $args >/dev/null 2>&1
    # shellcheck disable=SC2086
    FEDREC_TEST_CRASH_AT=$point:1 "$FEDREC" train $args --resume >"$tmp/out" 2>"$tmp/err"
    code=$?
    [ "$code" -eq 137 ] || fail "report rewrite, $point: exit $code, expected 137: $(tail -n 2 "$tmp/err")"
    total_kills=$((total_kills + 2))
    rm -f "$ck".tmp.* "$report".tmp.*
    # shellcheck disable=SC2086
    run_to_end $args
    grep -q "^resuming after round 4 from $ck" "$tmp/out" || fail "report rewrite, $point: $(sed -n 3p "$tmp/out")"
    outcome "$tmp/got" "$tmp/out"
    same_as "$tmp/full_pf" "$tmp/got" "killed in the report's rewrite at $point"
done
echo "test_crash_fedmsmt: $total_kills deterministic kills (every checkpoint of PF-MSMTrec, FedProx and FedBN at each point of a write, the model's and the summary's writes, the report's rewrite)" >&2

# --- Random kills on a larger run. ---
name=large
args="$BASE --set data.rows=12000 --set msmt.expert_layers=16 --set msmt.tower_layers=8 --set model.dropout=0.2
      --set train.rounds=12 --set train.checkpoint_every=1 --set fedmsmt.shared_experts=2"
now() { date +%s.%N; }
clean
t0=$(now)
# shellcheck disable=SC2086
"$FEDREC" train $args --set train.rounds=1 --set output.checkpoint= >/dev/null 2>&1 || fail "a one-round run failed"
t1=$(now)
clean
# shellcheck disable=SC2086
"$FEDREC" train $args >"$tmp/full.out" 2>"$tmp/err" || fail "the larger uninterrupted run failed: $(cat "$tmp/err")"
t2=$(now)
outcome "$tmp/full_large" "$tmp/full.out"
startup=$(echo "$t0 $t1 $t2" | awk '{ print ($2 - $1) * 0.5 }')
per_round=$(echo "$t1 $t2 $startup" | awk '{ print ($2 - $1 - $3) / 12 }')
awk -v s="$startup" -v e="$per_round" 'BEGIN { srand(20261207); for (i = 0; i < 100; i++) printf "%.3f\n", s * 0.5 + rand() * (s * 0.7 + 2 * e) }' >"$tmp/delays"
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
        [ "$kills" -ge 5 ] && break
        # The machine sped up under the timing's estimate: check this run
        # and start another, so that the kills still add up.
        outcome "$tmp/got" "$tmp/out"
        same_as "$tmp/full_large" "$tmp/got" "the larger run killed $kills times (pass $passes)"
        passes=$((passes + 1))
        finished=0
        clean
        continue
    fi
    [ "$kills" -ge 10 ] && break
done <"$tmp/delays"
[ "$finished" -eq 1 ] || run_to_end $args
outcome "$tmp/got" "$tmp/out"
same_as "$tmp/full_large" "$tmp/got" "the larger run killed $kills times"
echo "test_crash_fedmsmt: $kills random kills ($in_write during a checkpoint write) of a run of 12 rounds (${per_round} s each), $passes pass(es)" >&2
[ "$kills" -ge 5 ] || fail "only $kills random kills landed before the run finished (start-up $startup s, $per_round s a round)"
# The checkpoint before the last, kept as PATH.prev, resumes the last
# round to the same end.
cp "$ck.prev" "$tmp/prev"
# shellcheck disable=SC2086
"$FEDREC" train $args --set "output.checkpoint=$tmp/prev" --resume >"$tmp/out" 2>"$tmp/err" ||
    fail "the kept previous checkpoint does not resume: $(cat "$tmp/err")"
grep -q "^resuming after round 11 from $tmp/prev" "$tmp/out" || fail "PATH.prev: $(sed -n 3p "$tmp/out")"
outcome "$tmp/got" "$tmp/out"
sed -i "s|$tmp/prev|$ck|g" "$tmp/got/summary"
for f in report table summary; do
    cmp -s "$tmp/full_large/$f" "$tmp/got/$f" || fail "resumed from PATH.prev, the $f differs: $(diff "$tmp/full_large/$f" "$tmp/got/$f" | head -n 4)"
done

if [ "$failures" -ne 0 ]; then
    echo "test_crash_fedmsmt: $failures failure(s)" >&2
    exit 1
fi
echo "test_crash_fedmsmt: all checks passed"
