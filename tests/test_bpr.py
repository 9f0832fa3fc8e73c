"""BPR-MF: the kernel's gradients against float64 finite differences, the epoch's determinism
and sampling, the model's fit, persistence and ranking (real ML-100K from ../shared/data)."""
from __future__ import annotations

import numpy as np
import pytest

from fastpoison import _core
from fastpoison.data import load_dataset
from fastpoison.models import BPRMF, load_model, make_model


@pytest.mark.parametrize("d, reg", [(3, 0.0), (12, 0.3), (33, 1e-4)])
def test_gradients_equal_float64_finite_differences(d, reg, bpr_loss64, gradient_check):
    rng = np.random.default_rng(d)
    n_users, n_items, n = 6, 9, 25
    P = rng.normal(0, 0.5, (n_users, d)).astype(np.float32)
    Q = rng.normal(0, 0.5, (n_items, d)).astype(np.float32)
    users, pos, neg = (rng.integers(0, m, n).astype(np.int32) for m in (n_users, n_items, n_items))
    loss, dP, dQ = _core.bpr_loss_grad(P, Q, users, pos, neg, reg)
    P64, Q64 = P.astype(np.float64), Q.astype(np.float64)
    def loss_of(P, Q):  # BPR-MF scores by its own rows
        return bpr_loss64(P, Q, P, Q, (users, pos, neg), reg)

    assert loss == pytest.approx(loss_of(P64, Q64), rel=1e-5)
    gradient_check(loss_of, P64, Q64, dP, dQ)


@pytest.fixture(scope="module")
def twin():
    return load_dataset("synthetic:ml-100k").split.train


def test_fits_are_deterministic_whatever_the_threads(twin):
    one = BPRMF(epochs=3, factors=16).fit(twin, seed=4)
    two = BPRMF(epochs=3, factors=16, threads=2).fit(twin, seed=4)
    assert np.array_equal(one.params["P"], two.params["P"]) and np.array_equal(one.params["Q"], two.params["Q"])
    other = BPRMF(epochs=3, factors=16).fit(twin, seed=5)
    assert not np.array_equal(one.params["Q"], other.params["Q"])


def test_training_lowers_the_ranking_loss_and_ranks_rated_items_first(twin):
    model = BPRMF(epochs=8, factors=16).fit(twin, seed=0)
    losses = [h["train_bpr"] for h in model.history]
    valid = [h["valid_mse"] for h in model.history]
    assert losses[-1] < 0.8 * losses[0] and min(valid) < valid[0]
    users = np.arange(200, dtype=np.int32)
    held_out = model.validation
    assert held_out is not None
    # held-out interactions outrank random unseen items for most users: the model learned to rank
    vu, vi, _ = held_out
    negatives = model.unrated_items(vu.astype(np.int32), seed=1)
    scores = model.params["P"][vu] * (model.params["Q"][vi] - model.params["Q"][negatives])
    assert np.mean(scores.sum(1) > 0) > 0.75
    assert model.top_k(users, 10).items.shape == (200, 10)


def test_min_rating_keeps_only_liked_ratings_as_interactions(twin):
    every = BPRMF(epochs=1, factors=8)
    liked = BPRMF(epochs=1, factors=8, min_rating=4)
    for model in (every, liked):
        model.start(twin, twin, seed=0)
        model._prepare(twin.normalized(), 0)
    assert len(every._prepared[0]) == twin.n_ratings
    assert len(liked._prepared[0]) == int(np.sum(twin.values >= 4))


def test_saved_and_loaded_model_ranks_the_same(twin, tmp_path):
    model = make_model("bprmf", "ml-100k", epochs=2, factors=8).fit(twin, seed=0)
    back = load_model(model.save(tmp_path / "bpr"))
    users = np.arange(50, dtype=np.int32)
    assert np.array_equal(back.top_k(users, 20).items, model.top_k(users, 20).items)


@pytest.mark.parametrize("bad, message", [({"optimizer": "sgd"}, "adam only"), ({"bias": True}, "no bias"),
                                          ({"min_rating": -1}, "min_rating")])
def test_bad_settings_are_one_clear_error(bad, message):
    with pytest.raises(ValueError, match=message):
        BPRMF(**bad)


def test_ranks_real_ml100k_far_above_popularity(shared_data):
    """1 seed here (3 seeds, all 100 epochs: 0.603 ± 0.006; popularity 0.326)."""
    ds = load_dataset("ml-100k", shared_data, require_real=True)
    model = make_model("bprmf", ds.name, epochs=60).fit(ds.split.train, seed=0)
    top = model.top_k(ds.split.test_users, 50).items
    hr = float(np.mean(np.any(top == ds.split.test_items[:, None], axis=1)))
    assert hr > 0.55


def test_our_sgd_fine_tune_is_refused_for_bpr_before_any_work():
    from fastpoison.defenses import applies
    from fastpoison.eval.bench import standard_grid
    from fastpoison.eval.experiment import ExperimentSpec

    assert applies("rvd", "bprmf") and not applies("rvd[step=sgd]", "bprmf") and applies("rvd[step=sgd]", "mf")
    with pytest.raises(ValueError, match="does not train on"):
        ExperimentSpec(dataset="synthetic:ml-100k", model="bprmf", defense="rvd[forget=0.1,step=sgd]")
    defenses = {c.defense for c in standard_grid("synthetic:ml-100k", models=("bprmf",))}
    assert "rvd" in defenses and not any("step=sgd" in (d or "") for d in defenses)


def test_the_training_loss_is_the_mean_over_the_interactions_trained_on(twin):
    liked = BPRMF(epochs=1, factors=8, min_rating=4).fit(twin, seed=0)
    # fresh Xavier factors give margins near 0: -log sigmoid(0) = log 2 per interaction
    assert liked.history[0]["train_bpr"] == pytest.approx(np.log(2), abs=0.02)
