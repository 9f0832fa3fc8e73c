"""CDAE (Wu et al. 2016): a denoising auto-encoder over a user's implicit 0/1 vector (every
training rating counts as 1), with a per-user input node ``U[u]`` added to the hidden layer.

Each epoch and user: the input drops each rated item with probability ``corruption`` (kept
entries are scaled by ``1 / (1 - corruption)``); the targets are all rated items (1) and
``negative_ratio`` times as many unrated items drawn uniformly (0). Loss: log-loss (or squared
error) of the sigmoid output on those targets ``+ reg/2 (|E|^2 + |D|^2 + |U|^2)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import check_all
from .dae_kernels import corrupt_and_sample
from .neural import AutoEncoderConfig, AutoEncoderModel, Batch

LOSSES = ("log", "squared")


@dataclass
class CDAEConfig(AutoEncoderConfig):
    """`AutoEncoderConfig` with CDAE's settings: ``corruption`` (input dropout, in [0, 1)),
    ``negative_ratio`` (sampled negatives per rated item, >= 0) and ``loss``."""

    hidden: int = 50
    epochs: int = 40
    lr: float | None = None
    reg: float = 0.01
    batch_size: int = 32
    corruption: float = 0.2
    negative_ratio: float = 5.0
    loss: str = "log"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_all([(0 <= self.corruption < 1, "corruption must lie in [0, 1)"),
                   (0 <= self.negative_ratio < np.inf, "negative_ratio must be finite and >= 0"),
                   (self.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)}")])


class CDAE(AutoEncoderModel):
    """Collaborative denoising auto-encoder; `AutoEncoderModel` gives training, inference and
    RVD. Outputs are interaction probabilities; `predict` maps them onto the rating scale
    (probability x maximum rating), and ``valid_mse`` is their squared error on held-out
    ratings (target 1) and as many fixed unrated pairs (target 0)."""

    name = "cdae"
    config_class = CDAEConfig
    config: CDAEConfig
    param_names = ("E", "b", "D", "c", "U")
    user_node = True
    sampled_batches = True
    train_metric = "train_loss"
    implicit_feedback = True

    @property
    def out_sigmoid(self) -> bool:
        return True

    @property
    def log_loss(self) -> bool:
        return self.config.loss == "log"

    def _input_values(self, normalized: np.ndarray) -> np.ndarray:
        return np.ones_like(normalized)

    def _batch(self, users: np.ndarray, indptr: np.ndarray, indices: np.ndarray, values: np.ndarray,
               seed: int) -> Batch:
        c = self.config
        sample = corrupt_and_sample(users, indptr, indices, self.n_items, c.corruption, c.negative_ratio, seed)
        return Batch(np.arange(len(users), dtype=np.int32), users, *sample)

    def validation_mse(self, valid: tuple[np.ndarray, ...]) -> float:
        """Mean of ``(1 - p)^2`` over held-out pairs and ``p^2`` over as many unrated pairs
        (the same users, bar any who rated every item; items drawn once, uniformly among those
        not in the training data)."""
        vu, vi, _ = valid
        vu = np.asarray(vu, dtype=np.int32)
        pos = self._predict_normalized(vu, vi)
        users = vu[np.diff(self.seen_indptr)[vu] < self.n_items]
        neg = self._predict_normalized(users, self.unrated_items(users, seed=0x7A11D))
        return float((np.sum((1.0 - pos) ** 2) + np.sum(neg ** 2)) / (len(pos) + len(neg)))
