"""CoAttack and GCoAttack (TCD paper §5.2-5.3): all fake users optimised together while the
attacker's model trains on the data that contains them, instead of against a fixed model.

The attacker's MF starts from scratch on its view of the data plus the fake users
(initially Average-attack profiles). After ``pretrain_epochs`` epochs of the training loss
alone, every epoch is followed by one ascent step of all fake ratings on the attack loss
(eq. 3: ``sum_u sum_t max(log s(u, K) - log s(u, t), -kappa)``, ``s = sigmoid(p . q)``,
K = the threat model's top-K, the cell's HR@K, over the real users the attacker sees), differentiated through the closed-form
response of the *current* model to the fake users (`influence.TargetResponse`); the next
epoch trains on the updated profiles. The last profiles are projected onto the grid.
GCoAttack plays the same game against TCD: three models, each epoch trained on the data
plus the pseudo-labels the two others agree on (at TCD's pseudo-label ratio and budget for
the dataset, unless set); the response is read off model 0, the one TCD serves.
"""
from __future__ import annotations

import numpy as np

from ..data.ratings import RatingData
from ..data.registry import tcd_settings
from ..models.agreement import agreement_labels, sampling_ratio
from ..models.base import epoch_seed
from ..models.mf import MF
from .base import Attack, ThreatModel
from .influence import Objective, TargetResponse, ascend_profiles, average_start, selection_of
from .knowledge import SURROGATE_OPTIONS, AttackerView
from .projection import project_profiles


class CoAttack(Attack):
    """Co-training attack (TCD paper §5.2, Alg. 2); see the module docstring."""

    name = "coattack"
    n_models = 1

    def __init__(self, epochs: int = 30, pretrain_epochs: int = 1, kappa: float = 0.2, step_size: float = 0.1,
                 ridge: float = 0.1) -> None:
        if epochs < 1 or not 0 <= pretrain_epochs < epochs:
            raise ValueError("need epochs >= 1 and 0 <= pretrain_epochs < epochs")
        if kappa < 0 or not step_size > 0 or not ridge > 0:
            raise ValueError("need kappa >= 0, step_size > 0 and ridge > 0")
        self.epochs, self.pretrain_epochs, self.kappa = epochs, pretrain_epochs, kappa
        self.step_size, self.ridge = step_size, ridge

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        self._prepare(view)
        objective = Objective("log_hinge", self.kappa)
        low = view.scale.low / view.scale.high
        x, items = average_start(view, threat, rng)
        x[:, threat.targets] = 1.0
        data = self._with_fakes(view, threat, items, x)
        seeds = rng.integers(0, 2**63, size=self.n_models + 1).tolist()
        models = [MF(**{**SURROGATE_OPTIONS, "valid_fraction": 0.0}) for _ in range(self.n_models)]
        for model, seed in zip(models, seeds):
            model.start(data, data, seed)
        for epoch in range(self.epochs):
            for j, model in enumerate(models):
                model.train_epoch(self._training_data(models, j, data, epoch, seeds[-1]), epoch_seed(seeds[j], epoch))
            if epoch >= self.pretrain_epochs:
                response = TargetResponse(view, threat, ridge=self.ridge, model=models[0])
                x, items, _ = ascend_profiles(response, x, items, threat, objective, steps=1,
                                              step_size=self.step_size, low=low)
                data = self._with_fakes(view, threat, items, x)
        return selection_of(items, view.n_items), (x * view.scale.high).astype(np.float32)

    def _prepare(self, view: AttackerView) -> None:
        """Settings that depend on the attacker's data (none for CoAttack)."""

    def _training_data(self, models: list[MF], j: int, data: RatingData, epoch: int, seed: int) -> RatingData:
        """What model ``j`` trains on in ``epoch`` (CoAttack: the data with the fake users)."""
        return data

    @staticmethod
    def _with_fakes(view: AttackerView, threat: ThreatModel, items: np.ndarray, x: np.ndarray) -> RatingData:
        """The attacker's view plus fake users rating ``items`` with normalised ``x``, on the grid."""
        select = selection_of(items, view.n_items)
        indptr, indices, ratings = project_profiles(select, x * view.scale.high, threat.targets, threat.n_filler,
                                                    view.scale)
        fakes = RatingData(indptr, indices, ratings, threat.n_fake, view.n_items, view.scale)
        return view.observed.with_fake_users(fakes)


class GCoAttack(CoAttack):
    """Game-based co-training attack (TCD paper §5.3, Alg. 3): CoAttack against TCD's three
    cooperating models, with pseudo-labels once pre-training is over, sampled at
    ``pseudo_ratio`` and capped at ``pseudo_budget`` per rating; None (the default) takes
    TCD's setting for the attacker's dataset (`data.registry.tcd_settings`: 1.0 on ML-100K
    and FilmTrust, 0.2 on ML-1M, 0.2 capped at 4 per rating on Yelp)."""

    name = "gcoattack"
    n_models = 3

    def __init__(self, epochs: int = 30, pretrain_epochs: int = 1, kappa: float = 0.2, step_size: float = 0.1,
                 ridge: float = 0.1, pseudo_ratio: float | None = None, pseudo_budget: float | None = None) -> None:
        super().__init__(epochs, pretrain_epochs, kappa, step_size, ridge)
        if pseudo_ratio is not None and not 0 < pseudo_ratio <= 1:
            raise ValueError(f"pseudo_ratio must lie in (0, 1], got {pseudo_ratio}")
        if pseudo_budget is not None and not 0 < pseudo_budget < np.inf:
            raise ValueError(f"pseudo_budget must be a positive number (or None), got {pseudo_budget}")
        self.pseudo_ratio, self.pseudo_budget = pseudo_ratio, pseudo_budget
        self._ratio = 1.0

    def _prepare(self, view: AttackerView) -> None:
        observed = view.observed
        tcd = tcd_settings(observed.name, observed.n_users * observed.n_items)
        ratio = tcd["pseudo_ratio"] if self.pseudo_ratio is None else self.pseudo_ratio
        budget = tcd["pseudo_budget"] if self.pseudo_budget is None else self.pseudo_budget
        self._ratio = sampling_ratio(ratio, budget, observed, observed.n_ratings)

    def _training_data(self, models: list[MF], j: int, data: RatingData, epoch: int, seed: int) -> RatingData:
        if epoch < self.pretrain_epochs:
            return data
        pseudo = agreement_labels(models[(j + 1) % 3], models[(j + 2) % 3], data, ratio=self._ratio,
                                  seed=epoch_seed(seed + j, epoch))
        return data.with_ratings(*pseudo)
