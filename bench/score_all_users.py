"""Top-K for every user of a dataset without materialising the users x items score matrix.

Draws random factors (normal, std 0.1) with the dataset's shape, then runs
``score_top_k`` for all users with their training items excluded, and reports the wall
time, microseconds per user, the process's peak RSS (``ru_maxrss``, KiB on Linux) before
and after scoring, and the size a dense users x items float32 matrix would have had:
peak RSS grows by about one score block (``scoring.BLOCK_BYTES``), not by that matrix.
Before scoring, the peak left by loading the data is recorded and then reset to the
current RSS where Linux allows it (``/proc/self/clear_refs``).
Masking and top-K use ``--threads`` kernel threads; the block matrix product runs in
numpy's BLAS with its own thread count (set ``OPENBLAS_NUM_THREADS=1`` to pin it).

    PYTHONPATH=src python3 bench/score_all_users.py --dataset synthetic:yelp --factors 64 --k 50 [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from _data import load_ratings
from _memory import peak_rss_kib, reset_peak_rss
from fastpoison.models import score_top_k
from fastpoison.models.scoring import BLOCK_BYTES


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="synthetic:yelp")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()

    seen = load_ratings(args.dataset)
    rng = np.random.default_rng(0)
    U = rng.normal(0, 0.1, (seen.n_users, args.factors)).astype(np.float32)
    V = rng.normal(0, 0.1, (seen.n_items, args.factors)).astype(np.float32)

    load_peak = peak_rss_kib()
    reset = reset_peak_rss()
    rss_before = peak_rss_kib()
    t0 = time.perf_counter()
    top = score_top_k(U, V, args.k, seen=seen, threads=args.threads)
    wall = time.perf_counter() - t0
    rss_after = peak_rss_kib()
    assert top.items.shape == (seen.n_users, args.k)

    dense = seen.n_users * seen.n_items * 4
    result = {
        "dataset": args.dataset, "data_source": seen.meta.get("data_source"), "n_users": seen.n_users,
        "n_items": seen.n_items, "factors": args.factors, "k": args.k, "threads": args.threads,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "wall_s": wall, "us_per_user": wall / seen.n_users * 1e6,
        "peak_rss_loading_kib": load_peak, "peak_reset": reset, "peak_rss_before_kib": rss_before, "peak_rss_after_kib": rss_after,
        "block_bytes": BLOCK_BYTES, "dense_matrix_bytes": dense,
    }
    mib = 1 << 20
    print(f"{args.dataset} ({result['data_source']}): top-{args.k} of {seen.n_items:,} items for "
          f"{seen.n_users:,} users, d={args.factors}, {args.threads} kernel thread(s), "
          f"BLAS threads {result['blas_threads']}")
    print(f"wall {wall:.2f} s, {result['us_per_user']:.1f} us/user")
    print(f"peak RSS while loading {load_peak / 1024:.0f} MiB" + ("; reset" if reset else ""))
    print(f"peak RSS {rss_before / 1024:.0f} MiB before, {rss_after / 1024:.0f} MiB after "
          f"(+{(rss_after - rss_before) / 1024:.0f} MiB; score block {BLOCK_BYTES / mib:.0f} MiB)")
    print(f"a dense users x items float32 matrix would take {dense / mib:,.0f} MiB: never allocated")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
