"""Blocked scoring with fused top-K: users x items in row blocks, never the whole matrix."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .. import _core

#: Bytes one score block may take (rows x n_items float32).
BLOCK_BYTES = 32 << 20


class SeenPattern(Protocol):
    """A CSR pattern of rated items (`RatingData` is one)."""

    indptr: np.ndarray
    indices: np.ndarray
    n_items: int


@dataclass(frozen=True)
class SeenItems:
    """A bare CSR pattern of each user's rated items."""

    indptr: np.ndarray
    indices: np.ndarray
    n_items: int


@dataclass(frozen=True)
class TopK:
    """Per queried user: ``items`` [n, k] (best first, -1 padded), their ``scores``, and
    ``ranks`` [n, t] of the queried items (1-based among unseen items, -1 if seen) or None."""

    items: np.ndarray
    scores: np.ndarray
    ranks: np.ndarray | None = None


def score_top_k(
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    k: int,
    *,
    user_bias: np.ndarray | None = None,
    item_bias: np.ndarray | None = None,
    seen: SeenPattern | None = None,
    seen_rows: np.ndarray | None = None,
    query_items: np.ndarray | None = None,
    threads: int = 1,
    block_rows: int | None = None,
) -> TopK:
    """Top-``k`` items of ``user_factors @ item_factors.T (+ biases)`` for every row.

    ``seen`` (with ``seen_rows``, the row of ``seen`` for each user; default 0..n-1)
    excludes rated items. ``query_items`` [n, t] asks for those items' ranks. Memory is
    O(block_rows x n_items) whatever the number of users.
    """
    U = np.asarray(user_factors, dtype=np.float32)
    V = np.asarray(item_factors, dtype=np.float32)
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1]:
        raise ValueError("user and item factors must be 2-d with the same number of columns")
    n, m = U.shape[0], V.shape[0]
    if not 1 <= k:
        raise ValueError("k must be >= 1")
    k = min(k, m) if m else k
    if seen is not None:
        if seen.n_items != m:
            raise ValueError(f"seen data has {seen.n_items} items, factors have {m}")
        rows = np.arange(n, dtype=np.int32) if seen_rows is None else np.asarray(seen_rows, dtype=np.int32)
        if rows.shape != (n,):
            raise ValueError("seen_rows needs one entry per user")
    if query_items is not None:
        query_items = np.ascontiguousarray(query_items, dtype=np.int32)
        if query_items.ndim != 2 or query_items.shape[0] != n:
            raise ValueError("query_items must be [n_users, t]")
    block = block_rows or max(1, min(n, BLOCK_BYTES // max(1, 4 * m)))
    VT = np.ascontiguousarray(V.T)
    buf = np.empty((min(block, max(n, 1)), m), dtype=np.float32)
    items = np.empty((n, k), dtype=np.int32)
    scores = np.empty((n, k), dtype=np.float32)
    ranks = None if query_items is None else np.empty(query_items.shape, dtype=np.int32)
    for a in range(0, n, block):
        b = min(n, a + block)
        S = buf[: b - a]
        np.matmul(U[a:b], VT, out=S)
        if item_bias is not None:
            S += item_bias[None, :]
        if user_bias is not None:
            S += user_bias[a:b, None]
        if seen is not None:
            _core.mask_seen(S, rows[a:b], seen.indptr, seen.indices, threads)
        items[a:b], scores[a:b] = _core.topk_rows(S, k, threads)
        if ranks is not None:
            ranks[a:b] = _core.rank_items(S, query_items[a:b], threads)
    return TopK(items, scores, ranks)
