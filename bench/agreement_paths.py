"""TCD agreement: drawing pairs first (`sampled_agreement`) vs scoring whole user blocks, by ratio.

    PYTHONPATH=src python3 bench/agreement_paths.py [--dataset synthetic:ml-1m] [--ratios 0.01,0.05,0.1,0.2,0.4]

Two MF models (d=128, 2 epochs) on the dataset; for each ratio, the median of 3 calls of
each path (one thread). The crossover sets `fastpoison.models.agreement.SAMPLE_FIRST_BELOW`.
"""
from __future__ import annotations

import argparse
import statistics
import time

from fastpoison.data.datasets import load_dataset
from fastpoison.models.agreement import block_agreement, sampled_agreement
from fastpoison.models import make_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="synthetic:ml-1m")
    ap.add_argument("--ratios", default="0.01,0.05,0.1,0.2,0.4")
    args = ap.parse_args()
    ds = load_dataset(args.dataset)
    train = ds.split.train
    a, b = (make_model("mf", ds.name, epochs=2).fit(train, seed=s) for s in (0, 1))
    for ratio in (float(r) for r in args.ratios.split(",")):
        medians = []
        for path in (sampled_agreement, block_agreement):
            times = []
            for seed in range(3):
                start = time.perf_counter()
                path(a, b, train, ratio=ratio, seed=seed)
                times.append(time.perf_counter() - start)
            medians.append(1e3 * statistics.median(times))
        print(f"ratio {ratio}: sample first {medians[0]:.0f} ms, user blocks {medians[1]:.0f} ms")


if __name__ == "__main__":
    main()
