"""Leave-one-out, validation hold-outs, the `Split` container and per-user distinct sampling."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastpoison.data import RatingData, RatingScale, Split, default_threshold, leave_one_out, validation_split
from fastpoison.data.split import sample_distinct, sample_negatives

SCALE = RatingScale(1, 5, 1)


@st.composite
def rating_data(draw: st.DrawFn) -> RatingData:
    n_users = draw(st.integers(1, 12))
    n_items = draw(st.integers(1, 10))
    cells = draw(st.sets(st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)), max_size=60))
    ratings = draw(st.lists(st.integers(1, 5), min_size=len(cells), max_size=len(cells)))
    u, i = (np.array(x, dtype=np.int64).reshape(-1) for x in zip(*cells)) if cells else (np.zeros(0, int),) * 2
    return RatingData.from_coo(u, i, np.array(ratings, dtype=float), n_users, n_items, SCALE)


def pairs(data: RatingData) -> set[tuple[int, int, float]]:
    return {(int(u), int(i), float(r)) for u, i, r in zip(*data.coo())}


@settings(max_examples=80, deadline=None)
@given(rating_data(), st.integers(0, 2**32 - 1), st.sampled_from([None, 3.0, 4.0, 5.0]))
def test_leave_one_out_properties(data: RatingData, seed: int, threshold: float | None) -> None:
    split = leave_one_out(data, seed=seed, threshold=threshold)
    counts = data.user_counts()
    assert split.test_users.tolist() == np.flatnonzero(counts >= 2).tolist()
    assert np.array_equal(split.train.user_counts(), counts - (counts >= 2))
    held = set(zip(split.test_users.tolist(), split.test_items.tolist()))
    assert not held & {(u, i) for u, i, _ in pairs(split.train)}
    assert pairs(split.full()) == pairs(data)
    assert split.train.n_ratings + split.n_test == data.n_ratings
    if threshold is not None:
        for u, r in zip(split.test_users, split.test_ratings):
            if np.any(data.user_items(u)[1] >= threshold):
                assert r >= threshold


def test_leave_one_out_is_seeded_and_uniform() -> None:
    data = RatingData.from_coo(np.zeros(4, int), np.arange(4), np.array([5, 4, 2, 4.0]), 1, 4, SCALE)
    a, b = leave_one_out(data, seed=7), leave_one_out(data, seed=7)
    assert np.array_equal(a.test_items, b.test_items) and np.array_equal(a.train.indices, b.train.indices)
    liked = np.bincount([leave_one_out(data, seed=s, threshold=4).test_items[0] for s in range(1200)], minlength=4)
    assert liked[2] == 0 and all(330 < c < 470 for c in liked[[0, 1, 3]])  # 1/3 each
    anything = np.bincount([leave_one_out(data, seed=s).test_items[0] for s in range(1200)], minlength=4)
    assert all(230 < c < 370 for c in anything)  # 1/4 each
    assert leave_one_out(data, seed=0).train.meta["split"] == {"method": "leave_one_out", "seed": 0,
                                                               "threshold": None}


def test_leave_one_out_falls_back_when_nothing_is_liked() -> None:
    data = RatingData.from_coo(np.zeros(3, int), np.arange(3), np.array([1, 2, 3.0]), 1, 3, SCALE)
    assert leave_one_out(data, seed=1, threshold=4).n_test == 1


@settings(max_examples=60, deadline=None)
@given(rating_data(), st.floats(0.0, 0.9), st.integers(0, 1000))
def test_validation_split_properties(data: RatingData, fraction: float, seed: int) -> None:
    rest, (u, i, r) = validation_split(data, fraction, seed)
    counts = data.user_counts()
    assert np.all(rest.user_counts()[counts > 0] >= 1)
    assert rest.n_ratings + len(u) == data.n_ratings
    assert len(u) == min(round(fraction * data.n_ratings), data.n_ratings - int((counts > 0).sum()))
    held = {(int(a), int(b), float(c)) for a, b, c in zip(u, i, r)}
    assert not held & pairs(rest) and held | pairs(rest) == pairs(data)
    split = Split(rest, np.zeros(0), np.zeros(0), np.zeros(0), valid=(u, i, r))
    assert pairs(split.full()) == pairs(data)


def test_validation_split_is_seeded_and_checks_fraction() -> None:
    data = RatingData.from_coo(np.repeat(np.arange(10), 10), np.tile(np.arange(10), 10),
                               np.ones(100), 10, 10, SCALE)
    a, b = validation_split(data, 0.2, 3), validation_split(data, 0.2, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a[1], b[1])) and len(a[1][0]) == 20
    with pytest.raises(ValueError, match="fraction"):
        validation_split(data, 1.0)


def test_split_validates_shapes() -> None:
    data = RatingData.from_coo(np.array([0, 1]), np.array([0, 1]), np.array([1.0, 2.0]), 2, 2, SCALE)
    with pytest.raises(ValueError, match="one length"):
        Split(data, np.array([0]), np.array([0, 1]), np.array([1.0]))
    with pytest.raises(ValueError, match="out of range"):
        Split(data, np.array([2]), np.array([0]), np.array([1.0]))
    with pytest.raises(ValueError, match="one row per test"):
        Split(data, np.array([0]), np.array([1]), np.array([1.0]), negatives=np.zeros((2, 3)))
    split = Split(data, np.array([0]), np.array([1]), np.array([1.0]), negatives=np.zeros((1, 3)))
    assert split.negatives.dtype == np.int32 and not split.test_users.flags.writeable


def test_default_threshold() -> None:
    assert default_threshold(RatingScale(1, 5, 1)) == 4.0
    assert default_threshold(RatingScale(1, 8, 1)) == 6.0
    assert default_threshold(RatingScale(0.5, 4, 0.5)) == 3.0


def test_sample_distinct_is_weighted_without_replacement() -> None:
    weights = np.array([8.0, 4.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.5])
    n_rows = 4000
    exclude = (np.zeros(n_rows + 1, dtype=np.int64), np.zeros(0, dtype=np.int64))
    # one item per row: drawn with probability proportional to its weight (rejection path)
    single = sample_distinct(np.ones(n_rows, dtype=int), weights, exclude, seed=1)
    share = np.bincount(single, minlength=10) / n_rows
    assert np.allclose(share, weights / weights.sum(), atol=0.035)  # 4 sd
    # nine of ten per row (exact-key path): the item left out is most often a light one
    nine = sample_distinct(np.full(n_rows, 9), weights, exclude, seed=1).reshape(n_rows, 9)
    assert all(len(set(row)) == 9 for row in nine.tolist())
    missing = 45 - nine.sum(axis=1)
    assert np.mean(missing == 0) < 0.01 and np.mean(np.isin(missing, [7, 8])) > 0.5
    assert np.array_equal(nine.reshape(-1), sample_distinct(np.full(n_rows, 9), weights, exclude, seed=1))


def test_sample_distinct_respects_exclusions_and_room() -> None:
    exclude = (np.array([0, 2, 2]), np.array([0, 3]))
    for seed in range(50):
        out = sample_distinct(np.array([2, 4]), np.ones(4), exclude, seed)
        assert sorted(out[:2].tolist()) == [1, 2] and sorted(out[2:].tolist()) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="only 2 are available"):
        sample_distinct(np.array([3, 0]), np.ones(4), exclude, 0)
    with pytest.raises(ValueError, match="positive"):
        sample_distinct(np.array([1, 0]), np.array([1.0, 0, 1, 1]), exclude, 0)


def test_sample_negatives_are_unrated() -> None:
    rng = np.random.default_rng(0)
    dense = rng.random((30, 200)) < 0.3
    u, i = np.nonzero(dense)
    data = RatingData.from_coo(u, i, np.ones(len(u)), 30, 200, SCALE)
    users = np.array([3, 0, 29, 3])
    neg = sample_negatives(data, users, 99, seed=5)
    assert neg.shape == (4, 99) and neg.dtype == np.int32
    for k, user in enumerate(users):
        assert len(set(neg[k])) == 99 and not dense[user, neg[k]].any()
