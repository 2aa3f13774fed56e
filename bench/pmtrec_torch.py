#!/usr/bin/python3
"""pmtrec_torch.py — the same reading of PMTRec as fedrec's mtrec job, in
PyTorch, for a side-by-side speed comparison (not a dependency of fedrec).

MF (d 32, Xavier), tasks BPR (one uniform negative outside the user's
training items), DirectAU (alignment + gamma/2 (uniform(users) +
uniform(items)), torch.pdist over the batch's rows) and rating regression
(u.i vs the rating), each task's gradient on the two tables taken apart,
PMTRec's per-row weights (norms, alpha^epoch on BPR, softmax / tau) or EW,
dense Adam with L2 weight decay; full ranking on validation every epoch
(training items masked, Recall@20 / NDCG@20).

    /usr/bin/python3 bench/pmtrec_torch.py --data ../shared/data/amazon-office --epochs 20

Prints one line per epoch and the mean seconds per epoch (training and
evaluation apart).
"""
import argparse
import math
import time

import numpy as np
import torch


def load(path):
    return np.loadtxt(path, delimiter=",", dtype=np.int64).reshape(-1, 3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data/amazon-office")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--combiner", choices=["pmtrec", "ew"], default="pmtrec")
    ap.add_argument("--alpha", type=float, default=1.1)
    ap.add_argument("--tau", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    tr, va = load(a.data + "/train.txt"), load(a.data + "/val.txt")
    te = load(a.data + "/test.txt")
    nu = int(max(tr[:, 0].max(), va[:, 0].max(), te[:, 0].max())) + 1
    ni = int(max(tr[:, 1].max(), va[:, 1].max(), te[:, 1].max())) + 1
    d = 32
    U = torch.nn.Parameter(torch.empty(nu, d))
    I = torch.nn.Parameter(torch.empty(ni, d))
    torch.nn.init.xavier_uniform_(U)
    torch.nn.init.xavier_uniform_(I)
    opt = torch.optim.Adam([U, I], lr=a.lr, weight_decay=a.wd)
    seen = set(zip(tr[:, 0].tolist(), tr[:, 1].tolist()))
    train_mask = torch.zeros(nu, ni, dtype=torch.bool)
    train_mask[tr[:, 0], tr[:, 1]] = True
    val_lists = [[] for _ in range(nu)]
    for u, i, _ in va:
        val_lists[u].append(i)
    val_users = [u for u in range(nu) if val_lists[u]]
    users_t = torch.tensor(tr[:, 0])
    items_t = torch.tensor(tr[:, 1])
    ratings_t = torch.tensor(tr[:, 2], dtype=torch.float32)

    def uniform(x):
        return torch.pdist(x, p=2).pow(2).mul(-2).exp().mean().log()

    t_train = t_eval = 0.0
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        order = torch.tensor(rng.permutation(len(tr)))
        for b in range(0, len(tr), a.batch):
            idx = order[b:b + a.batch]
            u, i, r = users_t[idx], items_t[idx], ratings_t[idx]
            j = torch.tensor(rng.integers(0, ni, len(idx)))
            for k in range(len(idx)):  # negatives outside the training items
                tries = 0
                while (int(u[k]), int(j[k])) in seen and tries < 64:
                    j[k] = int(rng.integers(0, ni))
                    tries += 1
            eu, ei, ej = U[u], I[i], I[j]
            bpr = -torch.nn.functional.logsigmoid((eu * ei).sum(1) - (eu * ej).sum(1)).mean()
            nu_, ni_ = torch.nn.functional.normalize(eu, dim=-1), torch.nn.functional.normalize(ei, dim=-1)
            align = (nu_ - ni_).norm(p=2, dim=1).pow(2).mean()
            dau = align + a.gamma * (uniform(nu_) + uniform(ni_)) / 2
            rating = ((r - (eu * ei).sum(1)) ** 2).mean()
            grads = [torch.autograd.grad(loss, [U, I], retain_graph=True) for loss in (bpr, dau, rating)]
            for p_index, p in enumerate((U, I)):
                g = torch.stack([gr[p_index] for gr in grads])  # T x rows x d
                if a.combiner == "ew":
                    p.grad = g.sum(0)
                    continue
                n = g.norm(dim=2)  # T x rows
                n[0] = n[0] * a.alpha ** epoch
                w = torch.softmax(n / a.tau, dim=0)
                p.grad = (w.unsqueeze(2) * g).sum(0)
            opt.step()
        t1 = time.perf_counter()
        with torch.no_grad():
            scores = U @ I.T
            scores[train_mask] = -float("inf")
            top = scores.topk(20, dim=1).indices
            rec = ndcg = 0.0
            for u in val_users:
                hits = [1 if int(x) in val_lists[u] else 0 for x in top[u]]
                rec += sum(hits) / len(val_lists[u])
                dcg = sum(h / math.log2(k + 2) for k, h in enumerate(hits))
                idcg = sum(1 / math.log2(k + 2) for k in range(min(20, len(val_lists[u]))))
                ndcg += dcg / idcg
        t2 = time.perf_counter()
        t_train += t1 - t0
        t_eval += t2 - t1
        print("%4d  val R@20 %.5f  N@20 %.5f  train %.3f s  eval %.3f s" %
              (epoch + 1, rec / len(val_users), ndcg / len(val_users), t1 - t0, t2 - t1), flush=True)
    print("seconds per epoch: %.3f (training %.3f, evaluation %.3f)" %
          ((t_train + t_eval) / a.epochs, t_train / a.epochs, t_eval / a.epochs))


if __name__ == "__main__":
    main()
