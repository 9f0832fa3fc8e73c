"""BPR-MF epoch time against implicit's BPR and a plain PyTorch BPR-MF, one thread, one run.

On the training interactions of ``--dataset`` (real ML-1M when ``--data-dir`` has it: 6,040 x
3,706, every rating an interaction), all at d = 64 with one uniform negative per interaction:

* fastpoison: `BPRMF`'s epoch (lazy Adam lr 1e-3, batches of 2,048, L2 1e-4 on the batch rows);
* implicit 0.7 (Cython, ``implicit.cpu.bpr``): its own SGD, one iteration = one epoch;
* PyTorch: embeddings, Adam lr 1e-3, batches of 2,048, the same loss (``torch.set_num_threads(1)``).

Each runs one warm-up epoch, then the three take turns, one epoch each, for ``--epochs``
rounds; the median epoch of each, and the median over rounds of each round's ratio to ours
(with its range), are printed. implicit and torch are optional (``pip install ".[bench]"``);
a missing one is reported and skipped.

    python3 bench/bpr_epoch.py --dataset ml-1m --data-dir ../shared/data [--json out.json]
"""
from __future__ import annotations

import argparse

import numpy as np

from _epochs import Timer, interleaved, report_epochs, timer_of
from fastpoison.data.datasets import load_dataset
from fastpoison.data.ratings import RatingData
from fastpoison.models import BPRMF

FACTORS, BATCH, LR, REG = 64, 2048, 1e-3, 1e-4


def ours(train: RatingData) -> Timer:
    model = BPRMF(factors=FACTORS, lr=LR, reg=REG, batch_size=BATCH, threads=1)
    model.start(train, train, seed=0)
    model._prepare(train.normalized(), seed=0)
    epochs = iter(range(1 << 30))
    return timer_of(lambda: model._run_epoch(next(epochs)))


def with_implicit(train: RatingData) -> Timer:
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    interactions = train.csr.astype(np.float32)
    interactions.data[:] = 1.0
    model = BayesianPersonalizedRanking(factors=FACTORS, iterations=1, num_threads=1, random_state=0)
    return timer_of(lambda: model.fit(interactions, show_progress=False))


def with_torch(train: RatingData) -> Timer:
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    users = torch.from_numpy(np.repeat(np.arange(train.n_users), np.diff(train.indptr)).astype(np.int64))
    items = torch.from_numpy(train.indices.astype(np.int64))
    P = torch.nn.Embedding(train.n_users, FACTORS)
    Q = torch.nn.Embedding(train.n_items, FACTORS)
    for table in (P, Q):
        torch.nn.init.xavier_uniform_(table.weight)
    optimizer = torch.optim.Adam([P.weight, Q.weight], lr=LR)

    def epoch() -> None:
        order = torch.randperm(len(users))
        for start in range(0, len(order), BATCH):
            batch = order[start:start + BATCH]
            u, i = users[batch], items[batch]
            j = torch.randint(0, train.n_items, (len(batch),))
            pu, qi, qj = P(u), Q(i), Q(j)
            margin = (pu * (qi - qj)).sum(1)
            loss = -torch.nn.functional.logsigmoid(margin).mean()
            loss = loss + REG * 0.5 * (pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum()) / len(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return timer_of(epoch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--data-dir")
    ap.add_argument("--epochs", type=int, default=5, help="timed epochs of each method, one per round")
    ap.add_argument("--json")
    args = ap.parse_args()
    ds = load_dataset(args.dataset, args.data_dir)
    train = ds.split.train
    print(f"{args.dataset} ({ds.data_source}): {train.n_users} users x {train.n_items} items, "
          f"{train.n_ratings} interactions; d={FACTORS}, one thread, {args.epochs} interleaved rounds")
    timers: dict[str, Timer | str] = {}
    for name, make in (("fastpoison", ours), ("implicit", with_implicit), ("torch", with_torch)):
        try:
            timers[name] = make(train)
        except ImportError as e:
            timers[name] = f"skipped: {e}"
    results = interleaved(timers, args.epochs)
    report_epochs(results, dataset=args.dataset, data_source=ds.data_source, n_interactions=train.n_ratings,
                  json_path=args.json)


if __name__ == "__main__":
    main()
