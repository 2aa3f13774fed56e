"""check_recommend_msmt.py DIR RECOMMEND_CSV K TASK csv FILE | movielens ML_DIR
(tests/test_recommend_msmt.sh): `fedrec recommend`'s lists for an msmt or
fedmsmt model against a brute-force ranking in numpy. From the source data
alone (not the model's copy of it) each user's user-side values, each
item's item-side values and the user's scenario are gathered; every item
the user has no row of gets a candidate row, run forward through
the arrays `fedrec export` wrote into DIR (the MMoE of the one msmt model,
or the client of the user's scenario), its probability of TASK ranked.
The lists must hold the same items in the same order (but for neighbours
whose probabilities agree within 1e-5), each printed probability within
1e-5 of numpy's, no item the user has a row of, K items, the original ids.
Items left out: every item the user has a row of, in any part (training,
validation, test); movielens: the export's seen_items.csv, itself checked
to hold exactly u.data's (user, item) pairs.
csv FILE's columns: user,item,region,genre,price,scen,click,buy,part,
converted with cat:user,cat:item,cat:region,cat:genre,num:price,scenario,
label:click,label:buy,split:part."""
import csv
import json
import sys

import numpy as np

d, rec_csv, K, task, mode, src = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
man = json.load(open(d + "/manifest.json"))
data = man["data"]
fed = man["kind"] == "fedmsmt"
load = lambda stem: np.load("%s/%s.npy" % (d, stem)).astype(np.float64)
values = {}
for k, f in enumerate(man["fields"]):
    if "values" in f:
        values[k] = {v: i for i, v in enumerate(l.rstrip("\n") for l in open(d + "/" + f["values"]))}

user_vals, item_vals, user_num, item_num, user_scen, seen = {}, {}, {}, {}, {}, {}
if mode == "csv":
    cats, nums = ["user", "item", "region", "genre"], ["price"]
    for r in csv.DictReader(open(src)):
        u, i = r["user"], r["item"]
        user_vals[u] = {0: u, 2: r["region"]}
        item_vals[i] = {1: i, 3: r["genre"]}
        item_num[i] = [float(r["price"])]
        user_num[u] = []
        user_scen[u] = r["scen"]
        seen.setdefault(u, set()).add(i)
else:
    ages = [(18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55")]
    for line in open(src + "/u.user"):
        uid, age, gender, occ, zipc = line.rstrip("\n").split("|")
        age = int(age)
        group = next((label for top, label in ages if age < top), "56+")
        scen = "age<25" if age < 25 else "age25-34" if age < 35 else "age>=35"
        user_vals[uid] = {0: uid, 2: gender, 3: group, 4: occ, 5: zipc, 7: scen}
        user_num[uid] = []
        user_scen[uid] = scen
    for line in open(src + "/u.item", encoding="latin-1"):
        f = line.rstrip("\n").split("|")
        flags = f[-19:]
        genre = next((str(g) for g in range(19) if flags[g] == "1"), "none")
        item_vals[f[0]] = {1: f[0], 6: genre}
        item_num[f[0]] = []
    rated = set()
    for line in open(src + "/u.data"):
        u, i = line.split("\t")[:2]
        rated.add((u, i))
    pairs = [tuple(r) for r in csv.reader(open(d + "/seen_items.csv"))][1:]
    assert len(pairs) == len(set(pairs)) and set(pairs) == rated, (len(pairs), len(rated))
    for u, i in pairs:
        seen.setdefault(u, set()).add(i)
    rated_users = {u for u, _ in rated}
    rated_items = {i for _, i in rated}
    user_vals = {u: v for u, v in user_vals.items() if u in rated_users}
    item_vals = {i: v for i, v in item_vals.items() if i in rated_items}

n_cat, n_num = data["categorical_fields"], data["numerical_fields"]
scen_index = {n: s for s, n in enumerate(data["scenarios"])}
t_index = data["tasks"].index(task)
items = sorted(item_vals, key=lambda i: values[1][i])  # table id order


def mlp(h, p, n, fc=""):
    for l in range(n):
        h = h @ load(p + "%d.%sweight" % (l, fc)) + load(p + "%d.%sbias" % (l, fc))
        h = (h - load(p + "%d.bn.running_mean" % l)) / np.sqrt(load(p + "%d.bn.running_var" % l) + 1e-5) \
            * load(p + "%d.bn.gamma" % l) + load(p + "%d.bn.beta" % l)
        h = np.maximum(h, 0)
    return h


def probabilities(pre, experts, u, cands):
    cols = []
    for k in range(n_cat):
        src_vals = [user_vals[u].get(k) if k in user_vals[u] else item_vals[i][k] for i in cands]
        cols.append(load(pre + "embedding.field%d" % k)[[values[k][v] for v in src_vals]])
    cols.append(np.repeat(load(pre + "embedding.scenario")[[scen_index[user_scen[u]]]], len(cands), axis=0))
    if n_num:
        x = np.array([user_num[u] + item_num[i] for i in cands])
        cols.append(x @ load(pre + "embedding.numeric.weight") + load(pre + "embedding.numeric.bias"))
    x = np.concatenate(cols, axis=1)
    hs = [mlp(x, pre + e + ".", len(man["expert_layers"])) for e in experts]
    g = x @ load(pre + "gate.%d.weight" % t_index) + load(pre + "gate.%d.bias" % t_index)
    g = np.exp(g - g.max(axis=1, keepdims=True))
    g /= g.sum(axis=1, keepdims=True)
    m = sum(g[:, k:k + 1] * hs[k] for k in range(len(experts)))
    z = mlp(m, pre + "tower.%d." % t_index, len(man["tower_layers"]), "fc.") @ load(pre + "head.%d.weight" % t_index) \
        + load(pre + "head.%d.bias" % t_index)
    return 1 / (1 + np.exp(-z[:, 0]))


lists = {}
for r in csv.DictReader(open(rec_csv)):
    lists.setdefault(r["user"], []).append((r["item"], float(r["score"])))
assert lists, "no recommendations in " + rec_csv
for u, got in lists.items():
    assert u in user_vals, "user %r: not an original user id" % u
    cands = [i for i in items if i not in seen.get(u, set())]
    if fed:
        c = man["clients"][scen_index[user_scen[u]]]
        p = probabilities(c["prefix"], ["pool_expert%d" % g for g in c["pool_experts"]], u, cands)
    else:
        p = probabilities("", ["expert%d" % k for k in range(man["experts"])], u, cands)
    order = sorted(range(len(cands)), key=lambda j: (-p[j], values[1][cands[j]]))
    want = [(cands[j], p[j]) for j in order[:K]]
    if len(got) != min(K, len(cands)):
        sys.exit("user %s: %d items, expected %d" % (u, len(got), min(K, len(cands))))
    for rank, ((gi, gs), (wi, ws)) in enumerate(zip(got, want)):
        if gi in seen.get(u, set()):
            sys.exit("user %s, rank %d: item %s is one the user interacted with" % (u, rank + 1, gi))
        if gi not in item_vals:
            sys.exit("user %s, rank %d: %r is not an original item id" % (u, rank + 1, gi))
        gp = p[cands.index(gi)]
        if abs(gs - gp) > 1e-5:
            sys.exit("user %s, rank %d: item %s scored %.7f, numpy %.7f" % (u, rank + 1, gi, gs, gp))
        if gi != wi and abs(gp - ws) > 1e-5:
            sys.exit("user %s, rank %d: item %s (%.7f), numpy ranks %s (%.7f) there" % (u, rank + 1, gi, gs, wi, ws))
print("%d users' top %d agree with numpy's ranking (task %s)" % (len(lists), K, task))
