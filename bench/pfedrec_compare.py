#!/usr/bin/python3
"""pfedrec_compare.py — the table of bench/pfedrec_reference.sh for one data
set: reads, from the bench's folder for it, fedrec's and the reference's
per-round reports (fedrec-S.csv, ref-S.csv: round,train_loss,val_hr,
val_ndcg,test_hr,test_ndcg,...), fedrec's split files (split-S.tsv) and the
reference's own leave-one-out choice (refloo-S.tsv), and prints

- per round 1..10: the mean test HR@10 over seeds of fedrec and of the
  reference and their difference;
- per seed: the best-validation round (highest validation HR@10, ties to the
  later round, as the authors' train.py) and its test HR@10 / NDCG@10, both
  sides, then the means;
- how many users' validation and test items fedrec's split shares with the
  reference's own leave-one-out choice;
- PASS/FAIL: |mean difference| <= 0.03 at every round 2..10; best-validation
  mean test HR@10 and NDCG@10 each within 0.02; every user's held-out items
  the same.

    bench/pfedrec_compare.py --dir DIR --seeds "0 1 2" --rounds N [--title T]

Exit status 0 when every target is met, 1 otherwise.
"""
import argparse
import csv
import os
import sys

CURVE_TOL = 0.03
BEST_TOL = 0.02


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_report(path, rounds):
    rows = {}
    for r in read_rows(path):
        rows[int(r["round"])] = {k: float(r[k]) for k in ("val_hr", "val_ndcg", "test_hr", "test_ndcg")}
    missing = [r for r in range(1, rounds + 1) if r not in rows]
    if missing:
        sys.exit("pfedrec_compare.py: %s: no row for round %d (of %d)" % (path, missing[0], rounds))
    return [rows[r] for r in range(1, rounds + 1)]


def best_validation(rows):
    """0-based round with the highest validation HR, ties to the later one."""
    best, at = -1.0, 0
    for i, r in enumerate(rows):
        if r["val_hr"] >= best:
            best, at = r["val_hr"], i
    return at


def held_out(path):
    """{user: (validation item, test item)} of a split or leave-one-out file."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            out[fields[0]] = (fields[1].strip(), fields[2].strip())
    return out


def mean(xs):
    return sum(xs) / len(xs)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--seeds", required=True)
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--title", default="")
    a = p.parse_args()
    seeds = a.seeds.split()
    ours = {s: read_report(os.path.join(a.dir, "fedrec-%s.csv" % s), a.rounds) for s in seeds}
    theirs = {s: read_report(os.path.join(a.dir, "ref-%s.csv" % s), a.rounds) for s in seeds}
    ok = True

    print("== %s" % (a.title or a.dir))
    print("mean test HR@10 over seeds %s, per round" % " ".join(seeds))
    print("%5s %8s %9s %8s" % ("round", "fedrec", "reference", "diff"))
    shown = min(10, a.rounds)
    curve_ok = True
    for r in range(shown):
        f = mean([ours[s][r]["test_hr"] for s in seeds])
        t = mean([theirs[s][r]["test_hr"] for s in seeds])
        d = f - t
        flag = ""
        if r >= 1:
            if abs(d) > CURVE_TOL:
                flag = "  > %.2f" % CURVE_TOL
                curve_ok = False
        print("%5d %8.4f %9.4f %+8.4f%s" % (r + 1, f, t, d, flag))
    print()
    print("best validation round, its test HR@10 / NDCG@10")
    print("%5s | %23s | %23s" % ("", "fedrec".center(23), "reference".center(23)))
    print("%5s | %5s %8s %8s | %5s %8s %8s" % ("seed", "round", "HR@10", "NDCG@10", "round", "HR@10", "NDCG@10"))
    best = {"f_hr": [], "f_ndcg": [], "t_hr": [], "t_ndcg": []}
    for s in seeds:
        fi, ti = best_validation(ours[s]), best_validation(theirs[s])
        fr, tr = ours[s][fi], theirs[s][ti]
        best["f_hr"].append(fr["test_hr"])
        best["f_ndcg"].append(fr["test_ndcg"])
        best["t_hr"].append(tr["test_hr"])
        best["t_ndcg"].append(tr["test_ndcg"])
        print("%5s | %5d %8.4f %8.4f | %5d %8.4f %8.4f"
              % (s, fi + 1, fr["test_hr"], fr["test_ndcg"], ti + 1, tr["test_hr"], tr["test_ndcg"]))
    fh, fn, th, tn = (mean(best[k]) for k in ("f_hr", "f_ndcg", "t_hr", "t_ndcg"))
    print("%5s | %5s %8.4f %8.4f | %5s %8.4f %8.4f" % ("mean", "", fh, fn, "", th, tn))
    print("difference (fedrec - reference): HR@10 %+.4f, NDCG@10 %+.4f" % (fh - th, fn - tn))
    best_ok = abs(fh - th) <= BEST_TOL and abs(fn - tn) <= BEST_TOL

    print()
    loo_ok = True
    for s in seeds:
        mine = held_out(os.path.join(a.dir, "split-%s.tsv" % s))
        own = held_out(os.path.join(a.dir, "refloo-%s.tsv" % s))
        same = sum(1 for u in own if mine.get(u) == own[u])
        same_test = sum(1 for u in own if u in mine and mine[u][1] == own[u][1])
        print("seed %s: fedrec's split and the reference's own leave-one-out choice: same validation and test "
              "items for %d of %d users (same test item: %d)" % (s, same, len(own), same_test))
        if same != len(own) or len(mine) != len(own):
            loo_ok = False

    walls = {"fedrec": [], "reference": []}
    for s in seeds:
        for side, name in (("fedrec", "fedrec-wall-%s.txt" % s), ("reference", "ref-wall-%s.txt" % s)):
            path = os.path.join(a.dir, name)
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    walls[side] += [float(w.split()[1]) for w in f if w.split()[0] == s]
    if walls["fedrec"] and walls["reference"]:
        print("time per run of %d rounds (wall, mean over seeds): fedrec %.1f s, reference %.1f s (%.1f s a round)"
              % (a.rounds, mean(walls["fedrec"]), mean(walls["reference"]), mean(walls["reference"]) / a.rounds))

    split_times = [(float(r["train_seconds"]), float(r["eval_seconds"]))
                   for s in seeds for r in read_rows(os.path.join(a.dir, "ref-%s.csv" % s))
                   if r.get("train_seconds") and r.get("eval_seconds")]
    if split_times:
        print("reference, one round (mean over rounds and seeds): training %.1f s, evaluation %.1f s"
              % (mean([t for t, _ in split_times]), mean([e for _, e in split_times])))

    print()
    rounds_text = "2..%d" % shown if shown >= 2 else "(none: fewer than 2 rounds)"
    print("%s  curves: |mean test HR@10 difference| <= %.2f at rounds %s"
          % ("PASS" if curve_ok else "FAIL", CURVE_TOL, rounds_text))
    print("%s  best validation: mean test HR@10 and NDCG@10 within %.2f (%+.4f, %+.4f)"
          % ("PASS" if best_ok else "FAIL", BEST_TOL, fh - th, fn - tn))
    print("%s  held-out items: fedrec's tie rule picks the reference's validation and test items for every user"
          % ("PASS" if loo_ok else "FAIL"))
    ok = curve_ok and best_ok and loo_ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
