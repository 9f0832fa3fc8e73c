"""The attacker's partial knowledge: the share of real ratings it sees, and what it learns from them."""
from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ..data.ratings import RatingData
from ..models.mf import MF

#: The attacker's own MF simulator (partial-knowledge setting, TCD paper §3.2): the
#: victim's algorithm with the attacker's choice of size, trained every epoch (no early
#: stopping, so that the attacks stay as measured against the papers).
SURROGATE_OPTIONS = {"factors": 64, "epochs": 40, "valid_fraction": 0.1, "patience": 0, "threads": 1}


class AttackerView:
    """What the attacker sees of ``train``: each real user's rating independently with
    probability ``knowledge`` (seeded), on the real users only. Item and rating statistics
    and the surrogate model are computed from that share alone; the victim is never touched."""

    def __init__(self, train: RatingData, knowledge: float, seed: int) -> None:
        if not 0 < knowledge <= 1:
            raise ValueError(f"attacker knowledge must lie in (0, 1], got {knowledge}")
        self.scale = train.scale
        self.seed = seed
        self.n_items = train.n_items
        real_end = int(train.indptr[train.n_real_users])
        keep = np.zeros(train.n_ratings, dtype=bool)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EE]))
        keep[:real_end] = rng.random(real_end) < knowledge if knowledge < 1 else True
        self.observed = train.subset_ratings(keep)

    @cached_property
    def item_counts(self) -> np.ndarray:
        """Observed ratings per item."""
        return self.observed.item_counts()

    @cached_property
    def global_stats(self) -> tuple[float, float]:
        """Mean and standard deviation of the observed ratings."""
        v = self.observed.values.astype(np.float64)
        return (float(v.mean()), float(v.std())) if v.size else (float(self.scale.high + self.scale.low) / 2, 1.0)

    @cached_property
    def item_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-item mean and standard deviation of the observed ratings; items seen fewer
        than twice take the global figures."""
        n = self.item_counts.astype(np.float64)
        v = self.observed.values.astype(np.float64)
        s1 = np.bincount(self.observed.indices, weights=v, minlength=self.n_items)
        s2 = np.bincount(self.observed.indices, weights=v * v, minlength=self.n_items)
        gm, gs = self.global_stats
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, s1 / n, gm)
            std = np.where(n > 1, np.sqrt(np.maximum(s2 / n - mean**2, 0.0)), gs)
        return mean, std

    @cached_property
    def active_users(self) -> np.ndarray:
        """Real users with at least one observed rating (int32)."""
        return np.flatnonzero(self.observed.user_counts() > 0).astype(np.int32)

    @cached_property
    def surrogate(self) -> MF:
        """The attacker's MF (`SURROGATE_OPTIONS`) trained on the observed ratings."""
        return MF(**SURROGATE_OPTIONS).fit(self.observed, seed=self.seed)

    @cached_property
    def _normalized_csr(self) -> sp.csr_matrix:
        return self.observed.normalized().csr

    def normalized_rows(self, users: np.ndarray) -> np.ndarray:
        """Dense observed rating rows of ``users`` divided by the maximum rating (0 = unrated)."""
        return self._normalized_csr[np.asarray(users)].toarray()
