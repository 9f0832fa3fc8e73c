"""TCD epoch by epoch: the head's validation MSE and target HR@50 after every epoch.

    python3 bench/tcd_epochs.py --dataset ml-1m --data-dir ../shared/data [--attack average]
                                [--targets unpopular] [--seed 0] [--json out.json]

MF at the dataset's settings, every epoch run (``patience=0``), TCD at the dataset's
settings (`TCD.for_dataset`), the attack at 3 % with knowledge 0.4 against 5 targets.
Target HR counts every real user (the TCD code's definition). Prints the plain attacked
model's kept epoch and target HR, then one line per TCD epoch, then the epoch TCD keeps:
whether choosing the epoch by validation MSE keeps or loses TCD's effect.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from fastpoison.attacks import get_attack
from fastpoison.data.datasets import load_dataset
from fastpoison.data.targets import choose_targets
from fastpoison.defenses import TCD
from fastpoison.eval.metrics import target_hit_ratio
from fastpoison.models import TrainableModel, make_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--data-dir")
    ap.add_argument("--attack", default="average")
    ap.add_argument("--targets", default="unpopular")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args()
    ds = load_dataset(args.dataset, args.data_dir)
    train = ds.split.train
    targets = choose_targets(train, args.targets, 5, seed=args.seed)
    poisoned = get_attack(args.attack).generate(train, targets, size=0.03, knowledge=0.4, seed=args.seed,
                                                top_k=50).inject(train)
    real = np.arange(train.n_users, dtype=np.int32)
    rated = poisoned.csr[: train.n_users]

    def target_hr(model: TrainableModel) -> float:
        return target_hit_ratio(model.top_k(real, 50).items, targets, rated, exclude_raters=False)

    plain = make_model("mf", ds.name, patience=0).fit(poisoned, seed=args.seed)
    out = {"plain_kept_epoch": plain.best_epoch + 1, "plain_target_hr": target_hr(plain), "epochs": []}
    print(f"plain attacked MF: kept epoch {out['plain_kept_epoch']}, target HR {out['plain_target_hr']:.4f}")

    def traced(**options) -> TrainableModel:
        """An MF whose per-epoch validation (TCD calls it on the head only) also records target HR."""
        model = make_model("mf", ds.name, patience=0, **options)
        validation_mse = model.validation_mse

        def measured(valid):
            mse = validation_mse(valid)
            out["epochs"].append({"epoch": len(out["epochs"]) + 1, "valid_mse": mse, "target_hr": target_hr(model)})
            print(f"TCD epoch {len(out['epochs']):2d}: valid MSE {mse:.5f}, target HR {out['epochs'][-1]['target_hr']:.4f}",
                  flush=True)
            return mse

        model.validation_mse = measured
        return model

    head = TCD.for_dataset(ds.name, train.n_users * train.n_items).fit(traced, poisoned, seed=args.seed)
    out["tcd_kept_epoch"], out["tcd_target_hr"] = head.best_epoch + 1, target_hr(head)
    print(f"TCD keeps epoch {out['tcd_kept_epoch']}: target HR {out['tcd_target_hr']:.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
