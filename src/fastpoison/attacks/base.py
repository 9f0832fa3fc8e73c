"""The threat model every attack shares, the `Attack` base class and `FakeProfiles`."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..data.ratings import RatingData
from .knowledge import AttackerView
from .projection import project_profiles

#: Defaults of both papers: 3 % of the real users as fake users, 40 % of the ratings seen.
DEFAULT_SIZE = 0.03
DEFAULT_KNOWLEDGE = 0.4
#: The top-K lists the attacker wants its targets in: the evaluation's HR@K (50; 500 on Yelp).
DEFAULT_TOP_K = 50


@dataclass(frozen=True)
class ThreatModel:
    """What the attacker may do: which items it promotes, how many fake users it injects,
    how many filler items each rates, and which fraction of the real ratings it sees; and
    what it aims at: the top-``top_k`` lists (the attacks whose objective ranks the targets
    against each user's K-th best item use this K, the cut-off the attack is evaluated at)."""

    targets: np.ndarray
    n_fake: int
    n_filler: int
    knowledge: float = DEFAULT_KNOWLEDGE
    seed: int = 0
    top_k: int = DEFAULT_TOP_K

    @classmethod
    def for_data(cls, train: RatingData, targets: np.ndarray, *, n_fake: int | None = None,
                 size: float = DEFAULT_SIZE, n_filler: int | None = None,
                 knowledge: float = DEFAULT_KNOWLEDGE, seed: int = 0, top_k: int = DEFAULT_TOP_K) -> "ThreatModel":
        """The papers' defaults where a size is not given: ``int(size * real users)`` fake
        users (at least one), and a fake profile as long as the mean real user's, targets
        included: ``round(ratings per real user) - targets`` fillers (at least one). The RVD
        paper caps a fake user's ratings at the mean profile size; the TCD code uses the mean
        minus the targets."""
        n_real = train.n_real_users
        if n_fake is None:
            if not 0 < size <= 1:
                raise ValueError(f"attack size must lie in (0, 1], got {size}")
            n_fake = max(1, int(size * n_real))
        if n_filler is None:
            mean_profile = int(round(int(train.indptr[n_real]) / max(1, n_real)))
            n_filler = max(1, mean_profile - np.asarray(targets).size)
        return cls(np.asarray(targets), int(n_fake), int(n_filler), float(knowledge), int(seed),
                   int(top_k)).checked(train.n_items)

    def checked(self, n_items: int) -> "ThreatModel":
        """Self, or ValueError naming the first constraint broken."""
        t = np.asarray(self.targets)
        if t.ndim != 1 or t.size == 0 or not np.issubdtype(t.dtype, np.integer):
            raise ValueError("targets must be a non-empty 1-d array of item ids")
        if t.min() < 0 or t.max() >= n_items:
            raise ValueError(f"target ids must lie in [0, {n_items}), got {t.min()}..{t.max()}")
        if np.unique(t).size != t.size:
            raise ValueError("targets must not repeat")
        if self.n_fake < 1:
            raise ValueError(f"the number of fake users must be >= 1, got {self.n_fake}")
        if not 1 <= self.n_filler <= n_items - t.size:
            raise ValueError(f"filler items per fake user must lie in [1, {n_items - t.size}] "
                             f"(items minus targets), got {self.n_filler}")
        if not 0 < self.knowledge <= 1:
            raise ValueError(f"attacker knowledge must lie in (0, 1], got {self.knowledge}")
        if self.top_k < 1:
            raise ValueError(f"the attacker's top-K must be >= 1, got {self.top_k}")
        object.__setattr__(self, "targets", np.sort(t).astype(np.int32))
        return self


@dataclass(frozen=True, eq=False)
class FakeProfiles:
    """The fake users an attack injects: ``ratings`` holds one row per fake user on the
    dataset's items and rating scale; ``threat`` is the threat model they were made under."""

    ratings: RatingData
    threat: ThreatModel
    attack: str

    def __post_init__(self) -> None:
        self.validate()

    @property
    def n_fake(self) -> int:
        return self.ratings.n_users

    def validate(self) -> None:
        """ValueError unless every row has exactly ``n_filler`` fillers plus every target at
        the maximum rating, no item twice, and every rating on the grid."""
        r, t = self.ratings, self.threat
        if r.n_users != t.n_fake:
            raise ValueError(f"{self.attack}: {r.n_users} profiles, {t.n_fake} expected")
        lengths = np.diff(r.indptr)
        if np.any(lengths != t.n_filler + t.targets.size):
            z = int(np.argmax(lengths != t.n_filler + t.targets.size))
            raise ValueError(f"{self.attack}: fake user {z} rates {lengths[z]} items, "
                             f"{t.n_filler} fillers + {t.targets.size} targets expected")
        rows = np.repeat(np.arange(r.n_users), lengths)
        if np.any((np.diff(rows) == 0) & (np.diff(r.indices) <= 0)):
            raise ValueError(f"{self.attack}: a fake user rates an item twice")
        if not np.all(r.scale.contains(r.values)):
            raise ValueError(f"{self.attack}: a fake rating is off the grid")
        is_target = np.isin(r.indices, t.targets)
        if np.count_nonzero(is_target) != r.n_users * t.targets.size or np.any(r.values[is_target] != r.scale.high):
            raise ValueError(f"{self.attack}: every fake user must rate every target {r.scale.high:g}")

    def inject(self, train: RatingData) -> RatingData:
        """``train`` with the fake users appended after its users."""
        return train.with_fake_users(self.ratings)


class Attack(ABC):
    """A poisoning attack. Subclasses implement `craft`; `generate` handles the threat
    model, the attacker's partial view of the data, projection and validation."""

    name: ClassVar[str]

    def generate(self, train: RatingData, targets: np.ndarray, *, n_fake: int | None = None,
                 n_filler: int | None = None, knowledge: float = DEFAULT_KNOWLEDGE, seed: int = 0,
                 size: float = DEFAULT_SIZE, top_k: int = DEFAULT_TOP_K) -> FakeProfiles:
        """Fake profiles promoting ``targets`` in ``train`` (see `ThreatModel.for_data`)."""
        threat = ThreatModel.for_data(train, targets, n_fake=n_fake, size=size, n_filler=n_filler,
                                      knowledge=knowledge, seed=seed, top_k=top_k)
        view = AttackerView(train, threat.knowledge, seed)
        if view.observed.n_ratings == 0:
            raise ValueError(f"attacker knowledge {threat.knowledge:g} leaves the attacker no rating to see on "
                             f"{train.name}; raise --knowledge")
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA77AC]))
        select, values = self.craft(view, threat, rng)
        indptr, indices, ratings = project_profiles(select, values, threat.targets, threat.n_filler, train.scale)
        data = RatingData(indptr, indices, ratings, threat.n_fake, train.n_items, train.scale,
                          name=f"{train.name}+{self.name}", meta={"attack": self.name})
        return FakeProfiles(data, threat, self.name)

    @abstractmethod
    def craft(self, view: AttackerView, threat: ThreatModel,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(select, values)``, each ``[n_fake, n_items]``: per fake user the selection
        score of every item (the ``n_filler`` best non-targets become fillers, ``-inf``
        forbids) and the continuous rating it would give, on the dataset's scale."""


def random_selection(rng: np.random.Generator, n_fake: int, n_items: int) -> np.ndarray:
    """Selection scores that pick fillers uniformly at random."""
    return rng.random((n_fake, n_items), dtype=np.float32)
