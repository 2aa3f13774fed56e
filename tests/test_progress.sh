#!/bin/sh
# test_progress.sh — the progress line of `fedrec train` (doc/OUTPUTS.md).
# Under a pseudo-terminal (script(1) from util-linux) every job kind draws
# it on stderr, redrawn in place with a carriage return: the epoch or round
# of those planned and, where the library reports them, the batches or
# clients done within it. With --quiet, or when stderr is a file or a pipe,
# nothing of it appears. FEDREC_PROGRESS_DELAY=0 draws from the first step
# on, so no check depends on how long a run takes.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
if ! command -v script >/dev/null 2>&1 || ! script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    echo "SKIP: test_progress: needs script(1) from util-linux (script -qec CMD /dev/null) for a pseudo-terminal" >&2
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_progress.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
CR=$(printf '\r')
export FEDREC_PROGRESS_DELAY=0

# (msmt.experts: the msmt job's; fedmsmt refuses it)
fedmsmt="--set data.rows=4000 --set msmt.expert_layers=32 --set msmt.tower_layers=16 --set train.batch_size=256 --set backend.threads=1"
msmt="$fedmsmt --set msmt.experts=2"
rating="--set data.users=100 --set data.items=400 --set data.per_user=20 --set train.rounds=2 --set backend.threads=2"

# on_terminal NAME ARGS: `fedrec train ARGS` under a pseudo-terminal; the
# terminal's output (stdout and stderr, with CR LF line ends) in $tmp/NAME.
on_terminal() {
    name=$1; shift
    script -qec "'$FEDREC' train $*" /dev/null </dev/null >"$tmp/$name" 2>&1 ||
        fail "$name: the run failed: $(tail -n 3 "$tmp/$name")"
}
# drawn NAME PATTERN: the terminal output has a progress line (after a
# carriage return) matching PATTERN (grep -E).
drawn() {
    grep -aEq "$CR  $2" "$tmp/$1" || fail "$1: no progress line '$2' on the terminal: $(tr '\r' '|' <"$tmp/$1" | head -c 600)"
}

on_terminal msmt --set job.kind=msmt $msmt --set train.epochs=2
drawn msmt "epoch 1/2  batch [0-9]+/[0-9]+  [0-9.]+ batch/s  ETA [0-9]"
drawn msmt "epoch 2/2  batch"
on_terminal fedmsmt --set job.kind=fedmsmt $fedmsmt --set train.rounds=2 --set fedmsmt.shared_experts=1 --set fedmsmt.private_experts=1
drawn fedmsmt "round 1/2  batch [0-9]+/[0-9]+"
on_terminal mtrec --set job.kind=mtrec --set data.users=200 --set data.items=150 --set data.per_user=10 --set train.epochs=2
drawn mtrec "epoch 1/2  batch [0-9]+/[0-9]+"
on_terminal mtrec-fed --set job.kind=mtrec --set data.users=200 --set data.items=150 --set data.per_user=10 \
    --set mtrec.tasks=bpr --set mtrec.federated=true --set train.rounds=2
drawn mtrec-fed "round 1/2  client [0-9]+/200"
on_terminal pfedrec --set job.kind=pfedrec $rating
drawn pfedrec "round 1/2  client [0-9]+/100"
on_terminal central-mf --set job.kind=central-mf $rating
drawn central-mf "round 1/2  batch [0-9]+/[0-9]+"
on_terminal ctr --set job.kind=ctr --set data.rows=2000 --set train.epochs=2
drawn ctr "epoch 1/2"

# The line is redrawn in place and erased, never ended: no line feed
# follows it (the terminal shows a line feed as CR LF).
tr '\n' '\001' <"$tmp/msmt" | grep -aEq "ETA [0-9hms]+$CR?$(printf '\001')" &&
    fail "msmt: a progress line is ended by a line feed"

# --quiet on a terminal: no line.
on_terminal quiet --set job.kind=msmt $msmt --set train.epochs=2 --quiet
grep -aq "$CR  epoch" "$tmp/quiet" && fail "--quiet on a terminal drew a progress line"
# stderr to a file: no line, no carriage return at all.
"$FEDREC" train --set job.kind=msmt $msmt --set train.epochs=2 >"$tmp/piped.out" 2>"$tmp/piped.err" ||
    fail "piped: the run failed: $(tail -n 3 "$tmp/piped.err")"
if grep -aq "$CR" "$tmp/piped.err" || grep -aq "batch/s\|ETA" "$tmp/piped.err" "$tmp/piped.out"; then
    fail "stderr to a file holds a progress line: $(tr '\r' '|' <"$tmp/piped.err" | head -c 300)"
fi
# Inside a terminal session, stderr into a pipe: none either.
script -qec "'$FEDREC' train --set job.kind=pfedrec $rating 2>&1 | cat" /dev/null </dev/null >"$tmp/pipe" 2>&1
grep -aq "client/s\|  round 1/2" "$tmp/pipe" && fail "stderr to a pipe drew a progress line"

if [ "$failures" -ne 0 ]; then
    echo "test_progress: $failures failure(s)" >&2
    exit 1
fi
exit 0
