"""Serving top-N lists from a saved model, in the dataset's own ids, optionally through a
serving defense (RVD): what `fastpoison recommend` runs."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from ..data.datasets import Dataset
from ..defenses import get_defense
from ..errors import DataError
from ..models.base import TrainableModel
from ..models.scoring import TopK


def check_model_fits(model: TrainableModel, dataset: Dataset) -> None:
    """DataError unless ``model`` was trained on ``dataset``'s training ratings (same users,
    items and rated pairs): its ids are only meaningful for that data."""
    train = dataset.split.train
    same = ((model.n_users, model.n_items) == (train.n_users, train.n_items)
            and np.array_equal(model.seen_indptr, train.indptr) and np.array_equal(model.seen_indices, train.indices))
    if not same:
        raise DataError(f"the model ({model.n_users} users x {model.n_items} items) was not trained on the training "
                        f"ratings of {dataset.name} ({train.n_users} x {train.n_items}): serve a model with the "
                        f"dataset given to `fastpoison train` (and the same --data-dir)")


def dense_users(dataset: Dataset, own_ids: Sequence[int] | None) -> np.ndarray:
    """The 0-based rows of the users named by their ids in the dataset's own files (every
    real user when None); DataError naming the ids the dataset does not have."""
    train = dataset.split.train
    if own_ids is None:
        return np.arange(train.n_real_users, dtype=np.int32)
    labels = train.user_labels()[: train.n_real_users]
    row_of = {int(label): row for row, label in enumerate(labels.tolist())}
    missing = [u for u in own_ids if int(u) not in row_of]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise DataError(f"{len(missing)} user id(s) not in {dataset.name}: {shown} (ids as in the dataset's files)")
    return np.array([row_of[int(u)] for u in own_ids], dtype=np.int32)


@dataclass
class Served:
    """One batch of served lists: users and items in the dataset's own ids, the scores,
    and the seconds the batch took."""

    users: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    seconds: float


@dataclass
class Server:
    """Top-``n`` lists of ``model`` for ``dataset``'s users, straight from the model or
    through the serving ``defense`` (a registry spec such as ``rvd`` or ``rvd[k=100]``, its
    defaults for the dataset and model as in `run`); ``notes`` say what the defense chose."""

    model: TrainableModel
    dataset: Dataset
    defense: str | None = None
    seed: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_model_fits(self.model, self.dataset)
        self._recommend = self.model.top_k
        if self.defense is not None:
            plan = get_defense(self.defense, dataset=self.dataset.name, model=self.model.name,
                               data=self.dataset.split.train)
            if plan.training is not None or plan.serving is None:
                raise DataError(f"{self.defense} trains a model; recommend serves a saved model and takes a serving "
                                f"defense only (rvd); train with the training defense instead")
            served = plan.serving.serve(self.model, seed=self.seed)
            self.notes = dict(getattr(served, "notes", {}))
            self._recommend = served

    def top_n(self, users: np.ndarray, n: int) -> TopK:
        """Each of ``users``' (0-based rows) ``n`` best unrated items, as 0-based ids."""
        return self._recommend(users, n)

    def batches(self, users: np.ndarray, n: int, batch: int = 1024) -> Iterator[Served]:
        """`top_n` in batches of ``batch`` users, in the dataset's own ids (padding stays -1)."""
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        train = self.dataset.split.train
        user_labels, item_labels = train.user_labels(), train.item_labels()
        for start in range(0, len(users), batch):
            rows = users[start:start + batch]
            began = time.perf_counter()
            top = self.top_n(rows, n)
            seconds = time.perf_counter() - began
            items = np.where(top.items >= 0, item_labels[np.maximum(top.items, 0)], -1)
            yield Served(user_labels[rows], items, top.scores, seconds)
