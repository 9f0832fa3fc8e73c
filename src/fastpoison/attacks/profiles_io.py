"""Fake profiles as TSV files in the dataset's own ids and rating scale."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data.loaders import PathLike, read_delimited
from ..data.ratings import RatingData
from ..errors import DataError


def write_fakes(path: PathLike, fakes: RatingData, train: RatingData) -> Path:
    """Write ``fakes`` (rows to append to ``train``) as ``user<TAB>item<TAB>rating`` lines.

    Items carry the dataset's own ids; fake users are numbered after its largest user id.
    """
    path = Path(path)
    users = train.with_fake_users(fakes).user_labels()[train.n_users:]
    rows, items, ratings = fakes.coo()
    item_ids = train.item_labels()[items]
    lines = [f"{users[u]}\t{i}\t{r:g}" for u, i, r in zip(rows, item_ids, ratings.astype(np.float64))]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_fakes(path: PathLike, train: RatingData) -> RatingData:
    """Fake profiles written by `write_fakes` (or by hand) as rows to append to ``train``.

    Raises `DataError` for malformed lines, ratings off ``train``'s scale, items the
    dataset does not have, and user ids of the dataset's real users (a fake user is new).
    """
    raw = read_delimited(path, sep="\t", scale=train.scale, compact_ids=True)
    real = np.intersect1d(np.asarray(raw.meta["user_ids"], dtype=np.int64), train.user_labels()[:train.n_real_users])
    if real.size:
        raise DataError(f"{path}: user {real[0]} is a real user of {train.name}; fake users need ids of their own "
                        f"(write_fakes numbers them after the largest user id)")
    labels = train.item_labels()
    order = np.argsort(labels, kind="stable")
    wanted = np.asarray(raw.meta["item_ids"], dtype=np.int64)
    pos = np.searchsorted(labels, wanted, sorter=order)
    pos = np.minimum(pos, len(labels) - 1)
    found = labels[order[pos]] == wanted
    if not found.all():
        raise DataError(f"{path}: item {wanted[np.argmax(~found)]} is not an item of {train.name}")
    users, dense_items, ratings = raw.coo()
    return RatingData.from_coo(users, order[pos][dense_items], ratings, raw.n_users, train.n_items, train.scale,
                               name=f"{train.name}+fakes")


def describe_fakes(fakes: RatingData) -> dict[str, Any]:
    """Figures of a set of fake profiles: counts, profile sizes, ratings, common items."""
    counts = fakes.user_counts()
    everyone = np.flatnonzero(fakes.item_counts() == fakes.n_users) if fakes.n_users else np.zeros(0, int)
    return {
        "n_fake_users": fakes.n_users,
        "fake_ratings": fakes.n_ratings,
        "fake_profile_size_min": int(counts.min()) if counts.size else 0,
        "fake_profile_size_max": int(counts.max()) if counts.size else 0,
        "fake_mean_rating": float(fakes.values.mean()) if fakes.n_ratings else None,
        "items_rated_by_every_fake": everyone.tolist(),
    }
