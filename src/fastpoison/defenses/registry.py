"""Defense names as the CLI and experiments spell them: a training-time part, RVD, or both (``ltsmf+rvd``)."""
from __future__ import annotations

from dataclasses import dataclass

from .training import TRAINING_DEFENSES, TrainingDefense


@dataclass(frozen=True)
class DefensePlan:
    """How a defended victim is built: fitted under ``training`` (None: plain fit), then
    served through RVD when ``vicinal``."""

    name: str
    training: TrainingDefense | None
    vicinal: bool


DEFENSES: tuple[str, ...] = ("rvd", *TRAINING_DEFENSES, *(f"{t}+rvd" for t in TRAINING_DEFENSES))


def get_defense(name: str) -> DefensePlan:
    """The plan for ``name`` (one of `DEFENSES`), each part with its default settings."""
    key = name.lower()
    if key not in DEFENSES:
        raise ValueError(f"unknown defense {name!r}; choose from {', '.join(DEFENSES)}")
    training, _, vicinal = key.partition("+")
    if training == "rvd":
        return DefensePlan(key, None, True)
    return DefensePlan(key, TRAINING_DEFENSES[training](), vicinal == "rvd")
