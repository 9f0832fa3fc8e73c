"""Tri-model agreement pseudo-labels (TCD paper): the unrated pairs on which two models agree
once their predictions are snapped to the rating grid. Used by TCD (a defense) and by
GCoAttack (an attack), so it lives below both."""
from __future__ import annotations

import numpy as np

from .. import _core
from ..data.ratings import RatingData
from .base import TrainableModel


#: How a prediction more than half a step outside the rating grid projects (`grid_levels`):
#: ``extend`` (the TCD code's ``round(x * max) / max``: to the level beyond the ends it
#: rounds to, so a prediction near 0 on a 1..max scale projects to 0), ``clamp`` (to the
#: nearest end) or ``drop`` (to nothing: it agrees with no other prediction).
ENDS = ("extend", "clamp", "drop")

#: With ``extend``, the levels beyond the ends that a prediction may project to (the C++
#: kernel keeps levels as 16-bit integers); farther ones project to nothing.
WIDEST_LEVEL = 32767

#: Below this sampling ratio the agreement step draws the pairs first and scores only those
#: (`sampled_agreement`); above it, scoring whole user blocks is cheaper per kept pair
#: (measured on the ML-1M twin, MF d=128: 15x faster at ratio 0.01, even at 0.2, 2x slower at 0.4).
SAMPLE_FIRST_BELOW = 0.2


def sampling_ratio(ratio: float, budget: float | None, seen: RatingData, n_fit_ratings: int) -> float:
    """The Bernoulli ratio applied to agreeing pairs: ``ratio``, capped so that a model-epoch
    expects at most ``budget`` pseudo-labels per fitted rating (None: no cap); agreement is a
    subset of the pairs unrated in ``seen``."""
    if budget is None:
        return ratio
    unrated = seen.n_users * seen.n_items - seen.n_ratings
    return min(ratio, budget * n_fit_ratings / max(1, unrated))


def agreement_labels(model_a: TrainableModel, model_b: TrainableModel, seen: RatingData, *, ratio: float, seed: int,
                     block_users: int = 256, threads: int = 1, min_item_ratings: int = 0,
                     ends: str = "extend") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pseudo-labels ``(users, items, ratings)``: the pairs unrated in ``seen`` whose two
    predictions project to the same level of the rating grid (`ENDS`: how predictions
    outside it project), each kept with probability ``ratio``, on items with at least
    ``min_item_ratings`` ratings in ``seen`` (0: every item). The label is that level, which
    with ``ends="extend"`` may lie outside the scale (0 on a 1..max scale).

    Pairs come out by user, items ascending; the draws depend on ``seed`` and the user only,
    not on blocks or threads. Below `SAMPLE_FIRST_BELOW` the pairs are drawn first and only
    they are scored (`sampled_agreement`, O(kept pairs)); otherwise whole user blocks are
    scored (`block_agreement`). Either way each agreeing pair is kept independently with
    probability ``ratio``.
    """
    if ends not in ENDS:
        raise ValueError(f"ends must be one of {', '.join(ENDS)}, got {ends!r}")
    if ratio < SAMPLE_FIRST_BELOW:
        labels = sampled_agreement(model_a, model_b, seen, ratio=ratio, seed=seed, threads=threads, ends=ends)
    else:
        labels = block_agreement(model_a, model_b, seen, ratio=ratio, seed=seed, block_users=block_users,
                                 threads=threads, ends=ends)
    if min_item_ratings <= 0:
        return labels
    known = seen.item_counts()[labels[1]] >= min_item_ratings
    return labels[0][known], labels[1][known], labels[2][known]


def block_agreement(model_a: TrainableModel, model_b: TrainableModel, seen: RatingData, *, ratio: float, seed: int,
                    block_users: int = 256, threads: int = 1,
                    ends: str = "extend") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`agreement_labels` by scoring blocks of ``block_users`` users with both models (memory
    O(block x items)); a C++ kernel projects, compares, masks rated pairs and samples."""
    scale, n_levels = seen.scale, len(seen.scale.grid)
    columns: list[list[np.ndarray]] = [[], [], []]
    for start in range(0, seen.n_users, block_users):
        users = np.arange(start, min(seen.n_users, start + block_users), dtype=np.int32)
        block = _core.agreement_pairs(model_a.predict(users), model_b.predict(users), users, seen.indptr,
                                      seen.indices, scale.low, scale.step, n_levels, ratio, seed, threads, ends)
        for column, part in zip(columns, block):
            column.append(part)
    out = []
    for c in range(3):  # one column at a time, so the blocks and the result overlap by one column
        out.append(np.concatenate(columns[c]))
        columns[c] = []
    return out[0], out[1], out[2]


def sampled_agreement(model_a: TrainableModel, model_b: TrainableModel, seen: RatingData, *, ratio: float, seed: int,
                      threads: int = 1, ends: str = "extend") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`agreement_labels` by drawing each unrated pair with probability ``ratio`` first (C++,
    geometric gaps) and keeping the drawn pairs whose two predictions snap to the same grid
    rating: the same distribution, at a cost proportional to the drawn pairs."""
    users, items = _core.sample_unrated_pairs(seen.indptr, seen.indices, seen.n_items, ratio, seed, threads)
    level_a = grid_levels(seen, model_a.predict_pairs(users, items), ends=ends)
    keep = level_a == grid_levels(seen, model_b.predict_pairs(users, items), ends=ends)
    ratings = (seen.scale.low + seen.scale.step * level_a[keep]).astype(np.float32)
    return users[keep], items[keep], ratings


def grid_levels(seen: RatingData, ratings: np.ndarray, *, ends: str = "extend") -> np.ndarray:
    """Each rating's nearest grid level k (the rating low + k * step; halves round up, as the
    C++ kernel), float32; outside the grid as ``ends`` says (`ENDS`); NaN where a rating is
    not finite or projects to nothing, so it agrees with nothing."""
    scale, top = seen.scale, np.float32(len(seen.scale.grid) - 1)
    levels = np.floor((ratings - np.float32(scale.low)) * np.float32(1 / scale.step) + np.float32(0.5))
    low, high = (-WIDEST_LEVEL, WIDEST_LEVEL) if ends == "extend" else (0, top)
    clipped = np.clip(levels, low, high)
    has_level = np.isfinite(ratings) & ((clipped == levels) if ends != "clamp" else True)
    return np.where(has_level, clipped, np.nan).astype(np.float32)
