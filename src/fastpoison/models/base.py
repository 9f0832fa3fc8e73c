"""The `Recommender` protocol, the model-agnostic training machinery (`TrainableModel`) and the
factor models' part of it (`FactorModel`: MF, NSVD)."""
from __future__ import annotations

import json
import os
import zipfile
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Callable, ClassVar, Iterable, Iterator, Protocol, runtime_checkable

import numpy as np
from tqdm.auto import tqdm

from .. import _core
from ..data.ratings import RatingData
from ..data.scale import RatingScale
from ..data.split import validation_split
from ..errors import DataError
from .buffers import aligned_copy, aligned_zeros
from .neighbourhood import Neighbourhood, neighbours_only, user_seed
from .scoring import SeenItems, TopK, score_top_k

#: Called after every epoch with (epoch index, that epoch's record).
EpochCallback = Callable[[int, dict[str, float]], None]


@runtime_checkable
class Recommender(Protocol):
    """What every victim model offers (docs/architecture.md, "Contracts"); the popularity
    baseline offers all but `user_embeddings` and the vicinal fine-tunes, which RVD needs."""

    def fit(self, train: RatingData, *, epochs: int | None = None, seed: int = 0,
            callbacks: Iterable[EpochCallback] = ()) -> "Recommender": ...

    def predict(self, users: np.ndarray) -> np.ndarray: ...

    def user_embeddings(self, users: np.ndarray | None = None) -> np.ndarray:
        """The vectors (float32 ``[n, d]``) that represent users; RVD finds a user's
        neighbours by Euclidean distance between them."""
        ...

    def top_k(self, users: np.ndarray | None = None, k: int = 50, *, exclude_seen: bool = True,
              query_items: np.ndarray | None = None) -> TopK: ...

    def vicinal_top_k(self, users: np.ndarray, neighbours: np.ndarray, k: int = 50, *, epochs: int, lr: float,
                      forget: float = 1.0, threads: int | None = None) -> TopK:
        """RVD's fine-tune, each model with its own update step: per user (a row of
        ``neighbours``, the user among them), ``epochs`` passes over the neighbours' training
        ratings at step ``lr`` on a private view of the parameters (``forget``: see `RVD`),
        then the user's ``k`` best unrated items. The model itself is not changed."""
        ...

    def vicinal_fit_top_k(self, users: np.ndarray, neighbours: np.ndarray, k: int = 50, *, epochs: int,
                          seed: int = 0, threads: int | None = None) -> TopK:
        """RVD as its paper: per user, ``epochs`` epochs of the model's own training (its loss
        with its L2, its optimiser from a fresh state) over the neighbours' training ratings,
        then the user's ``k`` best unrated items. The model itself is not changed."""
        ...

    def state(self) -> dict[str, np.ndarray]: ...

    def load_state(self, state: dict[str, np.ndarray]) -> "Recommender": ...


#: The most kernel threads a model may ask for (more is a configuration error, not a speed-up).
MAX_THREADS = 256
#: A factor model's default `TrainConfig.patience`: the least that kept the same epoch as
#: 40 full epochs in every fit measured (docs/papers.md, "Early stopping"); on a
#: long-tailed set MF's validation MSE rises for up to 9 epochs before it falls for good.
FACTOR_PATIENCE = 10


@dataclass
class TrainConfig:
    """Hyper-parameters every trainable model has: epochs, optimiser (lr defaults per
    optimiser), L2 strength, batch size, validation share, early stopping and threads.

    ``patience`` (ours): a fit stops once this many epochs in a row have not lowered the
    validation MSE (the kept epoch is the lowest one either way); 0 runs all ``epochs``, as
    the papers do (`reproduce` sets 0). Without a validation share nothing stops early. Off
    by default here and for the auto-encoders, whose validation MSE still falls, slowly or
    after a rise, at epoch 40; `FactorConfig` turns it on."""

    epochs: int = 40
    optimizer: str = "adam"
    lr: float | None = None
    reg: float = 0.005
    batch_size: int = 2048
    valid_fraction: float = 0.1
    patience: int = 0
    threads: int = 1
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8

    DEFAULT_LR: ClassVar[dict[str, float]] = {"adam": 0.001, "sgd": 0.01}

    def __post_init__(self) -> None:
        if self.optimizer not in self.DEFAULT_LR:
            raise ValueError(f"optimizer must be one of {sorted(self.DEFAULT_LR)}, not {self.optimizer!r}")
        if self.lr is None:
            self.lr = self.DEFAULT_LR[self.optimizer]
        self.adam_betas = tuple(self.adam_betas)  # type: ignore[assignment]
        check_all([(self.epochs >= 1, "epochs must be >= 1"),
                   (self.lr > 0, "lr must be > 0"), (self.reg >= 0, "reg must be >= 0"),
                   (self.batch_size >= 1, "batch_size must be >= 1"),
                   (0 <= self.valid_fraction < 1, "valid_fraction must lie in [0, 1)"),
                   (self.patience >= 0, "patience must be >= 0 (0 = no early stopping)"),
                   (0 <= self.threads <= MAX_THREADS, f"threads must lie in [0, {MAX_THREADS}] (0 = all cores)")])


def check_all(checks: Iterable[tuple[bool, str]]) -> None:
    """Raise ValueError with the message of the first failed ``(ok, message)`` check."""
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


@dataclass
class FactorConfig(TrainConfig):
    """Hyper-parameters of a factor model; the defaults are the TCD paper's MF (§6.1.5),
    with early stopping after `FACTOR_PATIENCE` epochs (ours)."""

    factors: int = 128
    bias: bool = False
    patience: int = FACTOR_PATIENCE

    def __post_init__(self) -> None:
        super().__post_init__()
        check_all([(self.factors >= 1, "factors must be >= 1")])


def run_each(task: Callable[[int], None], n: int, threads: int) -> None:
    """``task(0)`` .. ``task(n - 1)`` on up to ``threads`` threads (0: one per core); in the
    calling thread when only one would run (no pool to start for one served user)."""
    workers = max(1, min(threads or os.cpu_count() or 1, n))
    if workers == 1:
        for r in range(n):
            task(r)
        return
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(task, range(n)))


@lru_cache(maxsize=1 << 16)
def epoch_seed(seed: int, epoch: int) -> int:
    """The kernel seed of one epoch, derived from the run seed (remembered: RVD's choice of k
    fine-tunes the same users with the same seeds for every candidate)."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1, np.uint64)[0])


class TrainableModel(ABC):
    """What every trained victim shares, whatever its parameters: the fit loop keeping the
    epoch of lowest validation MSE, the step-by-step training API (for TCD), user-range
    checks, pair predictions and npz persistence.

    Subclasses hold their parameters as named float32 arrays in ``self.params`` and fill the
    hooks below; ratings are scaled to [0, 1] (divided by the maximum rating) for training.
    """

    name: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]]
    config_class: ClassVar[type[TrainConfig]] = TrainConfig
    #: The key of the per-epoch training loss in ``history`` (mean over training ratings).
    train_metric: ClassVar[str] = "train_mse"
    #: True when the model learns from implicit feedback: any rating counts as an interaction.
    implicit_feedback: ClassVar[bool] = False
    #: Whether `vicinal_top_k` (RVD's SGD fine-tune on squared error, ours) fits this model.
    sgd_fine_tune: ClassVar[bool] = True
    #: False when fits on the same ratings give the same model whatever the seed (a count):
    #: co-training copies of it (TCD) would always agree, so it refuses them.
    co_trainable: ClassVar[bool] = True
    #: False when `predict` is a monotone map of a ranking score rather than an estimate of
    #: the rating (a pairwise loss leaves the scores' level free): TCD then caps its
    #: pseudo-labels by default (`defenses.tcd.UNCALIBRATED_BUDGET`).
    calibrated: ClassVar[bool] = True

    def __init__(self, **config: Any) -> None:
        self.config = self.config_class(**config)
        self.params: dict[str, np.ndarray] = {}
        self.scale = RatingScale(1, 5, 1)
        self.seen_indptr = np.zeros(1, dtype=np.int64)
        self.seen_indices = np.zeros(0, dtype=np.int32)
        self.seen_values: np.ndarray | None = None
        self.n_items = 0
        self.history: list[dict[str, float]] = []
        self.best_epoch = -1
        #: What a training defense chose while fitting this model (e.g. TCD's labels); empty otherwise.
        self.fit_notes: dict[str, Any] = {}
        #: The held-out (users, items, ratings) of the last fit, never trained on; None if none.
        self.validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._prepared: Any = None

    # ----------------------------------------------------------------- subclass hooks
    @abstractmethod
    def _init_params(self, rng: np.random.Generator, n_users: int, n_items: int) -> None:
        """Fill ``self.params`` (and any optimiser state) for a fresh fit."""

    @abstractmethod
    def _prepare(self, train: RatingData, seed: int) -> None:
        """Lay out the normalised training ratings the way `_run_epoch` reads them, in
        ``self._prepared``."""

    @abstractmethod
    def _run_epoch(self, seed: int) -> float:
        """One epoch over the prepared ratings; returns the summed training loss."""

    @abstractmethod
    def _predict_normalized(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predictions on the [0, 1] scale of (user, item) pairs (int32 arrays, checked)."""

    @abstractmethod
    def reset_optimizer(self) -> None:
        """Optimiser state (and any epoch schedule) as at the start of a fit; parameters unchanged."""

    def _after_fit(self) -> None:
        """Hook run once the final parameters are in place (e.g. caching derived factors)."""

    def _meta(self) -> dict[str, Any]:
        """Model-specific scalars saved in the state's ``meta`` (restored by `_load_meta`)."""
        return {}

    def _load_meta(self, meta: dict[str, Any]) -> None:
        """Restore what `_meta` saved."""

    # ----------------------------------------------------------------- training
    @property
    def n_users(self) -> int:
        return len(self.seen_indptr) - 1

    def fit(self, train: RatingData, *, epochs: int | None = None, seed: int = 0,
            callbacks: Iterable[EpochCallback] = (), progress: bool = False) -> "TrainableModel":
        """Train from scratch on ``train``; keeps the epoch with the best validation MSE."""
        n_epochs = self.config.epochs if epochs is None else int(epochs)
        if n_epochs < 1:
            raise ValueError("epochs must be >= 1")
        fit_part, valid = self.split_validation(train, seed)
        self.start(train, fit_part, seed)
        self.validation = valid
        normalized = fit_part.normalized()
        self._prepare(normalized, seed)
        best_mse, best = np.inf, None
        callbacks = tuple(callbacks)
        bar = tqdm(range(n_epochs), desc=f"{self.name} fit", unit="epoch", disable=None if progress else True, leave=False)
        for epoch in bar:
            loss = self._run_epoch(epoch_seed(seed, epoch))
            record = {"epoch": float(epoch), self.train_metric: loss / normalized.n_ratings}
            if valid is not None:
                record["valid_mse"] = self.validation_mse(valid)
                if record["valid_mse"] < best_mse:
                    best_mse, self.best_epoch = record["valid_mse"], epoch
                    best = self.snapshot()
            self.history.append(record)
            bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k != "epoch"})
            for cb in callbacks:
                cb(epoch, record)
            if self.stops_after(epoch):
                break
        self._prepared = None
        self.finish(best, len(self.history) - 1)
        return self

    def stops_after(self, epoch: int, *, counting_from: int = 0) -> bool:
        """Whether early stopping ends the fit after ``epoch``: ``patience`` epochs have passed
        since the best validation MSE, or since epoch ``counting_from`` if that is later (never
        with patience 0 or no validation)."""
        patience = self.config.patience
        return patience > 0 and self.best_epoch >= 0 and epoch - max(self.best_epoch, counting_from) >= patience

    @property
    def epochs_run(self) -> int:
        """Epochs the last fit trained (fewer than configured when it stopped early)."""
        return len(self.history)

    # ----------------------------------------------------------------- training step by step
    def split_validation(self, train: RatingData, seed: int) -> tuple[RatingData, tuple[np.ndarray, ...] | None]:
        """``(ratings to train on, validation (users, items, ratings) or None)`` per ``valid_fraction``."""
        if train.n_ratings == 0:
            raise ValueError("cannot fit on an empty rating set")
        if self.config.valid_fraction > 0:
            return validation_split(train, fraction=self.config.valid_fraction, seed=seed)
        return train, None

    def start(self, train: RatingData, fit_part: RatingData, seed: int) -> None:
        """Begin a fresh fit without training: ``train``'s ratings become the seen items that
        recommendations exclude; parameters are initialised."""
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED]))
        self._begin(train)
        self._init_params(rng, train.n_users, train.n_items)

    def start_from(self, train: RatingData, params: dict[str, np.ndarray]) -> None:
        """As :meth:`start`, with ``params`` (this model's names and shapes for ``train``,
        used as given) instead of freshly drawn ones; the optimiser starts afresh."""
        self._begin(train)
        self.params = params
        self.reset_optimizer()

    def _begin(self, train: RatingData) -> None:
        """``train``'s ratings become the seen items; a fit's history and notes start empty."""
        self.scale = train.scale
        self.seen_indptr, self.seen_indices, self.seen_values = train.indptr, train.indices, train.values
        self.n_items = train.n_items
        self.history, self.best_epoch, self.fit_notes, self.validation = [], -1, {}, None

    def normalized_seen_values(self) -> np.ndarray:
        """The seen ratings divided by the maximum rating (`RatingScale.normalize`), computed
        once per seen array (serving one user at a time must not redo it for every call)."""
        cached = getattr(self, "_normalized_seen", None)
        if cached is None or cached[0] is not self.seen_values:
            cached = self._normalized_seen = (self.seen_values, self.scale.normalize(self.seen_values))
        return cached[1]

    def seen_ratings(self) -> RatingData:
        """The training ratings the model excludes from recommendations and fine-tunes read."""
        return RatingData(self.seen_indptr, self.seen_indices, self.seen_values, self.n_users, self.n_items,
                          self.scale)

    @contextmanager
    def seeing(self, ratings: RatingData) -> Iterator["TrainableModel"]:
        """Within the block, ``ratings`` (same users and items) stand for the training ratings:
        fine-tunes read them, recommendations exclude them, and what a model derives from them
        (NSVD's N(u), an auto-encoder's input rows) follows; the parameters are untouched, and
        everything is as before once the block ends."""
        if (ratings.n_users, ratings.n_items) != (self.n_users, self.n_items):
            raise ValueError("seeing() needs ratings of the model's users and items")
        kept = self.seen_indptr, self.seen_indices, self.seen_values
        self.seen_indptr, self.seen_indices, self.seen_values = ratings.indptr, ratings.indices, ratings.values
        self._after_fit()
        try:
            yield self
        finally:
            self.seen_indptr, self.seen_indices, self.seen_values = kept
            self._after_fit()

    def train_epoch(self, ratings: RatingData, seed: int) -> float:
        """One epoch over ``ratings`` (dataset scale, e.g. training ratings plus pseudo-labels)
        from the current parameters, after :meth:`start`; returns the epoch's mean training loss."""
        normalized = ratings.normalized()
        self._prepare(normalized, seed)
        try:
            return self._run_epoch(seed) / normalized.n_ratings
        finally:
            self._prepared = None  # the next epoch may see other ratings; do not hold these meanwhile

    def train_epochs(self, ratings: RatingData, epochs: int, seed: int) -> None:
        """``epochs`` epochs over ``ratings`` (dataset scale) from the current parameters and
        optimiser state, laid out once as `fit` does (no validation, no epoch selection)."""
        if epochs < 1 or ratings.n_ratings == 0:
            return
        self._prepare(ratings.normalized(), seed)
        try:
            for epoch in range(epochs):
                self._run_epoch(epoch_seed(seed, epoch))
        finally:
            self._prepared = None

    def validation_mse(self, valid: tuple[np.ndarray, ...]) -> float:
        """Mean squared error (ratings scaled to [0, 1]) on held-out ``(users, items, ratings)``."""
        vu, vi, vr = valid
        return float(np.mean((self._predict_normalized(vu, vi) - vr / self.scale.high) ** 2))

    def unrated_items(self, users: np.ndarray, seed: int) -> np.ndarray:
        """One item per entry of ``users`` (each with an unrated item) that the user did not
        rate in the training data: a fixed draw for ``seed`` (implicit models' validation
        negatives)."""
        rng = np.random.default_rng(seed)
        rated = self.seen_indices.astype(np.int64) + np.repeat(
            np.arange(self.n_users, dtype=np.int64) * self.n_items, np.diff(self.seen_indptr))
        items = np.zeros(len(users), dtype=np.int64)
        clash = np.ones(len(users), dtype=bool)
        while clash.any():
            items[clash] = rng.integers(0, self.n_items, int(clash.sum()))
            clash = np.isin(users.astype(np.int64) * self.n_items + items, rated)
        return items.astype(np.int32)

    def snapshot(self) -> dict[str, np.ndarray]:
        """A copy of the parameters (to keep the best epoch)."""
        return {k: v.copy() for k, v in self.params.items()}

    def finish(self, best: dict[str, np.ndarray] | None, last_epoch: int) -> None:
        """End a fit: restore ``best`` (a :meth:`snapshot`) if given, else keep the parameters of
        ``last_epoch``."""
        if best is not None:
            for k, v in best.items():
                self.params[k][...] = v
        else:
            self.best_epoch = last_epoch
        self._after_fit()

    # ----------------------------------------------------------------- inference
    def _require_fitted(self) -> None:
        if not self.params:
            raise RuntimeError(f"{self.name} is not fitted: call fit() or load_state() first")

    def _users(self, users: np.ndarray | None) -> np.ndarray:
        if users is None:
            return np.arange(self.n_users, dtype=np.int32)
        u = np.asarray(users)
        if u.ndim != 1 or not np.issubdtype(u.dtype, np.integer):
            raise ValueError("users must be a 1-d integer array")
        if u.size and (u.min() < 0 or u.max() >= self.n_users):
            raise ValueError(f"user ids must lie in [0, {self.n_users})")
        return u.astype(np.int32)

    def predict_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Predicted ratings (dataset scale) of the given (user, item) pairs."""
        self._require_fitted()
        u = self._users(users)
        i = np.asarray(items, dtype=np.int64)
        if i.shape != u.shape or (i.size and (i.min() < 0 or i.max() >= self.n_items)):
            raise ValueError("items must match users in length and lie in the item range")
        return self.scale.denormalize(self._predict_normalized(u, i.astype(np.int32)))

    # ----------------------------------------------------------------- RVD as its paper
    def _checked_neighbours(self, users: np.ndarray, neighbours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(users, neighbours)`` as int32 after checking ids and shapes (``[len(users), k]``)."""
        self._require_fitted()
        if self.seen_values is None:
            raise ValueError(f"this {self.name} model does not hold its training ratings (saved by an older version); "
                             "refit it to use vicinal fine-tuning")
        u = self._users(users)
        nb = np.asarray(neighbours)
        if nb.ndim != 2 or nb.shape[0] != u.size or not np.issubdtype(nb.dtype, np.integer):
            raise ValueError("neighbours must be an integer array [len(users), k]")
        self._users(nb.reshape(-1))
        return u, np.ascontiguousarray(nb, dtype=np.int32)

    def vicinal_fit_top_k(self, users: np.ndarray, neighbours: np.ndarray, k: int = 50, *, epochs: int,
                          seed: int = 0, threads: int | None = None) -> TopK:
        """RVD as its paper (Algorithm 1: keep the parameters, fine-tune, predict, restore).

        Per user (a row of ``neighbours`` ``[n, k_nb]``): the optimiser restarts, ``epochs``
        epochs of the model's own training (`train_epochs`: its loss with L2, optimiser,
        learning rate, batch size) run over the neighbours' training ratings, the user's ``k``
        best unrated items are scored, and the parameters are restored. Users are served one
        after another (``threads`` is the kernels'); epoch seeds derive from ``seed`` and the
        user. Factor models override this with an equivalent that trains only the rows
        involved.
        """
        u, nb = self._checked_neighbours(users, neighbours)
        if epochs < 0:
            raise ValueError("epochs must be >= 0")
        kept, config_threads = self.snapshot(), self.config.threads
        self.config.threads = config_threads if threads is None else threads
        items, scores = [], []
        try:
            for user, row in zip(u.tolist(), nb):
                data = neighbours_only(self.seen_indptr, self.seen_indices, self.seen_values, row, self.n_items,
                                       self.scale)
                self.reset_optimizer()
                self.train_epochs(data, epochs, user_seed(seed, user))
                self._after_fit()
                top = self.top_k(np.array([user], dtype=np.int32), k)
                items.append(top.items[0])
                scores.append(top.scores[0])
                self.finish(kept, -1)  # restore, as the paper's Algorithm 1 does after each user
        except BaseException:
            self.finish(kept, -1)
            raise
        finally:
            self.config.threads = config_threads
        return TopK(np.array(items, dtype=np.int32).reshape(u.size, -1),
                    np.array(scores, dtype=np.float32).reshape(u.size, -1))

    # ----------------------------------------------------------------- persistence
    def state(self) -> dict[str, np.ndarray]:
        """Everything needed to restore the model, as plain arrays (npz, no pickle)."""
        self._require_fitted()
        cfg = asdict(self.config)
        meta = {"model": self.name, "config": cfg, **self._meta(), "n_items": self.n_items,
                "scale": [self.scale.low, self.scale.high, self.scale.step], "best_epoch": self.best_epoch}
        out = {f"param_{k}": np.asarray(v) for k, v in self.params.items()}
        out.update(meta=np.array(json.dumps(meta)), seen_indptr=self.seen_indptr, seen_indices=self.seen_indices)
        if self.seen_values is not None:
            out["seen_values"] = self.seen_values
        return out

    def load_state(self, state: dict[str, np.ndarray]) -> "TrainableModel":
        """Restore from :meth:`state`'s output; ValueError on a mismatched, partial or
        inconsistent state (wrong model, unknown settings, array shapes that do not fit the
        model, ids out of range, parameters that are not finite)."""
        try:
            meta = json.loads(str(state["meta"]))
            if meta["model"] != self.name:
                raise ValueError(f"state holds a {meta['model']} model, not {self.name}")
            params = {k: np.asarray(state[f"param_{k}"], dtype=np.float32) for k in self.param_names}
            indptr = np.asarray(state["seen_indptr"], dtype=np.int64)
            indices = np.asarray(state["seen_indices"], dtype=np.int32)
            config = self.config_class(**meta["config"])
            n_items, best_epoch, scale = int(meta["n_items"]), int(meta["best_epoch"]), RatingScale(*meta["scale"])
        except KeyError as e:
            raise ValueError(f"model state is missing {e}") from None
        except (TypeError, ValueError) as e:
            raise ValueError(f"model state is not valid: {e}") from None
        values = state.get("seen_values")
        values = None if values is None else np.asarray(values, dtype=np.float32)
        _check_state(type(self)(**asdict(config)), params, indptr, indices, values, n_items)
        self.config = config
        self._load_meta(meta)
        self.n_items, self.best_epoch, self.scale = n_items, best_epoch, scale
        self.seen_indptr, self.seen_indices, self.seen_values = indptr, indices, values
        self.params = {k: aligned_copy(v) for k, v in params.items()}
        self._after_fit()
        return self

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write :meth:`state` as an uncompressed ``.npz`` (the suffix added if missing, as numpy
        does); returns the path written."""
        out = os.fspath(path)
        out = out if out.endswith(".npz") else out + ".npz"
        np.savez(out, **self.state())
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "TrainableModel":
        """Read a model written by :meth:`save` (`read_state`; DataError naming the file)."""
        state = read_state(path)
        try:
            return cls().load_state(state)
        except ValueError as e:
            raise DataError(str(e), path=os.fspath(path)) from None


def _check_state(fresh: TrainableModel, params: dict[str, np.ndarray], indptr: np.ndarray, indices: np.ndarray,
                 values: np.ndarray | None, n_items: int) -> None:
    """ValueError unless the arrays of a saved state fit ``fresh`` (an unfitted model of the
    state's configuration): a CSR of training ratings over ``n_items`` items, and finite
    parameters shaped as ``fresh`` lays them out for that many users and items."""
    n_users = len(indptr) - 1
    if (n_users < 0 or n_items < 0 or indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != len(indices)
            or (values is not None and len(values) != len(indices))):
        raise ValueError("model state: its training ratings are not a CSR matrix")
    if indices.size and (indices.min() < 0 or indices.max() >= n_items):
        raise ValueError(f"model state: item ids outside [0, {n_items})")
    fresh._init_params(np.random.default_rng(0), n_users, n_items)
    for name, array in params.items():
        if array.shape != fresh.params[name].shape:
            raise ValueError(f"model state: {name} is {array.shape}, the model needs {fresh.params[name].shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"model state: {name} holds values that are not finite")


def read_state(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The arrays of a model file written by `TrainableModel.save` (``allow_pickle=False``);
    DataError naming the file when it is missing, unreadable or not a model file."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array")
        with loaded as z:
            state = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError("no such model file", path=os.fspath(path)) from None
    except (AttributeError, OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"not a fastpoison model file (an .npz written by train --out): {e}",
                        path=os.fspath(path)) from None
    if "meta" not in state:
        raise DataError("not a fastpoison model file (no meta record)", path=os.fspath(path))
    return state


class FactorModel(TrainableModel):
    """A latent-factor recommender trained by a C++ epoch kernel on ratings scaled to [0, 1].

    Subclasses define their parameter arrays and kernels. ``threads=1`` (the default) is
    bitwise deterministic for a seed; ``threads>1`` runs Hogwild SGD (races between
    threads make results vary slightly run to run) or parallel Adam row updates
    (deterministic). The epoch with the lowest validation MSE is kept.
    """

    config_class: ClassVar[type[FactorConfig]] = FactorConfig
    config: FactorConfig

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.mu = 0.0

    @abstractmethod
    def _vicinal_kernel(self) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
        """This model kind's RVD kernel (``_core.*_rvd_top_k``), with its own settings bound."""

    @abstractmethod
    def _factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(user factors [n_users, d], item factors [n_items, d], user bias, item bias)``."""

    #: Per entry of ``param_names``: whether its rows are indexed by "user" or by "item".
    param_axes: ClassVar[tuple[str, ...]]

    def reset_optimizer(self) -> None:
        self._moments = tuple(aligned_zeros(self.params[n].shape) for n in self.param_names for _ in range(2))
        self._step = 0

    def start(self, train: RatingData, fit_part: RatingData, seed: int) -> None:
        """As `TrainableModel.start`; ``mu`` (with biases) is the mean of ``fit_part``'s ratings."""
        self.mu = float(fit_part.normalized().values.mean()) if self.config.bias else 0.0
        super().start(train, fit_part, seed)

    def _meta(self) -> dict[str, Any]:
        return {"mu": self.mu}

    def _load_meta(self, meta: dict[str, Any]) -> None:
        self.mu = float(meta["mu"])

    # ----------------------------------------------------------------- inference
    def _predict_normalized(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        U, V, bu, bi = self._factors()
        s = _core.dot_pairs(U, V, np.ascontiguousarray(users, dtype=np.int32),
                            np.ascontiguousarray(items, dtype=np.int32), self.config.threads)
        if bu is not None:
            s += self.mu + bu[users] + bi[items]
        return s

    def predict(self, users: np.ndarray) -> np.ndarray:
        """Predicted ratings [len(users), n_items] on the dataset's scale (dense: keep batches small)."""
        self._require_fitted()
        u = self._users(users)
        U, V, bu, bi = self._factors()
        s = U[u] @ V.T
        if bu is not None:
            s += (self.mu + bu[u])[:, None] + bi[None, :]
        return self.scale.denormalize(s)

    def user_embeddings(self, users: np.ndarray | None = None) -> np.ndarray:
        """The latent user vectors (float32 [n, d]) used for neighbour search."""
        self._require_fitted()
        return self._factors()[0][self._users(users)]

    def top_k(self, users: np.ndarray | None = None, k: int = 50, *, exclude_seen: bool = True,
              query_items: np.ndarray | None = None) -> TopK:
        """Each user's ``k`` best items (training items excluded), blocked over users."""
        self._require_fitted()
        u = self._users(users)
        U, V, bu, bi = self._factors()
        seen = SeenItems(self.seen_indptr, self.seen_indices, self.n_items) if exclude_seen else None
        return score_top_k(U[u], V, k, user_bias=None if bu is None else bu[u], item_bias=bi, seen=seen,
                           seen_rows=u, query_items=query_items, threads=self.config.threads)

    def vicinal_fit_top_k(self, users: np.ndarray, neighbours: np.ndarray, k: int = 50, *, epochs: int,
                          seed: int = 0, threads: int | None = None) -> TopK:
        """`TrainableModel.vicinal_fit_top_k` on a copy of only the rows the fine-tune reads.

        The model's lazy Adam (or SGD) moves only rows with a gradient, so training a model
        restricted to the neighbours, the served user and the items they rated gives the rows
        the full model would end with, whatever the model's size. Users are served in parallel
        on ``threads`` (default: the model's), each on one thread, with identical results.
        """
        u, nb = self._checked_neighbours(users, neighbours)
        if epochs < 0:
            raise ValueError("epochs must be >= 0")
        k = min(int(k), self.n_items)
        tuned_scores = self._vicinal_scorer()
        items = np.empty((u.size, k), dtype=np.int32)
        scores = np.empty((u.size, k), dtype=np.float32)

        def serve(r: int) -> None:
            hood = Neighbourhood.of(self.seen_indptr, self.seen_indices, self.seen_values, int(u[r]), nb[r],
                                    self.scale)
            tuned = self._restricted(hood)
            tuned.train_epochs(hood.train, epochs, user_seed(seed, int(u[r])))
            tuned._after_fit()
            row = tuned_scores(hood, tuned)
            row[self.seen_indices[self.seen_indptr[u[r]]:self.seen_indptr[u[r] + 1]]] = -np.inf
            top_items, top_scores = _core.topk_rows(row[None, :], k, 1)
            items[r], scores[r] = top_items[0], top_scores[0]

        run_each(serve, u.size, self.config.threads if threads is None else threads)
        return TopK(items, scores)

    def _vicinal_scorer(self) -> Callable[[Neighbourhood, "FactorModel"], np.ndarray]:
        """``(hood, tuned) -> scores``: the served user's score of every item (float32
        [n_items]) once ``tuned``, the model restricted to ``hood``, is fine-tuned: the model's
        item factors, with the tuned ones on the neighbourhood's items (rows no gradient reached
        are the model's, so this is the whole model fine-tuned)."""
        _, V, _, bi = self._factors()

        def scores(hood: Neighbourhood, tuned: "FactorModel") -> np.ndarray:
            U_t, V_t, bu_t, bi_t = tuned._factors()
            pu = U_t[hood.user]
            row = V @ pu
            row[hood.items] = V_t @ pu
            if bi is not None:
                row += bu_t[hood.user] + bi  # as top_k: mu shifts every score alike
                row[hood.items] += bi_t - bi[hood.items]
            return row

        return scores

    def _restricted(self, hood: Neighbourhood) -> "FactorModel":
        """A one-thread copy of this model on ``hood``'s users and items (fresh optimiser)."""
        model = type(self)(**{**asdict(self.config), "threads": 1})
        rows = {"user": hood.users, "item": hood.items}
        model.start_from(hood.seen, {name: aligned_copy(self.params[name][rows[axis]])
                                     for name, axis in zip(self.param_names, self.param_axes)})
        model.mu = self.mu
        return model

    def vicinal_top_k(self, users: np.ndarray, neighbours: np.ndarray, k: int = 50, *, epochs: int, lr: float,
                      forget: float = 1.0, threads: int | None = None) -> TopK:
        """Each user's ``k`` best unrated items after fine-tuning on its ``neighbours`` (RVD).

        Per user (row of ``neighbours`` ``[n, k_nb]``), ``epochs`` SGD passes of the model's
        own per-rating step over the neighbours' training ratings run on a copy-on-write
        overlay of the parameters (C++, parallel over users); the model is not changed. Each
        step shrinks every parameter row so that rows no neighbour rates end at ``forget``
        times their size (1: no decay).
        """
        u, nb = self._checked_neighbours(users, neighbours)
        a, q, bu, bi = (self.params[n] for n in self.param_names)
        values = self.normalized_seen_values()
        items, scores = self._vicinal_kernel()(a, q, bu, bi, self.mu, self.config.bias, self.seen_indptr,
                                           self.seen_indices, values, u, nb, int(epochs), float(lr), float(forget),
                                           int(k), self.config.threads if threads is None else threads)
        return TopK(items, scores)
