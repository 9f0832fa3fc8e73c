"""Defense names as the CLI and experiments spell them: a training-time part, RVD, or both (``ltsmf+rvd``)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

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


def get_defense(name: str, data: RatingData | None = None, dataset: str | None = None,
                options: Mapping[str, Any] | None = None) -> DefensePlan:
    """The plan for ``name`` (one of `DEFENSES`): default settings (TCD's follow the paper for
    ``dataset``, or the size of ``data``), then ``options`` for the training-time part's fields
    (e.g. ``{"pseudo_budget": 1.0}`` for TCD); an option it does not have is a ValueError."""
    key = name.lower()
    if key not in DEFENSES:
        raise ValueError(f"unknown defense {name!r}; choose from {', '.join(DEFENSES)}")
    training, _, vicinal = key.partition("+")
    if training == "rvd":
        part = None
    elif training == TCD.name:
        n_pairs = None if data is None else data.n_users * data.n_items
        part = TCD.for_dataset(dataset, n_pairs)
    else:
        part = ROBUST_OBJECTIVES[training]()
    return DefensePlan(key, _with_options(key, part, dict(options or {})), training == "rvd" or vicinal == "rvd")


def _with_options(name: str, part: TrainingDefense | None, options: dict[str, Any]) -> TrainingDefense | None:
    if not options:
        return part
    known = set() if part is None else {f.name for f in dataclasses.fields(part)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - known)
    if unknown:
        accepted = f"it accepts {', '.join(sorted(known))}" if known else "it takes no options"
        raise ValueError(f"defense {name} has no option {', '.join(unknown)}; {accepted}")
    try:
        return dataclasses.replace(part, **options)  # type: ignore[type-var]
    except TypeError as e:  # a value of the wrong type that the defense's own checks did not catch
        raise ValueError(f"defense {name}: {e}") from None
