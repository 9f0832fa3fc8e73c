"""Real-time vicinal defense (RVD paper): fine-tune on the served user's neighbours, then predict."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..data.registry import paper_neighbours
from ..models.base import TrainableModel
from ..models.scoring import TopK
from .base import DefenseContext, Recommend, ServingDefense
from .neighbours import HnswNeighbours, exact_neighbours


def check_settings(epochs: int, lr: float, forget: float) -> None:
    """ValueError unless ``epochs >= 0``, ``lr > 0`` and ``forget`` in (0, 1]."""
    if epochs < 0 or not lr > 0 or not 0 < forget <= 1:
        raise ValueError("RVD needs epochs >= 0, lr > 0 and forget in (0, 1]")


class RVD:
    """Serve recommendations with RVD on top of a trained model (MF, NSVD, AutoRec, CDAE).

    For each served user: its ``k`` nearest users by Euclidean distance between user
    embeddings (the user included; hnswlib index built once, or exact search with
    ``exact=True``), ``epochs`` SGD passes (step ``lr``) of the model's own per-rating update
    over those users' training ratings on a copy-on-write overlay, then the top items
    excluding the user's rated ones. The base model is never modified.

    ``forget`` < 1 is ours, not the paper's (off by default): every fine-tune step then also
    shrinks *all* parameter rows by the same factor (weight decay over the whole model, applied
    lazily in the kernel), chosen so that a row no neighbour rates keeps ``forget`` of its
    size by the end, whatever k and the profile lengths: items the neighbourhood does not
    support fade. On the ML-100K twin this shrink, not the fine-tune, is what removes the fake
    users' influence (docs/papers.md has the measurements).

    Auto-encoders (AutoRec, CDAE) fine-tune a private copy of the rows their neighbours'
    batches touch with their own training step (SGD, without L2), shrinking every weight the
    same way when ``forget`` < 1; their user embeddings are the hidden layer (see
    ``vicinal_top_k`` there).
    """

    def __init__(self, model: TrainableModel, k: int | None = None, epochs: int = 5, lr: float = 0.05,
                 forget: float = 1.0, *, exact: bool = False, dataset: str | None = None, seed: int = 0,
                 threads: int | None = None) -> None:
        if not (isinstance(model, TrainableModel) and hasattr(model, "user_embeddings")
                and hasattr(model, "vicinal_top_k")) or not model.params:
            raise ValueError("RVD needs a fitted factor model or auto-encoder with user embeddings and vicinal "
                             "fine-tuning (MF, NSVD, AutoRec or CDAE)")
        n_users = model.n_users
        self.k = paper_neighbours(dataset, model.name) if k is None else int(k)
        if not 1 <= self.k <= n_users:
            raise ValueError(f"k must lie in [1, {n_users}] (the number of users), got {self.k}")
        check_settings(epochs, lr, forget)
        self.model, self.epochs, self.lr, self.forget, self.exact = model, int(epochs), float(lr), float(forget), exact
        self.threads = model.config.threads if threads is None else threads
        self._embeddings = model.user_embeddings()
        self._index = None if exact else HnswNeighbours(self._embeddings, seed=seed, threads=max(1, self.threads))

    def neighbours(self, users: np.ndarray) -> np.ndarray:
        """``[len(users), k]`` neighbour ids, each user first."""
        users = self.model._users(users)
        if self._index is None:
            return exact_neighbours(self._embeddings, users, self.k)
        return self._index.query(users, self.k)

    def recommend(self, users: np.ndarray | None = None, k_items: int = 50) -> TopK:
        """Each user's ``k_items`` best unrated items after vicinal fine-tuning."""
        users = self.model._users(users)
        return self.model.vicinal_top_k(users, self.neighbours(users), k_items, epochs=self.epochs, lr=self.lr,
                                        forget=self.forget, threads=self.threads)


@dataclass(frozen=True)
class VicinalDefense(ServingDefense):
    """RVD as a serving part (``rvd[k=100,epochs=5]``): its settings are `RVD`'s; ``k``
    defaults to the RVD paper's Table 2 for the dataset and model (`paper_neighbours`).
    ``rvd[forget=0.1]`` adds our whole-model shrink to the paper's fine-tune."""

    k: int | None = None
    epochs: int = 5
    lr: float = 0.05
    forget: float = 1.0
    exact: bool = False
    name: ClassVar[str] = "rvd"

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        check_settings(self.epochs, self.lr, self.forget)

    @classmethod
    def defaults(cls, context: DefenseContext) -> dict[str, Any]:
        return {} if context.model is None else {"k": paper_neighbours(context.dataset, context.model)}

    def serve(self, model: TrainableModel, *, seed: int = 0) -> Recommend:
        return RVD(model, k=self.k, epochs=self.epochs, lr=self.lr, forget=self.forget, exact=self.exact,
                   seed=seed).recommend
