from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastpoison.eval.stats import SeedSummary, aggregate, paired_ttest, summarize

NAN = float("nan")


# ---------------------------------------------------------------- summarize
def test_summarize_three_seeds() -> None:
    s = summarize([0.2, 0.4, 0.6])
    # mean 1.2/3 = 0.4; std sqrt((0.04 + 0 + 0.04) / (3 - 1)) = sqrt(0.04) = 0.2
    assert s.mean == pytest.approx(0.4)
    assert s.std == pytest.approx(0.2)
    assert s.values == (0.2, 0.4, 0.6) and s.n == 3
    assert s.to_dict() == {"mean": s.mean, "std": s.std, "values": [0.2, 0.4, 0.6]}


def test_summarize_single_seed_has_zero_std() -> None:
    assert summarize([0.3]) == SeedSummary(mean=0.3, std=0.0, values=(0.3,), n=1)


def test_summarize_ignores_nan_but_records_it() -> None:
    s = summarize(np.array([1.0, NAN, 3.0]))
    # over {1, 3}: mean 2; std sqrt((1 + 1) / 1) = sqrt(2)
    assert s.mean == 2.0 and s.std == pytest.approx(math.sqrt(2)) and s.n == 2
    assert s.values[0] == 1.0 and math.isnan(s.values[1]) and s.values[2] == 3.0


@pytest.mark.parametrize("values", [[], [NAN, NAN]])
def test_summarize_nothing_defined(values: list[float]) -> None:
    s = summarize(values)
    assert math.isnan(s.mean) and math.isnan(s.std) and s.n == 0
    assert len(s.values) == len(values)


def test_summary_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        summarize([1.0]).mean = 2.0  # type: ignore[misc]


@pytest.mark.parametrize("values", [[[1.0, 2.0]], [[1.0], [2.0, 3.0]], ["a"]])
def test_summarize_rejects_non_vectors(values) -> None:
    with pytest.raises(ValueError, match="values"):
        summarize(values)


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30))
def test_summarize_mean_within_range(values: list[float]) -> None:
    s = summarize(values)
    assert min(values) - 1e-6 <= s.mean <= max(values) + 1e-6
    assert s.std >= 0 and s.n == len(values)


# ---------------------------------------------------------------- paired t-test
def test_paired_ttest_by_hand_df2() -> None:
    # d = a - b = [1, 2, 3]: mean 2, sd 1, se 1/sqrt(3), t = 2*sqrt(3), df = 2.
    # Student t with 2 df: P(|T| > t) = 1 - t / sqrt(2 + t^2) = 1 - sqrt(12/14) = 1 - sqrt(6/7)
    expected = 1 - math.sqrt(6 / 7)  # 0.07418...
    assert paired_ttest([3, 5, 7], [2, 3, 4]) == pytest.approx(expected, rel=1e-12)
    assert paired_ttest([2, 3, 4], [3, 5, 7]) == pytest.approx(expected, rel=1e-12)  # two-sided


def test_paired_ttest_by_hand_df3() -> None:
    # d = [1, 1, 2, -1]: mean 3/4; squared deviations 1/16 + 1/16 + 25/16 + 49/16 = 76/16,
    # var 76/16/3 = 19/12, se sqrt(19/12)/2, t = 0.75 / se, df = 3.
    t = 0.75 / (math.sqrt(19 / 12) / 2)
    # Student t with 3 df: P(|T| > t) = 1 - (2/pi) (x/(1 + x^2) + atan x), x = t/sqrt(3)
    x = t / math.sqrt(3)
    expected = 1 - 2 / math.pi * (x / (1 + x * x) + math.atan(x))
    assert paired_ttest([1, 2, 3, 4], [0, 1, 1, 5]) == pytest.approx(expected, rel=1e-12)


def test_paired_ttest_drops_nan_pairs() -> None:
    # the 4th pair has a nan and is dropped: same as the df=2 case above
    assert paired_ttest([3, 5, 7, NAN], [2, 3, 4, 1]) == pytest.approx(1 - math.sqrt(6 / 7))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([0.5], [0.1]),  # one pair
        ([], []),
        ([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]),  # every difference zero
        ([1.0, NAN], [0.0, 2.0]),  # one pair left after dropping nan
    ],
)
def test_paired_ttest_undefined_is_nan(a: list[float], b: list[float]) -> None:
    assert math.isnan(paired_ttest(a, b))


def test_paired_ttest_constant_nonzero_difference() -> None:
    # d = [1, 1, 1]: sd 0, t infinite -> p = 0
    assert paired_ttest([2, 3, 4], [1, 2, 3]) == 0.0


def test_paired_ttest_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="length"):
        paired_ttest([1, 2, 3], [1, 2])


# ---------------------------------------------------------------- aggregate
def test_aggregate_per_metric() -> None:
    out = aggregate([{"hr": 0.2, "ri": 1.0}, {"ri": 0.5, "hr": 0.4}])
    assert list(out) == ["hr", "ri"]
    # hr: mean 0.3, std sqrt((0.01 + 0.01)/1) = sqrt(0.02)
    assert out["hr"].mean == pytest.approx(0.3) and out["hr"].std == pytest.approx(math.sqrt(0.02))
    # ri: mean 0.75, std sqrt((0.0625 + 0.0625)/1) = sqrt(0.125)
    assert out["ri"].mean == pytest.approx(0.75) and out["ri"].std == pytest.approx(math.sqrt(0.125))
    assert out["ri"].values == (1.0, 0.5) and out["ri"].n == 2


def test_aggregate_single_seed_and_empty() -> None:
    assert aggregate([{"hr": 0.2}]) == {"hr": SeedSummary(mean=0.2, std=0.0, values=(0.2,), n=1)}
    assert aggregate([]) == {}


def test_aggregate_metric_names_must_agree() -> None:
    with pytest.raises(ValueError, match=r"seed 1 .*\['ri'\]"):
        aggregate([{"hr": 0.2, "ri": 1.0}, {"hr": 0.4}])
