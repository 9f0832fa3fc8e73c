"""Choosing the items an attacker promotes (the threat model's targets)."""
from __future__ import annotations

import numpy as np

from .ratings import RatingData

#: Items with fewer ratings than this count as unpopular (both papers use 5).
UNPOPULAR_BELOW = 5


def choose_targets(data: RatingData, how: str = "random", n: int = 5, seed: int = 0) -> np.ndarray:
    """Target item ids (int32, sorted): ``"random"`` items, ``"unpopular"`` items
    (rated by fewer than 5 users, at least one), or explicit ids ``"3,17,42"``.

    Raises ValueError for unknown modes, ids outside the item range, ``n`` < 1, or too
    few candidate items.
    """
    how = how.strip()
    if how not in ("random", "unpopular"):
        try:
            ids = np.array(sorted({int(x) for x in how.split(",") if x.strip()}), dtype=np.int32)
        except ValueError:
            raise ValueError(f"targets must be 'random', 'unpopular' or comma-separated item ids, not {how!r}") from None
        if ids.size == 0 or ids.min() < 0 or ids.max() >= data.n_items:
            raise ValueError(f"target ids must lie in [0, {data.n_items})")
        return ids
    if n < 1:
        raise ValueError("the number of targets must be >= 1")
    counts = data.item_counts()
    candidates = np.flatnonzero((counts > 0) & (counts < UNPOPULAR_BELOW)) if how == "unpopular" \
        else np.arange(data.n_items)
    if candidates.size < n:
        raise ValueError(f"only {candidates.size} {how} items exist, {n} targets requested")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7A4]))
    return np.sort(rng.choice(candidates, size=n, replace=False)).astype(np.int32)
