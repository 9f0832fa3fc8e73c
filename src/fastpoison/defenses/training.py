"""The RVD paper's training-time baselines: MF fitted with a robust objective (APR, AT, RAT,
LTSMF, RMF), each a `TrainingDefense` that sets the objective through the model factory."""
from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from ..data.ratings import RatingData
from ..models.mf import MF, MFConfig
from .base import ModelFactory, TrainingDefense


class RobustObjective(TrainingDefense):
    """A defense that trains MF with a robust objective (settings of `MFConfig`)."""

    models = ("mf",)

    def __post_init__(self) -> None:
        MFConfig(**self.overrides())  # invalid settings fail here, before any training

    @abstractmethod
    def overrides(self) -> dict[str, Any]:
        """The `MFConfig` settings this defense trains with."""

    def fit(self, model_factory: ModelFactory, train: RatingData, *, seed: int = 0, progress: bool = False) -> MF:
        """MF fitted with the robust objective; its ``fit_notes`` say so when the kept epoch
        precedes the objective's first epoch (``warmup``), as the model is then the plain one."""
        model = model_factory(**self.overrides())
        if not isinstance(model, MF):
            raise ValueError(f"{self.name} is defined for matrix factorisation (model 'mf'), "
                             f"not {getattr(model, 'name', type(model).__name__)!r}")
        model.fit(train, seed=seed, progress=progress)
        warmup = getattr(self, "warmup", 0)
        if model.best_epoch < warmup:
            model.fit_notes = {"inactive": f"the kept epoch ({model.best_epoch + 1}, lowest validation MSE) precedes "
                                           f"the {self.name} loss (from epoch {warmup + 1}): the model is the "
                                           f"undefended one"}
        return model


APR_PERTURBATIONS = {"row": "adversarial_rows", "rating": "adversarial"}


@dataclass(frozen=True)
class APR(RobustObjective):
    """Adversarial training (He et al. 2018), a minimax game on the embeddings: the loss is
    added, with ``weight``, to the loss after an adversarial perturbation of the embeddings
    (ratings scaled to [0, 1]), from epoch ``warmup`` on.

    ``per="row"`` (the default, He et al.'s): for each mini-batch, every embedding row it
    touches is perturbed by ``eps`` times its normalised gradient of the batch's squared
    error (the fast-gradient solution of the inner maximisation). ``per="rating"`` is ours:
    each rating perturbs its own p_u and q_i along the gradient of its own error."""

    eps: float = 0.05
    weight: float = 1.0
    warmup: int = 0
    per: str = "row"
    name: ClassVar[str] = "apr"

    def __post_init__(self) -> None:
        if self.per not in APR_PERTURBATIONS:
            raise ValueError(f"{self.name} per must be one of {', '.join(APR_PERTURBATIONS)}, got {self.per!r}")
        super().__post_init__()

    def overrides(self) -> dict[str, Any]:
        return {"perturbation": APR_PERTURBATIONS[self.per], "perturbation_size": self.eps,
                "perturbation_weight": self.weight, "perturbation_warmup": self.warmup}


@dataclass(frozen=True)
class AT(APR):
    """Adversarial training as the TCD paper's baseline: APR's perturbation capped at norm
    ``eps`` = 0.03, its loss added after ``warmup`` = 5 clean epochs."""

    eps: float = 0.03
    warmup: int = 5
    name: ClassVar[str] = "at"


@dataclass(frozen=True)
class RAT(RobustObjective):
    """Random adversarial training (TCD paper's baseline): the loss under a fresh random
    perturbation of p_u and q_i (truncated-normal entries, std ``std``) per rating, added with
    ``weight`` after ``warmup`` clean epochs."""

    std: float = 0.01
    weight: float = 1.0
    warmup: int = 5
    name: ClassVar[str] = "rat"

    def overrides(self) -> dict[str, Any]:
        return {"perturbation": "random", "perturbation_size": self.std, "perturbation_weight": self.weight,
                "perturbation_warmup": self.warmup}


@dataclass(frozen=True)
class LTSMF(RobustObjective):
    """Least trimmed squares MF (Cheng and Hurley 2010): every epoch after the first leaves out
    the ``trim`` share of training ratings with the largest current residuals."""

    trim: float = 0.05
    name: ClassVar[str] = "ltsmf"

    def overrides(self) -> dict[str, Any]:
        return {"trim": self.trim}


RMF_LOSSES = ("frobenius", "huber")


@dataclass(frozen=True)
class RMF(RobustObjective):
    """Robust MF (Bampis et al. 2017). ``loss="frobenius"`` (the default) is the RVD paper's
    description (its appendix C): minimise the Frobenius norm of the residual on the rated
    entries, ``|P_Omega(R - U V^T)|_F``, taken per mini-batch (its square root of the summed
    squared errors) with the model's own L2. ``loss="huber"`` is ours, an M-estimator reading:
    Huber's loss with threshold ``huber`` on the error of ratings scaled to [0, 1], so large
    residuals pull linearly, not quadratically."""

    loss: str = "frobenius"
    huber: float = 0.1
    name: ClassVar[str] = "rmf"

    def __post_init__(self) -> None:
        if self.loss not in RMF_LOSSES:
            raise ValueError(f"rmf loss must be one of {', '.join(RMF_LOSSES)}, got {self.loss!r}")
        if not self.huber > 0:
            raise ValueError(f"huber must be > 0, got {self.huber}")
        super().__post_init__()

    def overrides(self) -> dict[str, Any]:
        return {"frobenius": True} if self.loss == "frobenius" else {"huber": self.huber}


ROBUST_OBJECTIVES: tuple[type[RobustObjective], ...] = (APR, AT, RAT, LTSMF, RMF)
