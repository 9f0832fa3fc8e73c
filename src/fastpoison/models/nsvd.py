"""NSVD (Paterek 2007): users are represented by the items they rated,
``p_u = |N(u)|^-1/2 sum_{j in N(u)} y_j``, ``r_hat = p_u . q_i`` (``+ mu + b_u + b_i`` with biases).

Trained on ``sum_(u,i) (r_ui - r_hat_ui)^2 + item_reg * sum_i |q_i|^2`` (plus the shared per-rating
``reg`` term): the item factors carry a Gaussian prior counted once per item, not once per rating.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import scipy.sparse as sp

from .. import _core
from ..data.ratings import RatingData
from .base import FactorConfig, FactorModel
from .buffers import aligned_zeros
from .mf import xavier


@dataclass
class NSVDConfig(FactorConfig):
    """`FactorConfig` plus ``item_reg``, the strength lambda of NSVD's per-item prior on ``q_i``.

    The prior adds ``lambda * |q_i|^2`` once per item (``lambda / n_i`` on each of item i's
    ``n_i`` training ratings), so q_i is shrunk by about ``n_i |p|^2 / (n_i |p|^2 + lambda)``.
    Per-rating L2 alone shrinks all items alike; then, as NSVD's implicit user vectors are
    much alike, an item rated once or twice is fitted to those ratings for *every* user and
    floods the top-K lists. ``item_reg=0`` (the default) is Paterek's model with per-rating L2,
    as the RVD paper uses it; ``item_reg=16`` is ours (docs/papers.md measures both).
    """

    item_reg: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.item_reg >= 0:
            raise ValueError("item_reg must be >= 0")


class NSVD(FactorModel):
    """NSVD trained user by user (each user's implicit vector built once per epoch) in C++.

    ``r_hat_ui = p_u . q_i`` (``+ mu + b_u + b_i`` with ``bias``), ``p_u = |N(u)|^-1/2 sum_{j in N(u)} y_j``
    over the items u rated (which items, not the rating values); see `NSVDConfig` for ``item_reg``.
    """

    name = "nsvd"
    param_names = ("Y", "Q", "bu", "bi")
    param_axes = ("item", "item", "user", "item")
    config_class = NSVDConfig
    config: NSVDConfig

    def _init_params(self, rng: np.random.Generator, n_users: int, n_items: int) -> None:
        d = self.config.factors
        self.params = {"Y": xavier(rng, n_items, d), "Q": xavier(rng, n_items, d),
                       "bu": aligned_zeros((n_users,)), "bi": aligned_zeros((n_items,))}
        self.reset_optimizer()
        self._user_factors = None

    def _prepare(self, train: RatingData, seed: int) -> None:
        self._prepared = (train.indptr, train.indices, train.values)
        self._pattern = (train.indptr, train.indices)  # N(u) while fitting: validation items stay out

    def _run_epoch(self, seed: int) -> float:
        c, p = self.config, self.params
        self._user_factors = None
        if c.optimizer == "sgd":
            return _core.nsvd_sgd_epoch(p["Y"], p["Q"], p["bu"], p["bi"], self.mu, *self._prepared, c.lr, c.reg,
                                        c.bias, c.threads, seed, c.item_reg)
        loss, self._step = _core.nsvd_adam_epoch(p["Y"], p["Q"], p["bu"], p["bi"], self.mu, self._moments,
                                                 *self._prepared, c.batch_size, c.reg, c.lr, *c.adam_betas,
                                                 c.adam_eps, self._step, c.bias, c.threads, seed, c.item_reg)
        return loss

    def _after_fit(self) -> None:
        self._pattern = (self.seen_indptr, self.seen_indices)  # N(u) at inference: all training items
        self._user_factors = None

    def _factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        p = self.params
        if self._user_factors is None:
            indptr, indices = self._pattern
            counts = np.diff(indptr)
            pattern = sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr),
                                    shape=(self.n_users, self.n_items))
            norm = np.where(counts > 0, 1.0 / np.sqrt(np.maximum(counts, 1)), 0.0).astype(np.float32)
            self._user_factors = np.asarray((pattern @ p["Y"]) * norm[:, None], dtype=np.float32)
        return (self._user_factors, p["Q"], (p["bu"] if self.config.bias else None),
                (p["bi"] if self.config.bias else None))

    def _vicinal_kernel(self) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
        return partial(_core.nsvd_rvd_top_k, item_reg=self.config.item_reg)
