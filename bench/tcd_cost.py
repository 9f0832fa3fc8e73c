"""TCD training time as a multiple of one plain training, pseudo-labels per epoch, peak RSS.

    python3 bench/tcd_cost.py --dataset synthetic:ml-1m [--data-dir DIR] [--model mf]
                              [--ratio R] [--budget B] [--epochs E] [--patience P] [--json out.json]

One thread, TCD's settings for the dataset (`TCD.for_dataset`) unless ``--ratio`` or
``--budget`` is given; the
plain training is the same model with the same epochs. Wall time and this process's CPU
time are both reported: on a shared machine the CPU-time ratio is the steadier one. Peak RSS is read after each phase
(the peak is reset before TCD where Linux allows it).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

from _memory import peak_rss_kib, reset_peak_rss

from fastpoison.data.datasets import load_dataset
from fastpoison.defenses import TCD
from fastpoison.models import make_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="synthetic:ml-1m")
    ap.add_argument("--data-dir")
    ap.add_argument("--model", default="mf")
    ap.add_argument("--ratio", type=float)
    ap.add_argument("--budget", type=float, help="TCD pseudo_budget: pseudo-labels per training rating")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--patience", type=int, help="early stopping of both fits (default: the model's; 0 = all epochs)")
    ap.add_argument("--json")
    args = ap.parse_args()
    ds = load_dataset(args.dataset, args.data_dir)
    train = ds.split.train
    options = {key: value for key, value in (("epochs", args.epochs), ("patience", args.patience)) if value is not None}
    start, cpu = time.perf_counter(), time.process_time()
    plain = make_model(args.model, ds.name, **options).fit(train, seed=0)
    plain_s, plain_cpu = time.perf_counter() - start, time.process_time() - cpu
    plain_rss = peak_rss_kib()
    tcd = TCD.for_dataset(ds.name, train.n_users * train.n_items)
    if args.ratio is not None:
        tcd = dataclasses.replace(tcd, pseudo_ratio=args.ratio)
    if args.budget is not None:
        tcd = dataclasses.replace(tcd, pseudo_budget=args.budget)
    reset_peak_rss()
    start, cpu = time.perf_counter(), time.process_time()
    model = tcd.fit(lambda **o: make_model(args.model, ds.name, **options, **o), train, seed=0, progress=True)
    tcd_s, tcd_cpu = time.perf_counter() - start, time.process_time() - cpu
    pseudo = [h["pseudo_labels"] for h in model.history if h["pseudo_labels"] > 0]
    result = {"dataset": args.dataset, "data_source": ds.data_source, "model": args.model,
              "n_ratings": train.n_ratings, "pretrain_epochs": tcd.pretrain_epochs, "pseudo_ratio": tcd.pseudo_ratio,
              "pseudo_budget": tcd.pseudo_budget,
              "plain_s": plain_s, "tcd_s": tcd_s, "x_plain": tcd_s / plain_s,
              "plain_cpu_s": plain_cpu, "tcd_cpu_s": tcd_cpu, "x_plain_cpu": tcd_cpu / plain_cpu,
              "pseudo_labels_per_epoch": sum(pseudo) / max(1, len(pseudo)),
              "plain_epochs_run": plain.epochs_run, "tcd_epochs_run": model.epochs_run,
              "plain_kept_epoch": plain.best_epoch, "tcd_kept_epoch": model.best_epoch,
              "peak_rss_mib_plain": plain_rss / 1024, "peak_rss_mib_tcd": peak_rss_kib() / 1024}
    print(f"{args.dataset} ({ds.data_source}) {args.model}: plain {plain_s:.1f} s, TCD {tcd_s:.1f} s "
          f"= {result['x_plain']:.1f}x (CPU {plain_cpu:.1f} s, {tcd_cpu:.1f} s = {result['x_plain_cpu']:.1f}x; "
          f"pre-train {tcd.pretrain_epochs}, ratio {tcd.pseudo_ratio}, budget {tcd.pseudo_budget}); "
          f"{result['pseudo_labels_per_epoch']:.3g} pseudo-labels per model-epoch vs {train.n_ratings} ratings; "
          f"peak RSS {result['peak_rss_mib_plain']:.0f} MiB plain, {result['peak_rss_mib_tcd']:.0f} MiB TCD; "
          f"epochs run {plain.epochs_run} plain, {model.epochs_run} TCD (kept {plain.best_epoch + 1}, "
          f"{model.best_epoch + 1})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
