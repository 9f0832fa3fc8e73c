"""Blocked scoring: exact against a dense reference, and never a dense users x items matrix."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from fastpoison.models.scoring import SeenItems, score_top_k


def test_blocked_scoring_equals_dense_reference():
    rng = np.random.default_rng(0)
    U, V = rng.normal(size=(37, 5)).astype(np.float32), rng.normal(size=(23, 5)).astype(np.float32)
    bias = rng.normal(size=23).astype(np.float32)
    indptr = np.arange(0, 38 * 2, 2, dtype=np.int64)[:38]
    indices = rng.integers(0, 23, size=int(indptr[-1])).astype(np.int32)
    indices = np.sort(indices.reshape(-1, 2), axis=1).ravel()
    seen = SeenItems(indptr, indices, 23)
    query = rng.integers(0, 23, size=(37, 2)).astype(np.int32)
    got = score_top_k(U, V, 6, item_bias=bias, seen=seen, query_items=query, block_rows=5)
    dense = U @ V.T + bias
    for u in range(37):
        dense[u, indices[indptr[u]:indptr[u + 1]]] = -np.inf
        order = np.lexsort((np.arange(23), -dense[u]))
        assert got.items[u].tolist() == order[:6].tolist()
        for t, item in enumerate(query[u]):
            want = -1 if np.isinf(dense[u, item]) else int(np.flatnonzero(order == item)[0]) + 1
            assert got.ranks[u, t] == want


def test_scoring_all_users_never_allocates_dense_matrix():
    n_users, n_items, d, k = 20000, 6000, 8, 50
    rng = np.random.default_rng(1)
    U = rng.normal(size=(n_users, d)).astype(np.float32)
    V = rng.normal(size=(n_items, d)).astype(np.float32)
    dense_bytes = n_users * n_items * 4
    tracemalloc.start()
    try:
        top = score_top_k(U, V, k)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert top.items.shape == (n_users, k)
    assert peak < 0.15 * dense_bytes, f"peak {peak / 2**20:.0f} MiB vs dense {dense_bytes / 2**20:.0f} MiB"


def test_bad_arguments():
    U = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="same number of columns"):
        score_top_k(U, np.zeros((4, 2), np.float32), 2)
    with pytest.raises(ValueError, match="k must be"):
        score_top_k(U, U, 0)
    with pytest.raises(ValueError, match="seen data has"):
        score_top_k(U, U, 1, seen=SeenItems(np.zeros(3, np.int64), np.zeros(0, np.int32), 9))


@pytest.mark.parametrize("model", ["mf", "nsvd", "autorec", "cdae", "pop"])
def test_top_k_lists_nest_so_one_deep_list_serves_every_cut_off(model):
    """Every recommender's top-k list is the prefix of its deeper lists (what multi-K
    metrics from one pass rely on), RVD's too."""
    from fastpoison.data.datasets import load_dataset
    from fastpoison.defenses import RVD
    from fastpoison.models import make_model

    train = load_dataset("synthetic:filmtrust").split.train
    options = {} if model == "pop" else {"epochs": 2}
    fitted = make_model(model, "filmtrust", **options).fit(train, seed=0)
    users = np.arange(0, train.n_real_users, 97, dtype=np.int32)
    recommenders = [fitted.top_k]
    if model != "pop":
        recommenders += [RVD(fitted, k=5, epochs=1), RVD(fitted, k=5, step="sgd")]
    for recommend in recommenders:
        deep, short = recommend(users, 60).items, recommend(users, 10).items
        assert np.array_equal(deep[:, :10], short)
