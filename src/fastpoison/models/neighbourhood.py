"""The ratings RVD's paper-mode fine-tune trains on: a served user's neighbours' rows of the
training CSR, either in the full id space or compacted to the users and items involved."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.ratings import RatingData
from ..data.scale import RatingScale


def csr_rows(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray,
             rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSR made of ``rows`` of a CSR matrix, in that order."""
    starts, lengths = indptr[rows], indptr[rows + 1] - indptr[rows]
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    at = np.repeat(starts - ptr[:-1], lengths) + np.arange(ptr[-1])
    return ptr, indices[at], values[at]


def neighbours_only(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, neighbours: np.ndarray,
                    n_items: int, scale: RatingScale) -> RatingData:
    """The training ratings (``indptr``/``indices``/``values`` CSR) of ``neighbours`` alone, in
    the full id space: every other user's row is empty."""
    n_users = len(indptr) - 1
    rows = np.unique(neighbours)
    lengths = np.zeros(n_users, dtype=np.int64)
    lengths[rows] = indptr[rows + 1] - indptr[rows]
    ptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    _, idx, val = csr_rows(indptr, indices, values, rows)
    return RatingData(ptr, idx, val, n_users, n_items, scale)


@dataclass(frozen=True)
class Neighbourhood:
    """One served user's neighbourhood compacted: ``users`` and ``items`` (sorted global ids)
    are the rows of the compact sets; ``seen`` holds all their training ratings, ``train`` the
    neighbours' alone (the user's row empty unless it is a neighbour); ``user`` is the served
    user's compact id."""

    users: np.ndarray
    items: np.ndarray
    seen: RatingData
    train: RatingData
    user: int

    @classmethod
    def of(cls, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, user: int, neighbours: np.ndarray,
           scale: RatingScale) -> "Neighbourhood":
        """The neighbourhood of ``user`` in the training CSR."""
        users = np.union1d(neighbours, [user]).astype(np.int32)
        ptr, idx, val = csr_rows(indptr, indices, values, users)
        items = np.unique(idx).astype(np.int32)
        local = np.searchsorted(items, idx).astype(np.int32)
        seen = RatingData(ptr, local, val, len(users), len(items), scale)
        is_neighbour = np.isin(users, neighbours)
        keep = np.repeat(is_neighbour, np.diff(ptr))
        train_ptr = np.zeros_like(ptr)
        np.cumsum(np.where(is_neighbour, np.diff(ptr), 0), out=train_ptr[1:])
        train = RatingData(train_ptr, local[keep], val[keep], len(users), len(items), scale)
        return cls(users, items, seen, train, int(np.searchsorted(users, user)))


def user_seed(seed: int, user: int) -> int:
    """The fine-tune seed of one served user, derived from the run seed."""
    return int(np.random.SeedSequence([seed, 0x7D, user]).generate_state(1, np.uint64)[0] >> np.uint64(1))
