#!/usr/bin/python3
"""mmoe_torch.py — the same MMoE as `fedrec train` job.kind = msmt, in
PyTorch, for a side-by-side throughput and AUC comparison (a benchmark
helper, not part of fedrec; needs Debian's python3-torch and numpy).

It reads a fedrec binary table file (doc/TABLE_FORMAT.md) with numpy's
memmap, builds MTReclib's MMoE layout (one embedding table for every
categorical field and the scenario, the numbers projected to one more
token, E experts of Linear -> BatchNorm -> ReLU per layer, a softmax gate
and a tower per task) initialised as fedrec initialises it (embeddings
N(0, 0.05^2), weights Glorot-uniform, biases zero), trains --epochs passes
over the training rows with Adam in shuffled batches, and prints training
samples per second and the mean test AUC over scenarios x tasks at the
epoch with the best mean validation AUC (fedrec's protocol).

    bench/mmoe_torch.py TABLE [--threads 1,2] [--epochs 1] [--patience P]
                        [--batch 2048] [--rows N]
    bench/mmoe_torch.py --gemm-rate

--gemm-rate prints the rate of PyTorch's own matrix product on the
experts' first-layer shape (2048 x 288 times 288 x 256, one thread) and
the training rate that would imply if the whole step ran at it (about
5.2 MFLOP per sample): a ceiling for the throughput any setting can reach.

OpenBLAS's own threads are set by OPENBLAS_NUM_THREADS before the start;
bench/mmoe_compare.sh runs the settings side by side with fedrec.
"""
import argparse
import struct
import sys
import time

import numpy as np
import torch


def read_table(path):
    with open(path, "rb") as f:
        head = f.read(136)
    if head[:8] != b"FRTABLE\n":
        sys.exit(f"{path}: not a fedrec table file")
    version, order = struct.unpack_from("=II", head, 8)
    rows, n_cat, n_num, n_tasks, n_scen, header_bytes, file_bytes = struct.unpack_from("=7Q", head, 16)
    offsets = struct.unpack_from("=5Q", head, 72)
    vocab = np.fromfile(path, dtype=np.uint64, count=n_cat, offset=136)
    mm = lambda k, dt, shape: np.memmap(path, dtype=dt, mode="r", offset=offsets[k], shape=shape)
    return {
        "rows": rows, "n_tasks": n_tasks, "n_scen": n_scen, "vocab": vocab.astype(np.int64),
        "cat": mm(0, np.int32, (rows, n_cat)), "num": mm(1, np.float32, (rows, n_num)),
        "scen": mm(2, np.int32, (rows,)), "labels": mm(3, np.uint8, (rows, n_tasks)),
        "split": mm(4, np.uint8, (rows,)),
    }


def mlp(widths, inp):
    layers = []
    for w in widths:
        layers += [torch.nn.Linear(inp, w), torch.nn.BatchNorm1d(w), torch.nn.ReLU()]
        inp = w
    return torch.nn.Sequential(*layers)


class MMoE(torch.nn.Module):
    def __init__(self, vocab, n_scen, n_num, n_tasks, dim, experts, expert_widths, tower_widths):
        super().__init__()
        offsets = np.concatenate([[0], np.cumsum(vocab)])
        self.register_buffer("offsets", torch.tensor(offsets[:-1], dtype=torch.int64))
        self.scen_offset = int(offsets[-1])
        self.embedding = torch.nn.Embedding(int(offsets[-1]) + n_scen, dim)
        self.numerical = torch.nn.Linear(n_num, dim)
        width = (len(vocab) + 1 + 1) * dim
        self.experts = torch.nn.ModuleList([mlp(expert_widths, width) for _ in range(experts)])
        self.gates = torch.nn.ModuleList([torch.nn.Linear(width, experts) for _ in range(n_tasks)])
        self.towers = torch.nn.ModuleList(
            [torch.nn.Sequential(mlp(tower_widths, expert_widths[-1]), torch.nn.Linear(tower_widths[-1], 1))
             for _ in range(n_tasks)])
        # fedrec's initialisation, so that equal training gives equal AUC.
        torch.nn.init.normal_(self.embedding.weight, 0.0, 0.05)
        for module in self.modules():
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.xavier_uniform_(module.weight)
                torch.nn.init.zeros_(module.bias)

    def forward(self, cat, scen, num):
        ids = torch.cat([cat + self.offsets, (scen + self.scen_offset).unsqueeze(1)], dim=1)
        emb = torch.cat([self.embedding(ids), self.numerical(num).unsqueeze(1)], dim=1).flatten(1)
        out = torch.stack([e(emb) for e in self.experts], dim=1)          # B x E x h
        logits = []
        for gate, tower in zip(self.gates, self.towers):
            g = torch.softmax(gate(emb), dim=1).unsqueeze(1)               # B x 1 x E
            logits.append(tower(torch.bmm(g, out).squeeze(1)).squeeze(1))
        return torch.stack(logits, dim=1)


def auc(scores, labels):
    order = np.argsort(scores, kind="mergesort")
    s, y = scores[order], labels[order]
    ranks = np.empty(len(s))
    i = 0
    while i < len(s):  # average ranks of ties
        j = i
        while j + 1 < len(s) and s[j + 1] == s[i]:
            j += 1
        ranks[i:j + 1] = (i + j) / 2 + 1
        i = j + 1
    pos = y.sum()
    neg = len(y) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return (ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * neg)


def mean_auc(model, t, rows):
    model.eval()
    probs = []
    with torch.no_grad():
        for at in range(0, len(rows), 8192):
            part = rows[at:at + 8192]
            probs.append(torch.sigmoid(model(
                torch.from_numpy(np.asarray(t["cat"][part], dtype=np.int64)),
                torch.from_numpy(np.asarray(t["scen"][part], dtype=np.int64)),
                torch.from_numpy(np.asarray(t["num"][part])))).numpy())
    model.train()
    probs = np.concatenate(probs)
    labels = np.asarray(t["labels"][rows])
    scen = np.asarray(t["scen"][rows])
    cells = [auc(probs[scen == s, k], labels[scen == s, k])
             for s in range(t["n_scen"]) for k in range(t["n_tasks"])]
    return float(np.nanmean(cells))


def gemm_rate():
    torch.set_num_threads(1)
    x, w = torch.randn(2048, 288), torch.randn(256, 288)
    for _ in range(5):
        x @ w.t()
    n, start = 50, time.perf_counter()
    for _ in range(n):
        x @ w.t()
    gflops = 2 * 2048 * 288 * 256 * n / (time.perf_counter() - start) / 1e9
    # Forward: experts 288x256 and 256x128 (8 of each), gates, towers;
    # training about three times the forward.
    step = 3 * 2 * (8 * (288 * 256 + 256 * 128) + 2 * 288 * 8 + 2 * (128 * 64 + 64))
    print(f"pytorch {torch.__version__} GEMM 2048x288x256, 1 thread: {gflops:.1f} GFLOP/s; "
          f"at that rate a {step / 1e6:.1f} MFLOP training step allows at most {gflops * 1e9 / step:.0f} samples/s")


def main():
    if "--gemm-rate" in sys.argv[1:]:
        gemm_rate()
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("table")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--patience", type=int, default=0,
                    help="stop after this many epochs without a better validation AUC (0: run --epochs)")
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--rows", type=int, default=0, help="training rows per epoch (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t = read_table(a.table)
    split = np.asarray(t["split"])
    train = np.nonzero(split == 0)[0]
    valid = np.nonzero(split == 1)[0]
    test = np.nonzero(split == 2)[0]
    if a.rows:
        train = train[:a.rows]
    for threads in [int(x) for x in a.threads.split(",")]:
        torch.set_num_threads(threads)
        torch.manual_seed(a.seed)
        model = MMoE(t["vocab"], t["n_scen"], t["num"].shape[1], t["n_tasks"], 16, 8, [256, 128], [64])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-6)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        rng = np.random.default_rng(a.seed)
        model.train()
        seconds = 0.0
        best = (-1.0, 0, float("nan"))
        for epoch in range(1, a.epochs + 1):
            order = rng.permutation(train)
            start = time.perf_counter()
            for at in range(0, len(order) - 1, a.batch):
                rows = np.sort(order[at:at + a.batch])
                if len(rows) < 2:
                    break
                cat = torch.from_numpy(np.asarray(t["cat"][rows], dtype=np.int64))
                num = torch.from_numpy(np.asarray(t["num"][rows]))
                scen = torch.from_numpy(np.asarray(t["scen"][rows], dtype=np.int64))
                y = torch.from_numpy(np.asarray(t["labels"][rows], dtype=np.float32))
                logits = model(cat, scen, num)
                loss = sum(loss_fn(logits[:, k], y[:, k]) for k in range(t["n_tasks"]))
                opt.zero_grad()
                loss.backward()
                opt.step()
            seconds += time.perf_counter() - start
            valid_auc = mean_auc(model, t, valid)
            print(f"  epoch {epoch}: valid AUC {valid_auc:.4f}", file=sys.stderr, flush=True)
            if valid_auc > best[0]:
                best = (valid_auc, epoch, mean_auc(model, t, test))
            elif a.patience and epoch - best[1] >= a.patience:
                break
        samples = len(train) * epoch
        print(f"pytorch {torch.__version__} threads {threads}: {samples} rows in {seconds:.2f} s = "
              f"{samples / seconds:.0f} samples/s; best validation epoch {best[1]}: "
              f"valid AUC {best[0]:.4f} test mean AUC {best[2]:.4f}", flush=True)


if __name__ == "__main__":
    main()
