"""Ranking accuracy on held-out training ratings: how a defense chooses between its settings
without knowing the attack."""
from __future__ import annotations

import numpy as np

from ..data.ratings import RatingData
from .base import TrainableModel

#: Users scored at once, and held-out pairs ranked at once within them (memory: block x items).
_USER_BLOCK = 256
_PAIR_CHUNK = 64


def validation_hit_ratio(model: TrainableModel, fit_part: RatingData, valid: tuple[np.ndarray, ...], *, k: int,
                         liked: float) -> tuple[float, int]:
    """HR@``k`` of the held-out ratings ``valid`` = (users, items, ratings) at or above ``liked``:
    the share whose item ranks among the user's ``k`` best items not rated in ``fit_part``
    (what the model trained on; the held-out items are candidates), and the number of such
    pairs. Every user in ``valid`` counts, fake ones included: a defense cannot tell them
    apart."""
    users, items, ratings = valid
    keep = ratings >= liked - 1e-4
    users, items = users[keep].astype(np.int32), items[keep].astype(np.int64)
    if users.size == 0:
        return 0.0, 0
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    distinct = np.unique(users)
    hits = 0
    for start in range(0, distinct.size, _USER_BLOCK):
        block = distinct[start:start + _USER_BLOCK]
        lo, hi = np.searchsorted(users, block[0], "left"), np.searchsorted(users, block[-1], "right")
        rows, block_items = np.searchsorted(block, users[lo:hi]), items[lo:hi]
        scores = np.array(model.predict(block), dtype=np.float32)
        sub = fit_part.csr[block]
        scores[np.repeat(np.arange(block.size), np.diff(sub.indptr)), sub.indices] = -np.inf
        own = scores[rows, block_items]
        for c in range(0, rows.size, _PAIR_CHUNK):
            above = (scores[rows[c:c + _PAIR_CHUNK]] > own[c:c + _PAIR_CHUNK, None]).sum(axis=1)
            hits += int((above < k).sum())
    return hits / users.size, int(users.size)
