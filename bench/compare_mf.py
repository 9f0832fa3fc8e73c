"""Per-epoch MF training time: fastpoison vs scikit-surprise vs cornac, one thread each.

All three train biased MF (``mu + b_u + b_i + p_u . q_i``) by plain SGD with the same
factors, epochs, lr 0.005 and reg 0.02 on the same (user, item, rating) triplets
(shuffled once, the order surprise and cornac iterate in; ours reshuffles in ``fit``):

* surprise: ``SVD(biased=True)``; epoch time = ``fit`` wall time / epochs.
* cornac: ``MF(use_bias=True, num_threads=1)`` (its Cython ``prange`` loop then runs on
  one thread); epoch time = ``fit`` wall time / epochs (the Dataset build is not timed).
* ours: ``fastpoison.models.MF(optimizer="sgd", bias=True, valid_fraction=0, threads=1)``;
  an epoch callback timestamps every epoch, and the epoch time is the median interval
  between consecutive callbacks (the first epoch, which also holds ``fit``'s setup, is
  dropped). Ours trains on ratings / max rating, as the library does.

Each library is run ``--repeats`` times and the median is reported, with ratings per
second for ours and the training RMSE (predictions clipped to the rating scale, on that
scale) of each library's last run as a check that all of them learn (compare it with
``rmse_global_mean``, the RMSE of predicting the mean rating).

    PYTHONPATH=src python3 bench/compare_mf.py --dataset synthetic:ml-1m --factors 64 --epochs 5 [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from _data import load_ratings
from fastpoison.models import MF

LR, REG = 0.005, 0.02


def rmse(pred: np.ndarray, truth: np.ndarray, low: float, high: float) -> float:
    return float(np.sqrt(np.mean((np.clip(pred, low, high) - truth) ** 2)))


def run_ours(train, factors: int, epochs: int) -> tuple[float, float]:
    stamps: list[float] = []
    model = MF(factors=factors, epochs=epochs, optimizer="sgd", bias=True, valid_fraction=0, threads=1,
               lr=LR, reg=REG)
    model.fit(train, seed=0, callbacks=[lambda epoch, record: stamps.append(time.perf_counter())])
    intervals = np.diff(stamps) if len(stamps) > 1 else [float("nan")]
    users, items, ratings = train.coo()
    pred = model.predict_pairs(users, items)
    return float(np.median(intervals)), rmse(pred, ratings, train.scale.low, train.scale.high)


def run_surprise(triplets, scale, factors: int, epochs: int) -> tuple[float, float]:
    import surprise

    trainset = surprise.Dataset(surprise.Reader(rating_scale=scale)).construct_trainset(
        [(u, i, r, None) for u, i, r in zip(*triplets)])
    algo = surprise.SVD(n_factors=factors, n_epochs=epochs, biased=True, lr_all=LR, reg_all=REG, random_state=0)
    t0 = time.perf_counter()
    algo.fit(trainset)
    seconds = (time.perf_counter() - t0) / epochs
    u, i, r = (np.array(x) for x in zip(*trainset.all_ratings()))
    pred = trainset.global_mean + algo.bu[u] + algo.bi[i] + np.einsum("ij,ij->i", algo.pu[u], algo.qi[i])
    return seconds, rmse(pred, r, *scale)


def run_cornac(triplets, scale, factors: int, epochs: int) -> tuple[float, float]:
    import cornac

    data = cornac.data.Dataset.from_uir(list(zip(*triplets)), seed=0)
    model = cornac.models.MF(k=factors, max_iter=epochs, learning_rate=LR, lambda_reg=REG, use_bias=True,
                             early_stop=False, verbose=False, num_threads=1, seed=0)
    assert model.num_threads == 1
    t0 = time.perf_counter()
    model.fit(data)
    seconds = (time.perf_counter() - t0) / epochs
    u, i, r = data.uir_tuple
    pred = model.global_mean + model.u_biases[u] + model.i_biases[i] + np.einsum(
        "ij,ij->i", model.u_factors[u], model.i_factors[i])
    return seconds, rmse(pred, r, *scale)


def repeat(fn, repeats: int) -> tuple[float | None, float | None]:
    """Median seconds per epoch over ``repeats`` runs and the last run's RMSE; (None, None) when
    the library is not installed."""
    try:
        runs = [fn() for _ in range(repeats)]
    except ImportError as e:
        print(f"skipped: {e.name or e} is not importable")
        return None, None
    return statistics.median(s for s, _ in runs), runs[-1][1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="synthetic:ml-1m")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()

    train = load_ratings(args.dataset)
    users, items, ratings = train.coo()
    order = np.random.default_rng(0).permutation(len(users))
    triplets = (users[order].tolist(), items[order].tolist(), ratings[order].astype(float).tolist())
    scale = (train.scale.low, train.scale.high)
    f, n = args.factors, args.epochs

    ours, ours_rmse = repeat(lambda: run_ours(train, f, n), args.repeats)
    sur, sur_rmse = repeat(lambda: run_surprise(triplets, scale, f, n), args.repeats)
    cor, cor_rmse = repeat(lambda: run_cornac(triplets, scale, f, n), args.repeats)

    result = {
        "dataset": args.dataset, "data_source": train.meta.get("data_source"), "n_ratings": train.n_ratings,
        "factors": f, "epochs": n, "repeats": args.repeats,
        "ours_epoch_s": ours, "surprise_epoch_s": sur, "cornac_epoch_s": cor,
        "speedup": sur / ours if sur else None, "speedup_vs_cornac": cor / ours if cor else None,
        "ours_updates_per_s": train.n_ratings / ours,
        "rmse": {"ours": ours_rmse, "surprise": sur_rmse, "cornac": cor_rmse},
        "rmse_global_mean": float(np.std(ratings)),
    }
    print(f"{args.dataset} ({result['data_source']}): {train.n_ratings:,} ratings, {f} factors, {n} epochs, "
          f"1 thread, median of {args.repeats} run(s)")
    print(f"{'library':<10}{'s/epoch':>10}{'ours faster':>13}{'train RMSE':>12}")
    for name, sec, err in (("ours", ours, ours_rmse), ("surprise", sur, sur_rmse), ("cornac", cor, cor_rmse)):
        if sec is None:
            print(f"{name:<10}{'n/a':>10}")
        else:
            print(f"{name:<10}{sec:>10.3f}{sec / ours:>12.1f}x{err:>12.4f}")
    print(f"ours: {result['ours_updates_per_s'] / 1e6:.1f} M rating updates/s; "
          f"RMSE of the global mean: {result['rmse_global_mean']:.4f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
