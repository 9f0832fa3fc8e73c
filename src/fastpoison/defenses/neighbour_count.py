"""RVD's neighbourhood size where the RVD paper's Table 2 has none: chosen by how well the
fine-tuned model ranks held-out ratings, with no knowledge of any attack."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..data.split import default_threshold
from ..models.base import TrainableModel
from ..models.scoring import TopK

#: The neighbourhood sizes tried (those up to the number of users).
K_CANDIDATES = (3, 6, 12, 25, 50, 100, 200)
#: Users whose held-out ratings judge each candidate (a seeded sample).
SELECT_USERS = 200
#: The cut-off of the hit ratio that judges them.
SELECT_HR_K = 50

#: ``(users, k) -> [len(users), k]`` neighbour ids, each user first.
NeighboursOf = Callable[[np.ndarray, int], np.ndarray]
#: ``(users, neighbours, k_items) -> TopK``: the fine-tuned recommendations.
FineTune = Callable[[np.ndarray, np.ndarray, int], TopK]


def select_k(model: TrainableModel, neighbours_of: NeighboursOf, fine_tune: FineTune, *, seed: int = 0,
             candidates: tuple[int, ...] = K_CANDIDATES, n_users: int = SELECT_USERS,
             hr_k: int = SELECT_HR_K) -> tuple[int, dict[int, float]] | None:
    """The candidate k whose fine-tune ranks the model's held-out validation ratings best,
    and each candidate's hit ratio; None if the model kept no validation ratings (e.g. it was
    loaded from a file) or none is liked.

    Up to ``n_users`` users with a liked held-out rating (at or above the scale's threshold;
    real and fake users alike, a defense cannot tell them apart) are drawn with ``seed``. For
    each candidate, their neighbourhoods are fine-tuned on the ratings the model trained on
    (the held-out ones withheld, `TrainableModel.seeing`), and a held-out pair is a hit when
    its item is among the user's ``hr_k`` best items not rated in training. Ties go to the
    smaller k.
    """
    if model.validation is None:
        return None
    users, items, ratings = model.validation
    seen = model.seen_ratings()
    keys = np.repeat(np.arange(seen.n_users, dtype=np.int64), np.diff(seen.indptr)) * seen.n_items + seen.indices
    trained_on = np.ones(seen.n_ratings, dtype=bool)
    trained_on[np.searchsorted(keys, users.astype(np.int64) * seen.n_items + items)] = False
    liked = ratings >= default_threshold(model.scale) - 1e-4
    users, items = users[liked], items[liked]
    if users.size == 0:
        return None
    chosen = np.random.default_rng(np.random.SeedSequence([seed, 0x4B])).permutation(np.unique(users))[:n_users]
    chosen = np.sort(chosen).astype(np.int32)
    pairs = np.isin(users, chosen)
    rows, pair_items = np.searchsorted(chosen, users[pairs]), items[pairs]
    scores: dict[int, float] = {}
    with model.seeing(seen.subset_ratings(trained_on)):
        for k in (c for c in candidates if c <= model.n_users):
            top = fine_tune(chosen, neighbours_of(chosen, k), hr_k)
            scores[k] = float(np.mean((top.items[rows] == pair_items[:, None]).any(axis=1)))
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, scores
