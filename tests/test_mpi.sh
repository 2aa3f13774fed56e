#!/bin/sh
# test_mpi.sh — multi-rank jobs (builds configured --with-mpi): PFedRec,
# FedNCF, a shared score with weighted aggregation, PFedRec as cohorts on
# the CPU backend, simulated stragglers
# with a quorum, and PF-MSMTrec (also with stragglers) on 1, 2 and 3 ranks
# (contiguous and round-robin placement), and federated mtrec on 2 ranks
# (also with its clients as cohorts on the CPU backend),
# PF-MSMTrec's checkpoints written on 1 or 2 ranks resumed on 2, 3 or 1,
# must write reports (and saved models) identical to the single-process
# run's, every column but wall time; a run checkpointed
# on 2 ranks and resumed on 3 equals the uninterrupted run; the
# communication report has a row per round and rank; [rank] keys and
# FEDREC_* variables set a rank's threads, and an OpenCL rank works beside
# a CPU rank (when a device exists); a job refusing to run on several ranks
# says so once, and a data file or report one rank cannot use, or a
# configuration or data that differ between ranks, stop every rank with one
# message (naming the keys that differ); and when a rank is killed the job ends with a
# message naming the intact checkpoint, from which a one-rank run resumes
# to the uninterrupted result.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}" "${MPIEXEC:=}" "${FR_TEST_MPI_BUILD:=yes}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
if [ "$FR_TEST_MPI_BUILD" = no ]; then
    echo "SKIP: test_mpi: this build has no MPI (./configure --with-mpi, with libopenmpi-dev and openmpi-bin installed)" >&2
    exit 77
fi
if [ -z "$MPIEXEC" ]; then
    echo "SKIP: test_mpi: no MPI launcher was found at configure time (MPIEXEC is empty)" >&2
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_mpi.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
awk 'BEGIN { for (u = 1; u <= 60; u++) for (k = 0; k < 12; k++)
        printf "%d\t%d\t5\t%d\n", u, (u * 7 + k * 13) % 200 + 1, k }' >"$tmp/u.data"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# Under --enable-sanitizers: the MPI libraries keep memory to the end of
# the process; suppress those leaks only (tests/lsan-mpi.supp), with full
# stacks (their code lacks frame pointers) and Open MPI's plug-ins kept
# loaded so that their frames have names. Without sanitizers these change
# nothing.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$top_srcdir/tests/lsan-mpi.supp:print_suppressions=0:fast_unwind_on_malloc=0"
OMPI_MCA_mca_base_component_disable_dlclose=1
export ASAN_OPTIONS LSAN_OPTIONS OMPI_MCA_mca_base_component_disable_dlclose

# Open MPI wants --oversubscribe for more ranks than cores (3 on a 2-core
# machine) and --allow-run-as-root as root; MPICH's Hydra needs neither.
launch_flags=
if "$MPIEXEC" --version 2>&1 | grep -q "Open MPI\|OpenRTE"; then
    launch_flags="--oversubscribe"
    [ "$(id -u)" = 0 ] && launch_flags="$launch_flags --allow-run-as-root"
fi
# mpi K ARGS...: fedrec on K ranks, one thread each.
mpi() {
    k=$1; shift
    # shellcheck disable=SC2086
    "$MPIEXEC" $launch_flags -np "$k" "$FEDREC" "$@"
}

# strip FILE: the report without its wall-time columns (names with "seconds").
strip() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = ($i !~ /seconds/) }
             { line = ""; for (i = 1; i <= NF; i++) if (keep[i]) line = line "," $i; print line }' "$1"
}

# same NAME CONFIG ARGS...: the single-process run against 1, 2, 3 ranks.
same() {
    name=$1 conf=$2; shift 2
    "$FEDREC" train "$conf" --quiet --set backend.threads=2 --report "$tmp/$name-single.csv" "$@" \
        >"$tmp/out" 2>"$tmp/err" || fail "$name: the single-process run failed: $(cat "$tmp/err")"
    strip "$tmp/$name-single.csv" >"$tmp/$name-single.txt"
    for k in 1 2 3; do
        mpi "$k" train "$conf" --quiet --set backend.threads=1 --report "$tmp/$name-$k.csv" "$@" \
            >"$tmp/out" 2>"$tmp/err" || fail "$name on $k ranks failed: $(cat "$tmp/err")"
        strip "$tmp/$name-$k.csv" >"$tmp/$name-$k.txt"
        cmp -s "$tmp/$name-single.txt" "$tmp/$name-$k.txt" ||
            fail "$name on $k ranks differs from one process: $(diff "$tmp/$name-single.txt" "$tmp/$name-$k.txt" | head -n 4)"
    done
    [ "$(wc -l <"$tmp/$name-single.txt")" -gt 2 ] || fail "$name: the report is nearly empty"
}

pf="$top_srcdir/conf/quickstart.ini"
small="--set data.users=240 --set data.items=300 --set train.rounds=4"
# shellcheck disable=SC2086
same pfedrec "$pf" $small --set pfedrec.client_fraction=0.5
# shellcheck disable=SC2086
same pfedrec-rr "$pf" $small --set fed.placement=round-robin
# shellcheck disable=SC2086
same fedncf "$pf" $small --set job.kind=fedncf --set train.rounds=3
# shellcheck disable=SC2086
same shared "$pf" $small --set pfedrec.personal_score=no --set pfedrec.aggregation=weighted
# shellcheck disable=SC2086
same stragglers "$pf" $small --set fed.deadline=1 --set fed.deadline_clock=simulated --set fed.latency=1 \
    --set fed.min_clients=140
awk -F, 'NR > 1 && $9 >= 240 { bad = 1 } END { exit bad }' "$tmp/stragglers-single.csv" ||
    fail "simulated stragglers: every client arrived"
# shellcheck disable=SC2086
same faults "$pf" $small --set fault.nan=0.1 --set fault.huge=0.1 --set fed.clip_norm=5 --set fed.placement=round-robin
awk -F, 'NR > 1 && $10 > 0 { seen = 1 } END { exit !seen }' "$tmp/faults-single.csv" ||
    fail "injected NaN updates: none rejected"
# PFedRec's clients trained as cohorts on the CPU backend (a rank's clients
# in groups of 50): the same on any rank count.
# shellcheck disable=SC2086
same cohorts "$pf" $small --set pfedrec.cohort=50 --set pfedrec.client_fraction=0.5 --set backend.kind=cpu
# FedNCF's cohorts (batched GEMMs over the clients' copies of its layers).
# shellcheck disable=SC2086
same ncf-cohorts "$pf" $small --set job.kind=fedncf --set train.rounds=3 --set pfedrec.cohort=40 --set backend.kind=cpu
# Rating models saved on 2 ranks (--save): every user's part comes from
# the rank that trained it, so the file is the one-process run's byte for
# byte and evaluates in one process to the figures training printed.
for extra in "" "--set fed.placement=round-robin" "--set job.kind=fedncf --set train.rounds=2"; do
    # One path for both (the file holds the configuration, output.model too).
    # shellcheck disable=SC2086
    "$FEDREC" train "$pf" --quiet $small --set backend.threads=1 $extra --save "$tmp/m.frm" >"$tmp/one.out" 2>"$tmp/err" ||
        fail "saving in one process ($extra) failed: $(cat "$tmp/err")"
    mv "$tmp/m.frm" "$tmp/one.frm"
    # shellcheck disable=SC2086
    mpi 2 train "$pf" --quiet $small --set backend.threads=1 $extra --save "$tmp/m.frm" >"$tmp/two.out" 2>"$tmp/err" ||
        fail "saving on 2 ranks ($extra) failed: $(cat "$tmp/err")"
    mv "$tmp/m.frm" "$tmp/two.frm"
    cmp -s "$tmp/one.frm" "$tmp/two.frm" || fail "the model saved on 2 ranks ($extra) differs from one process's"
    "$FEDREC" eval "$tmp/two.frm" >"$tmp/eval.out" 2>"$tmp/err" || fail "eval of the 2-rank model ($extra) failed: $(cat "$tmp/err")"
    grep -E '^  (validation|test) ' "$tmp/two.out" >"$tmp/t_train"
    grep -E '^  (validation|test) ' "$tmp/eval.out" >"$tmp/t_eval"
    [ -s "$tmp/t_train" ] && cmp -s "$tmp/t_train" "$tmp/t_eval" ||
        fail "the 2-rank model ($extra) evaluates to '$(cat "$tmp/t_eval")', training printed '$(cat "$tmp/t_train")'"
done

fm="$top_srcdir/conf/pfmsmtrec-synthetic.ini"
msmt="--set data.rows=6000 --set train.rounds=3 --set msmt.expert_layers=16 --set msmt.tower_layers=8 --set backend.kind=cpu"
# shellcheck disable=SC2086
same pfmsmtrec "$fm" $msmt
# shellcheck disable=SC2086
same pfmsmtrec-rr "$fm" $msmt --set fed.placement=round-robin --set fedmsmt.method=fedprox --set fedmsmt.prox_mu=0.01
# shellcheck disable=SC2086
same pfmsmtrec-late "$fm" $msmt --set fed.deadline=1 --set fed.deadline_clock=simulated --set fed.latency=1
awk -F, 'NR > 1 && $8 < 4 { late = 1 } END { exit !late }' "$tmp/pfmsmtrec-late-single.csv" ||
    fail "PF-MSMTrec with simulated stragglers: every client arrived every round"

# Saved on 2 ranks (--save): each client's model of the best round comes
# from the rank that trained it, so the file evaluates in one process to
# the table training printed: with a method that never aggregates (a
# rank's copies of the other rank's clients stay as they started) and with
# late clients (kept out of aggregation, their copies elsewhere stale).
for extra in "--set fedmsmt.method=local" "--set fed.deadline=1 --set fed.deadline_clock=simulated --set fed.latency=1"; do
    # shellcheck disable=SC2086
    mpi 2 train "$fm" $msmt --set backend.threads=1 $extra --save "$tmp/ranks.frm" >"$tmp/out" 2>"$tmp/err" ||
        fail "saving on 2 ranks ($extra) failed: $(cat "$tmp/err")"
    sed -n '/^scenario  *task  *valid_auc/,/^mean /p' "$tmp/out" >"$tmp/t_train"
    "$FEDREC" eval "$tmp/ranks.frm" >"$tmp/out" 2>"$tmp/err" || fail "eval of the 2-rank model failed: $(cat "$tmp/err")"
    sed -n '/^scenario  *task  *valid_auc/,/^mean /p' "$tmp/out" >"$tmp/t_eval"
    [ -s "$tmp/t_train" ] && cmp -s "$tmp/t_train" "$tmp/t_eval" ||
        fail "a model saved on 2 ranks ($extra) evaluates to another table: $(diff "$tmp/t_train" "$tmp/t_eval" | head -n 6)"
done

# PF-MSMTrec checkpoints on several ranks: rank 0 writes the one-process
# file (every client's state sent to it), and any rank count resumes it:
# checkpointed on 2 ranks and resumed on 3, checkpointed in one process and
# resumed on 2, checkpointed on 2 and resumed in one process, each equals
# the uninterrupted one-process run — report (but for times) and saved
# model byte for byte (with screening: faults and a clip).
# (Run in a folder each: the saved model holds the configuration, whose
# paths must be the same.)
fm_abs="$(cd "$(dirname "$fm")" && pwd)/$(basename "$fm")"
fedrec_abs="$(cd "$(dirname "$FEDREC")" && pwd)/$(basename "$FEDREC")"
fmck="$msmt --set train.checkpoint_every=1 --set fault.nan=0.2 --set fed.clip_norm=5 --quiet
      --set output.checkpoint=ck --report r.csv --save m.frm"
for case in ref 2-3 1-2 2-1; do
    mkdir -p "$tmp/fm-$case"
    first=${case%-*} second=${case#*-}
    # shellcheck disable=SC2086
    if [ "$case" = ref ]; then
        (cd "$tmp/fm-$case" && "$fedrec_abs" train "$fm_abs" $fmck --set train.rounds=4 >out 2>err) ||
            fail "PF-MSMTrec with checkpoints in one process failed: $(cat "$tmp/fm-$case/err")"
        continue
    fi
    for step in 1 2; do
        n=$first rounds=2 resume=
        [ "$step" = 2 ] && n=$second rounds=4 resume=--resume
        # shellcheck disable=SC2086
        if [ "$n" = 1 ]; then
            (cd "$tmp/fm-$case" && "$fedrec_abs" train "$fm_abs" $fmck --set train.rounds=$rounds $resume >out 2>err)
        else
            (cd "$tmp/fm-$case" && FEDREC=$fedrec_abs && mpi "$n" train "$fm_abs" $fmck --set train.rounds=$rounds $resume >out 2>err)
        fi || fail "PF-MSMTrec checkpoint $case, step $step on $n rank(s) failed: $(cat "$tmp/fm-$case/err")"
    done
    strip "$tmp/fm-ref/r.csv" >"$tmp/fm-ref.txt"
    strip "$tmp/fm-$case/r.csv" >"$tmp/fm-case.txt"
    [ "$(wc -l <"$tmp/fm-ref.txt")" -eq 5 ] && cmp -s "$tmp/fm-ref.txt" "$tmp/fm-case.txt" ||
        fail "PF-MSMTrec checkpointed on $first rank(s), resumed on $second: the report differs: $(diff "$tmp/fm-ref.txt" "$tmp/fm-case.txt" | head -n 4)"
    cmp -s "$tmp/fm-ref/m.frm" "$tmp/fm-$case/m.frm" ||
        fail "PF-MSMTrec checkpointed on $first rank(s), resumed on $second: another model saved"
done

# Federated mtrec (the per-row mean over ranks, by item-row range): on 2
# ranks, contiguous and round-robin, with a sampled share of clients and
# several local steps, the report (every column but times: the tasks'
# losses, the combiner's weights and norms, ranking figures, upload bytes)
# and the last round's saved table equal one process's byte for byte; a
# run checkpointed on 2 ranks and resumed on 3 equals the uninterrupted
# one-process run, model included. Its clients trained as cohorts on the
# CPU backend (a rank's clients in groups of 40) are the same on 2 ranks.
mt="--set job.kind=mtrec --set data.users=300 --set data.items=400 --set data.per_user=15 --set train.rounds=4
    --set mtrec.tasks=bpr,directau,category --set mtrec.federated=true --set train.batch_size=128
    --set output.model_from=last --set backend.threads=1 --quiet"
for extra in "--set mtrec.client_fraction=0.5" \
    "--set fed.placement=round-robin --set mtrec.local_steps=2 --set mtrec.combiner=pcgrad" \
    "--set mtrec.cohort=40 --set backend.kind=cpu --set mtrec.local_steps=2 --set mtrec.client_fraction=0.5"; do
    # One report path for both (the saved model holds the configuration).
    # shellcheck disable=SC2086
    "$FEDREC" train $mt $extra --report "$tmp/mt.csv" --save "$tmp/m.frm" >"$tmp/out" 2>"$tmp/err" ||
        fail "federated mtrec in one process ($extra) failed: $(cat "$tmp/err")"
    mv "$tmp/m.frm" "$tmp/mt-one.frm"
    mv "$tmp/mt.csv" "$tmp/mt-one.csv"
    # shellcheck disable=SC2086
    mpi 2 train $mt $extra --report "$tmp/mt.csv" --save "$tmp/m.frm" >"$tmp/out" 2>"$tmp/err" ||
        fail "federated mtrec on 2 ranks ($extra) failed: $(cat "$tmp/err")"
    mv "$tmp/m.frm" "$tmp/mt-two.frm"
    mv "$tmp/mt.csv" "$tmp/mt-two.csv"
    strip "$tmp/mt-one.csv" >"$tmp/mt-one.txt"
    strip "$tmp/mt-two.csv" >"$tmp/mt-two.txt"
    [ "$(wc -l <"$tmp/mt-one.txt")" -eq 5 ] || fail "federated mtrec ($extra): the report is not 4 rounds: $(cat "$tmp/mt-one.txt")"
    cmp -s "$tmp/mt-one.txt" "$tmp/mt-two.txt" ||
        fail "federated mtrec on 2 ranks ($extra) reports otherwise: $(diff "$tmp/mt-one.txt" "$tmp/mt-two.txt" | head -n 4)"
    cmp -s "$tmp/mt-one.frm" "$tmp/mt-two.frm" || fail "the federated mtrec model saved on 2 ranks ($extra) differs from one process's"
done
# (The saved model holds the configuration: the same paths for both.)
# shellcheck disable=SC2086
"$FEDREC" train $mt --set train.rounds=5 --set mtrec.client_fraction=0.5 --set "output.checkpoint=$tmp/mtck" \
    --report "$tmp/mt-part.csv" --save "$tmp/m.frm" --set "output.comm_report=$tmp/mt-comm.csv" \
    >"$tmp/out" 2>"$tmp/err" || fail "uninterrupted federated mtrec failed: $(cat "$tmp/err")"
mv "$tmp/m.frm" "$tmp/mt-full.frm"
mv "$tmp/mt-part.csv" "$tmp/mt-full.csv"
rm -f "$tmp/mtck" "$tmp/mtck.prev" "$tmp/mt-comm.csv"
# shellcheck disable=SC2086
mpi 2 train $mt --set train.rounds=3 --set mtrec.client_fraction=0.5 --set "output.checkpoint=$tmp/mtck" \
    --report "$tmp/mt-part.csv" --save "$tmp/m.frm" >"$tmp/out" 2>"$tmp/err" ||
    fail "federated mtrec on 2 ranks with checkpoints failed: $(cat "$tmp/err")"
# shellcheck disable=SC2086
mpi 3 train $mt --set train.rounds=5 --set mtrec.client_fraction=0.5 --set "output.checkpoint=$tmp/mtck" \
    --report "$tmp/mt-part.csv" --save "$tmp/m.frm" --set "output.comm_report=$tmp/mt-comm.csv" --resume \
    >"$tmp/out" 2>"$tmp/err" || fail "federated mtrec resumed on 3 ranks failed: $(cat "$tmp/err")"
strip "$tmp/mt-full.csv" >"$tmp/full.txt"
strip "$tmp/mt-part.csv" >"$tmp/part.txt"
cmp -s "$tmp/full.txt" "$tmp/part.txt" ||
    fail "federated mtrec resumed on 3 ranks differs: $(diff "$tmp/full.txt" "$tmp/part.txt" | head -n 4)"
cmp -s "$tmp/mt-full.frm" "$tmp/m.frm" || fail "federated mtrec resumed on 3 ranks saved another model"
# Its communication report: 2 rounds x 3 ranks, traffic both ways.
[ "$(wc -l <"$tmp/mt-comm.csv")" -eq 7 ] || fail "federated mtrec comm report: $(cat "$tmp/mt-comm.csv")"
awk -F, 'NR > 1 && ($(NF - 5) <= 0 || $(NF - 4) <= 0) { bad = 1 } END { exit bad }' "$tmp/mt-comm.csv" ||
    fail "federated mtrec: a rank reports no traffic: $(cat "$tmp/mt-comm.csv")"

# Checkpointed on 2 ranks, resumed on 3: the uninterrupted run.
# shellcheck disable=SC2086
"$FEDREC" train "$pf" --quiet $small --set train.rounds=6 --report "$tmp/full.csv" >/dev/null 2>&1 ||
    fail "uninterrupted run failed"
# shellcheck disable=SC2086
mpi 2 train "$pf" --quiet $small --set train.rounds=4 --set train.checkpoint_every=2 \
    --set "output.checkpoint=$tmp/ck" --report "$tmp/part.csv" >"$tmp/out" 2>"$tmp/err" ||
    fail "2-rank run with checkpoints failed: $(cat "$tmp/err")"
# shellcheck disable=SC2086
mpi 3 train "$pf" $small --set train.rounds=6 --set "output.checkpoint=$tmp/ck" --report "$tmp/part.csv" \
    --set "output.comm_report=$tmp/comm.csv" --resume >"$tmp/out" 2>"$tmp/err" ||
    fail "3-rank resume failed: $(cat "$tmp/err")"
grep -q "resuming after round 4" "$tmp/out" || fail "resume message: $(head -n 3 "$tmp/out")"
strip "$tmp/full.csv" >"$tmp/full.txt"
strip "$tmp/part.csv" >"$tmp/part.txt"
cmp -s "$tmp/full.txt" "$tmp/part.txt" || fail "resumed on 3 ranks differs: $(diff "$tmp/full.txt" "$tmp/part.txt" | head -n 4)"
# The communication report: a header and 2 rounds x 3 ranks, traffic both ways.
[ "$(wc -l <"$tmp/comm.csv")" -eq 7 ] || fail "comm report: $(cat "$tmp/comm.csv")"
awk -F, 'NR > 1 && ($(NF - 5) <= 0 || $(NF - 4) <= 0) { bad = 1 } END { exit bad }' "$tmp/comm.csv" ||
    fail "a rank reports no traffic: $(cat "$tmp/comm.csv")"
grep -q "rank 2 on" "$tmp/out" || fail "no rank table: $(head -n 5 "$tmp/out")"

# A rank whose configuration or data differ from rank 0's: found at start,
# one message naming the rank and the keys (the job's fingerprint, the one
# checkpoints keep; doc/RELIABILITY.md).
# on_rank1 ARGS...: fedrec on 2 ranks, rank 1 with ARGS... added.
on_rank1() {
    extra=$1; shift
    # shellcheck disable=SC2016
    "$MPIEXEC" $launch_flags -np 2 sh -c \
        'extra=$1; shift; if [ "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" = 1 ]; then set -- "$@" $extra; fi; exec "$0" "$@"' \
        "$FEDREC" "$extra" "$@" >"$tmp/out" 2>"$tmp/err"
}
for change in "pfedrec.lr=0.2|pfedrec.lr: rank 0 0.1, rank 1 0.2" \
    "fed.clip_norm=0|fed.clip_norm: rank 0 5, rank 1 0" \
    "fault.nan=0.1|fault.nan: rank 0 0, rank 1 0.1" \
    "privacy.local_noise=0.1|privacy.local_noise: rank 0 0, rank 1 0.1" \
    "train.rounds=2|train.rounds: rank 0 1, rank 1 2"; do
    on_rank1 "--set ${change%%|*}" train "$pf" --set data.users=240 --set data.items=300 --set train.rounds=1 \
        --set fed.clip_norm=5
    code=$?
    [ "$code" -eq 3 ] &&
        [ "$(grep -c "rank 1 of 2: the configuration differs from rank 0's in 1 key: ${change#*|} (" "$tmp/err")" -eq 1 ] ||
        fail "rank 1 with ${change%%|*}: exit $code: $(cat "$tmp/err")"
done
# Per-rank keys may differ: threads, and the data at another path.
mkdir -p "$tmp/copy" && cp "$tmp/u.data" "$tmp/copy/u.data"
on_rank1 "--set backend.threads=2 --set data.path=$tmp/copy/u.data" train --set data.source=movielens \
    --set data.path="$tmp/u.data" --set train.rounds=1 --set pfedrec.eval_negatives=20 --set backend.threads=1 ||
    fail "rank 1 with other threads and a copy of the data: $(cat "$tmp/err")"
# Other data of the same sizes: exit 4, the data named.
awk '{ $2 = ($2 * 7) % 200 + 1; print }' OFS='\t' "$tmp/u.data" >"$tmp/other.data"
on_rank1 "--set data.path=$tmp/other.data" train --set data.source=movielens --set data.path="$tmp/u.data" \
    --set train.rounds=1 --set pfedrec.eval_negatives=20
code=$?
[ "$code" -eq 4 ] && [ "$(grep -c "rank 1 of 2: the contents of its rating data differ from rank 0's" "$tmp/err")" -eq 1 ] ||
    fail "rank 1 with other data: exit $code: $(cat "$tmp/err")"
# The multi-scenario job: the same check, its table included.
# shellcheck disable=SC2086
on_rank1 "--set fedmsmt.temperature=2" train "$fm" $msmt --set train.rounds=1
code=$?
[ "$code" -eq 3 ] &&
    [ "$(grep -c "rank 1 of 2: the configuration differs from rank 0's in 1 key: fedmsmt.temperature: rank 0 1, rank 1 2 (" "$tmp/err")" -eq 1 ] ||
    fail "fedmsmt, rank 1 with another temperature: exit $code: $(cat "$tmp/err")"
"$FEDREC" data synth --out "$tmp/t1.tbl" --rows 3000 --scenarios 3 --seed 1 >/dev/null &&
    "$FEDREC" data synth --out "$tmp/t2.tbl" --rows 3000 --scenarios 3 --seed 2 >/dev/null ||
    fail "fedrec data synth failed"
tables="--set data.source=table --set train.rounds=1 --set msmt.expert_layers=8 --set msmt.tower_layers=4 --set backend.kind=cpu"
# shellcheck disable=SC2086
on_rank1 "--set data.path=$tmp/t2.tbl" train --set job.kind=fedmsmt $tables --set data.path="$tmp/t1.tbl"
code=$?
[ "$code" -eq 4 ] && [ "$(grep -c "rank 1 of 2: the contents of its feature table differ from rank 0's" "$tmp/err")" -eq 1 ] ||
    fail "fedmsmt, rank 1 with another table: exit $code: $(cat "$tmp/err")"
cp "$tmp/t1.tbl" "$tmp/copy/t1.tbl"
# shellcheck disable=SC2086
on_rank1 "--set data.path=$tmp/copy/t1.tbl" train --set job.kind=fedmsmt $tables --set data.path="$tmp/t1.tbl" ||
    fail "fedmsmt, rank 1 with a copy of the table: $(cat "$tmp/err")"

# Federated mtrec: the same check.
on_rank1 "--set mtrec.client_lr=0.1" train --set job.kind=mtrec --set mtrec.federated=true --set data.users=60 \
    --set data.items=80 --set data.per_user=10 --set train.rounds=1 --quiet
code=$?
[ "$code" -eq 3 ] &&
    [ "$(grep -c "rank 1 of 2: the configuration differs from rank 0's in 1 key: mtrec.client_lr: rank 0 0.05, rank 1 0.1 (" "$tmp/err")" -eq 1 ] ||
    fail "federated mtrec, rank 1 with another client lr: exit $code: $(cat "$tmp/err")"

# A report rank 0 cannot write: refused before any data is read; every rank
# stops, one message, no abort.
# shellcheck disable=SC2086
mpi 2 train "$pf" $small --report /nonexistent/r.csv >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -eq 1 ] || fail "an unwritable report on 2 ranks exited $code, expected 1"
[ "$(grep -c "output.report = '/nonexistent/r.csv' (--report): cannot write there" "$tmp/err")" -eq 1 ] &&
    ! grep -q "MPI_ABORT" "$tmp/err" ||
    fail "an unwritable report on 2 ranks: $(cat "$tmp/err")"

# Per-rank settings: rank.threads and the environment.
# shellcheck disable=SC2086
mpi 2 train "$pf" $small --set train.rounds=1 --set rank.threads=1,2 >"$tmp/out" 2>"$tmp/err" ||
    fail "rank.threads run failed: $(cat "$tmp/err")"
grep -q "rank 0 on .*1 thread$" "$tmp/out" && grep -q "rank 1 on .*2 threads" "$tmp/out" ||
    fail "rank.threads not applied: $(grep "rank [01] on" "$tmp/out")"
# shellcheck disable=SC2086
FEDREC_THREADS=3 mpi 2 train "$pf" $small --set train.rounds=1 --set rank.threads=1 >"$tmp/out" 2>"$tmp/err" ||
    fail "FEDREC_THREADS run failed: $(cat "$tmp/err")"
[ "$(grep -c "3 threads" "$tmp/out")" -eq 2 ] || fail "FEDREC_THREADS not applied: $(grep "rank [01] on" "$tmp/out")"

# Heterogeneous ranks: rank 0 on an OpenCL device (PoCL on CI), rank 1 on
# the CPU; the table names both, and the figures agree with the CPU run to
# rounding (different hardware, so not bit for bit).
if have_opencl_device; then
    # shellcheck disable=SC2086
    mpi 2 train "$fm" $msmt --set train.rounds=2 --set rank.backend=opencl,cpu --report "$tmp/het.csv" \
        >"$tmp/out" 2>"$tmp/err" || fail "OpenCL + CPU ranks failed: $(cat "$tmp/err")"
    grep -q "rank 0 on .*: opencl" "$tmp/out" && grep -q "rank 1 on .*: cpu" "$tmp/out" ||
        fail "rank table of OpenCL + CPU ranks: $(grep "rank [01] on" "$tmp/out")"
    paste -d, "$tmp/het.csv" "$tmp/pfmsmtrec-single.csv" | awk -F, -v n="$(head -n 1 "$tmp/het.csv" | awk -F, '{ print NF }')" '
        NR > 1 && NR <= 3 { d = $3 - $(n + 3); if (d < 0) d = -d; if (d > 0.02) bad = 1 }
        END { exit bad }' || fail "OpenCL + CPU ranks far from the CPU run: $(cut -d, -f1-5 "$tmp/het.csv")"
else
    skip_part "test_mpi: the OpenCL + CPU ranks check: no OpenCL device here (pocl-opencl-icd gives one on any CPU)"
fi

# A job that runs in one process only says so, once, with exit code 3.
mpi 2 train --set job.kind=msmt >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -eq 3 ] || fail "msmt on 2 ranks exited $code, expected 3"
[ "$(grep -c "runs in one process" "$tmp/err")" -eq 1 ] || fail "msmt on 2 ranks: $(cat "$tmp/err")"
# Central mtrec (mtrec.federated = false) likewise (doc/BAD-INPUT.md B235,
# run by test_bad_input.sh too).
mpi 2 train --set job.kind=mtrec --set data.users=50 --set data.items=40 >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -eq 3 ] && [ "$(grep -c "mtrec.federated = false trains centrally" "$tmp/err")" -eq 1 ] ||
    fail "central mtrec on 2 ranks: exit $code: $(cat "$tmp/err")"
# A data file only one rank lacks: every rank stops, rank 0 names it once.
# shellcheck disable=SC2016
"$MPIEXEC" $launch_flags -np 2 sh -c \
    'if [ "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" = 1 ]; then set -- "$@" --set data.path=/nonexistent/u.data; fi
     exec "$0" "$@"' \
    "$FEDREC" train --set data.source=movielens --set data.path="$tmp/u.data" --set train.rounds=1 \
    --set pfedrec.eval_negatives=20 \
    >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -eq 1 ] || fail "a data file missing on rank 1: exit $code, expected 1: $(cat "$tmp/err")"
[ "$(grep -c "rank 1 of 2: .*nonexistent/u.data" "$tmp/err")" -eq 1 ] ||
    fail "a data file missing on rank 1: $(cat "$tmp/err")"

# A rank killed mid-run: the job ends, rank 0 names the intact checkpoint,
# and one process resumes from it to the uninterrupted result. Rank 1 is
# killed once the first checkpoint exists (not after a fixed time, which a
# slow or loaded machine may not reach a checkpoint in; it gives up waiting
# after 120 s, and the checks below then fail).
# shellcheck disable=SC2016
"$MPIEXEC" $launch_flags -np 2 sh -c \
    'if [ "${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" = 1 ]; then
         (i=0; while [ ! -f "'"$tmp/dead"'" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done; kill -9 $$) &
     fi; exec "$0" "$@"' \
    "$FEDREC" train "$pf" --quiet --set data.users=240 --set data.items=300 --set train.rounds=1000000 \
    --set train.checkpoint_every=3 --set "output.checkpoint=$tmp/dead" --set backend.threads=1 \
    --set "output.comm_report=$tmp/dead-comm.csv" >"$tmp/out" 2>"$tmp/err"
code=$?
[ "$code" -ne 0 ] || fail "a job with a killed rank exited 0"
# Open MPI sends the other ranks SIGTERM first, and rank 0 names the
# checkpoint; MPICH's Hydra kills them at once and says so itself. Either
# way the launcher's message names the dead process.
grep -q "exited on signal 9\|BAD TERMINATION" "$tmp/out" "$tmp/err" ||
    fail "no launcher message about the killed rank: $(cat "$tmp/out" "$tmp/err")"
if "$MPIEXEC" --version 2>&1 | grep -q "Open MPI\|OpenRTE"; then
    grep -q "is intact\|intact either way" "$tmp/err" ||
        fail "rank 0 did not name the checkpoint after a rank died: $(cat "$tmp/err")"
fi
# The round it holds (the message may name two when the signal came during
# a write): a resume with no rounds left says it.
"$FEDREC" train "$pf" --set data.users=240 --set data.items=300 --set train.rounds=1 \
    --set "output.checkpoint=$tmp/dead" --resume >"$tmp/out" 2>"$tmp/err"
last=$(sed -n 's/^resuming after round \([0-9]*\) from.*/\1/p' "$tmp/out")
if [ -z "$last" ]; then
    fail "the checkpoint of the killed job cannot be read: $(cat "$tmp/err")"
else
    upto=$((last + 2))
    "$FEDREC" train "$pf" --quiet --set data.users=240 --set data.items=300 --set "train.rounds=$upto" \
        --set "output.checkpoint=$tmp/dead" --resume --report "$tmp/after.csv" \
        --set "output.comm_report=$tmp/dead-comm.csv" >"$tmp/out" 2>"$tmp/err" ||
        fail "resuming after the killed job failed: $(cat "$tmp/err")"
    # The communication report lost the dead run's rows after the checkpoint.
    awk -F, -v upto="$upto" 'NR > 1 { if ($1 < prev) bad = 1; prev = $1 } END { exit bad || prev != upto }' \
        "$tmp/dead-comm.csv" || fail "comm report after resume: $(tail -n 4 "$tmp/dead-comm.csv")"
    "$FEDREC" train "$pf" --quiet --set data.users=240 --set data.items=300 --set "train.rounds=$upto" \
        --report "$tmp/straight.csv" >/dev/null 2>&1 || fail "uninterrupted run to $upto rounds failed"
    strip "$tmp/after.csv" | tail -n 2 >"$tmp/a.txt"
    strip "$tmp/straight.csv" | tail -n 2 >"$tmp/b.txt"
    cmp -s "$tmp/a.txt" "$tmp/b.txt" || fail "resumed after a killed rank differs: $(paste -d'|' "$tmp/a.txt" "$tmp/b.txt")"
fi

if [ "$failures" -ne 0 ]; then
    echo "test_mpi: $failures failure(s)" >&2
    exit 1
fi
echo "test_mpi: all checks passed"
