#!/bin/sh
# test_resume_model.sh — a rating run resumed from a checkpoint saves the
# model the uninterrupted run saves, byte for byte (doc/RELIABILITY.md,
# "Checkpoints of a run that saves its model"). Each case runs R rounds
# with --save, then the same run stopped after S rounds (a short
# train.rounds, its checkpoint written with --save) and resumed to R with
# --save, and compares the two model files with cmp:
#  - stopped after its best validation round (the model comes from the
#    checkpoint), on the checkpoint's round itself and before it;
#  - a fifth of the clients a round, stopped the round before the best
#    (the engine's kept model must come back whole: clients not trained
#    after the resume keep what they had), with a personal and a shared
#    score function;
#  - FedNCF (shared layers), output.model_from = last, a resume with no
#    rounds left;
#  - on 2 ranks, resumed on 3 (builds with MPI; else that part is SKIP).
# A checkpoint written without --save, or of format 3, still resumes, and
# --save then refuses as before (bad input B98).
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}" "${MPIEXEC:=}" "${FR_TEST_MPI_BUILD:=no}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_resmodel.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

base="$top_srcdir/conf/quickstart.ini --set data.users=240 --set data.items=300 --set backend.threads=1
      --set output.checkpoint=$tmp/ck --set train.checkpoint_every=4"

# best_round FILE: the best validation round a run printed.
best_round() { sed -n 's/^best validation round \([0-9]*\) of .*/\1/p' "$1"; }

# same NAME R S LAUNCH_STOP LAUNCH_RESUME ARGS...: the uninterrupted run
# (one process) against one stopped after S rounds and resumed to R (each
# under its launcher: "" or "mpirun ... -np K"); the same command line but
# for train.rounds and --resume, so that the files' configurations agree.
same() {
    name=$1 R=$2 S=$3 stop_with=$4 resume_with=$5; shift 5
    rm -f "$tmp/ck" "$tmp/ck.prev" "$tmp/m.frm"
    # shellcheck disable=SC2086
    "$FEDREC" train $base "$@" --set train.rounds=$R --save "$tmp/m.frm" >"$tmp/$name.whole" 2>&1 ||
        fail "$name: the uninterrupted run failed: $(tail -n 3 "$tmp/$name.whole")"
    mv "$tmp/m.frm" "$tmp/$name-whole.frm" 2>/dev/null
    rm -f "$tmp/ck" "$tmp/ck.prev"
    # shellcheck disable=SC2086
    $stop_with "$FEDREC" train $base "$@" --set train.rounds=$S --save "$tmp/m.frm" >"$tmp/$name.part" 2>&1 ||
        fail "$name: the run of $S rounds failed: $(tail -n 3 "$tmp/$name.part")"
    rm -f "$tmp/m.frm"
    # shellcheck disable=SC2086
    $resume_with "$FEDREC" train $base "$@" --set train.rounds=$R --save "$tmp/m.frm" --resume >"$tmp/$name.resumed" 2>&1 ||
        fail "$name: the resume failed: $(tail -n 3 "$tmp/$name.resumed")"
    if [ -s "$tmp/$name-whole.frm" ] && [ -s "$tmp/m.frm" ]; then
        cmp -s "$tmp/$name-whole.frm" "$tmp/m.frm" ||
            fail "$name: stopped after $S of $R rounds and resumed, the saved model differs from the uninterrupted run's"
    else
        fail "$name: a model file is missing"
    fi
}

# Stopped after the best round: find it first (it must come before R).
# shellcheck disable=SC2086
"$FEDREC" train $base --set train.rounds=20 >"$tmp/probe" 2>&1 || fail "the probe run failed: $(tail -n 3 "$tmp/probe")"
B=$(best_round "$tmp/probe")
if [ -z "$B" ] || [ "$B" -ge 18 ]; then
    fail "the probe run's best round is '$B', the cases below need one before round 18"
    B=10
fi
same at-best 20 "$B" "" ""
same after-best 20 $((B + 2)) "" ""
grep -q "^best validation round $B of 20" "$tmp/after-best.resumed" ||
    fail "after-best: the resumed run's best round is not $B: $(grep '^best' "$tmp/after-best.resumed")"
# A fifth of the clients a round, stopped the round before the best: most
# users the best round evaluates were last trained before the resume.
few="--set pfedrec.client_fraction=0.2"
# shellcheck disable=SC2086
"$FEDREC" train $base $few --set train.rounds=40 >"$tmp/probe" 2>&1 || fail "the probe run failed: $(tail -n 3 "$tmp/probe")"
F=$(best_round "$tmp/probe")
if [ -z "$F" ] || [ "$F" -lt 2 ] || [ "$F" -ge 40 ]; then
    fail "the probe run with $few: best round '$F', the case needs one from 2 to 39"
    F=5
fi
# shellcheck disable=SC2086
same few 40 $((F - 1)) "" "" $few
# The same with a shared score function (the one a client was evaluated
# with is not the one it holds after aggregation).
# shellcheck disable=SC2086
same few-shared 40 $((F - 1)) "" "" $few --set pfedrec.personal_score=no
same fedncf 10 7 "" "" --set job.kind=fedncf --set pfedrec.client_fraction=0.5
same last 12 7 "" "" --set output.model_from=last
same last-none-left 12 12 "" "" --set output.model_from=last
grep -q "^resuming after round 12 " "$tmp/last-none-left.resumed" ||
    fail "last-none-left: $(head -n 2 "$tmp/last-none-left.resumed")"

# A checkpoint without models (written without --save): the resume still
# works, and --save refuses the best round it cannot have (B98); the same
# file marked format 3 (the layout of a format-4 file without models)
# loads alike.
rm -f "$tmp/ck" "$tmp/ck.prev"
# shellcheck disable=SC2086
"$FEDREC" train $base --set train.rounds=$((B + 2)) >/dev/null 2>&1 || fail "the run without --save failed"
cp "$tmp/ck" "$tmp/ck.v4"
versions=4
# Format 3: the version field set to 3 and the CRC-32 (zlib's) redone.
if [ -x /usr/bin/python3 ] && /usr/bin/python3 - "$tmp/ck.v4" "$tmp/ck.v3" <<'EOF'
import struct, sys, zlib
b = bytearray(open(sys.argv[1], "rb").read())
assert struct.unpack_from("<I", b, 8)[0] == 4 and struct.unpack_from("<I", b, 20)[0] == 0
struct.pack_into("<I", b, 8, 3)
body = bytes(b[:-4])
open(sys.argv[2], "wb").write(body + struct.pack("<I", zlib.crc32(body)))
EOF
then
    versions="4 3"
else
    skip_part "test_resume_model: a format-3 checkpoint: /usr/bin/python3 is needed to rewrite its checksum"
fi
for version in $versions; do
    cp "$tmp/ck.v$version" "$tmp/ck"
    rm -f "$tmp/ck.prev"
    # shellcheck disable=SC2086
    "$FEDREC" train $base --set train.rounds=20 --save "$tmp/none.frm" --resume >"$tmp/none.out" 2>&1
    code=$?
    [ "$code" -eq 3 ] && grep -q "nothing saved: the best validation round, $B, came before this run resumed after round $((B + 2)), and its checkpoint holds no model of it" "$tmp/none.out" ||
        fail "format $version without models, --save: exit $code: $(tail -n 2 "$tmp/none.out")"
    [ ! -e "$tmp/none.frm" ] || fail "format $version without models: a model was written"
    grep -q "^resuming after round $((B + 2)) " "$tmp/none.out" || fail "format $version without models: $(head -n 2 "$tmp/none.out")"
done

# Several ranks: stopped on 2, resumed on 3 (rank 0 gathers the models,
# then hands them to every rank).
if [ "$FR_TEST_MPI_BUILD" = yes ] && [ -n "$MPIEXEC" ]; then
    launch_flags=
    if "$MPIEXEC" --version 2>&1 | grep -q "Open MPI\|OpenRTE"; then
        launch_flags="--oversubscribe"
        [ "$(id -u)" = 0 ] && launch_flags="$launch_flags --allow-run-as-root"
        OMPI_MCA_mca_base_component_disable_dlclose=1
        export OMPI_MCA_mca_base_component_disable_dlclose
    fi
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
    LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$top_srcdir/tests/lsan-mpi.supp:print_suppressions=0:fast_unwind_on_malloc=0"
    export ASAN_OPTIONS LSAN_OPTIONS
    same ranks-best 20 $((B + 2)) "$MPIEXEC $launch_flags -np 2" "$MPIEXEC $launch_flags -np 3"
    # shellcheck disable=SC2086
    same ranks-few 40 $((F - 1)) "$MPIEXEC $launch_flags -np 2" "$MPIEXEC $launch_flags -np 3" \
        $few --set fed.placement=round-robin
else
    skip_part "test_resume_model: stopped on 2 ranks and resumed on 3: this build has no MPI or no launcher"
fi

if [ "$failures" -ne 0 ]; then
    echo "test_resume_model: $failures failure(s)" >&2
    exit 1
fi
echo "test_resume_model: all checks passed"
