"""Real-time vicinal defense (RVD paper): fine-tune on the served user's neighbours, then predict."""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Mapping

import numpy as np
from tqdm.auto import tqdm

from ..data.registry import DEFAULT_NEIGHBOURS, paper_neighbours
from ..models.base import TrainableModel
from ..models.scoring import TopK
from .base import DefenseContext, Recommend, ServingDefense
from .canary import Verdict, declined_message, judge, stage_canary
from .neighbour_count import select_k
from .neighbours import HnswNeighbours, exact_neighbours


#: RVD's fine-tunes: the paper's (the model's own training) and ours (plain SGD on an overlay).
STEPS = ("model", "sgd")
#: Users fine-tuned per kernel call while a progress bar is shown (results do not depend on it).
PROGRESS_CHUNK = 64
#: Our SGD fine-tune's defaults (``step="sgd"``).
SGD_EPOCHS = 5
SGD_LR = 0.05


def check_settings(step: str, epochs: int | None, lr: float | None, forget: float) -> None:
    """ValueError unless ``step`` is one of `STEPS`, ``epochs >= 0``, ``lr > 0`` and ``forget``
    in (0, 1], with ``lr`` and ``forget`` < 1 only for ``step="sgd"``."""
    if step not in STEPS:
        raise ValueError(f"RVD step must be one of {', '.join(STEPS)}, got {step!r}")
    if (epochs is not None and epochs < 0) or (lr is not None and not lr > 0) or not 0 < forget <= 1:
        raise ValueError("RVD needs epochs >= 0, lr > 0 and forget in (0, 1]")
    if step == "model" and (lr is not None or forget != 1):
        raise ValueError("lr and forget are settings of RVD's SGD fine-tune (step=sgd); step=model trains as the "
                         "model was trained")


def sgd_step_refusal(model: type[TrainableModel] | TrainableModel, step: str | None) -> str | None:
    """Why ``step`` cannot fine-tune ``model``: ``"sgd"`` (our squared-error fine-tune) for a
    model that does not train on squared error (BPR-MF, LightGCN); None when it can."""
    if step == "sgd" and not model.sgd_fine_tune:
        return (f"rvd[step=sgd] fine-tunes by squared error, which {model.name} does not train on; "
                f"use rvd (the paper's step: the model's own training)")
    return None


class RVD:
    """Serve recommendations with RVD on top of a trained model (MF, NSVD, AutoRec, CDAE).

    For each served user: its ``k`` nearest users by Euclidean distance between user
    embeddings (the user included; hnswlib index built once, or exact search with
    ``exact=True``), a fine-tune on those users' training ratings, then the top items
    excluding the user's rated ones. The base model is never modified. ``k`` defaults to the
    paper's Table 2 for ``dataset`` and the model; where it has none, k is chosen (ours) by
    `select_k`: the candidate whose fine-tune best ranks the model's held-out validation
    ratings (``notes`` say which, with each candidate's hit ratio).

    ``step="model"`` (the default) is the paper's: "the training of RVD is consistent with
    the original model", read as the model's own training step (its loss with its L2, its
    optimiser restarted, its learning rate and batch size) for the model's own number of
    training epochs unless ``epochs`` is given (`vicinal_fit_top_k`); the paper states no
    epoch count.

    ``step="sgd"`` is ours: ``epochs`` (default 5) passes of plain SGD at step ``lr`` (default
    0.05) without L2, on a copy-on-write overlay in C++ (`vicinal_top_k`), much faster. With
    it, ``forget`` < 1 (also ours) makes every step shrink *all* parameter rows by the same
    factor, chosen so that a row no neighbour rates keeps ``forget`` of its size by the end:
    items the neighbourhood does not support fade. On the ML-100K twin this shrink, not the
    fine-tune, is what removes the fake users' influence (docs/papers.md has the
    measurements). Auto-encoders (AutoRec, CDAE) run it as one full-batch step per epoch of
    the neighbours' batch; their user embeddings are the hidden layer.

    ``canary`` (ours; None: on exactly where k is chosen by validation) first tries RVD, with its k,
    against the defender's own canary attack (`canary.stage_canary`): a fresh model of the same
    settings fitted on the model's training ratings plus the canary's fakes, served with and
    without RVD. If RVD does not lower the canary's target HR beyond chance
    (`canary.Verdict.declined`) it is declined: a warning says so and the model's own top
    items are served. ``notes`` give the verdict.

    With ``progress``, choosing k and serving show progress bars (on a terminal), counting
    the users fine-tuned.
    """

    def __init__(self, model: TrainableModel, k: int | None = None, epochs: int | None = None,
                 lr: float | None = None, forget: float = 1.0, step: str = "model", *, exact: bool = False,
                 canary: bool | None = None, dataset: str | None = None, seed: int = 0,
                 threads: int | None = None, progress: bool = False) -> None:
        needs = ("RVD needs a fitted factor model or auto-encoder with user embeddings and vicinal fine-tuning "
                 "(MF, NSVD, BPR-MF, LightGCN, AutoRec or CDAE)")
        if not (isinstance(model, TrainableModel) and hasattr(model, "user_embeddings")
                and hasattr(model, "vicinal_top_k")):
            raise ValueError(f"{needs}; model {getattr(model, 'name', type(model).__name__)!r} has neither")
        if not model.params:
            raise ValueError(f"{needs}; this {model.name} is not fitted")
        n_users = model.n_users
        paper_k = paper_neighbours(dataset, model.name)
        if canary is None:
            canary = k is None and paper_k is None
        if k is None:
            k = paper_k
        if k is not None and not 1 <= k <= n_users:
            raise ValueError(f"k must lie in [1, {n_users}] (the number of users), got {k}")
        check_settings(step, epochs, lr, forget)
        refusal = sgd_step_refusal(model, step)
        if refusal:
            raise ValueError(refusal)
        if step == "model" and getattr(model.config, "item_reg", 0) > 0:
            warnings.warn("RVD's paper fine-tune trains NSVD's per-item prior (item_reg > 0) on the neighbourhood "
                          "alone, where it shrinks exactly the items the neighbours rated: on ML-100K it raised the "
                          "targets and cut test HR tenfold; use item_reg=0 (the paper's NSVD) or step=sgd",
                          stacklevel=2)
        if epochs is None:
            epochs = model.config.epochs if step == "model" else SGD_EPOCHS
        self.model, self.step, self.epochs, self.forget, self.exact = model, step, int(epochs), float(forget), exact
        self.lr = SGD_LR if lr is None else float(lr)
        self.seed, self.progress = seed, progress
        self.threads = model.config.threads if threads is None else threads
        self._embeddings = model.user_embeddings()
        self._index = None if exact else HnswNeighbours(self._embeddings, seed=seed, threads=max(1, self.threads))
        #: How k was chosen: the paper's or the caller's (``{}``), else `select_k`'s scores.
        self.notes: dict[str, object] = {}
        self.k = int(k) if k is not None else self._selected_k()
        #: Whether the canary check declined RVD here (the model's own top items are served).
        self.declined = False
        if canary and model.seen_values is None:
            self.notes["canary"] = "not run: the model kept no rating values to stage it on"
        elif canary:
            verdict = self._canary_verdict()
            self.notes.update(verdict.notes())
            if verdict.declined:
                warnings.warn(declined_message("rvd", verdict), stacklevel=2)
                self.declined = True

    def _canary_verdict(self) -> Verdict:
        """The canary's verdict on RVD with this k, over a model of this one's settings."""
        canary = stage_canary(self.model.seen_ratings(), self.seed)
        fresh = type(self.model)(**asdict(self.model.config)).fit(canary.data, seed=self.seed, progress=self.progress)
        vicinal = RVD(fresh, k=self.k, epochs=self.epochs, lr=None if self.step == "model" else self.lr,
                      forget=self.forget, step=self.step, exact=self.exact, canary=False, seed=self.seed,
                      threads=self.threads, progress=self.progress)
        return judge(canary.hits(fresh.top_k), canary.hits(vicinal.recommend))

    def _selected_k(self) -> int:
        """`select_k` on this model, or `DEFAULT_NEIGHBOURS` if it kept no validation ratings."""
        def trial(users: np.ndarray, neighbours: np.ndarray, k_items: int) -> TopK:
            return self._fine_tune(users, neighbours, k_items, f"RVD: trying k = {neighbours.shape[1]}")

        found = select_k(self.model, self._neighbours, trial, seed=self.seed)
        if found is None:
            self.notes = {"k": DEFAULT_NEIGHBOURS, "k_rule": "fallback: the model kept no validation ratings"}
            return DEFAULT_NEIGHBOURS
        k, scores = found
        self.notes = {"k": k, "k_rule": "validation", **{f"valid_hr_k{c}": hr for c, hr in scores.items()}}
        return k

    def neighbours(self, users: np.ndarray) -> np.ndarray:
        """``[len(users), k]`` neighbour ids, each user first."""
        return self._neighbours(self.model._users(users), self.k)

    def _neighbours(self, users: np.ndarray, k: int) -> np.ndarray:
        if self._index is None:
            return exact_neighbours(self._embeddings, users, k)
        return self._index.query(users, k)

    def recommend(self, users: np.ndarray | None = None, k_items: int = 50) -> TopK:
        """Each user's ``k_items`` best unrated items after vicinal fine-tuning."""
        users = self.model._users(users)
        if self.declined:
            return self.model.top_k(users, k_items)
        return self._fine_tune(users, self.neighbours(users), k_items, "RVD: serving")

    __call__ = recommend

    def _fine_tune(self, users: np.ndarray, neighbours: np.ndarray, k_items: int, task: str) -> TopK:
        """Each user's fine-tuned top ``k_items``; with ``progress``, a bar named ``task`` counts
        the users done (they are fine-tuned in chunks of `PROGRESS_CHUNK`, each on its own)."""
        if not self.progress or len(users) <= PROGRESS_CHUNK:
            return self._fine_tune_block(users, neighbours, k_items)
        parts = []
        with tqdm(total=len(users), desc=task, unit="user", leave=False, disable=None) as bar:
            for lo in range(0, len(users), PROGRESS_CHUNK):
                parts.append(self._fine_tune_block(users[lo:lo + PROGRESS_CHUNK], neighbours[lo:lo + PROGRESS_CHUNK],
                                                   k_items))
                bar.update(len(parts[-1].items))
        return TopK(np.concatenate([p.items for p in parts]), np.concatenate([p.scores for p in parts]))

    def _fine_tune_block(self, users: np.ndarray, neighbours: np.ndarray, k_items: int) -> TopK:
        if self.step == "model":
            return self.model.vicinal_fit_top_k(users, neighbours, k_items, epochs=self.epochs, seed=self.seed,
                                                threads=self.threads)
        return self.model.vicinal_top_k(users, neighbours, k_items, epochs=self.epochs, lr=self.lr,
                                        forget=self.forget, threads=self.threads)


@dataclass(frozen=True)
class VicinalDefense(ServingDefense):
    """RVD as a serving part (``rvd[k=100]``): its settings are `RVD`'s; ``k`` defaults to the
    RVD paper's Table 2 for the dataset and model (`paper_neighbours`), else chosen by
    validation accuracy (`select_k`; ``k`` stays None in the settings and the served
    recommender's ``notes`` give the choice), ``epochs`` to the
    model's training epochs (``step=model``, the paper's) or 5 (``step=sgd``, ours).
    ``rvd[step=sgd,forget=0.1]`` adds our whole-model shrink to our SGD fine-tune;
    ``canary`` (ours) is on where Table 2 gives no k (`RVD`)."""

    k: int | None = None
    epochs: int | None = None
    lr: float | None = None
    forget: float = 1.0
    step: str = "model"
    exact: bool = False
    canary: bool | None = None
    name: ClassVar[str] = "rvd"

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        check_settings(self.step, self.epochs, self.lr, self.forget)

    @classmethod
    def defaults(cls, context: DefenseContext) -> dict[str, Any]:
        if context.model is None:
            return {}
        k = paper_neighbours(context.dataset, context.model)
        return {"k": k, "canary": k is None}

    @classmethod
    def applies_to(cls, model: type[TrainableModel]) -> bool:
        """Models with user embeddings to find neighbours by (not popularity)."""
        return hasattr(model, "user_embeddings")

    @classmethod
    def refusal(cls, model: type[TrainableModel], settings: Mapping[str, Any]) -> str | None:
        """``step=sgd`` (our squared-error fine-tune) for a model that does not train on it."""
        return sgd_step_refusal(model, settings.get("step"))

    def serve(self, model: TrainableModel, *, seed: int = 0, progress: bool = False) -> Recommend:
        return RVD(model, k=self.k, epochs=self.epochs, lr=self.lr, forget=self.forget, step=self.step,
                   exact=self.exact, canary=self.canary, seed=seed, progress=progress)
