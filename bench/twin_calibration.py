"""A calibrated twin against its real dataset: the same experiment cells on both, and per
cell the mean over seeds, the twin's relative difference and whether it lies within the
tolerance (±25 %).

    python3 bench/twin_calibration.py --dataset ml-1m --data-dir ../shared/data --out results/twin-ml-1m
        [--seeds 3] [--tcd-seeds 1] [--tolerance 0.25] [--workers 1]

First a table of the statistics the twin's shape was fitted to (real copy and twin, seed 0).
The cells (MF with its defaults, 5 targets, 3 % fakes, knowledge 0.4, the papers' HR@K):
clean test HR; the target HR of Average and PGA on unpopular and on random targets, without
defense and under RVD; test HR under RVD; and, over ``--tcd-seeds`` seeds (TCD costs about
25 plain fits on ML-1M; 0 leaves it out), Average on unpopular targets under TCD with the test
HR there. Records go to ``OUT/real`` and ``OUT/twin`` (one grid record per cell; reruns
resume), then a markdown table is printed.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
from typing import Any, Iterable

import numpy as np
from scipy.stats import spearmanr

from fastpoison.data.datasets import load_dataset
from fastpoison.data.registry import SYNTHETIC_PREFIX
from fastpoison.data.split import Split
from fastpoison.eval.experiment import ExperimentSpec
from fastpoison.eval.grid import expand
from fastpoison.eval.runner import run_grid
from fastpoison.eval.store import ResultStore

#: (row label, attack, defense, targets, metric), in table order.
ROWS = (
    ("clean test HR", None, None, "unpopular", "test_hr_origin"),
    ("Average, unpopular targets: target HR", "average", None, "unpopular", "hr_attack"),
    ("Average, random targets: target HR", "average", None, "random", "hr_attack"),
    ("PGA, unpopular targets: target HR", "pga", None, "unpopular", "hr_attack"),
    ("PGA, random targets: target HR", "pga", None, "random", "hr_attack"),
    ("RVD: clean test HR", None, "rvd", "unpopular", "test_hr_defense"),
    ("RVD, Average, unpopular: target HR", "average", "rvd", "unpopular", "hr_defense"),
    ("RVD, Average, random: target HR", "average", "rvd", "random", "hr_defense"),
    ("RVD, PGA, unpopular: target HR", "pga", "rvd", "unpopular", "hr_defense"),
    ("RVD, PGA, random: target HR", "pga", "rvd", "random", "hr_defense"),
    ("TCD, Average, unpopular: target HR", "average", "tcd", "unpopular", "hr_defense"),
    ("TCD, Average, unpopular: test HR", "average", "tcd", "unpopular", "test_hr_defense"),
)


def shape_stats(split: Split) -> dict[str, str]:
    """The statistics a twin's shape is fitted to, formatted: quantiles of ratings per user
    and per item, share of items with 1-4 ratings, share of ratings on the top tenth of items,
    the held-out items' popularity, share of held-out ratings below 4 of 5 (ratings on 1-5),
    the spread of item mean ratings and their rank correlation with popularity."""
    train = split.train
    users, items = train.user_counts(), train.item_counts()
    rated = items[items > 0]
    _, cols, values = train.coo()
    means = np.bincount(cols, weights=values, minlength=train.n_items)[items > 0] / rated
    top = np.sort(rated)[::-1][:len(rated) // 10].sum() / rated.sum()

    def quantiles(x: np.ndarray, qs: tuple[float, ...]) -> str:
        return ", ".join(str(int(v)) for v in np.quantile(x, qs))

    return {
        "ratings per user, 10/25/50/75/90 %": quantiles(users, (0.1, 0.25, 0.5, 0.75, 0.9)),
        "ratings per item, 10/25/50/75/90/99 %": quantiles(rated, (0.1, 0.25, 0.5, 0.75, 0.9, 0.99)),
        "items with 1-4 ratings": f"{100 * np.mean(rated < 5):.1f} %",
        "ratings on the top tenth of items": f"{100 * top:.0f} %",
        "held-out item's ratings, 10/50/90 %": quantiles(items[split.test_items], (0.1, 0.5, 0.9)),
        "held-out ratings below 4": f"{100 * np.mean(split.test_ratings < 4):.0f} %",
        "std of item mean ratings (>= 20 ratings)": f"{means[rated >= 20].std():.2f}",
        "Spearman, item popularity vs mean rating": f"{spearmanr(rated, means)[0]:.2f}",
    }


def shape_table(real: Split, twin: Split) -> str:
    """Markdown: `shape_stats` of the real split beside the twin's."""
    a, b = shape_stats(real), shape_stats(twin)
    lines = ["| statistic | real | twin |", "|---|---|---|"] + [f"| {k} | {a[k]} | {b[k]} |" for k in a]
    return "\n".join(lines) + "\n"


def cells(dataset: str, seeds: int, tcd_seeds: int, data_dir: str | None) -> list[ExperimentSpec]:
    """Every cell `ROWS` needs on ``dataset``: the RVD grid over ``seeds`` seeds and the TCD
    cell over ``tcd_seeds`` (none when 0); a real dataset must be found (no twin stands in)."""
    grids = [{"attack": ["none", "average", "pga"], "defense": ["none", "rvd"], "targets": ["unpopular", "random"],
              "seeds": seeds}]
    if tcd_seeds:
        grids.append({"attack": "average", "defense": "tcd", "targets": "unpopular", "seeds": tcd_seeds})
    specs = [spec for grid in grids for spec in expand({"grid": {"dataset": dataset, "model": "mf", **grid}})]
    return [dataclasses.replace(spec, data_dir=data_dir, require_real=not dataset.startswith(SYNTHETIC_PREFIX))
            for spec in specs]


def _metric(records: Iterable[dict[str, Any]], attack: str | None, defense: str | None, targets: str,
            metric: str) -> dict[int, float]:
    """Seed -> ``metric`` over the finished records of the (attack, defense, targets) cell."""
    values = {}
    for record in records:
        spec, result = record.get("spec") or {}, record.get("result") or {}
        if (spec.get("attack"), spec.get("defense"), spec.get("targets")) == (attack, defense, targets):
            value = (result.get(metric) or {}).get("mean")
            if value is not None:
                values[spec["seed"]] = value
    return values


def table(real: list[dict[str, Any]], twin: list[dict[str, Any]], tolerance: float) -> tuple[str, list[dict]]:
    """The markdown comparison table and its rows as dicts (cell, seeds, real, twin, relative
    difference, within tolerance)."""
    lines = ["| cell | seeds | real | twin | twin vs real | within ±%d %% |" % round(100 * tolerance),
             "|---|---|---|---|---|---|"]
    rows = []
    for label, attack, defense, targets, metric in ROWS:
        r, t = _metric(real, attack, defense, targets, metric), _metric(twin, attack, defense, targets, metric)
        seeds = sorted(set(r) & set(t))  # the seeds both sides have
        if not seeds:
            continue
        mr, mt = (sum(side[s] for s in seeds) / len(seeds) for side in (r, t))
        rel = (mt - mr) / mr if mr > 0 else math.nan
        ok = not math.isnan(rel) and abs(rel) <= tolerance
        rows.append({"cell": label, "seeds": len(seeds), "real": mr, "twin": mt, "relative": rel, "within": ok})
        lines.append(f"| {label} | {len(seeds)} | {mr:.4f} | {mt:.4f} | "
                     f"{'-' if math.isnan(rel) else f'{100 * rel:+.0f} %'} | {'yes' if ok else '**no**'} |")
    return "\n".join(lines) + "\n", rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="ml-1m", help="a registered dataset with a twin and a real copy")
    ap.add_argument("--data-dir", help="folder holding the real dataset")
    ap.add_argument("--out", required=True, help="record folder (OUT/real, OUT/twin)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tcd-seeds", type=int, default=1, help="seeds of the TCD cell (0: none)")
    ap.add_argument("--tolerance", type=float, default=0.25, help="relative tolerance per cell")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--json", help="also write the rows as JSON here")
    args = ap.parse_args()
    real = load_dataset(args.dataset, args.data_dir, require_real=True).split
    print(shape_table(real, load_dataset(SYNTHETIC_PREFIX + args.dataset).split))
    records = {}
    for side, dataset in (("real", args.dataset), ("twin", SYNTHETIC_PREFIX + args.dataset)):
        specs = cells(dataset, args.seeds, args.tcd_seeds, args.data_dir)
        folder = f"{args.out}/{side}"
        run_grid(specs, folder, workers=args.workers, resume=True)
        keys = {spec.key() for spec in specs}
        records[side] = [r for r in ResultStore(folder).records() if r.get("key") in keys]
    text, rows = table(records["real"], records["twin"], args.tolerance)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
