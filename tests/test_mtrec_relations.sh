#!/bin/sh
# test_mtrec_relations.sh — item categories as users have them, through
# `fedrec train` (job.kind = mtrec): several per item, from a file (on
# several lines, or '|'-separated in one field, repeated pairs counted and
# kept once) or from a category column of the rating file (the union over
# an item's rows); the same categories given either way train to the same
# figures; mtrec.relation_delimiter defaults to data.delimiter, and an
# explicit setting still wins.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_mtrel.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$tmp/err")"
}
# The test figures a run printed (the table after "test at that epoch").
figures() { grep -E '^ +(Recall|NDCG) ' "$1"; }

# 60 users x 12 items of 80; item i in category c(i % 6), items i % 5 == 0
# also in category c(i % 7 + 10) (written c1|c2 on the item's rows); items
# 70 and up have none (an empty field).
awk 'BEGIN {
    for (u = 0; u < 60; u++)
        for (k = 0; k < 12; k++) {
            i = (u * 7 + k * 13 + k * k) % 80
            if (seen[u, i]++) continue
            cat = i >= 70 ? "" : "c" (i % 6)
            if (i < 70 && i % 5 == 0) cat = cat "|c" (i % 7 + 10)
            printf "u%d,i%d,%d,%s\n", u, i, 1 + (u + k) % 5, cat
        }
}' >"$tmp/r.csv"
# The same categories as a file, in the order the rows first give them:
# one field per item, and as one line per pair with a pair repeated.
awk -F, '$4 != "" && !seen[$2]++ { print $2 "," $4 }' "$tmp/r.csv" >"$tmp/cats.csv"
awk -F, '{ n = split($2, c, "|"); for (k = 1; k <= n; k++) print $1 "," c[k] } NR == 3 { print $1 "," c[1] }' "$tmp/cats.csv" >"$tmp/lines.csv"
n_items=$(cut -d, -f2 "$tmp/r.csv" | sort -u | wc -l)
with=$(wc -l <"$tmp/cats.csv")
n_cats=$(cut -d, -f2 "$tmp/cats.csv" | tr '|' '\n' | sort -u | wc -l)

T="--set job.kind=mtrec --set data.source=delimited --set data.path=$tmp/r.csv --set mtrec.tasks=bpr,category
   --set train.epochs=2 --set mtrec.min_epochs=0 --set mtrec.dim=8 --set train.batch_size=128 --set backend.threads=1"

# A category column: the union of an item's rows, counted.
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $T --set data.columns=user,item,rating,category
cp "$tmp/out" "$tmp/column.out"
grep -q "^categories from column 4 of the rating file: $with of $n_items items have one or more ($n_cats categories)$" "$tmp/out" ||
    fail "column: expected $with of $n_items items, $n_cats categories: $(grep categories "$tmp/out")"
figures "$tmp/column.out" | grep -q . || fail "column: no test figures: $(cat "$tmp/out")"

# The same categories from a file, one field per item ('|'), train the same.
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $T --set data.columns=user,item,rating,- --set mtrec.categories="$tmp/cats.csv"
[ "$(figures "$tmp/out")" = "$(figures "$tmp/column.out")" ] ||
    fail "the file and the column gave other figures: $(figures "$tmp/out") / $(figures "$tmp/column.out")"
grep -q 'repeated' "$tmp/out" && fail "cats.csv has no repeated pair: $(grep repeated "$tmp/out")"
# ... and as one line per pair, with one pair repeated: counted, kept once.
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $T --set data.columns=user,item,rating,- --set mtrec.categories="$tmp/lines.csv"
grep -q "^$tmp/lines.csv: 1 repeated item-category pair(s) skipped$" "$tmp/out" ||
    fail "the repeated pair was not counted: $(head -n 3 "$tmp/out")"
[ "$(figures "$tmp/out")" = "$(figures "$tmp/column.out")" ] ||
    fail "a pair per line gave other figures: $(figures "$tmp/out") / $(figures "$tmp/column.out")"
# Several categories matter: the first category alone trains otherwise.
cut -d'|' -f1 "$tmp/cats.csv" >"$tmp/first.csv"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $T --set data.columns=user,item,rating,- --set mtrec.categories="$tmp/first.csv"
[ "$(figures "$tmp/out")" = "$(figures "$tmp/column.out")" ] && fail "the second categories changed nothing"

# mtrec.relation_delimiter defaults to data.delimiter: tab data, tab file.
tr ',' '\t' <"$tmp/r.csv" >"$tmp/r.tsv"
tr ',' '\t' <"$tmp/cats.csv" >"$tmp/cats.tsv"
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $T --set data.path="$tmp/r.tsv" --set data.delimiter=tab --set data.columns=user,item,rating,- \
    --set mtrec.categories="$tmp/cats.tsv"
[ "$(figures "$tmp/out")" = "$(figures "$tmp/column.out")" ] ||
    fail "tab data with a tab category file (no relation_delimiter) trained otherwise: $(cat "$tmp/err")"
# An explicit setting still wins: tab data, a comma file.
# shellcheck disable=SC2086
expect 0 "$FEDREC" train $T --set data.path="$tmp/r.tsv" --set data.delimiter=tab --set data.columns=user,item,rating,- \
    --set mtrec.categories="$tmp/cats.csv" --set mtrec.relation_delimiter=comma
[ "$(figures "$tmp/out")" = "$(figures "$tmp/column.out")" ] || fail "relation_delimiter = comma with tab data: $(cat "$tmp/err")"
# ... and without it the comma file is read with tabs, and refused.
# shellcheck disable=SC2086
expect 4 "$FEDREC" train $T --set data.path="$tmp/r.tsv" --set data.delimiter=tab --set data.columns=user,item,rating,- \
    --set mtrec.categories="$tmp/cats.csv"
grep -q "cats.csv:1: one field, expected an item id and its categories separated by tab" "$tmp/err" ||
    fail "a comma file under data.delimiter = tab: $(cat "$tmp/err")"

# Split files (data.source = split): the column of all three files.
mkdir "$tmp/split"
awk 'NR % 5 == 1' "$tmp/r.csv" >"$tmp/split/val.txt"
awk 'NR % 5 == 2' "$tmp/r.csv" >"$tmp/split/test.txt"
awk 'NR % 5 > 2 || NR % 5 == 0' "$tmp/r.csv" >"$tmp/split/train.txt"
expect 0 "$FEDREC" train --set job.kind=mtrec --set data.source=split --set data.path="$tmp/split" \
    --set data.columns=user,item,rating,category --set mtrec.tasks=bpr,category --set train.epochs=1 --set mtrec.min_epochs=0
grep -q "^categories from column 4 of the rating files: $with of $n_items items have one or more ($n_cats categories)$" "$tmp/out" ||
    fail "split: $(grep categories "$tmp/out") $(cat "$tmp/err")"

if [ "$failures" -ne 0 ]; then
    echo "test_mtrec_relations: $failures failure(s)" >&2
    exit 1
fi
echo "test_mtrec_relations: all checks passed" >&2
exit 0
