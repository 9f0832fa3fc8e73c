"""`RatingData`: an immutable user x item rating matrix in CSR form."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import _core
from ..errors import DataError
from .scale import RatingScale


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class RatingData:
    """Ratings of ``n_users`` users on ``n_items`` items, rows sorted by item id.

    ``indptr`` (int64, n_users+1), ``indices`` (int32 item ids), ``values`` (float32
    ratings on ``scale``) are read-only. Rows ``n_real_users..n_users-1`` are injected
    (fake) users; every derived dataset is a new object.
    """

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    n_users: int
    n_items: int
    scale: RatingScale
    n_real_users: int = -1
    name: str = "ratings"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "indptr", _readonly(np.asarray(self.indptr, dtype=np.int64)))
        object.__setattr__(self, "indices", _readonly(np.asarray(self.indices, dtype=np.int32)))
        object.__setattr__(self, "values", _readonly(np.asarray(self.values, dtype=np.float32)))
        if self.n_real_users < 0:
            object.__setattr__(self, "n_real_users", int(self.n_users))
        if self.indptr.shape != (self.n_users + 1,) or self.indptr[0] != 0:
            raise ValueError("indptr must have n_users + 1 entries starting at 0")
        if self.indices.shape != self.values.shape or self.indptr[-1] != len(self.indices):
            raise ValueError("indices and values must both have indptr[-1] entries")
        if not 0 <= self.n_real_users <= self.n_users:
            raise ValueError("n_real_users must lie in [0, n_users]")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_coo(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        n_users: int | None = None,
        n_items: int | None = None,
        scale: RatingScale | None = None,
        *,
        name: str = "ratings",
        n_real_users: int = -1,
        meta: dict[str, Any] | None = None,
    ) -> "RatingData":
        """Build from parallel id/rating arrays (0-based ids).

        Raises `DataError` on NaN/inf ratings, ratings off ``scale``, negative or
        out-of-range ids and duplicate (user, item) pairs. ``n_users``/``n_items``
        default to max id + 1; ``scale`` defaults to integers min..max.
        """
        u = np.asarray(users)
        i = np.asarray(items)
        r = np.asarray(ratings, dtype=np.float64)
        if not (u.shape == i.shape == r.shape) or u.ndim != 1:
            raise DataError("users, items and ratings must be 1-d arrays of one length")
        for ids, what in ((u, "user"), (i, "item")):
            if ids.size and not np.issubdtype(ids.dtype, np.integer):
                if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
                    raise DataError(f"{what} ids must be integers")
        u = u.astype(np.int64)
        i = i.astype(np.int64)
        if u.size and (u.min() < 0 or i.min() < 0):
            raise DataError("ids must be non-negative")
        n_users = int(u.max() + 1 if u.size else 0) if n_users is None else int(n_users)
        n_items = int(i.max() + 1 if i.size else 0) if n_items is None else int(n_items)
        if u.size and (u.max() >= n_users or i.max() >= n_items):
            raise DataError(f"ids out of range for {n_users} users x {n_items} items")
        if not np.all(np.isfinite(r)):
            raise DataError("ratings must be finite (found NaN or inf)")
        if scale is None:
            lo, hi = (float(np.floor(r.min())), float(np.ceil(r.max()))) if r.size else (1.0, 5.0)
            scale = RatingScale(lo, max(hi, lo + 1.0), 1.0)
        off = ~scale.contains(r)
        if off.any():
            bad = float(r[np.argmax(off)])
            raise DataError(f"rating {bad:g} is off the scale {scale.low:g}..{scale.high:g} step {scale.step:g}")
        order = np.lexsort((i, u))
        u, i, r = u[order], i[order], r[order]
        dup = (np.diff(u) == 0) & (np.diff(i) == 0)
        if dup.any():
            k = int(np.argmax(dup))
            raise DataError(f"duplicate rating for user {u[k]}, item {i[k]}")
        indptr = np.zeros(n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(u, minlength=n_users), out=indptr[1:])
        return cls(indptr, i.astype(np.int32), r.astype(np.float32), n_users, n_items, scale,
                   n_real_users, name, dict(meta or {}))

    # ------------------------------------------------------------------ views
    @property
    def n_ratings(self) -> int:
        return int(self.indptr[-1])

    @property
    def csr(self) -> sp.csr_matrix:
        """A scipy CSR matrix sharing this object's (read-only) buffers."""
        return sp.csr_matrix((self.values, self.indices, self.indptr), shape=(self.n_users, self.n_items))

    def user_items(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        """Item ids and ratings of user ``u``."""
        a, b = self.indptr[u], self.indptr[u + 1]
        return self.indices[a:b], self.values[a:b]

    def coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(users int32, items int32, ratings float32)`` in row order."""
        users = np.repeat(np.arange(self.n_users, dtype=np.int32), np.diff(self.indptr))
        return users, self.indices.copy(), self.values.copy()

    def item_labels(self) -> np.ndarray:
        """Each item's id in the source files (int64): the loader's map, else the 0-based
        id plus ``meta["id_base"]`` (1 for 1-based files kept as they are)."""
        return self._labels("item_ids", self.n_items)

    def user_labels(self) -> np.ndarray:
        """Each user's id in the source files (int64); rows beyond the map (fake users)
        continue after the largest mapped id."""
        return self._labels("user_ids", self.n_users)

    def _labels(self, key: str, n: int) -> np.ndarray:
        known = self.meta.get(key)
        if known is None:
            return np.arange(n, dtype=np.int64) + int(self.meta.get("id_base", 0))
        known = np.asarray(known, dtype=np.int64)[:n]
        extra = np.arange(n - len(known), dtype=np.int64) + (int(known.max()) + 1 if len(known) else 0)
        return np.concatenate([known, extra])

    def user_counts(self) -> np.ndarray:
        return np.diff(self.indptr)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.indices, minlength=self.n_items)

    # ------------------------------------------------------------------ derived data
    def with_fake_users(self, profiles: "RatingData | sp.spmatrix") -> "RatingData":
        """A new dataset with ``profiles``' rows appended after the existing users."""
        if isinstance(profiles, RatingData):
            fake = profiles.csr
        else:
            fake = sp.csr_matrix(profiles)
        if fake.shape[1] != self.n_items:
            raise ValueError(f"fake profiles have {fake.shape[1]} items, data has {self.n_items}")
        fake.sort_indices()
        vals = np.asarray(fake.data, dtype=np.float32)
        if not np.all(np.isfinite(vals)) or not np.all(self.scale.contains(vals)):
            raise ValueError("fake ratings must lie on the dataset's rating grid")
        indptr = np.concatenate([self.indptr, self.indptr[-1] + fake.indptr[1:].astype(np.int64)])
        return RatingData(indptr, np.concatenate([self.indices, fake.indices.astype(np.int32)]),
                          np.concatenate([self.values, vals]), self.n_users + fake.shape[0],
                          self.n_items, self.scale, self.n_real_users, self.name, dict(self.meta))

    def with_ratings(self, users: np.ndarray, items: np.ndarray, ratings: np.ndarray) -> "RatingData":
        """A new dataset with extra ratings of existing users on pairs they have not rated
        (``users`` ascending, items ascending within a user, e.g. pseudo-labels)."""
        u = np.asarray(users)
        if u.ndim != 1 or (u.size and (u[0] < 0 or u[-1] >= self.n_users or np.any(u[1:] < u[:-1]))):
            raise ValueError("extra ratings need ascending user ids in range")
        extra_indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(u, minlength=self.n_users), out=extra_indptr[1:])
        try:
            indptr, indices, values = _core.merge_csr(
                self.indptr, self.indices, self.values, extra_indptr, np.ascontiguousarray(items, dtype=np.int32),
                np.ascontiguousarray(ratings, dtype=np.float32), self.n_items)
        except ValueError as e:
            raise ValueError(f"extra ratings must be new pairs with ascending items per user: {e}") from None
        return replace(self, indptr=indptr, indices=indices, values=values)

    def normalized(self) -> "RatingData":
        """Ratings divided by the scale's maximum (the papers' [0, 1] training targets)."""
        s = self.scale
        return replace(self, values=s.normalize(self.values),
                       scale=RatingScale(s.low / s.high, 1.0, s.step / s.high))

    def subset_ratings(self, keep: np.ndarray) -> "RatingData":
        """Keep only the ratings where boolean mask ``keep`` (length n_ratings) is true."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != self.values.shape:
            raise ValueError("keep must have one entry per rating")
        rows = np.repeat(np.arange(self.n_users), np.diff(self.indptr))[keep]
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.n_users), out=indptr[1:])
        return replace(self, indptr=indptr, indices=self.indices[keep], values=self.values[keep])

    def stats(self) -> dict[str, Any]:
        """Counts, density, grid, popularity-tail figures and the users and items of the id
        space without a rating (the `data info` fields)."""
        n, m, nnz = self.n_users, self.n_items, self.n_ratings
        item_counts = np.sort(self.item_counts())[::-1]
        top = max(1, m // 10)
        return {
            "name": self.name,
            "n_users": n,
            "n_items": m,
            "n_ratings": nnz,
            "n_real_users": self.n_real_users,
            "density": nnz / (n * m) if n and m else 0.0,
            "grid": self.scale.to_list(),
            "min_rating": float(self.values.min()) if nnz else None,
            "max_rating": float(self.values.max()) if nnz else None,
            "mean_ratings_per_user": nnz / n if n else 0.0,
            "mean_rating": float(self.values.mean()) if nnz else None,
            "top10pct_items_share": float(item_counts[:top].sum() / nnz) if nnz else 0.0,
            "items_with_lt5_ratings": int((item_counts < 5).sum()),
            "max_item_ratings": int(item_counts[0]) if m else 0,
            "users_without_ratings": int(np.count_nonzero(self.user_counts() == 0)),
            "items_without_ratings": int(np.count_nonzero(item_counts == 0)),
        }

    def id_numbering(self) -> dict[str, int] | None:
        """Per axis, the distinct ids rated (``user_ids_present``, ``item_ids_present``) and the
        ids the source files' numbering skips below the largest (``*_id_gaps``: the largest id
        + 1, counted from 1 for 1-based files, minus the ids present); None unless the ratings
        were read from files (``meta["data_source"] == "real"``), whose ids are numbers."""
        if self.meta.get("data_source") != "real":
            return None
        base = int(self.meta.get("id_base", 0))
        out = {}
        for axis, counts in (("user", self.user_counts()), ("item", self.item_counts())):
            source = self.meta.get(f"{axis}_ids")
            if source is None:  # ids kept as in the files: dense id + base
                present, span = int(np.count_nonzero(counts)), len(counts)
            else:  # ids compacted: the map holds the files' ids of the rated ones
                present, span = len(source), int(np.max(source, initial=base - 1)) + 1 - base
            out.update({f"{axis}_ids_present": present, f"{axis}_id_gaps": span - present})
        return out
