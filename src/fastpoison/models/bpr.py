"""BPR-MF (Rendle et al. 2009): matrix factorisation of implicit feedback, trained to rank
each user's interacted items above uniformly drawn unseen ones (C++ kernel, lazy Adam)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import numpy as np

from .. import _core
from ..data.ratings import RatingData
from .base import FactorConfig, FactorModel, check_all
from .mf import xavier


@dataclass
class BPRConfig(FactorConfig):
    """`FactorConfig` with BPR's defaults: d = 64, Adam at lr 1e-3, mini-batches of 2,048
    triples, L2 ``reg`` = 1e-4 on the batch's rows (LightGCN's settings, which the peers'
    BPR-MF share), 100 epochs with early stopping. ``min_rating``: the ratings that count as
    interactions (those at or above it, on the dataset's scale); 0, the default, counts every
    rating, as the NCF protocol turns rating data into implicit feedback."""

    label: ClassVar[str] = "BPR-MF"
    factors: int = 64
    epochs: int = 100
    reg: float = 1e-4
    batch_size: int = 2048
    min_rating: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_all([(self.optimizer == "adam", f"{self.label} trains with adam only"),
                   (not self.bias, f"{self.label} has no bias terms"),
                   (self.min_rating >= 0, "min_rating must be >= 0")])


class BPRMF(FactorModel):
    """BPR-MF: score ``p_u . q_i``; one epoch passes every interaction once, each with one
    negative drawn uniformly among the items the user has not rated, and minimises the mean
    ``-log sigmoid(p_u . (q_i - q_j))`` plus L2 on the batch's rows. Ranking uses the scores;
    `predict` maps ``sigmoid(score)`` onto the rating scale (x the maximum rating). The epoch
    kept is the one of lowest ``valid_mse``, here the BPR loss of the held-out interactions
    against fixed unseen items (`validation_mse`). Deterministic for a seed, whatever
    ``threads``."""

    name = "bprmf"
    param_names = ("P", "Q")
    param_axes = ("user", "item")
    config_class = BPRConfig
    config: BPRConfig
    train_metric = "train_bpr"
    implicit_feedback = True
    sgd_fine_tune = False
    calibrated = False

    def _init_params(self, rng: np.random.Generator, n_users: int, n_items: int) -> None:
        d = self.config.factors
        self.params = {"P": xavier(rng, n_users, d), "Q": xavier(rng, n_items, d)}
        self.reset_optimizer()

    def _interactions(self, ratings: RatingData) -> np.ndarray:
        """Mask of the (normalised) ratings that count as interactions (`BPRConfig.min_rating`)."""
        return ratings.values >= self.config.min_rating / self.scale.high - 1e-6

    def _interaction_pairs(self, ratings: RatingData) -> tuple[np.ndarray, np.ndarray]:
        """``(users, items)`` (int32) of the (normalised) ratings that count as interactions."""
        keep = self._interactions(ratings)
        users = np.repeat(np.arange(ratings.n_users, dtype=np.int32), np.diff(ratings.indptr))[keep]
        return users, np.ascontiguousarray(ratings.indices[keep], dtype=np.int32)

    def _prepare(self, train: RatingData, seed: int) -> None:
        self._prepared = (*self._interaction_pairs(train), train.n_ratings)

    def _run_epoch(self, seed: int) -> float:
        c, p = self.config, self.params
        users, items, n_ratings = self._prepared
        loss, self._step = _core.bpr_adam_epoch(p["P"], p["Q"], self._moments, users, items,
                                                np.ascontiguousarray(self.seen_indptr, dtype=np.int64),
                                                np.ascontiguousarray(self.seen_indices, dtype=np.int32),
                                                c.batch_size, c.reg, c.lr, *c.adam_betas, c.adam_eps, self._step,
                                                c.threads, seed)
        return loss * n_ratings / max(1, len(users))  # `fit` divides by the ratings: the mean per interaction

    def _predict_normalized(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-super()._predict_normalized(users, items)))

    def predict(self, users: np.ndarray) -> np.ndarray:
        """``sigmoid(score)`` x the maximum rating, [len(users), n_items] (dense: keep batches small)."""
        self._require_fitted()
        u = self._users(users)
        U, V, _, _ = self._factors()
        scores = U[u] @ V.T
        return self.scale.denormalize(1.0 / (1.0 + np.exp(-scores)))

    def validation_mse(self, valid: tuple[np.ndarray, ...]) -> float:
        """Mean ``-log sigmoid(s_ui - s_uj)`` over the held-out interactions (u, i) of users
        with an unrated item, each against one fixed item j the user has not rated
        (`unrated_items`, the same draw every epoch)."""
        vu, vi, vr = valid
        keep = vr >= self.config.min_rating - 1e-4
        vu, vi = np.asarray(vu[keep], dtype=np.int32), np.asarray(vi[keep], dtype=np.int32)
        has_unrated = np.diff(self.seen_indptr)[vu] < self.n_items
        vu, vi = vu[has_unrated], vi[has_unrated]
        if vu.size == 0:
            return 0.0
        negatives = self.unrated_items(vu, seed=0xB9B)
        margin = super()._predict_normalized(vu, vi) - super()._predict_normalized(vu, negatives)
        return float(np.mean(np.logaddexp(0.0, -margin)))

    def _factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        return self.params["P"], self.params["Q"], None, None

    def _vicinal_kernel(self) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
        label = self.config.label
        raise ValueError(f"rvd[step=sgd] fine-tunes by squared error, which {label} does not train on; "
                         f"use RVD's paper step (rvd), {label}'s own training")
