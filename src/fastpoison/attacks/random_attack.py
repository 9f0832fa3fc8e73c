"""Random attack (Lam & Riedl 2004): random fillers rated from the global rating distribution.

Fillers are drawn uniformly from the non-target items; each filler rating is drawn from
N(mean, std) of all the ratings the attacker sees, then clipped and snapped to the grid;
targets get the maximum rating.
"""
from __future__ import annotations

import numpy as np

from .base import Attack, ThreatModel, random_selection
from .knowledge import AttackerView


class RandomAttack(Attack):
    name = "random"

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        shape = (threat.n_fake, view.n_items)
        mean, std = view.global_stats
        return random_selection(rng, *shape), rng.normal(mean, std, size=shape).astype(np.float32)
