"""Average attack (Lam & Riedl 2004): random fillers rated from each item's own distribution.

Fillers are drawn uniformly from the non-target items; the rating of filler ``j`` is drawn
from N(mean_j, std_j) of the attacker's observed ratings of ``j`` (the global figures for
items it saw fewer than twice), clipped and snapped; targets get the maximum rating.
"""
from __future__ import annotations

import numpy as np

from .base import Attack, ThreatModel, random_selection
from .knowledge import AttackerView


class AverageAttack(Attack):
    name = "average"

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        mean, std = view.item_stats
        values = rng.normal(mean, std, size=(threat.n_fake, view.n_items)).astype(np.float32)
        return random_selection(rng, threat.n_fake, view.n_items), values
