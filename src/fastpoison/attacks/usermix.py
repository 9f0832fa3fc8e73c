"""Usermix (Wu et al. 2023): fake users interpolated between pairs of real users."""
from __future__ import annotations

import numpy as np

from .knowledge import AttackerView


def usermix(view: AttackerView, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(select, values)`` for ``n`` mixed users: ``x = lam x_a + (1 - lam) x_b + noise`` of
    two random observed users' normalised rating rows, ``lam ~ Beta(0.5, 0.5)``, noise
    uniform in [-0.01, 0.01]. Items either user rated are chosen first, by mixed value;
    they are rated ``x * max``, any other item its observed mean."""
    users = view.active_users
    pairs = rng.choice(users, size=(n, 2))
    lam = rng.beta(0.5, 0.5, size=(n, 1)).astype(np.float32)
    a, b = view.normalized_rows(pairs[:, 0]), view.normalized_rows(pairs[:, 1])
    mixed = lam * a + (1 - lam) * b + rng.uniform(-0.01, 0.01, size=a.shape).astype(np.float32)
    rated = (a > 0) | (b > 0)
    select = np.where(rated, 1.0 + mixed, mixed).astype(np.float32)
    values = np.where(rated, mixed * view.scale.high, view.item_stats[0][None, :]).astype(np.float32)
    return select, values
