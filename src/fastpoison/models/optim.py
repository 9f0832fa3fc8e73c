"""Optimisers of the auto-encoder models: dense SGD / Adam over whole arrays, and lazy
(row-wise) updates for per-user arrays, of which a batch touches its own users' rows only."""
from __future__ import annotations

import numpy as np

from .base import TrainConfig
from .dae_kernels import adam_rows, adam_step, sgd_step


class Optimizer:
    """Applies gradients to named parameter arrays and zeroes the gradients it used.

    Arrays named in ``row_params`` are updated on the given rows only (the batch's users).
    """

    def __init__(self, config: TrainConfig, params: dict[str, np.ndarray], row_params: tuple[str, ...] = ()) -> None:
        self.config, self.row_params, self.t = config, row_params, 0
        self.moments = ({k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
                        if config.optimizer == "adam" else {})

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """One update from ``grads`` (same names and shapes as ``params``)."""
        c = self.config
        if c.optimizer == "sgd":
            for k, p in params.items():
                if k in self.row_params:
                    p[rows] -= c.lr * grads[k][rows]
                    grads[k][rows] = 0.0
                else:
                    sgd_step(p.reshape(-1), grads[k].reshape(-1), c.lr, 1.0)
            return
        self.t += 1
        beta1, beta2 = c.adam_betas
        lr_t = c.lr * np.sqrt(1.0 - beta2 ** self.t) / (1.0 - beta1 ** self.t)
        for k, p in params.items():
            m, v = self.moments[k]
            if k in self.row_params:
                adam_rows(p, grads[k], m, v, rows, lr_t, beta1, beta2, c.adam_eps)
            else:
                adam_step(p.reshape(-1), grads[k].reshape(-1), m.reshape(-1), v.reshape(-1), lr_t, beta1, beta2,
                          c.adam_eps)
