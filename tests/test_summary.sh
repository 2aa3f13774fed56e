#!/bin/sh
# test_summary.sh — what `fedrec train` writes for scripts (doc/OUTPUTS.md):
# the --summary file of a short run of every job kind, parsed by Python's
# json module with NaN and Infinity refused, every member checked (run
# name, job kind, method, model, fedrec version, start time, host, device,
# seed, status, units, metrics, the per-scenario x task cells of msmt and
# fedmsmt against the table the run printed, mtrec's tasks and cutoffs,
# time, memory, configuration); JSON-lines reports (chosen by a .jsonl
# name) whose undefined figures (a validation part with one class only)
# are null, parsed the same way; a .csv name keeps CSV; and central-mf,
# which has no federation, printing no "too few updates" line.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
PY=/usr/bin/python3
if ! [ -x "$PY" ]; then
    echo "SKIP: test_summary: $PY (python3) is needed to parse the JSON" >&2
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_summary.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# A strict JSON reader: NaN, Infinity (which Python's json takes by
# default) are errors, as in every other parser.
cat >"$tmp/strict.py" <<'EOF'
import json
def reject(name):
    raise ValueError("not JSON: " + name)
def load(path):
    with open(path) as f:
        return json.load(f, parse_constant=reject)
def load_lines(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.endswith("\n"):
                raise ValueError("%s:%d: a row without its line end" % (path, n))
            rows.append(json.loads(line, parse_constant=reject))
    return rows
EOF

version=$("$FEDREC" --version | sed 's/^fedrec //')
# (msmt.experts and msmt.model: the msmt job's; fedmsmt refuses them)
small_fedmsmt="--set data.rows=4000 --set msmt.expert_layers=32 --set msmt.tower_layers=16 --set train.batch_size=256"
small_msmt="$small_fedmsmt --set msmt.experts=2"
small_rating="--set data.users=100 --set data.items=400 --set data.per_user=20 --set train.rounds=2"
common="--set run.seed=7 --set backend.threads=1"

# run KIND ARGS...: a short run of job KIND, named sum-KIND, with a summary.
run() {
    kind=$1; shift
    before=$(date +%s)
    # shellcheck disable=SC2086
    if ! "$FEDREC" train --set job.kind="$kind" --set run.name="sum-$kind" $common "$@" \
        --summary "$tmp/$kind.json" >"$tmp/$kind.out" 2>"$tmp/$kind.err"; then
        fail "$kind: training failed: $(tail -n 3 "$tmp/$kind.err")"
        return 1
    fi
    after=$(date +%s)
    "$PY" - "$tmp" "$kind" "$version" "$before" "$after" <<'EOF' || fail "$kind: the summary is wrong (above)"
import re, socket, sys, datetime
sys.path.insert(0, sys.argv[1])
import strict
tmp, kind, version, before, after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s = strict.load("%s/%s.json" % (tmp, kind))
bad = []
def want(cond, what):
    if not cond:
        bad.append(what)
method = {"msmt": "mmoe", "fedmsmt": "pfmsmtrec", "mtrec": "pmtrec", "ctr": "ctr"}.get(kind, kind)
model = {"msmt": "mmoe", "fedmsmt": "mmoe"}.get(kind)
unit = "round" if kind in ("pfedrec", "fedmf", "fedncf", "central-mf", "fedmsmt") else "epoch"
want(s.get("summary_version") == 2, "summary_version %r" % s.get("summary_version"))
want(s.get("fedrec_version") == version, "fedrec_version %r, --version says %r" % (s.get("fedrec_version"), version))
want(s.get("run_name") == "sum-" + kind, "run_name %r" % s.get("run_name"))
want(s.get("job_kind") == kind, "job_kind %r" % s.get("job_kind"))
want(s.get("method") == method, "method %r, expected %r" % (s.get("method"), method))
want(s.get("model") == model, "model %r, expected %r" % (s.get("model"), model))
started = s.get("started") or ""
want(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", started), "started %r is not ISO 8601 UTC" % started)
if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", started):
    t = datetime.datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
    want(before - 1 <= t <= after + 1, "started %s is not the time of the run (%d to %d)" % (started, before, after))
want(s.get("host") == socket.gethostname(), "host %r, expected %r" % (s.get("host"), socket.gethostname()))
dev = s.get("device") or {}
want(dev.get("backend") == "cpu", "device.backend %r" % dev.get("backend"))
want(str(dev.get("description", "")).startswith("cpu (") and "1 thread)" in dev.get("description", ""),
     "device.description %r (1 thread asked)" % dev.get("description"))
want(s.get("seed") == 7, "seed %r, expected 7" % s.get("seed"))
want(s.get("status") == "completed" and s.get("signal") is None, "status %r, signal %r" % (s.get("status"), s.get("signal")))
want(s.get("unit") == unit and s.get("done") == 2 and s.get("planned") == 2,
     "unit/done/planned %r/%r/%r, expected %s/2/2" % (s.get("unit"), s.get("done"), s.get("planned"), unit))
metrics = s.get("metrics") or {}
key = {"msmt": "test_auc", "fedmsmt": "test_auc", "ctr": "test_auc", "mtrec": "test_recall@20"}.get(kind, "test_hr")
want(isinstance(metrics.get(key), float), "metrics.%s %r" % (key, metrics.get(key)))
want(all(v is None or isinstance(v, (int, float)) for v in metrics.values()), "a metric that is not a number")
cells, tasks, ranking = s.get("cells"), s.get("tasks"), s.get("ranking")
want(isinstance(cells, list) and isinstance(tasks, list) and isinstance(ranking, list), "cells, tasks, ranking not lists")
if kind in ("msmt", "fedmsmt"):
    # Every scenario x task cell, as the run printed them (4 decimals).
    printed = {}
    for line in open("%s/%s.out" % (tmp, kind)):
        f = line.split()
        if len(f) == 6 and re.fullmatch(r"s\d+", f[0]):
            printed[(f[0], f[1])] = [float(x) for x in f[2:]]
    want(len(cells) == 8 and len(printed) == 8, "%d cells, %d printed, expected 4 scenarios x 2 tasks" % (len(cells), len(printed)))
    for c in cells:
        want(set(c) == {"scenario", "task", "valid_auc", "valid_logloss", "test_auc", "test_logloss", "valid_rows", "test_rows"},
             "cell members %r" % sorted(c))
        p = printed.get((c.get("scenario"), c.get("task")))
        got = [c.get("valid_auc"), c.get("test_auc"), c.get("valid_logloss"), c.get("test_logloss")]
        want(p is not None and all(g is not None and abs(g - q) <= 6e-5 for g, q in zip(got, p)),
             "cell %s/%s %r, printed %r" % (c.get("scenario"), c.get("task"), got, p))
        want(c.get("valid_rows", 0) > 0 and c.get("test_rows", 0) > 0, "cell rows %r %r" % (c.get("valid_rows"), c.get("test_rows")))
    mean_auc = sum(c["test_auc"] for c in cells) / len(cells) if cells else None
    want(mean_auc is not None and abs(mean_auc - metrics.get("test_auc", -1)) < 1e-6, "the cells' mean test AUC %r, metrics %r" % (mean_auc, metrics.get("test_auc")))
else:
    want(cells == [], "cells of a job without scenarios: %r" % cells)
if kind == "mtrec":
    want([t.get("task") for t in tasks] == ["bpr", "social", "category"], "tasks %r" % tasks)
    want([t.get("main") for t in tasks] == [True, False, False], "main flags %r" % [t.get("main") for t in tasks])
    want(all(isinstance(t.get(m), float) for t in tasks for m in ("loss", "weight", "norm")), "task figures %r" % tasks)
    want([r.get("k") for r in ranking] == [5, 10, 20, 40], "ranking cutoffs %r" % ranking)
    at20 = [r for r in ranking if r.get("k") == 20]
    want(at20 and abs(at20[0].get("test_recall", -1) - metrics.get("test_recall@20", -2)) < 1e-9, "ranking@20 vs metrics")
else:
    want(tasks == [] and ranking == [], "tasks/ranking of a job without them: %r %r" % (tasks, ranking))
want(isinstance(s.get("wall_seconds"), float) and s["wall_seconds"] > 0, "wall_seconds %r" % s.get("wall_seconds"))
want(isinstance(s.get("peak_rss_bytes"), int) and s["peak_rss_bytes"] > 1 << 20, "peak_rss_bytes %r" % s.get("peak_rss_bytes"))
cfg = s.get("config") or ""
want(re.search(r"^kind = %s$" % re.escape(kind), cfg, re.M) and re.search(r"^seed = 7$", cfg, re.M),
     "config lacks 'kind = %s' or 'seed = 7'" % kind)
for b in bad:
    print("  %s: %s" % (kind, b), file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}

# shellcheck disable=SC2086
run msmt $small_msmt --set train.epochs=2 --set backend.kind=cpu
# shellcheck disable=SC2086
run fedmsmt $small_fedmsmt --set train.rounds=2 --set fedmsmt.shared_experts=1 --set fedmsmt.private_experts=1 --set backend.kind=cpu
run mtrec --set data.users=200 --set data.items=150 --set data.per_user=10 --set train.epochs=2 \
    --set mtrec.tasks=bpr,social,category
for kind in pfedrec fedmf fedncf central-mf; do
    # shellcheck disable=SC2086
    run $kind $small_rating
done
run ctr --set data.rows=2000 --set train.epochs=2 --set backend.kind=cpu

# central-mf pools every user's data: no federation, no "too few updates".
if grep -q "too few\|clients' updates aggregated" "$tmp/central-mf.out"; then
    fail "central-mf prints federation messages: $(grep "too few\|aggregated" "$tmp/central-mf.out" | head -n 2)"
fi

# JSON-lines reports: named *.jsonl, no report_format given. A table whose
# validation rows are all negative has no validation AUC: null, not nan.
for sc in north south; do
    awk -v sc=$sc 'BEGIN {
        print "x,z,click,part"
        for (i = 0; i < 300; i++) {
            m = i % 10
            part = m < 6 ? "train" : m < 8 ? "val" : "test"
            c = (i % 8 < 4) ? 1 : 0
            if (part == "val") c = 0
            if (sc == "south") c = 1 - c
            if (part == "val") c = 0
            printf "%s,%d,%d,%s\n", substr("abcdefgh", i % 8 + 1, 1), i % 7, c, part
        }
    }' >"$tmp/$sc.csv"
done
"$FEDREC" data convert --columns cat:x,cat:z,label:click,split --header --out "$tmp/oneclass.tbl" \
    "$tmp/north.csv:north" "$tmp/south.csv:south" >"$tmp/out" 2>&1 ||
    fail "converting the one-class table: $(cat "$tmp/out")"
table="--set data.source=table --set data.path=$tmp/oneclass.tbl --set train.batch_size=50 --set backend.threads=1"
# check_lines KIND FILE: every row of FILE parses as strict JSON; prints
# the rows' members that are null.
check_lines() {
    "$PY" - "$tmp" "$2" <<'EOF' || fail "$1: $2 is not strict JSON lines (above)"
import sys
sys.path.insert(0, sys.argv[1])
import strict
rows = strict.load_lines(sys.argv[2])
if not rows:
    sys.exit("no rows")
def nulls(v, at=""):
    if v is None:
        yield at
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from nulls(x, at + "." + k if at else k)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from nulls(x, "%s[%d]" % (at, i))
for r in rows:
    for n in nulls(r):
        print(n)
EOF
}
# shellcheck disable=SC2086
if "$FEDREC" train --set job.kind=msmt $table --set msmt.model=lr --set train.epochs=2 --report "$tmp/nan.jsonl" \
    --summary "$tmp/nan.json" >"$tmp/out" 2>&1; then
    head -c 1 "$tmp/nan.jsonl" | grep -q '{' || fail "a report named .jsonl is not JSON lines: $(head -n 1 "$tmp/nan.jsonl")"
    check_lines msmt "$tmp/nan.jsonl" >"$tmp/nulls"
    grep -qx "valid_auc" "$tmp/nulls" || fail "msmt: the undefined validation AUC is not null in $(head -n 1 "$tmp/nan.jsonl")"
    "$PY" -c "import sys; sys.path.insert(0, sys.argv[1]); import strict; s = strict.load(sys.argv[2]); sys.exit(s['metrics']['valid_auc'] is not None)" \
        "$tmp" "$tmp/nan.json" || fail "msmt: the summary's undefined valid_auc is not null"
else
    fail "msmt on the one-class table: $(tail -n 3 "$tmp/out")"
fi
# shellcheck disable=SC2086
if "$FEDREC" train --set job.kind=fedmsmt $table --set train.rounds=2 --set fedmsmt.shared_experts=1 \
    --set fedmsmt.private_experts=1 --report "$tmp/fed.jsonl" >"$tmp/out" 2>&1; then
    check_lines fedmsmt "$tmp/fed.jsonl" >"$tmp/nulls"
    grep -q "^cells\[[0-9]*\]\.valid_auc$" "$tmp/nulls" || fail "fedmsmt: no null validation AUC cell: $(head -n 1 "$tmp/fed.jsonl")"
else
    fail "fedmsmt on the one-class table: $(tail -n 3 "$tmp/out")"
fi
# The other writers of JSON lines parse too.
# shellcheck disable=SC2086
"$FEDREC" train --set job.kind=pfedrec $small_rating --set privacy.dp_noise=1 --set fed.clip_norm=1 \
    --report "$tmp/p.jsonl" --quiet >"$tmp/out" 2>&1 || fail "pfedrec jsonl run: $(tail -n 3 "$tmp/out")"
check_lines pfedrec "$tmp/p.jsonl" >/dev/null
"$FEDREC" train --set job.kind=mtrec --set data.users=200 --set data.items=150 --set data.per_user=10 \
    --set train.epochs=2 --report "$tmp/t.ndjson" --quiet >"$tmp/out" 2>&1 || fail "mtrec jsonl run: $(tail -n 3 "$tmp/out")"
check_lines mtrec "$tmp/t.ndjson" >/dev/null
"$FEDREC" train --set job.kind=ctr --set data.rows=2000 --set train.epochs=2 --report "$tmp/c.jsonl" --quiet \
    >"$tmp/out" 2>&1 || fail "ctr jsonl run: $(tail -n 3 "$tmp/out")"
check_lines ctr "$tmp/c.jsonl" >/dev/null
# A name ending in .csv is CSV, whatever output.report_format says.
"$FEDREC" train --set job.kind=ctr --set data.rows=2000 --set train.epochs=2 --set output.report_format=jsonl \
    --report "$tmp/c.csv" --quiet >"$tmp/out" 2>&1 || fail "ctr csv run: $(tail -n 3 "$tmp/out")"
head -n 1 "$tmp/c.csv" | grep -q "^epoch,train_loss" || fail "a report named .csv is not CSV: $(head -n 1 "$tmp/c.csv")"

if [ "$failures" -ne 0 ]; then
    echo "test_summary: $failures failure(s)" >&2
    exit 1
fi
exit 0
