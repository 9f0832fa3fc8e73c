"""LightGCN epoch time against a plain PyTorch LightGCN, one thread.

On the training interactions of ``--dataset`` (real ML-1M when ``--data-dir`` has it: 6,040 x
3,706, every rating an interaction), both with the paper's settings: d = 64, 3 layers, batches
of 2,048 interactions with one uniform negative each, full propagation over the graph per
mini-batch (forward and back), Adam lr 1e-3 on the ego embeddings, L2 1e-4 on the batch's ego
rows:

* fastpoison: `LightGCN`'s epoch (C++ row-parallel SpMM, dense Adam), timed whole after one
  warm-up epoch; its forward sums the last layer only for the batch's rows
  (the only ones the loss reads), where PyTorch propagates every row;
* PyTorch, three ways: ``torch.sparse.mm`` with the normalised adjacency in COO (the
  straightforward, faithful implementation) and in CSR, both differentiated by autograd; and
  CSR with a backward that reuses the (symmetric) adjacency instead of autograd's transpose.
  Each with ``torch.optim.Adam`` (``torch.set_num_threads(1)``; negatives uniform over all
  items, not rejected when seen). After two warm-up mini-batches, each timing is
  ``--torch-batches`` mini-batches scaled to the epoch's batch count (an extrapolated epoch:
  a full one takes minutes).

The four take turns, one timing each, for ``--epochs`` rounds; the median of each, and the
median over rounds of each round's ratio to ours (with its range), are printed.

torch is optional (``pip install ".[bench]"``); if missing it is reported and skipped.

    python3 bench/lightgcn_epoch.py --dataset ml-1m --data-dir ../shared/data [--json out.json]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from _epochs import Timer, interleaved, report_epochs, timer_of
from fastpoison.data.datasets import load_dataset
from fastpoison.data.ratings import RatingData
from fastpoison.models import LightGCN

FACTORS, LAYERS, BATCH, LR, REG = 64, 3, 2048, 1e-3, 1e-4


def ours(train: RatingData) -> Timer:
    """A Timer of one epoch of ours (the warm-up epoch run)."""
    model = LightGCN(factors=FACTORS, layers=LAYERS, lr=LR, reg=REG, batch_size=BATCH, threads=1)
    model.start(train, train, seed=0)
    model._prepare(train.normalized(), seed=0)
    epochs = iter(range(1 << 30))
    return timer_of(lambda: model._run_epoch(next(epochs)))


TORCH_VARIANTS = {"torch COO (extrapolated)": ("coo", False), "torch CSR (extrapolated)": ("csr", False),
                  "torch CSR, symmetric backward": ("csr", True)}


def with_torch(train: RatingData, batches: int, layout: str, symmetric: bool) -> Timer:
    """A Timer of ``batches`` mini-batches scaled to an epoch (two untimed ones run first):
    the adjacency in ``layout`` ("coo" or "csr"); with ``symmetric``, the propagation's
    backward multiplies by the adjacency itself (it is symmetric) instead of autograd's."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    n_users, n_items = train.n_users, train.n_items
    users = torch.from_numpy(np.repeat(np.arange(n_users), np.diff(train.indptr)).astype(np.int64))
    items = torch.from_numpy(train.indices.astype(np.int64))
    rows = torch.cat([users, n_users + items])
    cols = torch.cat([n_users + items, users])
    degree = torch.bincount(rows, minlength=n_users + n_items).float()
    norm = degree.clamp(min=1).pow(-0.5) * (degree > 0)
    adjacency = torch.sparse_coo_tensor(torch.stack([rows, cols]), norm[rows] * norm[cols],
                                        (n_users + n_items,) * 2).coalesce()
    if layout == "csr":
        adjacency = adjacency.to_sparse_csr()

    class Symmetric(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[override]
            return torch.sparse.mm(adjacency, x)

        @staticmethod
        def backward(ctx, grad):  # type: ignore[override]
            return torch.sparse.mm(adjacency, grad)

    propagate = Symmetric.apply if symmetric else (lambda x: torch.sparse.mm(adjacency, x))
    ego = torch.nn.Parameter(torch.empty(n_users + n_items, FACTORS))
    torch.nn.init.xavier_uniform_(ego)
    optimizer = torch.optim.Adam([ego], lr=LR)
    order = torch.randperm(len(users))

    def step(b: int) -> None:
        batch = order[b * BATCH:(b + 1) * BATCH]
        u, i = users[batch], n_users + items[batch]
        j = n_users + torch.randint(0, n_items, (len(batch),))
        layer, total = ego, ego
        for _ in range(LAYERS):
            layer = propagate(layer)
            total = total + layer
        final = total / (LAYERS + 1)
        margin = (final[u] * (final[i] - final[j])).sum(1)
        loss = torch.nn.functional.softplus(-margin).mean()
        loss = loss + REG * 0.5 * (ego[u].pow(2).sum() + ego[i].pow(2).sum() + ego[j].pow(2).sum()) / len(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    per_epoch = math.ceil(len(users) / BATCH)
    done = iter(range(1 << 30))
    for _ in range(2):
        step(next(done) % per_epoch)

    def timed() -> float:
        start = time.perf_counter()
        for _ in range(batches):
            step(next(done) % per_epoch)
        return (time.perf_counter() - start) * per_epoch / batches
    return timed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--data-dir")
    ap.add_argument("--epochs", type=int, default=5, help="timings of each method, one per round")
    ap.add_argument("--torch-batches", type=int, default=10)
    ap.add_argument("--json")
    args = ap.parse_args()
    ds = load_dataset(args.dataset, args.data_dir)
    train = ds.split.train
    print(f"{args.dataset} ({ds.data_source}): {train.n_users} users x {train.n_items} items, "
          f"{train.n_ratings} interactions; d={FACTORS}, {LAYERS} layers, batch {BATCH}, one thread")
    timers: dict[str, Timer | str] = {"fastpoison": ours(train)}
    for name, (layout, symmetric) in TORCH_VARIANTS.items():
        try:
            timers[name] = with_torch(train, args.torch_batches, layout, symmetric)
        except ImportError as e:
            timers[name] = f"skipped: {e}"
    results = interleaved(timers, args.epochs)
    report_epochs(results, dataset=args.dataset, data_source=ds.data_source, n_interactions=train.n_ratings,
                  json_path=args.json)


if __name__ == "__main__":
    main()
