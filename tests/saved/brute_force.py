"""brute_force.py EXPORT_DIR DATA_FILE RECOMMEND_CSV K
Recomputes, from the files `fedrec export` wrote (numpy only), every
user's scores of every item, ranks the items the user did not interact
with in DATA_FILE (u.data layout: user, item, rating, time, tab-separated;
original ids), and checks `fedrec recommend --format csv`'s lists against
that ranking: the same items in the same order, but for neighbours whose
scores agree within 1e-4 (float sums in another order), the printed score
within 1e-4 of the recomputed one, no interacted item, K items (or every
candidate). Exits 0 when every list agrees, 1 otherwise (the first
difference printed). Used by tests/test_saved_models.sh."""
import csv
import json
import sys

import numpy as np

out_dir, data_file, rec_csv, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
man = json.load(open(out_dir + "/manifest.json"))
users = [l.rstrip("\n") for l in open(out_dir + "/users.txt")]
items = [l.rstrip("\n") for l in open(out_dir + "/items.txt")]
urow = {u: i for i, u in enumerate(users)}
irow = {it: i for i, it in enumerate(items)}
files = {f["file"] for f in man["files"]}


def load(name):
    return np.load(out_dir + "/" + name).astype(np.float64)


seen = {}
for line in open(data_file):
    f = line.rstrip("\n").split("\t")
    seen.setdefault(f[0], set()).add(f[1])

kind = man["kind"]
algo = man.get("algorithm", "")


def scores_of(u):
    r = urow[u]
    if kind == "mtrec":
        return load("item_embeddings.npy") @ load("user_embeddings.npy")[r]
    if algo == "PFedRec":
        e = load("item_embeddings.npy").copy()
        if "personal_rows.npy" in files:
            idx = np.load(out_dir + "/personal_index.npy")
            rows = load("personal_rows.npy")
            mine = idx[:, 0] == r
            e[idx[mine, 1]] = rows[mine]
        return e @ load("score_weights.npy")[r] + load("score_bias.npy")[r, 0]
    if algo == "FedNCF":
        ig, im = load("item_gmf.npy"), load("item_mlp.npy")
        ug, um = load("user_gmf.npy")[r], load("user_mlp.npy")[r]
        x = np.hstack([np.tile(um, (len(items), 1)), im])
        layer = 1
        while "ncf_mlp%d_weight.npy" % layer in files:
            w, b = load("ncf_mlp%d_weight.npy" % layer), load("ncf_mlp%d_bias.npy" % layer)[0]
            x = np.maximum(x @ w.T + b, 0)
            layer += 1
        w, b = load("ncf_output_weight.npy")[0], load("ncf_output_bias.npy")[0, 0]
        e = ig.shape[1]
        return (ig * ug) @ w[:e] + x @ w[e:] + b
    return load("item_embeddings.npy") @ load("user_embeddings.npy")[r]


got = {}
for row in csv.DictReader(open(rec_csv)):
    got.setdefault(row["user"], []).append((row["item"], float(row["score"])))

bad = 0
for u, lst in got.items():
    s = scores_of(u)
    cand = [i for i in range(len(items)) if items[i] not in seen.get(u, set())]
    order = sorted(cand, key=lambda i: (-s[i], i))
    want = order[: min(k, len(order))]
    if len(lst) != len(want):
        print("user %s: %d items, expected %d" % (u, len(lst), len(want)))
        bad += 1
        continue
    for j, (item, score) in enumerate(lst):
        if item in seen.get(u, set()):
            print("user %s: rank %d is item %s, which the user interacted with" % (u, j + 1, item))
            bad += 1
        i = irow[item]
        if abs(s[i] - score) > 1e-4 * max(1.0, abs(s[i])):
            print("user %s: item %s scored %.9g, recomputed %.9g" % (u, item, score, s[i]))
            bad += 1
        w = want[j]
        if i != w and abs(s[i] - s[w]) > 1e-4 * max(1.0, abs(s[w])):
            print("user %s: rank %d is item %s (%.9g), the brute force ranks %s (%.9g) there"
                  % (u, j + 1, item, s[i], items[w], s[w]))
            bad += 1
sys.exit(1 if bad else 0)
