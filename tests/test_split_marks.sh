#!/bin/sh
# test_split_marks.sh — a split made elsewhere, brought to fedrec: rows
# marked train / validation / test by a split column, or as one file per
# part, are converted (fedrec data convert) and trained on exactly as
# marked. The data make it visible: on the rows marked train and
# validation the label is x in {a, b, c, d}, on the rows marked test its
# opposite, so a model trained on the marked training rows scores a
# validation AUC near 1 and a test AUC near 0, and the run reports the
# marked part sizes. The test part is the largest (600 of 1000 rows), so
# training on its rows would learn the opposite rule; a share moved
# between parts shows in the sizes.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_marks.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# 1000 rows, interleaved: row i is train when i % 10 < 3, validation when
# i % 10 == 3, else test.
awk 'BEGIN {
    print "x,z,click,part"
    for (i = 0; i < 1000; i++) {
        m = i % 10
        part = m < 3 ? "train" : m == 3 ? "val" : "test"
        c = i % 8 < 4
        if (part == "test") c = 1 - c
        printf "%s,%d,%d,%s\n", substr("abcdefgh", i % 8 + 1, 1), i % 7, c, part
    }
}' >"$tmp/marked.csv"
for p in train val test; do
    { echo "x,z,click"; awk -F, -v p=$p 'NR > 1 && $4 == p { print $1 "," $2 "," $3 }' "$tmp/marked.csv"; } \
        >"$tmp/$p.part"
done
mkdir "$tmp/web"
cp "$tmp/train.part" "$tmp/web/train.csv"
cp "$tmp/val.part" "$tmp/web/valid.csv"
cp "$tmp/test.part" "$tmp/web/test.csv"

TRAIN="--set job.kind=msmt --set data.source=table --set msmt.model=lr --set train.lr=0.1 --set train.epochs=5 --set train.batch_size=50"

# check_run TABLE WHAT: the part sizes, then the AUCs of a training run.
check_run() {
    "$FEDREC" data info "$1" >"$tmp/info" 2>&1 || fail "$2: data info failed: $(cat "$tmp/info")"
    grep -q "1000 rows (train 300, validation 100, test 600)" "$tmp/info" || fail "$2: parts $(head -n 1 "$tmp/info")"
    if ! "$FEDREC" train $TRAIN --set "data.path=$1" >"$tmp/run" 2>&1; then
        fail "$2: training failed: $(tail -n 5 "$tmp/run")"
        return
    fi
    grep -q "1000 rows (300 train, 100 validation, 600 test)" "$tmp/run" || fail "$2: the run's parts: $(head -n 1 "$tmp/run")"
    awk '$1 == "mean" { v = $2; t = $3 } END { exit !(v > 0.99 && t < 0.01) }' "$tmp/run" ||
        fail "$2: validation and test AUC $(awk '$1 == "mean" { print $2, $3 }' "$tmp/run"), expected > 0.99 and < 0.01"
}

"$FEDREC" data convert --columns cat:x,cat:z,label:click,split:part --header --out "$tmp/column.tbl" \
    "$tmp/marked.csv" >"$tmp/out" 2>&1 || fail "split column: $(cat "$tmp/out")"
check_run "$tmp/column.tbl" "split column"

# One file per part, named by the parts' file names, then by marks.
"$FEDREC" data convert --columns cat:x,cat:z,label:click --header --out "$tmp/files.tbl" \
    "$tmp/web/train.csv" "$tmp/web/valid.csv" "$tmp/web/test.csv" >"$tmp/out" 2>&1 ||
    fail "one file per part: $(cat "$tmp/out")"
check_run "$tmp/files.tbl" "files named train, valid, test"
"$FEDREC" data convert --columns cat:x,cat:z,label:click --header --out "$tmp/marks.tbl" \
    "$tmp/train.part:web:train" "$tmp/val.part:web:validation" "$tmp/test.part:web:test" >"$tmp/out" 2>&1 ||
    fail "files marked on the command line: $(cat "$tmp/out")"
check_run "$tmp/marks.tbl" "files marked :train, :validation, :test"
cmp -s "$tmp/files.tbl" "$tmp/marks.tbl" || fail "the same parts named two ways gave different tables"

# Without marked validation rows, a share of the training rows still moves
# to validation (the earlier behaviour, unchanged).
"$FEDREC" data convert --columns cat:x,cat:z,label:click --header --out "$tmp/carved.tbl" \
    "$tmp/web/train.csv" "$tmp/web/test.csv" >"$tmp/out" 2>&1 || fail "train + test files: $(cat "$tmp/out")"
"$FEDREC" data info "$tmp/carved.tbl" >"$tmp/info" 2>&1
grep -q "900 rows (train [0-9]*, validation [1-9][0-9]*, test 600)" "$tmp/info" ||
    fail "train + test files: $(head -n 1 "$tmp/info")"

if [ "$failures" -ne 0 ]; then
    echo "test_split_marks: $failures failure(s)" >&2
    exit 1
fi
echo "test_split_marks: marked parts converted and trained as marked" >&2
exit 0
