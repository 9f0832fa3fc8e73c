"""The canary check (ours): before a defense is trusted on data it was not tuned on, it is
tried against a canary attack staged on that same data, and kept only if it lowers the
canary's targets. It needs no knowledge of any real attack: the canary is the defender's own.

The canary is an Average-style attack with full knowledge: `CANARY_SIZE` of the users (the
defender cannot tell real from fake, so all of them count) are appended as fake users, each
rating `CANARY_ITEMS` unpopular items (`choose_targets`) with the highest rating and a
mean-sized profile of uniformly drawn fillers rated at each filler's mean rating. Its verdict
compares the canary targets' HR@`CANARY_HR_K` of the victim fitted on the canary data with
and without the defense, over the same users (pairs a user rated are not counted), and keeps
the defense only if it lowers that HR beyond chance (`Verdict.declined`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.sparse as sp

from ..data.ratings import RatingData
from ..data.targets import choose_targets
from ..models.scoring import TopK

CANARY_ITEMS = 5
#: Canary fake users as a share of all users (both papers' default attack size).
CANARY_SIZE = 0.03
CANARY_HR_K = 50
#: At most this many users (a seeded sample) judge the canary.
CANARY_USERS = 300
#: Fewer hits than this with and without the defense together and the canary cannot judge
#: it (the defense is kept as set).
MIN_HITS = 10
#: A defense is kept only if it lowers the canary by more than this many standard deviations
#: of a sign test on the pairs it changed (about a 2.5 % one-sided level).
MARGIN_Z = 2.0

#: ``(users, k) -> TopK``: a recommender's top-``k`` lists of ``users``.
TopKOf = Callable[[np.ndarray, int], TopK]


@dataclass(frozen=True)
class Canary:
    """``data``: the training data with the canary's fake users appended after its
    ``n_users`` users; ``items``: the canary's targets; ``users``: the users who judge it."""

    data: RatingData
    items: np.ndarray
    users: np.ndarray

    def hits(self, top_of: TopKOf) -> np.ndarray:
        """Whether each (judging user, canary item) pair the user has not rated is in the
        user's top-`CANARY_HR_K` list, flattened in a fixed order."""
        top = top_of(self.users, CANARY_HR_K).items
        found = (top[:, :, None] == self.items[None, None, :]).any(axis=1)
        return found[~self._rated()]

    def _rated(self) -> np.ndarray:
        d = self.data
        rated = np.zeros((self.users.size, self.items.size), dtype=bool)
        for row, u in enumerate(self.users):
            rated[row] = np.isin(self.items, d.indices[d.indptr[u]:d.indptr[u + 1]])
        return rated


def stage_canary(train: RatingData, seed: int) -> Canary:
    """The canary attack on ``train`` (see the module), every draw from ``seed``."""
    seeds = np.random.SeedSequence([seed, 0xCA7]).generate_state(2)
    rng = np.random.default_rng(seeds[1])
    try:
        items = choose_targets(train, "unpopular", CANARY_ITEMS, seed=int(seeds[0]))
    except ValueError:  # too few unpopular items: any items do
        items = choose_targets(train, "random", CANARY_ITEMS, seed=int(seeds[0]))
    n_fake = max(1, int(CANARY_SIZE * train.n_users))
    others = np.setdiff1d(np.arange(train.n_items), items)
    n_filler = int(min(max(1, round(train.n_ratings / train.n_users) - items.size), others.size))
    counts = train.item_counts()
    sums = np.bincount(train.indices, weights=train.values, minlength=train.n_items)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), float(np.mean(train.values)))
    fillers = np.stack([rng.choice(others, n_filler, replace=False) for _ in range(n_fake)])
    columns = np.concatenate([np.broadcast_to(items, (n_fake, items.size)), fillers], axis=1)
    values = np.concatenate([np.full((n_fake, items.size), train.scale.high),
                             train.scale.snap(means[fillers])], axis=1)
    rows = np.repeat(np.arange(n_fake), columns.shape[1])
    profiles = sp.csr_matrix((values.ravel().astype(np.float32), (rows, columns.ravel())),
                             shape=(n_fake, train.n_items))
    users = np.sort(rng.permutation(train.n_users)[:CANARY_USERS]).astype(np.int32)
    return Canary(train.with_fake_users(profiles), items.astype(np.int32), users)


@dataclass(frozen=True)
class Verdict:
    """The canary's target HR without (``hr_plain``) and with (``hr_defended``) the defense
    over ``pairs`` pairs, of which ``lowered`` were hits only without the defense and
    ``raised`` only with it; ``judged`` is False when the canary reached too few lists, with
    and without the defense together (`MIN_HITS`), to judge."""

    hr_plain: float
    hr_defended: float
    pairs: int
    lowered: int
    raised: int
    judged: bool

    @property
    def declined(self) -> bool:
        """Whether the defense is to be declined: it did not lower the canary's targets beyond
        chance (a one-sided sign test on the pairs it changed: ``lowered - raised`` must
        exceed `MARGIN_Z` standard deviations, ``sqrt(lowered + raised)``)."""
        changed = self.lowered + self.raised
        return self.judged and not self.lowered - self.raised > MARGIN_Z * np.sqrt(changed)

    def notes(self) -> dict[str, Any]:
        """The verdict as a defense's notes (``canary``: kept, declined or not judged; a
        declined defense is ``inactive``: the model serves as trained without it)."""
        said = "declined" if self.declined else "kept" if self.judged else "not judged"
        notes: dict[str, Any] = {"canary": said, "canary_hr_plain": self.hr_plain,
                                 "canary_hr_defended": self.hr_defended, "canary_pairs": self.pairs,
                                 "canary_lowered": self.lowered, "canary_raised": self.raised}
        if self.declined:
            notes["inactive"] = "declined by the canary check: the undefended model serves"
        return notes


def judge(plain: np.ndarray, defended: np.ndarray) -> Verdict:
    """The verdict on the `Canary.hits` of a victim without and with the defense."""
    n = int(plain.size)
    hr_plain = float(plain.mean()) if n else 0.0
    hr_defended = float(defended.mean()) if n else 0.0
    lowered, raised = int(np.sum(plain & ~defended)), int(np.sum(defended & ~plain))
    return Verdict(hr_plain, hr_defended, n, lowered, raised, int(plain.sum()) + int(defended.sum()) >= MIN_HITS)


#: The one line a declined defense writes on stderr (formatted with its name and figures).
DECLINED = ("{name} declined: on a canary attack staged on this data it did not lower the canary's target "
            "HR@{k} beyond chance ({plain:.4f} without, {defended:.4f} with it); the undefended model serves")


def declined_message(name: str, verdict: Verdict) -> str:
    return DECLINED.format(name=name, k=CANARY_HR_K, plain=verdict.hr_plain, defended=verdict.hr_defended)
