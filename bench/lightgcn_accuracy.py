"""LightGCN's test HR@50 (full ranking, training items excluded) on a leave-one-out split,
epoch by epoch: one fit with the default settings (early stopping included) and one seed;
every ``--every`` epochs, and for the epoch kept, the HR@50 of the embeddings propagated over
the training interactions, with the seconds of fitting so far (validation included; one thread).

    python3 bench/lightgcn_accuracy.py --dataset ml-100k --data-dir ../shared/data [--epochs 400] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from fastpoison.data.datasets import load_dataset
from fastpoison.models import make_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--data-dir")
    ap.add_argument("--epochs", type=int, help="default: the model's")
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json")
    args = ap.parse_args()
    ds = load_dataset(args.dataset, args.data_dir)
    model = make_model("lightgcn", ds.name, **({} if args.epochs is None else {"epochs": args.epochs}))

    def hit_ratio() -> float:
        top = model.top_k(ds.split.test_users, 50).items
        return float(np.mean(np.any(top == ds.split.test_items[:, None], axis=1)))

    curve, clock = [], {"train": 0.0, "since": time.perf_counter()}

    def checkpoint(epoch: int, record: dict[str, float]) -> None:
        clock["train"] += time.perf_counter() - clock["since"]
        if (epoch + 1) % args.every == 0:
            model._after_fit()  # score as after the fit: propagated over all training interactions
            curve.append({"epoch": epoch + 1, "seconds": round(clock["train"], 1), "valid_bpr": record["valid_mse"],
                          "hr50": hit_ratio()})
            print(curve[-1], flush=True)
        clock["since"] = time.perf_counter()

    model.fit(ds.split.train, seed=args.seed, callbacks=[checkpoint])
    result = {"dataset": args.dataset, "data_source": ds.data_source, "seed": args.seed,
              "epochs_run": model.epochs_run, "best_epoch": model.best_epoch + 1,
              "train_seconds": round(clock["train"], 1), "hr50": hit_ratio(), "curve": curve}
    print(f"{args.dataset} ({ds.data_source}): {result['epochs_run']} epochs in {result['train_seconds']} s, "
          f"kept epoch {result['best_epoch']}: test HR@50 {result['hr50']:.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
