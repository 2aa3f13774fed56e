#!/bin/sh
# test_crash.sh — crash safety of federated runs: a PFedRec run with a
# checkpoint every round is killed with SIGKILL at 20 or more random
# moments (drawn from a fixed seed, spread over start-up, training,
# aggregation and checkpoint writing) and resumed each time; every resume
# must accept the checkpoint, and the run, finished at last, must report
# exactly what an uninterrupted run reports (every column but wall time).
# A checkpoint damaged afterwards is refused with a message naming the
# kept previous checkpoint, and that one resumes.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_crash.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

conf="$top_srcdir/conf/quickstart.ini"
# 20,000 items x 128 floats: an 11 MB checkpoint, whose writing (and
# fsync) takes a good share of each round, so that kills land in it too.
rounds=100
set -- --quiet --set data.users=1500 --set data.items=20000 --set pfedrec.dim=128 --set backend.threads=2 \
    --set "train.rounds=$rounds"
strip() { cut -d, -f1-6,8,9 "$1"; }
now() { date +%s.%N; }

# The uninterrupted run, timed: start-up alone, then the whole run.
t0=$(now)
"$FEDREC" train "$conf" "$@" --set train.rounds=1 >/dev/null 2>&1 || fail "a one-round run failed"
t1=$(now)
"$FEDREC" train "$conf" "$@" --report "$tmp/full.csv" >/dev/null 2>"$tmp/err" ||
    fail "the uninterrupted run failed: $(cat "$tmp/err")"
t2=$(now)
startup=$(echo "$t0 $t1" | awk '{ print $2 - $1 }')
per_round=$(echo "$t1 $t2 $startup $rounds" | awk '{ print ($2 - $1 - $3) / $4 }')

# Kill times: start-up plus 0 to 4 rounds, from a fixed seed.
awk -v s="$startup" -v r="$per_round" 'BEGIN { srand(20261203); for (i = 0; i < 200; i++) printf "%.3f\n", s * 0.5 + rand() * (s * 0.7 + 4 * r) }' \
    >"$tmp/delays"
kills=0 in_write=0 resumes=0 finished=0
ck="$tmp/ck"
while read -r delay; do
    resume=
    [ -f "$ck" ] && resume=--resume
    "$FEDREC" train "$conf" "$@" --set train.checkpoint_every=1 --set "output.checkpoint=$ck" \
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
        break
    fi
    [ -n "$resume" ] && resumes=$((resumes + 1))
    [ "$kills" -ge 24 ] && break
done <"$tmp/delays"
echo "test_crash: $kills kills ($in_write during a checkpoint write), $resumes of them after a resume" >&2
[ "$kills" -ge 20 ] || fail "only $kills kills before the run finished (start-up $startup s, $per_round s per round)"
[ "$in_write" -ge 1 ] || fail "no kill landed in a checkpoint write (start-up $startup s, $per_round s per round)"
if [ "$finished" -eq 0 ]; then
    "$FEDREC" train "$conf" "$@" --set train.checkpoint_every=1 --set "output.checkpoint=$ck" \
        --report "$tmp/part.csv" --resume >"$tmp/out" 2>"$tmp/err" || fail "the last resume failed: $(cat "$tmp/err")"
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
"$FEDREC" train "$conf" "$@" --set "output.checkpoint=$ck" --resume >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -eq 4 ] || fail "a damaged checkpoint: exit $code, expected 4"
grep -q "corrupt.*kept in $ck.prev" "$tmp/err" || fail "damaged checkpoint message: $(cat "$tmp/err")"
cmp -s "$ck" "$tmp/damaged" || fail "the refused checkpoint was changed"
"$FEDREC" train "$conf" "$@" --set "output.checkpoint=$ck.prev" --resume --set train.rounds=1 >"$tmp/out" 2>&1 ||
    fail "the kept previous checkpoint does not resume: $(cat "$tmp/out")"
head -c 1000 "$tmp/good" >"$ck"
"$FEDREC" train "$conf" "$@" --set "output.checkpoint=$ck" --resume >"$tmp/out" 2>"$tmp/err"
[ $? -eq 4 ] && grep -q "truncated" "$tmp/err" || fail "a truncated checkpoint: $(cat "$tmp/err")"

if [ "$failures" -ne 0 ]; then
    echo "test_crash: $failures failure(s)" >&2
    exit 1
fi
echo "test_crash: all checks passed"
