"""LightGCN (He et al. 2020): BPR-MF whose scores use embeddings propagated over the
normalised user-item graph (C++ kernel: full propagation per mini-batch, dense Adam)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from .. import _core
from ..data.ratings import RatingData
from .base import FactorModel, check_all
from .bpr import BPRMF, BPRConfig
from .neighbourhood import Neighbourhood


@dataclass
class LightGCNConfig(BPRConfig):
    """`BPRConfig` (the paper's d = 64, Adam lr 1e-3, batches of 2,048, reg 1e-4) plus
    ``layers``: the propagation depth L (3, the paper's; 0 scores the ego embeddings).
    400 epochs with early stopping: at lr 1e-3 LightGCN learns slowly (on ML-100K its
    validation loss still falls at epoch 400; the paper trains 1,000)."""

    label: ClassVar[str] = "LightGCN"
    epochs: int = 400
    layers: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        check_all([(self.layers >= 0, "layers must be >= 0")])


class LightGCN(BPRMF):
    """LightGCN: ego embeddings ``E_0`` (users' ``P``, items' ``Q``) propagated as ``E_{l+1} =
    A_hat E_l`` with ``A_hat = D^-1/2 A D^-1/2`` of the bipartite interaction graph; a user or
    item is represented by the mean of ``E_0 .. E_L`` and the score is their dot product.

    Training is BPR-MF's (one uniform unseen negative per interaction, mean ``-log sigmoid``
    of the margin) on those representations, with ``reg/2`` of the batch's squared ego rows;
    each mini-batch propagates over the graph of the epoch's interactions and back, and dense
    Adam updates every ego row. Positives that are not ratings the model holds (TCD's
    pseudo-labels) are trained on but are not edges of that graph (ours: the paper has no
    pseudo-labels; as edges they would change every degree the normalisation divides by,
    and the model would be served on another graph than it was trained on). Scoring,
    ranking, `user_embeddings` and `predict` use the representations propagated over the
    training interactions the model holds (the seen ratings, `BPRConfig.min_rating` applied);
    during a fit, the validation loss uses those of the graph trained on, which leaves the
    held-out interactions out. Deterministic for a seed, whatever ``threads``."""

    name = "lightgcn"
    config_class = LightGCNConfig
    config: LightGCNConfig

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._propagated: tuple[np.ndarray, np.ndarray] | None = None
        self._edges: tuple[np.ndarray, np.ndarray] | None = None

    def _propagate_over(self, edges: tuple[np.ndarray, np.ndarray] | None) -> None:
        """Score by the embeddings propagated over ``edges`` ((users, items); None: the seen
        ratings), computed when next needed."""
        self._propagated, self._edges = None, edges

    def _init_params(self, rng: np.random.Generator, n_users: int, n_items: int) -> None:
        super()._init_params(rng, n_users, n_items)
        self._propagate_over(None)

    def start_from(self, train: RatingData, params: dict[str, np.ndarray]) -> None:
        super().start_from(train, params)
        self._propagate_over(None)

    def _prepare(self, train: RatingData, seed: int) -> None:
        """BPR-MF's positives, and the graph: those of them the model holds as ratings. TCD's
        pseudo-labels (unrated pairs) are positives of the loss, not edges of the graph."""
        super()._prepare(train, seed)
        users, items, n_ratings = self._prepared
        edges = users, items
        held = np.array_equal(train.indptr, self.seen_indptr) and np.array_equal(train.indices, self.seen_indices)
        if not held:  # e.g. a fit's part without its validation ratings, or TCD's labels
            observed = self._observed(users, items)
            edges = edges if observed.all() else (users[observed], items[observed])
        self._prepared = (users, items, n_ratings, edges)

    def _observed(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Whether each pair (users[k], items[k]) is among the seen ratings."""
        indptr = np.asarray(self.seen_indptr, dtype=np.int64)
        seen = np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(indptr)) * self.n_items + self.seen_indices
        keys = users.astype(np.int64) * self.n_items + items
        at = np.minimum(np.searchsorted(seen, keys), max(0, seen.size - 1))
        return seen[at] == keys if seen.size else np.zeros(keys.size, dtype=bool)

    def _run_epoch(self, seed: int) -> float:
        c, p = self.config, self.params
        users, items, n_ratings, edges = self._prepared
        loss, self._step = _core.lightgcn_adam_epoch(p["P"], p["Q"], self._moments, users, items, *edges,
                                                     np.ascontiguousarray(self.seen_indptr, dtype=np.int64),
                                                     np.ascontiguousarray(self.seen_indices, dtype=np.int32),
                                                     c.layers, c.batch_size, c.reg, c.lr, *c.adam_betas, c.adam_eps,
                                                     self._step, c.threads, seed)
        self._propagate_over(edges)
        return loss * n_ratings / max(1, len(users))  # `fit` divides by the ratings: the mean per interaction

    def _vicinal_scorer(self) -> Callable[[Neighbourhood, FactorModel], np.ndarray]:
        """RVD's prediction: the fine-tuned ego rows (trained over the neighbourhood's subgraph)
        put in place of the model's, propagated over the whole graph the model scores with, so
        the served scores are the full model's after the fine-tune (zero epochs serve the model's
        own list). Mixing embeddings propagated over the neighbourhood with the model's would
        rank the neighbourhood's items on another scale: their degrees there are far smaller."""
        users, items = self._interaction_pairs(self.seen_ratings().normalized())
        P, Q, layers = self.params["P"], self.params["Q"], self.config.layers

        def scores(hood: Neighbourhood, tuned: FactorModel) -> np.ndarray:
            p, q = P.copy(), Q.copy()
            p[hood.users], q[hood.items] = tuned.params["P"], tuned.params["Q"]
            U, V = _core.lightgcn_propagate(p, q, users, items, layers, 1)
            return V @ U[hood.users[hood.user]]

        return scores

    def _after_fit(self) -> None:
        self._propagate_over(None)

    def _factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        if self._propagated is None:
            users, items = (self._interaction_pairs(self.seen_ratings().normalized()) if self._edges is None
                            else self._edges)
            self._propagated = _core.lightgcn_propagate(self.params["P"], self.params["Q"], users, items,
                                                        self.config.layers, self.config.threads)
        return (*self._propagated, None, None)
