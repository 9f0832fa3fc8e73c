"""Where early stopping would stop each fit and which epoch it would keep, per patience.

    python3 bench/early_stopping.py --data-dir ../shared/data ml-100k/mf ml-100k/mf/average \\
        synthetic:longtail/mf ml-100k/tcd [--seeds 3] [--patience 3,5,10]

Each CELL is ``dataset/model[/average|/tcd]``: the model fitted for all its epochs
(``patience=0``) on the clean training split, on it under a 3 % Average attack on 5
unpopular targets, or as TCD's head (the dataset's TCD settings). Fits are deterministic,
so a fit stopped early is the full fit's prefix: the epochs run and the epoch kept at each
patience are read off the full fit's validation curve (TCD counting from its first
co-training epoch, as `TCD` does). Prints one markdown row per cell, epochs counted from 1.
"""
from __future__ import annotations

import argparse

import numpy as np

from fastpoison.attacks import get_attack
from fastpoison.data.datasets import load_dataset
from fastpoison.data.targets import choose_targets
from fastpoison.defenses import TCD
from fastpoison.models import make_model


def stop(history: list[dict[str, float]], patience: int, counting_from: int = 0) -> tuple[int, int]:
    """(epochs run, 0-based epoch kept) of a fit with ``history`` under ``patience``."""
    best, best_epoch = np.inf, -1
    for epoch, record in enumerate(history):
        if record["valid_mse"] < best:
            best, best_epoch = record["valid_mse"], epoch
        if epoch - max(best_epoch, counting_from) >= patience:
            return epoch + 1, best_epoch
    return len(history), best_epoch


def full_fit(cell: str, data_dir: str | None, seed: int):
    """The full fit's history, kept epoch and the epoch patience counts from."""
    name, model, *what = cell.split("/")
    ds = load_dataset(name, data_dir)
    train = ds.split.train
    if what == ["average"]:
        targets = choose_targets(train, "unpopular", 5, seed=seed)
        train = get_attack("average").generate(train, targets, size=0.03, knowledge=0.4, seed=seed,
                                               top_k=50).inject(train)
    if what == ["tcd"]:
        tcd = TCD.for_dataset(ds.name, train.n_users * train.n_items)
        fitted = tcd.fit(lambda **o: make_model(model, ds.name, patience=0, **o), train, seed=seed)
        return fitted.history, fitted.best_epoch, tcd.pretrain_epochs
    fitted = make_model(model, ds.name, patience=0).fit(train, seed=seed)
    return fitted.history, fitted.best_epoch, 0


def span(values: list[int]) -> str:
    return str(min(values)) if min(values) == max(values) else f"{min(values)}–{max(values)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cells", nargs="+", metavar="CELL")
    ap.add_argument("--data-dir")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--patience", default="3,5,10")
    args = ap.parse_args()
    patiences = [int(p) for p in args.patience.split(",")]
    print("| cell | full fit's kept epoch | " + " | ".join(f"patience {p}: run, kept" for p in patiences) + " |")
    print("|---" * (2 + len(patiences)) + "|")
    for cell in args.cells:
        fits = [full_fit(cell, args.data_dir, seed) for seed in range(args.seeds)]
        row = [cell, ", ".join(str(kept + 1) for _, kept, _ in fits)]
        for p in patiences:
            stops = [stop(history, p, counting_from) for history, _, counting_from in fits]
            moved = [f"seed {s}: {kept + 1}" for s, ((_, kept), (_, full, _)) in enumerate(zip(stops, fits))
                     if kept != full]
            row.append(f"{span([run for run, _ in stops])}, " + ("same" if not moved else ", ".join(moved)))
        print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
