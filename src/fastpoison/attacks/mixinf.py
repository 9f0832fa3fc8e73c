"""MixInf (Wu et al. 2023): Usermix candidates filtered by their estimated influence.

A pool of ``pool_factor * n_fake`` Usermix users (`usermix.usermix`) is generated; the
influence of each on the attack loss — the hinge of every target's gap to each real
user's K-th best item (K = the threat model's top-K) — is estimated without retraining by
`influence.TargetResponse` (the candidate's fitted embedding and the targets' ridge
step), and the ``n_fake`` most harmful candidates are kept.
"""
from __future__ import annotations

import numpy as np

from .base import Attack, ThreatModel
from .influence import Objective, TargetResponse, profile_items
from .knowledge import AttackerView
from .usermix import usermix


class MixInfAttack(Attack):
    name = "mixinf"

    def __init__(self, pool_factor: int = 5, margin: float = 0.1, ridge: float = 0.1) -> None:
        if pool_factor < 1:
            raise ValueError("pool_factor must be >= 1")
        self.pool_factor, self.margin, self.ridge = pool_factor, margin, ridge

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        select, values = usermix(view, self.pool_factor * threat.n_fake, rng)
        response = TargetResponse(view, threat, ridge=self.ridge)
        items = profile_items(select, threat.targets, threat.n_filler)
        x = np.clip(np.take_along_axis(values, items, axis=1) / view.scale.high, 0.0, 1.0)
        x[:, -threat.targets.size:] = 1.0
        p, _ = response.fit_users(items, x)
        influence = response.value_each(p, Objective("hinge", self.margin))
        keep = np.sort(np.argsort(-influence, kind="stable")[: threat.n_fake])
        return select[keep], values[keep]
