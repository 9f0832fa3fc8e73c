"""`project_profiles`: selection, ties, grids, short rows, determinism."""
from __future__ import annotations

import numpy as np
import pytest

from fastpoison.attacks.projection import project_profiles
from fastpoison.data.scale import RatingScale

FIVE = RatingScale(1, 5, 1)
HALF = RatingScale(0.5, 4, 0.5)


def rows(out):
    indptr, indices, ratings = out
    return [(indices[a:b].tolist(), ratings[a:b].tolist()) for a, b in zip(indptr[:-1], indptr[1:])]


def test_keeps_the_best_non_targets_and_adds_targets_at_the_maximum():
    select = np.array([[0.1, 0.9, 0.8, 0.99, 0.2]], np.float32)
    values = np.array([[2.2, 3.6, 0.2, 1.0, 9.0]], np.float32)
    assert rows(project_profiles(select, values, [3], 2, FIVE)) == [([1, 2, 3], [4.0, 1.0, 5.0])]


def test_ties_go_to_the_lower_item_id():
    select = np.zeros((1, 6), np.float32)
    assert rows(project_profiles(select, np.full((1, 6), 3, np.float32), [0], 3, FIVE))[0][0] == [0, 1, 2, 3]


def test_half_step_grid_snaps_and_clips():
    values = np.array([[0.1, 0.74, 0.76, 2.24, 3.9, 7.0]], np.float32)
    out = rows(project_profiles(np.ones((1, 6), np.float32), values, [5], 5, HALF))
    assert out == [([0, 1, 2, 3, 4, 5], [0.5, 0.5, 1.0, 2.0, 4.0, 4.0])]


def test_more_fillers_than_items_keeps_every_allowed_item():
    select = np.array([[1, 2, -np.inf, 3]], np.float32)
    out = rows(project_profiles(select, np.full((1, 4), 2, np.float32), [3], 10, FIVE))
    assert out == [([0, 1, 3], [2.0, 2.0, 5.0])]


def test_deterministic_and_row_independent():
    rng = np.random.default_rng(0)
    select = rng.random((40, 300)).astype(np.float32)
    values = rng.uniform(0, 6, (40, 300)).astype(np.float32)
    a = project_profiles(select, values, [7, 70], 25, FIVE)
    b = project_profiles(select, values, [70, 7], 25, FIVE)
    one = project_profiles(select[5:6], values[5:6], [7, 70], 25, FIVE)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert rows(a)[5] == rows(one)[0]


def test_bad_shapes_and_targets_raise():
    with pytest.raises(ValueError, match="shape"):
        project_profiles(np.zeros((2, 3)), np.zeros((2, 4)), [0], 1, FIVE)
    with pytest.raises(ValueError, match="targets"):
        project_profiles(np.zeros((2, 3)), np.zeros((2, 3)), [3], 1, FIVE)
