"""Bandwagon attack (Burke et al. 2005): popular "selected" items at the maximum rating,
the other fillers random with global-distribution ratings.

Of the ``n_filler`` fillers, ``ceil(selected_share * n_filler)`` are the items the
attacker sees rated most often (every fake user rates them ``max``); the rest are drawn
uniformly and rated from N(global mean, global std) as in the Random attack.
"""
from __future__ import annotations

import numpy as np

from .base import Attack, ThreatModel, random_selection
from .knowledge import AttackerView


class BandwagonAttack(Attack):
    name = "bandwagon"

    def __init__(self, selected_share: float = 0.1) -> None:
        if not 0 < selected_share <= 1:
            raise ValueError("selected_share must lie in (0, 1]")
        self.selected_share = selected_share

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n_selected = int(np.ceil(self.selected_share * threat.n_filler))
        counts = view.item_counts.astype(np.float64)
        counts[threat.targets] = -1
        popular = np.argsort(-counts, kind="stable")[:n_selected]
        select = random_selection(rng, threat.n_fake, view.n_items)
        mean, std = view.global_stats
        values = rng.normal(mean, std, size=select.shape).astype(np.float32)
        select[:, popular] += 2.0  # above every random score, so always chosen
        values[:, popular] = view.scale.high
        return select, values
