"""Lazy-Adam epoch throughput of MF on real ratings vs real ratings plus TCD pseudo-labels.

    PYTHONPATH=src python3 bench/adam_pseudo_rate.py [--dataset synthetic:ml-1m] [--ratios 0,0.04,0.16]

Two MF models are pre-trained for 2 epochs; their agreement labels (sampled at each ratio)
are merged into the training ratings, and a third model's epoch is timed on them (median
of 3, one thread). Prints ratings per second for each ratio.
"""
from __future__ import annotations

import argparse
import statistics
import time

from fastpoison.data.datasets import load_dataset
from fastpoison.models.agreement import agreement_labels
from fastpoison.models import make_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="synthetic:ml-1m")
    ap.add_argument("--ratios", default="0,0.04,0.16")
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    train = ds.split.train
    models = [make_model("mf", ds.name) for _ in range(3)]
    fit, _ = models[0].split_validation(train, 0)
    for seed, model in enumerate(models):
        model.start(train, fit, seed)
    for epoch in range(2):
        for model in models[:2]:
            model.train_epoch(fit, epoch)
    for ratio in (float(r) for r in args.ratios.split(",")):
        data = fit if ratio == 0 else fit.with_ratings(*agreement_labels(*models[:2], train, ratio=ratio, seed=1))
        times = []
        for epoch in range(3):
            start = time.perf_counter()
            models[2].train_epoch(data, 10 + epoch)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"ratio {ratio:<5} {data.n_ratings:>9} ratings ({data.n_ratings - fit.n_ratings} pseudo): "
              f"epoch {median:.3f} s = {data.n_ratings / median / 1e6:.2f} M ratings/s")


if __name__ == "__main__":
    main()
