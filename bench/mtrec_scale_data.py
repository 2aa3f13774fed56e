#!/usr/bin/python3
"""mtrec_scale_data.py — a generated data set of the PMTRec paper's size
(Epinions-style: 22,166 users, 296,277 items, ~922k ratings, ~355k trust
links, 27 item categories) for the mtrec speed benchmark
(bench/mtrec_scale.sh, doc/BENCHMARKS.md). Not a model of real data: its
job is the shape that makes ranking and sampling costly — a long-tailed
(Zipf-like) item popularity, long-tailed user activity, a sparse trust
graph with popular users, categories of very unequal size.

Writes into OUT (data.source = split; comma-delimited, user,item,rating):
  train.txt val.txt test.txt   each user's ratings shuffled, split 60/20/20
                               (every user keeps at least one training one)
  links.txt                    user,user (directed trust links)
  categories.txt               item,category (one line per item; with
                               --second-category N, N items get a second
                               line naming another category)

  bench/mtrec_scale_data.py OUT [--seed S] [--users U] [--items I]
      [--ratings R] [--links L] [--categories C] [--second-category N]

Seeded: the same arguments give byte-identical files (numpy's PCG64).
numpy only (python3-numpy); a bench script, not a dependency of fedrec.
"""
import argparse
import os
import sys

import numpy as np


def zipf_weights(n, exponent, offset, rng):
    """Weights of n things in a random order, the k-th largest ~ 1/(k+offset)^exponent."""
    w = 1.0 / np.power(np.arange(n, dtype=np.float64) + offset, exponent)
    return w[rng.permutation(n)]


def draw(weights, n, rng):
    """n indices drawn with replacement in proportion to weights."""
    c = np.cumsum(weights)
    return np.searchsorted(c, rng.random(n) * c[-1], side="right").clip(0, len(weights) - 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--users", type=int, default=22166)
    ap.add_argument("--items", type=int, default=296277)
    ap.add_argument("--ratings", type=int, default=922267)
    ap.add_argument("--links", type=int, default=355754)
    ap.add_argument("--categories", type=int, default=27)
    ap.add_argument("--second-category", type=int, default=0,
                    help="items given a second category (the real set has 577; default 0)")
    a = ap.parse_args()
    U, I, C = a.users, a.items, a.categories
    if U < 2 or I < 2 or C < 2 or a.ratings < U + I or a.links < 1 or a.second_category > I:
        sys.exit("mtrec_scale_data.py: need users, items, categories >= 2, ratings >= users + items, "
                 "links >= 1, second-category <= items")
    rng = np.random.default_rng(a.seed)

    # Categories of very unequal size; each item one, popularity Zipf-like.
    cat_w = zipf_weights(C, 1.0, 2.0, rng)
    item_cat = draw(cat_w, I, rng)
    item_pop = zipf_weights(I, 0.9, 20.0, rng)

    # User activity long-tailed (at least 3 ratings: train, val, test).
    act = rng.pareto(1.6, U) + 1.0
    per_user = np.maximum(3, np.round(act / act.sum() * (a.ratings - I))).astype(np.int64)
    # Every item rated at least once (an item no file names has no id).
    cover_users = draw(per_user.astype(np.float64), I, rng)
    # The rest: a user's favourite category (70%) or anywhere (30%), by
    # popularity; repeats of a (user, item) are dropped and topped up.
    fav = draw(cat_w, U, rng)
    order = np.argsort(item_cat, kind="stable")
    starts = np.searchsorted(item_cat[order], np.arange(C + 1))

    def picks(users):
        pick = draw(item_pop, len(users), rng)
        in_fav = rng.random(len(users)) < 0.7
        for c in range(C):
            sel = np.nonzero(in_fav & (fav[users] == c))[0]
            members = order[starts[c]:starts[c + 1]]
            if len(sel):
                pick[sel] = members[draw(item_pop[members], len(sel), rng)]
        return pick

    cover = np.unique(cover_users * I + np.arange(I))
    users = np.repeat(np.arange(U), per_user)
    key = np.unique(np.concatenate([cover, users * I + picks(users)]))
    while len(key) < a.ratings:
        more = draw(per_user.astype(np.float64), int((a.ratings - len(key)) * 1.5) + 16, rng)
        key = np.unique(np.concatenate([key, more * I + picks(more)]))
    rest = np.setdiff1d(key, cover, assume_unique=True)   # trim, keeping coverage
    keep = rng.choice(len(rest), a.ratings - len(cover), replace=False)
    key = np.sort(np.concatenate([cover, rest[keep]]))
    u_all, i_all = key // I, key % I
    rating = draw(np.array([0.05, 0.08, 0.17, 0.32, 0.38]), len(key), rng) + 1

    # Per-user 60/20/20 split of the user's ratings in a seeded order.
    perm = rng.permutation(len(key))
    perm = perm[np.argsort(u_all[perm], kind="stable")]
    u_s = u_all[perm]
    first = np.searchsorted(u_s, np.arange(U + 1))
    n = np.diff(first)
    pos = np.arange(len(u_s)) - first[u_s]
    n_tr = np.maximum(1, np.round(0.6 * n)).astype(np.int64)
    n_va = np.round(0.2 * n).astype(np.int64)
    part = np.where(pos < n_tr[u_s], 0, np.where(pos < (n_tr + n_va)[u_s], 1, 2))

    os.makedirs(a.out, exist_ok=True)
    for p, name in enumerate(["train.txt", "val.txt", "test.txt"]):
        sel = perm[part == p]
        np.savetxt(os.path.join(a.out, name), np.stack([u_all[sel], i_all[sel], rating[sel]], 1),
                   fmt="%d", delimiter=",")

    # Trust links: sources by activity, targets by a popularity of users that
    # favours their own favourite category (60%); no self-links, no repeats.
    upop = zipf_weights(U, 0.8, 5.0, rng)
    got = np.empty(0, dtype=np.int64)
    while len(got) < a.links:
        m = int((a.links - len(got)) * 1.2) + 16
        src = draw(per_user.astype(np.float64), m, rng)
        dst = draw(upop, m, rng)
        same = rng.random(m) < 0.6
        byfav = np.argsort(fav, kind="stable")
        fstart = np.searchsorted(fav[byfav], np.arange(C + 1))
        for c in range(C):
            sel = np.nonzero(same & (fav[src] == c))[0]
            members = byfav[fstart[c]:fstart[c + 1]]
            if len(sel) and len(members) > 1:
                dst[sel] = members[draw(upop[members], len(sel), rng)]
        ok = src != dst
        got = np.unique(np.concatenate([got, src[ok] * U + dst[ok]]))
    got = got[np.sort(rng.choice(len(got), a.links, replace=False))]
    np.savetxt(os.path.join(a.out, "links.txt"), np.stack([got // U, got % U], 1), fmt="%d",
               delimiter=",")

    # Categories: one line per item; some items a second, different one.
    lines_item = [np.arange(I)]
    lines_cat = [item_cat]
    if a.second_category:
        two = np.sort(rng.choice(I, a.second_category, replace=False))
        other = (item_cat[two] + 1 + rng.integers(0, C - 1, len(two))) % C
        lines_item.append(two)
        lines_cat.append(other)
    li, lc = np.concatenate(lines_item), np.concatenate(lines_cat)
    o = np.argsort(li, kind="stable")
    with open(os.path.join(a.out, "categories.txt"), "w") as f:
        f.writelines(f"{i},c{c}\n" for i, c in zip(li[o].tolist(), lc[o].tolist()))

    print(f"{a.out}: {U} users, {I} items, {len(key)} ratings "
          f"({int((part == 0).sum())} train, {int((part == 1).sum())} val, {int((part == 2).sum())} test), "
          f"{len(got)} links, {C} categories ({a.second_category} items in two)")


if __name__ == "__main__":
    main()
