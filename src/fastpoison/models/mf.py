"""Matrix factorisation: ``r_hat = p_u . q_i`` (the papers' MF), optionally ``+ mu + b_u + b_i``."""
from __future__ import annotations

import numpy as np

from .. import _core
from ..data.ratings import RatingData
from .base import FactorModel
from .buffers import aligned_zeros


def xavier(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Glorot-uniform initial factors, aligned float32 (the TCD code's initialiser)."""
    limit = np.sqrt(6.0 / (rows + cols))
    out = aligned_zeros((rows, cols))
    out[...] = rng.uniform(-limit, limit, size=(rows, cols))
    return out


def adam_moments(params: dict[str, np.ndarray], names: tuple[str, str, str, str]) -> tuple[np.ndarray, ...]:
    """Zeroed first/second moments for the four parameter arrays, in kernel order."""
    return tuple(aligned_zeros(params[n].shape) for n in names for _ in range(2))


class MF(FactorModel):
    """Matrix factorisation trained by Hogwild SGD or lazy Adam (C++ kernels).

    ``bias=False`` (default) is the papers' model; with biases, rarely-rated items can
    get extreme item biases that push them up every top-K list (see the README).
    """

    name = "mf"
    param_names = ("P", "Q", "bu", "bi")

    def _init_params(self, rng: np.random.Generator, n_users: int, n_items: int) -> None:
        d = self.config.factors
        self.params = {"P": xavier(rng, n_users, d), "Q": xavier(rng, n_items, d),
                       "bu": aligned_zeros((n_users,)), "bi": aligned_zeros((n_items,))}
        self._moments = adam_moments(self.params, self.param_names)
        self._step = 0

    def _prepare(self, train: RatingData, seed: int) -> None:
        users, items, ratings = train.coo()
        order = np.random.default_rng(np.random.SeedSequence([seed, 0xC00])).permutation(len(users))
        self._coo = (np.ascontiguousarray(users[order]), np.ascontiguousarray(items[order]),
                     np.ascontiguousarray(ratings[order]))

    def _run_epoch(self, seed: int) -> float:
        c, p = self.config, self.params
        if c.optimizer == "sgd":
            return _core.mf_sgd_epoch(p["P"], p["Q"], p["bu"], p["bi"], self.mu, *self._coo, c.lr, c.reg,
                                      c.bias, c.threads, seed)
        loss, self._step = _core.mf_adam_epoch(p["P"], p["Q"], p["bu"], p["bi"], self.mu, self._moments,
                                               *self._coo, c.batch_size, c.reg, c.lr, *c.adam_betas, c.adam_eps,
                                               self._step, c.bias, c.threads, seed)
        return loss

    def _factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        p = self.params
        return p["P"], p["Q"], (p["bu"] if self.config.bias else None), (p["bi"] if self.config.bias else None)
