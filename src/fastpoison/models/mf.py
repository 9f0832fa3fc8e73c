"""Matrix factorisation: ``r_hat = p_u . q_i`` (the papers' MF), optionally ``+ mu + b_u + b_i``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import _core
from ..data.ratings import RatingData
from .base import FactorConfig, FactorModel
from .buffers import aligned_zeros
from .dae_kernels import adam_rows


def xavier(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Glorot-uniform initial factors, aligned float32 (the TCD code's initialiser)."""
    limit = np.sqrt(6.0 / (rows + cols))
    out = aligned_zeros((rows, cols))
    out[...] = rng.uniform(-limit, limit, size=(rows, cols))
    return out


PERTURBATIONS = ("none", "adversarial", "random", "adversarial_rows")


@dataclass
class MFConfig(FactorConfig):
    """`FactorConfig` plus the robust objectives of the training-time defenses (all off by default).

    ``huber``: Huber threshold on the error of ratings scaled to [0, 1]; beyond it the loss
    grows linearly, so outlying ratings pull less (RMF). ``trim``: share of the training
    ratings with the largest current residuals left out of every epoch after the first
    (LTSMF). ``perturbation``: each rating's loss under a perturbation of p_u and q_i is added
    with ``perturbation_weight`` from epoch ``perturbation_warmup`` on; ``"adversarial_rows"``
    (Adam only): each embedding row by ``perturbation_size`` times its normalised gradient of
    the mini-batch's squared error (APR as He et al.); ``"adversarial"``: vectors of norm
    ``perturbation_size`` along the gradient of that rating's own error (ours);
    ``"random"``: truncated-normal entries with std ``perturbation_size`` (RAT).
    ``frobenius`` (Adam only, alone): each mini-batch's loss is the Frobenius norm of its
    residuals, ``sqrt(sum e^2)``, instead of their mean square (RMF as the RVD paper).
    """

    huber: float | None = None
    frobenius: bool = False
    trim: float = 0.0
    perturbation: str = "none"
    perturbation_size: float = 0.0
    perturbation_weight: float = 1.0
    perturbation_warmup: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        checks = [(self.huber is None or self.huber > 0, "huber must be > 0 (or None for the squared error)"),
                  (0 <= self.trim < 1, "trim must lie in [0, 1)"),
                  (self.perturbation in PERTURBATIONS, f"perturbation must be one of {', '.join(PERTURBATIONS)}"),
                  (0 <= self.perturbation_size < np.inf, "perturbation_size must be finite and >= 0"),
                  (0 <= self.perturbation_weight < np.inf, "perturbation_weight must be finite and >= 0"),
                  (self.perturbation_warmup >= 0, "perturbation_warmup must be >= 0"),
                  (self.perturbation != "adversarial_rows" or self.optimizer == "adam",
                   "adversarial row perturbations are set per mini-batch: they need the adam optimiser"),
                  (not self.frobenius or (self.optimizer == "adam" and self.huber is None
                                          and self.perturbation == "none"),
                   "the Frobenius loss needs the adam optimiser and neither huber nor a perturbation")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def objective(self, epoch: int) -> dict[str, float]:
        """The kernels' objective arguments for (0-based) ``epoch``."""
        weight = self.perturbation_weight if epoch >= self.perturbation_warmup else 0.0
        return {"huber": np.inf if self.huber is None else self.huber,
                "perturbation": PERTURBATIONS.index(self.perturbation),
                "perturbation_size": self.perturbation_size, "perturbation_weight": weight}

    def adam_objective(self, epoch: int) -> dict[str, Any]:
        """`objective` plus the Adam kernel's ``frobenius``."""
        return {**self.objective(epoch), "frobenius": self.frobenius}


class MF(FactorModel):
    """Matrix factorisation trained by Hogwild SGD or lazy Adam (C++ kernels).

    ``bias=False`` (default) is the papers' model; with biases, rarely-rated items can
    get extreme item biases that push them up every top-K list (see the README).
    `MFConfig` adds the robust objectives the training-time defenses use.
    """

    name = "mf"
    param_names = ("P", "Q", "bu", "bi")
    param_axes = ("user", "item", "user", "item")
    config_class = MFConfig
    config: MFConfig

    def _init_params(self, rng: np.random.Generator, n_users: int, n_items: int) -> None:
        d = self.config.factors
        self.params = {"P": xavier(rng, n_users, d), "Q": xavier(rng, n_items, d),
                       "bu": aligned_zeros((n_users,)), "bi": aligned_zeros((n_items,))}
        self.reset_optimizer()

    def reset_optimizer(self) -> None:
        super().reset_optimizer()
        self._epochs_run = 0  # the robust objectives' schedule (trim, perturbation warm-up) restarts too

    def _prepare(self, train: RatingData, seed: int) -> None:
        order = np.random.default_rng(np.random.SeedSequence([seed, 0xC00])).permutation(train.n_ratings)
        users = np.repeat(np.arange(train.n_users, dtype=np.int32), np.diff(train.indptr))
        self._prepared = (users[order], train.indices[order], train.values[order])

    def _epoch_ratings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The prepared ratings; with ``trim`` and after the first epoch, without the ``trim``
        share whose current squared residuals are largest (least trimmed squares)."""
        if self.config.trim == 0 or self._epochs_run == 0:
            return self._prepared
        users, items, ratings = self._prepared
        residual = np.abs(self._predict_normalized(users, items) - ratings)
        n_keep = len(ratings) - int(self.config.trim * len(ratings))
        keep = np.sort(np.argpartition(residual, n_keep - 1)[:n_keep])
        return users[keep], items[keep], ratings[keep]

    def _run_epoch(self, seed: int) -> float:
        """One epoch; with trimming, the SSE over the kept ratings rescaled to all of them."""
        c, p = self.config, self.params
        coo = self._epoch_ratings()
        epoch = self._epochs_run
        self._epochs_run += 1
        if c.optimizer == "sgd":
            loss = _core.mf_sgd_epoch(p["P"], p["Q"], p["bu"], p["bi"], self.mu, *coo, c.lr, c.reg,
                                      c.bias, c.threads, seed, **c.objective(epoch))
        else:
            loss, self._step = _core.mf_adam_epoch(p["P"], p["Q"], p["bu"], p["bi"], self.mu, self._moments,
                                                   *coo, c.batch_size, c.reg, c.lr, *c.adam_betas, c.adam_eps,
                                                   self._step, c.bias, c.threads, seed, **c.adam_objective(epoch))
        return loss * len(self._prepared[2]) / len(coo[2])

    def adam_step(self, grads: dict[str, np.ndarray], rows: dict[str, np.ndarray]) -> None:
        """One lazy-Adam step of the model's own optimiser (its moments, step count, lr and
        betas, as the epoch kernel applies them) from outside gradients: parameter ``name``
        (``"P"`` or ``"Q"``) moves on its distinct ``rows[name]`` by ``grads[name]`` (float32,
        the parameter's shape), whose rows are zeroed."""
        c = self.config
        if c.optimizer != "adam":
            raise ValueError("adam_step needs optimizer='adam'")
        self._step += 1
        beta1, beta2 = c.adam_betas
        bc1, bc2 = 1.0 - beta1 ** self._step, np.sqrt(1.0 - beta2 ** self._step)
        for name, touched in rows.items():
            k = self.param_names.index(name)
            m, v = self._moments[2 * k], self._moments[2 * k + 1]
            adam_rows(self.params[name], grads[name], m, v, touched.astype(np.int64), c.lr * bc2 / bc1, beta1,
                      beta2, c.adam_eps * bc2)

    def _factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        p = self.params
        return p["P"], p["Q"], (p["bu"] if self.config.bias else None), (p["bi"] if self.config.bias else None)

    def _vicinal_kernel(self) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
        return _core.mf_rvd_top_k
