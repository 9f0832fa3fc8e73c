"""Two or more builds of the kernels compared in one process, on RVD's SGD fine-tune (MF or NSVD).

Each ``_core`` extension file given is loaded under its own path (`ab_propagation.load_build`).
The model (``--model``, d = ``--factors``, trained ``--epochs`` epochs on ``--dataset``) and
each served user's ``--k`` neighbours are fixed once; then, ``--rounds`` times, the builds
take turns serving the same ``--users`` users one call each (5 fine-tune epochs, top-50, one
thread) through the model's own `vicinal_top_k`, its module's ``_core`` swapped for the build.
Printed: each build's median ms per user, the median over rounds of its ratio to the first
build, and whether its lists and scores equal the first build's.

    python3 bench/ab_rvd.py OLD.so NEW.so --model nsvd --k 900      # the RVD paper's k for NSVD on Yelp
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from _data import load_ratings
from ab_propagation import load_build
from fastpoison.defenses import RVD
from fastpoison.models import make_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("builds", nargs="+", help="paths of _core extension files; the first is the baseline")
    ap.add_argument("--dataset", default="synthetic:yelp")
    ap.add_argument("--model", choices=("mf", "nsvd"), default="nsvd")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--k", type=int, default=900)
    ap.add_argument("--users", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    if len(set(args.builds)) != len(args.builds):
        raise SystemExit("give each build once")
    builds = {path: load_build(path, slot) for slot, path in enumerate(args.builds)}
    train = load_ratings(args.dataset)
    model = make_model(args.model, factors=args.factors, epochs=args.epochs, threads=1).fit(train, seed=0)
    rvd = RVD(model, k=args.k, step="sgd", threads=1)
    users = np.random.default_rng(0).choice(train.n_users, size=args.users, replace=False).astype(np.int32)
    neighbours = [rvd.neighbours(users[r:r + 1]) for r in range(len(users))]
    module = sys.modules[type(model).__module__]  # the module whose `_core` the kernel is read from
    installed = module._core
    per_user: dict[str, list[float]] = {path: [] for path in builds}
    outputs: dict[str, list[np.ndarray]] = {}
    try:
        for _ in range(args.rounds):
            for path, core in builds.items():
                module._core = core
                out = []
                start = time.perf_counter()
                for r, nb in enumerate(neighbours):
                    top = model.vicinal_top_k(users[r:r + 1], nb, 50, epochs=rvd.epochs, lr=rvd.lr, threads=1)
                    out += [top.items, top.scores]
                per_user[path].append((time.perf_counter() - start) / len(users))
                outputs.setdefault(path, out)
    finally:
        module._core = installed
    base = args.builds[0]
    for path, times in per_user.items():
        ratio = statistics.median(t / b for t, b in zip(times, per_user[base]))
        same = all(np.array_equal(a, b) for a, b in zip(outputs[path], outputs[base]))
        print(f"{path}: {statistics.median(times) * 1e3:.2f} ms per user, {ratio:.3f}x the first build, "
              f"lists and scores {'identical to' if same else 'DIFFERENT from'} the first build's")


if __name__ == "__main__":
    main()
