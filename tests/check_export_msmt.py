# check_export_msmt.py DIR SUMMARY files|lr|msmt|fedmsmt [CSV:SCENARIO...]
# (tests/test_saved_msmt.sh): what `fedrec export` wrote for a
# multi-scenario model, read back with numpy. Every file manifest.json
# names exists with its shape, a CSV holds its .npy's values (an embedding
# CSV's first column the table ids 0, 1, ..., the scenarios' their names);
# then, but for "files", a forward pass of the exported model (LR, an
# msmt MMoE, or each scenario's fedmsmt client) on the CSVs' test rows
# (columns a, b, c categorical, x, y numerical, labels click, buy, split
# part; converted in this order, so the table's ids are first-seen order)
# must give the test log loss of fedrec eval's summary.
import csv, json, sys
import numpy as np
d, summary, kind = sys.argv[1], sys.argv[2], sys.argv[3]
fed = kind == "fedmsmt"
man = json.load(open(d + "/manifest.json"))
data = man["data"]
load = lambda stem: np.load("%s/%s.npy" % (d, stem)).astype(np.float64)
rows = []
for arg in sys.argv[4:]:
    path, name = arg.rsplit(":", 1)
    for r in csv.DictReader(open(path)):
        r["scen"] = name
        rows.append(r)
cats, nums = ["a", "b", "c"], ["x", "y"]
ids = {f: {} for f in cats}
for r in rows:                      # the converter's first-seen numbering
    for f in cats:
        ids[f].setdefault(r[f], len(ids[f]))
assert kind == "files" or [len(ids[f]) for f in cats] == data["vocab"], (ids, data["vocab"])
scen = {n: i for i, n in enumerate(data["scenarios"])}
test = [r for r in rows if r["part"] == "test"]
def mlp(h, p, n, fc=""):
    for l in range(n):
        h = h @ load(p + "%d.%sweight" % (l, fc)) + load(p + "%d.%sbias" % (l, fc))
        h = (h - load(p + "%d.bn.running_mean" % l)) / np.sqrt(load(p + "%d.bn.running_var" % l) + 1e-5) \
            * load(p + "%d.bn.gamma" % l) + load(p + "%d.bn.beta" % l)
        h = np.maximum(h, 0)
    return h
def inputs(pre, rs):
    return np.concatenate([np.stack([load(pre + "embedding.field%d" % k)[ids[f][r[f]]] for r in rs]) for k, f in enumerate(cats)]
                       + [np.stack([load(pre + "embedding.scenario")[scen[r["scen"]]] for r in rs]),
                          np.array([[float(r[n]) for n in nums] for r in rs]) @ load(pre + "embedding.numeric.weight")
                          + load(pre + "embedding.numeric.bias")], axis=1)
def forward_lr(rs):
    x = inputs("", rs)
    T = len(data["tasks"])
    z = sum(x[:, k * T:(k + 1) * T] for k in range(x.shape[1] // T)) + load("lr.bias")
    return [1 / (1 + np.exp(-z[:, t])) for t in range(T)]
def forward(pre, rs, experts):
    x = inputs(pre, rs)
    hs = [mlp(x, pre + e + ".", len(man["expert_layers"])) for e in experts]
    out = []
    for t in range(len(data["tasks"])):
        g = x @ load(pre + "gate.%d.weight" % t) + load(pre + "gate.%d.bias" % t)
        g = np.exp(g - g.max(axis=1, keepdims=True)); g /= g.sum(axis=1, keepdims=True)
        m = sum(g[:, k:k + 1] * hs[k] for k in range(len(experts)))
        z = mlp(m, pre + "tower.%d." % t, len(man["tower_layers"]), "fc.") @ load(pre + "head.%d.weight" % t) + load(pre + "head.%d.bias" % t)
        out.append(1 / (1 + np.exp(-z[:, 0])))
    return out
# Every file the manifest names exists with its shape; a CSV's values are
# its .npy's, an embedding CSV's first column the field's original values
# where the manifest names a values file for the field (from converted
# CSVs: the values in first-seen order), else the table ids 0, 1, ...
for f in man["files"]:
    path = d + "/" + f["file"]
    if f["format"] == "npy":
        assert list(np.load(path).shape) == f["shape"], f
    elif not f["file"].endswith(".csv"):   # values, users, items: one id a line
        assert len(open(path).read().splitlines()) == f.get("rows", f.get("shape", [0])[0]), f
    elif f["file"] == "train_items.csv":
        assert open(path).readline() == "user,item\n", f
    else:
        c = np.genfromtxt(path, delimiter=",", skip_header=1, ndmin=2, dtype=str)
        if ".field" in f["file"]:
            k = int(f["file"].split(".field")[1].split(".")[0])
            fld = man["fields"][k]
            if "values" in fld:
                vals = [l.rstrip("\n") for l in open(d + "/" + fld["values"])]
                assert list(c[:, 0]) == vals, f["file"]
                if kind != "files":
                    assert vals == list(ids[cats[k]]), (f["file"], vals)
            else:
                assert [int(v) for v in c[:, 0]] == list(range(f["shape"][0])), f["file"]
            c = c[:, 1:]
        elif f["file"].endswith("scenario.csv"):
            assert list(c[:, 0]) == data["scenarios"], f["file"]
            c = c[:, 1:]
        assert np.array_equal(c.astype(np.float32), np.load(path[:-3] + "npy")), f["file"]
if kind == "files":
    print("%d files as the manifest says" % len(man["files"]))
    sys.exit(0)
cells = []
for s, name in enumerate(data["scenarios"]):
    rs = [r for r in test if r["scen"] == name]
    if not rs:
        continue
    if kind == "lr":
        probs = forward_lr(rs)
    elif fed:
        c = man["clients"][s]
        probs = forward(c["prefix"], rs, ["pool_expert%d" % g for g in c["pool_experts"]])
    else:
        probs = forward("", rs, ["expert%d" % k for k in range(man["experts"])])
    for t, task in enumerate(data["tasks"]):
        y = np.array([float(r[task]) for r in rs])
        if 0 < y.sum() < len(y):
            p = np.clip(probs[t], 1e-7, 1 - 1e-7)
            cells.append(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
want = json.load(open(summary))["metrics"]["test_logloss"]
got = float(np.mean(cells))
print("numpy test log loss %.8f, fedrec eval %.8f over %d cells" % (got, want, len(cells)))
sys.exit(0 if abs(got - want) < 2e-6 else 1)
