#!/bin/sh
# test_crash.sh — crash safety of federated runs. First, deterministic
# kills: a small PFedRec run with a checkpoint every round is killed inside
# a checkpoint write at each named point of the write (the test hook
# FEDREC_TEST_CRASH_AT, doc/RELIABILITY.md: temporary file created, data
# written, synced, previous file linked, renamed) and inside the rewrite of
# the report on resume; after each kill the files are what that point
# leaves, the resume starts from the round expected, and the run, finished
# at last, reports exactly what an uninterrupted run reports (every column
# but wall time). Then random kills on top: a larger run is killed with
# SIGKILL at 20 or more random moments (drawn from a fixed seed, spread
# over start-up, training, aggregation and checkpoint writing) and resumed
# each time, with the same checks. A checkpoint damaged afterwards is
# refused with a message naming the kept previous checkpoint, and that one
# resumes the last round to the uninterrupted result.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
unset FEDREC_TEST_CRASH_AT
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_crash.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

conf="$top_srcdir/conf/quickstart.ini"
strip() { cut -d, -f1-6,8,9 "$1"; }
size_of() { wc -c <"$1" | tr -d ' '; }

# --- Deterministic kills at the named points of a write. ---
small="--set data.users=300 --set data.items=2000 --set train.rounds=12 --set backend.threads=2"
# shellcheck disable=SC2086
"$FEDREC" train "$conf" $small --quiet --report "$tmp/small-full.csv" >/dev/null 2>"$tmp/err" ||
    fail "the uninterrupted small run failed: $(cat "$tmp/err")"
ck="$tmp/small.ck"
done_rounds=0   # the round the checkpoint holds
# kill_at POINT:N WHAT: one run (resuming when a checkpoint exists) with
# the hook set; it must die of SIGKILL, and when it resumed and was killed
# after its first write (the report's rewrite, made before the resume is
# announced), it must have started after round $done_rounds.
kill_at() {
    resume=
    [ -f "$ck" ] && resume=--resume
    # shellcheck disable=SC2086
    FEDREC_TEST_CRASH_AT=$1 "$FEDREC" train "$conf" $small --set train.checkpoint_every=1 \
        --set "output.checkpoint=$ck" --report "$tmp/small-part.csv" $resume >"$tmp/out" 2>"$tmp/err"
    code=$?
    [ "$code" -eq 137 ] || fail "FEDREC_TEST_CRASH_AT=$1 ($2): exit $code, expected 137 (SIGKILL): $(cat "$tmp/err")"
    if [ -n "$resume" ] && [ "${1#*:}" != 1 ]; then
        grep -q "^resuming after round $done_rounds from" "$tmp/out" ||
            fail "FEDREC_TEST_CRASH_AT=$1: expected to resume after round $done_rounds: $(head -n 3 "$tmp/out")"
    fi
}
# temp_file: the temporary file a killed write left (empty when none).
temp_file() { ls "$ck".tmp.* 2>/dev/null | head -n 1; }
# In a fresh run the second write is the checkpoint of round 2; in a
# resumed run the first is the report's rewrite and the third the
# checkpoint two rounds after the one resumed from: with POINT:2 fresh and
# POINT:3 resumed, each kill lands in the checkpoint of round done + 2.
for point in created written synced linked renamed; do
    if [ -f "$ck" ]; then n=3; else n=2; fi
    kill_at "$point:$n" "in the checkpoint of round $((done_rounds + 2))"
    full_size=$(size_of "$ck")
    t=$(temp_file)
    case $point in
    created)
        [ -n "$t" ] && [ "$(size_of "$t")" -eq 0 ] || fail "created: expected an empty temporary file: '$t'" ;;
    written)
        [ -n "$t" ] && [ "$(size_of "$t")" -lt "$full_size" ] ||
            fail "written: expected a partly written temporary file: '$t'" ;;
    synced | linked)
        [ -n "$t" ] && [ "$(size_of "$t")" -eq "$full_size" ] ||
            fail "$point: expected a complete temporary file: '$t'" ;;
    renamed)
        [ -z "$t" ] || fail "renamed: a temporary file is left: $t" ;;
    esac
    # From linked on, PATH.prev names the checkpoint being replaced: the
    # same file as PATH until the rename.
    if [ "$point" = linked ]; then
        [ "$ck" -ef "$ck.prev" ] || fail "linked: $ck.prev is not the checkpoint being replaced"
    fi
    rm -f "$ck".tmp.*
    # The round the next resume starts from: the kill fell in the write
    # of round done + 2, after round done + 1 was saved; only a kill after
    # the rename leaves the new one.
    if [ "$point" = renamed ]; then
        done_rounds=$((done_rounds + 2))
    else
        done_rounds=$((done_rounds + 1))
    fi
done
# Killed while rewriting the report on resume (its first write): before
# and after the rename; the checkpoint is untouched.
for point in written renamed; do
    kill_at "$point:1" "in the rewrite of the report"
    rm -f "$ck".tmp.* "$tmp"/small-part.csv.tmp.*
done
# shellcheck disable=SC2086
"$FEDREC" train "$conf" $small --set train.checkpoint_every=1 --set "output.checkpoint=$ck" \
    --report "$tmp/small-part.csv" --resume >"$tmp/out" 2>"$tmp/err" ||
    fail "the resume after the deterministic kills failed: $(cat "$tmp/err")"
grep -q "^resuming after round $done_rounds from" "$tmp/out" ||
    fail "the last resume: expected to resume after round $done_rounds: $(head -n 3 "$tmp/out")"
strip "$tmp/small-full.csv" >"$tmp/a"
strip "$tmp/small-part.csv" >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "the run killed at each point of a write differs: $(diff "$tmp/a" "$tmp/b" | head -n 6)"
echo "test_crash: 7 deterministic kills: in a checkpoint write at created, written, synced, linked and renamed, in the report's rewrite at written and renamed" >&2

# --- Random kills on top. ---
# 20,000 items x 128 floats: an 11 MB checkpoint, whose writing (and
# fsync) takes a good share of each round, so that kills land in it too.
rounds=100
set -- --set data.users=1500 --set data.items=20000 --set pfedrec.dim=128 --set backend.threads=2 \
    --set "train.rounds=$rounds"
now() { date +%s.%N; }

# The uninterrupted run, timed: start-up alone, then the whole run.
t0=$(now)
"$FEDREC" train "$conf" "$@" --quiet --set train.rounds=1 >/dev/null 2>&1 || fail "a one-round run failed"
t1=$(now)
"$FEDREC" train "$conf" "$@" --quiet --report "$tmp/full.csv" >/dev/null 2>"$tmp/err" ||
    fail "the uninterrupted run failed: $(cat "$tmp/err")"
t2=$(now)
startup=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')
per_round=$(echo "$t1 $t2 $startup $rounds" | awk '{ print ($2 - $1 - $3) / $4 }')

# Kill times: start-up plus 0 to 4 rounds, from a fixed seed.
awk -v s="$startup" -v r="$per_round" 'BEGIN { srand(20261203); for (i = 0; i < 200; i++) printf "%.3f\n", s * 0.5 + rand() * (s * 0.7 + 4 * r) }' \
    >"$tmp/delays"
kills=0 in_write=0 resumes=0 finished=0 passes=1
ck="$tmp/ck"
while read -r delay; do
    resume=
    [ -f "$ck" ] && resume=--resume
    "$FEDREC" train "$conf" "$@" --quiet --set train.checkpoint_every=1 --set "output.checkpoint=$ck" \
        --report "$tmp/part.csv" $resume >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    sleep "$delay"
    if kill -9 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        kills=$((kills + 1))
        # A temporary file left beside the checkpoint: killed while writing it.
        if ls "$ck".tmp.* >/dev/null 2>&1; then
            in_write=$((in_write + 1))
            rm -f "$ck".tmp.*
        fi
    else
        wait "$pid"
        code=$?
        if [ "$code" -ne 0 ]; then
            fail "a run resumed after kill $kills exited $code: $(cat "$tmp/err")"
            break
        fi
        finished=1
        [ "$kills" -ge 20 ] && break
        # The machine sped up under the timing's estimate and the run
        # finished early: check it, and start another killed run from
        # scratch so the kills still add up (the load of a shared machine
        # changes; the count is about coverage, not speed).
        strip "$tmp/full.csv" >"$tmp/a"
        strip "$tmp/part.csv" >"$tmp/b"
        cmp -s "$tmp/a" "$tmp/b" || fail "the killed and resumed run (finished after $kills kills) differs: $(diff "$tmp/a" "$tmp/b" | head -n 6)"
        passes=$((passes + 1))
        rm -f "$ck" "$ck".prev "$ck".tmp.* "$tmp/part.csv"
        finished=0
        continue
    fi
    [ -n "$resume" ] && resumes=$((resumes + 1))
    [ "$kills" -ge 24 ] && break
done <"$tmp/delays"
echo "test_crash: $kills kills ($in_write during a checkpoint write), $resumes of them after a resume, over $passes run(s)" >&2
[ "$kills" -ge 20 ] || fail "only $kills kills before the run finished (start-up $startup s, $per_round s per round)"
# How many random kills fell in a checkpoint write depends on the
# machine's speed, so it is reported, not required: the deterministic
# kills above cover every point of a write.
if [ "$finished" -eq 0 ]; then
    resume=
    [ -f "$ck" ] && resume=--resume
    "$FEDREC" train "$conf" "$@" --quiet --set train.checkpoint_every=1 --set "output.checkpoint=$ck" \
        --report "$tmp/part.csv" $resume >"$tmp/out" 2>"$tmp/err" || fail "the last resume failed: $(cat "$tmp/err")"
fi
strip "$tmp/full.csv" >"$tmp/a"
strip "$tmp/part.csv" >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "the killed and resumed run differs: $(diff "$tmp/a" "$tmp/b" | head -n 6)"

# A damaged checkpoint: refused (exit 4), the kept previous one named, and
# nothing changed; the previous one resumes.
[ -f "$ck.prev" ] || fail "no previous checkpoint kept beside $ck"
cp "$ck" "$tmp/good"
printf 'XXXX' | dd of="$ck" bs=1 seek=200 conv=notrunc 2>/dev/null
cp "$ck" "$tmp/damaged"
"$FEDREC" train "$conf" "$@" --quiet --set "output.checkpoint=$ck" --resume >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -eq 4 ] || fail "a damaged checkpoint: exit $code, expected 4"
grep -q "corrupt.*kept in $ck.prev" "$tmp/err" || fail "damaged checkpoint message: $(cat "$tmp/err")"
cmp -s "$ck" "$tmp/damaged" || fail "the refused checkpoint was changed"
# The kept previous checkpoint holds round $rounds - 1: resumed, it runs the
# last round to the uninterrupted result.
cp "$tmp/part.csv" "$tmp/prev.csv"
"$FEDREC" train "$conf" "$@" --set "output.checkpoint=$ck.prev" --resume --report "$tmp/prev.csv" \
    >"$tmp/out" 2>"$tmp/err" || fail "the kept previous checkpoint does not resume: $(cat "$tmp/err")"
grep -q "^resuming after round $((rounds - 1)) from" "$tmp/out" && grep -q "^ *$rounds " "$tmp/out" ||
    fail "the kept previous checkpoint: expected round $rounds run after round $((rounds - 1)): $(head -n 4 "$tmp/out")"
strip "$tmp/prev.csv" >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" || fail "resumed from the kept previous checkpoint, the run differs: $(diff "$tmp/a" "$tmp/b" | head -n 6)"
head -c 1000 "$tmp/good" >"$ck"
"$FEDREC" train "$conf" "$@" --quiet --set "output.checkpoint=$ck" --resume >"$tmp/out" 2>"$tmp/err"
[ $? -eq 4 ] && grep -q "truncated" "$tmp/err" || fail "a truncated checkpoint: $(cat "$tmp/err")"

if [ "$failures" -ne 0 ]; then
    echo "test_crash: $failures failure(s)" >&2
    exit 1
fi
echo "test_crash: all checks passed"
