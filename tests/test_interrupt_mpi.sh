#!/bin/sh
# test_interrupt_mpi.sh — a multi-rank run stops cleanly on a signal
# (builds configured --with-mpi; doc/DISTRIBUTED.md, "Stopping a
# multi-rank run"). The ranks agree at each round boundary, so every rank
# stops after the same round: rank 0 writes whole report rows, the
# checkpoint of the rounds run and a summary marked interrupted, and every
# rank exits 128 + the signal. Checked here:
#  - PFedRec on 2 ranks, SIGTERM to rank 1 only: both ranks exit 143, the
#    launcher fails; the checkpoint resumes on 2 ranks to the uninterrupted
#    one-process run's report (every column but the time);
#  - PF-MSMTrec on 2 ranks, SIGTERM to rank 0 only: both ranks exit 143,
#    JSON-lines report and summary as above;
#  - Open MPI: SIGINT to mpirun (what Ctrl-C at a terminal sends it), which
#    passes SIGTERM on to the ranks: the same clean stop, and a resume from
#    the checkpoint.
# Waits are on report rows and process ends, never on the clock alone; a
# job that does not stop is killed after a minute and fails the test.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}" "${MPIEXEC:=}" "${FR_TEST_MPI_BUILD:=yes}"
FEDREC="$top_builddir/fedrec"
PY=/usr/bin/python3
if [ "$FR_TEST_MPI_BUILD" = no ]; then
    echo "SKIP: test_interrupt_mpi: this build has no MPI (./configure --with-mpi, with libopenmpi-dev and openmpi-bin installed)" >&2
    exit 77
fi
if [ -z "$MPIEXEC" ]; then
    echo "SKIP: test_interrupt_mpi: no MPI launcher was found at configure time (MPIEXEC is empty)" >&2
    exit 77
fi
if ! [ -x "$PY" ]; then
    echo "SKIP: test_interrupt_mpi: $PY (python3) is needed to parse the summaries and reports" >&2
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_intmpi.XXXXXX") || exit 99
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# As tests/test_mpi.sh: sanitizer settings for the MPI libraries' memory.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$top_srcdir/tests/lsan-mpi.supp:print_suppressions=0:fast_unwind_on_malloc=0"
OMPI_MCA_mca_base_component_disable_dlclose=1
export ASAN_OPTIONS LSAN_OPTIONS OMPI_MCA_mca_base_component_disable_dlclose
openmpi=no
launch_flags=
if "$MPIEXEC" --version 2>&1 | grep -q "Open MPI\|OpenRTE"; then
    openmpi=yes
    launch_flags="--oversubscribe"
    [ "$(id -u)" = 0 ] && launch_flags="$launch_flags --allow-run-as-root"
fi

# start NAME ARGS...: fedrec on 2 ranks in the background ($pid: the
# launcher). Each rank runs under a small shell that writes the rank's pid
# to $tmp/NAME.pid.R and, once it ends, its exit code to $tmp/NAME.code.R.
start() {
    name=$1; shift
    rm -f "$tmp/$name".pid.* "$tmp/$name".code.*
    # shellcheck disable=SC2016,SC2086
    "$MPIEXEC" $launch_flags -np 2 sh -c \
        'r=${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}; at=$1; shift
         "$0" "$@" & echo $! >"$at.pid.$r"; wait $!; c=$?; echo $c >"$at.code.$r"; exit $c' \
        "$FEDREC" "$tmp/$name" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
}
rows() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# wait_rows FILE N: until FILE has N lines while the job runs (at most 10
# minutes: a job that never writes is a failure, not a hang).
wait_rows() {
    n=0
    while [ "$(rows "$1")" -lt "$2" ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        n=$((n + 1))
        [ "$n" -lt 6000 ] || return 1
        sleep 0.1
    done
}
# finish: wait for the launcher's end (SIGKILL after a minute: the ranks
# did not stop); sets $code.
finish() {
    n=0
    while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 600 ]; do
        n=$((n + 1))
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null && echo "the job did not stop within a minute of the signal" >&2
    wait "$pid"
    code=$?
    pid=
}
# signal_rank NAME SIG R: SIG to rank R's fedrec.
signal_rank() {
    n=0
    while ! [ -s "$tmp/$1.pid.$3" ] && [ "$n" -lt 600 ]; do
        n=$((n + 1))
        sleep 0.1
    done
    kill "-$2" "$(cat "$tmp/$1.pid.$3")"
}
# strip FILE: the CSV report without its wall-time columns.
strip() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = ($i !~ /seconds/) }
             { line = ""; for (i = 1; i <= NF; i++) if (keep[i]) line = line "," $i; print line }' "$1"
}

# check NAME SIGNAL UNIT REPORT HEADER_LINES [RANK_CODE]: the verdict of a
# stopped job: each rank's exit code (with RANK_CODE: both must have it),
# one 'stopped by' line (rank 0's), whole report rows, one per round the
# summary says ran.
check() {
    name=$1 sig=$2 unit=$3 report=$4 header=$5 want=${6:-} printed=${7:-yes}
    if [ -n "$want" ]; then
        # Open MPI's launcher ends the other ranks as soon as one exits
        # non-zero, which can kill a rank's wrapper shell between its
        # fedrec's exit and the wrapper writing the code: a missing code is
        # that race (the files are checked below), any other is wrong.
        reported=0
        for r in 0 1; do
            c=$(cat "$tmp/$name.code.$r" 2>/dev/null)
            [ -z "$c" ] || [ "$c" = "$want" ] || fail "$name: rank $r exited '$c', expected $want: $(tail -n 5 "$tmp/$name.err")"
            [ "$c" = "$want" ] && reported=$((reported + 1))
        done
        [ "$reported" -ge 1 ] || fail "$name: no rank reported exit $want: $(tail -n 5 "$tmp/$name.err")"
    fi
    # After a Ctrl-C mpirun no longer drains the ranks' output, and rank 0
    # drops what it cannot write then (interrupt.c): the summary file
    # says how the run ended instead.
    [ "$printed" = no ] || [ "$(grep -c "^stopped by $sig after [0-9]* of [0-9]* ${unit}s" "$tmp/$name.out")" -eq 1 ] ||
        fail "$name: not one 'stopped by $sig' line: $(tail -n 8 "$tmp/$name.out")"
    ! grep -q "MPI_ABORT" "$tmp/$name.out" "$tmp/$name.err" || fail "$name: the job was aborted: $(cat "$tmp/$name.err")"
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
    index = [int(l.split(",")[0]) for l in lines[1:]]
else:
    index = [json.loads(l, parse_constant=reject)["round"] for l in lines]
rows = len(index)
if index != list(range(1, rows + 1)):
    bad.append("report %ss %r..., expected 1..%d" % (unit, index[:5], rows))
s = json.load(open(summary), parse_constant=reject)
if s.get("status") != "interrupted" or s.get("signal") != sig:
    bad.append("summary status %r signal %r" % (s.get("status"), s.get("signal")))
if s.get("unit") != unit or s.get("done") != rows or not (0 < rows < s.get("planned", 0)):
    bad.append("summary %r done %r of %r; the report has %d rows" % (s.get("unit"), s.get("done"), s.get("planned"), rows))
for b in bad:
    print("  " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
    done_printed=$(sed -n "s/^stopped by $sig after \([0-9]*\) of .*/\1/p" "$tmp/$name.out")
    [ "$printed" = no ] || [ "$done_printed" = "$(($(rows "$report") - header))" ] ||
        fail "$name: printed $done_printed ${unit}s run, the report has $(($(rows "$report") - header))"
}

# resume NAME: the checkpoint of a stopped PFedRec run goes on, on 2
# ranks, 3 rounds further, to the uninterrupted one-process run's report.
resume() {
    name=$1
    ran=$(($(rows "$tmp/$name.csv") - 1))
    more=$((ran + 3))
    # shellcheck disable=SC2086
    "$MPIEXEC" $launch_flags -np 2 "$FEDREC" train $rating --set train.rounds=$more --set "output.checkpoint=$tmp/$name.ck" \
        --report "$tmp/$name.csv" --resume >"$tmp/$name.resume" 2>&1 ||
        fail "$name: the resume failed: $(tail -n 5 "$tmp/$name.resume")"
    grep -q "^resuming after round $ran from" "$tmp/$name.resume" ||
        fail "$name: expected to resume after round $ran: $(head -n 3 "$tmp/$name.resume")"
    # shellcheck disable=SC2086
    "$FEDREC" train $rating --set train.rounds=$more --report "$tmp/$name-whole.csv" --quiet >"$tmp/out" 2>&1 ||
        fail "$name: the uninterrupted run failed: $(tail -n 3 "$tmp/out")"
    strip "$tmp/$name.csv" >"$tmp/a"
    strip "$tmp/$name-whole.csv" >"$tmp/b"
    cmp -s "$tmp/a" "$tmp/b" ||
        fail "$name: stopped at $ran and resumed to $more, the report differs from an uninterrupted run's: $(diff "$tmp/a" "$tmp/b" | head -n 4)"
}

rating="$top_srcdir/conf/quickstart.ini --set data.users=240 --set data.items=300 --set backend.threads=1
        --set train.checkpoint_every=100000"

# --- PFedRec, SIGTERM to rank 1 alone: rank 0 learns it at the next round
# boundary; both stop after the same round and exit 143.
# shellcheck disable=SC2086
start term1 train $rating --set train.rounds=100000 --set "output.checkpoint=$tmp/term1.ck" \
    --report "$tmp/term1.csv" --summary "$tmp/term1.json"
if wait_rows "$tmp/term1.csv" 3; then
    signal_rank term1 TERM 1
    finish
    [ "$code" -ne 0 ] || fail "term1: the launcher exited 0 after a stop"
    [ "$openmpi" = no ] || [ "$code" -eq 143 ] || fail "term1: mpirun exited $code, expected 143 (the ranks' code)"
    check term1 SIGTERM round "$tmp/term1.csv" 1 143
    ran=$(($(rows "$tmp/term1.csv") - 1))
    grep -q "^checkpoint of round $ran written" "$tmp/term1.out" ||
        fail "term1: no checkpoint of round $ran: $(grep checkpoint "$tmp/term1.out")"
    resume term1
else
    kill -KILL "$pid" 2>/dev/null
    finish
    fail "term1: no report rows: $(tail -n 5 "$tmp/term1.err")"
fi

# --- PF-MSMTrec, SIGTERM to rank 0 alone: the engine's ranks agree at the
# start of each round; JSON lines.
fm="$top_srcdir/conf/pfmsmtrec-synthetic.ini --set data.rows=6000 --set msmt.expert_layers=16
    --set msmt.tower_layers=8 --set backend.kind=cpu --set backend.threads=1 --set train.rounds=100000"
# shellcheck disable=SC2086
start fed train $fm --report "$tmp/fed.jsonl" --summary "$tmp/fed.json"
if wait_rows "$tmp/fed.jsonl" 2; then
    signal_rank fed TERM 0
    finish
    [ "$code" -ne 0 ] || fail "fed: the launcher exited 0 after a stop"
    check fed SIGTERM round "$tmp/fed.jsonl" 0 143
    grep -q "^mean " "$tmp/fed.out" || fail "fed: no table of the best round after the stop: $(tail -n 3 "$tmp/fed.out")"
else
    kill -KILL "$pid" 2>/dev/null
    finish
    fail "fed: no report rows: $(tail -n 5 "$tmp/fed.err")"
fi

# --- Open MPI: SIGINT to mpirun, as Ctrl-C at a terminal sends it (the
# ranks are in process groups of their own, so the terminal's SIGINT
# reaches mpirun only). mpirun waits odls_base_sigkill_timeout seconds,
# sends every rank SIGTERM, and SIGKILL if they are still there after
# another such wait: 15 s here, for a machine under heavy load (a 2-core
# machine running several builds) to finish a round and write. mpirun's own exit code after a signal is 1.
if [ "$openmpi" = yes ]; then
    # A shell starts background jobs with SIGINT ignored: start mpirun
    # through Python with it restored.
    # shellcheck disable=SC2086
    OMPI_MCA_odls_base_sigkill_timeout=15 "$PY" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$MPIEXEC" $launch_flags -np 2 "$FEDREC" train $rating --set train.rounds=100000 \
        --set "output.checkpoint=$tmp/ctrlc.ck" --report "$tmp/ctrlc.csv" --summary "$tmp/ctrlc.json" \
        >"$tmp/ctrlc.out" 2>"$tmp/ctrlc.err" &
    pid=$!
    if wait_rows "$tmp/ctrlc.csv" 3; then
        kill -INT "$pid"
        finish
        [ "$code" -ne 0 ] || fail "ctrlc: mpirun exited 0 after SIGINT"
        check ctrlc SIGTERM round "$tmp/ctrlc.csv" 1 "" no
        resume ctrlc
    else
        kill -KILL "$pid" 2>/dev/null
        finish
        fail "ctrlc: no report rows: $(tail -n 5 "$tmp/ctrlc.err")"
    fi
else
    echo "SKIP: test_interrupt_mpi: Ctrl-C on the launcher: checked with Open MPI's mpirun only ($MPIEXEC is another)" >&2
fi

if [ "$failures" -ne 0 ]; then
    echo "test_interrupt_mpi: $failures failure(s)" >&2
    exit 1
fi
echo "test_interrupt_mpi: all checks passed"
