"""Experiment grids: the cells of a TOML file's cross product, each one seed of one spec.

A grid file names lists to cross and settings shared by every cell::

    [grid]                                  # every key takes one value or a list
    dataset = "ml-100k"
    model = "mf"
    attack = ["none", "random", "average"]  # "none": no attack
    defense = ["none", "rvd", "rvd[k=25]", "tcd[pseudo_budget=1]", "ltsmf+rvd"]
    # attacks and defenses take bracketed settings: "pga[steps=50]", "ltsmf+rvd[k=25]"
    targets = ["unpopular", "random"]
    knowledge = 0.4
    attack_size = 0.03
    seeds = 3                               # seeds seed .. seed+2 (default seed 0)

    [settings]                              # any other ExperimentSpec field, the same for all
    hr_k = 50                               # default: 50, 500 on Yelp (the RVD paper)
    ks = [10, 20, 50, 100]                  # cut-offs of the metrics at several K (the default)

    [model_options]                         # e.g. fewer epochs for a quick run
    epochs = 10
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
import sys
from typing import Any, Mapping, Sequence

from ..data.registry import paper_hr_k
from .experiment import ExperimentSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

#: Grid keys: the ExperimentSpec fields a grid may cross.
AXES = ("dataset", "model", "attack", "defense", "targets", "knowledge", "attack_size", "n_filler", "n_targets",
        "hr_k")


def share_key(spec: ExperimentSpec) -> tuple[Any, ...]:
    """Cells with equal share keys fit the same clean victim, draw the same targets and fakes
    and fit the same attacked victim: they differ only in the defense."""
    return _fields_but(spec, ("defense",))


def clean_key(spec: ExperimentSpec) -> tuple[Any, ...]:
    """Cells with equal clean keys fit the same clean victim (same data, model and seed)."""
    return _fields_but(spec, ("defense", "attack", "attack_size", "n_filler", "knowledge", "targets", "n_targets",
                              "hr_k", "ks"))


def _fields_but(spec: ExperimentSpec, left_out: tuple[str, ...]) -> tuple[Any, ...]:
    fields = {k: v for k, v in dataclasses.asdict(spec).items() if k not in left_out}
    return tuple(sorted((k, json.dumps(v, sort_keys=True, default=str)) for k, v in fields.items()))


def _none(value: Any) -> Any:
    return None if isinstance(value, str) and value.lower() == "none" else value


def expand(config: Mapping[str, Any]) -> list[ExperimentSpec]:
    """Every cell of a parsed grid config (see the module doc), one per seed, in a stable order."""
    unknown = sorted(set(config) - {"grid", "settings", "model_options"})
    if unknown:
        raise ValueError(f"unknown grid section(s) {', '.join(unknown)}; use [grid], [settings], [model_options]")
    grid = dict(config.get("grid", {}))
    seeds = grid.pop("seeds", 1)
    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"grid seeds must be an integer >= 1, got {seeds!r}")
    bad = sorted(set(grid) - set(AXES))
    if bad:
        raise ValueError(f"unknown grid key(s) {', '.join(bad)}; choose from seeds, {', '.join(AXES)}")
    if "dataset" not in grid:
        raise ValueError("a grid needs at least one dataset")
    settings = dict(config.get("settings", {}))
    first_seed = settings.pop("seed", 0)
    axes = {k: v if isinstance(v, list) else [v] for k, v in grid.items()}
    if any(not values for values in axes.values()):
        raise ValueError("every grid key needs at least one value")
    cells = []
    for combo in itertools.product(*axes.values()):
        fields = {k: _none(v) for k, v in zip(axes, combo)}
        base = dict(settings, **fields, model_options=dict(config.get("model_options", {})), seeds=1)
        base.setdefault("hr_k", paper_hr_k(str(fields["dataset"])))
        try:
            cells.extend(ExperimentSpec(**base, seed=first_seed + s) for s in range(seeds))
        except TypeError as e:
            raise ValueError(f"grid settings: {e}") from None
    return cells


def load_grid(path: str | os.PathLike[str], data_dir: str | None = None) -> list[ExperimentSpec]:
    """The cells of the TOML grid file at ``path``; ``data_dir`` (if given) locates the data."""
    with open(path, "rb") as f:
        try:
            config = tomllib.load(f)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{os.fspath(path)}: not a TOML grid file: {e}") from None
    cells = expand(config)
    if data_dir is not None:
        cells = [dataclasses.replace(c, data_dir=data_dir) for c in cells]
    return cells


def distinct(cells: Sequence[ExperimentSpec]) -> list[ExperimentSpec]:
    """``cells`` without repeats (by `ExperimentSpec.key`), first occurrence kept."""
    seen: dict[str, ExperimentSpec] = {}
    for cell in cells:
        seen.setdefault(cell.key(), cell)
    return list(seen.values())
