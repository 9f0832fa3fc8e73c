"""Synthetic twins: exact shapes, determinism, long tails, realistic histograms, learnable structure."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as sla

from fastpoison.data import (DATASETS, RatingData, Split, default_threshold, leave_one_out, synthetic_ratings,
                             synthetic_twin)
from fastpoison.data.registry import twin_names
from fastpoison.data.synthetic import _weights
from fastpoison.errors import DataError


@pytest.fixture(scope="module", params=[n for n in twin_names() if not DATASETS[n].synthetic_only])
def twin(request: pytest.FixtureRequest) -> tuple[str, Split]:
    """The twins of the real benchmarks (the synthetic-only shapes are tested below)."""
    return request.param, synthetic_twin(request.param, seed=0)


def test_exact_shape_and_grid(twin: tuple[str, Split]) -> None:
    name, split = twin
    shape, scale = DATASETS[name].twin, DATASETS[name].scale
    n_users, n_items, n_ratings = shape.n_users, shape.n_items, shape.n_ratings
    full = split.full()  # from_coo has rejected duplicate pairs and off-grid ratings
    assert (full.n_users, full.n_items, full.n_ratings) == (n_users, n_items, n_ratings)
    assert full.scale == scale and split.train.scale == scale
    assert np.array_equal(np.unique(full.values), scale.grid)
    assert full.meta["data_source"] == "synthetic" and split.train.meta["data_source"] == "synthetic"


def test_activity_and_popularity_are_long_tailed(twin: tuple[str, Split]) -> None:
    name, split = twin
    full = split.full()
    users, items = full.user_counts(), full.item_counts()
    assert users.min() >= DATASETS[name].twin.min_per_user and users.max() <= full.n_items
    assert users.max() > 5 * np.median(users)
    assert items.min() >= 1  # every item is rated, so the grid is the data's own
    stats = full.stats()
    assert stats["top10pct_items_share"] > 0.4
    assert stats["items_with_lt5_ratings"] > 0.02 * full.n_items
    assert stats["max_item_ratings"] > 100


def test_histogram_matches_the_profile(twin: tuple[str, Split]) -> None:
    name, split = twin
    full = split.full()
    share = np.bincount(np.searchsorted(full.scale.grid, full.values), minlength=len(full.scale.grid))
    assert np.allclose(share / full.n_ratings, DATASETS[name].twin.histogram, atol=0.005)


def test_test_ratings_are_liked_ones_unless_the_twin_holds_out_any(twin: tuple[str, Split]) -> None:
    name, split = twin
    assert split.n_test == DATASETS[name].twin.n_users  # every user has >= 2 ratings
    threshold = {"filmtrust": 6.0}.get(name, 4.0)
    liked = split.test_ratings >= threshold
    if DATASETS[name].twin.liked_test:
        assert np.all(liked)  # every twin user has a liked rating here
    else:  # any rating, as the NCF splits: about as often liked as all ratings are
        full = split.full()
        assert abs(liked.mean() - np.mean(full.values >= threshold)) < 0.05


def test_two_piece_weights_keep_the_plain_draw_and_compress_only_the_head() -> None:
    plain = _weights(np.random.default_rng(3), 2.0, None, 1000)
    assert np.array_equal(plain, np.random.default_rng(3).lognormal(0.0, 2.0, 1000))
    skewed = _weights(np.random.default_rng(3), 2.0, 1.0, 1000)
    low = plain <= 1
    assert np.array_equal(skewed[low], plain[low])
    assert np.allclose(np.log(skewed[~low]), np.log(plain[~low]) / 2)


def test_calibrated_ml1m_twin_has_real_ml1m_statistics() -> None:
    """Real ML-1M (NCF split): per-user quantiles 26/43/95/207/399, per-item 7/33/122/349/726,
    7.9 % of items with 1-4 ratings, the top tenth of items 44 % of ratings, held-out items'
    median popularity 586, 37 % of held-out ratings below 4."""
    split = synthetic_twin("ml-1m", seed=0)
    users, items = split.train.user_counts(), split.train.item_counts()
    assert np.allclose(np.quantile(users, [0.1, 0.25, 0.5, 0.75, 0.9]), [26, 43, 95, 207, 399], rtol=0.15)
    assert np.allclose(np.quantile(items, [0.25, 0.5, 0.75, 0.9]), [33, 122, 349, 726], rtol=0.25)
    assert 0.06 < np.mean(items < 5) < 0.10
    assert 0.40 < np.sort(items)[::-1][:len(items) // 10].sum() / items.sum() < 0.48
    assert 450 < np.median(items[split.test_items]) < 750
    assert 0.3 < np.mean(split.test_ratings < 4) < 0.45


def test_same_seed_same_data() -> None:
    a, b, c = synthetic_ratings("ml-100k", 5), synthetic_ratings("ml-100k", 5), synthetic_ratings("ml-100k", 6)
    for x, y in ((a.indptr, b.indptr), (a.indices, b.indices), (a.values, b.values)):
        assert np.array_equal(x, y)
    assert not np.array_equal(a.indices, c.indices)
    s, t = synthetic_twin("filmtrust", 2), synthetic_twin("filmtrust", 2)
    assert np.array_equal(s.test_items, t.test_items) and np.array_equal(s.train.indices, t.train.indices)


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - truth) ** 2)))


def svd_rmse(split: Split, rank: int = 10) -> tuple[float, float]:
    """RMSE on the test ratings of a rank-k SVD of the mean-centred train matrix, and of the mean."""
    centred = split.train.csr.astype(np.float64)
    mean = centred.data.mean()
    centred.data -= mean
    u, s, vt = sla.svds(centred, k=rank, random_state=0)
    pred = mean + np.einsum("ij,j,ji->i", u[split.test_users], s, vt[:, split.test_items])
    return rmse(pred, split.test_ratings), rmse(np.full(split.n_test, mean), split.test_ratings)


def test_twin_has_learnable_structure() -> None:
    split = synthetic_twin("ml-100k", seed=0)
    model, baseline = svd_rmse(split)
    assert model < 0.93 * baseline
    # the same check fails on the same cells with shuffled ratings: it does detect structure
    data = synthetic_ratings("ml-100k", seed=0)
    shuffled = RatingData.from_coo(*data.coo()[:2], np.random.default_rng(0).permutation(data.values),
                                   data.n_users, data.n_items, data.scale)
    model, baseline = svd_rmse(leave_one_out(shuffled, seed=0, threshold=default_threshold(shuffled.scale)))
    assert model > 0.97 * baseline


def test_unknown_twin() -> None:
    with pytest.raises(DataError, match="ml-100k, ml-1m, filmtrust, yelp"):
        synthetic_ratings("netflix")


@pytest.mark.parametrize("name, checks", [
    # a long tail: nearly every item rated once, so most held-out items are cold in train
    ("longtail", {"items_lt5": (0.985, 1.0), "max_item": (5, 60), "cold_test": (0.7, 0.9), "unrated": (0, 0)}),
    ("sparse", {"per_user": (6.9, 7.1), "cold_test": (0.0, 0.05), "unrated": (0, 0)}),
    # a tenth of the item ids never rated (ids with gaps)
    ("medium", {"per_user": (30, 32), "unrated": (860, 880)}),
])
def test_synthetic_only_shapes(name: str, checks: dict[str, tuple[float, float]]) -> None:
    split = synthetic_twin(name, seed=0)
    full, shape = split.full(), DATASETS[name].twin
    assert (full.n_users, full.n_items, full.n_ratings) == (shape.n_users, shape.n_items, shape.n_ratings)
    counts = full.item_counts()
    measured = {"items_lt5": np.mean(counts[counts > 0] < 5), "max_item": counts.max(),
                "cold_test": np.mean(split.train.item_counts()[split.test_items] == 0),
                "unrated": np.sum(counts == 0), "per_user": full.n_ratings / full.n_users}
    for key, (low, high) in checks.items():
        assert low <= measured[key] <= high, (key, measured[key])
    assert DATASETS[name].synthetic_only


def test_synthetic_only_shapes_load_by_name_without_looking_for_real_data() -> None:
    import warnings

    from fastpoison.data.datasets import load_dataset
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "no real data found" fallback notice
        ds = load_dataset("sparse")
    assert ds.data_source == "synthetic" and ds.split.train.n_users == 3000
    with pytest.raises(DataError, match="synthetic data shape"):
        load_dataset("sparse", require_real=True)


@pytest.mark.parametrize("bad", [{"popularity_cap": 0.0}, {"popularity_cap": 1.5}, {"rank": 0}])
def test_a_twin_needs_a_popularity_cap_and_a_rank(bad: dict[str, float]) -> None:
    import dataclasses

    from fastpoison.data.records import DatasetRecord

    record = DATASETS["ml-100k"]
    with pytest.raises(ValueError, match="popularity_cap"):
        DatasetRecord(name="bad", scale=record.scale, twin=dataclasses.replace(record.twin, **bad))
