"""Projection of continuous attack outputs onto valid fake profiles (numba).

Every attack ends here: per fake user, the ``n_filler`` non-target items with the highest
selection score become its fillers, their continuous ratings are snapped to the dataset's
grid, and the targets are added with the maximum rating.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..data.scale import RatingScale


@njit(cache=True, parallel=True)
def _project(select, values, is_target, targets, n_filler, low, high, step):  # pragma: no cover - compiled
    n_fake, n_items = select.shape
    n_t = targets.shape[0]
    counts = np.zeros(n_fake, dtype=np.int64)
    chosen = np.full((n_fake, n_filler), -1, dtype=np.int32)
    for z in prange(n_fake):
        # candidates: finite score, not a target; best first, ties to the lower item id
        keys = np.empty(n_items, dtype=np.float64)
        for j in range(n_items):
            s = select[z, j]
            keys[j] = np.inf if (is_target[j] or not np.isfinite(s)) else -s
        order = np.argsort(keys, kind="mergesort")
        c = 0
        while c < n_filler and np.isfinite(keys[order[c]]):
            chosen[z, c] = order[c]
            c += 1
        counts[z] = c
    indptr = np.zeros(n_fake + 1, dtype=np.int64)
    for z in range(n_fake):
        indptr[z + 1] = indptr[z] + counts[z] + n_t
    indices = np.empty(indptr[-1], dtype=np.int32)
    ratings = np.empty(indptr[-1], dtype=np.float32)
    for z in prange(n_fake):
        row = np.empty(counts[z] + n_t, dtype=np.int32)
        row[: counts[z]] = chosen[z, : counts[z]]
        row[counts[z]:] = targets
        row.sort()
        a = indptr[z]
        for k in range(row.shape[0]):
            j = row[k]
            indices[a + k] = j
            if is_target[j]:
                ratings[a + k] = high
            else:
                v = min(max(values[z, j], low), high)
                ratings[a + k] = low + step * np.round((v - low) / step)
    return indptr, indices, ratings


def project_profiles(select: np.ndarray, values: np.ndarray, targets: np.ndarray, n_filler: int,
                     scale: RatingScale) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR rows ``(indptr, indices, ratings)`` of the projected fake users.

    ``select`` and ``values`` are ``[n_fake, n_items]``: row ``z`` keeps the ``n_filler``
    non-target items with the highest finite ``select`` (ties go to the lower item id; use
    ``-inf`` to forbid an item), rated ``values`` clipped to ``scale`` and snapped to its
    grid (half-way values round to even steps); every target is added rated ``scale.high``.
    A row with fewer allowed items than ``n_filler`` keeps all of them.
    """
    select = np.ascontiguousarray(select, dtype=np.float32)
    values = np.ascontiguousarray(values, dtype=np.float32)
    if select.ndim != 2 or values.shape != select.shape:
        raise ValueError("select and values must be 2-d arrays of one shape [n_fake, n_items]")
    n_items = select.shape[1]
    targets = np.unique(np.asarray(targets, dtype=np.int64)).astype(np.int32)
    if targets.size and (targets[0] < 0 or targets[-1] >= n_items):
        raise ValueError(f"targets must lie in [0, {n_items})")
    if n_filler < 0:
        raise ValueError("n_filler must be >= 0")
    is_target = np.zeros(n_items, dtype=np.bool_)
    is_target[targets] = True
    return _project(select, values, is_target, targets, int(n_filler), np.float32(scale.low),
                    np.float32(scale.high), np.float32(scale.step))
