#!/bin/sh
# test_crash_mtrec.sh — crash safety of the mtrec job (job.kind = mtrec,
# central; and federated rounds, at the end), modelled on test_crash.sh. A run with a checkpoint every epoch
# is killed inside a checkpoint write at each named point of the write
# (the test hook FEDREC_TEST_CRASH_AT, doc/RELIABILITY.md) and inside the
# rewrite of the report on resume; after each kill the files are what
# that point leaves and the resume starts from the epoch expected. Then a
# larger run is killed with SIGKILL at random moments (drawn from a fixed
# seed) and resumed each time. Each run, finished at last, must equal the
# uninterrupted one: every report value but the times (JSON lines, 10
# digits), the summary's figures, the saved model of the best epoch
# (cmp), and the final table itself (cmp of the model each run's last
# checkpoint saves with output.model_from = last). A run that stopped
# early (mtrec.patience) resumes to nothing left to train; the checkpoint
# before its stop resumes to the same end.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
top_builddir=$(cd "$top_builddir" && pwd) top_srcdir=$(cd "$top_srcdir" && pwd)
FEDREC="$top_builddir/fedrec"
unset FEDREC_TEST_CRASH_AT
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_crash_mtrec.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# What must be equal in a run's folder: the report without its times, the
# summary without the lines that say when, where and how fast.
figures() {
    sed -e 's/"train_seconds":[^,}]*//' -e 's/"eval_seconds":[^,}]*//' "$1/r.jsonl" >"$1/r.fig"
    grep -v -E '"(started|host|wall_seconds|peak_rss_bytes|train_seconds_per_epoch|eval_seconds_per_epoch)"' \
        "$1/s.json" >"$1/s.fig"
}
# same A B WHAT: the runs in folders A and B agree; and the final table
# (resumed from each one's last checkpoint, nothing left to train, saved
# with output.model_from = last) is the same bit for bit.
same() {
    figures "$1"
    figures "$2"
    cmp -s "$1/r.fig" "$2/r.fig" || fail "$3: the report differs: $(diff "$1/r.fig" "$2/r.fig" | head -n 4)"
    cmp -s "$1/s.fig" "$2/s.fig" || fail "$3: the summary differs: $(diff "$1/s.fig" "$2/s.fig" | head -n 6)"
    cmp -s "$1/m.frm" "$2/m.frm" || fail "$3: the saved model (best epoch) differs"
    for d in "$1" "$2"; do
        # shellcheck disable=SC2086
        (cd "$d" && cp ck last.ck && "$FEDREC" train $run --set output.checkpoint=last.ck --resume --quiet \
            --set output.model_from=last --save last.frm >last.out 2>&1) ||
            fail "$3: resuming $d's last checkpoint to save the last table failed: $(cat "$d/last.out")"
    done
    cmp -s "$1/last.frm" "$2/last.frm" || fail "$3: the final table differs"
}
# train DIR ARGS...: one run in DIR (its outputs under fixed names, so that
# the summaries' configurations agree), the crash hook set to $crash; the
# process is fedrec itself (exec), so that kill reaches it.
crash=
train() {
    d=$1
    shift
    # shellcheck disable=SC2086
    (cd "$d" && export FEDREC_TEST_CRASH_AT="$crash" && exec "$FEDREC" train $run --report r.jsonl --summary s.json --save m.frm "$@")
}
# The epoch rows a run printed.
epoch_rows() { grep -E '^ +[0-9]+ +-?[0-9]+\.[0-9]+ ' "$1"; }

# --- Deterministic kills at the named points of a write. ---
# GradVac (state across steps) on dense Adam.
run="--set job.kind=mtrec --set data.users=200 --set data.items=300 --set data.per_user=15
     --set mtrec.tasks=bpr,social,category --set mtrec.combiner=gradvac --set mtrec.dense_adam=true
     --set train.epochs=14 --set mtrec.min_epochs=0 --set mtrec.patience=0 --set mtrec.dim=8
     --set train.batch_size=128 --set train.lr=0.01 --set backend.threads=2
     --set output.checkpoint=ck --set train.checkpoint_every=1"
mkdir "$tmp/full" "$tmp/part"
train "$tmp/full" --quiet >"$tmp/out" 2>"$tmp/err" || fail "the uninterrupted run failed: $(cat "$tmp/err")"
ck="$tmp/part/ck"
done_epochs=0 # the epoch the checkpoint holds
# kill_at POINT:N WHAT: one run (resuming when a checkpoint exists) with the
# hook set; it must die of SIGKILL, and a resumed run killed after its
# first write (the report's rewrite) must have started after $done_epochs.
kill_at() {
    resume=
    [ -f "$ck" ] && resume=--resume
    crash=$1
    train "$(dirname "$ck")" $resume >"$tmp/out" 2>"$tmp/err"
    code=$?
    crash=
    [ "$code" -eq 137 ] || fail "FEDREC_TEST_CRASH_AT=$1 ($2): exit $code, expected 137 (SIGKILL): $(cat "$tmp/err")"
    if [ -n "$resume" ] && [ "${1#*:}" != 1 ]; then
        grep -q "^resuming after [a-z]* $done_epochs from ck" "$tmp/out" ||
            fail "FEDREC_TEST_CRASH_AT=$1: expected to resume after epoch or round $done_epochs: $(sed -n 4p "$tmp/out")"
    fi
}
temp_file() { ls "$ck".tmp.* 2>/dev/null | head -n 1; }
size_of() { wc -c <"$1" | tr -d ' '; }
# The size a checkpoint's header declares (src/mtr/mtr_checkpoint.c: a
# 40-byte header whose last u64 counts the payload's bytes, then the
# payload, then a u32 CRC). Checkpoints differ in size: the best epoch's
# table goes in only when it is not the checkpoint's own epoch.
declared_size() {
    od -An -t u8 -j 32 -N 8 "$1" | awk '{ print 40 + $1 + 4 }'
}
# A fresh run's second write is the checkpoint of epoch 2; a resumed run's
# first is the report's rewrite, its third the checkpoint two epochs after
# the one resumed from.
for point in created written synced linked renamed; do
    if [ -f "$ck" ]; then n=3; else n=2; fi
    kill_at "$point:$n" "in the checkpoint of epoch $((done_epochs + 2))"
    t=$(temp_file)
    case $point in
    created)
        [ -n "$t" ] && [ "$(size_of "$t")" -eq 0 ] || fail "created: expected an empty temporary file: '$t'" ;;
    written)
        [ -n "$t" ] && [ "$(size_of "$t")" -ge 40 ] && [ "$(size_of "$t")" -lt "$(declared_size "$t")" ] ||
            fail "written: expected a partly written temporary file: '$t'" ;;
    synced | linked)
        [ -n "$t" ] && [ "$(size_of "$t")" -eq "$(declared_size "$t")" ] ||
            fail "$point: expected a complete temporary file: '$t'" ;;
    renamed)
        [ -z "$t" ] || fail "renamed: a temporary file is left: $t" ;;
    esac
    if [ "$point" = linked ]; then
        [ "$ck" -ef "$ck.prev" ] || fail "linked: $ck.prev is not the checkpoint being replaced"
    fi
    rm -f "$ck".tmp.*
    if [ "$point" = renamed ]; then
        done_epochs=$((done_epochs + 2))
    else
        done_epochs=$((done_epochs + 1))
    fi
done
for point in written renamed; do
    kill_at "$point:1" "in the rewrite of the report"
    rm -f "$ck".tmp.* "$tmp"/part/r.jsonl.tmp.*
done
train "$tmp/part" --resume >"$tmp/out" 2>"$tmp/err" || fail "the resume after the deterministic kills failed: $(cat "$tmp/err")"
grep -q "^resuming after epoch $done_epochs from ck" "$tmp/out" ||
    fail "the last resume: expected to resume after epoch $done_epochs: $(sed -n 4p "$tmp/out")"
same "$tmp/full" "$tmp/part" "killed at each point of a write"
echo "test_crash_mtrec: 7 deterministic kills: in a checkpoint write at created, written, synced, linked and renamed, in the report's rewrite at written and renamed" >&2

# --- Early stopping: the checkpoint of the stop says the run is over. ---
# The same run stopped by mtrec.patience = 1 at its first evaluation
# without a better one.
run="$run --set mtrec.patience=1"
mkdir "$tmp/stop" "$tmp/stop2"
train "$tmp/stop" >"$tmp/out" 2>"$tmp/err" || fail "the early-stopped run failed: $(cat "$tmp/err")"
stopped=$(epoch_rows "$tmp/out" | wc -l | tr -d ' ')
[ "$stopped" -lt 14 ] || fail "expected mtrec.patience = 1 to stop the run before epoch 14 (it ran $stopped)"
cp "$tmp/stop/ck" "$tmp/stop/r.jsonl" "$tmp/stop2/"
train "$tmp/stop2" --resume >"$tmp/out" 2>"$tmp/err" || fail "resuming the stopped run failed: $(cat "$tmp/err")"
grep -q "^resuming after epoch $stopped from ck (the run had stopped early there: nothing left to train)" "$tmp/out" ||
    fail "resuming the stopped run: $(sed -n 4p "$tmp/out")"
epoch_rows "$tmp/out" >/dev/null && fail "resuming the stopped run trained: $(epoch_rows "$tmp/out" | head -n 2)"
# From the checkpoint before the stop (in a folder of its own, under the
# same name, so that the configurations agree): the last epoch again, and
# the stop.
mkdir "$tmp/stop3"
cp "$tmp/stop/r.jsonl" "$tmp/stop3/"
cp "$tmp/stop/ck.prev" "$tmp/stop3/ck"
train "$tmp/stop3" --resume >"$tmp/out" 2>"$tmp/err" || fail "resuming the checkpoint before the stop failed: $(cat "$tmp/err")"
grep -q "^resuming after epoch $((stopped - 1)) from ck$" "$tmp/out" &&
    [ "$(epoch_rows "$tmp/out" | awk '{ print $1 }')" = "$stopped" ] ||
    fail "the checkpoint before the stop: expected epoch $stopped run again: $(sed -n 4,8p "$tmp/out")"
same "$tmp/stop" "$tmp/stop2" "resumed after an early stop"
same "$tmp/stop" "$tmp/stop3" "resumed before an early stop"

# --- Random kills: a larger run (PMTRec on lazy Adam). ---
epochs=24
run="--set job.kind=mtrec --set data.users=1500 --set data.items=2000 --set data.per_user=20
     --set mtrec.tasks=bpr,social,category --set mtrec.combiner=pmtrec --set mtrec.dense_adam=false
     --set train.epochs=$epochs --set mtrec.min_epochs=0 --set mtrec.patience=0 --set mtrec.dim=32
     --set train.batch_size=256 --set train.lr=0.01 --set backend.threads=2
     --set output.checkpoint=ck --set train.checkpoint_every=1"
mkdir "$tmp/big" "$tmp/killed"
now() { date +%s.%N; }
t0=$(now)
train "$tmp/big" --quiet --set train.epochs=1 >/dev/null 2>&1 || fail "a one-epoch run failed"
rm -f "$tmp/big"/*
t1=$(now)
train "$tmp/big" --quiet >"$tmp/out" 2>"$tmp/err" || fail "the uninterrupted larger run failed: $(cat "$tmp/err")"
t2=$(now)
startup=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')
per_epoch=$(echo "$t1 $t2 $startup $epochs" | awk '{ print ($2 - $1 - $3) / $4 }')
# Kill times: start-up plus 0 to 3 epochs, from a fixed seed.
awk -v s="$startup" -v r="$per_epoch" 'BEGIN { srand(20261207); for (i = 0; i < 200; i++) printf "%.3f\n", s * 0.5 + rand() * (s * 0.7 + 3 * r) }' \
    >"$tmp/delays"
kills=0 in_write=0 passes=1 finished=0
while read -r delay; do
    resume=
    [ -f "$tmp/killed/ck" ] && resume=--resume
    # (not through train: $! must be fedrec itself)
    # shellcheck disable=SC2086
    (cd "$tmp/killed" && exec "$FEDREC" train $run --report r.jsonl --summary s.json --save m.frm --quiet $resume) \
        >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    sleep "$delay"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        kills=$((kills + 1))
        if ls "$tmp"/killed/ck.tmp.* >/dev/null 2>&1; then
            in_write=$((in_write + 1))
            rm -f "$tmp"/killed/ck.tmp.*
        fi
    else
        wait "$pid"
        code=$?
        if [ "$code" -ne 0 ]; then
            fail "a run resumed after kill $kills exited $code: $(cat "$tmp/err")"
            break
        fi
        finished=1
        [ "$kills" -ge 10 ] && break
        # Finished before enough kills (the machine sped up): check it and
        # start another killed run from scratch.
        same "$tmp/big" "$tmp/killed" "killed and resumed (pass $passes, after $kills kills)"
        passes=$((passes + 1))
        rm -f "$tmp"/killed/*
        finished=0
        continue
    fi
    [ "$kills" -ge 12 ] && break
done <"$tmp/delays"
echo "test_crash_mtrec: $kills random kills ($in_write during a checkpoint write) over $passes run(s)" >&2
[ "$kills" -ge 10 ] || fail "only $kills kills (start-up $startup s, $per_epoch s per epoch)"
if [ "$finished" -eq 0 ]; then
    resume=
    [ -f "$tmp/killed/ck" ] && resume=--resume
    train "$tmp/killed" --quiet $resume >"$tmp/out" 2>"$tmp/err" || fail "the last resume failed: $(cat "$tmp/err")"
fi
same "$tmp/big" "$tmp/killed" "killed at random and resumed"

# --- Federated rounds (the federation core's; their state between rounds
# is the table): killed right after the checkpoint of round 3, inside the
# checkpoint write of round 5 (the resumed run's third write, its first
# being the report's rewrite), and in the report's rewrite, then resumed.
run="--set job.kind=mtrec --set data.users=300 --set data.items=400 --set data.per_user=15
     --set mtrec.tasks=bpr,category --set mtrec.federated=true --set mtrec.client_fraction=0.5
     --set mtrec.local_steps=2 --set train.rounds=8 --set train.batch_size=128
     --set output.checkpoint=ck --set train.checkpoint_every=1"
mkdir "$tmp/fed" "$tmp/fedk"
train "$tmp/fed" --quiet >"$tmp/out" 2>"$tmp/err" || fail "the uninterrupted federated run failed: $(cat "$tmp/err")"
ck="$tmp/fedk/ck"
kill_at renamed:3 "after the checkpoint of round 3"
done_epochs=3
kill_at written:3 "in the checkpoint write of round 5"
rm -f "$ck".tmp.*
done_epochs=4
kill_at written:1 "in the rewrite of the report"
rm -f "$tmp"/fedk/r.jsonl.tmp.*
train "$tmp/fedk" --resume >"$tmp/out" 2>"$tmp/err" || fail "the federated resume failed: $(cat "$tmp/err")"
grep -q "^resuming after round 4 from ck" "$tmp/out" ||
    fail "the federated resume: expected to resume after round 4: $(sed -n 4p "$tmp/out")"
same "$tmp/fed" "$tmp/fedk" "federated, killed and resumed"
echo "test_crash_mtrec: federated rounds: 3 kills, resumed to the uninterrupted run" >&2

if [ "$failures" -ne 0 ]; then
    echo "test_crash_mtrec: $failures failure(s)" >&2
    exit 1
fi
echo "test_crash_mtrec: all checks passed"
