"""PGA (Li et al. 2016): projected gradient ascent on the fake users' ratings.

Objective: the mean predicted rating of the targets over the real users the attacker
sees, in its surrogate MF, differentiated through the closed-form response of
`influence.TargetResponse` (the fake users' fitted embeddings and the targets' ridge step).
Fake users start as the Average attack makes them (random fillers, item-distribution
ratings); ``steps`` ascent steps of at most ``step_size`` (in ratings / max) follow, each
re-selecting the fillers as the items with the largest ratings in the fake user's dense
rating vector, as in the paper (`influence.ascend_profiles`).
"""
from __future__ import annotations

import numpy as np

from .base import Attack, ThreatModel
from .influence import Objective, TargetResponse, ascend_profiles, average_start, selection_of
from .knowledge import AttackerView


class PGAAttack(Attack):
    name = "pga"

    def __init__(self, steps: int = 30, step_size: float = 0.1, ridge: float = 0.1) -> None:
        self.steps, self.step_size, self.ridge = steps, step_size, ridge

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        response = TargetResponse(view, threat, ridge=self.ridge)
        x, items = average_start(view, threat, rng)
        x, items, _ = ascend_profiles(response, x, items, threat, Objective("mean"), steps=self.steps,
                                      step_size=self.step_size, low=view.scale.low / view.scale.high)
        return selection_of(items, view.n_items), (x * view.scale.high).astype(np.float32)
