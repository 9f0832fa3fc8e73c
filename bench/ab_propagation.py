"""Two or more builds of the kernels compared in one process, on LightGCN's propagation.

Each ``_core`` extension file given (e.g. the one installed and one built from a change with
``cmake -S . -B build -G Ninja && ninja -C build``) is loaded under its own path; the builds
then take turns, ``--rounds`` times, each timing one layer of propagation over the graph of
``--dataset``'s training interactions (d = 64, one thread: the time of 4 layers less that of 1,
over 3). Printed: each build's median ms per layer and the median over rounds of its ratio to
the first build. On a shared machine, timings of separate runs drift by more than most kernel
changes; paired in one process they do not.

    python3 bench/ab_propagation.py OLD.so NEW.so --dataset ml-1m --data-dir ../shared/data
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from types import ModuleType

import numpy as np

from fastpoison.data.datasets import load_dataset


def load_build(path: str, slot: int) -> ModuleType:
    """The ``_core`` extension at ``path``, loaded beside the others as ``build<slot>._core``.

    Each build needs a name of its own: Python hands back the module already loaded under a
    name, whatever the file, so two builds both loaded as ``_core`` would both run the first.
    The last part of the name stays ``_core``, which names the extension's init function.
    """
    spec = importlib.util.spec_from_file_location(f"build{slot}._core", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"not an extension module: {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("builds", nargs="+", help="paths of _core extension files; the first is the baseline")
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--data-dir")
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    if len(set(args.builds)) != len(args.builds):
        raise SystemExit("give each build once")
    builds = {path: load_build(path, slot) for slot, path in enumerate(args.builds)}
    train = load_dataset(args.dataset, args.data_dir).split.train
    users, items, _ = train.coo()
    users, items = np.asarray(users, np.int32), np.asarray(items, np.int32)
    rng = np.random.default_rng(0)
    P = rng.standard_normal((train.n_users, 64), dtype=np.float32) * 0.1
    Q = rng.standard_normal((train.n_items, 64), dtype=np.float32) * 0.1

    def seconds(core: ModuleType, layers: int) -> float:
        start = time.perf_counter()
        core.lightgcn_propagate(P, Q, users, items, layers)
        return time.perf_counter() - start

    per_layer: dict[str, list[float]] = {path: [] for path in builds}
    for _ in range(args.rounds):
        for path, core in builds.items():
            per_layer[path].append((seconds(core, 4) - seconds(core, 1)) / 3)
    base = per_layer[args.builds[0]]
    for path, times in per_layer.items():
        ratio = statistics.median(t / b for t, b in zip(times, base))
        print(f"{path}: {statistics.median(times) * 1e3:.2f} ms per layer, {ratio:.3f}x the first build")


if __name__ == "__main__":
    main()
