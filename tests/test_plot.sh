#!/bin/sh
# test_plot.sh — `fedrec plot` on real reports of every job kind (CSV and
# JSON lines): each SVG is well-formed XML (python3's xml.etree) and renders
# in a real SVG renderer (rsvg-convert, Debian's librsvg2-bin); the default
# metrics are the job's validation and test figures; names with < & > " are
# escaped; columns past the sixteenth are drawn; long names and many series
# fit the legend, each in a style of its own; round and epoch ticks are whole
# numbers; several reports overlay with the report named in the legend; bad
# reports are refused with the file and line named.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_plot.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
CHECK="$top_srcdir/tests/check_svg.py"
have_python=1
python3 -c 'import xml.etree.ElementTree' 2>/dev/null || { have_python=0; skip_part "test_plot: XML and legend checks: python3 is not installed"; }
have_rsvg=1
command -v rsvg-convert >/dev/null 2>&1 || { have_rsvg=0; skip_part "test_plot: rendering: rsvg-convert is not installed (apt-get install librsvg2-bin)"; }

# expect CODE CMD...: run CMD, check its exit code, keep output in $tmp/out.
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$tmp/err")"
}

# checked SVG [check_svg.py options]: well-formed, legend as asked, renders.
checked() {
    svg=$1; shift
    if [ "$have_python" = 1 ]; then
        python3 "$CHECK" "$svg" "$@" >"$tmp/labels" 2>"$tmp/check" || fail "$(cat "$tmp/check")"
    fi
    if [ "$have_rsvg" = 1 ]; then
        rsvg-convert "$svg" -o "$svg.png" 2>"$tmp/rsvg" || fail "rsvg-convert $svg: $(cat "$tmp/rsvg")"
        [ -s "$svg.png" ] || fail "rsvg-convert wrote no picture of $svg"
    fi
}

# Short runs of every job kind, each report as CSV and as JSON lines.
rating="--set data.users=40 --set data.items=60 --set data.per_user=10 --set train.rounds=5 --set pfedrec.eval_negatives=20"
# (msmt.experts is MMoE's expert count in the msmt job; fedmsmt's clients
# hold fedmsmt.shared_experts + private_experts and refuse it)
fedmsmt_sizes="--set data.rows=3000 --set msmt.expert_layers=8 --set msmt.tower_layers=4"
msmt="$fedmsmt_sizes --set msmt.experts=2"
for fmt in csv jsonl; do
    for k in pfedrec fedmf fedncf central-mf; do
        # shellcheck disable=SC2086
        expect 0 "$FEDREC" train --set job.kind=$k $rating --set output.report_format=$fmt --report "$tmp/$k.$fmt" --quiet
    done
    expect 0 "$FEDREC" train "$top_srcdir/conf/demo.ini" --set data.rows=2000 --set train.epochs=3 \
        --set output.report_format=$fmt --report "$tmp/ctr.$fmt" --quiet
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" train "$top_srcdir/conf/msmt-synthetic.ini" $msmt --set train.epochs=3 \
        --set output.report_format=$fmt --report "$tmp/msmt.$fmt" --quiet
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" train "$top_srcdir/conf/pfmsmtrec-synthetic.ini" $fedmsmt_sizes --set train.rounds=3 \
        --set output.report_format=$fmt --report "$tmp/fedmsmt.$fmt" --quiet
    expect 0 "$FEDREC" train "$top_srcdir/conf/mtrec-synthetic.ini" --set data.users=80 --set data.items=60 \
        --set train.epochs=3 --set mtrec.min_epochs=1 --set output.report_format=$fmt --report "$tmp/mtrec.$fmt" --quiet
done

rating_default="val_hr|val_ndcg|test_hr|test_ndcg"
for fmt in csv jsonl; do
    for k in ctr pfedrec fedmf fedncf central-mf msmt fedmsmt mtrec; do
        expect 0 "$FEDREC" plot "$tmp/$k.$fmt"
        [ -s "$tmp/$k.$fmt.svg" ] || { fail "plot $k.$fmt wrote no $k.$fmt.svg"; continue; }
        case $k in
        ctr) checked "$tmp/$k.$fmt.svg" --integer-x --labels "valid_logloss|valid_auc|test_logloss|test_auc" ;;
        msmt) checked "$tmp/$k.$fmt.svg" --integer-x --labels "valid_auc|valid_logloss" ;;
        fedmsmt) checked "$tmp/$k.$fmt.svg" --integer-x --count 4 ;;
        mtrec) checked "$tmp/$k.$fmt.svg" --integer-x --count 8 ;;
        *) checked "$tmp/$k.$fmt.svg" --integer-x --labels "$rating_default" ;;
        esac
        if [ "$have_python" = 1 ]; then
            grep -Eq 'seconds|bytes|train_loss|participants|_s[0-9]_' "$tmp/labels" &&
                fail "$k.$fmt: the default metrics include $(grep -E 'seconds|bytes|train_loss|participants|_s[0-9]_' "$tmp/labels" | head -1)"
            case $k in mtrec | fedmsmt)
                grep -vq '^valid_\|^test_' "$tmp/labels" && fail "$k.$fmt: default metrics $(tr '\n' ' ' <"$tmp/labels")" ;;
            esac
        fi
    done
done

# Columns past the sixteenth, and the per-scenario x task cells, by pattern.
expect 0 "$FEDREC" plot "$tmp/fedmsmt.csv" --metrics 'test_logloss_s3_conversion,valid_auc_s*_click' --out "$tmp/cells.svg"
checked "$tmp/cells.svg" --labels "valid_auc_s0_click|valid_auc_s1_click|valid_auc_s2_click|valid_auc_s3_click|test_logloss_s3_conversion"
expect 0 "$FEDREC" plot "$tmp/fedmsmt.jsonl" --metrics 'valid_auc_s*' --out "$tmp/cells-j.svg"
checked "$tmp/cells-j.svg" --count 8
# Every column at once: 40-odd series, each in a style of its own, all in the legend.
expect 0 "$FEDREC" plot "$tmp/fedmsmt.csv" --metrics '*' --out "$tmp/all.svg"
checked "$tmp/all.svg" --count "$(head -1 "$tmp/fedmsmt.csv" | tr ',' '\n' | tail -n +2 | wc -l)"

# Names that XML must escape (a multi-scenario report's cells), and a long name.
long=$(printf 'valid_auc_%s' "$(printf 'scenario_with_a_very_long_name_%s_' 1 2 3 4 5 6 7)")
printf 'round,valid_logloss_age<25_rating>4,test_auc_"a"&'"'"'b'"'"',%s\n1,0.5,0.6,0.7\n2,0.4,0.65,0.72\n3,0.35,0.7,0.74\n' "$long" >"$tmp/esc.csv"
expect 0 "$FEDREC" plot "$tmp/esc.csv" --metrics '*' --out "$tmp/esc.svg" --title 'a <title> & "quotes"'
checked "$tmp/esc.svg" --integer-x --labels "valid_logloss_age<25_rating>4|test_auc_\"a\"&'b'|$long"
grep -q 'age&lt;25_rating&gt;4' "$tmp/esc.svg" || fail "the name with < and > is not escaped"
# The same from a real multi-scenario job, where the shared data is present.
if [ -f "$top_srcdir/../shared/data/ml-100k/u.user" ]; then
    expect 0 "$FEDREC" train "$top_srcdir/conf/pfmsmtrec-ml100k.ini" --set data.path="$top_srcdir/../shared/data/ml-100k" \
        --set train.rounds=2 --set msmt.expert_layers=8 --set msmt.tower_layers=4 --report "$tmp/ml.csv" --quiet
    expect 0 "$FEDREC" plot "$tmp/ml.csv" --metrics 'valid_*' --out "$tmp/ml.svg"
    checked "$tmp/ml.svg" --integer-x
    grep -q 'age&lt;25' "$tmp/ml.svg" || fail "ML-100K scenario names not escaped"
else
    skip_part "test_plot: the MovieLens-100K multi-scenario report: ../shared/data/ml-100k is not there"
fi

# Several reports in one figure: the legend names the report and the metric.
expect 0 "$FEDREC" plot "$tmp/pfedrec.csv" "$tmp/fedmf.jsonl" "$tmp/central-mf.csv" --metrics test_hr --out "$tmp/over.svg"
checked "$tmp/over.svg" --integer-x --labels "pfedrec: test_hr|fedmf: test_hr|central-mf: test_hr"
# Same file names in two folders: the legend shows the paths.
mkdir "$tmp/a" "$tmp/b" && cp "$tmp/msmt.csv" "$tmp/a/r.csv" && cp "$tmp/msmt.jsonl" "$tmp/b/r.csv"
expect 0 "$FEDREC" plot "$tmp/a/r.csv" "$tmp/b/r.csv" --metrics valid_auc --out "$tmp/same.svg"
checked "$tmp/same.svg" --labels "$tmp/a/r.csv: valid_auc|$tmp/b/r.csv: valid_auc"
# A round of 0.5 steps is no count: ticks may then be fractions.
printf 'round,val_hr\n0.5,0.1\n1,0.2\n1.5,0.3\n' >"$tmp/frac.csv"
expect 0 "$FEDREC" plot "$tmp/frac.csv"
grep -q 'class="xtick"[^>]*>[0-9]*\.[0-9]*[1-9]<' "$tmp/frac.csv.svg" || fail "fractional rounds lost their fractional ticks"

# Bad reports and options.
printf 'round,loss\n1,0.5\n2,abc\n' >"$tmp/badr.csv"
expect 4 "$FEDREC" plot "$tmp/badr.csv"
grep -q "badr.csv:3: column 2 (loss) is 'abc', expected a number" "$tmp/err" || fail "bad CSV value: $(cat "$tmp/err")"
printf '{"round":1,"val_hr":0.5}\n{"round":2,"val_hr":0.5,}\n' >"$tmp/bad.jsonl"
expect 4 "$FEDREC" plot "$tmp/bad.jsonl"
grep -q 'bad.jsonl:2:25: expected a member name' "$tmp/err" || fail "bad JSON line: $(cat "$tmp/err")"
printf 'round,val_hr\n' >"$tmp/header.csv"
expect 4 "$FEDREC" plot "$tmp/header.csv"
grep -q 'no rows to plot (only a header)' "$tmp/err" || fail "header only: $(cat "$tmp/err")"
expect 1 "$FEDREC" plot "$tmp/missing.csv"
grep -q 'missing.csv: cannot open' "$tmp/err" || fail "missing report: $(cat "$tmp/err")"
expect 2 "$FEDREC" plot "$tmp/pfedrec.csv" --metrics test_hr,nothing
grep -q "'nothing' is not a column of" "$tmp/err" || fail "unknown metric: $(cat "$tmp/err")"
expect 2 "$FEDREC" plot
expect 2 "$FEDREC" plot "$tmp/pfedrec.csv" --bogus
expect 0 "$FEDREC" plot --help
grep -q -- '--metrics' "$tmp/out" || fail "plot --help does not describe --metrics"

if [ "$failures" -ne 0 ]; then
    echo "test_plot: $failures failure(s)" >&2
    exit 1
fi
echo "test_plot: every job kind's reports plotted and checked" >&2
exit 0
