"""CoAttack and GCoAttack (TCD paper §5.2-5.3): all fake users optimised together while the
attacker's model trains on the data that contains them, instead of against a fixed model.

``mode="paper"`` (the default) follows Alg. 2 and 3. The fake users start as Average-attack
profiles (random fillers rated from each item's observed rating distribution, the targets
at the maximum; the distribution of real ratings), on the grid, and join the attacker's
view. The attacker's MF (`knowledge.SURROGATE_OPTIONS`, no validation split) trains
``pretrain_epochs`` epochs (T_pre) on the training loss, then ``epochs - pretrain_epochs``
epochs on eq. 4, ``L_atk(R, theta) + L_train(R + R', theta)``, jointly over its factors and
the fake ratings ``R'`` (`cotraining`):

- ``R'`` is the fake users' continuous ratings (scaled to [0, 1]) on their profiles' items,
  the initial fillers and the targets; it enters ``L_train`` as those users' ratings (the
  support stays fixed while training, the targets at the maximum). Its gradient is
  ``L_train``'s alone, since eq. 3 reads the real users only.
- Each mini-batch takes one step of the surrogate's own Adam (its lr, betas and moments)
  on the model and one step of an Adam with the same settings on ``R'``.
- ``L_atk`` is eq. 3, ``sum_u sum_t max(min_{i in L_u} log h(u, i) - log h(u, t), -kappa)``
  with ``h = sigmoid(p . q)`` on ratings scaled to [0, 1] (our reading of the paper's h),
  over the real users the attacker sees, ``L_u`` the user's top-K list (K = the threat
  model's top-K, the cell's HR@K; the lists are taken at the start of every epoch, the
  scores are current); its gradient reaches the user's, the targets' and the list's
  lowest item's factors. Each user's term is one more sample of the epoch, shuffled in
  with the ratings, so the mini-batches estimate eq. 4 without bias.

Each fake user's fillers are then the ``n_filler`` non-target items model 0 predicts
highest for it, rated those predictions, projected onto the grid; the targets get the
maximum. GCoAttack plays against TCD: three models, pre-trained alike; then every epoch
each trains, on eq. 4 (Alg. 3, line 16), on the data plus the pseudo-labels the two others
agree on (at TCD's pseudo-label ratio and budget for the dataset, unless set), all three
moving the one ``R'``; the fillers come from model 0 (``h_0``), the one TCD serves.

``mode="response"`` is ours: the models train on the training loss alone, and after
pre-training every epoch ends with one ascent step (``step_size``) of all fake ratings on
eq. 3 with the K-th score held fixed, differentiated through the closed-form ridge
response (``ridge``) of model 0 to the fake users (`influence.TargetResponse`); the next
epoch trains on the updated profiles, and the last ones are projected onto the grid.
"""
from __future__ import annotations

import numpy as np

from ..data.ratings import RatingData
from ..data.registry import tcd_settings
from ..models.agreement import agreement_labels, sampling_ratio
from ..models.base import epoch_seed
from ..models.mf import MF
from .base import Attack, ThreatModel
from .cotraining import AttackLoss, FakeRatings, Ratings, joint_epoch
from .influence import Objective, TargetResponse, ascend_profiles, average_start, selection_of
from .knowledge import SURROGATE_OPTIONS, AttackerView
from .projection import project_profiles

#: How the fake ratings are optimised: the paper's eq. 4, or ours (the ridge response).
MODES = ("paper", "response")
#: Training epochs T when not set: the paper's 40 (its MF's, §6.1.5, and the authors'
#: code's; Alg. 2 leaves T open), and 30 for ours, as it always ran.
DEFAULT_EPOCHS = {"paper": 40, "response": 30}


class CoAttack(Attack):
    """Co-training attack (TCD paper §5.2, Alg. 2); ``mode`` ``"paper"`` (default) or
    ``"response"`` (ours: ``step_size`` and ``ridge`` apply to it alone), ``epochs`` (T)
    per `DEFAULT_EPOCHS` unless set; see the module docstring."""

    name = "coattack"
    n_models = 1

    def __init__(self, epochs: int | None = None, pretrain_epochs: int = 1, kappa: float = 0.2, mode: str = "paper",
                 step_size: float = 0.1, ridge: float = 0.1) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        epochs = DEFAULT_EPOCHS[mode] if epochs is None else epochs
        if epochs < 1 or not 0 <= pretrain_epochs < epochs:
            raise ValueError("need epochs >= 1 and 0 <= pretrain_epochs < epochs")
        if kappa < 0 or not step_size > 0 or not ridge > 0:
            raise ValueError("need kappa >= 0, step_size > 0 and ridge > 0")
        self.epochs, self.pretrain_epochs, self.kappa, self.mode = epochs, pretrain_epochs, kappa, mode
        self.step_size, self.ridge = step_size, ridge

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        self._prepare(view)
        x, items = average_start(view, threat, rng)
        x[:, threat.targets] = 1.0
        data = self._with_fakes(view, threat, items, x)
        seeds = rng.integers(0, 2**63, size=self.n_models + 1).tolist()
        models = [MF(**{**SURROGATE_OPTIONS, "valid_fraction": 0.0}) for _ in range(self.n_models)]
        for model, seed in zip(models, seeds):
            model.start(data, data, seed)
        if self.mode == "response":
            return self._respond(view, threat, models, data, x, items, seeds)
        return self._cotrain(view, threat, models, data, seeds)

    def _cotrain(self, view: AttackerView, threat: ThreatModel, models: list[MF], data: RatingData,
                 seeds: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Alg. 2 / 3: pre-training on ``L_train``, then eq. 4 for every model; fillers and
        their ratings are model 0's predictions for the fake users."""
        fakes = FakeRatings.of(data, threat.targets, models[0])
        loss = AttackLoss(view.active_users, threat.targets, self.kappa, min(threat.top_k, view.n_items - 1))
        real = view.observed.normalized().coo()
        for epoch in range(self.epochs):
            for j, model in enumerate(models):
                if epoch < self.pretrain_epochs:
                    model.train_epoch(data, epoch_seed(seeds[j], epoch))
                    continue
                pseudo = self._pseudo_labels(models, j, data, epoch, seeds[-1])
                loss.refresh(model)
                ratings = real if pseudo is None else _joined(real, pseudo, view.scale.high)
                joint_epoch(model, ratings, fakes, loss, epoch_seed(seeds[j], epoch))
        predicted = models[0].predict(np.arange(data.n_real_users, data.n_users, dtype=np.int32))
        return predicted, predicted

    def _respond(self, view: AttackerView, threat: ThreatModel, models: list[MF], data: RatingData, x: np.ndarray,
                 items: np.ndarray, seeds: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Ours: ``L_train`` alone, and after pre-training one ascent step of the fake
        ratings per epoch through the ridge response of model 0."""
        objective = Objective("log_hinge", self.kappa)
        low = view.scale.low / view.scale.high
        for epoch in range(self.epochs):
            for j, model in enumerate(models):
                pseudo = self._pseudo_labels(models, j, data, epoch, seeds[-1])
                model.train_epoch(data if pseudo is None else data.with_ratings(*pseudo),
                                  epoch_seed(seeds[j], epoch))
            if epoch >= self.pretrain_epochs:
                response = TargetResponse(view, threat, ridge=self.ridge, model=models[0])
                x, items, _ = ascend_profiles(response, x, items, threat, objective, steps=1,
                                              step_size=self.step_size, low=low)
                data = self._with_fakes(view, threat, items, x)
        return selection_of(items, view.n_items), (x * view.scale.high).astype(np.float32)

    def _prepare(self, view: AttackerView) -> None:
        """Settings that depend on the attacker's data (none for CoAttack)."""

    def _pseudo_labels(self, models: list[MF], j: int, data: RatingData, epoch: int,
                       seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The pseudo-labels model ``j`` trains on in ``epoch`` besides ``data`` (CoAttack: none)."""
        return None

    @staticmethod
    def _with_fakes(view: AttackerView, threat: ThreatModel, items: np.ndarray, x: np.ndarray) -> RatingData:
        """The attacker's view plus fake users rating ``items`` with normalised ``x``, on the grid."""
        select = selection_of(items, view.n_items)
        indptr, indices, ratings = project_profiles(select, x * view.scale.high, threat.targets, threat.n_filler,
                                                    view.scale)
        fakes = RatingData(indptr, indices, ratings, threat.n_fake, view.n_items, view.scale)
        return view.observed.with_fake_users(fakes)


def _joined(ratings: Ratings, pseudo: tuple[np.ndarray, np.ndarray, np.ndarray], high: float) -> Ratings:
    """``ratings`` (scaled to [0, 1]) followed by ``pseudo`` (on the dataset's scale)."""
    return (np.concatenate([ratings[0], pseudo[0]]), np.concatenate([ratings[1], pseudo[1]]),
            np.concatenate([ratings[2], (pseudo[2] / high).astype(np.float32)]))


class GCoAttack(CoAttack):
    """Game-based co-training attack (TCD paper §5.3, Alg. 3): CoAttack against TCD's three
    cooperating models, with pseudo-labels once pre-training is over, sampled at
    ``pseudo_ratio`` and capped at ``pseudo_budget`` per rating; None (the default) takes
    TCD's setting for the attacker's dataset (`data.registry.tcd_settings`: 1.0 on ML-100K
    and FilmTrust, 0.2 on ML-1M, 0.2 capped at 4 per rating on Yelp)."""

    name = "gcoattack"
    n_models = 3

    def __init__(self, epochs: int | None = None, pretrain_epochs: int = 1, kappa: float = 0.2, mode: str = "paper",
                 step_size: float = 0.1, ridge: float = 0.1, pseudo_ratio: float | None = None,
                 pseudo_budget: float | None = None) -> None:
        super().__init__(epochs, pretrain_epochs, kappa, mode, step_size, ridge)
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

    def _pseudo_labels(self, models: list[MF], j: int, data: RatingData, epoch: int,
                       seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        if epoch < self.pretrain_epochs:
            return None
        return agreement_labels(models[(j + 1) % 3], models[(j + 2) % 3], data, ratio=self._ratio,
                                seed=epoch_seed(seed + j, epoch))
