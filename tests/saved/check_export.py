"""check_export.py EXPORT_DIR
Checks a `fedrec export` folder with numpy: every file manifest.json
names exists; each .npy file loads with the manifest's dtype and shape;
where the CSV twin exists it holds the same values (parsed as float32:
equal bit for bit) and, for rows of users or items, the original ids of
users.txt / items.txt in its first column, in order. Exits 1 on the first
difference (printed). Used by tests/test_saved_models.sh."""
import csv
import json
import os
import sys

import numpy as np

d = sys.argv[1]
man = json.load(open(os.path.join(d, "manifest.json")))
ids = {}
for name in ("users.txt", "items.txt"):
    if os.path.exists(os.path.join(d, name)):
        ids[name] = [l.rstrip("\n") for l in open(os.path.join(d, name))]
entries = {f["file"]: f for f in man["files"]}
for f in man["files"]:
    path = os.path.join(d, f["file"])
    if not os.path.exists(path):
        sys.exit("%s: in the manifest but not written" % f["file"])
    if f["format"] != "npy":
        continue
    a = np.load(path)
    if a.dtype != np.dtype(f["dtype"]) or list(a.shape) != f["shape"]:
        sys.exit("%s: %s %s, the manifest says %s %s" % (f["file"], a.dtype, a.shape, f["dtype"], f["shape"]))
    twin = f["file"][:-4] + ".csv"
    if twin not in entries:
        continue
    rows = list(csv.reader(open(os.path.join(d, twin))))
    body = rows[1:]
    if len(body) != a.shape[0]:
        sys.exit("%s: %d rows, %s has %d" % (twin, len(body), f["file"], a.shape[0]))
    row_ids = f.get("row_ids")
    if rows[0][:2] == ["user", "item"]:
        # personal rows: (user id, item id) pairs of personal_index.npy
        idx = np.load(os.path.join(d, "personal_index.npy"))
        pairs = [(ids["users.txt"][u], ids["items.txt"][i]) for u, i in idx]
        if [(r[0], r[1]) for r in body] != pairs:
            sys.exit("%s: the (user, item) columns are not personal_index.npy's pairs" % twin)
        body = [r[2:] for r in body]
    elif row_ids:
        if [r[0] for r in body] != ids[row_ids]:
            sys.exit("%s: the first column is not %s's ids in order" % (twin, row_ids))
        body = [r[1:] for r in body]
    c = np.array(body, dtype=np.float64).astype(a.dtype) if a.dtype.kind == "f" else np.array(body, dtype=a.dtype)
    if c.shape != a.shape or not np.array_equal(c, a):
        sys.exit("%s and %s hold different values" % (twin, f["file"]))
# Row counts of the id-indexed arrays match the id lists.
for f in man["files"]:
    if f.get("row_ids") and f.get("shape") and f["shape"][0] != len(ids[f["row_ids"]]):
        sys.exit("%s: %d rows for %d ids" % (f["file"], f["shape"][0], len(ids[f["row_ids"]])))
print("export %s: %d files agree with manifest.json" % (d, len(man["files"])))
