"""AutoRec and CDAE: training-epoch time against a dense numpy implementation of the same
model, and RVD's per-user latency.

* epoch: ``--epochs`` epochs of each model (default settings, e.g. AutoRec 500 hidden units
  (``--autorec-hidden``), CDAE 50, batch 32 users, Adam) on ``--dataset`` through ``train_epoch``, and as many of
  the numpy reference: the same batches (the model's own sampling), densified to
  ``[batch, n_items]`` matrices, forward and backward passes as dense matmuls, and the same
  dense Adam step written in numpy. Medians over epochs (the first of ours, which compiles
  nothing but warms caches, included);
* RVD: each model trained ``--rvd-fit-epochs`` (timing does not depend on how well), then
  ``--latency-users`` users served one call each on one thread (hnswlib query, fine-tuning
  on the RVD paper's k neighbours for ``--rvd-epochs`` epochs, scoring, top-50); median and
  90th percentile. The score product is numpy's BLAS with its default thread count
  (``OPENBLAS_NUM_THREADS=1`` for a strictly single-threaded figure).

    PYTHONPATH=src python3 bench/neural_epoch.py --dataset synthetic:ml-1m --rvd-dataset synthetic:yelp [--json out.json]
    PYTHONPATH=src python3 bench/neural_epoch.py --rvd-only --latency-users 200   # RVD latency only
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from _data import load_ratings
from fastpoison.data.registry import paper_neighbours
from fastpoison.defenses import RVD
from fastpoison.models import CDAE, AutoRec
from fastpoison.models.neural import AutoEncoderModel, Batch, chunks


def _dense(ptr: np.ndarray, idx: np.ndarray, val: np.ndarray, n: int, n_items: int) -> np.ndarray:
    out = np.zeros((n, n_items), dtype=np.float32)
    rows = np.repeat(np.arange(n), np.diff(ptr))
    np.add.at(out, (rows, idx), val)
    return out


class NumpyReference:
    """The model's forward/backward pass and Adam step in dense numpy (float32)."""

    def __init__(self, model: AutoEncoderModel) -> None:
        self.model = model
        self.params = {k: v.copy() for k, v in model.params.items()}
        self.moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in self.params.items()}
        self.t = 0

    def step(self, b: Batch, share: float) -> float:
        m, P, n = self.model, self.params, self.model.n_items
        B = len(b.rows)
        X = _dense(b.in_ptr, b.in_idx, b.in_val, B, n)
        T = _dense(b.t_ptr, b.t_idx, b.t_val, B, n)
        M = _dense(b.t_ptr, b.t_idx, np.ones_like(b.t_val), B, n)
        Z = X @ P["E"] + P["b"]
        if "U" in P:
            Z += P["U"][b.users]
        H = 1 / (1 + np.exp(-Z))
        A = H @ P["D"].T + P["c"]
        Y = 1 / (1 + np.exp(-A)) if m.out_sigmoid else A
        if m.log_loss:
            delta = (Y - T) * M
            loss = float(np.sum(M * (np.logaddexp(0, A) - T * A)))
        else:
            delta = 2 * (Y - T) * M * (Y * (1 - Y) if m.out_sigmoid else 1)
            loss = float(np.sum(M * (Y - T) ** 2))
        dz = (delta @ P["D"]) * H * (1 - H)
        reg = m.config.reg
        g = {"E": X.T @ dz + reg * share * P["E"], "b": dz.sum(0), "D": delta.T @ H + reg * share * P["D"],
             "c": delta.sum(0)}
        self.t += 1
        c = m.config
        beta1, beta2 = c.adam_betas
        lr_t = c.lr * np.sqrt(1 - beta2 ** self.t) / (1 - beta1 ** self.t)
        for k in g:
            mom, var = self.moments[k]
            mom[...] = beta1 * mom + (1 - beta1) * g[k]
            var[...] = beta2 * var + (1 - beta2) * g[k] ** 2
            P[k] -= lr_t * mom / (np.sqrt(var) + c.adam_eps)
        if "U" in P:
            gU = dz + reg * P["U"][b.users]
            mom, var = (a[b.users] for a in self.moments["U"])
            mom = beta1 * mom + (1 - beta1) * gU
            var = beta2 * var + (1 - beta2) * gU ** 2
            self.moments["U"][0][b.users], self.moments["U"][1][b.users] = mom, var
            P["U"][b.users] -= lr_t * mom / (np.sqrt(var) + c.adam_eps)
        return loss

    def epoch(self, train, seed: int) -> float:
        order = np.random.default_rng(seed).permutation(train.n_users).astype(np.int32)
        loss = 0.0
        for users in chunks(order, self.model.config.batch_size):
            batch = self.model._batch(users, train.indptr, train.indices, train.values, seed)
            loss += self.step(batch, len(users) / train.n_users)
        return loss / train.n_ratings


def epoch_times(model: AutoEncoderModel, train, epochs: int) -> dict[str, float]:
    model.start(train, train, seed=0)
    ours = []
    for e in range(epochs):
        t0 = time.perf_counter()
        model.train_epoch(train, seed=e)
        ours.append(time.perf_counter() - t0)
    reference, norm = NumpyReference(model), train.normalized()
    theirs = []
    for e in range(epochs):
        t0 = time.perf_counter()
        reference.epoch(norm, seed=e)
        theirs.append(time.perf_counter() - t0)
    ours_s, numpy_s = statistics.median(ours), statistics.median(theirs)
    return {"ours_epoch_s": ours_s, "numpy_epoch_s": numpy_s, "speedup": numpy_s / ours_s}


def rvd_latency(model: AutoEncoderModel, train, dataset: str, fit_epochs: int, rvd_epochs: int,
                n_users: int) -> dict[str, float]:
    model.fit(train, epochs=fit_epochs, seed=0)
    k = paper_neighbours(dataset, model.name)
    rvd = RVD(model, k=k, epochs=rvd_epochs, step="sgd", dataset=dataset, threads=1)  # the numba overlay
    users = np.random.default_rng(0).choice(train.n_users, size=n_users, replace=False).astype(np.int32)
    rvd.recommend(users[:2], 50)  # warm-up
    latency = []
    for u in users:
        t0 = time.perf_counter()
        rvd.recommend(np.array([u], dtype=np.int32), 50)
        latency.append(time.perf_counter() - t0)
    return {"k": k, "latency_median_ms": 1e3 * statistics.median(latency),
            "latency_p90_ms": 1e3 * float(np.percentile(latency, 90))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="synthetic:ml-1m")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per implementation")
    ap.add_argument("--rvd-dataset", default="synthetic:yelp")
    ap.add_argument("--rvd-fit-epochs", type=int, default=1)
    ap.add_argument("--rvd-epochs", type=int, default=5)
    ap.add_argument("--latency-users", type=int, default=50)
    ap.add_argument("--autorec-hidden", type=int, default=500, help="AutoRec's hidden units (default 500)")
    ap.add_argument("--rvd-only", action="store_true", help="skip the epoch timings")
    ap.add_argument("--json")
    args = ap.parse_args()

    result: dict = {"autorec_hidden": args.autorec_hidden, "epoch": {}, "rvd": {}}
    if not args.rvd_only:
        train = load_ratings(args.dataset)
        result.update(dataset=args.dataset, data_source=train.meta.get("data_source"))
        print(f"{args.dataset}: {train.n_users} users x {train.n_items} items, {train.n_ratings} ratings")
        for model in (AutoRec(hidden=args.autorec_hidden), CDAE()):
            r = epoch_times(model, train, args.epochs)
            result["epoch"][model.name] = r
            print(f"  {model.name:<8} epoch {r['ours_epoch_s']:.3f} s, numpy reference {r['numpy_epoch_s']:.3f} s "
                  f"({r['speedup']:.1f}x), hidden {model.config.hidden}, batch {model.config.batch_size}")
    rvd_train = load_ratings(args.rvd_dataset)
    result["rvd_dataset"] = args.rvd_dataset
    print(f"{args.rvd_dataset}: {rvd_train.n_users} users x {rvd_train.n_items} items, RVD one thread, "
          f"{args.rvd_epochs} fine-tune epochs")
    for model in (AutoRec(hidden=args.autorec_hidden), CDAE()):
        r = rvd_latency(model, rvd_train, args.rvd_dataset, args.rvd_fit_epochs, args.rvd_epochs, args.latency_users)
        result["rvd"][model.name] = r
        print(f"  {model.name:<8} hidden {model.config.hidden:<4} k={r['k']:<4} median {r['latency_median_ms']:.1f} ms, "
              f"p90 {r['latency_p90_ms']:.1f} ms per user")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
