#!/bin/sh
# test_interrupt.sh — Ctrl-C stops a run cleanly (doc/OUTPUTS.md). Each job
# kind is started on a run far longer than the test, and once its report
# has a first row it gets SIGINT (fedmsmt: SIGTERM). It must exit 130
# (143), print that it stopped and the summary of what ran, leave a report
# of whole rows, one per epoch or round the summary says ran, and write a
# --summary marked interrupted. The rating job's checkpoint, and the msmt
# job's (a run of 60 epochs stopped after its first), then resume: the run
# goes on from the report's last round or epoch, and its report ends as an
# uninterrupted run's does (every column but the time; msmt: the saved
# model byte for byte too); central mtrec's too, from the report's last
# epoch. Waits are on the
# report's rows and the process's end, never on the clock alone.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
PY=/usr/bin/python3
if ! [ -x "$PY" ]; then
    echo "SKIP: test_interrupt: $PY (python3) is needed to start jobs with SIGINT not ignored and to parse JSON" >&2
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_interrupt.XXXXXX") || exit 99
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# A shell starts background jobs with SIGINT ignored (and fedrec keeps an
# ignored SIGINT ignored): start them through Python with it restored.
start() {
    out=$1; shift
    "$PY" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$FEDREC" "$@" >"$out.out" 2>"$out.err" &
    pid=$!
}
# rows FILE: its lines (0 when it does not exist yet).
rows() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# wait_rows FILE N: wait until FILE has N lines while the job runs (at
# most 10 minutes: a job that never writes is a failure, not a hang).
wait_rows() {
    n=0
    while [ "$(rows "$1")" -lt "$2" ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        n=$((n + 1))
        [ "$n" -lt 6000 ] || return 1
        sleep 0.1
    done
}
# stop SIGNAL: send it, then wait for the job's end; sets $code. The
# steps of these jobs take milliseconds: a job still running a minute
# later did not stop (SIGKILL, code 137).
stop() {
    kill "-$1" "$pid"
    n=0
    while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 600 ]; do
        n=$((n + 1))
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null && echo "the job did not stop within a minute of SIG$1" >&2
    wait "$pid"
    code=$?
    pid=
}

# check NAME EXPECT_CODE SIGNAL UNIT REPORT HEADER_LINES: the verdict of a stopped job.
check() {
    name=$1 want=$2 sig=$3 unit=$4 report=$5 header=$6
    [ "$code" -eq "$want" ] || fail "$name: exit $code after $sig, expected $want: $(tail -n 3 "$tmp/$name.err")"
    grep -q "^stopped by $sig after [0-9]* of [0-9]* ${unit}s" "$tmp/$name.out" ||
        fail "$name: no 'stopped by $sig' line: $(tail -n 5 "$tmp/$name.out")"
    grep -q "interrupted\|terminated" "$tmp/$name.err" || fail "$name: no word on stderr of the signal: $(cat "$tmp/$name.err")"
    "$PY" - "$report" "$tmp/$name.json" "$sig" "$unit" "$header" <<'EOF' || fail "$name: report or summary wrong (above)"
import json, sys
report, summary, sig, unit, header = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
def reject(c):
    raise ValueError("not JSON: " + c)
bad = []
text = open(report).read()
if not text.endswith("\n"):
    bad.append("the report's last row is cut short")
lines = text.splitlines()
if header:
    width = lines[0].count(",")
    for n, l in enumerate(lines[1:], 2):
        if l.count(",") != width:
            bad.append("report row %d has %d fields, the header %d" % (n, l.count(",") + 1, width + 1))
rows = len(lines) - header
index = [int(l.split(",")[0]) for l in lines[header:]]
if index != list(range(1, rows + 1)):
    bad.append("report %ss %r, expected 1..%d" % (unit, index[:5], rows))
s = json.load(open(summary), parse_constant=reject)
if s.get("status") != "interrupted" or s.get("signal") != sig:
    bad.append("summary status %r signal %r" % (s.get("status"), s.get("signal")))
if s.get("unit") != unit or s.get("done") != rows or not (0 < rows < s.get("planned", 0)):
    bad.append("summary %r done %r of %r; the report has %d rows" % (s.get("unit"), s.get("done"), s.get("planned"), rows))
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
    # The printed line and the summary agree on the units run.
    done_printed=$(sed -n "s/^stopped by $sig after \([0-9]*\) of .*/\1/p" "$tmp/$name.out")
    [ "$done_printed" = "$(($(rows "$report") - header))" ] ||
        fail "$name: printed $done_printed ${unit}s run, the report has $(($(rows "$report") - header))"
}

# --- msmt: stopped between batches of an epoch; the best epoch so far is
# evaluated and printed.
msmt="--set job.kind=msmt --set data.rows=6000 --set msmt.expert_layers=32 --set msmt.tower_layers=16
      --set msmt.experts=2 --set train.batch_size=128 --set backend.threads=1 --set train.epochs=100000
      --set msmt.patience=0"
# shellcheck disable=SC2086
start "$tmp/msmt" train $msmt --report "$tmp/msmt.csv" --summary "$tmp/msmt.json"
if wait_rows "$tmp/msmt.csv" 2; then
    stop INT
    check msmt 130 SIGINT epoch "$tmp/msmt.csv" 1
    grep -q "^mean " "$tmp/msmt.out" || fail "msmt: no table of the best epoch after the stop: $(tail -n 3 "$tmp/msmt.out")"
else
    stop KILL
    fail "msmt: no report row: $(tail -n 3 "$tmp/msmt.err")"
fi

# --- msmt with a checkpoint: stopped, then --resume goes on after the last
# finished epoch (the one the report's last row is of) to what an
# uninterrupted run reports and saves.
ck="--set job.kind=msmt --set data.rows=6000 --set msmt.expert_layers=32 --set msmt.tower_layers=16
    --set msmt.experts=2 --set train.batch_size=128 --set backend.threads=1 --set train.epochs=60
    --set msmt.patience=0 --set model.dropout=0.1 --set output.checkpoint=$tmp/msmt.ck --save $tmp/msmt.frm
    --report $tmp/msmt_ck.csv"
# shellcheck disable=SC2086
"$FEDREC" train $ck >/dev/null 2>"$tmp/msmt_full.err" || fail "msmt, uninterrupted: $(cat "$tmp/msmt_full.err")"
cut -d, -f1-4 "$tmp/msmt_ck.csv" >"$tmp/msmt_full.csv"
mv "$tmp/msmt.frm" "$tmp/msmt_full.frm"
rm -f "$tmp/msmt.ck" "$tmp/msmt.ck.prev" "$tmp/msmt_ck.csv"
# shellcheck disable=SC2086
start "$tmp/msmt_ck" train $ck
if wait_rows "$tmp/msmt_ck.csv" 2; then
    stop INT
    [ "$code" -eq 130 ] || fail "msmt with a checkpoint: exit $code after SIGINT, expected 130"
    ran=$(($(rows "$tmp/msmt_ck.csv") - 1))
    grep -q "^the checkpoint in $tmp/msmt.ck holds epoch $ran, the last finished (continue with --resume)" "$tmp/msmt_ck.out" ||
        fail "msmt with a checkpoint: no word of the checkpoint of epoch $ran: $(tail -n 3 "$tmp/msmt_ck.out")"
    # shellcheck disable=SC2086
    "$FEDREC" train $ck --resume >"$tmp/msmt_ck.out" 2>"$tmp/msmt_ck.err" ||
        fail "msmt: the resume after SIGINT failed: $(cat "$tmp/msmt_ck.err")"
    grep -q "^resuming after epoch $ran from $tmp/msmt.ck" "$tmp/msmt_ck.out" ||
        fail "msmt: expected to resume after epoch $ran: $(sed -n 3p "$tmp/msmt_ck.out")"
    cut -d, -f1-4 "$tmp/msmt_ck.csv" >"$tmp/msmt_part.csv"
    cmp -s "$tmp/msmt_full.csv" "$tmp/msmt_part.csv" ||
        fail "msmt: stopped and resumed, the report differs: $(diff "$tmp/msmt_full.csv" "$tmp/msmt_part.csv" | head -n 4)"
    cmp -s "$tmp/msmt_full.frm" "$tmp/msmt.frm" || fail "msmt: stopped and resumed, the saved model differs"
else
    stop KILL
    fail "msmt with a checkpoint: no report row: $(tail -n 3 "$tmp/msmt_ck.err")"
fi

# --- mtrec: stopped between batches.
mtrec="--set job.kind=mtrec --set data.users=300 --set data.items=200 --set data.per_user=10
       --set train.epochs=100000 --set mtrec.patience=0 --set backend.threads=1"
# shellcheck disable=SC2086
start "$tmp/mtrec" train $mtrec --report "$tmp/mtrec.csv" --summary "$tmp/mtrec.json"
if wait_rows "$tmp/mtrec.csv" 2; then
    stop INT
    check mtrec 130 SIGINT epoch "$tmp/mtrec.csv" 1
    grep -q "^best validation epoch" "$tmp/mtrec.out" || fail "mtrec: no summary printed: $(tail -n 3 "$tmp/mtrec.out")"
else
    stop KILL
    fail "mtrec: no report row: $(tail -n 3 "$tmp/mtrec.err")"
fi

# --- fedmsmt, SIGTERM: the round under way is abandoned; JSON lines.
fed="--set job.kind=fedmsmt --set data.rows=6000 --set msmt.expert_layers=32 --set msmt.tower_layers=16
     --set train.batch_size=128 --set backend.threads=1 --set train.rounds=100000
     --set fedmsmt.shared_experts=1 --set fedmsmt.private_experts=1"
# shellcheck disable=SC2086
start "$tmp/fedmsmt" train $fed --report "$tmp/fedmsmt.jsonl" --summary "$tmp/fedmsmt.json"
if wait_rows "$tmp/fedmsmt.jsonl" 1; then
    stop TERM
    # JSON lines start with {"round":N: the same index check.
    sed 's/^{"round":\([0-9]*\),.*/\1,/' "$tmp/fedmsmt.jsonl" >"$tmp/fedmsmt.idx"
    "$PY" -c 'import json, sys
[json.loads(l) for l in open(sys.argv[1])]' "$tmp/fedmsmt.jsonl" || fail "fedmsmt: the report is not JSON lines"
    check fedmsmt 143 SIGTERM round "$tmp/fedmsmt.idx" 0
else
    stop KILL
    fail "fedmsmt: no report row: $(tail -n 3 "$tmp/fedmsmt.err")"
fi

# --- pfedrec with a checkpoint: stopped between rounds, the rounds run are
# checkpointed (checkpoint_every is far away), and --resume goes on from
# the report's last row to the uninterrupted run's result.
rating="--set job.kind=pfedrec --set data.users=100 --set data.items=400 --set data.per_user=20
        --set backend.threads=2 --set train.checkpoint_every=100000"
# shellcheck disable=SC2086
start "$tmp/pfedrec" train $rating --set train.rounds=100000 --set "output.checkpoint=$tmp/ck" \
    --report "$tmp/pfedrec.csv" --summary "$tmp/pfedrec.json"
if wait_rows "$tmp/pfedrec.csv" 2; then
    stop INT
    check pfedrec 130 SIGINT round "$tmp/pfedrec.csv" 1
    ran=$(($(rows "$tmp/pfedrec.csv") - 1))
    grep -q "^checkpoint of round $ran written" "$tmp/pfedrec.out" ||
        fail "pfedrec: no checkpoint of round $ran: $(grep checkpoint "$tmp/pfedrec.out")"
    more=$((ran + 3))
    # shellcheck disable=SC2086
    "$FEDREC" train $rating --set train.rounds=$more --set "output.checkpoint=$tmp/ck" --report "$tmp/pfedrec.csv" \
        --resume >"$tmp/resume.out" 2>&1 || fail "pfedrec: the resume failed: $(tail -n 3 "$tmp/resume.out")"
    grep -q "^resuming after round $ran from" "$tmp/resume.out" ||
        fail "pfedrec: expected to resume after round $ran: $(head -n 3 "$tmp/resume.out")"
    # shellcheck disable=SC2086
    "$FEDREC" train $rating --set train.rounds=$more --report "$tmp/whole.csv" --quiet >"$tmp/out" 2>&1 ||
        fail "pfedrec: the uninterrupted run failed: $(tail -n 3 "$tmp/out")"
    cut -d, -f1-6,8- "$tmp/pfedrec.csv" >"$tmp/a"
    cut -d, -f1-6,8- "$tmp/whole.csv" >"$tmp/b"
    cmp -s "$tmp/a" "$tmp/b" || fail "pfedrec: stopped at $ran and resumed to $more, the report differs from an uninterrupted run's: $(diff "$tmp/a" "$tmp/b" | head -n 4)"
else
    stop KILL
    fail "pfedrec: no report row: $(tail -n 3 "$tmp/pfedrec.err")"
fi

# --- central mtrec with a checkpoint every 2 epochs: stopped inside an
# epoch (most likely), the last checkpoint stands, never holding the steps
# of the epoch cut short; stopped between two, one of the epochs run is
# written. --resume goes on from there to the uninterrupted run's result
# (every column but the times).
mtrec_ck="--set job.kind=mtrec --set data.users=1500 --set data.items=2000 --set data.per_user=20
          --set mtrec.tasks=bpr,social,category --set mtrec.dim=32 --set train.batch_size=256
          --set train.epochs=30 --set mtrec.patience=0 --set backend.threads=1 --set train.checkpoint_every=2"
# shellcheck disable=SC2086
start "$tmp/mtrec_ck" train $mtrec_ck --set "output.checkpoint=$tmp/mck" --report "$tmp/mtrec_ck.csv" \
    --summary "$tmp/mtrec_ck.json"
if wait_rows "$tmp/mtrec_ck.csv" 4; then
    stop INT
    check mtrec_ck 130 SIGINT epoch "$tmp/mtrec_ck.csv" 1
    ran=$(($(rows "$tmp/mtrec_ck.csv") - 1))
    if grep -q "^checkpoint of epoch $ran written" "$tmp/mtrec_ck.out"; then
        from=$ran # stopped between two epochs
    else
        from=$((ran - ran % 2))
    fi
    # shellcheck disable=SC2086
    "$FEDREC" train $mtrec_ck --set "output.checkpoint=$tmp/mck" --report "$tmp/mtrec_ck.csv" --resume \
        >"$tmp/resume.out" 2>&1 || fail "mtrec: the resume failed: $(tail -n 3 "$tmp/resume.out")"
    grep -q "^resuming after epoch $from from" "$tmp/resume.out" ||
        fail "mtrec: stopped after epoch $ran, expected to resume after epoch $from: $(sed -n 4p "$tmp/resume.out")"
    # shellcheck disable=SC2086
    "$FEDREC" train $mtrec_ck --report "$tmp/mtrec_whole.csv" --quiet >"$tmp/out" 2>&1 ||
        fail "mtrec: the uninterrupted run failed: $(tail -n 3 "$tmp/out")"
    cut -d, -f1-20 "$tmp/mtrec_ck.csv" >"$tmp/a"
    cut -d, -f1-20 "$tmp/mtrec_whole.csv" >"$tmp/b"
    cmp -s "$tmp/a" "$tmp/b" || fail "mtrec: stopped after epoch $ran and resumed after $from, the report differs from an uninterrupted run's: $(diff "$tmp/a" "$tmp/b" | head -n 4)"
else
    stop KILL
    fail "mtrec with a checkpoint: no report row: $(tail -n 3 "$tmp/mtrec_ck.err")"
fi

# --- ctr: stopped between epochs.
# shellcheck disable=SC2086
start "$tmp/ctr" train --set job.kind=ctr --set data.rows=2000 --set train.epochs=100000 --set backend.threads=1 \
    --report "$tmp/ctr.csv" --summary "$tmp/ctr.json"
if wait_rows "$tmp/ctr.csv" 2; then
    stop INT
    check ctr 130 SIGINT epoch "$tmp/ctr.csv" 1
else
    stop KILL
    fail "ctr: no report row: $(tail -n 3 "$tmp/ctr.err")"
fi

if [ "$failures" -ne 0 ]; then
    echo "test_interrupt: $failures failure(s)" >&2
    exit 1
fi
exit 0
