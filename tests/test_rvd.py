"""RVD: the overlay kernel against a naive deep-copy reference, base model untouched,
neighbour search, bad input."""
from __future__ import annotations

import copy

import numpy as np
import pytest

from fastpoison.data.datasets import load_dataset
from fastpoison.data.registry import paper_rvd_k
from fastpoison.defenses import RVD, exact_neighbours
from fastpoison.models import MF, NSVD


@pytest.fixture(scope="module")
def train():
    return load_dataset("synthetic:filmtrust").split.train


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "bias"])
def mf(request, train):
    return MF(factors=8, epochs=3, bias=request.param).fit(train, seed=0)


def naive_mf_rvd(model: MF, train, user: int, neighbours: np.ndarray, epochs: int, lr: float, forget: float):
    """Deep-copy the model, fine-tune it densely in numpy, score every item for ``user``."""
    m = copy.deepcopy(model)
    P, Q, bu, bi = (m.params[k].astype(np.float64) for k in ("P", "Q", "bu", "bi"))
    keep = forget ** (1.0 / (epochs * sum(train.indptr[v + 1] - train.indptr[v] for v in neighbours)))
    values = train.values / train.scale.high
    for _ in range(epochs):
        for v in neighbours:
            for x in range(train.indptr[v], train.indptr[v + 1]):
                i, r = train.indices[x], values[x]
                pred = P[v] @ Q[i] + ((m.mu + bu[v] + bi[i]) if m.config.bias else 0.0)
                e = r - pred
                pv, qi = P[v].copy(), Q[i].copy()
                P *= keep
                Q *= keep
                P[v] = keep * pv + lr * e * qi
                Q[i] = keep * qi + lr * e * pv
                if m.config.bias:
                    b_v, b_i = bu[v], bi[i]
                    bu *= keep
                    bi *= keep
                    bu[v] = keep * b_v + lr * e
                    bi[i] = keep * b_i + lr * e
    scores = Q @ P[user] + ((m.mu + bu[user] + bi) if m.config.bias else 0.0)
    scores[train.indices[train.indptr[user]:train.indptr[user + 1]]] = -np.inf
    return scores


def test_kernel_matches_the_naive_reference_and_leaves_the_model_alone(mf, train):
    before = {k: v.copy() for k, v in mf.params.items()}
    rvd = RVD(mf, k=4, epochs=2, lr=0.05, forget=0.1, exact=True)
    users = np.array([0, 17, 400], dtype=np.int32)
    top = rvd.recommend(users, 10)
    for row, u in enumerate(users):
        ref = naive_mf_rvd(mf, train, int(u), rvd.neighbours(np.array([u]))[0], 2, 0.05, 0.1)
        best = np.argsort(-ref, kind="stable")[:10]
        assert top.items[row].tolist() == best.tolist()
        np.testing.assert_allclose(top.scores[row], ref[best], rtol=2e-4, atol=1e-6)
    for _ in range(3):
        rvd.recommend(users, 10)
    for k, v in mf.params.items():
        assert np.array_equal(v, before[k]), k


def test_results_do_not_depend_on_threads_or_batching(train):
    model = NSVD(factors=8, epochs=2).fit(train, seed=1)
    users = np.arange(0, 60, dtype=np.int32)
    one = RVD(model, k=5, exact=True, threads=1).recommend(users, 20)
    two = RVD(model, k=5, exact=True, threads=2).recommend(users, 20)
    part = RVD(model, k=5, exact=True, threads=1).recommend(users[30:], 20)
    assert np.array_equal(one.items, two.items) and np.array_equal(one.scores, two.scores)
    assert np.array_equal(one.items[30:], part.items)


def test_nsvd_fine_tune_changes_the_ranking_but_not_the_model(train):
    model = NSVD(factors=8, epochs=2).fit(train, seed=1)
    before = {k: v.copy() for k, v in model.params.items()}
    users = np.arange(20, dtype=np.int32)
    plain = model.top_k(users, 20)
    tuned = RVD(model, k=5, exact=True).recommend(users, 20)
    assert not np.array_equal(plain.items, tuned.items)
    untuned = RVD(model, k=5, epochs=0, exact=True).recommend(users, 20)
    np.testing.assert_allclose(untuned.scores, plain.scores, rtol=1e-5, atol=1e-6)
    assert all(np.array_equal(v, before[k]) for k, v in model.params.items())


def test_exact_neighbours_put_the_user_first_then_the_closest():
    rng = np.random.default_rng(0)
    e = rng.normal(size=(50, 4)).astype(np.float32)
    nb = exact_neighbours(e, np.arange(50), 6)
    d = ((e[:, None] - e[None]) ** 2).sum(-1)
    for u in range(50):
        assert nb[u, 0] == u
        assert set(nb[u, 1:]) == set(np.argsort(d[u], kind="stable")[1:6])


def test_hnsw_agrees_with_exact_search(train):
    model = MF(factors=32, epochs=3).fit(train, seed=0)
    users = np.arange(model.n_users, dtype=np.int32)
    fast = RVD(model, k=30).neighbours(users)
    exact = RVD(model, k=30, exact=True).neighbours(users)
    agree = np.mean([len(set(a) & set(b)) / 30 for a, b in zip(fast, exact)])
    assert agree >= 0.95, agree
    assert np.all(fast[:, 0] == users)


def test_paper_k_defaults():
    assert paper_rvd_k("ml-100k", "mf") == 12 and paper_rvd_k("synthetic:yelp", "nsvd") == 900
    assert paper_rvd_k("filmtrust", "mf") == 650


@pytest.mark.parametrize("kwargs, message", [({"k": 0}, "k must"), ({"k": 10**6}, "k must"),
                                             ({"lr": 0.0}, "lr"), ({"epochs": -1}, "epochs")])
def test_bad_settings_raise_one_clear_error(mf, kwargs, message):
    with pytest.raises(ValueError, match=message):
        RVD(mf, **{"exact": True, **kwargs})


def test_bad_users_and_models_raise(mf):
    with pytest.raises(ValueError, match="user ids"):
        RVD(mf, k=3, exact=True).recommend(np.array([10**6]))
    with pytest.raises(ValueError, match="fitted factor model"):
        RVD(MF(), k=3)
    with pytest.raises(ValueError, match="fitted factor model"):
        RVD(object(), k=3)  # type: ignore[arg-type]


def test_large_neighbourhoods_do_not_collapse_the_model(train):
    # The per-step decay adapts to the amount of fine-tuning: with most users as neighbours,
    # scores keep their scale (a fixed decay per step drove every score to 0 here).
    model = MF(factors=8, epochs=5).fit(train, seed=0)
    users = np.arange(10, dtype=np.int32)
    plain = model.top_k(users, 10)
    tuned = RVD(model, k=600, exact=True).recommend(users, 10)
    assert np.all(tuned.scores[:, 0] > 0.1 * plain.scores[:, 0])
