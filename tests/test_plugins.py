"""Plug-ins: an attack and a defense (a training part and a serving part) defined here, outside
the package, registered by name and run through `run_experiment`, a grid and the CLI."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from fastpoison.attacks import ATTACKS, Attack, register_attack
from fastpoison.attacks.base import random_selection
from fastpoison.cli import main
from fastpoison.defenses import DEFENSES, ServingDefense, TrainingDefense, get_defense, register_defense
from fastpoison.eval.experiment import ExperimentSpec, run_experiment
from fastpoison.eval.grid import expand
from fastpoison.eval.runner import run_grid
from fastpoison.eval.store import ResultStore
from fastpoison.models.scoring import TopK


class TargetsOnly(Attack):
    """Fake users who rate random fillers at ``filler_rating`` (the targets at the maximum)."""

    name = "toy_targets_only"

    def __init__(self, filler_rating: float = 1.0) -> None:
        self.filler_rating = filler_rating

    def craft(self, view, threat, rng):
        select = random_selection(rng, threat.n_fake, view.n_items)
        return select, np.full_like(select, self.filler_rating)


@dataclass(frozen=True)
class DropMaxRaters(TrainingDefense):
    """Refits without the users whose share of top-grade ratings exceeds ``max_share``."""

    max_share: float = 0.5
    name: ClassVar[str] = "toy_drop_max_raters"

    def fit(self, model_factory, train, *, seed=0, progress=False):
        rows = np.repeat(np.arange(train.n_users), np.diff(train.indptr))
        top = np.bincount(rows, weights=train.values >= train.scale.high, minlength=train.n_users)
        share = top / np.maximum(1, np.diff(train.indptr))
        return model_factory().fit(train.subset_ratings(share[rows] <= self.max_share), seed=seed)


@dataclass(frozen=True)
class PopularityFloor(ServingDefense):
    """Recommends only items with at least ``min_ratings`` training ratings."""

    min_ratings: int = 5
    name: ClassVar[str] = "toy_floor"

    def serve(self, model, *, seed=0, progress=False):
        allowed = np.bincount(model.seen_indices, minlength=model.n_items) >= self.min_ratings

        def recommend(users, k):
            top = model.top_k(users, k=model.n_items)
            items = np.full((len(users), k), -1, dtype=np.int32)
            for r, row in enumerate(top.items):
                kept = row[(row >= 0) & allowed[np.maximum(row, 0)]][:k]
                items[r, :len(kept)] = kept
            return TopK(items, np.zeros(items.shape, np.float32))
        return recommend


@pytest.fixture(autouse=True)
def toys():
    register_attack(TargetsOnly)
    register_defense(DropMaxRaters)
    register_defense(PopularityFloor)
    yield
    for registry, entry in ((ATTACKS, TargetsOnly), (DEFENSES, DropMaxRaters), (DEFENSES, PopularityFloor)):
        registry.pop(entry.name)


DEFENSE = "toy_drop_max_raters[max_share=0.9]+toy_floor[min_ratings=100000]"
OPTIONS = {"epochs": 2, "factors": 8}


def test_toys_run_through_run_experiment():
    spec = ExperimentSpec(dataset="synthetic:filmtrust", attack="toy_targets_only[filler_rating=2]", defense=DEFENSE,
                          targets="unpopular", model_options=OPTIONS)
    result = run_experiment(spec)
    assert result["attack_settings"] == {"filler_rating": 2.0}
    assert result["defense_settings"] == {"toy_drop_max_raters": {"max_share": 0.9},
                                          "toy_floor": {"min_ratings": 100000}}
    assert result["hr_attack"]["mean"] > result["hr_origin"]["mean"]  # the toy attack works on its own
    assert result["hr_defense"]["mean"] == 0.0  # no item has 100,000 ratings: nothing is recommended
    assert result["test_hr_defense"]["mean"] == 0.0


def test_toys_run_through_a_grid_and_the_cli(tmp_path):
    cells = expand({"grid": {"dataset": "synthetic:filmtrust", "attack": "toy_targets_only",
                             "defense": ["toy_floor[min_ratings=1]", "toy_drop_max_raters"], "targets": "unpopular"},
                    "model_options": OPTIONS})
    outcome = run_grid(cells, str(tmp_path / "grid"))
    assert outcome.ran == 2 and not outcome.failed
    records = {r["spec"]["defense"]: r["result"] for r in ResultStore(tmp_path / "grid").records()}
    assert records["toy_floor[min_ratings=1]"]["defense_settings"] == {"toy_floor": {"min_ratings": 1}}
    assert records["toy_drop_max_raters"]["defense_settings"] == {"toy_drop_max_raters": {"max_share": 0.5}}
    out = tmp_path / "run.json"
    assert main(["run", "--dataset", "synthetic:filmtrust", "--attack", "toy_targets_only", "--defense", DEFENSE,
                 "--epochs", "2", "--factors", "8", "--quiet", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["hr_defense"]["mean"] == 0.0


def test_bad_plugins_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_defense(type("Other", (PopularityFloor,), {"name": "rvd"}))
    with pytest.raises(ValueError, match="neither"):
        register_defense(TargetsOnly)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="plain name"):
        register_attack(type("Bad", (TargetsOnly,), {"name": "bad[1]"}))
    with pytest.raises(ValueError, match="an attack named 'pga' is already registered"):
        register_attack(type("Other", (TargetsOnly,), {"name": "pga"}))
    with pytest.raises(ValueError, match="toy_floor has no setting floor"):
        get_defense("toy_floor[floor=3]")
