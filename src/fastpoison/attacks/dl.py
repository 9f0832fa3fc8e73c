"""DL attack (Huang et al. 2021): fake users made greedily, one at a time, each optimised
against a surrogate that already contains the fake users made before it.

Objective: the hinge of every target's gap to each real user's K-th best item (K = the threat model's top-K,
``margin``) in the surrogate MF, through `influence.TargetResponse`. Fake user ``z``
starts as an Average-attack user, is optimised by ``steps`` ascent steps
(`influence.ascend_profiles`), and is then committed to the surrogate's target response,
so later users aim at the users still unreached. Greedy by design: its cost grows with
the number of fake users.
"""
from __future__ import annotations

import numpy as np

from .base import Attack, ThreatModel
from .influence import Objective, TargetResponse, ascend_profiles, average_start, selection_of
from .knowledge import AttackerView


class DLAttack(Attack):
    name = "dl"

    def __init__(self, steps: int = 15, step_size: float = 0.1, margin: float = 0.1, ridge: float = 0.1) -> None:
        self.steps, self.step_size, self.margin, self.ridge = steps, step_size, margin, ridge

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        response = TargetResponse(view, threat, ridge=self.ridge)
        objective = Objective("hinge", self.margin)
        low = view.scale.low / view.scale.high
        x_all, items_all = average_start(view, threat, rng)
        for z in range(threat.n_fake):
            x, items, _ = ascend_profiles(response, x_all[z:z + 1], items_all[z:z + 1], threat, objective,
                                          steps=self.steps, step_size=self.step_size, low=low)
            x_all[z], items_all[z] = x[0], items[0]
            p, _ = response.fit_users(items, np.take_along_axis(x, items, axis=1))
            response.commit(p)
        return selection_of(items_all, view.n_items), (x_all * view.scale.high).astype(np.float32)
