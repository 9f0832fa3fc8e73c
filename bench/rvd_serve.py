"""RVD serving cost on one dataset: per-user latency, batched throughput, peak RSS.

Trains the victim MF (``--factors``, ``--epochs``; the timing does not depend on how well
it is trained), builds the hnswlib index, then

* latency: ``--latency-users`` users served one call each on one thread (neighbour query +
  overlay fine-tune + scoring + top-K); median and 90th percentile;
* throughput: every user in one batched call on ``--threads`` threads, users/s;
* the exact (numpy, blocked) neighbour search of every user, for comparison;
* peak RSS (``ru_maxrss``) after resetting it once the model is trained, up to the end of
  the batched call (the exact search runs after it).

    PYTHONPATH=src python3 bench/rvd_serve.py --dataset synthetic:yelp --factors 64 --k 100 [--json out.json]
    PYTHONPATH=src python3 bench/rvd_serve.py --model nsvd --k 900     # the RVD paper's k for NSVD on Yelp
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from _data import load_ratings
from _memory import peak_rss_kib, reset_peak_rss
from fastpoison.defenses import RVD, exact_neighbours
from fastpoison.models import make_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="synthetic:yelp")
    ap.add_argument("--model", choices=("mf", "nsvd"), default="mf")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--k", type=int, default=100, help="neighbours per user")
    ap.add_argument("--rvd-epochs", type=int, help="fine-tune epochs (default: the step's own; 5 for sgd)")
    ap.add_argument("--top", type=int, default=50)
    ap.add_argument("--latency-users", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--step", choices=("model", "sgd"), default="sgd",
                    help="RVD's fine-tune: the paper's (the model's own training) or our C++ SGD overlay (default)")
    ap.add_argument("--json")
    args = ap.parse_args()

    train = load_ratings(args.dataset)
    model = make_model(args.model, factors=args.factors, epochs=args.epochs, threads=1).fit(train, seed=0)
    reset_peak_rss()
    rss_before = peak_rss_kib()
    start = time.perf_counter()
    rvd = RVD(model, k=args.k, epochs=args.rvd_epochs, step=args.step, threads=1)
    index_s = time.perf_counter() - start

    users = np.random.default_rng(0).choice(train.n_users, size=args.latency_users, replace=False).astype(np.int32)
    latency = []
    for u in users:
        t0 = time.perf_counter()
        rvd.recommend(np.array([u], dtype=np.int32), args.top)
        latency.append(time.perf_counter() - t0)
    all_users = np.arange(train.n_users, dtype=np.int32)
    rvd.threads = args.threads
    t0 = time.perf_counter()
    rvd.recommend(all_users, args.top)
    batch_s = time.perf_counter() - t0
    rss_after = peak_rss_kib()
    t0 = time.perf_counter()
    exact_neighbours(model.user_embeddings(), all_users, args.k)
    exact_s = time.perf_counter() - t0
    result = {
        "dataset": args.dataset, "model": args.model, "data_source": train.meta.get("data_source"), "n_users": train.n_users,
        "n_items": train.n_items, "factors": args.factors, "k": args.k, "rvd_epochs": rvd.epochs, "step": args.step,
        "index_build_s": index_s, "latency_median_ms": 1e3 * statistics.median(latency),
        "latency_p90_ms": 1e3 * float(np.percentile(latency, 90)), "batch_threads": args.threads,
        "batch_s": batch_s, "users_per_s": train.n_users / batch_s, "exact_knn_all_users_s": exact_s,
        "peak_rss_before_mib": rss_before / 1024, "peak_rss_after_mib": rss_after / 1024,
    }
    print(f"{args.dataset}, {args.model}: {train.n_users} users x {train.n_items} items, d={args.factors}, k={args.k}, "
          f"{rvd.epochs} fine-tune epochs ({args.step})")
    print(f"  hnswlib index build       {index_s:.2f} s")
    print(f"  latency, one thread       median {result['latency_median_ms']:.2f} ms, "
          f"p90 {result['latency_p90_ms']:.2f} ms ({args.latency_users} users)")
    print(f"  all users, {args.threads} threads     {batch_s:.2f} s = {result['users_per_s']:.0f} users/s")
    print(f"  exact kNN of all users    {exact_s:.2f} s")
    print(f"  peak RSS                  {result['peak_rss_before_mib']:.0f} MiB -> "
          f"{result['peak_rss_after_mib']:.0f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
