#!/bin/sh
# compare_builds.sh — two commits of fedrec built side by side and timed in
# one alternating run (doc/BENCHMARKS.md, "Two builds side by side"): the
# workloads a change to the federation core or the models must not slow
# down, each run by both builds in turn, several times, so that a shared
# machine's drift falls on both alike. Prints, per workload and build,
# every run's wall and CPU seconds and peak RSS, then the medians and the
# ratio new / old, with the CPU's name and the load average.
#
#   bench/compare_builds.sh [--old REV] [--new REV] [--runs N]
#                           [--work DIR] [--only NAME]...
#
# --old, --new  commits to compare (default HEAD~1 and HEAD); each is
#               checked out with `git worktree` under DIR and built with
#               ./autogen.sh && ./configure && make (kept for the next run)
# --runs        runs per workload and build (default 3)
# --work        where the builds go (default /tmp/fedrec-compare)
# --only        run only the named workloads (default all):
#   pfedrec   PFedRec, MovieLens-100K, 100 rounds with evaluation, 2 threads
#             (conf/pfedrec-ml100k.ini; the data from ../shared/data)
#   fedmsmt   PF-MSMTrec, 3 rounds on the generated table of
#             conf/pfmsmtrec-synthetic.ini
#   msmt      MMoE, 2 epochs on the generated table of conf/msmt-synthetic.ini
#   mtrecfed  federated multi-task MF, 20 rounds (conf/mtrec-synthetic.ini,
#             bpr + category)
# Run it from the project's checkout; the MovieLens workload needs the
# shared data beside it (skipped, with a line saying so, when missing).
set -eu

old=HEAD~1
new=HEAD
runs=3
work=/tmp/fedrec-compare
only=
while [ $# -gt 0 ]; do
    case $1 in
    --old) old=$2; shift 2 ;;
    --new) new=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --only) only="$only $2"; shift 2 ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "compare_builds.sh: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
    esac
done
case $runs in '' | *[!0-9]* | 0) echo "compare_builds.sh: --runs needs a positive number, got '$runs'" >&2; exit 2 ;; esac
top=$(git rev-parse --show-toplevel) || { echo "compare_builds.sh: run it inside fedrec's git checkout" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "compare_builds.sh: needs /usr/bin/time (Debian: apt-get install time)" >&2; exit 2; }
mkdir -p "$work"

# build NAME REV: a worktree of REV under $work/NAME, built once per commit.
build() {
    name=$1 rev=$(git -C "$top" rev-parse --verify "$2^{commit}") || { echo "compare_builds.sh: no commit '$2'" >&2; exit 2; }
    dir=$work/$name
    if [ -f "$dir/.built" ] && [ "$(cat "$dir/.built")" = "$rev" ]; then
        return 0
    fi
    if [ -d "$dir" ]; then
        git -C "$top" worktree remove --force "$dir" 2>/dev/null || rm -rf "$dir"
    fi
    git -C "$top" worktree add --detach -q "$dir" "$rev"
    ln -sfn "$(cd "$top/.." && pwd)/shared" "$work/shared" 2>/dev/null || true
    echo "building $name ($rev) in $dir ..." >&2
    (cd "$dir" && ./autogen.sh >build.log 2>&1 && ./configure >>build.log 2>&1 && make -j"$(nproc)" >>build.log 2>&1) ||
        { echo "compare_builds.sh: the build of $name failed: $dir/build.log" >&2; exit 1; }
    echo "$rev" >"$dir/.built"
}
build old "$old"
build new "$new"

wanted() { [ -z "$only" ] || case " $only " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# The workloads: name, then fedrec train's arguments (run in the build's
# folder, whose ../shared is $work/shared).
set_workload() {
    case $1 in
    pfedrec) args="conf/pfedrec-ml100k.ini --set backend.threads=2" ;;
    fedmsmt) args="conf/pfmsmtrec-synthetic.ini --set train.rounds=3" ;;
    msmt) args="conf/msmt-synthetic.ini --set train.epochs=2" ;;
    mtrecfed) args="conf/mtrec-synthetic.ini --set mtrec.federated=true --set mtrec.tasks=bpr,category --set train.rounds=20 --set train.eval_every=100" ;;
    esac
}

echo "CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# The commits built (a branch may have moved since).
for b in old new; do
    rev=$(cat "$work/$b/.built")
    echo "$b: $(git -C "$top" log -1 --format='%h %s' "$rev" | cut -c1-70)"
done
printf '%-9s %-4s %3s %8s %8s %9s\n' workload build run wall_s cpu_s rss_MiB
results=$work/results.txt
: >"$results"
for w in pfedrec fedmsmt msmt mtrecfed; do
    wanted "$w" || continue
    set_workload "$w"
    if [ "$w" = pfedrec ] && [ ! -f "$work/shared/data/ml-100k/u.data" ]; then
        echo "$w: skipped, no ../shared/data/ml-100k/u.data beside the checkout"
        continue
    fi
    i=1
    while [ "$i" -le "$runs" ]; do
        for b in old new; do
            dir=$work/$b
            # shellcheck disable=SC2086
            (cd "$dir" && LD_LIBRARY_PATH="$dir/.libs" /usr/bin/time -f '%e %U %S %M' -o "$work/time.txt" \
                ./.libs/fedrec train $args --quiet >"$work/$b.out" 2>&1) ||
                { echo "compare_builds.sh: $w failed in $b: $work/$b.out" >&2; exit 1; }
            read -r wall user sys rss <"$work/time.txt"
            cpu=$(echo "$user $sys" | awk '{printf "%.2f", $1 + $2}')
            mib=$(echo "$rss" | awk '{printf "%.1f", $1 / 1024}')
            printf '%-9s %-4s %3d %8s %8s %9s\n' "$w" "$b" "$i" "$wall" "$cpu" "$mib"
            echo "$w $b $wall $cpu $mib" >>"$results"
        done
        i=$((i + 1))
    done
done
echo "medians (new / old):"
awk '
function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $1 SUBSEP $2; n[k]++; wall[k, n[k]] = $3; cpu[k, n[k]] = $4; rss[k, n[k]] = $5; if (!($1 in seen)) { seen[$1]; order[++m] = $1 } }
END {
    for (o = 1; o <= m; o++) {
        w = order[o]
        for (b = 0; b < 2; b++) {
            bn = b ? "new" : "old"; k = w SUBSEP bn
            delete x; delete y; delete z
            for (i = 1; i <= n[k]; i++) { x[i] = wall[k, i]; y[i] = cpu[k, i]; z[i] = rss[k, i] }
            mw[bn] = median(x, n[k]); mc[bn] = median(y, n[k]); mr[bn] = median(z, n[k])
        }
        printf "%-9s wall %6.2f -> %6.2f s (%.2fx)  cpu %6.2f -> %6.2f s (%.2fx)  rss %6.1f -> %6.1f MiB\n", w,
            mw["old"], mw["new"], mw["new"] / mw["old"], mc["old"], mc["new"], mc["new"] / mc["old"], mr["old"], mr["new"]
    }
}' "$results"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
