"""Across-seed statistics: mean ± std summaries and paired t-tests.

NaN marks a metric that is undefined for a seed (e.g. a target HR with no eligible user):
it is kept in the record of values but left out of every statistic.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["SeedSummary", "aggregate", "paired_ttest", "summarize"]


@dataclass(frozen=True)
class SeedSummary:
    """One metric over seeds.

    ``values`` holds every seed's value in order, nan included; ``n`` counts the non-nan
    ones, over which ``mean`` and ``std`` (sample std, ddof=1) are taken. ``std`` is 0.0
    when ``n == 1`` (no spread observable, not an estimate); both are nan when ``n == 0``.
    """

    mean: float
    std: float
    values: tuple[float, ...]
    n: int

    def to_dict(self) -> dict[str, float | list[float]]:
        """``{"mean", "std", "values"}`` with ``values`` as a list (JSON-ready)."""
        return {"mean": self.mean, "std": self.std, "values": list(self.values)}


def _float_vector(x: ArrayLike, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-d sequence of numbers") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {arr.shape}")
    return arr


def summarize(values: ArrayLike) -> SeedSummary:
    """Summarise one metric's per-seed values (see `SeedSummary` for nan and n < 2)."""
    arr = _float_vector(values, "values")
    kept = arr[~np.isnan(arr)]
    n = int(kept.size)
    mean = float(kept.mean()) if n else float("nan")
    std = float(kept.std(ddof=1)) if n > 1 else (0.0 if n == 1 else float("nan"))
    return SeedSummary(mean=mean, std=std, values=tuple(float(v) for v in arr), n=n)


def paired_ttest(a: ArrayLike, b: ArrayLike) -> float:
    """Two-sided p-value of the paired t-test of ``a`` against ``b`` (scipy.stats.ttest_rel).

    Pairs with a nan on either side are dropped. nan when fewer than 2 pairs remain or
    every difference is exactly zero (the test is undefined); equal nonzero differences
    give 0.0 (zero spread, infinite t). ValueError when the lengths differ.
    """
    x = _float_vector(a, "a")
    y = _float_vector(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"paired samples differ in length: {x.size} vs {y.size}")
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    diff = x - y
    if diff.size < 2 or np.all(diff == 0):
        return float("nan")
    if np.all(diff == diff[0]):  # zero spread: t is infinite
        return 0.0
    return float(stats.ttest_rel(x, y).pvalue)


def aggregate(per_seed: Sequence[Mapping[str, float]]) -> dict[str, SeedSummary]:
    """`summarize` each metric over seeds, keyed in the first seed's order.

    Every seed must report the same metric names (ValueError otherwise); no seeds gives {}.
    """
    if not per_seed:
        return {}
    names = list(per_seed[0])
    for i, record in enumerate(per_seed):
        if set(record) != set(names):
            diff = sorted(set(record) ^ set(names))
            raise ValueError(f"seed {i} reports different metrics than seed 0: {diff}")
    return {name: summarize([record[name] for record in per_seed]) for name in names}
