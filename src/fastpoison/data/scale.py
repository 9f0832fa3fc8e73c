"""Rating scales: the grid of ratings a dataset allows, and snapping onto it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RatingScale:
    """An evenly spaced rating grid ``low, low+step, ..., high`` (e.g. 1..5, or 0.5..4 by 0.5)."""

    low: float
    high: float
    step: float = 1.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.low) and np.isfinite(self.high) and np.isfinite(self.step)):
            raise ValueError("rating scale bounds must be finite")
        if self.step <= 0 or self.high < self.low:
            raise ValueError(f"invalid rating scale {self.low}..{self.high} step {self.step}")
        if self.high <= 0:
            raise ValueError(f"the highest rating must be positive (training divides by it), got {self.high}")
        n = (self.high - self.low) / self.step
        if abs(n - round(n)) > 1e-6:
            raise ValueError(f"rating scale {self.low}..{self.high} is not a multiple of step {self.step}")

    @property
    def grid(self) -> np.ndarray:
        """All allowed ratings, ascending, float32."""
        n = int(round((self.high - self.low) / self.step)) + 1
        return (self.low + self.step * np.arange(n)).astype(np.float32)

    def contains(self, ratings: np.ndarray) -> np.ndarray:
        """Boolean mask: which ratings lie exactly on the grid (within 1e-4)."""
        r = np.asarray(ratings, dtype=np.float64)
        k = (r - self.low) / self.step
        return (r >= self.low - 1e-4) & (r <= self.high + 1e-4) & (np.abs(k - np.round(k)) < 1e-4)

    def snap(self, ratings: np.ndarray) -> np.ndarray:
        """Nearest grid value for each rating (clipped to the scale), float32."""
        r = np.clip(np.asarray(ratings, dtype=np.float64), self.low, self.high)
        return (self.low + self.step * np.round((r - self.low) / self.step)).astype(np.float32)

    def normalize(self, ratings: np.ndarray) -> np.ndarray:
        """Ratings divided by the maximum rating, as the papers train (docs/papers.md)."""
        return (np.asarray(ratings, dtype=np.float32) / np.float32(self.high)).astype(np.float32)

    def denormalize(self, values: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`normalize`."""
        return (np.asarray(values, dtype=np.float32) * np.float32(self.high)).astype(np.float32)

    def to_list(self) -> list[float]:
        """The grid as plain floats (for JSON)."""
        return [float(x) for x in self.grid]
