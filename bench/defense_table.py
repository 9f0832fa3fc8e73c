"""Target HR@50 under attacks and defenses (MF) beside a paper's table: the RVD paper's
Table 7 or the TCD paper's Table 4.

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
from fastpoison.options import parse_variant

#: Per paper: its attacks (column order), defenses, and HR@50 rows keyed by (dataset,
#: targets); "none" is the attacked model without defense.
PAPERS = {
    "rvd": {
        "attacks": ("aush", "pga", "tna", "mixinf", "mixrand", "random", "average"),
        "defenses": ("rvd", "apr", "ltsmf", "rmf", "ltsmf+rvd", "rmf+rvd"),
        "tables": {
            ("ml-100k", "unpopular"): {
                "none": (.994, .994, .995, .998, .997, .950, .996), "apr": (.852, .787, .806, .973, .885, .348, .775),
                "ltsmf": (.198, .199, .399, .000, .200, .374, .199), "rmf": (.025, .025, .026, .025, .016, .012, .022),
                "rvd": (.069, .032, .012, .294, .202, .011, .018)},
            ("filmtrust", "unpopular"): {
                "none": (.864, .542, .869, .886, .900, .690, .565), "apr": (.664, .184, .676, .792, .794, .256, .199),
                "ltsmf": (.108, .107, .504, .644, .903, .107, .166), "rmf": (.865, .859, .737, .715, .727, .864, .851),
                "rvd": (.362, .128, .849, .873, .891, .108, .136)}}},
    "tcd": {
        "attacks": ("average", "random", "aush", "pga", "tna", "dl", "coattack", "gcoattack"),
        "defenses": ("at", "rat", "tcd"),
        "tables": {
            ("filmtrust", "random"): {
                "none": (.1210, .1511, .1764, .1807, .1250, .6826, .6443, .8578),
                "at": (.1119, .1672, .1764, .1276, .6088, .5222, .6039, .8362),
                "rat": (.1143, .1479, .1773, .1244, .6806, .5055, .6032, .8572),
                "tcd": (.1188, .1224, .2386, .1287, .5125, .1810, .1693, .1721)},
            ("ml-100k", "random"): {
                "none": (.2045, .1127, .3336, .2043, .3450, .3952, .4280, .5008),
                "at": (.2088, .1157, .3387, .2264, .3148, .3855, .3356, .4782),
                "rat": (.1984, .1144, .3385, .1846, .2841, .3999, .3888, .5333),
                "tcd": (.0544, .0495, .0528, .0544, .0489, .0942, .0981, .1026)},
            ("filmtrust", "unpopular"): {
                "none": (.0020, .0029, .0363, .0019, .6602, .0603, .4429, .7263),
                "at": (.0016, .0027, .0483, .0020, .6046, .0995, .4177, .8051),
                "rat": (.0017, .0027, .0586, .0018, .5890, .0800, .4467, .7708),
                "tcd": (.0008, .0016, .0046, .0007, .0623, .0133, .0122, .0362)},
            ("ml-100k", "unpopular"): {
                "none": (.2098, .1341, .2818, .4153, .4146, .8299, .9876, .9874),
                "at": (.3051, .1580, .2338, .5953, .5151, .8861, .9309, .9820),
                "rat": (.1957, .1522, .2450, .4472, .4129, .8645, .9291, .9856),
                "tcd": (.0010, .0013, .0010, .0015, .0019, .0032, .0012, .0069)}}},
}


def cell(args: argparse.Namespace, dataset, attack: str, defense: str) -> dict:
    """The `run --json` object of one cell, from ``--out`` or computed and stored there."""
    path = Path(args.out) / f"{args.dataset}_{args.targets}_{attack}_{defense}.json"
    if path.exists():
        return json.loads(path.read_text())
    name, options = parse_variant(defense)
    spec = ExperimentSpec(dataset=args.dataset, attack=attack, defense=name, defense_options=options,
                          targets=args.targets, seeds=args.seeds, data_dir=args.data_dir)
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
    attacks = args.attacks.split(",") if args.attacks else list(paper["attacks"])
    defenses = args.defenses.split(",") if args.defenses else list(paper["defenses"])
    reference = paper["tables"].get((args.dataset, args.targets), {})
    Path(args.out).mkdir(parents=True, exist_ok=True)
    dataset = load_dataset(args.dataset, args.data_dir)
    print(f"{args.dataset} ({dataset.data_source}), MF, 5 {args.targets} targets, 3 % fakes, {args.seeds} seeds: "
          f"target HR@50 (the {args.paper.upper()} paper's figure in parentheses) / test HR@50")
    print("| attack | no defense | " + " | ".join(defenses) + " |")
    print("|---" * (len(defenses) + 2) + "|")
    for attack in attacks:
        results = [cell(args, dataset, attack, d) for d in defenses]
        column = paper["attacks"].index(attack) if attack in paper["attacks"] else None

        def fmt(hr: float, test: float, row: str) -> str:
            ref = None if "[" in row else reference.get(row)
            return f"{hr:.3f}" + (f" ({ref[column]:.3f})" if ref and column is not None else "") + f" / {test:.3f}"

        entries = [fmt(results[0]["hr_attack"]["mean"], results[0]["test_hr_attack"]["mean"], "none")]
        entries += [fmt(r["hr_defense"]["mean"], r["test_hr_defense"]["mean"], d) for r, d in zip(results, defenses)]
        print(f"| {attack} | " + " | ".join(entries) + " |")


if __name__ == "__main__":
    main()
