"""Auto-encoder recommenders (AutoRec, CDAE): a user's item vector -> one sigmoid hidden layer
-> a score per item, trained on chosen output entries with numba kernels, served with BLAS.

Parameters: ``E`` [n_items, hidden] (encoder; row i is item i's input weights, the columns of
the papers' W), ``b`` [hidden], ``D`` [n_items, hidden] (decoder), ``c`` [n_items], and with
a user input node (CDAE) ``U`` [n_users, hidden]. ``h_u = sigmoid(sum_i x_ui E[i] + b (+ U[u]))``,
score ``s_ui = D[i] . h_u + c[i]``, output ``g(s_ui)`` (identity or sigmoid).
"""
from __future__ import annotations

import threading
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, NamedTuple

import numpy as np
from scipy.special import expit

from .. import _core
from ..data.ratings import RatingData
from .base import TrainableModel, TrainConfig, check_all, run_each
from .buffers import aligned_zeros
from .dae_kernels import add_scaled, hidden_layer, loss_grad
from .mf import xavier
from .neighbourhood import csr_rows
from .optim import Optimizer
from .scoring import SeenItems, TopK, score_top_k
from .vicinal_kernels import Base, Overlay, input_sums, item_major, vicinal_scores, vicinal_step


@dataclass
class AutoEncoderConfig(TrainConfig):
    """`TrainConfig` plus the hidden layer's size; ``batch_size`` counts users."""

    hidden: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        check_all([(self.hidden >= 1, "hidden must be >= 1")])


class Batch(NamedTuple):
    """Batch row r: input entries = CSR row ``rows[r]`` of ``in_*``, targets = the same row of
    ``t_*``, user ``users[r]`` (item ids global, or local to a compacted sub-model)."""

    rows: np.ndarray
    users: np.ndarray
    in_ptr: np.ndarray
    in_idx: np.ndarray
    in_val: np.ndarray
    t_ptr: np.ndarray
    t_idx: np.ndarray
    t_val: np.ndarray


def _touched(n: int, *ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sorted distinct ids in 0..n-1 among ids, int32 map id -> its position there)``."""
    mask = np.zeros(n, dtype=bool)
    for part in ids:
        mask[part] = True
    return np.flatnonzero(mask), (np.cumsum(mask, dtype=np.int32) - 1)


def _user_node(arrays: dict[str, np.ndarray], like: np.ndarray) -> np.ndarray:
    """``arrays["U"]``, or an empty ``[0, hidden]`` array: the kernels' "no user node"."""
    return arrays["U"] if "U" in arrays else np.zeros((0, like.shape[1]), like.dtype)


_thread_scratch = threading.local()


def _scratch(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float32 array of ``shape``, reused by this thread's later calls with
    the same ``name`` (a fresh large array costs a page fault per page written; the buffer
    keeps the largest size asked for)."""
    size = int(np.prod(shape))
    buf = getattr(_thread_scratch, name, None)
    if buf is None or buf.size < size:
        buf = np.empty(size, np.float32)
        setattr(_thread_scratch, name, buf)
    return buf[:size].reshape(shape)


def _no_entries(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An item-major batch of ``n`` items without entries."""
    return np.zeros(n + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)


def _item_major_batches(batches: list[Batch], item_id: np.ndarray,
                        n: int) -> list[tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]]:
    """Each batch's item-major (inputs, targets) (`item_major`), converting a CSR shared by
    several batches or by a batch's inputs and targets once."""
    done: dict[tuple[int, ...], tuple[np.ndarray, ...]] = {}

    def convert(ptr: np.ndarray, idx: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, ...]:
        key = (id(ptr), id(idx), id(val))
        if key not in done:
            done[key] = item_major(ptr, idx, val, item_id, n)
        return done[key]

    return [(convert(b.in_ptr, b.in_idx, b.in_val), convert(b.t_ptr, b.t_idx, b.t_val)) for b in batches]


def _activate(pre: np.ndarray, s: np.float32) -> np.ndarray:
    """The hidden layer ``sigmoid(s pre)`` of pre-activations ``pre`` (in place)."""
    pre *= -s
    with np.errstate(over="ignore"):
        np.exp(pre, out=pre)
    pre += 1.0
    return np.reciprocal(pre, out=pre)


def chunks(ids: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """``ids`` in consecutive pieces of at most ``size``."""
    for a in range(0, len(ids), size):
        yield ids[a:a + size]


class AutoEncoderModel(TrainableModel):
    """The shared part of AutoRec and CDAE: parameters, the training step (kernel loss and
    gradients, L2, optimiser), inference and RVD's vicinal fine-tuning.

    Training runs on one thread and is bitwise deterministic for a seed; ``threads`` sets
    the threads of scoring and of RVD (users served in parallel, results independent of it).
    The L2 term ``reg/2 (|E|^2 + |D|^2)`` is spread over an epoch's batches in proportion
    to their users, so an epoch minimises the stated objective whatever the batch size.
    """

    config_class: ClassVar[type[AutoEncoderConfig]] = AutoEncoderConfig
    config: AutoEncoderConfig
    param_names = ("E", "b", "D", "c")
    #: Whether the model has the per-user input node ``U``.
    user_node: ClassVar[bool] = False
    #: Whether `_batch` draws at random (else it ignores its seed: every epoch's batch is the same).
    sampled_batches: ClassVar[bool] = False

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self._input: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._optimizer: Optimizer | None = None
        self._grads: dict[str, np.ndarray] = {}

    # ----------------------------------------------------------------- subclass hooks
    @property
    @abstractmethod
    def out_sigmoid(self) -> bool:
        """Whether the output is ``sigmoid(s)`` (else ``s``)."""

    @property
    @abstractmethod
    def log_loss(self) -> bool:
        """Whether the loss is the log-loss (else the squared error)."""

    @abstractmethod
    def _input_values(self, normalized: np.ndarray) -> np.ndarray:
        """Input values of rated entries, from their ratings scaled to [0, 1]."""

    @abstractmethod
    def _batch(self, users: np.ndarray, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray,
               seed: int) -> Batch:
        """A training batch of ``users`` (rows of the normalised ratings CSR): batch-local CSR
        rows ``0..len(users)-1``, global item and user ids."""

    # ----------------------------------------------------------------- training
    def _init_params(self, rng: np.random.Generator, n_users: int, n_items: int) -> None:
        h = self.config.hidden
        self.params = {"E": xavier(rng, n_items, h), "b": aligned_zeros((h,)), "D": xavier(rng, n_items, h),
                       "c": aligned_zeros((n_items,))}
        if self.user_node:
            self.params["U"] = xavier(rng, n_users, h)
        self.reset_optimizer()

    def reset_optimizer(self) -> None:
        self._grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._optimizer = Optimizer(self.config, self.params, ("U",))

    def start(self, train: RatingData, fit_part: RatingData, seed: int) -> None:
        """As `TrainableModel.start`; users' input vectors are ``fit_part``'s ratings until an
        epoch trains on others (and all of ``train``'s once the fit ends)."""
        super().start(train, fit_part, seed)
        self._set_input(fit_part.normalized())

    def _set_input(self, normalized: RatingData) -> None:
        self._input = (normalized.indptr, normalized.indices, self._input_values(normalized.values))

    def _prepare(self, train: RatingData, seed: int) -> None:
        self._prepared = train
        self._set_input(train)

    def _run_epoch(self, seed: int) -> float:
        train: RatingData = self._prepared
        order = np.random.default_rng(np.random.SeedSequence([seed, 0xAE])).permutation(train.n_users).astype(np.int32)
        parts = list(chunks(order, self.config.batch_size))
        seeds = np.random.SeedSequence([seed, 0xAE, 1]).generate_state(len(parts), np.uint32)
        loss = 0.0
        for users, batch_seed in zip(parts, seeds):
            batch = self._batch(users, train.indptr, train.indices, train.values, int(batch_seed))
            loss += self.loss_and_grad(batch, self._grads, len(users) / train.n_users)[0]
            self._optimizer.step(self.params, self._grads, users)
        return loss

    def loss_and_grad(self, batch: Batch, grads: dict[str, np.ndarray], reg_share: float,
                      params: dict[str, np.ndarray] | None = None) -> tuple[float, float]:
        """``(data loss, L2 loss)`` of ``batch``; adds the gradient of their sum to ``grads``.

        The L2 loss is ``reg/2 * (reg_share * (|E|^2 + |D|^2) + |U[batch users]|^2)``.
        ``params`` defaults to the model's (float32 or float64 arrays, ``grads`` alike).
        """
        p = self.params if params is None else params
        data = self._data_grad(batch, p, grads)
        reg = self.config.reg
        if reg == 0:
            return data, 0.0
        sq = sum(add_scaled(grads[k].reshape(-1), reg * reg_share, p[k].reshape(-1)) for k in ("E", "D"))
        l2 = 0.5 * reg * reg_share * sq
        if self.user_node:
            rows = p["U"][batch.users]
            grads["U"][batch.users] += reg * rows
            l2 += 0.5 * reg * float(np.sum(rows.astype(np.float64) ** 2))
        return data, l2

    def _after_fit(self) -> None:
        values = self.normalized_seen_values()
        self._input = (self.seen_indptr, self.seen_indices, self._input_values(values))
        self._optimizer, self._grads = None, {}

    # ----------------------------------------------------------------- inference
    def _hidden(self, users: np.ndarray) -> np.ndarray:
        p = self.params
        out = np.empty((len(users), self.config.hidden), dtype=np.float32)
        hidden_layer(users, users, *self._input, p["E"], p["b"], _user_node(p, p["E"]), out)
        return out

    def _output(self, scores: np.ndarray) -> np.ndarray:
        return expit(scores).astype(np.float32) if self.out_sigmoid else scores

    def _predict_normalized(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(users, return_inverse=True)
        H = self._hidden(uniq.astype(np.int32))
        D, c = self.params["D"], self.params["c"]
        return self._output(np.einsum("ij,ij->i", H[inverse], D[items]) + c[items])

    def predict(self, users: np.ndarray) -> np.ndarray:
        """Outputs [len(users), n_items] mapped onto the dataset's scale (dense: keep batches small)."""
        self._require_fitted()
        H = self._hidden(self._users(users))
        return self.scale.denormalize(self._output(H @ self.params["D"].T + self.params["c"]))

    def user_embeddings(self, users: np.ndarray | None = None) -> np.ndarray:
        """The hidden layer (float32 [n, hidden]) of each user's training vector."""
        self._require_fitted()
        return self._hidden(self._users(users))

    def top_k(self, users: np.ndarray | None = None, k: int = 50, *, exclude_seen: bool = True,
              query_items: np.ndarray | None = None) -> TopK:
        """Each user's ``k`` best items (training items excluded), scored in blocks of users."""
        self._require_fitted()
        u = self._users(users)
        seen = SeenItems(self.seen_indptr, self.seen_indices, self.n_items) if exclude_seen else None
        top = score_top_k(self._hidden(u), self.params["D"], k, item_bias=self.params["c"], seen=seen, seen_rows=u,
                          query_items=query_items, threads=self.config.threads)
        return TopK(top.items, self._output(top.scores), top.ranks)

    # ----------------------------------------------------------------- RVD
    def vicinal_batches(self, user: int, neighbours: np.ndarray, epochs: int) -> list[Batch]:
        """The fine-tuning batches RVD runs for ``user``: one per epoch, of all ``neighbours``'
        training vectors (batch-local CSR rows, global item and user ids; random draws seeded
        by the user and the epoch; one shared batch if `sampled_batches` is false)."""
        nb = np.asarray(neighbours, dtype=np.int32)
        if not self.sampled_batches:
            return [self._batch(nb, *self._input, 0)] * epochs
        seeds = np.random.SeedSequence([int(user), 0x7D]).generate_state(max(1, epochs), np.uint32)
        return [self._batch(nb, *self._input, int(seeds[e])) for e in range(epochs)]

    def vicinal_top_k(self, users: np.ndarray, neighbours: np.ndarray, k: int = 50, *, epochs: int, lr: float,
                      forget: float = 1.0, threads: int | None = None) -> TopK:
        """Each user's ``k`` best unrated items after fine-tuning on its ``neighbours`` (RVD).

        Per user (row of ``neighbours`` ``[n, k_nb]``): ``epochs`` full-batch SGD steps on the
        neighbours (`vicinal_batches`; step ``lr``, the training loss without L2) of a private
        copy of the weights; each step
        first shrinks *every* weight by ``keep = forget ** (1 / steps)``, so weights the
        neighbours' batches do not touch end at ``forget`` times their size; then all items are
        scored for the user, its rated items excluded. The model is not changed.

        The copy holds only the rows the batches touch (their items, users), each divided by
        the shrink so far (`vicinal_kernels.Overlay`): the loss reads no other row, and an
        untouched row only shrinks, so its final value is ``forget`` times the base row;
        scoring uses that instead of copying it. Users run in parallel on ``threads``
        (default: the model's) with identical results.
        """
        u, nb = self._checked_neighbours(users, neighbours)
        if epochs < 0 or not lr > 0 or not 0 < forget <= 1:
            raise ValueError("vicinal fine-tuning needs epochs >= 0, lr > 0 and forget in (0, 1]")
        if k < 1:
            raise ValueError("k must be >= 1")
        k = min(k, self.n_items)
        items = np.empty((u.size, k), dtype=np.int32)
        scores = np.empty((u.size, k), dtype=np.float32)

        def serve(r: int) -> None:
            items[r], scores[r] = self._vicinal_one(int(u[r]), nb[r], k, int(epochs), float(lr),
                                                    float(forget))

        run_each(serve, u.size, self.config.threads if threads is None else threads)
        return TopK(items, self._output(scores))

    def _vicinal_one(self, user: int, neighbours: np.ndarray, k: int, epochs: int, lr: float,
                     forget: float) -> tuple[np.ndarray, np.ndarray]:
        """One user's (items, pre-output scores) after fine-tuning an `Overlay` on the weights."""
        ov, base, scale, h = self._fine_tune(user, neighbours, self.vicinal_batches(user, neighbours, epochs), lr,
                                             forget)
        scores = _scratch("scores", (self.n_items,))
        vicinal_scores(self.params["D"], self.params["c"], h, ov, base, scores)
        scores[self.seen_indices[self.seen_indptr[user]:self.seen_indptr[user + 1]]] = -np.inf
        top_items, top_scores = _core.topk_rows(scores[None, :], k, 1)
        return top_items[0], scale * top_scores[0]

    def _fine_tune(self, user: int, neighbours: np.ndarray, batches: list[Batch], lr: float,
                   forget: float) -> tuple[Overlay, Base, np.float32, np.ndarray]:
        """SGD steps on ``batches`` (shrinking every weight by ``forget ** (1 / steps)`` each) of
        an overlay on the rows they and ``user``'s input touch. Returns the overlay, its base,
        its final scale and ``user``'s hidden layer under it."""
        own = csr_rows(*self._input, np.array([user]))
        items, item_id = _touched(self.n_items, own[1], *(b.in_idx for b in batches), *(b.t_idx for b in batches))
        users, user_id = _touched(self.n_users, np.array([user]), neighbours)
        ov, base = self._overlay(items, users), Base(self.params["E"], self.params["D"], items.astype(np.int32))
        n, hidden = len(items), self.config.hidden
        steps = _item_major_batches(batches, item_id, n)
        inputs = [x for x, _ in steps] + [item_major(*own, item_id, n)]
        row_users = [user_id[b.users] for b in batches] + [user_id[[user]]]
        keep = np.float32(forget ** (1.0 / len(batches)) if batches else 1.0)
        scale = np.float32(1.0)
        pre = _scratch("pre0", (len(row_users[0]), hidden))
        input_sums(_no_entries(n), pre, inputs[0], row_users[0], pre, ov, base, scale)
        for t, (_, targets) in enumerate(steps):
            z = _activate(pre, scale)
            pre = _scratch(f"pre{(t + 1) % 2}", (len(row_users[t + 1]), hidden))
            vicinal_step(targets, inputs[t], row_users[t], z, inputs[t + 1], row_users[t + 1], pre, ov,
                         base, scale, np.float32(lr / (scale * keep)), self.out_sigmoid, self.log_loss)
            scale *= keep
        return ov, base, scale, _activate(pre, scale)[0]

    def _overlay(self, items: np.ndarray, users: np.ndarray) -> Overlay:
        """An empty `Overlay` at scale 1 on ``items`` and ``users`` (no user rows without a user
        node); its row arrays are this thread's scratch buffers."""
        p, n, h = self.params, len(items), self.config.hidden
        U = p["U"][users] if self.user_node else np.zeros((0, h), np.float32)
        return Overlay(_scratch("E", (n, h)), np.zeros(n, np.bool_), _scratch("D", (n, h)), np.zeros(n, np.bool_),
                       p["c"][items], p["b"].copy(), U)

    def _data_grad(self, batch: Batch, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> float:
        """The data loss of ``batch`` under ``params``; adds its gradient (no L2) to ``grads``."""
        E = params["E"]
        return loss_grad(batch.rows, batch.users, batch.in_ptr, batch.in_idx, batch.in_val, batch.t_ptr,
                         batch.t_idx, batch.t_val, E, params["b"], params["D"], params["c"], _user_node(params, E),
                         self.out_sigmoid, self.log_loss, grads["E"], grads["b"], grads["D"], grads["c"],
                         _user_node(grads, E))
