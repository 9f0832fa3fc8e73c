"""MixRand (Wu et al. 2023): Usermix users with the targets at the maximum rating.

Each fake user interpolates two random real users the attacker sees (`usermix.usermix`),
keeps the ``n_filler`` items with the highest mixed ratings and rates the targets ``max``.
No model is consulted.
"""
from __future__ import annotations

import numpy as np

from .base import Attack, ThreatModel
from .knowledge import AttackerView
from .usermix import usermix


class MixRandAttack(Attack):
    name = "mixrand"

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return usermix(view, threat.n_fake, rng)
