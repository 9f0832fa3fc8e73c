"""Nearest users by Euclidean distance between embeddings: exact (numpy) or hnswlib."""
from __future__ import annotations

import numpy as np


def _self_first(found: np.ndarray, users: np.ndarray) -> np.ndarray:
    """Rows of neighbour ids with each user moved to (or, if missing, put at) the front."""
    out = np.empty_like(found)
    for r, (row, u) in enumerate(zip(found, users)):
        rest = row[row != u]
        out[r, 0] = u
        out[r, 1:] = rest[: found.shape[1] - 1]
    return out


def exact_neighbours(embeddings: np.ndarray, users: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """The ``k`` users nearest to each of ``users`` (int32 ``[n, k]``), the user itself first,
    the rest by increasing distance (ties to the lower id). Blocked: memory O(block x users)."""
    e = np.asarray(embeddings, dtype=np.float32)
    users = np.asarray(users, dtype=np.int64)
    sq = np.einsum("ij,ij->i", e, e)
    out = np.empty((users.size, k), dtype=np.int32)
    for a in range(0, users.size, block):
        u = users[a:a + block]
        d2 = sq[u, None] + sq[None, :] - np.float32(2.0) * (e[u] @ e.T)
        d2[np.arange(u.size), u] = -np.inf
        part = np.argpartition(d2, k - 1, axis=1)[:, :k] if k < e.shape[0] else np.tile(np.arange(e.shape[0]), (u.size, 1))
        dist = np.take_along_axis(d2, part, axis=1)
        order = np.lexsort((part, dist), axis=1)
        out[a:a + block] = np.take_along_axis(part, order, axis=1)
    return out


class HnswNeighbours:
    """An hnswlib L2 index over all user embeddings, built once; `query` searches it with
    ``ef = max(ef, 2k)`` (L2 recall at small ef is poor) and puts each user first."""

    def __init__(self, embeddings: np.ndarray, *, m: int = 16, ef_construction: int = 200, ef: int = 200,
                 seed: int = 0, threads: int = 1) -> None:
        import hnswlib

        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        n, d = self.embeddings.shape
        self.index = hnswlib.Index(space="l2", dim=d)
        self.index.init_index(max_elements=n, ef_construction=ef_construction, M=m, random_seed=seed)
        self.index.add_items(self.embeddings, np.arange(n), num_threads=threads)
        self.ef, self.threads = ef, threads

    def query(self, users: np.ndarray, k: int) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        self.index.set_ef(max(self.ef, 2 * k))
        labels, _ = self.index.knn_query(self.embeddings[users], k=k, num_threads=self.threads)
        return _self_first(labels.astype(np.int32), users)
