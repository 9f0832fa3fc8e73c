"""Train/test splits: the `Split` container, leave-one-out, validation hold-outs, negatives."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numba import njit

from .ratings import RatingData
from .scale import RatingScale

Triple = tuple[np.ndarray, np.ndarray, np.ndarray]


def _frozen(a: np.ndarray, dtype: type) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Split:
    """Disjoint train, test (and optional validation) ratings over one user x item grid.

    ``test_*`` are parallel arrays (at most one test rating per user, sorted by user);
    ``negatives[k]`` are the sampled unrated items ranked against test item ``k``;
    ``valid`` is ``(users, items, ratings)`` held out of ``train`` for model selection.
    """

    train: RatingData
    test_users: np.ndarray
    test_items: np.ndarray
    test_ratings: np.ndarray
    negatives: np.ndarray | None = None
    valid: Triple | None = None

    def __post_init__(self) -> None:
        for name, dtype in (("test_users", np.int32), ("test_items", np.int32), ("test_ratings", np.float32)):
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype))
        n = len(self.test_users)
        if self.test_items.shape != (n,) or self.test_ratings.shape != (n,):
            raise ValueError("test_users, test_items and test_ratings must be 1-d of one length")
        if n and (self.test_users.min() < 0 or self.test_users.max() >= self.train.n_users
                  or self.test_items.min() < 0 or self.test_items.max() >= self.train.n_items):
            raise ValueError("test ids out of range of the train grid")
        if self.negatives is not None:
            neg = _frozen(self.negatives, np.int32)
            if neg.ndim != 2 or neg.shape[0] != n:
                raise ValueError("negatives must have one row per test rating")
            object.__setattr__(self, "negatives", neg)
        if self.valid is not None:
            u, i, r = self.valid
            valid = (_frozen(u, np.int32), _frozen(i, np.int32), _frozen(r, np.float32))
            if not valid[0].shape == valid[1].shape == valid[2].shape or valid[0].ndim != 1:
                raise ValueError("valid must be three 1-d arrays of one length")
            object.__setattr__(self, "valid", valid)

    @property
    def n_test(self) -> int:
        return len(self.test_users)

    def cold_test(self) -> np.ndarray:
        """Boolean mask over the test ratings: those whose item has no training rating."""
        return self.train.item_counts()[self.test_items] == 0

    def full(self) -> RatingData:
        """Train, validation and test ratings together as one dataset."""
        u, i, r = self.train.coo()
        parts = [(u, i, r), (self.test_users, self.test_items, self.test_ratings)]
        if self.valid is not None:
            parts.append(self.valid)
        t = self.train
        return RatingData.from_coo(*(np.concatenate(p) for p in zip(*parts)), t.n_users, t.n_items,
                                   t.scale, name=t.name, n_real_users=t.n_real_users, meta=t.meta)


def default_threshold(scale: RatingScale) -> float:
    """The "liked" threshold: the grid value nearest to the top quarter (4 on 1..5, 6 on 1..8)."""
    return float(scale.snap(np.float64(scale.high - (scale.high - scale.low) / 4)))


def _rows(data: RatingData) -> np.ndarray:
    return np.repeat(np.arange(data.n_users, dtype=np.int64), data.user_counts())


def _without(data: RatingData, held: np.ndarray, note: dict[str, object]) -> RatingData:
    """``data`` minus the ratings at positions ``held``, with ``note`` added to a fresh meta."""
    keep = np.ones(data.n_ratings, dtype=bool)
    keep[held] = False
    return replace(data.subset_ratings(keep), meta={**data.meta, **note})


def leave_one_out(data: RatingData, *, seed: int = 0, threshold: float | None = None) -> Split:
    """Hold out one random rating of every user with >= 2 ratings.

    With ``threshold``, the held-out rating is drawn uniformly among the user's ratings
    >= threshold when there is one, else among all of them. Users with < 2 ratings keep
    everything in train and have no test entry.
    """
    rng = np.random.default_rng(seed)
    rows = _rows(data)
    key = rng.random(data.n_ratings)
    if threshold is not None:
        key += data.values >= threshold - 1e-4
    order = np.lexsort((-key, rows))  # within each user, the highest key first
    users = np.flatnonzero(data.user_counts() >= 2)
    held = order[data.indptr[users]]
    train = _without(data, held, {"split": {"method": "leave_one_out", "seed": seed, "threshold": threshold}})
    return Split(train, users, data.indices[held], data.values[held])


def validation_split(train: RatingData, fraction: float = 0.1, seed: int = 0) -> tuple[RatingData, Triple]:
    """Hold out ``round(fraction * n_ratings)`` random ratings (fewer if needed so that
    every user keeps at least one); returns the rest and the held-out ``(u, i, r)``."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must lie in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    rows = _rows(train)
    counts = train.user_counts()
    order = np.lexsort((rng.random(train.n_ratings), rows))
    candidates = np.ones(train.n_ratings, dtype=bool)
    candidates[order[train.indptr[:-1][counts > 0]]] = False  # one random rating kept per user
    pool = np.flatnonzero(candidates)
    n_hold = min(int(round(fraction * train.n_ratings)), len(pool))
    held = np.sort(rng.choice(pool, n_hold, replace=False))
    rest = _without(train, held, {"validation": {"fraction": fraction, "seed": seed}})
    return rest, (rows[held].astype(np.int32), train.indices[held].copy(), train.values[held].copy())


@njit(cache=True)
def _rejection_kernel(counts, cdf, ex_ptr, ex_idx, seed, out_ptr, out):  # pragma: no cover - compiled
    """Fill ``out[out_ptr[u]:out_ptr[u] + counts[u]]`` by weighted draws (inverse ``cdf``),
    rejecting items already taken or excluded for row ``u``."""
    np.random.seed(seed)
    n_items = cdf.shape[0]
    mark = np.full(n_items, -1, np.int64)
    for u in range(counts.shape[0]):
        for p in range(ex_ptr[u], ex_ptr[u + 1]):
            mark[ex_idx[p]] = u
        got = 0
        while got < counts[u]:
            x = np.random.random() * cdf[-1]
            lo, hi = 0, n_items - 1  # first j with cdf[j] > x
            while lo < hi:
                mid = (lo + hi) // 2
                if cdf[mid] > x:
                    hi = mid
                else:
                    lo = mid + 1
            if mark[lo] != u:
                mark[lo] = u
                out[out_ptr[u] + got] = lo
                got += 1


def sample_distinct(counts: np.ndarray, weights: np.ndarray, exclude: tuple[np.ndarray, np.ndarray],
                    seed: int) -> np.ndarray:
    """For each row ``u``, ``counts[u]`` distinct items drawn without replacement with
    probability proportional to ``weights`` (all > 0), never one of row ``u`` of the CSR
    pair ``exclude = (indptr, indices)`` (distinct items per row). Returns the items of all
    rows concatenated in row order (int32). Deterministic in ``seed``."""
    counts = np.asarray(counts, dtype=np.int64)
    weights = np.asarray(weights, dtype=np.float64)
    ex_ptr, ex_idx = (np.asarray(a, dtype=np.int64) for a in exclude)
    if not np.all(weights > 0) or not np.all(np.isfinite(weights)):
        raise ValueError("weights must be positive and finite")
    room = len(weights) - np.diff(ex_ptr)
    if np.any(counts < 0) or np.any(counts > room):
        u = int(np.argmax((counts < 0) | (counts > room)))
        raise ValueError(f"row {u} asks for {counts[u]} items but only {room[u]} are available")
    rng = np.random.default_rng(seed)
    out_ptr = np.concatenate([[0], np.cumsum(counts)])
    out = np.empty(int(out_ptr[-1]), dtype=np.int32)
    heavy = 4 * counts > room  # rejection would stall: use exact Efraimidis-Spirakis keys
    _rejection_kernel(np.where(heavy, 0, counts), np.cumsum(weights), ex_ptr, ex_idx,
                      int(rng.integers(2**32 - 1)), out_ptr, out)
    for u in np.flatnonzero(heavy):
        keys = rng.exponential(size=len(weights)) / weights
        keys[ex_idx[ex_ptr[u]:ex_ptr[u + 1]]] = np.inf
        out[out_ptr[u]:out_ptr[u + 1]] = np.argpartition(keys, counts[u] - 1)[:counts[u]]
    return out


def sample_negatives(full: RatingData, users: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` distinct items per entry of ``users``, uniformly among the items that user has
    not rated in ``full``: int32 array ``[len(users), n]``."""
    rows = full.csr[np.asarray(users, dtype=np.int64)]
    items = sample_distinct(np.full(rows.shape[0], n), np.ones(full.n_items),
                            (rows.indptr, rows.indices), seed)
    return items.reshape(rows.shape[0], n)
