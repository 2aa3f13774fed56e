#!/usr/bin/python3
"""pfedrec_reference.py — runs the PFedRec authors' PyTorch code (a scratch
copy of ../shared/reference/pfedrec, never part of fedrec) round by round on
a rating file, evaluated on a leave-one-out split file written by fedrec
(doc/BENCHMARKS.md, bench/pfedrec_reference.sh). A benchmark helper, not part
of fedrec; it needs Debian's python3-torch and python3-pandas.

    bench/pfedrec_reference.py --ref DIR --ratings FILE [--split FILE]
        [--seed S] [--rounds N] [--report CSV] [--write-loo FILE]
        [--threads T]

--ref       the scratch copy of the authors' folder (its modules are imported
            from there; its files are not modified)
--ratings   user,item,rating,timestamp, comma-separated, no header (what the
            authors' train.py reads as ratings.dat)
--split     fedrec's split file (doc: output.split; original ids; per user
            validation item, test item, 99 validation and 99 test negatives):
            replaces the reference's own leave-one-out split and its 198
            evaluation negatives. Without it the reference's own split and
            negatives are used (its held-out rows put in user order, which
            its evaluation asserts and a file not sorted by user lacks).
--seed      torch.manual_seed and random.seed, set after the imports
--rounds    federated rounds (default 100, as train.py)
--report    CSV, one row per round: round,train_loss,val_hr,val_ndcg,
            test_hr,test_ndcg,seconds,train_seconds,eval_seconds (the
            round's wall time: all of it, the training part (negatives
            drawn, every client trained, aggregation), the evaluation part
            (test, then validation, every client))
--write-loo the reference's OWN leave-one-out choice (before --split
            replaces it): "user<TAB>validation_item<TAB>test_item" per user,
            original ids
--threads   torch.set_num_threads (default 1)

What the driver changes around the authors' code, without editing it:
- CPU only: config['use_cuda'] = False, and torch.Tensor.cuda returns the
  tensor itself (engine.py calls .cuda() unconditionally in two places);
- tensorboardX (imported by engine.py, never used) is an empty stand-in;
- random.sample on a set: the code was written for Python <= 3.10, which
  turned a set into tuple(set) before sampling; Python 3.11 refuses sets.
  The modules' `random` is given a stand-in whose sample() does that same
  conversion (same draws as under 3.10) and delegates everything else;
- num_users / num_items come from the data (train.py hard-codes them per
  data set); lr_item = lr * num_items * lr_eta is computed by engine.py;
- users and items are reindexed by first appearance in the file, as
  train.py does; the rounds, the evaluation order (test, then validation)
  and the best-validation rule (>=: ties go to the later round) follow
  train.py.

stdout: one line per round (the report's fields), then the best-validation
round and its test HR@10 / NDCG@10. Rounds are numbered from 1. The train
loss is the mean over clients of each client's mean BCE over its samples
(the loss of the item-embedding step, as engine.py records it).
"""
import argparse
import collections.abc
import contextlib
import os
import random
import sys
import time
import types
import warnings


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ref", required=True)
    p.add_argument("--ratings", required=True)
    p.add_argument("--split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--report")
    p.add_argument("--write-loo")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    if a.rounds < 1:
        p.error("--rounds must be at least 1")
    return a


def die(msg):
    print("pfedrec_reference.py: " + msg, file=sys.stderr)
    sys.exit(1)


class Python310Random(types.ModuleType):
    """The `random` module as the authors' code saw it under Python <= 3.10:
    sample() accepts a set and samples tuple(set), as 3.10 did; everything
    else (and the generator state) is the real module's."""

    def __init__(self):
        super().__init__("random")

    def __getattr__(self, name):
        return getattr(random, name)

    @staticmethod
    def sample(population, k):
        if isinstance(population, collections.abc.Set):
            population = tuple(population)
        return random.sample(population, k)


def import_reference(ref):
    import torch
    if not os.path.isfile(os.path.join(ref, "engine.py")):
        die("%s: not the authors' folder (no engine.py)" % ref)
    stub = types.ModuleType("tensorboardX")

    class SummaryWriter:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("tensorboardX is not available to this driver")

    stub.SummaryWriter = SummaryWriter
    sys.modules.setdefault("tensorboardX", stub)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    sys.path.insert(0, os.path.abspath(ref))
    import data  # noqa: E402  (calls random.seed(0) at import)
    import engine
    import mlp
    compat = Python310Random()
    data.random = compat
    engine.random = compat
    return data, engine, mlp


def read_ratings(path):
    import numpy as np
    import pandas as pd
    rating = pd.read_csv(path, sep=",", header=None, names=["uid", "mid", "rating", "timestamp"],
                         engine="python")
    if rating.empty:
        die("%s: no ratings" % path)
    # Dense ids by first appearance, as train.py reindexes.
    users = rating[["uid"]].drop_duplicates()
    users["userId"] = np.arange(len(users))
    rating = pd.merge(rating, users, on=["uid"], how="left")
    items = rating[["mid"]].drop_duplicates()
    items["itemId"] = np.arange(len(items))
    rating = pd.merge(rating, items, on=["mid"], how="left")
    user_of = dict(zip(users["uid"].tolist(), users["userId"].tolist()))
    item_of = dict(zip(items["mid"].tolist(), items["itemId"].tolist()))
    return rating[["userId", "itemId", "rating", "timestamp"]], user_of, item_of


def read_split(path, user_of, item_of):
    """{dense user: (val item, test item, [99 val negs], [99 test negs])},
    dense ids; a precise error for anything the reference cannot use."""
    split = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            where = "%s:%d" % (path, lineno)
            if len(fields) != 3 + 198:
                die("%s: %d fields; expected 201 (user, validation item, test item, 99 + 99 negatives: "
                    "the reference evaluates 99 negatives per held-out item)" % (where, len(fields)))
            try:
                ids = [int(x) for x in fields]
            except ValueError:
                die("%s: a field is not an integer id" % where)
            if ids[0] not in user_of:
                die("%s: user %d is not in the rating file" % (where, ids[0]))
            u = user_of[ids[0]]
            if u in split:
                die("%s: user %d appears twice" % (where, ids[0]))
            dense = []
            for k, x in enumerate(ids[1:], 2):
                if x not in item_of:
                    die("%s: field %d: item %d is not in the rating file" % (where, k, x))
                dense.append(item_of[x])
            split[u] = (dense[0], dense[1], dense[2:101], dense[101:])
    return split


def main():
    a = parse_args()
    data, engine, mlp = import_reference(a.ref)
    import pandas as pd
    import torch
    warnings.simplefilter("ignore")  # pandas' chained-assignment warnings in the authors' code
    torch.set_num_threads(a.threads)

    rating, user_of, item_of = read_ratings(a.ratings)
    orig_user = {v: k for k, v in user_of.items()}
    orig_item = {v: k for k, v in item_of.items()}
    split = read_split(a.split, user_of, item_of) if a.split else None

    random.seed(a.seed)
    torch.manual_seed(a.seed)

    class SplitSampleGenerator(data.SampleGenerator):
        """The reference's sample generator; with a split file its held-out
        items and evaluation negatives come from the file. The training
        negative pool (items the user never interacted with) is its own."""

        def _sample_negative(self, ratings):
            neg = super()._sample_negative(ratings)
            if split is not None:
                for u in neg["userId"].tolist():
                    if u not in split:
                        die("%s: no line for user %d (the reference evaluates every user)"
                            % (a.split, orig_user[u]))
                interacted = dict(zip(neg["userId"].tolist(), (self.item_pool - s for s in neg["negative_items"])))
                for u, (_, _, vn, tn) in split.items():
                    bad = [orig_item[i] for i in vn + tn if i in interacted[u]]
                    if bad:
                        die("%s: user %d: evaluation negative %d is an item the user rated"
                            % (a.split, orig_user[u], bad[0]))
                neg["negative_samples"] = [split[u][2] + split[u][3] for u in neg["userId"].tolist()]
            return neg

        def _split_loo(self, ratings):
            train, val, test = super()._split_loo(ratings)
            self.own_loo = {int(u): [int(i), None] for u, i in zip(val["userId"], val["itemId"])}
            for u, i in zip(test["userId"], test["itemId"]):
                self.own_loo[int(u)][1] = int(i)
            if split is None:
                # validate_data / test_data assert rows in user order, which
                # holds only for a file sorted by user: order them (the
                # choice of items is the reference's own).
                return train, val.sort_values("userId"), test.sort_values("userId")
            r = ratings[["userId", "itemId", "rating"]]
            val_item = r["userId"].map(lambda u: split[u][0])
            test_item = r["userId"].map(lambda u: split[u][1])
            is_val = r["itemId"] == val_item
            is_test = r["itemId"] == test_item
            for name, mask, k in (("validation", is_val, 0), ("test", is_test, 1)):
                have = set(r.loc[mask, "userId"].tolist())
                for u in split:
                    if u not in have:
                        die("%s: user %d: %s item %d is not among the user's ratings"
                            % (a.split, orig_user[u], name, orig_item[split[u][k]]))
                if mask.sum() != len(split):
                    die("%s: a user rated its %s item more than once; the reference cannot split that"
                        % (a.split, name))
            val = r[is_val].sort_values("userId")
            test = r[is_test].sort_values("userId")
            train = r[~is_val & ~is_test]
            return train, val, test

    config = {
        "clients_sample_ratio": 1.0, "clients_sample_num": 0, "num_round": a.rounds, "local_epoch": 1,
        "lr_eta": 80, "batch_size": 256, "optimizer": "sgd", "lr": 0.1, "dataset": "bench",
        "num_users": len(user_of), "num_items": len(item_of), "latent_dim": 32, "num_negative": 4,
        "l2_regularization": 0.0, "use_cuda": False, "device_id": 0,
    }
    with contextlib.redirect_stdout(sys.stderr):  # MLPEngine prints the model
        eng = mlp.MLPEngine(config)
    gen = SplitSampleGenerator(ratings=rating)
    if a.write_loo:
        with open(a.write_loo, "w", encoding="utf-8") as f:
            f.write("# the reference's own leave-one-out choice: user, validation item, test item (original ids)\n")
            for u in sorted(gen.own_loo):
                v, t = gen.own_loo[u]
                f.write("%d\t%d\t%d\n" % (orig_user[u], orig_item[v], orig_item[t]))
    validate_data = gen.validate_data
    test_data = gen.test_data

    print("# reference PFedRec: %d users, %d items, %d ratings; lr_item = %g; split: %s; seed %d"
          % (config["num_users"], config["num_items"], len(rating),
             config["lr"] * config["num_items"] * config["lr_eta"], a.split or "the reference's own", a.seed))
    print("%5s %10s %8s %8s %8s %8s %8s %8s %8s" % ("round", "train_loss", "val_hr", "val_ndcg", "test_hr",
                                                   "test_ndcg", "seconds", "train_s", "eval_s"))
    sys.stdout.flush()
    report = open(a.report, "w", encoding="utf-8") if a.report else None
    if report:
        report.write("round,train_loss,val_hr,val_ndcg,test_hr,test_ndcg,seconds,train_seconds,eval_seconds\n")
    best_val, best_round, rows = 0.0, 0, []
    for rnd in range(a.rounds):
        t0 = time.monotonic()
        train_data = gen.store_all_train_data(config["num_negative"])
        losses = eng.fed_train_a_round(train_data, round_id=rnd)
        t1 = time.monotonic()
        test_hr, test_ndcg, _ = eng.fed_evaluate(test_data)
        val_hr, val_ndcg, _ = eng.fed_evaluate(validate_data)
        t2 = time.monotonic()
        seconds, train_s, eval_s = t2 - t0, t1 - t0, t2 - t1
        loss = sum(losses.values()) / len(losses)
        rows.append((test_hr, test_ndcg))
        if val_hr >= best_val:
            best_val, best_round = val_hr, rnd
        print("%5d %10.6f %8.4f %8.4f %8.4f %8.4f %8.1f %8.1f %8.1f"
              % (rnd + 1, loss, val_hr, val_ndcg, test_hr, test_ndcg, seconds, train_s, eval_s))
        sys.stdout.flush()
        if report:
            report.write("%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.2f,%.2f,%.2f\n"
                         % (rnd + 1, loss, val_hr, val_ndcg, test_hr, test_ndcg, seconds, train_s, eval_s))
            report.flush()
    if report:
        report.close()
    print("best validation round %d of %d: validation HR@10 %.4f; test HR@10 %.4f, NDCG@10 %.4f"
          % (best_round + 1, a.rounds, best_val, rows[best_round][0], rows[best_round][1]))


if __name__ == "__main__":
    main()
