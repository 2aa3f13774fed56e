#!/bin/sh
# test_keys.sh — a configuration says what was run, and the way to the
# right keys is short: a key set for a job that does not read it is
# refused, for every job kind, fedmsmt method, mtrec combiner and msmt
# model, by `fedrec train` and `fedrec config --check` alike (the same exit
# and message); a file's keys that a --set of the job leaves unread are
# notes; fedmsmt refuses models other than MMoE; `config --keys --job KIND`
# lists exactly the keys KIND reads (every other key, set, is refused),
# wrapped to $COLUMNS; every shipped configuration passes config --check,
# prints to a configuration that passes it too, and trains; input files
# that do not exist and outputs that cannot be written are refused before
# any data is read; train --help, the README and fedrec.1 list every job
# kind and where each paper's method is.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
top_builddir=$(cd "$top_builddir" && pwd) top_srcdir=$(cd "$top_srcdir" && pwd)
FEDREC="$top_builddir/fedrec"
. "$top_srcdir/tests/testutil.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fr_keys.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 99
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
: >empty.ini

kinds=$("$FEDREC" config --keys --markdown | sed -n 's/^| `job.kind` | enum | `[a-z-]*` | \([^|]*\) |.*/\1/p' | tr -d ',')
[ "$(echo $kinds | wc -w)" -eq 8 ] || fail "job.kind's choices: '$kinds'"

# same EXIT TEXT SETS...: `train SETS` and `config --check empty.ini SETS`
# both exit EXIT, print TEXT, and (when refused) print the same message.
same() {
    want=$1 text=$2
    shift 2
    "$FEDREC" config --check empty.ini "$@" >c.out 2>c.err
    c=$?
    [ "$c" -eq "$want" ] || fail "config --check $*: exit $c, expected $want: $(cat c.err)"
    [ "$want" -eq 0 ] && return # (text: what the refusal would have said)
    grep -qF -- "$text" c.err || fail "config --check $*: no '$text' in: $(cat c.err)"
    "$FEDREC" train "$@" --quiet >t.out 2>t.err
    t=$?
    [ "$t" -eq "$want" ] || fail "train $*: exit $t, expected $want: $(cat t.err)"
    cmp -s c.err t.err || fail "train $* and config --check say different things: '$(cat t.err)' / '$(cat c.err)'"
}

# ---- keys a job does not read, job kind by job kind ------------------------------
same 3 "train.epochs = 2 (--set) is not read by job.kind = pfedrec, only by ctr, msmt, mtrec (mtrec.federated = false); remove it ('fedrec config --keys --job pfedrec'" \
    --set train.epochs=2
same 3 "train.epochs = 5 (--set) is not read by job.kind = pfedrec" --set train.epochs=5 # its default, set
same 3 "pfedrec.item_personalisation = false (--set) is not read by job.kind = fedmf, only by pfedrec" \
    --set job.kind=fedmf --set pfedrec.item_personalisation=false
same 3 "pfedrec.central_lr = 0.01 (--set) is not read by job.kind = fedncf, only by central-mf" \
    --set job.kind=fedncf --set pfedrec.central_lr=0.01
same 3 "fed.deadline = 5 (--set) is not read by job.kind = central-mf" --set job.kind=central-mf --set fed.deadline=5
same 3 "pfedrec.lr = 0.2 (--set) is not read by job.kind = central-mf, only by pfedrec, fedmf, fedncf" \
    --set job.kind=central-mf --set pfedrec.lr=0.2
same 3 "train.rounds = 3 (--set) is not read by job.kind = ctr" --set job.kind=ctr --set train.rounds=3
same 3 "data.source = movielens (--set): job.kind = ctr trains on click data it generates" \
    --set job.kind=ctr --set data.source=movielens
same 3 "data.users = 50 (--set) is read by job.kind = pfedrec only with data.source = synthetic (here data.source = movielens, from --set)" \
    --set data.source=movielens --set data.path=empty.ini --set data.users=50
same 3 "2 keys this job does not read" --set fed.trim=0.2 --set privacy.secure_neighbours=2
for model in lr shared-bottom mmoe ple autoifs; do
    case $model in ple) ok=0 ;; *) ok=3 ;; esac
    same $ok "msmt.task_experts = 2 (--set) is read by job.kind = msmt only with msmt.model = ple (here msmt.model = $model, from --set)" \
        --set job.kind=msmt --set msmt.model=$model --set msmt.task_experts=2
    case $model in autoifs) ok=0 ;; *) ok=3 ;; esac
    same $ok "autoifs.rank = 3 (--set) is read by job.kind = msmt only with msmt.model = autoifs" \
        --set job.kind=msmt --set msmt.model=$model --set autoifs.rank=3
done
for method in pfmsmtrec fedavg fedprox fedbn local; do
    prox=""
    [ $method = fedprox ] && prox="--set fedmsmt.prox_mu=0.01"
    case $method in pfmsmtrec) ok=0 ;; *) ok=3 ;; esac
    same $ok "fedmsmt.towers = mean (--set) is read by job.kind = fedmsmt only with fedmsmt.method = pfmsmtrec (here fedmsmt.method = $method, from --set)" \
        --set job.kind=fedmsmt --set fedmsmt.method=$method $prox --set fedmsmt.towers=mean
    same 3 "msmt.model = ple (--set): job.kind = fedmsmt federates MMoE clients only (msmt.model = mmoe)" \
        --set job.kind=fedmsmt --set fedmsmt.method=$method $prox --set msmt.model=ple
done
same 3 "msmt.patience = 4 (--set) is not read by job.kind = fedmsmt, only by msmt" \
    --set job.kind=fedmsmt --set msmt.patience=4
for combiner in pmtrec ew main rlw pcgrad cagrad gradvac graddrop nash aligned mgda; do
    m="--set job.kind=mtrec --set mtrec.combiner=$combiner"
    case $combiner in pmtrec) ok=0 ;; *) ok=3 ;; esac
    same $ok "mtrec.tau = 1 (--set) is read by job.kind = mtrec only with mtrec.combiner = pmtrec (here mtrec.combiner = $combiner, from --set)" $m --set mtrec.tau=1
    case $combiner in cagrad) ok=0 ;; *) ok=3 ;; esac
    same $ok "mtrec.cagrad_c = 0.3 (--set) is read by job.kind = mtrec only with mtrec.combiner = cagrad" $m --set mtrec.cagrad_c=0.3
    case $combiner in gradvac) ok=0 ;; *) ok=3 ;; esac
    same $ok "mtrec.gradvac_beta = 0.2 (--set) is read by job.kind = mtrec only with mtrec.combiner = gradvac" $m --set mtrec.gradvac_beta=0.2
done
same 3 "train.epochs = 3 (--set) is read by job.kind = mtrec only with mtrec.federated = false" \
    --set job.kind=mtrec --set mtrec.federated=true --set mtrec.tasks=bpr,rating --set train.epochs=3
same 3 "mtrec.tasks = social with mtrec.federated = true" --set job.kind=mtrec --set mtrec.federated=true --set mtrec.tasks=bpr,social
same 0 "" --set job.kind=mtrec --set mtrec.federated=true --set mtrec.tasks=bpr,rating --set train.rounds=3
# Every job reads the backend keys (a script may set them for all): the
# jobs that train on the CPU refuse an OpenCL device instead of ignoring it
# (pfedrec, fedmf and fedncf train their clients as cohorts there:
# tests/test_cohort; federated mtrec too: tests/test_mtr_backend).
same 0 "" --set job.kind=mtrec --set backend.kind=cpu --set backend.cpu_isa=scalar
same 3 "backend.kind = opencl: the mtrec job with mtrec.federated = false trains its embedding rows on the CPU" --set job.kind=mtrec --set backend.kind=opencl
same 0 "" --set job.kind=mtrec --set mtrec.federated=true --set mtrec.tasks=bpr,rating --set backend.kind=opencl --set mtrec.cohort=64 \
    --set opencl.platform=0 --set opencl.device=0 --set opencl.min_elements=0
same 3 "mtrec.cohort = 64 (--set) is read by job.kind = mtrec only with mtrec.federated = true" --set job.kind=mtrec --set mtrec.cohort=64
same 3 "backend.kind = opencl: job.kind = central-mf trains on the CPU" --set job.kind=central-mf --set backend.kind=opencl

# A file that sets a key its own job does not read: refused, naming the line.
printf '[job]\nkind = fedmsmt\n[fedmsmt]\nmethod = fedavg\nfedbn = true\n' >own.ini
"$FEDREC" config --check own.ini >out 2>err && fail "own.ini accepted"
grep -qF "fedmsmt.fedbn = true (own.ini:5) is read by job.kind = fedmsmt only with fedmsmt.method = pfmsmtrec (here fedmsmt.method = fedavg, from own.ini:4)" err ||
    fail "own.ini: $(cat err)"
# A file made for one job, switched by --set: its keys that job reads are
# notes, not errors, and the run goes on; a --set key is still refused.
printf '[job]\nkind = mtrec\n[data]\nusers = 60\nitems = 80\nper_user = 8\n[mtrec]\ncombiner = pmtrec\ntau = 1\nalpha = 1.2\ntasks = bpr,rating\n' >p.ini
"$FEDREC" train p.ini --set mtrec.combiner=ew --set train.epochs=1 --quiet >out 2>err ||
    fail "p.ini with ew: $(cat err)"
grep -qF "note: with mtrec.combiner = ew (--set) this run does not read mtrec.alpha, mtrec.tau, set in p.ini for the file's own job" err ||
    fail "p.ini with ew: no note: $(cat err)"
"$FEDREC" config --check p.ini --set mtrec.combiner=ew >out 2>err && grep -q "^p.ini: ok" out && grep -qF "note: with mtrec.combiner = ew" err ||
    fail "config --check p.ini with ew: $(cat out err)"
"$FEDREC" config --check p.ini --set mtrec.combiner=ew --set mtrec.alpha=2 >out 2>err && fail "mtrec.alpha by --set with ew accepted"

# ---- config --keys --job KIND: exactly the keys KIND reads --------------------------
for kind in $kinds; do
    COLUMNS=100000 "$FEDREC" config --keys --job "$kind" >keys.txt || fail "--keys --job $kind"
    # "section.name = default (...)" lines, and whether the key is read
    # only under some settings ("Read only with" in its description).
    awk '/^[a-z_]+\.[a-z_]+ = / { if (key) print key, cond; key = $1; cond = "always"; next }
         /Read only with/ { cond = "sometimes" } END { if (key) print key, cond }' keys.txt >listed.txt
    [ -s listed.txt ] || fail "--keys --job $kind lists no keys"
    "$FEDREC" config --keys --markdown | sed -n 's/^| `\([a-z_]*\.[a-z_]*\)` | [^|]* | `\([^`]*\)` |.*/\1 \2/p' >all.txt
    # Every key it lists and reads whatever else is set: all set at once
    # (to their defaults), accepted.
    sets=""
    while read -r key cond; do
        [ "$cond" = always ] && [ "$key" != job.kind ] &&
            sets="$sets --set $key=$(grep "^$key " all.txt | cut -d ' ' -f 2-)"
    done <listed.txt
    "$FEDREC" config --check empty.ini --set job.kind="$kind" $sets >out 2>err ||
        fail "--keys --job $kind lists keys that, set, are refused: $(cat err)"
    # Every key it leaves out, set, is refused (eight at a time).
    awk 'NR == FNR { listed[$1] = 1; next } !($1 in listed)' listed.txt all.txt >unlisted.txt
    [ "$(wc -l <unlisted.txt)" -ge 20 ] || fail "--keys --job $kind leaves out only $(wc -l <unlisted.txt) keys"
    while [ -s unlisted.txt ]; do
        head -n 8 unlisted.txt >batch.txt
        sed -i 1,8d unlisted.txt
        sets=$(awk '{ k = $1; $1 = ""; sub(/^ /, ""); printf " --set %s=%s", k, $0 }' batch.txt)
        "$FEDREC" config --check empty.ini --set job.kind="$kind" $sets >out 2>err &&
            fail "--keys --job $kind leaves out$(cut -d ' ' -f 1 batch.txt | tr '\n' ' '), but setting them is accepted"
        while read -r key default; do
            grep -qF "$key = " err || fail "$kind: $key, left out by --keys --job $kind, is not refused: $(cat err)"
        done <batch.txt
    done
done
COLUMNS=100000 "$FEDREC" config --keys --job mtrec >keys.txt
grep -A 3 '^mtrec.alpha = ' keys.txt | grep -q 'Read only with mtrec.combiner = pmtrec' || fail "mtrec.alpha's condition: $(grep -A 3 '^mtrec.alpha' keys.txt)"
grep -q '^msmt\.' keys.txt && fail "--keys --job mtrec lists msmt keys"
# Wrapped to $COLUMNS, else 80 when not a terminal (a longer line holds one word).
COLUMNS=50 "$FEDREC" config --keys --job fedmsmt >keys.txt
long=$(awk 'length > 50 && NF > 1' keys.txt | head -n 1)
[ -z "$long" ] || fail "COLUMNS=50: a line of $(echo "$long" | wc -c) characters: $long"
env -u COLUMNS "$FEDREC" config --keys >keys.txt
long=$(awk 'length > 80 && NF > 1' keys.txt | head -n 1)
[ -z "$long" ] || fail "not a terminal: a line longer than 80: $long"
"$FEDREC" config --keys --job nosuch >out 2>err && fail "--job nosuch accepted"
grep -qF "expected a job.kind, one of pfedrec, fedmf" err || fail "--job nosuch: $(cat err)"

# ---- the shipped configurations ----------------------------------------------------
# Each passes config --check (from the source tree, where their data paths
# point), prints to a configuration that passes too, and trains (one round
# or epoch on small sizes, from here, its data path made absolute; about
# 20 s in all).
for conf in "$top_srcdir"/conf/*.ini; do
    name=$(basename "$conf")
    kind=$(cd "$top_srcdir" && "$FEDREC" config --print "conf/$name" | sed -n 's/^kind = //p' | head -n 1)
    path=$(cd "$top_srcdir" && "$FEDREC" config --print "conf/$name" | sed -n 's/^path = //p' | head -n 1)
    if [ -n "$path" ] && [ ! -e "$top_srcdir/$path" ]; then
        skip_part "test_keys: conf/$name: its data $path is not here"
        continue
    fi
    (cd "$top_srcdir" && "$FEDREC" config --check "conf/$name") >out 2>err || fail "config --check conf/$name: $(cat err)"
    [ -s err ] && fail "config --check conf/$name printed: $(cat err)"
    (cd "$top_srcdir" && "$FEDREC" config --print "conf/$name") >printed.ini
    (cd "$top_srcdir" && "$FEDREC" config --check "$tmp/printed.ini") >out 2>err ||
        fail "conf/$name printed and checked: $(cat err)"
    short=""
    case $kind in
    pfedrec | fedmf | fedncf | central-mf | fedmsmt) short="--set train.rounds=1" ;;
    *) short="--set train.epochs=1" ;;
    esac
    case $name in
    *-synthetic.ini) [ "$kind" = mtrec ] || short="$short --set data.rows=6000" ;;
    esac
    case $name in autoifs-*) short="$short --set autoifs.search_epochs=1 --set autoifs.rewind_epoch=0 --set autoifs.bottom=64,32" ;; esac
    [ -n "$path" ] && short="$short --set data.path=$top_srcdir/$path"
    "$FEDREC" train "$conf" $short --quiet >out 2>err || fail "train conf/$name $short: $(cat err)"
done

# ---- files, before any data is read ---------------------------------------------------
mkdir -p elsewhere/conf elsewhere/data
: >elsewhere/data/u.data
printf '[data]\nsource = movielens\npath = ../data/u.data\n' >elsewhere/conf/r.ini
"$FEDREC" config --check elsewhere/conf/r.ini >out 2>err && fail "a data path resolved against the wrong folder accepted"
grep -qF "data.path = '../data/u.data' (elsewhere/conf/r.ini:3): ../data/u.data: cannot open: No such file or directory; a relative path is resolved against the current folder, $tmp; elsewhere/conf/../data/u.data, beside the configuration file, exists" err ||
    fail "missing data path: $(cat err)"
# An unwritable --summary (or report) is refused before training: nothing
# is written, not even the report.
"$FEDREC" train --set train.rounds=1 --report r.csv --summary nodir/s.json >out 2>err
[ $? -eq 1 ] || fail "--summary nodir/s.json: exit $?"
grep -qF -- "--summary nodir/s.json: cannot write there: nodir: No such file or directory" err || fail "--summary: $(cat err)"
[ ! -e r.csv ] && [ ! -s out ] || fail "--summary nodir/s.json: the run started: $(cat out)"
"$FEDREC" config --check empty.ini --set output.report=elsewhere >out 2>err && fail "output.report = a folder accepted"
grep -qF "output.report = 'elsewhere' (--set): cannot write there: elsewhere is a folder" err || fail "report folder: $(cat err)"

# ---- finding one's way: every job kind and where each paper's method is ------------------
"$FEDREC" train --help >help.txt
for kind in $kinds; do
    grep -q "^  $kind  " help.txt || fail "train --help does not list job.kind $kind"
    grep -q "job.kind = $kind" "$top_srcdir/README" || fail "README: no 'job.kind = $kind'"
    grep -q "job.kind = $kind\|job.kind\\\\ =\\\\ $kind" "$top_srcdir/doc/fedrec.1" || fail "fedrec.1: no 'job.kind = $kind'"
done
for place in "fedmsmt.method = pfmsmtrec" "fedmsmt.method = fedavg" "mtrec.combiner = pmtrec" "msmt.model = autoifs"; do
    for doc in help.txt "$top_srcdir/README" "$top_srcdir/doc/fedrec.1"; do
        grep -q "$place" "$doc" || fail "$(basename "$doc"): no '$place'"
    done
done

if [ "$failures" -ne 0 ]; then
    echo "test_keys: $failures failure(s)" >&2
    exit 1
fi
echo "test_keys: all checks passed" >&2
exit 0
