"""RVD: the paper's fine-tune (the model's own training on the neighbours) against the full
model and a plain retrain, our SGD overlay kernels against a dense numpy reference, base model
untouched, neighbour search, bad input."""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from fastpoison import _core
from fastpoison.data.datasets import load_dataset
from fastpoison.data.registry import DEFAULT_NEIGHBOURS, paper_neighbours
from fastpoison.defenses import RVD, exact_neighbours
from fastpoison.defenses.neighbour_count import K_CANDIDATES, select_k
from fastpoison.models import BPRMF, MF, NSVD, LightGCN


@pytest.fixture(scope="module")
def train():
    return load_dataset("synthetic:filmtrust").split.train


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "bias"])
def mf(request, train):
    return MF(factors=8, epochs=3, bias=request.param).fit(train, seed=0)


def reference_rvd(kind: str, params: tuple[np.ndarray, ...], mu: float, bias: bool, item_reg: float,
                  csr: tuple[np.ndarray, np.ndarray, np.ndarray], user: int, neighbours, epochs: int, lr: float,
                  forget: float) -> np.ndarray:
    """The RVD fine-tune done densely in float64: every step updates its rows from their old
    values (shrunk by ``keep`` inside the update) and shrinks every other row by ``keep``;
    returns ``user``'s scores of every item, its rated items at -inf."""
    A, Q, bu, bi = (np.array(x, dtype=np.float64) for x in params)
    indptr, indices, values = csr
    rated = [(indices[indptr[v]:indptr[v + 1]], values[indptr[v]:indptr[v + 1]]) for v in range(len(indptr) - 1)]
    counts = np.bincount(indices, minlength=len(Q))
    prior = np.where(counts > 0, item_reg / np.maximum(counts, 1), 0.0)
    steps = epochs * (len(neighbours) if kind == "nsvd" else sum(len(rated[v][0]) for v in neighbours))
    keep = forget ** (1.0 / steps) if steps else 1.0
    b = 1.0 if bias else 0.0

    def implicit(v: int) -> np.ndarray:
        items = rated[v][0]
        return A[items].sum(0) / np.sqrt(len(items)) if len(items) else np.zeros(A.shape[1])

    def decay_all_but(updates: dict[str, dict[int, np.ndarray]]) -> None:
        for name, array in (("A", A), ("Q", Q), ("bu", bu), ("bi", bi)):
            array *= keep
            for row, value in updates[name].items():
                array[row] = value

    for _ in range(epochs):
        for v in neighbours:
            items, ratings = rated[v]
            if kind == "mf":
                for i, r in zip(items, ratings):
                    e = r - (A[v] @ Q[i] + b * (mu + bu[v] + bi[i]))
                    decay_all_but({"A": {v: keep * A[v] + lr * e * Q[i]}, "Q": {i: keep * Q[i] + lr * e * A[v]},
                                   "bu": {v: keep * bu[v] + b * lr * e}, "bi": {i: keep * bi[i] + b * lr * e}})
            elif len(items):
                pv, g, b_v = implicit(v), np.zeros(A.shape[1]), bu[v]
                new: dict[str, dict[int, np.ndarray]] = {"Q": {}, "bu": {}, "bi": {}}
                for i, r in zip(items, ratings):
                    e = r - (pv @ Q[i] + b * (mu + b_v + bi[i]))
                    b_v = keep * b_v + b * lr * e  # b_u steps with every rating
                    new["bi"][i] = keep * bi[i] + b * lr * e
                    g += e * Q[i]
                    new["Q"][i] = (keep - lr * prior[i]) * Q[i] + lr * e * pv
                new["bu"][v] = b_v
                new["A"] = {j: keep * A[j] + lr * g / np.sqrt(len(items)) for j in items}
                decay_all_but(new)
    pu = implicit(user) if kind == "nsvd" else A[user]
    scores = Q @ pu + b * (mu + bu[user] + bi)
    scores[rated[user][0]] = -np.inf
    return scores


def naive_mf_rvd(model: MF, train, user: int, neighbours: np.ndarray, epochs: int, lr: float, forget: float):
    """`reference_rvd` of a fitted MF model on its training ratings."""
    params = tuple(model.params[k] for k in ("P", "Q", "bu", "bi"))
    csr = (train.indptr, train.indices, train.values / train.scale.high)
    return reference_rvd("mf", params, model.mu, model.config.bias, 0.0, csr, user, neighbours, epochs, lr, forget)


def test_kernel_matches_the_naive_reference_and_leaves_the_model_alone(mf, train):
    before = {k: v.copy() for k, v in mf.params.items()}
    rvd = RVD(mf, k=4, epochs=2, lr=0.05, forget=0.1, step="sgd", exact=True)
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


def tiny_problem(d: int, seed: int = 0):
    """Seven users (user 6 rates nothing) x nine items, random factors and biases, ratings in [0, 1]."""
    rng = np.random.default_rng(seed)
    rows = [rng.choice(9, size=n, replace=False) for n in (3, 1, 4, 2, 4, 2, 0)]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    indices = np.concatenate([np.sort(r) for r in rows]).astype(np.int32)
    values = rng.random(len(indices)).astype(np.float32)
    factors = lambda n: (0.5 * rng.standard_normal((n, d))).astype(np.float32)  # noqa: E731
    biases = lambda n: (0.1 * rng.standard_normal(n)).astype(np.float32)  # noqa: E731
    return factors, biases, (indptr, indices, values)


@pytest.mark.parametrize("d", [5, 32])
@pytest.mark.parametrize("bias", [False, True], ids=["plain", "bias"])
@pytest.mark.parametrize("kind", ["mf", "nsvd"])
def test_each_kernel_matches_a_dense_reference_on_a_tiny_problem(kind, bias, d):
    factors, biases, csr = tiny_problem(d)
    params = (factors(7 if kind == "mf" else 9), factors(9), biases(7), biases(9))
    item_reg = 0.7 if kind == "nsvd" else 0.0
    kernel = _core.mf_rvd_top_k if kind == "mf" else partial(_core.nsvd_rvd_top_k, item_reg=item_reg)
    # each user first among its neighbours; user 0 also served with neighbours it is not one of
    users = np.array([0, 3, 5, 6, 0], dtype=np.int32)
    neighbours = np.array([[0, 2, 6], [3, 1, 4], [5, 0, 2], [6, 4, 1], [1, 4, 6]], dtype=np.int32)
    items, scores = kernel(*params, 0.4, bias, *csr, users, neighbours, 3, 0.1, 0.3, 5, 1)
    for row, u in enumerate(users):
        ref = reference_rvd(kind, params, 0.4, bias, item_reg, csr, int(u), neighbours[row], 3, 0.1, 0.3)
        best = np.argsort(-ref, kind="stable")[:5]
        assert items[row].tolist() == best.tolist()
        np.testing.assert_allclose(scores[row], ref[best], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bad", [-1, 7])
@pytest.mark.parametrize("kernel", [_core.mf_rvd_top_k, _core.nsvd_rvd_top_k], ids=["mf", "nsvd"])
def test_kernels_reject_user_and_neighbour_ids_out_of_range(kernel, bad):
    factors, biases, csr = tiny_problem(4)
    params = (factors(7 if kernel is _core.mf_rvd_top_k else 9), factors(9), biases(7), biases(9))
    ok_users, ok_neighbours = np.array([0], dtype=np.int32), np.array([[0, 1]], dtype=np.int32)
    for users, neighbours in ((np.array([bad], dtype=np.int32), ok_neighbours),
                              (ok_users, np.array([[0, bad]], dtype=np.int32))):
        with pytest.raises(ValueError, match="outside"):
            kernel(*params, 0.0, True, *csr, users, neighbours, 1, 0.1, 0.5, 3, 1)


@pytest.mark.parametrize("kernel", [_core.mf_rvd_top_k, _core.nsvd_rvd_top_k], ids=["mf", "nsvd"])
def test_kernels_reject_item_ids_out_of_range_in_the_rows_they_read(kernel):
    factors, biases, (indptr, indices, values) = tiny_problem(4)
    params = (factors(7 if kernel is _core.mf_rvd_top_k else 9), factors(9), biases(7), biases(9))
    users, neighbours = np.array([0], dtype=np.int32), np.array([[0, 2]], dtype=np.int32)
    for row in (0, 2):  # the served user's row, a neighbour's row
        bad = indices.copy()
        bad[indptr[row]] = 9
        with pytest.raises(ValueError, match="outside"):
            kernel(*params, 0.0, True, indptr, bad, values, users, neighbours, 1, 0.1, 0.5, 3, 1)
    unread = indices.copy()
    unread[indptr[4]] = 9  # user 4 is neither served nor a neighbour
    if kernel is _core.mf_rvd_top_k:  # MF reads only the rows of the neighbourhood
        kernel(*params, 0.0, True, indptr, unread, values, users, neighbours, 1, 0.1, 0.5, 3, 1)
    else:  # NSVD's item prior counts every row
        with pytest.raises(ValueError, match="outside"):
            kernel(*params, 0.0, True, indptr, unread, values, users, neighbours, 1, 0.1, 0.5, 3, 1, 0.0)


def test_a_user_outside_its_neighbourhood_with_a_long_profile_is_served():
    # The user's own rows are written when it is scored: the overlay must have room for them.
    rng = np.random.default_rng(0)
    m, d = 300, 16
    indptr = np.array([0, 250, 251], dtype=np.int64)  # user 0 rates 250 items, user 1 one
    indices = np.concatenate([np.arange(250), [299]]).astype(np.int32)
    csr = (indptr, indices, rng.random(251).astype(np.float32))
    params = tuple(rng.standard_normal(s).astype(np.float32) for s in ((m, d), (m, d), (2,), (m,)))
    users, neighbours = np.array([0], dtype=np.int32), np.array([[1]], dtype=np.int32)
    items, scores = _core.nsvd_rvd_top_k(*params, 0.0, False, *csr, users, neighbours, 2, 0.05, 0.5, 5, 1)
    ref = reference_rvd("nsvd", params, 0.0, False, 0.0, csr, 0, [1], 2, 0.05, 0.5)
    np.testing.assert_allclose(scores[0], np.sort(ref)[::-1][:5], rtol=1e-4, atol=1e-5)


def test_results_do_not_depend_on_threads_or_batching(train, monkeypatch):
    model = NSVD(factors=8, epochs=2).fit(train, seed=1)
    users = np.arange(0, 60, dtype=np.int32)
    monkeypatch.setattr("fastpoison.defenses.rvd.PROGRESS_CHUNK", 7)  # progress serves in chunks of 7
    for step in ("model", "sgd"):
        one = RVD(model, k=5, step=step, exact=True, threads=1).recommend(users, 20)
        two = RVD(model, k=5, step=step, exact=True, threads=2).recommend(users, 20)
        part = RVD(model, k=5, step=step, exact=True, threads=1).recommend(users[30:], 20)
        shown = RVD(model, k=5, step=step, exact=True, threads=1, progress=True).recommend(users, 20)
        assert np.array_equal(one.items, two.items) and np.array_equal(one.scores, two.scores)
        assert np.array_equal(one.items[30:], part.items)
        assert np.array_equal(one.items, shown.items) and np.array_equal(one.scores, shown.scores)


def test_nsvd_fine_tune_changes_the_ranking_but_not_the_model(train):
    model = NSVD(factors=8, epochs=2).fit(train, seed=1)
    before = {k: v.copy() for k, v in model.params.items()}
    users = np.arange(20, dtype=np.int32)
    plain = model.top_k(users, 20)
    for step in ("model", "sgd"):
        tuned = RVD(model, k=5, step=step, exact=True).recommend(users, 20)
        assert not np.array_equal(plain.items, tuned.items)
        untuned = RVD(model, k=5, epochs=0, step=step, exact=True).recommend(users, 20)
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
    assert paper_neighbours("ml-100k", "mf") == 12 and paper_neighbours("synthetic:yelp", "nsvd") == 900
    assert paper_neighbours("filmtrust", "mf") == 650


@pytest.mark.parametrize("kwargs, message", [({"k": 0}, "k must"), ({"k": 10**6}, "k must"),
                                             ({"lr": 0.0, "step": "sgd"}, "lr"), ({"epochs": -1}, "epochs"),
                                             ({"lr": 0.1}, "step=sgd"), ({"forget": 0.1}, "step=sgd"),
                                             ({"step": "adam"}, "step must")])
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


@pytest.mark.parametrize("cls", [BPRMF, LightGCN])
def test_our_squared_error_step_is_refused_for_ranking_models(train, cls):
    model = cls(factors=8, epochs=1).fit(train, seed=0)
    with pytest.raises(ValueError, match="squared error"):
        RVD(model, k=3, step="sgd", exact=True)


def test_large_neighbourhoods_do_not_collapse_the_model(train):
    # The per-step decay adapts to the amount of fine-tuning: with most users as neighbours,
    # scores keep their scale (a fixed decay per step drove every score to 0 here).
    model = MF(factors=8, epochs=5).fit(train, seed=0)
    users = np.arange(10, dtype=np.int32)
    plain = model.top_k(users, 10)
    tuned = RVD(model, k=600, step="sgd", exact=True).recommend(users, 10)
    assert np.all(tuned.scores[:, 0] > 0.1 * plain.scores[:, 0])


def retrained_by_hand(model, user: int, neighbours: np.ndarray, epochs: int, seed: int, k: int):
    """The paper's Algorithm 1 spelled out on a copy of ``model``: fresh optimiser, the model's
    own epochs over the neighbours' training ratings, then the user's top-k."""
    from fastpoison.models.neighbourhood import neighbours_only, user_seed
    copy = type(model)().load_state(model.state())
    copy.reset_optimizer()
    data = neighbours_only(copy.seen_indptr, copy.seen_indices, copy.seen_values, neighbours, copy.n_items, copy.scale)
    copy.train_epochs(data, epochs, user_seed(seed, user))
    copy._after_fit()
    return copy.top_k(np.array([user]), k)


@pytest.mark.parametrize("bias", [False, True], ids=["plain", "bias"])
def test_paper_fine_tune_of_the_restricted_model_equals_retraining_the_whole_model(train, bias):
    # The factor models train only the rows the neighbourhood involves; with lazy Adam that is
    # the same as the whole model trained on the neighbours' ratings.
    model = MF(factors=8, epochs=3, bias=bias).fit(train, seed=0)
    before = {k: v.copy() for k, v in model.params.items()}
    users = np.array([0, 17, 400], dtype=np.int32)
    rvd = RVD(model, k=6, epochs=4, exact=True, seed=3)
    top = rvd.recommend(users, 10)
    for row, u in enumerate(users):
        ref = retrained_by_hand(model, int(u), rvd.neighbours(np.array([u]))[0], 4, 3, 10)
        assert top.items[row].tolist() == ref.items[0].tolist()
        np.testing.assert_allclose(top.scores[row], ref.scores[0], rtol=1e-5, atol=1e-6)
    assert all(np.array_equal(v, before[k]) for k, v in model.params.items())


def test_paper_fine_tune_of_the_generic_path_equals_retraining(train):
    from fastpoison.models import AutoRec
    model = AutoRec(hidden=16, epochs=2).fit(train, seed=0)
    before = {k: v.copy() for k, v in model.params.items()}
    users = np.array([3, 50], dtype=np.int32)
    rvd = RVD(model, k=5, epochs=2, exact=True, seed=1)
    top = rvd.recommend(users, 8)
    for row, u in enumerate(users):
        ref = retrained_by_hand(model, int(u), rvd.neighbours(np.array([u]))[0], 2, 1, 8)
        assert top.items[row].tolist() == ref.items[0].tolist()
    assert all(np.array_equal(v, before[k]) for k, v in model.params.items())
    assert np.array_equal(model.top_k(users, 8).items, type(model)().load_state(model.state()).top_k(users, 8).items)


def test_paper_fine_tune_follows_the_model_own_optimiser(train):
    # Adam restarted at lr 0.001 moves each parameter by about lr per step: the paper's
    # fine-tune changes a trained model far less than our SGD at lr 0.05.
    model = MF(factors=8, epochs=3).fit(train, seed=0)
    users = np.arange(30, dtype=np.int32)
    plain = model.top_k(users, 50).scores
    paper = RVD(model, k=8, epochs=5, exact=True).recommend(users, 50).scores
    ours = RVD(model, k=8, epochs=5, step="sgd", exact=True).recommend(users, 50).scores
    assert 0 < np.abs(paper - plain).mean() < np.abs(ours - plain).mean()


def test_rvd_chooses_k_by_validation_where_table_2_has_none():
    train = load_dataset("synthetic:sparse").split.train
    model = MF(factors=8, epochs=5).fit(train, seed=0)
    seen = (model.seen_indptr, model.seen_indices, model.seen_values)
    withheld = []

    def fine_tune(users, neighbours, k_items):  # what the candidates are judged on
        vu, vi, _ = model.validation
        keys = set(zip(np.repeat(np.arange(model.n_users), np.diff(model.seen_indptr)).tolist(),
                       model.seen_indices.tolist()))
        withheld.append(not any((u, i) in keys for u, i in zip(vu.tolist(), vi.tolist())))
        return model.top_k(users, k_items)

    k, scores = select_k(model, lambda users, k: exact_neighbours(model.user_embeddings(), users, k), fine_tune)
    assert withheld and all(withheld)  # every fine-tune ran without the held-out ratings
    assert all(a is b for a, b in zip(seen, (model.seen_indptr, model.seen_indices, model.seen_values)))
    assert set(scores) == set(K_CANDIDATES) and scores[k] == max(scores.values())
    assert k == min(c for c in scores if scores[c] == scores[k])

    rvd = RVD(model, epochs=2, dataset="synthetic:sparse", canary=False)
    assert rvd.notes["k_rule"] == "validation" and rvd.k == rvd.notes["k"] in K_CANDIDATES
    assert RVD(model, epochs=2, dataset="synthetic:ml-100k").notes == {}  # Table 2's k: nothing chosen
    model.validation = None  # as a model loaded from a file
    assert RVD(model, epochs=2, dataset="synthetic:sparse", canary=False).k == DEFAULT_NEIGHBOURS


@pytest.mark.parametrize("kind", ["nsvd", "autorec"])
def test_seeing_swaps_what_the_model_derives_from_its_ratings_and_restores_it(kind):
    from fastpoison.models import make_model
    train = load_dataset("synthetic:sparse").split.train
    model = make_model(kind, epochs=2, **({"factors": 8} if kind == "nsvd" else {"hidden": 16})).fit(train, seed=0)
    users = np.arange(50, dtype=np.int32)
    before = model.predict(users)
    fewer = train.subset_ratings(np.arange(train.n_ratings) % 3 != 0)
    with model.seeing(fewer):
        inside = model.predict(users)
    assert not np.allclose(inside, before)  # N(u) / the input rows follow the ratings seen
    np.testing.assert_array_equal(model.predict(users), before)
    with pytest.raises(ValueError, match="seeing"):
        with model.seeing(load_dataset("synthetic:filmtrust").split.train):
            pass
