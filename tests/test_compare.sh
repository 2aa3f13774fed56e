#!/bin/sh
# test_compare.sh — `fedrec compare` on summaries of real runs: the runs'
# methods, only the configuration keys that differ, each metric and
# per-scenario x task cell, time and memory, as text, Markdown and CSV;
# summaries of the extended form (run name, job kind, cells) read too;
# missing and damaged summaries refused with the file and place named.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_compare.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$tmp/err")"
}

rating="--set data.users=40 --set data.items=60 --set data.per_user=10 --set train.rounds=3 --set pfedrec.eval_negatives=20 --quiet"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $rating --set run.name=pf --summary "$tmp/pf.json"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $rating --set run.name=mf --set job.kind=fedmf --set pfedrec.lr=0.05 --summary "$tmp/mf.json"
expect 0 "$FEDREC" train "$top_srcdir/conf/pfmsmtrec-synthetic.ini" --set data.rows=3000 --set msmt.expert_layers=8 \
    --set msmt.tower_layers=4 --set train.rounds=2 --summary "$tmp/fm.json" --quiet

expect 0 "$FEDREC" compare "$tmp/pf.json" "$tmp/mf.json"
out=$tmp/out
grep -Eq '^  run +pf +mf$' "$out" || fail "column heads: $(head -2 "$out")"
grep -Eq '^  method +PFedRec +FedMF$' "$out" || fail "methods: $(grep method "$out")"
grep -Eq '^  job.kind +pfedrec +fedmf$' "$out" || fail "job.kind differs but is not shown"
grep -Eq '^  pfedrec.lr +0.1 +0.05$' "$out" || fail "pfedrec.lr differs but is not shown: $(cat "$out")"
grep -q 'train.rounds\|data.users\|output\.' "$out" && fail "keys alike (or output.*) shown as differences"
for m in val_hr val_ndcg test_hr test_ndcg; do
    want=$(sed -n "s/.*\"$m\": \([^,]*\),*$/\1/p" "$tmp/pf.json")
    got=$(awk -v m="$m" '$1 == m { print $2 }' "$out")
    awk -v a="$want" -v b="$got" 'BEGIN { exit !(b != "" && (a - b < 1e-6 && b - a < 1e-6)) }' ||
        fail "$m: compare shows '$got', the summary holds '$want'"
done
grep -Eq '^  time \(s\) +[0-9.]+ +[0-9.]+$' "$out" || fail "no time row"
grep -Eq '^  peak memory \(MiB\) +[0-9.]+ +[0-9.]+$' "$out" || fail "no memory row"

# Markdown: a table with a separator row; CSV: every value unrounded.
expect 0 "$FEDREC" compare "$tmp/pf.json" "$tmp/fm.json" --format markdown
grep -q '^| run | pf | pfmsmtrec-synthetic |$' "$tmp/out" || fail "markdown head: $(head -1 "$tmp/out")"
grep -q '^|---|---:|---:|$' "$tmp/out" || fail "markdown separator: $(sed -n 2p "$tmp/out")"
grep -q '^| method | PFedRec | PF-MSMTrec (MMoE clients) |$' "$tmp/out" || fail "markdown method row"
grep -q '^| valid_auc | - | 0\.' "$tmp/out" || fail "a metric one run lacks is not '-'"
expect 0 "$FEDREC" compare "$tmp/pf.json" "$tmp/mf.json" --format csv
head -1 "$tmp/out" | grep -q '^section,field,pf,mf$' || fail "csv head: $(head -1 "$tmp/out")"
want=$(sed -n 's/.*"val_hr": \([^,]*\),*$/\1/p' "$tmp/pf.json")
grep -q "^metrics,val_hr,$want," "$tmp/out" || fail "csv val_hr is not the summary's $want: $(grep val_hr "$tmp/out")"

# The extended summary: run name, job kind, method and per-scenario cells.
cat >"$tmp/new.json" <<'JSON'
{
  "run_name": "extended", "job_kind": "fedmsmt", "method": "PF-MSMTrec (MMoE clients)",
  "fedrec_version": "9.9", "host": "box", "seed": 3,
  "metrics": {"test_auc": 0.7, "valid_auc": null},
  "cells": [{"scenario": "age<25", "task": "rating>3", "valid_auc": 0.61, "test_auc": 0.62}],
  "wall_seconds": 1.5, "peak_rss_bytes": 10485760,
  "config": "[job]\nkind = fedmsmt\n[train]\nrounds = 2\n"
}
JSON
expect 0 "$FEDREC" compare "$tmp/new.json" "$tmp/fm.json"
grep -Eq '^  run +extended +pfmsmtrec-synthetic$' "$tmp/out" || fail "extended: run names"
grep -Eq '^  fedrec_version +9.9 +[0-9][0-9.]*$' "$tmp/out" || fail "extended: version row: $(grep version "$tmp/out")"
grep -Eq '^  valid_auc +nan +0\.' "$tmp/out" || fail "extended: null metric"
grep -Eq '^  test_auc_age<25_rating>3 +0.62 +-$' "$tmp/out" || fail "extended: cells: $(cat "$tmp/out")"
grep -Eq '^  peak memory \(MiB\) +10.0 ' "$tmp/out" || fail "extended: memory"

# The members i21's summaries add: device as an object, ranking cutoffs,
# per-task figures, a status.
cat >"$tmp/v2.json" <<'JSON'
{
  "summary_version": 2, "fedrec_version": "0.9", "run_name": "v2run", "job_kind": "mtrec", "method": "PMTRec",
  "model": null, "device": {"backend": "cpu", "description": "cpu (avx2, 2 threads)"}, "seed": 0,
  "status": "completed", "signal": null,
  "metrics": {"valid_recall@20": 0.4, "test_recall@20": 0.5},
  "cells": [],
  "tasks": [{"task": "bpr", "main": true, "loss": 0.5}],
  "ranking": [{"k": 5, "valid_recall": 0.1, "test_recall": 0.2}, {"k": 20, "valid_recall": 0.4, "test_recall": 0.5}],
  "wall_seconds": 1, "peak_rss_bytes": 1048576,
  "config": "[job]\nkind = mtrec\n"
}
JSON
expect 0 "$FEDREC" compare "$tmp/v2.json"
grep -Eq '^  device.description +cpu \(avx2, 2 threads\)$' "$tmp/out" || fail "v2: device"
grep -Eq '^  valid_recall@5 +0.1$' "$tmp/out" || fail "v2: ranking cutoff"
grep -Eq '^  loss_bpr +0.5$' "$tmp/out" || fail "v2: task figures"
[ "$(grep -c 'valid_recall@20' "$tmp/out")" = 1 ] || fail "v2: a figure of both metrics and ranking shown twice"

# Missing and damaged summaries.
expect 1 "$FEDREC" compare "$tmp/pf.json" "$tmp/none.json"
grep -q "none.json: cannot open: No such file" "$tmp/err" || fail "missing: $(cat "$tmp/err")"
head -c 100 "$tmp/pf.json" >"$tmp/cut.json"
expect 4 "$FEDREC" compare "$tmp/cut.json"
grep -q "cut.json:[0-9]*:[0-9]*: expected .*(expected a summary written by 'fedrec train --summary')" "$tmp/err" || fail "cut: $(cat "$tmp/err")"
echo '{"seed": 1}' >"$tmp/other.json"
expect 4 "$FEDREC" compare "$tmp/other.json"
grep -q 'other.json: no member "metrics"' "$tmp/err" || fail "not a summary: $(cat "$tmp/err")"
expect 2 "$FEDREC" compare "$tmp/pf.json" --format html
grep -q "expected text, markdown or csv" "$tmp/err" || fail "bad format: $(cat "$tmp/err")"
expect 2 "$FEDREC" compare
expect 0 "$FEDREC" compare --help

if [ "$failures" -ne 0 ]; then
    echo "test_compare: $failures failure(s)" >&2
    exit 1
fi
echo "test_compare: all checks passed" >&2
exit 0
