"""Defense names as the CLI and experiments spell them: a training-time part, RVD, or both (``ltsmf+rvd``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..data.ratings import RatingData
from .tcd import TCD
from .training import ROBUST_OBJECTIVES, TrainingDefense

TRAINING_DEFENSES: tuple[str, ...] = (*ROBUST_OBJECTIVES, TCD.name)
DEFENSES: tuple[str, ...] = ("rvd", *TRAINING_DEFENSES, *(f"{t}+rvd" for t in TRAINING_DEFENSES))


@dataclass(frozen=True)
class DefensePlan:
    """How a defended victim is built: fitted under ``training`` (None: plain fit), then
    served through RVD when ``vicinal``."""

    name: str
    training: TrainingDefense | None
    vicinal: bool


def get_defense(name: str, data: RatingData | None = None, dataset: str | None = None) -> DefensePlan:
    """The plan for ``name`` (one of `DEFENSES`) with default settings; TCD's follow the paper
    for ``dataset`` (or the size of ``data``)."""
    key = name.lower()
    if key not in DEFENSES:
        raise ValueError(f"unknown defense {name!r}; choose from {', '.join(DEFENSES)}")
    training, _, vicinal = key.partition("+")
    if training == "rvd":
        return DefensePlan(key, None, True)
    if training == TCD.name:
        n_pairs = None if data is None else data.n_users * data.n_items
        return DefensePlan(key, TCD.for_dataset(dataset, n_pairs), vicinal == "rvd")
    return DefensePlan(key, ROBUST_OBJECTIVES[training](), vicinal == "rvd")
