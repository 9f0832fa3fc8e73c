"""Triple cooperative defense (TCD paper, Alg. 1): three models teach each other with the
pseudo-labels two of them agree on."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from tqdm.auto import tqdm

from ..data.ratings import RatingData
from ..data.registry import tcd_settings
from ..data.split import default_threshold
from ..models import MODELS
from ..models.agreement import agreement_labels, sampling_ratio
from ..models.base import TrainableModel, epoch_seed
from ..models.validation import validation_hit_ratio
from .base import DefenseContext, ModelFactory, TrainingDefense
from .canary import Verdict, declined_message, judge, stage_canary

#: Which unrated pairs become pseudo-labels, as the projection of a prediction outside the
#: rating scale (`models.agreement.ENDS`): the paper's (its code's ``round(x * max) / max``,
#: which projects a prediction near 0 to 0, below the lowest rating), ours clipped to the
#: scale's ends (fastpoison's default before it followed the code), ours with only
#: predictions within the scale agreeing, or one of the last two chosen by validation
#: accuracy (`TCD`).
LABEL_ENDS = {"agree": "extend", "clipped": "clamp", "in-range": "drop"}
LABELS = (*LABEL_ENDS, "auto")
#: ``labels="auto"`` ranks the held-out ratings by HR at this cut-off, and keeps clipped
#: labels only if they beat in-range labels by more than this many standard errors.
SELECT_HR_K = 50
SELECT_MARGIN_SE = 2.0
#: ``pseudo_budget`` of TCD on victims whose scores only rank (BPR-MF, LightGCN; ours, the
#: paper has none): "liked" agreement on sigmoid(score) labels whatever lies above an
#: arbitrary level. On real ML-100K a trained BPR-MF calls 21 % of the unrated pairs liked
#: (3.2x the interactions; CDAE, whose sigmoid is trained as a probability, 0.6 %), a
#: LightGCN after its 4 pre-training epochs 560-820 K per epoch (8x), and TCD kept its first
#: co-training epoch (test HR@50 0.34 against 0.61); with at most one label per interaction
#: its validation loss still fell at epoch 60.
UNCALIBRATED_BUDGET = 1.0

def _liked_only(labels: tuple[np.ndarray, np.ndarray, np.ndarray], liked: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keep = labels[2] >= liked - 1e-4
    return labels[0][keep], labels[1][keep], labels[2][keep]


def label_summary(head: TrainableModel) -> dict[str, float]:
    """What the pseudo-labels of a co-training were, from the head's history: per model and
    co-training epoch, ``labels_per_rating`` (labels per fitted training rating) and
    ``lowest_label_share`` (the share at or below the scale's lowest rating; 0 on implicit-feedback victims,
    which keep only "liked" labels). Empty without co-training."""
    epochs = [r for r in head.history if "pseudo_per_rating" in r]
    if not epochs:
        return {}
    labels = sum(r["pseudo_labels"] for r in epochs)
    return {"labels_per_rating": float(np.mean([r["pseudo_per_rating"] for r in epochs])),
            "lowest_label_share": sum(r.get("pseudo_lowest", 0.0) for r in epochs) / labels if labels else 0.0}


@dataclass(frozen=True)
class TCD(TrainingDefense):
    """Three models of one kind (from ``model_factory``, seeds derived from the fit seed) are
    pre-trained for ``pretrain_epochs`` on the training ratings; in every later epoch, each
    model j in turn trains one epoch on the training ratings plus the unrated pairs on which
    the two other models agree after projection onto the rating grid (`agreement_labels`,
    sampled at ``pseudo_ratio``). Model 0 is returned, at its epoch of lowest validation MSE.
    ``epochs`` (None: the model's own setting) counts pre-training epochs too. Early stopping
    follows model 0's ``patience`` (ours; 0 in `reproduce`), counted from the first
    co-training epoch at the earliest, so that co-training always runs ``patience`` epochs. Any model
    with the step API works; for implicit-feedback models (CDAE), where every rating is an
    interaction, only pseudo-labels at or above the "liked" threshold (4 of 5) are kept. Models
    that are not ``co_trainable`` (popularity) are refused.

    ``pseudo_budget`` caps the cost: the sampling ratio becomes ``min(pseudo_ratio,
    pseudo_budget x training ratings / unrated pairs)``, so each model-epoch expects at most
    ``pseudo_budget`` pseudo-labels per training rating (agreement is a subset of the unrated
    pairs). Training time grows with the labels: the paper's ratios give 4x (ML-1M) to 16x
    (ML-100K) the real ratings per model-epoch, and 130x on a Yelp-shaped set. On victims
    whose scores only rank (BPR-MF, LightGCN: ``calibrated`` False) the default is
    `UNCALIBRATED_BUDGET` (ours) wherever the dataset's settings set no cap.

    ``labels`` says which agreeing pairs are labelled. ``"agree"`` is the paper's: the two
    predictions projected onto the grid are equal, where the projection is the TCD code's
    ``round(x * max) / max`` (the paper's text says only "reasonable discrete ratings"), so a
    prediction near 0 projects to 0, below the lowest rating, and that is its label.
    ``"clipped"`` (ours; fastpoison's default before it followed the code) clips predictions
    outside the scale to its ends, so every prediction below the lowest rating projects to it.
    ``"in-range"`` (ours) does not count two predictions below the lowest rating (or above the
    highest) as agreement: that is what two models say of an item neither knows
    (an unbiased factor model predicts about 0), and on long-tailed data such clipped
    agreement floods every rarely rated item with the lowest rating while the targets, on
    which the attacked models disagree, escape it, so they rise. ``"auto"`` (ours; the
    default outside the paper's datasets, `data.registry.tcd_settings`) co-trains with clipped
    and with in-range labels and keeps the clipped ones only where their model ranks the
    held-out validation ratings better, by more than `SELECT_MARGIN_SE` standard errors of
    HR@`SELECT_HR_K` (`validation_hit_ratio`); it costs two fits. (Clipped, not the paper's:
    on a sparse set the flood of lowest-rating labels is what defends, and the paper's
    projection, which splits it between 0 and the lowest rating, defends far less;
    docs/papers.md.) The fitted model's ``fit_notes`` say
    which labels were kept and why, and what they were (`label_summary`: labels per training
    rating, and the share at or below the lowest rating, which a flood of "unrated means
    disliked" shows).

    ``min_item_ratings`` (ours; 0, the paper's, labels every item) leaves out the pairs of
    items with fewer training ratings.

    ``canary`` (ours; off, the paper's, on its datasets, on elsewhere) then tries TCD, with
    the labels kept, against the defender's own canary attack (`canary.stage_canary`): TCD
    and a plain fit on the training data plus the canary's fakes; if TCD does not lower the
    canary's target HR beyond chance (`canary.Verdict.declined`), it is declined, a warning says so, and the plain fit of the training data (the undefended
    victim) is returned. It costs one more TCD fit and one plain fit; the notes give the verdict.
    """

    pretrain_epochs: int = 2
    epochs: int | None = None
    pseudo_ratio: float = 1.0
    pseudo_budget: float | None = None
    block_users: int = 256
    min_item_ratings: int = 0
    labels: str = "agree"
    canary: bool = False
    name: ClassVar[str] = "tcd"

    def __post_init__(self) -> None:
        if self.pretrain_epochs < 0 or (self.epochs is not None and self.epochs < 1):
            raise ValueError("TCD needs pretrain_epochs >= 0 and epochs >= 1")
        if not 0 < self.pseudo_ratio <= 1:
            raise ValueError(f"pseudo_ratio must lie in (0, 1], got {self.pseudo_ratio}")
        if self.pseudo_budget is not None and not 0 < self.pseudo_budget < np.inf:
            raise ValueError(f"pseudo_budget must be a positive number (or None), got {self.pseudo_budget}")
        if self.block_users < 1:
            raise ValueError("block_users must be >= 1")
        if self.min_item_ratings < 0:
            raise ValueError(f"min_item_ratings must be >= 0, got {self.min_item_ratings}")
        if self.labels not in LABELS:
            raise ValueError(f"labels must be one of {', '.join(LABELS)}, got {self.labels!r}")

    @classmethod
    def defaults(cls, context: DefenseContext) -> dict[str, Any]:
        """The paper's settings for the dataset, or its rule for the size (`data.registry.tcd_settings`);
        on a victim whose scores only rank, labels capped at `UNCALIBRATED_BUDGET` per rating (ours)."""
        settings = tcd_settings(context.dataset, context.n_pairs)
        model = MODELS.get(context.model or "")
        if model is not None and not model.calibrated and settings["pseudo_budget"] is None:
            settings["pseudo_budget"] = UNCALIBRATED_BUDGET
        return settings

    @classmethod
    def applies_to(cls, model: type[TrainableModel]) -> bool:
        """Models whose three copies can disagree (not popularity)."""
        return model.co_trainable

    @classmethod
    def for_dataset(cls, dataset: str | None, n_pairs: int | None = None) -> "TCD":
        """TCD with `defaults` for ``dataset`` of ``n_pairs`` user-item pairs."""
        return cls(**cls.defaults(DefenseContext(dataset=dataset, n_pairs=n_pairs)))

    def sampling_ratio(self, train: RatingData, n_fit_ratings: int) -> float:
        """The Bernoulli ratio applied to agreeing pairs: ``pseudo_ratio``, capped by the budget."""
        return sampling_ratio(self.pseudo_ratio, self.pseudo_budget, train, n_fit_ratings)

    def fit(self, model_factory: ModelFactory, train: RatingData, *, seed: int = 0,
            progress: bool = False) -> TrainableModel:
        head = self._fit_labels(model_factory, train, seed, progress)
        if not self.canary:
            return head
        verdict = self._canary_verdict(model_factory, train, seed, progress,
                                       ends=LABEL_ENDS[head.fit_notes["labels"]])
        notes = {**head.fit_notes, **verdict.notes()}
        if verdict.declined:
            warnings.warn(declined_message(self.name, verdict), stacklevel=2)
            head = model_factory().fit(train, seed=seed, progress=progress)
        head.fit_notes = notes
        return head

    def _canary_verdict(self, model_factory: ModelFactory, train: RatingData, seed: int, progress: bool, *,
                        ends: str) -> Verdict:
        """The canary's verdict on co-training with the labels of ``ends`` (see ``canary``)."""
        canary = stage_canary(train, seed)
        plain = model_factory().fit(canary.data, seed=seed, progress=progress)
        defended = self._cotrain(model_factory, canary.data, seed, progress, ends=ends)
        return judge(canary.hits(plain.top_k), canary.hits(defended.top_k))

    def _fit_labels(self, model_factory: ModelFactory, train: RatingData, seed: int,
                    progress: bool) -> TrainableModel:
        """Model 0 co-trained with the ``labels`` setting (for ``auto``, the chosen ones)."""
        if self.labels != "auto":
            head = self._cotrain(model_factory, train, seed, progress, ends=LABEL_ENDS[self.labels])
            head.fit_notes = {"labels": self.labels, **label_summary(head)}
            return head
        clipped = self._cotrain(model_factory, train, seed, progress, ends=LABEL_ENDS["clipped"])
        fit_part, valid = clipped.split_validation(train, seed)
        if valid is None:
            raise ValueError("TCD labels=auto chooses by validation accuracy: the model needs valid_fraction > 0")
        liked = default_threshold(train.scale)
        hr_clipped, n = validation_hit_ratio(clipped, fit_part, valid, k=SELECT_HR_K, liked=liked)
        in_range = self._cotrain(model_factory, train, seed, progress, ends=LABEL_ENDS["in-range"])
        hr_in_range, _ = validation_hit_ratio(in_range, fit_part, valid, k=SELECT_HR_K, liked=liked)
        pooled = (hr_clipped + hr_in_range) / 2
        margin = SELECT_MARGIN_SE * float(np.sqrt(2 * pooled * (1 - pooled) / max(1, n)))
        head = clipped if hr_clipped - hr_in_range > margin else in_range
        head.fit_notes = {"labels": "clipped" if head is clipped else "in-range", **label_summary(head),
                          "valid_hr_clipped": hr_clipped, "valid_hr_in_range": hr_in_range, "valid_pairs": n,
                          "margin": margin}
        return head

    def _cotrain(self, model_factory: ModelFactory, train: RatingData, seed: int, progress: bool, *,
                 ends: str) -> TrainableModel:
        """Algorithm 1 with agreement under the projection ``ends``; returns model 0 at its best epoch."""
        models = [model_factory() for _ in range(3)]
        if not all(isinstance(m, TrainableModel) for m in models):
            raise ValueError("TCD needs a factory of fastpoison models (mf, nsvd, autorec, cdae)")
        head = models[0]
        if not head.co_trainable:
            raise ValueError(f"TCD co-trains three models on the labels two of them agree on; {head.name} fits the "
                             f"same model whatever the seed, so its copies would always agree")
        liked = default_threshold(train.scale) if head.implicit_feedback else None
        n_epochs = head.config.epochs if self.epochs is None else self.epochs
        fit_part, valid = head.split_validation(train, seed)
        seeds = np.random.SeedSequence([seed, 0x7CD]).generate_state(4, np.uint64).tolist()
        ratio = self.sampling_ratio(train, fit_part.n_ratings)
        for model, model_seed in zip(models, seeds):
            model.start(train, fit_part, model_seed)
        best, best_mse = None, np.inf
        bar = tqdm(range(n_epochs), desc="tcd fit", unit="epoch", disable=None if progress else True, leave=False)
        for epoch in bar:
            record = {"epoch": float(epoch), "pseudo_labels": 0.0}
            for j, model in enumerate(models):
                data = fit_part
                if epoch >= self.pretrain_epochs:
                    pseudo = agreement_labels(models[(j + 1) % 3], models[(j + 2) % 3], train,
                                              ratio=ratio, seed=epoch_seed(seeds[3] + j, epoch),
                                              block_users=self.block_users, threads=head.config.threads,
                                              min_item_ratings=self.min_item_ratings, ends=ends)
                    if liked is not None:
                        pseudo = _liked_only(pseudo, liked)
                    record["pseudo_labels"] += len(pseudo[0]) / 3
                    record["pseudo_lowest"] = record.get("pseudo_lowest", 0.0) + float(
                        np.count_nonzero(pseudo[2] <= train.scale.low + 1e-4)) / 3
                    data = fit_part.with_ratings(*pseudo)
                    del pseudo  # only the merged copy is needed while training
                mse = model.train_epoch(data, epoch_seed(seeds[j], epoch))
                if j == 0:
                    record["train_mse"] = mse
            if epoch >= self.pretrain_epochs:
                record["pseudo_per_rating"] = record["pseudo_labels"] / max(1, fit_part.n_ratings)
            if valid is not None:
                record["valid_mse"] = head.validation_mse(valid)
                if record["valid_mse"] < best_mse:
                    best_mse, head.best_epoch, best = record["valid_mse"], epoch, head.snapshot()
            head.history.append(record)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"})
            if head.stops_after(epoch, counting_from=self.pretrain_epochs):
                break
        head.finish(best, len(head.history) - 1)
        head.validation = valid
        return head
