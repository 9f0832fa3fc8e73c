"""What a defense is: a training part (refits the victim on the poisoned data), a serving part
(answers recommendation queries on top of a trained victim), or one of each.

Each part is a frozen dataclass whose fields are its settings; `defaults` gives the settings
that depend on the dataset and the model (e.g. the papers' per-dataset values), which the
registry applies before the user's own (see `registry.get_defense`).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

from ..data.ratings import RatingData
from ..models.base import TrainableModel
from ..models.scoring import TopK

#: Keyword overrides -> a fresh, unfitted model of the victim's kind, e.g.
#: ``lambda **o: make_model("mf", "ml-100k", **o)``, so that a training defense can set the
#: objective while the caller keeps every other setting.
ModelFactory = Callable[..., Any]

#: ``(users, k, **query) -> TopK``: the served recommendations of ``users``; recommenders
#: that report ranks also take ``query_items=`` (see `ServingDefense.gives_ranks`). One may
#: carry ``notes``, a dict of what its serving part chose (e.g. RVD's k).
Recommend = Callable[..., TopK]


@dataclass(frozen=True)
class DefenseContext:
    """What a part's default settings may depend on: the dataset's name (a ``synthetic:``
    twin counts as its original), the victim model's registry name, and the number of
    user-item pairs of the training data (None where unknown)."""

    dataset: str | None = None
    model: str | None = None
    n_pairs: int | None = None


class DefensePart(ABC):
    """A registered defense part: ``name`` in the registry; ``models``, the model names it
    applies to (None: every model)."""

    name: ClassVar[str]
    models: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def defaults(cls, context: DefenseContext) -> dict[str, Any]:
        """Settings that depend on ``context``, applied before the user's (none by default)."""
        return {}

    @classmethod
    def applies_to(cls, model: type[TrainableModel]) -> bool:
        """Whether this part can defend a model of class ``model`` (by default: ``models``)."""
        return cls.models is None or model.name in cls.models

    @classmethod
    def refusal(cls, model: type[TrainableModel], settings: Mapping[str, Any]) -> str | None:
        """Why this part, with ``settings``, cannot defend a model of class ``model`` though it
        applies to it; None when it can (the default)."""
        return None


class TrainingDefense(DefensePart):
    """A defense applied by training: ``fit(model_factory, train, seed=...)`` returns the
    fitted victim that serves (directly, or through a serving part)."""

    @abstractmethod
    def fit(self, model_factory: ModelFactory, train: RatingData, *, seed: int = 0,
            progress: bool = False) -> TrainableModel:
        """A model from ``model_factory``, trained on ``train`` under this defense."""


class ServingDefense(DefensePart):
    """A defense applied when serving: `serve` wraps a trained victim into a recommender."""

    #: True when the recommender `serve` returns accepts ``query_items=`` and reports ranks.
    gives_ranks: ClassVar[bool] = False

    @abstractmethod
    def serve(self, model: TrainableModel, *, seed: int = 0, progress: bool = False) -> Recommend:
        """The defended recommender over ``model`` (which it must not change); any index it
        needs is built here, so the time this takes is the defense's set-up cost. With
        ``progress``, long work shows progress bars (on a terminal)."""
