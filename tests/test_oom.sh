#!/usr/bin/env bash
# test_oom.sh — the out-of-memory sweep: short runs of the main jobs
# (PFedRec with a checkpoint, report and summary; its resume from that
# checkpoint; PFedRec saving its model, and eval and recommend reading it;
# the multi-scenario job msmt and the federated one fedmsmt, both saving
# their models, msmt writing checkpoints and resuming from one, and an
# msmt model's recommend and export; the multi-task
# recommender mtrec, on a small table and on one large enough for its
# norm-ordered ranking) with one allocation made to fail, run
# after run, through tests/fedrec-oom (tests/oom/fail_alloc.c). Every run
# must end with exit code 1 and a "fedrec: ..." line that says "out of
# memory" with the library's message (not the bare status name a message
# lost on a worker thread leaves), without a signal and, in a sanitizer
# build, without any AddressSanitizer, LeakSanitizer or UBSan report.
#
# FR_OOM_SWEEP=full fails every allocation call of every main job in turn
# (.ci/run's sanitizer build: minutes), the saved-model ones, msmt's checkpoint and
# resume and the large mtrec sampled;
# FR_OOM_SWEEP=all those too; otherwise (make check) the first call of every
# distinct call site and every Kth call (about 40 per job). Also, with 4
# threads, the allocations made on the pool's worker threads (PFedRec with
# secure aggregation): a failure there must reach the report with its
# message. FR_OOM_PERSIST=1 fails every call from the chosen one on instead
# of that one alone. FR_OOM_JOBS runs that many at once (default 2). Each
# job's count of calls and sites, the runs made and the time go to the log.
# doc/RELIABILITY.md describes the sweep and its results.
set -u
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
top_srcdir=$(cd "$top_srcdir" && pwd)
OOM="$(cd "$top_builddir" && pwd)/tests/fedrec-oom"
mode=${FR_OOM_SWEEP:-sample}
[ "$mode" = all ] && mode=full
case "$mode" in
sample | full) ;;
*)
    echo "FR_OOM_SWEEP=$mode: expected sample, full or all" >&2
    exit 99
    ;;
esac
persistent=
case "${FR_OOM_PERSIST:-0}" in
0 | "") ;;
*) persistent=", persistent" ;;
esac
parallel=${FR_OOM_JOBS:-2}
# Leak checks on wherever LeakSanitizer runs (the sanitizer build).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
unset FR_OOM_FAIL FR_OOM_THREAD FR_OOM_REPORT

if [ ! -x "$OOM" ]; then
    echo "SKIP: $OOM is not built" >&2
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# The harness itself: the injector is linked in and fails the call asked.
FR_OOM_FAIL=1 "$OOM" config --print >/dev/null 2>"$tmp/self"
grep -q "fedrec-oom: failing allocation 1:" "$tmp/self" ||
    fail "the injector did not fail allocation 1 (is $OOM linked with --wrap?): $(cat "$tmp/self")"
# --wrap reaches the library's calls only when the library is linked into
# the program (libtool's -static), not loaded as a shared library.
if command -v nm >/dev/null && ! nm "$OOM" 2>/dev/null | grep -q ' T fr_pfedrec_create$'; then
    fail "$OOM does not hold the library (built with --disable-static?): its allocations would not fail"
fi

# Where a failed allocation is meant to cost nothing but speed or a
# nicety, and the run goes on to succeed (exit code 0): the function that
# made the call (addr2line names it and the functions it is inlined in).
allowed_sites="fr_cpu_engine_scratch fr_cli_ranks_open fr_fed_ordered_keep_buffers"
# fr_cpu_engine_scratch: GEMM's packing buffers; without them the product
#   runs unpacked (cpu_gemm.c), a batch one product at a time.
# fr_cli_ranks_open: the table of where each rank runs, printed by
#   multi-rank jobs ("?" without it); its gather's counts are an error.
# fr_fed_ordered_keep_buffers: the list of folded uploads' buffers, for
#   later clients to reuse; without it they stay with their uploads.

# The function (and those it is inlined in) that made run N's failed call.
failed_in() {
    local off
    off=$(sed -n "s/^fedrec-oom: failing allocation $1: .* called from tests\/fedrec-oom+//p" "$2")
    [ -n "$off" ] && command -v addr2line >/dev/null || return 0
    addr2line -f -i -e "$OOM" "$off" | sed -n 'p;n' | tr '\n' ' '
}

# check_run LABEL N DIR: judge run N's exit code and stderr.
check_run() {
    local label=$1 n=$2 dir=$3 rc last fn
    rc=$(cat "$dir/rc")
    if grep -Eq "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Leak|Undefined)" "$dir/err"; then
        echo "$label: allocation $n: sanitizer report:"
        grep -E -m 20 -A 12 "ERROR: |runtime error:" "$dir/err"
        return 1
    fi
    if [ "$rc" -ge 128 ]; then
        echo "$label: allocation $n: killed by signal $((rc - 128))"
        tail -n 5 "$dir/err"
        return 1
    fi
    if ! grep -q "fedrec-oom: failing allocation $n:" "$dir/err"; then
        # Fewer calls this time: nothing failed. Counted, since only the
        # worker threads' count may vary (the sweep's summary judges).
        echo "$n" >>"$tmp/unreached.$label"
        [ "$rc" -eq 0 ] && return 0
        echo "$label: allocation $n: not reached, yet exit code $rc: $(tail -n 2 "$dir/err")"
        return 1
    fi
    if [ "$rc" -eq 0 ]; then
        for fn in $(failed_in "$n" "$dir/err"); do
            case " $allowed_sites " in
            *" $fn "*)
                echo "$fn" >>"$tmp/allowed.$label"
                return 0
                ;;
            esac
        done
        echo "$label: allocation $n failed in $(failed_in "$n" "$dir/err")and the run succeeded: was the failure noticed?"
        grep -A 1 "fedrec-oom: failing" "$dir/err"
        return 1
    fi
    last=$(grep -v '^fedrec-oom: ' "$dir/err" | tail -n 1)
    if [ "$rc" -ne 1 ] || ! printf '%s\n' "$last" | grep -Eq '^fedrec( [a-z]+)?: .*out of memory' ||
        printf '%s\n' "$last" | grep -Eq '^fedrec( [a-z]+)?: (.*: )?out of memory$'; then
        echo "$label: allocation $n: exit code $rc, last line '$last' (expected 1 and the library's out-of-memory message)"
        grep -m 1 "fedrec-oom: failing" "$dir/err"
        return 1
    fi
    return 0
}

# one_run LABEL N PREPARE ARGS...: run the job with allocation N failing,
# in its own folder; prints what went wrong, if anything.
one_run() {
    local label=$1 n=$2 prepare=$3 dir
    shift 3
    dir="$tmp/run.$label.$n"
    mkdir -p "$dir"
    [ -n "$prepare" ] && "$prepare" "$dir"
    (cd "$dir" && FR_OOM_FAIL=$n "$OOM" "$@" >/dev/null 2>err; echo $? >rc)
    if check_run "$label" "$n" "$dir" >"$dir/verdict"; then
        rm -rf "$dir"
    fi
}

# sweep LABEL PREPARE ARGS...: count the job's allocation calls, then fail
# them one by one (all, or the sample).
sweep() {
    local label=$1 prepare=$2 start calls sites first n list total=0 bad
    shift 2
    start=$(date +%s%N)
    local rc try
    # The worker threads may find every task taken by the calling thread
    # (a loaded machine): up to 5 counts for one that saw their calls.
    for try in 1 2 3 4 5; do
        rm -rf "$tmp/count.$label"
        mkdir -p "$tmp/count.$label"
        [ -n "$prepare" ] && "$prepare" "$tmp/count.$label"
        (cd "$tmp/count.$label" && FR_OOM_REPORT=report "$OOM" "$@" >/dev/null 2>err)
        rc=$?
        if [ $rc -ne 0 ] || [ ! -s "$tmp/count.$label/report" ]; then
            fail "$label: the job itself failed (exit code $rc): $(tail -n 3 "$tmp/count.$label/err")"
            return
        fi
        read -r _ calls _ sites _ _ <"$tmp/count.$label/report"
        [ "$calls" -gt 0 ] && break
    done
    if [ "$calls" -eq 0 ]; then
        fail "$label: no allocation call to fail in 5 runs of the job"
        return
    fi
    first=$(sed -n 's/^first //p' "$tmp/count.$label/report")
    if [ "${FR_OOM_THREAD:-}" != worker ]; then
        # Deterministic with one thread: a second count must agree, or
        # the numbers below do not name the same calls.
        mkdir -p "$tmp/count2.$label"
        [ -n "$prepare" ] && "$prepare" "$tmp/count2.$label"
        (cd "$tmp/count2.$label" && FR_OOM_REPORT=report "$OOM" "$@" >/dev/null 2>&1)
        local calls2
        read -r _ calls2 _ <"$tmp/count2.$label/report"
        [ "$calls2" = "$calls" ] || fail "$label: $calls then $calls2 allocation calls: the job is not deterministic"
    fi
    if [ "$mode" = full ]; then
        list=$(seq 1 "$calls")
    else
        local step=$(((calls + 39) / 40))
        list=$( (printf '%s\n' $first; seq 1 "$step" "$calls") | sort -n -u)
    fi
    for n in $list; do
        while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do
            wait -n
        done
        one_run "$label" "$n" "$prepare" "$@" &
        total=$((total + 1))
    done
    wait
    bad=0
    for v in "$tmp"/run."$label".*/verdict; do
        [ -e "$v" ] || continue
        [ -s "$v" ] || continue
        cat "$v" >&2
        bad=$((bad + 1))
    done
    [ "$bad" -eq 0 ] || fail "$label: $bad of $total runs did not end in a clean out-of-memory error"
    local unreached=0 reached=""
    [ -s "$tmp/unreached.$label" ] && unreached=$(wc -l <"$tmp/unreached.$label")
    if [ "${FR_OOM_THREAD:-}" = worker ]; then
        reached="; $((total - unreached)) reached their call"
        # Every run missing its call would have tested nothing.
        [ "$unreached" -lt "$total" ] || fail "$label: not one of $total runs reached the call it was to fail"
    elif [ "$unreached" -ne 0 ]; then
        fail "$label: $unreached of $total runs made fewer calls than counted: the job is not deterministic"
    fi
    local ms=$((($(date +%s%N) - start) / 1000000)) allowed=""
    [ -s "$tmp/allowed.$label" ] &&
        allowed="; succeeded without: $(sort "$tmp/allowed.$label" | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}')"
    printf '%s: %s allocation calls from %s sites; %s runs (%s)%s; %d.%03d s%s\n' "$label" "$calls" "$sites" "$total" \
        "$mode$persistent" "$reached" $((ms / 1000)) $((ms % 1000)) "$allowed" >&2
}

common="--set backend.kind=cpu --set backend.threads=1 --quiet"
rating="--set data.users=20 --set data.items=40 --set data.per_user=5 --set pfedrec.eval_negatives=9"

# PFedRec, 2 rounds, writing a checkpoint every round, the report and a summary.
sweep pfedrec "" train $common $rating --set train.rounds=2 --set output.checkpoint=c.ckpt \
    --set output.report=r.csv --summary s.json

# Its resume: every run starts from the same checkpoint of round 1.
mkdir -p "$tmp/resume.src"
(cd "$tmp/resume.src" && "$OOM" train $common $rating --set train.rounds=1 --set output.checkpoint=c.ckpt \
    --set output.report=r.csv >/dev/null 2>err) || fail "resume: the first run failed: $(tail -n 2 "$tmp/resume.src/err")"
from_checkpoint() {
    cp "$tmp/resume.src/c.ckpt" "$tmp/resume.src/r.csv" "$1/"
}
sweep resume from_checkpoint train $common $rating --set train.rounds=2 --set output.checkpoint=c.ckpt \
    --set output.report=r.csv --resume

# A saved model: training that writes it, then eval and recommend reading it.
# These sweep a sample even with FR_OOM_SWEEP=full (CI: eval and recommend
# make 2,500 calls each, mostly the same few sites); FR_OOM_SWEEP=all
# sweeps them in full too.
main_mode=$mode
[ "$mode" = full ] && mode=sample
[ "${FR_OOM_SWEEP:-}" = all ] && mode=full
sweep save "" train $common $rating --set train.rounds=2 --save m.frm
mkdir -p "$tmp/model.src"
(cd "$tmp/model.src" && "$OOM" train $common $rating --set train.rounds=2 --save m.frm >/dev/null 2>err) ||
    fail "eval: the model could not be saved: $(tail -n 2 "$tmp/model.src/err")"
with_model() {
    cp "$tmp/model.src/m.frm" "$1/"
}
sweep eval with_model eval m.frm
sweep recommend with_model recommend m.frm --user u3 --top 5 --format json
# A multi-scenario model on a table that names its user and item fields:
# saving its user and item data, and recommend and export reading them.
awk 'BEGIN { print "u,i,g,click,part"; for (r = 0; r < 200; r++)
    printf "u%d,i%d,g%d,%d,%s\n", r % 9, r % 13, (r % 13) % 3, (r % 4 == 0), (r % 10 < 8 ? "train" : "test") }' >"$tmp/ui.csv"
"$OOM" data convert --columns cat:u,cat:i,cat:g,label:click,split:part --header --user-field u --item-field i \
    --out "$tmp/ui.tbl" "$tmp/ui.csv" >/dev/null 2>&1 || fail "msmt recommend: the table did not convert"
ui="$common --set job.kind=msmt --set data.source=table --set data.path=$tmp/ui.tbl --set train.epochs=1 \
    --set msmt.expert_layers=4 --set msmt.tower_layers=4 --set msmt.experts=2 --set train.batch_size=64"
# shellcheck disable=SC2086
sweep msmt_save "" train $ui --save m.frm
mkdir -p "$tmp/ui.src"
# shellcheck disable=SC2086
(cd "$tmp/ui.src" && "$OOM" train $ui --save m.frm >/dev/null 2>err) ||
    fail "msmt recommend: the model could not be saved: $(tail -n 2 "$tmp/ui.src/err")"
with_ui_model() {
    cp "$tmp/ui.src/m.frm" "$1/"
}
sweep msmt_recommend with_ui_model recommend m.frm --user u3 --user u7 --top 4 --format json
sweep msmt_export with_ui_model export m.frm --out x
mode=$main_mode

sweep msmt "" train $common --set job.kind=msmt --set data.rows=300 --set data.vocab=10 --set train.epochs=1 \
    --set msmt.expert_layers=4 --set msmt.tower_layers=4 --set msmt.experts=2 --set train.batch_size=128 --save m.frm

# msmt writing a checkpoint every epoch, and its resume from the
# checkpoint of epoch 1 of 2 (a run killed just after writing it):
# sampled even with FR_OOM_SWEEP=full (their training is the msmt sweep's
# above, swept in full; CI's sanitizer build spent 95 s on them), unless
# FR_OOM_SWEEP=all.
main_mode=$mode
[ "$mode" = full ] && mode=sample
[ "${FR_OOM_SWEEP:-}" = all ] && mode=full
ms_ck="$common --set job.kind=msmt --set data.rows=300 --set data.vocab=10 --set train.epochs=2 \
    --set msmt.expert_layers=4 --set msmt.tower_layers=4 --set msmt.experts=2 --set train.batch_size=128 \
    --set model.dropout=0.1 --set output.checkpoint=c.ckpt --set output.report=r.csv"
# shellcheck disable=SC2086
sweep msmt_checkpoint "" train $ms_ck
mkdir -p "$tmp/msmt_resume.src"
# shellcheck disable=SC2086
(cd "$tmp/msmt_resume.src" && FEDREC_TEST_CRASH_AT=renamed:1 "$OOM" train $ms_ck >/dev/null 2>err)
[ $? -eq 137 ] && [ -s "$tmp/msmt_resume.src/c.ckpt" ] ||
    fail "msmt_resume: the run to leave the checkpoint of epoch 1 was not killed after writing it: $(tail -n 2 "$tmp/msmt_resume.src/err")"
from_msmt_checkpoint() {
    cp "$tmp/msmt_resume.src/c.ckpt" "$tmp/msmt_resume.src/r.csv" "$1/"
}
# shellcheck disable=SC2086
sweep msmt_resume from_msmt_checkpoint train $ms_ck --resume
mode=$main_mode

sweep fedmsmt "" train "$top_srcdir/conf/pfmsmtrec-synthetic.ini" $common --set data.rows=300 --set data.vocab=10 \
    --set train.rounds=1 --set msmt.scenarios=2 --set fedmsmt.shared_experts=1 --set fedmsmt.private_experts=1 \
    --set msmt.expert_layers=4 --set msmt.tower_layers=4 --set train.batch_size=128 --save f.frm

sweep mtrec "" train "$top_srcdir/conf/mtrec-synthetic.ini" $common --set data.users=30 --set data.items=40 \
    --set data.per_user=5 --set mtrec.synthetic_categories=4 --set train.epochs=2 --set mtrec.min_epochs=0 \
    --set train.batch_size=64
# a table large enough for the norm-ordered ranking (16,384 items) and a
# step touching more rows than one combine range (1,024): sampled, as
# the saved models (its first part is the small mtrec's), unless
# FR_OOM_SWEEP=all
main_mode=$mode
[ "$mode" = full ] && mode=sample
[ "${FR_OOM_SWEEP:-}" = all ] && mode=full
sweep mtrec_large "" train "$top_srcdir/conf/mtrec-synthetic.ini" $common --set data.users=30 --set data.items=17000 \
    --set data.per_user=40 --set mtrec.synthetic_categories=4 --set train.epochs=1 --set mtrec.min_epochs=0 \
    --set train.batch_size=2048
mode=$main_mode

# Worker threads: only their allocations fail (secure aggregation's and
# the clients' buffers are allocated on them). 100 users (50 clients a
# round), so that the calling thread, which takes tasks too, does not
# finish them all before the workers wake.
FR_OOM_THREAD=worker sweep workers "" train --set backend.kind=cpu --set backend.threads=4 --quiet $rating \
    --set data.users=100 \
    --set train.rounds=2 --set privacy.secure_agg=true --set pfedrec.client_fraction=0.5

[ "$failures" -eq 0 ] || exit 1
exit 0
