"""Synthetic twins: seeded random datasets with the shape of the real benchmarks.

A twin has the real dataset's user, item and rating counts and rating grid, long-tailed
item popularity and user activity, and ratings from a low-rank latent model (user and
item factors, biases and noise) mapped onto the grid so that the rating histogram
matches the real one. It stands in for data that is not available locally. A calibrated
twin also sets the `TwinShape` fields that skew the activity and popularity laws and weigh
popularity, taste and noise in the scores, fitted so that experiments on it come out as on
the real data. Shapes that exist only as twins (``synthetic_only`` records: a long tail, a
sparse set, item ids with gaps) test defenses on data the papers never used.
"""
from __future__ import annotations

import numpy as np

from ..errors import DataError
from .ratings import RatingData
from .records import DatasetRecord, TwinShape
from .registry import DATASETS, rating_threshold, twin_names
from .scale import RatingScale
from .split import Split, leave_one_out, sample_distinct


def _twin_record(name: str) -> DatasetRecord:
    """The registered record of ``name``; raises `DataError` unless it has a twin."""
    record = DATASETS.get(name)
    if record is None or record.twin is None:
        raise DataError(f"no synthetic twin named {name!r}; choose one of {', '.join(twin_names())}")
    return record


def _weights(rng: np.random.Generator, sigma: float, head_sigma: float | None, n: int) -> np.ndarray:
    """``n`` lognormal weights of median 1: log-sigma ``sigma`` below the median and
    ``head_sigma`` above it (``None``: ``sigma``, one plain lognormal draw)."""
    weights = rng.lognormal(0.0, sigma, n)
    if head_sigma is not None:
        head = weights > 1.0
        weights[head] **= head_sigma / sigma
    return weights


def _user_counts(rng: np.random.Generator, shape: TwinShape, n_items: int) -> np.ndarray:
    """Ratings per user: ``min_per_user`` plus a (two-piece) lognormal share of the rest,
    capped at the ``n_items`` rated items."""
    weights = _weights(rng, shape.activity_sigma, shape.activity_head_sigma, shape.n_users)
    counts = np.full(shape.n_users, shape.min_per_user, dtype=np.int64)
    spare = shape.n_ratings - counts.sum()
    while spare > 0:
        open_ = counts < n_items
        counts[open_] += rng.multinomial(spare, weights[open_] / weights[open_].sum())
        spare = int(np.maximum(counts - n_items, 0).sum())
        np.minimum(counts, n_items, out=counts)
    return counts


def _pairs(rng: np.random.Generator, counts: np.ndarray, popularity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (user, item) pairs, ``counts[u]`` per user, every item at least once.

    Each item first goes to one random rating slot (so to a user in proportion to their
    activity); the users' remaining slots are filled by popularity-weighted sampling.
    """
    n_users, n_items = len(counts), len(popularity)
    slots = rng.choice(int(counts.sum()), n_items, replace=False)
    owner = np.searchsorted(np.cumsum(counts), slots, side="right")
    order = np.argsort(owner, kind="stable")
    seeded_items = order.astype(np.int32)
    seeded_ptr = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n_users))])
    rest = counts - np.diff(seeded_ptr)
    sampled = sample_distinct(rest, popularity, (seeded_ptr, seeded_items), int(rng.integers(2**63 - 1)))
    users = np.concatenate([owner[order], np.repeat(np.arange(n_users), rest)])
    return users, np.concatenate([seeded_items, sampled])


def _popularity(rng: np.random.Generator, shape: TwinShape, n_rated: int) -> np.ndarray:
    """Popularity weights of the ``n_rated`` rated items, capped at their ``popularity_cap``
    quantile so that no item is rated by nearly everyone."""
    popularity = _weights(rng, shape.popularity_sigma, shape.popularity_head_sigma, n_rated)
    return np.minimum(popularity, np.quantile(popularity, shape.popularity_cap))


def _ratings(rng: np.random.Generator, users: np.ndarray, items: np.ndarray, popularity: np.ndarray,
             shape: TwinShape, scale: RatingScale) -> np.ndarray:
    """Low-rank scores (popular items score higher by ``popularity_effect``) cut at quantiles
    onto the grid so that the ratings follow ``shape.histogram``."""
    n_items, rank = len(popularity), shape.rank
    p_factors = rng.normal(size=(shape.n_users, rank))
    q_factors = rng.normal(size=(n_items, rank))
    user_bias = rng.normal(size=shape.n_users)
    log_pop = np.log(popularity)
    item_bias = rng.normal(size=n_items) + shape.popularity_effect * (log_pop - log_pop.mean()) / log_pop.std()
    interaction = np.einsum("ij,ij->i", p_factors[users], q_factors[items]) / np.sqrt(rank)
    score = (0.5 * user_bias[users] + 0.6 * item_bias[items] + shape.interaction * interaction
             + shape.noise * rng.normal(size=len(users)))
    cuts = np.quantile(score, np.cumsum(shape.histogram)[:-1] / np.sum(shape.histogram))
    return scale.grid[np.searchsorted(cuts, score)]


def synthetic_ratings(name: str, seed: int = 0) -> RatingData:
    """All ratings of the twin of ``name`` (a registered dataset with a ``twin``, see
    `registry.twin_names`); same seed, same arrays."""
    record = _twin_record(name)
    shape, scale = record.twin, record.scale
    n_users, n_items = shape.n_users, shape.n_items
    n_rated = n_items - int(round(shape.unrated_share * n_items))
    rng = np.random.default_rng(seed)
    counts = _user_counts(rng, shape, n_rated)
    popularity = _popularity(rng, shape, n_rated)
    users, rated = _pairs(rng, counts, popularity)
    ratings = _ratings(rng, users, rated, popularity, shape, scale)
    ids = np.arange(n_items) if n_rated == n_items else np.sort(rng.choice(n_items, n_rated, replace=False))
    items = ids[rated]
    meta = {"data_source": "synthetic", "twin_of": name, "seed": seed}
    return RatingData.from_coo(users, items, ratings, n_users, n_items, scale, name=name, meta=meta)


def synthetic_twin(name: str, seed: int = 0) -> Split:
    """The twin of ``name`` split leave-one-out (seeded; unless the shape's ``liked_test`` is
    off, the held-out rating is a liked one, >= `registry.rating_threshold`, whenever the
    user has one)."""
    data = synthetic_ratings(name, seed)
    liked = _twin_record(name).twin.liked_test
    return leave_one_out(data, seed=seed, threshold=rating_threshold(name, data.scale) if liked else None)
