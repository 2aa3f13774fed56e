#!/usr/bin/python3
"""sparse_ratings.py — a sparse derivative of MovieLens-100K for
bench/pfedrec_reference.sh, shaped like a sparse held-out set: per user a
seeded random PER_USER of its ratings (all of them if it has fewer), each
timestamp floored to the day (t - t % 86400), rows sorted by item id, then
user id, so that many of a user's ratings share its latest day and the
leave-one-out tie rule decides its held-out items. Written comma-separated
as user,item,rating,timestamp without a header (what the PFedRec authors'
train.py reads; fedrec reads it with data.source = delimited,
data.delimiter = ',', data.columns = user,item,rating,time).

    bench/sparse_ratings.py U_DATA OUT [--seed S] [--per-user N]

U_DATA is MovieLens-100K's u.data (tab-separated user, item, rating,
timestamp). The output depends only on U_DATA, the seed (default 0) and
N (default 8): Python's random.Random(seed) picks, user by user in
ascending id order, from the user's ratings in file order.
"""
import argparse
import random
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("u_data")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-user", type=int, default=8)
    a = p.parse_args()
    if a.per_user < 1:
        p.error("--per-user must be at least 1")
    by_user = {}
    with open(a.u_data, encoding="ascii") as f:
        for lineno, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            try:
                user, item, rating, t = (int(x) for x in fields)
            except ValueError:
                sys.exit("sparse_ratings.py: %s:%d: expected 4 integer fields (user, item, rating, timestamp)"
                         % (a.u_data, lineno))
            by_user.setdefault(user, []).append((user, item, rating, t - t % 86400))
    rng = random.Random(a.seed)
    rows = []
    for user in sorted(by_user):
        mine = by_user[user]
        rows.extend(mine if len(mine) <= a.per_user else rng.sample(mine, a.per_user))
    rows.sort(key=lambda r: (r[1], r[0]))
    with open(a.out, "w", encoding="ascii") as f:
        for r in rows:
            f.write("%d,%d,%d,%d\n" % r)
    print("%s: %d ratings, %d users, %d items (seed %d, %d per user)"
          % (a.out, len(rows), len(by_user), len({r[1] for r in rows}), a.seed, a.per_user))


if __name__ == "__main__":
    main()
