#!/bin/sh
# test_recommend_msmt.sh — `fedrec recommend` and `fedrec export` of the
# multi-scenario jobs' models (msmt and fedmsmt) in the original id space:
# on a table converted from generated CSV with --user-field and
# --item-field (always), and on MovieLens-100K (data.source =
# movielens-msmt; SKIP without ../shared/data/ml-100k). Each user's top K
# must be numpy's brute-force ranking over the exported arrays of the
# features gathered from the source data (tests/check_recommend_msmt.py):
# the right scenario's model, no item the user interacted with, the original ids. Also:
# tables keep their fields (data info), a version-1 table is still read
# and its model refuses to recommend, and --task picks the task.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_recommend_msmt.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
PY=/usr/bin/python3
CHECK="$top_srcdir/tests/check_recommend_msmt.py"
have_numpy=1
"$PY" -c 'import numpy' 2>/dev/null || have_numpy=0
[ "$have_numpy" -eq 1 ] || skip_part "test_recommend_msmt: the brute-force rankings in numpy: $PY with numpy not found (apt install python3-numpy)"

# expect CODE CMD...: run CMD, check its exit code, keep output in $tmp/out.
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(head -c 600 "$tmp/err")"
}

# brute NAME MODEL TASK MODE SOURCE USERS...: recommend (CSV), export,
# compare with numpy.
brute() {
    name=$1 model=$2 task=$3 mode=$4 src=$5
    shift 5
    args=""
    for u in "$@"; do args="$args --user $u"; done
    # shellcheck disable=SC2086
    expect 0 "$FEDREC" recommend "$model" $args --top 7 --format csv --task "$task"
    cp "$tmp/out" "$tmp/rec_$name.csv"
    [ "$(wc -l <"$tmp/rec_$name.csv")" -eq $(($# * 7 + 1)) ] || fail "$name: not 7 items for each of $# users: $(head -n 3 "$tmp/rec_$name.csv")"
    rm -rf "$tmp/x_$name"
    expect 0 "$FEDREC" export "$model" --out "$tmp/x_$name"
    [ "$have_numpy" -eq 1 ] || return 0
    "$PY" "$CHECK" "$tmp/x_$name" "$tmp/rec_$name.csv" 7 "$task" "$mode" "$src" >"$tmp/check" 2>&1 ||
        fail "$name: recommend disagrees with numpy: $(tail -n 4 "$tmp/check")"
}

# Generated rows: 30 users (a region each, a scenario by user group), 40
# items (a genre and a price each), each user rating some items; parts by
# row.
awk 'BEGIN { srand(7); print "user,item,region,genre,price,scen,click,buy,part";
    for (u = 0; u < 30; u++) for (k = 0; k < 12; k++) {
        i = (u * 7 + k * 3) % 40; r = u * 12 + k;
        z = (u % 3) * 0.5 + (i % 4 == 1) + rand() * 1.5;
        printf "U%02d,item-%d,R%d,G%d,%.2f,%s,%d,%d,%s\n", u, i, u % 4, i % 5, (i % 7) / 3.0,
            (u < 10 ? "young" : u < 20 ? "mid" : "old"), (z > 1.2), (z > 1.8), (r % 10 < 7 ? "train" : r % 10 < 9 ? "val" : "test") } }' >"$tmp/rows.csv"
COLS="cat:user,cat:item,cat:region,cat:genre,num:price,scenario,label:click,label:buy,split:part"
expect 0 "$FEDREC" data convert --columns "$COLS" --header --user-field user --item-field item --out "$tmp/rows.tbl" "$tmp/rows.csv"
expect 0 "$FEDREC" data info "$tmp/rows.tbl" --check
grep -q "^fields: user (user) item (item) region genre price$" "$tmp/out" &&
    grep -q "categorical values: their original text is kept; user and item fields: named" "$tmp/out" ||
    fail "data info of a table with roles: $(cat "$tmp/out")"
SC="--set data.source=table --set data.path=$tmp/rows.tbl --set train.batch_size=64 --set train.lr=0.01 --quiet"
LAYERS="--set msmt.expert_layers=8,6 --set msmt.tower_layers=4"
expect 0 "$FEDREC" train --set job.kind=msmt --set msmt.experts=3 --set train.epochs=3 $LAYERS $SC --save "$tmp/m.frm"
expect 0 "$FEDREC" train --set job.kind=fedmsmt --set train.rounds=3 --set fedmsmt.shared_experts=1 \
    --set fedmsmt.private_experts=2 $LAYERS $SC --save "$tmp/f.frm"
brute csv_msmt "$tmp/m.frm" buy csv "$tmp/rows.csv" U00 U13 U29
brute csv_fedmsmt "$tmp/f.frm" click csv "$tmp/rows.csv" U01 U12 U25 U29
# The default task is the first; the text format names the ids.
expect 0 "$FEDREC" recommend "$tmp/f.frm" --user U01 --top 3
grep -q "^model $tmp/f.frm: fedmsmt model .*the probability of task 'click' (the scenario's client), in the user's scenario$" "$tmp/out" &&
    grep -q "^user U01: the top 3 of [0-9]* items the user has not interacted with$" "$tmp/out" &&
    [ "$(grep -c '^ *[123]  item-[0-9]' "$tmp/out")" -eq 3 ] || fail "recommend as text: $(cat "$tmp/out")"
expect 0 "$FEDREC" recommend "$tmp/f.frm" --user U01 --top 3 --format csv
[ "$(sed -n 2,4p "$tmp/out")" = "$(sed -n 2,4p "$tmp/rec_csv_fedmsmt.csv")" ] &&
    ! cmp -s "$tmp/out" "$tmp/rec_csv_msmt.csv" || fail "--task click is not the default: $(cat "$tmp/out")"
# Unknown user, unknown task.
expect 2 "$FEDREC" recommend "$tmp/m.frm" --user U99
grep -q "user 'U99' is not in $tmp/m.frm (its 30 users are the training data's" "$tmp/err" || fail "unknown user: $(cat "$tmp/err")"
expect 2 "$FEDREC" recommend "$tmp/m.frm" --user U00 --task nosuch
grep -q "\-\-task 'nosuch': the model in $tmp/m.frm predicts tasks 'click', 'buy'" "$tmp/err" || fail "unknown task: $(cat "$tmp/err")"
# Export in original ids: users.txt, items.txt, the fields' values.
grep -qx "U00" "$tmp/x_csv_msmt/users.txt" && grep -qx "item-0" "$tmp/x_csv_msmt/items.txt" &&
    grep -qx "G3" "$tmp/x_csv_msmt/values.field3.txt" && grep -q '^U00,item-0$' "$tmp/x_csv_msmt/seen_items.csv" &&
    grep -q '"name": "region", "side": "user"' "$tmp/x_csv_msmt/manifest.json" &&
    grep -q '"name": "genre", "side": "item"' "$tmp/x_csv_msmt/manifest.json" &&
    grep -q '"ids": "original' "$tmp/x_csv_msmt/manifest.json" || fail "export in original ids: $(head -c 600 "$tmp/x_csv_msmt/manifest.json")"

# A version-1 table (the same rows without the field section): read, and
# its model refuses to recommend (B108).
if [ "$have_numpy" -eq 1 ]; then
    "$PY" - "$tmp/rows.tbl" "$tmp/v1.tbl" <<'PYEOF' || fail "could not write a version-1 table"
import struct, sys, zlib
b = bytearray(open(sys.argv[1], "rb").read())
(hb,) = struct.unpack_from("<Q", b, 56)
(fields_offset,) = struct.unpack_from("<Q", b, 136)
h = bytearray(b[:136]) + b[160:hb] + bytes(24)     # the version-2 part out, the rest moved up
struct.pack_into("<I", h, 8, 1)
struct.pack_into("<Q", h, 64, fields_offset)
struct.pack_into("<I", h, 132, 0)
struct.pack_into("<I", h, 132, zlib.crc32(bytes(h)) & 0xffffffff)
open(sys.argv[2], "wb").write(bytes(h) + bytes(b[hb:fields_offset]))
PYEOF
    expect 0 "$FEDREC" data info "$tmp/v1.tbl" --check
    grep -q "user and item fields: not named" "$tmp/out" || fail "version-1 table: $(cat "$tmp/out")"
    expect 0 "$FEDREC" train --set job.kind=msmt --set msmt.experts=2 --set train.epochs=1 $LAYERS $SC \
        --set data.path="$tmp/v1.tbl" --save "$tmp/v1.frm"
    expect 4 "$FEDREC" recommend "$tmp/v1.frm" --user U00
    grep -q "the model was trained on a table that does not name its user and item fields" "$tmp/err" ||
        fail "a version-1 table's model: $(cat "$tmp/err")"
fi

# MovieLens-100K: the user's age group is the scenario; fedmsmt ranks with
# that scenario's client.
ML="$top_srcdir/../shared/data/ml-100k"
if [ -f "$ML/u.user" ] && [ -f "$ML/u.item" ] && [ -f "$ML/u.data" ]; then
    MS="--set data.source=movielens-msmt --set data.path=$ML --set msmt.expert_layers=8 --set msmt.tower_layers=4 --quiet"
    expect 0 "$FEDREC" train --set job.kind=msmt --set msmt.experts=2 --set train.epochs=1 $MS --save "$tmp/ml.frm"
    expect 0 "$FEDREC" train --set job.kind=fedmsmt --set train.rounds=1 --set fedmsmt.shared_experts=1 \
        --set fedmsmt.private_experts=1 $MS --save "$tmp/fml.frm"
    # Users 1 (24, age<25), 2 (53, age>=35), 5 (33, age25-34), 13 (47).
    brute ml_msmt "$tmp/ml.frm" 'rating>4' movielens "$ML" 1 2 5 13
    brute ml_fedmsmt "$tmp/fml.frm" 'rating>3' movielens "$ML" 1 2 5 13
    expect 2 "$FEDREC" recommend "$tmp/fml.frm" --user 1 --scenario 'age<25'
    grep -q "every user belongs to one scenario" "$tmp/err" || fail "ml --scenario: $(cat "$tmp/err")"
else
    skip_part "test_recommend_msmt: MovieLens-100K (msmt, fedmsmt): ../shared/data/ml-100k is not there"
fi

if [ "$failures" -ne 0 ]; then
    echo "test_recommend_msmt: $failures failure(s)" >&2
    exit 1
fi
echo "test_recommend_msmt: all checks passed" >&2
exit 0
