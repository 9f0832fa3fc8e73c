"""Generation time of every attack as a multiple of one victim MF training.

    python3 bench/attack_cost.py --dataset synthetic:ml-1m [--data-dir DIR] [--attacks pga,tna]
                                 [--repeats 3] [--json out.json]

Both are timed in this process, one thread, under the default threat model (5 unpopular
targets, 3 % fake users, mean-profile fake users, knowledge 0.4); medians over ``--repeats``
seeds. The attack's time includes training its own surrogate on the share it sees.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from fastpoison.attacks import ATTACKS, get_attack
from fastpoison.data.datasets import load_dataset
from fastpoison.data.targets import choose_targets
from fastpoison.models import make_model


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="synthetic:ml-1m")
    ap.add_argument("--data-dir")
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json")
    args = ap.parse_args()
    ds = load_dataset(args.dataset, args.data_dir)
    train = ds.split.train
    seeds = range(args.repeats)
    fit_s = statistics.median(timed(lambda s=s: make_model("mf", ds.name).fit(train, seed=s)) for s in seeds)
    print(f"{args.dataset} ({ds.data_source}): {train.n_users} users, {train.n_items} items, "
          f"{train.n_ratings} ratings; one MF training (d=128, 40 epochs) {fit_s:.2f} s")
    rows = {}
    for name in args.attacks.split(","):
        times = [timed(lambda s=s: get_attack(name).generate(train, choose_targets(train, "unpopular", 5, s), seed=s))
                 for s in seeds]
        rows[name] = {"attack_s": statistics.median(times), "x_training": statistics.median(times) / fit_s}
        print(f"  {name:<10} {rows[name]['attack_s']:8.2f} s  {rows[name]['x_training']:6.2f}x one training")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"dataset": args.dataset, "data_source": ds.data_source, "fit_s": fit_s, "attacks": rows}, f,
                      indent=2)


if __name__ == "__main__":
    main()
