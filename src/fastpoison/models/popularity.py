"""Popularity: every user gets the items with the most training ratings, the baseline a
personalised victim has to beat."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..data.ratings import RatingData
from .base import EpochCallback, TrainableModel
from .scoring import SeenItems, TopK, score_top_k


class Popularity(TrainableModel):
    """Scores item i by its number of training ratings, every user's alike: fake users'
    ratings count too, so an attack moves its targets under it as under any victim. Ties go
    to the lower item id; recommendations exclude the user's rated items.

    It has no user embeddings and nothing a training step moves, so RVD (which fine-tunes on
    neighbours found by embedding) and TCD (three copies fitted on the same ratings would be
    identical) refuse it. It takes `TrainConfig`'s settings so that options shared by a
    grid's models (e.g. ``epochs``) apply to it, but uses only ``threads`` (for scoring).
    """

    name = "pop"
    param_names = ("counts",)
    implicit_feedback = True
    co_trainable = False

    def fit(self, train: RatingData, *, epochs: int | None = None, seed: int = 0,
            callbacks: Iterable[EpochCallback] = (), progress: bool = False) -> "Popularity":
        """Count every rating of ``train`` in one pass (``epochs`` and ``seed`` change nothing).

        No validation share is held out, as `TrainableModel.fit` would: there is nothing to
        select, and held-out ratings would only be missing from the counts. ``history`` has
        one record, whose ``train_mse`` is that of `predict` on the training ratings."""
        self.start(train, train, seed)
        record = {"epoch": 0.0, self.train_metric: self.train_epoch(train, seed)}
        self.history.append(record)
        for cb in callbacks:
            cb(0, record)
        self.finish(None, 0)
        return self

    def _init_params(self, rng: np.random.Generator, n_users: int, n_items: int) -> None:
        self.params = {"counts": np.zeros(n_items, dtype=np.float32)}

    def _prepare(self, train: RatingData, seed: int) -> None:
        self._prepared = train

    def _run_epoch(self, seed: int) -> float:
        """Set the counts to the prepared ratings'; returns their summed squared error."""
        data: RatingData = self._prepared
        self.params["counts"][...] = np.bincount(data.indices, minlength=self.n_items)
        error = self._normalized_scores()[data.indices] - data.values
        return float(np.dot(error, error))

    def reset_optimizer(self) -> None:
        """Nothing to reset: counting has no optimiser."""

    def _normalized_scores(self) -> np.ndarray:
        """Each item's predicted rating on the [0, 1] training scale: the dataset's lowest
        rating plus its range times the item's count over the largest count."""
        counts = self.params["counts"]
        share = counts / max(float(counts.max(initial=0.0)), 1.0)
        return self.scale.normalize(self.scale.low + (self.scale.high - self.scale.low) * share)

    def _predict_normalized(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self._normalized_scores()[items]

    def predict(self, users: np.ndarray) -> np.ndarray:
        """One row per user, all equal: the count mapped linearly onto the rating scale (the
        most rated item gets the highest rating, an unrated item the lowest)."""
        self._require_fitted()
        row = self.scale.denormalize(self._normalized_scores())
        return np.tile(row, (self._users(users).size, 1))

    def top_k(self, users: np.ndarray | None = None, k: int = 50, *, exclude_seen: bool = True,
              query_items: np.ndarray | None = None) -> TopK:
        """Each user's ``k`` most rated items (scores: the counts), rated items excluded."""
        self._require_fitted()
        u = self._users(users)
        seen = SeenItems(self.seen_indptr, self.seen_indices, self.n_items) if exclude_seen else None
        return score_top_k(np.ones((u.size, 1), dtype=np.float32), self.params["counts"][:, None], k, seen=seen,
                           seen_rows=u, query_items=query_items, threads=self.config.threads)
