"""Where early stopping would stop each fit and which epoch it would keep, per patience.

    python3 bench/early_stopping.py --data-dir ../shared/data ml-100k/mf ml-100k/mf/average \\
        synthetic:longtail/mf ml-100k/mf/tcd synthetic:yelp/mf/average/tcd [--seeds 3] [--patience 3,5,10]

Each CELL is ``dataset/model[/average][/tcd]``: the model fitted for all its epochs
(``patience=0``) on the clean training split or on it under a 3 % Average attack on 5
unpopular targets, as itself or under TCD (the dataset's TCD settings). Fits are
deterministic, so a fit stopped early is the full fit's prefix: the epochs run and the epoch
kept at each patience are read off the full fit's validation curve (TCD counting from its
first co-training epoch, as `TCD` does). A TCD fit co-trains more than once where its
settings say so (``labels=auto``: with clipped and with in-range labels; ``canary``: once
more on the canary's data); each co-training gets its own row, named by its labels and
data. Prints one markdown row per fit, epochs counted from 1.
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fastpoison.attacks import get_attack
from fastpoison.data.datasets import load_dataset
from fastpoison.data.targets import choose_targets
from fastpoison.defenses import TCD
from fastpoison.defenses.tcd import LABEL_ENDS
from fastpoison.models import make_model

#: The labels each projection stands for in a row's name.
ENDS_LABELS = {ends: labels for labels, ends in LABEL_ENDS.items()}


@dataclass(frozen=True)
class RecordingTCD(TCD):
    """TCD that keeps the validation curve of every co-training it runs, in ``curves``:
    ``(name, history, epoch patience counts from)``; a co-training on more users than
    ``cell_users`` is the canary's."""

    cell_users: int = 0
    curves: list[tuple[str, list[dict[str, float]], int]] = field(default_factory=list, compare=False)

    def _cotrain(self, model_factory: Any, train: Any, seed: int, progress: bool, *, ends: str) -> Any:
        head = super()._cotrain(model_factory, train, seed, progress, ends=ends)
        data = "canary" if train.n_users > self.cell_users else "data"
        self.curves.append((f"{ENDS_LABELS[ends]} labels, {data}", list(head.history), self.pretrain_epochs))
        return head


def stop(history: list[dict[str, float]], patience: int, counting_from: int = 0) -> tuple[int, int]:
    """(epochs run, 0-based epoch kept) of a fit with ``history`` under ``patience``."""
    best, best_epoch = np.inf, -1
    for epoch, record in enumerate(history):
        if record["valid_mse"] < best:
            best, best_epoch = record["valid_mse"], epoch
        if epoch - max(best_epoch, counting_from) >= patience:
            return epoch + 1, best_epoch
    return len(history), best_epoch


def full_fits(cell: str, data_dir: str | None, seed: int) -> list[tuple[str, list[dict[str, float]], int]]:
    """``(name, history, epoch patience counts from)`` of each full fit the cell runs."""
    name, model, *what = cell.split("/")
    if not set(what) <= {"average", "tcd"}:
        raise SystemExit(f"cell {cell!r}: expected dataset/model[/average][/tcd]")
    ds = load_dataset(name, data_dir)
    train = ds.split.train
    if "average" in what:
        targets = choose_targets(train, "unpopular", 5, seed=seed)
        train = get_attack("average").generate(train, targets, size=0.03, knowledge=0.4, seed=seed,
                                               top_k=50).inject(train)
    if "tcd" not in what:
        fitted = make_model(model, ds.name, patience=0).fit(train, seed=seed)
        return [("plain", fitted.history, 0)]
    tcd = RecordingTCD(**asdict(TCD.for_dataset(ds.name, train.n_users * train.n_items)), cell_users=train.n_users)
    tcd.fit(lambda **o: make_model(model, ds.name, patience=0, **o), train, seed=seed)
    return tcd.curves


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
    print("| fit | full fit's kept epoch | " + " | ".join(f"patience {p}: run, kept" for p in patiences) + " |")
    print("|---" * (2 + len(patiences)) + "|")
    for cell in args.cells:
        per_seed = [full_fits(cell, args.data_dir, seed) for seed in range(args.seeds)]
        for f in range(len(per_seed[0])):
            fits = [fits_of_seed[f] for fits_of_seed in per_seed]
            names = list(dict.fromkeys(name for name, _, _ in fits))  # the seeds' labels may differ (auto)
            kept = [int(np.argmin([r["valid_mse"] for r in history])) for _, history, _ in fits]
            row = [cell if names == ["plain"] else f"{cell} ({' / '.join(names)})", ", ".join(str(k + 1) for k in kept)]
            for p in patiences:
                stops = [stop(history, p, counting_from) for _, history, counting_from in fits]
                moved = [f"seed {s}: {k + 1}" for s, ((_, k), full) in enumerate(zip(stops, kept)) if k != full]
                row.append(f"{span([run for run, _ in stops])}, " + ("same" if not moved else ", ".join(moved)))
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
