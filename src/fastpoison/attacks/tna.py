"""TNA, the S-TNA variant (Fang, Gong & Liu 2020): promote the targets into the top-K lists
of the most influential subset of users.

Objective: ``-mean max(s_u(K) - s_ut, -margin)`` over the subset ``S`` of users the
attacker sees (hinge on each target's gap to the user's K-th best item, K = the threat model's top-K), in the
surrogate MF and through `influence.TargetResponse`. ``S`` is the ``user_share`` of users
whose gaps are cheapest to close, i.e. with the smallest mean gap divided by ``|p_u|``
(the distance the target factors must move for them), the users on which a change of the
targets has the most effect. Profiles are optimised by `influence.ascend_profiles` from
Average-attack users.
"""
from __future__ import annotations

import numpy as np

from .base import Attack, ThreatModel
from .influence import Objective, TargetResponse, ascend_profiles, average_start, selection_of
from .knowledge import AttackerView


class TNAAttack(Attack):
    name = "tna"

    def __init__(self, user_share: float = 0.5, steps: int = 30, step_size: float = 0.1, margin: float = 0.1,
                 ridge: float = 0.1) -> None:
        if not 0 < user_share <= 1:
            raise ValueError("user_share must lie in (0, 1]")
        self.user_share, self.steps, self.step_size, self.margin, self.ridge = user_share, steps, step_size, margin, ridge

    def influential_users(self, response: TargetResponse) -> np.ndarray:
        """0/1 weights over the attacker's users: 1 on the influential subset."""
        gaps = response.kth[:, None] - response.P @ response.Q[response.targets].T
        effort = gaps.mean(axis=1) / np.maximum(np.linalg.norm(response.P, axis=1), 1e-12)
        chosen = np.argsort(effort, kind="stable")[: max(1, int(self.user_share * len(effort)))]
        weights = np.zeros(len(effort))
        weights[chosen] = 1.0
        return weights

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        response = TargetResponse(view, threat, ridge=self.ridge)
        objective = Objective("hinge", self.margin, self.influential_users(response))
        x, items = average_start(view, threat, rng)
        x, items, _ = ascend_profiles(response, x, items, threat, objective, steps=self.steps,
                                      step_size=self.step_size, low=view.scale.low / view.scale.high)
        return selection_of(items, view.n_items), (x * view.scale.high).astype(np.float32)
