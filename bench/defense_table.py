"""Target HR@50 under attacks and defenses (MF) beside a paper's table: the RVD paper's
Table 7 (ML-100K, FilmTrust) or 3 (ML-1M, Yelp), or the TCD paper's Table 4 (numbers from
`fastpoison.eval.paper_tables`).

    python3 bench/defense_table.py --paper rvd --dataset ml-100k --data-dir ../shared/data --out results/
    python3 bench/defense_table.py --paper tcd --targets random --dataset filmtrust --data-dir ../shared/data --out results/
        [--attacks a,b,...] [--defenses x,y,...] [--seeds 3]

A defense may carry settings in brackets, e.g. ``--defenses "tcd,tcd[pseudo_budget=1]"``.

Runs every (attack, defense) cell not already in ``--out`` (one ``run --json`` object per
file: 5 targets, 3 % fakes, knowledge 0.4, MF with the paper's settings), then prints a
markdown table: per attack, HR@50 without defense and under each defense (mean over seeds)
with the paper's figure in parentheses where it has one, and test HR@50 after the slash.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from fastpoison.data.datasets import load_dataset
from fastpoison.eval.experiment import ExperimentSpec, run_experiment
from fastpoison.eval.paper_tables import entries
from fastpoison.eval.reproduce import DEFINITIONS
from fastpoison.options import split_top_level

#: Per paper: its attacks (column order), defenses, and the tables (`fastpoison.eval.paper_tables`)
#: whose published numbers are printed beside ours.
PAPERS = {
    "rvd": {"attacks": ("aush", "pga", "tna", "mixinf", "mixrand", "random", "average"),
            "defenses": ("rvd", "apr", "ltsmf", "rmf", "ltsmf+rvd", "rmf+rvd"), "tables": ("rvd-table7", "rvd-table3")},
    "tcd": {"attacks": ("average", "random", "aush", "pga", "tna", "dl", "coattack", "gcoattack"),
            "defenses": ("at", "rat", "tcd"), "tables": ("tcd-table4",)},
}


def published(paper: str, dataset: str, targets: str, attack: str, defense: str) -> float | None:
    """The paper's target HR for the cell ("none": the attacked model), or None."""
    for name in PAPERS[paper]["tables"]:
        found = entries(name, dataset=dataset, attack=attack, defense=None if defense == "none" else defense,
                        targets=targets)
        if found:
            return found[0].value
    return None


def cell(args: argparse.Namespace, dataset, attack: str, defense: str) -> dict:
    """The `run --json` object of one cell, from ``--out`` or computed and stored there."""
    path = Path(args.out) / f"{args.dataset}_{args.targets}_{attack}_{defense}.json"
    if path.exists():
        return json.loads(path.read_text())
    spec = ExperimentSpec(dataset=args.dataset, attack=attack, defense=defense, targets=args.targets, seeds=args.seeds, data_dir=args.data_dir)
    result = run_experiment(spec, dataset=dataset)
    path.write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paper", choices=sorted(PAPERS), default="rvd")
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--targets", choices=("unpopular", "random"), default="unpopular")
    ap.add_argument("--data-dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--attacks")
    ap.add_argument("--defenses")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    paper = PAPERS[args.paper]
    attacks = split_top_level(args.attacks, ",") if args.attacks else list(paper["attacks"])
    defenses = split_top_level(args.defenses, ",") if args.defenses else list(paper["defenses"])
    Path(args.out).mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(args.dataset, args.data_dir)
    hr_key, test_key = (DEFINITIONS[args.paper, metric] for metric in ("hr", "test_hr"))
    print(f"{args.dataset} ({dataset.data_source}), MF, 5 {args.targets} targets, 3 % fakes, {args.seeds} seeds: "
          f"target HR@50 as the {args.paper.upper()} paper counts it ({hr_key.format('X')}; the paper's figure in "
          f"parentheses) / test HR@50 ({test_key.format('X')})")
    print("| attack | no defense | " + " | ".join(defenses) + " |")
    print("|---" * (len(defenses) + 2) + "|")
    for attack in attacks:
        results = [cell(args, dataset, attack, d) for d in defenses]

        def fmt(hr: float, test: float, row: str) -> str:
            ref = published(args.paper, args.dataset, args.targets, attack, row)
            return f"{hr:.3f}" + (f" ({ref:.3f})" if ref is not None else "") + f" / {test:.3f}"

        def mean(result: dict, key: str, stage: str) -> float:
            return result[key.format(stage)]["mean"]

        entries = [fmt(mean(results[0], hr_key, "attack"), mean(results[0], test_key, "attack"), "none")]
        entries += [fmt(mean(r, hr_key, "defense"), mean(r, test_key, "defense"), d) for r, d in zip(results, defenses)]
        print(f"| {attack} | " + " | ".join(entries) + " |")


if __name__ == "__main__":
    main()
