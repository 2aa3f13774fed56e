#!/bin/sh
# test_bad_input.sh — every row of doc/BAD-INPUT.md, run: each case gives
# fedrec a bad (or merely unusual) input and checks the exit code and that
# the message names what it should (the file, line, field or key, and what
# was expected), and, where an output was asked for, that nothing was left
# half-written. The IDs here and the table's must match one for one.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
# Absolute: the cases run in a temporary folder.
top_builddir=$(cd "$top_builddir" && pwd) top_srcdir=$(cd "$top_srcdir" && pwd)
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_badinput.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 99
failures=0
ran=""
skipped=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# skip_case ID WHY: case ID cannot run here; it is reported as a skipped
# part (a "SKIP:" line) and still counted as one of the script's IDs.
skip_case() {
    ran="$ran $1"
    skipped=$((skipped + 1))
    skip_part "test_bad_input: case $1: $2"
}

# case ID EXIT TEXT CMD...: CMD exits EXIT and prints TEXT (stdout or stderr).
case_() {
    id=$1 want=$2 text=$3
    shift 3
    ran="$ran $id"
    "$@" >out 2>err
    got=$?
    # FR_BAD_INPUT_SHOW=1: print what each case did (for doc/BAD-INPUT.md).
    [ -z "${FR_BAD_INPUT_SHOW:-}" ] || echo "$id exit $got: $(grep -h -m 2 -E 'fedrec|note' err out | head -c 300 | tr '\n' ' ')"
    [ "$got" -eq "$want" ] || fail "$id: '$*' exited $got, expected $want: $(head -c 400 err)"
    if [ -n "$text" ] && ! grep -qF -- "$text" out err; then
        fail "$id: no '$text' in the output: $(head -c 400 err) $(tail -n 3 out)"
    fi
}

R="--set train.rounds=1 --quiet --set pfedrec.eval_negatives=5"
ML="--set data.source=movielens"
# A usable u.data: 30 users, 6 ratings each over 40 items.
awk 'BEGIN { for (u = 1; u <= 30; u++) for (k = 0; k < 6; k++) printf "%d\t%d\t4\t%d\n", u, (u * 7 + k * 3) % 40 + 1, k }' >good.data

: >empty.data
case_ B01 4 "empty.data: no ratings (the file is empty)" "$FEDREC" train $R $ML --set data.path=empty.data
tr '\t' ',' <good.data >comma.data
case_ B02 4 "comma.data:1: 1 field(s) separated by tab, expected at least 4" "$FEDREC" train $R $ML --set data.path=comma.data
cut -f 1-3 good.data >short.data
case_ B03 4 "short.data:1: 3 field(s) separated by tab, expected at least 4" "$FEDREC" train $R $ML --set data.path=short.data
sed 's/^/user/' good.data >names.data
case_ B04 0 "" "$FEDREC" train $R $ML --set data.path=names.data
awk -F'\t' 'BEGIN { OFS = "\t" } { $3 = -$3; print }' good.data >negative.data
case_ B05 0 "" "$FEDREC" train $R $ML --set data.path=negative.data
{ cat good.data; printf '3\t9\tnan\t7\n'; } >nan.data
case_ B06 4 "nan.data:181: field 3 (rating) is 'nan', expected a finite number" "$FEDREC" train $R $ML --set data.path=nan.data
{ cat good.data; printf '3\t9\t1e39\t7\n'; } >overflow.data
case_ B07 4 "overflow.data:181: field 3 (rating) is '1e39', expected a finite number within float range" "$FEDREC" train $R $ML --set data.path=overflow.data
{ cat good.data; printf '3\t9\t4\t1.5\n'; } >time.data
case_ B08 4 "time.data:181: field 4 (time) is '1.5', expected an integer timestamp" "$FEDREC" train $R $ML --set data.path=time.data
{ cat good.data; head -n 20 good.data; } >dup.data
case_ B09 0 "note: 20 repeated (user, item) rows" "$FEDREC" train --set train.rounds=1 --set pfedrec.eval_negatives=5 $ML --set data.path=dup.data
sed 's/^1\t/4294967297\t/' good.data >bigid.data
case_ B10 0 "" "$FEDREC" train $R $ML --set data.path=bigid.data
{ cat good.data; printf '99\t1\t4\t1\n99\t2\t4\t2\n'; } >few.data
case_ B11 0 "note: 1 users with fewer than 3 interactions train but are not evaluated" "$FEDREC" train --set train.rounds=1 --set pfedrec.eval_negatives=5 $ML --set data.path=few.data
printf '1\t1\t4\t1\n1\t2\t4\t2\n2\t1\t4\t1\n' >tooshort.data
case_ B12 4 "tooshort.data: no user has the 3 interactions" "$FEDREC" train $R $ML --set data.path=tooshort.data
{ cat good.data; awk 'BEGIN { s = "u"; while (length(s) < 1048576) s = s s; printf "%s\t1\t4\t1\n", s }'; } >huge.data
case_ B13 0 "" "$FEDREC" train $R $ML --set data.path=huge.data
{ head -n 3 good.data; printf '5\t6\0007\t8\n'; } >nul.data
case_ B14 4 "nul.data:4: a NUL byte inside the line" "$FEDREC" train $R $ML --set data.path=nul.data
sed 's/$/\r/' good.data >crlf.data
case_ B15 0 "" "$FEDREC" train $R $ML --set data.path=crlf.data --set output.report=crlf.csv
{ printf '\357\273\277'; cat good.data; } >bom.data
case_ B16 0 "30 users" "$FEDREC" train --set train.rounds=1 --set pfedrec.eval_negatives=5 $ML --set data.path=bom.data
awk '{ print; print "" }' good.data >blank.data
case_ B17 0 "" "$FEDREC" train $R $ML --set data.path=blank.data
case_ B18 1 "nosuch.data: cannot open: No such file or directory" "$FEDREC" train $R $ML --set data.path=nosuch.data
mkdir folder.data
case_ B19 1 "folder.data: read error: Is a directory" "$FEDREC" train $R $ML --set data.path=folder.data
printf 'user,item,rating,time\n' >header.csv
case_ B20 4 "header.csv: no ratings (the file is empty or holds only its header)" "$FEDREC" train $R --set data.source=delimited --set data.header=true --set data.path=header.csv
case_ B21 4 "fewer than the 198 unseen items evaluation needs" "$FEDREC" train --set train.rounds=1 --quiet $ML --set data.path=good.data
sed 's/$/\textra\tcolumns/' good.data >wide.data
case_ B22 0 "" "$FEDREC" train $R $ML --set data.path=wide.data
cut -f 1-2 good.data | tr '\t' ',' >twocol.csv
case_ B23 4 "twocol.csv:1: 2 field(s) separated by ',', expected at least 4 (user, item, rating, time)" "$FEDREC" train $R --set data.source=delimited --set data.path=twocol.csv
case_ B24 3 "data.columns" "$FEDREC" train $R --set data.source=delimited --set data.path=twocol.csv --set data.columns=user,user,rating,time

# Feature tables (fedrec data convert; the AliExpress layout).
ae_header() {
    printf 'search_id'
    for k in $(seq 1 16); do printf ',categorical_%d' "$k"; done
    for k in $(seq 1 63); do printf ',numerical_%d' "$k"; done
    printf ',click,conversion\n'
}
ae_row() { # search id, numerical_3 value, click, conversion
    printf '%s' "$1"
    for k in $(seq 1 16); do printf ',c%d' "$k"; done
    for k in $(seq 1 63); do if [ "$k" -eq 3 ]; then printf ',%s' "$2"; else printf ',0.5'; fi; done
    printf ',%s,%s\n' "$3" "$4"
}
{ ae_header; ae_row 1 0.1 1 0; ae_row 2 0.2 0 0; } >ae_good.csv
case_ B25 0 "" "$FEDREC" data convert --format aliexpress --out ae_good.tbl ae_good.csv
{ ae_header | sed 's/numerical_3/numerical_three/'; ae_row 1 0.1 1 0; } >ae_header.csv
case_ B26 4 "ae_header.csv:1: column 20 is 'numerical_three', expected 'numerical_3'" "$FEDREC" data convert --format aliexpress --out ae_header.tbl ae_header.csv
[ ! -e ae_header.tbl ] || fail "B26: a failed conversion left its output"
{ ae_header; ae_row 1 0.1 2 0; } >ae_label.csv
case_ B27 4 "ae_label.csv:2: column 81 (click)" "$FEDREC" data convert --format aliexpress --out ae_label.tbl ae_label.csv
{ ae_header; ae_row 1 nan 1 0; } >ae_nan.csv
case_ B28 4 "ae_nan.csv:2: column 20 (numerical_3)" "$FEDREC" data convert --format aliexpress --out ae_nan.tbl ae_nan.csv
{ ae_header; ae_row 1 0.1 1 0 | cut -d, -f 1-50; } >ae_short.csv
case_ B29 4 "ae_short.csv:2:" "$FEDREC" data convert --format aliexpress --out ae_short.tbl ae_short.csv
cp ae_good.tbl keep.tbl
case_ B30 4 "ae_nan.csv:2:" "$FEDREC" data convert --format aliexpress --out keep.tbl ae_nan.csv
cmp -s keep.tbl ae_good.tbl || fail "B30: a failed conversion changed the existing output"
case_ B31 1 "no/such/dir/x.tbl: cannot create the table file (written first as no/such/dir/x.tbl.tmp." "$FEDREC" data convert --format aliexpress --out no/such/dir/x.tbl ae_good.csv

# Binary table files.
head -c 5000 ae_good.tbl >truncated.tbl
case_ B32 4 "truncated.tbl: the file has 5000 bytes" "$FEDREC" data info truncated.tbl
cp good.data notatable.tbl
case_ B33 4 "notatable.tbl:" "$FEDREC" data info notatable.tbl
cp ae_good.tbl flipped.tbl # a split tag (the last section, offset at byte 104) set to 7
split_at=$(od -An -t u8 -j 104 -N 8 ae_good.tbl | tr -d ' ')
printf '\007' | dd of=flipped.tbl bs=1 seek="$split_at" conv=notrunc 2>/dev/null
case_ B34 4 "flipped.tbl:" "$FEDREC" data info flipped.tbl --check

# Checkpoints and model files.
P="--set data.users=60 --set data.items=250 --quiet"
"$FEDREC" train $P --set train.rounds=2 --set output.checkpoint=run.ckpt >/dev/null 2>&1 || fail "checkpoint run failed"
cp run.ckpt run.ckpt.keep
M="$R $ML --set train.rounds=3 --set output.checkpoint=ml.ckpt"
"$FEDREC" train $M --set data.path=good.data --set train.rounds=2 >/dev/null 2>&1 || fail "checkpoint run on good.data failed"
cp ml.ckpt ml.ckpt.keep
# 31 users; and 30 with the same sizes as good.data (40 items, 180 ratings), other items.
awk 'BEGIN { for (u = 1; u <= 31; u++) for (k = 0; k < 6; k++) printf "%d\t%d\t4\t%d\n", u, (u * 7 + k * 3) % 40 + 1, k }' >more.data
awk 'BEGIN { for (u = 1; u <= 30; u++) for (k = 0; k < 6; k++) printf "%d\t%d\t4\t%d\n", u, (u * 11 + k * 3) % 40 + 1, k }' >other.data
case_ B35 4 "ml.ckpt: the checkpoint is of another run" "$FEDREC" train $M --set data.path=more.data --resume
cmp -s ml.ckpt ml.ckpt.keep || fail "B35: a refused checkpoint was changed"
case_ B70 3 "run.ckpt: the checkpoint was written under another configuration, 2 keys differ: pfedrec.lr: checkpoint 0.1, now 5; pfedrec.negatives: checkpoint 4, now 0" \
    "$FEDREC" train $P --set train.rounds=3 --set output.checkpoint=run.ckpt --set pfedrec.lr=5 --set pfedrec.negatives=0 --resume
cmp -s run.ckpt run.ckpt.keep || fail "B70: a refused checkpoint was changed"
case_ B71 4 "ml.ckpt: the checkpoint was written on other data: the same 30 users, 40 items and 180 ratings, but other contents" \
    "$FEDREC" train $M --set data.path=other.data --resume
cmp -s ml.ckpt ml.ckpt.keep || fail "B71: a refused checkpoint was changed"
case_ B72 3 "output.checkpoint = 'none.ckpt': job.kind = ctr writes no checkpoints (the rating jobs, msmt, mtrec and fedmsmt do" "$FEDREC" train --set job.kind=ctr --set output.checkpoint=none.ckpt
[ ! -e none.ckpt ] || fail "B72: a job without checkpoints wrote one"
# fedmsmt resumed on several ranks from a damaged checkpoint: rank 0 reads
# it, every rank stops with its one message, the file as it was.
if [ "${FR_TEST_MPI_BUILD:-no}" = no ] || [ -z "${MPIEXEC:-}" ]; then
    skip_case B73 "this build has no MPI (./configure --with-mpi) to start two ranks"
else
    launch_flags=
    if "$MPIEXEC" --version 2>&1 | grep -q "Open MPI\|OpenRTE"; then
        launch_flags="--oversubscribe"
        [ "$(id -u)" = 0 ] && launch_flags="$launch_flags --allow-run-as-root"
    fi
    printf 'not a checkpoint\n' >ranks.ckpt
    cp ranks.ckpt ranks.ckpt.keep
    # shellcheck disable=SC2086
    case_ B73 4 "ranks.ckpt: not a fedrec fedmsmt checkpoint" \
        "$MPIEXEC" $launch_flags -np 2 "$FEDREC" train --set job.kind=fedmsmt --set data.rows=2000 --set train.rounds=1 \
        --set backend.kind=cpu --set backend.threads=1 --set output.checkpoint=ranks.ckpt --quiet --resume
    cmp -s ranks.ckpt ranks.ckpt.keep || fail "B73: a refused checkpoint was changed"
    [ "$(grep -c 'not a fedrec fedmsmt checkpoint' err 2>/dev/null || echo 1)" -le 1 ] || fail "B73: said more than once"
fi
# The msmt job's checkpoints: two generated tables of one shape, other rows.
MS="--set job.kind=msmt --set data.source=table --set msmt.expert_layers=8 --set msmt.tower_layers=4 --set msmt.experts=2
    --set train.batch_size=256 --set train.epochs=2 --set backend.kind=cpu --quiet"
"$FEDREC" data synth --out ms_a.tbl --rows 3000 --vocab 12 --seed 0 >/dev/null 2>&1 || fail "fedrec data synth failed"
"$FEDREC" data synth --out ms_b.tbl --rows 3000 --vocab 12 --seed 1 >/dev/null 2>&1 || fail "fedrec data synth failed"
"$FEDREC" train $MS --set data.path=ms_a.tbl --set output.checkpoint=ms.ckpt >/dev/null 2>&1 || fail "msmt checkpoint run failed"
cp ms.ckpt ms.ckpt.keep
case_ B206 4 "run.ckpt.keep: a checkpoint of the rating jobs (job.kind = pfedrec, fedmf, fedncf or central-mf), not of the centralised multi-scenario job (job.kind = msmt): a run resumes only from its own job's checkpoints" \
    "$FEDREC" train $MS --set data.path=ms_a.tbl --set output.checkpoint=run.ckpt.keep --resume
case_ B207 4 "ms.ckpt.keep: a checkpoint of the centralised multi-scenario job (job.kind = msmt), not of the rating jobs" \
    "$FEDREC" train $P --set train.rounds=3 --set output.checkpoint=ms.ckpt.keep --resume
case_ B208 3 "ms.ckpt: the checkpoint was written under another configuration, 1 key differs: train.lr: checkpoint 0.01, now 0.02" \
    "$FEDREC" train $MS --set data.path=ms_a.tbl --set output.checkpoint=ms.ckpt --set train.lr=0.02 --resume
cmp -s ms.ckpt ms.ckpt.keep || fail "B208: a refused checkpoint was changed"
case_ B209 4 "ms.ckpt: the checkpoint was written on other data: a table of 3000 rows, contents fingerprint" \
    "$FEDREC" train $MS --set data.path=ms_b.tbl --set output.checkpoint=ms.ckpt --resume
cmp -s ms.ckpt ms.ckpt.keep || fail "B209: a refused checkpoint was changed"
head -c 1000 ms.ckpt.keep >ms_cut.ckpt
cp ms.ckpt.prev ms_cut.ckpt.prev
case_ B210 4 "ms_cut.ckpt: the checkpoint is truncated; the checkpoint before it is kept in ms_cut.ckpt.prev: resume from it with --set output.checkpoint=ms_cut.ckpt.prev" \
    "$FEDREC" train $MS --set data.path=ms_a.tbl --set output.checkpoint=ms_cut.ckpt --resume
{ head -c 8 ms.ckpt.keep; printf '\011\000\000\000'; tail -c +13 ms.ckpt.keep; } >ms_version.ckpt
case_ B211 4 "ms_version.ckpt: checkpoint version 9, this fedrec reads 1" \
    "$FEDREC" train $MS --set data.path=ms_a.tbl --set output.checkpoint=ms_version.ckpt --resume
case_ B212 3 "--resume needs output.checkpoint" "$FEDREC" train $MS --set data.path=ms_a.tbl --resume
case_ B213 4 "ms.ckpt.keep: not a fedrec model file (bad magic): it is a checkpoint (output.checkpoint, for train --resume) of the centralised multi-scenario job (job.kind = msmt)" \
    "$FEDREC" eval ms.ckpt.keep
head -c 1000 run.ckpt.keep >cut.ckpt
case_ B36 4 "cut.ckpt: the checkpoint is truncated" "$FEDREC" train $P --set train.rounds=3 --set output.checkpoint=cut.ckpt --resume
{ head -c 8 run.ckpt.keep; printf '\011\000\000\000'; tail -c +13 run.ckpt.keep; } >version.ckpt
case_ B37 4 "version.ckpt: checkpoint version 9, this fedrec reads 3 to 4" "$FEDREC" train $P --set train.rounds=3 --set output.checkpoint=version.ckpt --resume
"$FEDREC" train --set job.kind=ctr --set data.rows=300 --set train.epochs=1 --quiet --save m.frm >/dev/null 2>&1 || fail "model save failed"
head -c 200 m.frm >cut.frm
case_ B38 4 "cut.frm" "$FEDREC" eval cut.frm
case_ B39 4 "run.ckpt.keep: not a fedrec model file (bad magic): it is a checkpoint (output.checkpoint, for train --resume) of the rating jobs (job.kind = pfedrec" "$FEDREC" eval run.ckpt.keep
# Checkpoints of the central mtrec job: 2 epochs on good.data (30 users,
# 120 training interactions after the per-user split).
MT="--quiet --set job.kind=mtrec $ML --set train.epochs=2 --set mtrec.tasks=bpr --set mtrec.dim=4 --set train.batch_size=32
    --set mtrec.min_epochs=0 --set train.checkpoint_every=1 --set output.checkpoint=mt.ckpt"
"$FEDREC" train $MT --set data.path=good.data --report mt.csv >/dev/null 2>&1 || fail "mtrec checkpoint run failed"
cp mt.ckpt mt.ckpt.keep
cp mt.ckpt.prev mt.ckpt.prev.keep
cp mt.csv mt.csv.keep
cp run.ckpt.keep rating.ckpt
case_ B214 4 "rating.ckpt: a checkpoint of the rating jobs (job.kind = pfedrec, fedmf, fedncf or central-mf), not of the central multi-task job (job.kind = mtrec): a run resumes only from its own job's checkpoints" \
    "$FEDREC" train $MT --set data.path=good.data --set output.checkpoint=rating.ckpt --resume
cmp -s rating.ckpt run.ckpt.keep || fail "B214: a refused checkpoint was changed"
case_ B215 3 "mt.ckpt: the checkpoint was written under another configuration, 1 key differs: mtrec.dim: checkpoint 4, now 8 (a resume may change only" \
    "$FEDREC" train $MT --set data.path=good.data --set mtrec.dim=8 --report mt.csv --resume
cmp -s mt.csv mt.csv.keep || fail "B215: a refused resume changed the report"
case_ B216 4 "mt.ckpt: the checkpoint was written on other data: the same 30 users, 40 items and 120 training interactions, but other contents" \
    "$FEDREC" train $MT --set data.path=other.data --resume
case_ B217 4 "mt.ckpt: the checkpoint is of another run (30 users, 40 items, 120 training interactions, dim 4, 1 tasks, combiner pmtrec, seed 42; this run: 31, 40, 124," \
    "$FEDREC" train $MT --set data.path=more.data --resume
cmp -s mt.ckpt mt.ckpt.keep && cmp -s mt.ckpt.prev mt.ckpt.prev.keep || fail "B215-B217: a refused checkpoint was changed"
head -c 1000 mt.ckpt.keep >cut_mt.ckpt
case_ B218 4 "cut_mt.ckpt: the checkpoint is truncated" \
    "$FEDREC" train $MT --set data.path=good.data --set output.checkpoint=cut_mt.ckpt --resume
{ head -c 8 mt.ckpt.keep; printf '\011\000\000\000'; tail -c +13 mt.ckpt.keep; } >version_mt.ckpt
case_ B219 4 "version_mt.ckpt: checkpoint version 9, this fedrec reads 1" \
    "$FEDREC" train $MT --set data.path=good.data --set output.checkpoint=version_mt.ckpt --resume
cp mt.ckpt.keep bad_mt.ckpt
cp mt.ckpt.prev.keep bad_mt.ckpt.prev
printf 'XXXX' | dd of=bad_mt.ckpt bs=1 seek=2000 conv=notrunc 2>/dev/null
cp bad_mt.ckpt bad_mt.ckpt.keep
case_ B220 4 "bad_mt.ckpt: the checkpoint is corrupt (checksum" \
    "$FEDREC" train $MT --set data.path=good.data --set output.checkpoint=bad_mt.ckpt --resume
grep -qF "the checkpoint before it is kept in bad_mt.ckpt.prev: resume from it with --set output.checkpoint=bad_mt.ckpt.prev" err ||
    fail "B220: the kept previous checkpoint is not named: $(cat err)"
cmp -s bad_mt.ckpt bad_mt.ckpt.keep && cmp -s bad_mt.ckpt.prev mt.ckpt.prev.keep || fail "B220: a refused checkpoint was changed"
MF="--quiet --set job.kind=mtrec $ML --set data.path=good.data --set mtrec.tasks=bpr --set mtrec.dim=4 --set train.batch_size=32
    --set mtrec.federated=true --set train.rounds=2 --set train.checkpoint_every=1"
case_ B221 3 "mt.ckpt: the checkpoint was written under another configuration, 2 keys differ: train.epochs: checkpoint 2, now 5; mtrec.federated: checkpoint false, now true" \
    "$FEDREC" train $MF --set output.checkpoint=mt.ckpt --resume
cmp -s mt.ckpt mt.ckpt.keep || fail "B221: a refused checkpoint was changed"
"$FEDREC" train $MF --set output.checkpoint=fed.ckpt >/dev/null 2>&1 || fail "federated mtrec checkpoint run failed"
cp fed.ckpt fed.ckpt.keep
case_ B222 3 "fed.ckpt: the checkpoint was written under another configuration, 1 key differs: mtrec.client_lr: checkpoint 0.05, now 0.1" \
    "$FEDREC" train $MF --set output.checkpoint=fed.ckpt --set mtrec.client_lr=0.1 --resume
cmp -s fed.ckpt fed.ckpt.keep || fail "B222: a refused checkpoint was changed"
case_ B223 3 "--resume needs output.checkpoint" "$FEDREC" train --set job.kind=mtrec --set train.epochs=1 --quiet --resume
case_ B224 4 "mt.ckpt.keep: not a fedrec model file (bad magic): it is a checkpoint (output.checkpoint, for train --resume) of the central multi-task job (job.kind = mtrec)" \
    "$FEDREC" eval mt.ckpt.keep
# Checkpoints of the fedmsmt job, on the msmt cases' two tables of one shape.
FM="--set job.kind=fedmsmt --set data.source=table --set msmt.expert_layers=8 --set msmt.tower_layers=4
    --set fedmsmt.shared_experts=1 --set fedmsmt.private_experts=1 --set train.batch_size=256 --set train.rounds=2
    --set train.checkpoint_every=1 --set backend.kind=cpu --quiet"
"$FEDREC" train $FM --set data.path=ms_a.tbl --set output.checkpoint=fm.ckpt --report fm.csv >/dev/null 2>&1 ||
    fail "fedmsmt checkpoint run failed"
cp fm.ckpt fm.ckpt.keep
cp fm.ckpt.prev fm.ckpt.prev.keep
cp fm.csv fm.csv.keep
case_ B225 4 "ms.ckpt.keep: a checkpoint of the centralised multi-scenario job (job.kind = msmt), not of the federated multi-scenario multi-task job (job.kind = fedmsmt): a run resumes only from its own job's checkpoints" \
    "$FEDREC" train $FM --set data.path=ms_a.tbl --set output.checkpoint=ms.ckpt.keep --resume
cmp -s ms.ckpt.keep ms.ckpt || fail "B225: a refused checkpoint was changed"
case_ B226 4 "fm.ckpt.keep: a checkpoint of the federated multi-scenario multi-task job (job.kind = fedmsmt), not of the centralised multi-scenario job (job.kind = msmt)" \
    "$FEDREC" train $MS --set data.path=ms_a.tbl --set output.checkpoint=fm.ckpt.keep --resume
case_ B227 3 "fm.ckpt: the checkpoint was written under another configuration, 1 key differs: fedmsmt.temperature: checkpoint 1, now 2 (a resume may change only" \
    "$FEDREC" train $FM --set data.path=ms_a.tbl --set output.checkpoint=fm.ckpt --set fedmsmt.temperature=2 --report fm.csv --resume
cmp -s fm.csv fm.csv.keep || fail "B227: a refused resume changed the report"
case_ B228 4 "fm.ckpt: the checkpoint was written on other data: a table of 3000 rows, contents fingerprint" \
    "$FEDREC" train $FM --set data.path=ms_b.tbl --set output.checkpoint=fm.ckpt --resume
cmp -s fm.ckpt fm.ckpt.keep && cmp -s fm.ckpt.prev fm.ckpt.prev.keep || fail "B227/B228: a refused checkpoint was changed"
head -c 1000 fm.ckpt.keep >fm_cut.ckpt
cp fm.ckpt.prev.keep fm_cut.ckpt.prev
case_ B229 4 "fm_cut.ckpt: the checkpoint is truncated; the checkpoint before it is kept in fm_cut.ckpt.prev: resume from it with --set output.checkpoint=fm_cut.ckpt.prev" \
    "$FEDREC" train $FM --set data.path=ms_a.tbl --set output.checkpoint=fm_cut.ckpt --resume
{ head -c 8 fm.ckpt.keep; printf '\011\000\000\000'; tail -c +13 fm.ckpt.keep; } >fm_version.ckpt
case_ B230 4 "fm_version.ckpt: checkpoint version 9, this fedrec reads 1" \
    "$FEDREC" train $FM --set data.path=ms_a.tbl --set output.checkpoint=fm_version.ckpt --resume
case_ B231 3 "--resume needs output.checkpoint" "$FEDREC" train $FM --set data.path=ms_a.tbl --resume
case_ B232 4 "fm.ckpt.keep: not a fedrec model file (bad magic): it is a checkpoint (output.checkpoint, for train --resume) of the federated multi-scenario multi-task job (job.kind = fedmsmt)" \
    "$FEDREC" eval fm.ckpt.keep
case_ B233 3 "fm.ckpt: the checkpoint holds 2 finished rounds, more than this run's train.rounds = 1: resume with train.rounds = 2 or more" \
    "$FEDREC" train $FM --set data.path=ms_a.tbl --set output.checkpoint=fm.ckpt --set train.rounds=1 --resume
cmp -s fm.ckpt fm.ckpt.keep || fail "B233: a refused checkpoint was changed"
# Central mtrec on several ranks: needs an MPI build and launcher.
if [ "${FR_TEST_MPI_BUILD:-no}" = yes ] && [ -n "${MPIEXEC:-}" ]; then
    mpi_flags=
    if "$MPIEXEC" --version 2>&1 | grep -q "Open MPI\|OpenRTE"; then
        mpi_flags="--oversubscribe"
        [ "$(id -u)" = 0 ] && mpi_flags="$mpi_flags --allow-run-as-root"
    fi
    # shellcheck disable=SC2086
    case_ B235 3 "job.kind = mtrec with mtrec.federated = false trains centrally, every user's data in one process; started with 2 ranks: run it without mpirun, or set mtrec.federated = true" \
        "$MPIEXEC" $mpi_flags -np 2 "$FEDREC" train --set job.kind=mtrec --set data.users=50 --set data.items=40 --quiet
    [ "$(grep -c "trains centrally" err)" -eq 1 ] || fail "B235: not said once: $(cat err)"
else
    skip_case B235 "central mtrec under mpirun: this build has no MPI (./configure --with-mpi)"
fi
# The crash test hook (doc/RELIABILITY.md) set to no known point: the first
# atomic write refuses, so a mistyped test cannot pass for a crash.
case_ B80 3 "FEDREC_TEST_CRASH_AT = 'synched': expected created, written, synced, linked or renamed" env FEDREC_TEST_CRASH_AT=synched "$FEDREC" train --set job.kind=ctr --set data.rows=300 --set train.epochs=1 --quiet --save hook.frm
[ ! -e hook.frm ] || fail "B80: a refused write left its output"
# Saved models: eval, recommend, export (doc/CONFIG.md, "Saved models").
"$FEDREC" train $R $ML --set data.path=good.data --save good.frm >/dev/null 2>&1 || fail "saving a rating model failed"
case_ B90 4 "m.frm: a model of job.kind = ctr scores examples, it does not rank items for users" "$FEDREC" recommend m.frm --user 1
cp good.frm flip.frm
printf '\377' | dd of=flip.frm bs=1 seek=5000 conv=notrunc 2>/dev/null
case_ B91 4 "flip.frm: model file is corrupt or truncated (checksum" "$FEDREC" recommend flip.frm --user 1
head -c 3000 good.frm >cut_rating.frm
case_ B92 4 "cut_rating.frm: model file is corrupt or truncated" "$FEDREC" export cut_rating.frm --out cut_export
[ ! -e cut_export ] || fail "B92: a refused export created its folder"
case_ B93 2 "user '99' is not in good.frm (its 30 users are the training data's, ids like '1', '2', '3', ...)" "$FEDREC" recommend good.frm --user 99
case_ B94 2 "--top '0': expected a whole number of items from 1 to 100000" "$FEDREC" recommend good.frm --user 1 --top 0
printf '1\n2\t3\n' >tab.users
case_ B95 4 "tab.users:2: '2	3' holds a tab, expected one user id per line" "$FEDREC" recommend good.frm --users tab.users
printf '# users\n1\n\n77\n' >unknown.users
case_ B96 4 "unknown.users:4: user '77' is not in good.frm" "$FEDREC" recommend good.frm --users unknown.users
case_ B97 3 "--set pfedrec.dim=16: pfedrec.dim is part of the model good.frm holds (job.kind = pfedrec) and cannot change after training" "$FEDREC" eval good.frm --set pfedrec.dim=16
"$FEDREC" train $R $ML --set data.path=good.data --set train.rounds=2 --set output.checkpoint=done.ckpt >/dev/null 2>&1 || fail "checkpoint run for B98 failed"
case_ B98 3 "output.model = 'resumed.frm': nothing saved: the best validation round, 2, came before this run resumed after round 2, and its checkpoint holds no model of it" \
    "$FEDREC" train $R $ML --set data.path=good.data --set train.rounds=2 --set output.checkpoint=done.ckpt --resume --save resumed.frm
[ ! -e resumed.frm ] || fail "B98: a model was written"
case_ B99 1 "output.model = 'no/dir/m.frm' (--save): cannot write there: no/dir: No such file or directory" \
    "$FEDREC" train $R $ML --set data.path=good.data --save no/dir/m.frm

# Configuration files, --set values, backends.
case_ B40 3 "unknown key 'train.roundz' (did you mean train.rounds?)" "$FEDREC" train --set train.roundz=3
case_ B41 3 "pfedrec.dim = '0': expected an integer in [1, 1024]" "$FEDREC" train --set pfedrec.dim=0
case_ B42 3 "train.rounds = '10abc': expected an integer" "$FEDREC" train --set train.rounds=10abc
case_ B43 3 "train.lr" "$FEDREC" train --set train.lr=fast
printf '[train]\nrounds = 3\n[nosuch]\nx = 1\n' >section.ini
case_ B44 3 "section.ini:3: unknown section [nosuch]" "$FEDREC" train section.ini
printf '[train]\nrounds 3\n' >syntax.ini
case_ B45 3 "syntax.ini:2: syntax error" "$FEDREC" train syntax.ini
printf '[train]\nrounds = 3\nrounds = 4\n' >twice.ini
case_ B46 3 "twice.ini:3: train.rounds is set a second time in this file" "$FEDREC" config --check twice.ini
case_ B47 3 "nosuch.ini: cannot open configuration file" "$FEDREC" train nosuch.ini
case_ B48 3 "backend.kind = 'cuda': expected one of auto, cpu, opencl" "$FEDREC" train --set backend.kind=cuda
case_ B49 3 "backend.cpu_isa = 'sse9'" "$FEDREC" train --set backend.cpu_isa=sse9
# Split files: a good one written by a run, then spoilt.
"$FEDREC" train $R $ML --set data.path=good.data --set output.split=good.split >/dev/null 2>&1 || fail "writing good.split failed"
SP="$FEDREC train $R $ML --set data.path=good.data"
sed '3s/^1	/nobody	/' good.split >unknown.split
case_ B57 4 "unknown.split:3: field 1 (user) is 'nobody', not a user of the rating data" $SP --set data.split_file=unknown.split
awk 'BEGIN { FS = OFS = "\t" } NR == 3 { $4 = "8" } { print }' good.split >seen.split
case_ B58 4 "seen.split:3: field 4 (validation negative 1) is '8', an item user '1' interacted with" $SP --set data.split_file=seen.split
sed '4d' good.split >missing.split
case_ B59 4 "missing.split: user '2' has 6 items but no line (1 such user(s))" $SP --set data.split_file=missing.split
case_ B60 4 "good.split:3: 13 tab-separated fields, expected 11" $SP --set data.split_file=good.split --set pfedrec.eval_negatives=4
case_ B61 1 "nosuch.split: cannot open: No such file or directory" $SP --set data.split_file=nosuch.split
case_ B62 1 "output.split = 'nofolder/x.split' (--set): cannot write there: nofolder: No such file or directory" $SP --set output.split=nofolder/x.split
[ ! -e nofolder ] || fail "B62 left nofolder behind"
cp good.split kept.split
$SP --set data.split_file=nosuch.split --set output.split=kept.split >/dev/null 2>&1
cmp -s good.split kept.split || fail "a failed run changed the split file it was to write"
# A device name that matches none needs a device list to match against:
# without any OpenCL device fedrec refuses the backend itself.
if have_opencl_device; then
    case_ B50 3 "opencl.device = '7'" "$FEDREC" train --set job.kind=ctr --set backend.kind=opencl --set opencl.device=7 --set train.epochs=1 --quiet
else
    skip_case B50 "no OpenCL device here to match opencl.device against (pocl-opencl-icd gives one on any CPU)"
fi
case_ B51 3 "backend.threads = '-1'" "$FEDREC" train --set backend.threads=-1
case_ B52 2 "" "$FEDREC" train --no-such-option
case_ B53 2 "" "$FEDREC" train --set

# Side relations of the multi-task job (mtrec).
MT="--set job.kind=mtrec $ML --set data.path=good.data --set mtrec.tasks=bpr,social --set train.epochs=1 --quiet"
printf 'x1\tx2\nx3\tx4\n' >unknown.links
case_ B54 4 "unknown.links: no usable pairs (2 line(s) named ids the rating files do not have)" "$FEDREC" train $MT --set mtrec.links=unknown.links --set mtrec.relation_delimiter=tab
printf '1\n' >onefield.links
case_ B55 4 "onefield.links:1:" "$FEDREC" train $MT --set mtrec.links=onefield.links --set mtrec.relation_delimiter=tab
printf '1\tbooks\tmusic\n' >three.cats
case_ B202 4 "three.cats:1: 3 fields separated by tab, expected two: an item id and its categories (several separated by '|')" "$FEDREC" train $MT --set mtrec.tasks=bpr,category --set mtrec.categories=three.cats --set mtrec.relation_delimiter=tab
MC="--set job.kind=mtrec --set data.source=delimited --set data.columns=user,item,rating,category --set mtrec.tasks=bpr,category --set train.epochs=1 --quiet"
printf '1,2,4,books\n1,3,4\n' >nocat.csv
case_ B203 4 "nocat.csv:2: 3 field(s) separated by ',', expected at least 4: field 4 holds the item's categories" "$FEDREC" train $MC --set data.path=nocat.csv
printf '2,books\n' >c.txt
case_ B204 3 "mtrec.categories = 'c.txt' and data.columns = 'user,item,rating,category' both give item categories: give them one way" "$FEDREC" train $MC --set data.path=nocat.csv --set mtrec.categories=c.txt
case_ B205 3 "data.columns = 'user,item,rating,category': a category column is read by job.kind = mtrec (the category task); job.kind = pfedrec has no use for it" "$FEDREC" train --set data.source=delimited --set data.path=nocat.csv --set data.columns=user,item,rating,category --quiet

# MovieLens-100K as a multi-scenario table (data.source = movielens-msmt).
MS="--set job.kind=msmt --set data.source=movielens-msmt --set train.epochs=1 --quiet"
mkdir ml_user ml_item
printf '1|24|M|technician|85711\n2|53|F|other|94043\n1|30|F|writer|12345\n' >ml_user/u.user
printf '1|24|M|technician|85711\n2|53|F|other|94043\n' >ml_item/u.user
flags='|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0'
printf '1|A (1995)|01-Jan-1995||x%s\n2|B (1995)|01-Jan-1995||x%s\n' "$flags" "$flags" >ml_user/u.item
printf '1|A (1995)|01-Jan-1995||x%s\n2|B (1995)|01-Jan-1995||x%s\n2|C (1995)|01-Jan-1995||x%s\n' "$flags" "$flags" "$flags" >ml_item/u.item
printf '1\t1\t4\t1\n2\t2\t5\t2\n' | tee ml_user/u.data >ml_item/u.data
case_ B63 4 "ml_user/u.user:3: field 1 (user id): user 1 is defined a second time (first on line 1)" "$FEDREC" train $MS --set data.path=ml_user
case_ B64 4 "ml_item/u.item:3: field 1 (item id): item 2 is defined a second time (first on line 2)" "$FEDREC" train $MS --set data.path=ml_item

# Rows marked train / validation / test (fedrec data convert).
MAP="--columns cat:user,label:click,split:part --header"
printf 'user,click,part\nu1,1,train\nu2,0,Test\n' >bad_mark.csv
case_ B65 4 "bad_mark.csv:3: column 3 (part): expected a split mark train, val, valid, validation, test, 0, 1 or 2, got 'Test'" "$FEDREC" data convert $MAP --out bad_mark.tbl bad_mark.csv
[ ! -e bad_mark.tbl ] || fail "B65: a failed conversion left its output"
printf 'user,click,part\nu1,1,train\nu2,0,test\nu3,1,val\n' >marks.csv
case_ B66 2 "input 'marks.csv' is marked test, but the column map's split column marks every row" "$FEDREC" data convert $MAP --out marks.tbl marks.csv::test
case_ B67 2 "--valid-fraction 0.2: the validation rows are marked (a split column)" "$FEDREC" data convert $MAP --valid-fraction 0.2 --out marks.tbl marks.csv
case_ B68 2 "input 'marks.csv': split 'dev' is not train, valid (val, validation) or test" "$FEDREC" data convert --columns cat,label,- --header --out marks.tbl marks.csv::dev

# PLE's per-level expert widths: one per level.
case_ B69 3 "msmt.level_widths: 2 width(s) for msmt.levels = 1, expected one per level" "$FEDREC" train --set job.kind=msmt --set msmt.model=ple --set msmt.level_widths=512,256 --set train.epochs=1 --quiet
case_ B160 3 "data.rows = 50000 with data.test_fraction = 0.5 and data.valid_fraction = 0.5 leaves 25000 test, 25000 validation and 0 training rows; need at least 2 of each" "$FEDREC" train --set job.kind=ctr --set data.test_fraction=0.5 --set data.valid_fraction=0.5 --save held.frm --quiet
[ ! -e held.frm ] || fail "B160: a refused run left a model"

# fedrec tune: the search space, checked before any trial runs (B140-B158,
# B200-B201); fedrec compare: a damaged summary (B159).
TN="--set train.rounds=1 --set data.users=30 --set data.items=40 --set data.per_user=8 --set pfedrec.eval_negatives=5 --quiet --out tune-bad"
# shellcheck disable=SC2086
{
case_ B140 3 "--grid: unknown key 'pfedrec.lrr' (did you mean pfedrec.lr?)" "$FEDREC" tune $TN --grid pfedrec.lrr=0.1,0.2
case_ B141 3 "--grid: pfedrec.lr = '-1': expected a number in (0, 1000]" "$FEDREC" tune $TN --grid pfedrec.lr=0.1,-1
case_ B142 2 "--grid pfedrec.lr=: no values after '=', expected a list like pfedrec.lr=v1,v2" "$FEDREC" tune $TN --grid pfedrec.lr=
case_ B143 2 "--grid pfedrec.lr=0.1,,0.2: an empty value in the list (value 2), expected values separated by ','" "$FEDREC" tune $TN --grid pfedrec.lr=0.1,,0.2
case_ B144 2 "--grid pfedrec.lr=0.1,0.1: the value '0.1' is listed twice" "$FEDREC" tune $TN --grid pfedrec.lr=0.1,0.1
case_ B145 2 "--grid 'pfedrec.lr': expected section.key=v1,v2,..." "$FEDREC" tune $TN --grid pfedrec.lr
case_ B146 2 "--random pfedrec.lr=1:0.1: the range 1:0.1 is empty, expected LO < HI" "$FEDREC" tune $TN --random pfedrec.lr=1:0.1
case_ B147 2 "--random pfedrec.lr=0:1:log: a log scale needs LO > 0, got 0" "$FEDREC" tune $TN --random pfedrec.lr=0:1:log
case_ B148 2 "--random pfedrec.mode=1:2: pfedrec.mode is not a number (a choice key), expected an integer or real key" "$FEDREC" tune $TN --random pfedrec.mode=1:2
case_ B149 2 "--random pfedrec.lr=a:1: the lower end 'a' is not a number" "$FEDREC" tune $TN --random pfedrec.lr=a:1
case_ B150 2 "--random pfedrec.dim=2.5:8: the lower end '2.5' is not a whole number (the key is an integer)" "$FEDREC" tune $TN --random pfedrec.dim=2.5:8
case_ B151 3 "--random: unknown key 'pfedrec.lrr' (did you mean pfedrec.lr?)" "$FEDREC" tune $TN --random pfedrec.lrr=0.1:1
case_ B152 3 "--random: pfedrec.lr = '2000': expected a number in (0, 1000]" "$FEDREC" tune $TN --random pfedrec.lr=0.1:2000
case_ B153 2 "--random pfedrec.lr: the key is searched twice (already by --grid); give each key once" "$FEDREC" tune $TN --grid pfedrec.lr=0.1 --random pfedrec.lr=0.1:1
case_ B154 2 "--grid job.kind: the job kind decides the validation metric a tune selects on, so one tune runs one job kind" "$FEDREC" tune $TN --grid job.kind=fedmf,pfedrec
case_ B155 2 "--trials 5: counts the draws of --random keys, and none is given" "$FEDREC" tune $TN --trials 5 --grid pfedrec.lr=0.1
case_ B156 2 "--seeds '0,x': seed 2 is 'x', expected comma-separated whole numbers like 0,1,2" "$FEDREC" tune $TN --seeds 0,x
}
[ ! -e tune-bad ] || fail "B140-B156: a refused search space left its folder"
# shellcheck disable=SC2086
"$FEDREC" tune $TN --grid pfedrec.lr=0.1,0.2 >/dev/null 2>&1 || fail "B158: the first search failed"
# shellcheck disable=SC2086
case_ B158 2 "tune-bad holds the trials of another base configuration (train.rounds: there 1, now 2)" "$FEDREC" tune $TN --set train.rounds=2 --grid pfedrec.lr=0.1,0.2
# shellcheck disable=SC2086
"$FEDREC" train $R --summary whole.json >/dev/null 2>&1 || fail "B159: no summary to cut"
head -n 4 whole.json >cut.json
case_ B159 4 "cut.json:5:1: expected a member name in double quotes, found the end of the text (expected a summary written by 'fedrec train --summary')" "$FEDREC" compare cut.json
rm -rf tune-bad
case_ B200 3 "--grid mtrec.tau: job.kind = mtrec reads it only with mtrec.combiner = pmtrec, and no configuration of this search has that: no trial would use it" "$FEDREC" tune --set job.kind=mtrec --set mtrec.combiner=ew --grid mtrec.tau=0.1,1 --quiet --out tune-bad
# shellcheck disable=SC2086
case_ B201 2 "--grid pfedrec.lr=0.1,n/a: 'n/a' is how trials.csv marks a key a trial's job does not read, not a value" "$FEDREC" tune $TN --grid pfedrec.lr=0.1,n/a
[ ! -e tune-bad ] || fail "B200-B201: a refused search space left its folder"

# Saved multi-scenario models (msmt, fedmsmt): damaged files, data of
# another schema, keys that built the model, nothing to evaluate.
awk 'BEGIN { print "u,i,click,part"; for (r = 0; r < 600; r++) {
    p = r % 10 < 8 ? "train" : r % 10 == 8 ? "val" : "test"; printf "u%d,i%d,%d,%s\n", r % 17, r % 11, (r % 3 == 0), p } }' >rows.csv
sed 's/,click,/,buy,/' rows.csv >buy.csv
TBL="--header --out"
"$FEDREC" data convert --columns cat:u,cat:i,label:click,split:part $TBL rows.tbl rows.csv >/dev/null &&
    "$FEDREC" data convert --columns cat:u,cat:i,label:buy,split:part $TBL buy.tbl buy.csv >/dev/null &&
    "$FEDREC" data convert --columns cat:u,cat:i,label:click,- --valid-fraction 0 $TBL alltrain.tbl rows.csv >/dev/null &&
    "$FEDREC" data convert --columns cat:u,-,label:click,split:part $TBL onefield.tbl rows.csv >/dev/null ||
    fail "B100-B107: the tables did not convert"
SM="--set data.source=table --set data.path=rows.tbl --set msmt.expert_layers=4 --set msmt.tower_layers=2 --set train.batch_size=64 --quiet"
"$FEDREC" train --set job.kind=msmt $SM --set msmt.experts=2 --set train.epochs=1 --save m.frm >/dev/null &&
    "$FEDREC" train --set job.kind=fedmsmt $SM --set train.rounds=1 --set fedmsmt.shared_experts=1 \
        --set fedmsmt.private_experts=1 --save f.frm >/dev/null &&
    "$FEDREC" train --set job.kind=msmt --set data.rows=2000 --set data.vocab=12 --set msmt.expert_layers=4 \
        --set msmt.tower_layers=2 --set train.epochs=1 --quiet --save syn.frm >/dev/null ||
    fail "B100-B107: the models did not train"
head -c 2000 m.frm >trunc.frm
case_ B100 4 "trunc.frm: model file is corrupt or truncated" "$FEDREC" eval trunc.frm
case_ B101 4 "categorical field 1 has 13 values; the model in syn.frm has embeddings for 12" "$FEDREC" eval syn.frm --set data.vocab=13
case_ B102 4 "scenarios 's0', 's1', 's2'; the model in syn.frm was trained on scenarios 's0', 's1', 's2', 's3', in that order" "$FEDREC" eval syn.frm --set msmt.scenarios=3
case_ B103 4 "onefield.tbl: 1 categorical field(s); the model in m.frm was trained on 2 (data of another schema)" "$FEDREC" eval m.frm --set data.path=onefield.tbl
case_ B104 3 "--set msmt.model=ple: msmt.model is part of the model m.frm holds (job.kind = msmt) and cannot change after training; 'fedrec eval' may change only data.*, run.seed" "$FEDREC" eval m.frm --set msmt.model=ple
case_ B105 4 "alltrain.tbl: no validation or test rows to evaluate on" "$FEDREC" eval m.frm --set data.path=alltrain.tbl
case_ B106 1 "output.model = 'no/such/m.frm' (--save): cannot write there: no/such: No such file or directory" "$FEDREC" train --set job.kind=msmt $SM --save no/such/m.frm
grep -q "^epoch" out && fail "B106: trained before refusing the model's folder"
case_ B107 4 "buy.tbl: tasks 'buy'; the model in f.frm predicts 'click', in that order" "$FEDREC" eval f.frm --set data.path=buy.tbl
case_ B108 4 "f.frm: the model was trained on a table that does not name its user and item fields" "$FEDREC" recommend f.frm --user u1
# recommend of msmt and fedmsmt models: tables that name their user and
# item fields (a scenario per user; a user's rows in two scenarios; a
# context field of neither side), and the options that pick a task or a
# scenario.
awk 'BEGIN { print "u,i,x,s,click,part"; for (r = 0; r < 600; r++) {
    p = r % 10 < 8 ? "train" : r % 10 == 8 ? "val" : "test"; printf "u%d,i%d,x%d,s%d,%d,%s\n", r % 17, r % 11, r % 5, r % 2, (r % 3 == 0), p } }' >ctx.csv
UI="--user-field u --item-field i"
"$FEDREC" data convert --columns cat:u,cat:i,-,-,label:click,split:part $UI $TBL roles.tbl ctx.csv >/dev/null &&
    "$FEDREC" data convert --columns cat:u,cat:i,-,scenario,label:click,split:part $UI $TBL twoscen.tbl ctx.csv >/dev/null &&
    "$FEDREC" data convert --columns cat:u,cat:i,cat:x,-,label:click,split:part $UI $TBL ctx.tbl ctx.csv >/dev/null ||
    fail "B161-B167: the tables did not convert"
RM="--set msmt.expert_layers=4 --set msmt.tower_layers=2 --set train.batch_size=64 --quiet --set job.kind=msmt --set msmt.experts=2 --set train.epochs=1 --set data.source=table"
# shellcheck disable=SC2086
"$FEDREC" train $RM --set data.path=roles.tbl --save r.frm >/dev/null &&
    "$FEDREC" train $RM --set data.path=twoscen.tbl --save r2.frm >/dev/null &&
    "$FEDREC" train $RM --set data.path=ctx.tbl --save rc.frm >/dev/null ||
    fail "B161-B167: the models did not train"
case_ B161 2 "--task 'buy': the model in r.frm predicts tasks 'click'" "$FEDREC" recommend r.frm --user u1 --task buy
case_ B162 2 "r2.frm: a user's rows span several scenarios in the training data, so the scenario to rank in is not the user's: name it with --scenario NAME" "$FEDREC" recommend r2.frm --user u1
case_ B163 2 "--scenario 'default': in the training data of r.frm every user belongs to one scenario, and recommend ranks with the user's own; drop --scenario" "$FEDREC" recommend r.frm --user u1 --scenario default
case_ B164 2 "--scenario 's7': the model in r2.frm knows scenarios 's0', 's1'" "$FEDREC" recommend r2.frm --user u1 --scenario s7
case_ B165 4 "rc.frm: field 'x' is neither the user's nor the item's" "$FEDREC" recommend rc.frm --user u1
case_ B166 3 "--user-field 'user': no categorical column of that name (the column map's named categorical columns: 'u', 'i')" "$FEDREC" data convert --columns cat:u,cat:i,-,-,label:click,split:part --user-field user --item-field i $TBL no.tbl ctx.csv
case_ B167 3 "--user-field 'u' without --item-field: name both the user and the item field, or neither" "$FEDREC" data convert --columns cat:u,cat:i,-,-,label:click,split:part --user-field u $TBL no.tbl ctx.csv
case_ B168 2 "--task click: a job.kind = pfedrec model has no tasks or scenarios to choose" "$FEDREC" recommend good.frm --user 1 --task click

# Keys a job does not read (doc/CONFIG.md), and what is checked before any
# data is read.
case_ B110 3 "train.epochs = 2 (--set) is not read by job.kind = pfedrec, only by ctr, msmt, mtrec (mtrec.federated = false); remove it ('fedrec config --keys --job pfedrec' lists the keys this job reads)" "$FEDREC" train --set train.epochs=2
printf '[train]\nrounds = 3\nepochs = 5\n' >epochs.ini
case_ B111 3 "train.epochs = 5 (epochs.ini:3) is not read by job.kind = pfedrec" "$FEDREC" train epochs.ini
case_ B112 3 "fedmsmt.fedbn = false (--set) is read by job.kind = fedmsmt only with fedmsmt.method = pfmsmtrec (here fedmsmt.method = fedavg, from --set)" "$FEDREC" train --set job.kind=fedmsmt --set fedmsmt.method=fedavg --set fedmsmt.fedbn=false
case_ B113 3 "mtrec.tau = 1 (--set) is read by job.kind = mtrec only with mtrec.combiner = pmtrec (here mtrec.combiner = ew, from --set)" "$FEDREC" train --set job.kind=mtrec --set mtrec.combiner=ew --set mtrec.tau=1
case_ B114 3 "msmt.model = ple (--set): job.kind = fedmsmt federates MMoE clients only (msmt.model = mmoe)" "$FEDREC" train --set job.kind=fedmsmt --set msmt.model=ple
printf '[job]\nkind = mtrec\n[mtrec]\ncombiner = pmtrec\ntau = 1\n' >pmtrec.ini
case_ B115 0 "note: with mtrec.combiner = ew (--set) this run does not read mtrec.tau, set in pmtrec.ini for the file's own job" "$FEDREC" config --check pmtrec.ini --set mtrec.combiner=ew
case_ B116 3 "data.source = table (--set) is a feature table for the msmt jobs; job.kind = pfedrec reads ratings" "$FEDREC" train --set data.source=table --set data.path=good.data
printf '[data]\nsource = delimited\ndelimiter = ;\n' >semicolon.ini
case_ B117 3 "semicolon.ini:3: data.delimiter = ';': the ';' starts a comment in an INI file, which leaves the value empty; write delimiter = semicolon" "$FEDREC" config --check semicolon.ini
case_ B118 3 "--set: data.delimiter = ';': a ';' would start a comment in an INI file; write data.delimiter = semicolon" "$FEDREC" train --set data.source=delimited --set 'data.delimiter=;'
printf '[data]\nsource = delimited\ndelimiter = ab\n' >twochar.ini
case_ B119 3 "twochar.ini:3: data.delimiter = 'ab': expected one character, or tab, comma, semicolon, space, pipe" "$FEDREC" config --check twochar.ini
{ printf 'user,item,rating,time\n'; tr '\t' ',' <good.data; } >headed.csv
case_ B120 4 "headed.csv:1: field 3 (rating) is 'rating', expected a finite number within float range; line 1 looks like a header: say so with data.header = true" "$FEDREC" train $R --set data.source=delimited --set data.path=headed.csv
{ printf 'user\titem\trating\ttime\n'; cat good.data; } >headed.data
case_ B121 4 "headed.data:1: field 3 (rating) is 'rating', expected a finite number within float range; line 1 looks like a header, which this format has none of: read the file as data.source = delimited with data.header = true" "$FEDREC" train $R $ML --set data.path=headed.data
mkdir -p proj/conf proj/data
cp good.data proj/data/u.data
printf '[data]\nsource = movielens\npath = ../data/u.data\n' >proj/conf/r.ini
case_ B122 1 "data.path = '../data/u.data' (proj/conf/r.ini:3): ../data/u.data: cannot open: No such file or directory; a relative path is resolved against the current folder, $tmp; proj/conf/../data/u.data, beside the configuration file, exists: run from proj/conf or give that path" "$FEDREC" train proj/conf/r.ini
case_ B123 1 "--summary nodir/s.json: cannot write there: nodir: No such file or directory" "$FEDREC" train $R --report early.csv --summary nodir/s.json
[ ! -e early.csv ] || fail "B123: the run started (it wrote its report) before refusing --summary"
mkdir -p a_folder
: >empty.ini
case_ B124 1 "output.report = 'a_folder' (--set): cannot write there: a_folder is a folder" "$FEDREC" config --check empty.ini --set output.report=a_folder
case_ B125 3 "pfedrec.ncf_layers = '32,x': expected 1 to 8 comma-separated widths" "$FEDREC" config --check empty.ini --set job.kind=fedncf --set pfedrec.ncf_layers=32,x
case_ B126 2 "--job nosuch: expected a job.kind, one of pfedrec, fedmf, fedncf, central-mf, msmt, fedmsmt, mtrec, ctr" "$FEDREC" config --keys --job nosuch
case_ B127 3 "mtrec.tasks = social with mtrec.federated = true: the social task needs other users' rows" "$FEDREC" train --set job.kind=mtrec --set mtrec.federated=true --set mtrec.tasks=bpr,social
case_ B128 3 "backend.kind = opencl: the mtrec job with mtrec.federated = false trains its embedding rows on the CPU (federated clients train on the backend); use backend.kind = auto or cpu" "$FEDREC" config --check empty.ini --set job.kind=mtrec --set backend.kind=opencl

# The doc's table and this script name the same cases.
doc=$top_srcdir/doc/BAD-INPUT.md
if [ -f "$doc" ]; then
    documented=$(grep -o '^| B[0-9][0-9]* ' "$doc" | tr -d '| ' | sort | tr '\n' ' ')
    documented=$(grep -oE '^\| B[0-9]+ ' "$doc" | tr -d '| ' | sort | tr '\n' ' ')
    tested=$(echo $ran | tr ' ' '\n' | sort | tr '\n' ' ')
    [ "$documented" = "$tested" ] || fail "doc/BAD-INPUT.md lists '$documented', this script runs '$tested'"
else
    fail "$doc is missing"
fi

if [ "$failures" -ne 0 ]; then
    echo "test_bad_input: $failures failure(s)" >&2
    exit 1
fi
echo "test_bad_input: $(($(echo $ran | wc -w) - skipped)) cases behave as documented, $skipped skipped" >&2
exit 0
