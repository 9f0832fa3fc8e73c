"""Training-time defenses: the robust MF objectives against finite differences, least-trimmed
squares selection, the defense API, and defenses inside experiments."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fastpoison import _core
from fastpoison.data.datasets import load_dataset
from fastpoison.data.split import sample_negatives
from fastpoison.defenses import APR, AT, LTSMF, RAT, RMF, VicinalDefense, get_defense
from fastpoison.eval.experiment import ExperimentSpec, run_experiment
from fastpoison.models import MF, NSVD, make_model
from fastpoison.models.buffers import aligned_zeros


def half_loss(p, q, r, huber, eps, weight, delta_u, delta_i):
    """Half the per-rating loss rho(e) + weight * rho(e_adv), the perturbation held fixed (float64)."""
    def rho(e):
        return e * e if abs(e) <= huber else 2 * huber * abs(e) - huber * huber
    e = p @ q - r
    e_adv = (p + delta_u) @ (q + delta_i) - r
    return 0.5 * (rho(e) + weight * rho(e_adv))


def fast_gradient(p, q, r, eps):
    """APR's perturbation of (p, q): norm eps along the gradient of this rating's squared error."""
    s = np.sign(p @ q - r) * eps
    return s * q / np.linalg.norm(q), s * p / np.linalg.norm(p)


@pytest.mark.parametrize("huber,eps,weight,r", [
    (np.inf, 0.0, 0.0, 0.9),    # plain squared error
    (0.05, 0.0, 0.0, 0.9),      # Huber, clipped
    (10.0, 0.0, 0.0, 0.9),      # Huber, inside the quadratic zone
    (np.inf, 0.1, 1.0, 0.9),    # APR, error positive side
    (np.inf, 0.1, 0.5, -0.4),   # APR, error negative side
    (0.05, 0.2, 2.0, 0.7),      # both
])
def test_sgd_step_follows_the_gradient_of_the_robust_loss(huber, eps, weight, r):
    rng = np.random.default_rng(3)
    d, lr = 8, 1e-3
    p0, q0 = rng.normal(0, 0.5, d), rng.normal(0, 0.5, d)
    P, Q = aligned_zeros((1, d)), aligned_zeros((1, d))
    P[0], Q[0] = p0, q0
    p0, q0 = P[0].astype(np.float64), Q[0].astype(np.float64)
    one = np.zeros(1, dtype=np.int32)
    _core.mf_sgd_epoch(P, Q, aligned_zeros((1,)), aligned_zeros((1,)), 0.0, one, one, np.array([r], np.float32),
                       lr, 0.0, False, 1, 0, huber=huber, perturbation=1, perturbation_size=eps,
                       perturbation_weight=weight)
    du, di = fast_gradient(p0, q0, r, eps)
    h = 1e-6
    grad_p = np.array([(half_loss(p0 + h * np.eye(d)[f], q0, r, huber, eps, weight, du, di)
                        - half_loss(p0 - h * np.eye(d)[f], q0, r, huber, eps, weight, du, di)) / (2 * h)
                       for f in range(d)])
    grad_q = np.array([(half_loss(p0, q0 + h * np.eye(d)[f], r, huber, eps, weight, du, di)
                        - half_loss(p0, q0 - h * np.eye(d)[f], r, huber, eps, weight, du, di)) / (2 * h)
                       for f in range(d)])
    np.testing.assert_allclose((p0 - P[0]) / lr, grad_p, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose((q0 - Q[0]) / lr, grad_q, rtol=2e-3, atol=2e-4)


@pytest.fixture(scope="module")
def train():
    return load_dataset("synthetic:filmtrust").split.train


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_inactive_robust_terms_reproduce_plain_training_bitwise(train, optimizer):
    plain = MF(factors=8, epochs=2, optimizer=optimizer).fit(train, seed=1)
    inert = MF(factors=8, epochs=2, optimizer=optimizer, huber=1e30, perturbation="adversarial",
               perturbation_size=0.0).fit(train, seed=1)
    for k in plain.params:
        assert np.array_equal(plain.params[k], inert.params[k]), k


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_each_robust_objective_changes_training(train, optimizer):
    plain = MF(factors=8, epochs=2, optimizer=optimizer).fit(train, seed=1)
    for option in ({"huber": 0.05}, {"perturbation": "adversarial", "perturbation_size": 0.1},
                   {"perturbation": "random", "perturbation_size": 0.05}, {"trim": 0.1}):
        robust = MF(factors=8, epochs=2, optimizer=optimizer, **option).fit(train, seed=1)
        assert not np.array_equal(plain.params["P"], robust.params["P"]), option


def test_trimming_keeps_exactly_the_smallest_residuals(train):
    model = MF(factors=8, epochs=2, trim=0.2, valid_fraction=0.0).fit(train, seed=0)
    model._prepare(train.normalized(), 0)  # lay the ratings out again: fit lets them go
    users, items, ratings = model._prepared
    kept = model._epoch_ratings()
    assert len(kept[2]) == len(ratings) - int(0.2 * len(ratings))
    residual = np.abs(model._predict_normalized(users, items) - ratings)
    in_kept = np.zeros(len(ratings), dtype=bool)
    order = {(u, i): k for k, (u, i) in enumerate(zip(users.tolist(), items.tolist()))}
    in_kept[[order[(u, i)] for u, i in zip(kept[0].tolist(), kept[1].tolist())]] = True
    assert residual[in_kept].max() <= residual[~in_kept].min()
    assert np.all(np.diff(np.flatnonzero(in_kept)) > 0) and np.array_equal(kept[2], ratings[in_kept])


def test_defenses_train_mf_with_their_objective(train):
    factory = lambda **o: MF(factors=8, epochs=2, **o)  # noqa: E731
    assert APR(eps=0.1, weight=0.5).fit(factory, train).config.perturbation_size == 0.1
    assert APR().fit(factory, train).config.perturbation == "adversarial_rows"  # He et al.'s, per embedding row
    assert APR(per="rating").fit(factory, train).config.perturbation == "adversarial"  # ours
    assert RAT().fit(factory, train).config.perturbation == "random"
    assert LTSMF(trim=0.1).fit(factory, train).config.trim == 0.1
    assert RMF(loss="huber", huber=0.2).fit(factory, train).config.huber == 0.2
    assert RMF().fit(factory, train).config.frobenius  # the RVD paper's RMF by default
    same = LTSMF(trim=0.1).fit(factory, train, seed=4).params["P"]
    assert np.array_equal(same, LTSMF(trim=0.1).fit(factory, train, seed=4).params["P"])


def test_a_kept_epoch_before_the_adversarial_loss_is_reported(train):
    # 3 epochs and a warm-up of 5: the adversarial loss never trains, and the notes say so
    inactive = AT().fit(lambda **o: MF(factors=8, epochs=3, **o), train, seed=0)
    plain = MF(factors=8, epochs=3).fit(train, seed=0)
    assert np.array_equal(inactive.params["P"], plain.params["P"])
    assert "undefended" in inactive.fit_notes["inactive"]
    active = RAT(warmup=0).fit(lambda **o: MF(factors=8, epochs=3, **o), train, seed=0)
    assert active.fit_notes == {} and not np.array_equal(active.params["P"], plain.params["P"])


@pytest.mark.parametrize("make", [lambda: APR(eps=-1), lambda: APR(weight=np.inf), lambda: AT(warmup=-1),
                                  lambda: RAT(std=np.nan), lambda: LTSMF(trim=1.0),
                                  lambda: LTSMF(trim=-0.1), lambda: RMF(huber=0.0),
                                  lambda: RMF(loss="l1"), lambda: APR(per="user")])
def test_bad_defense_settings_fail_at_construction(make):
    with pytest.raises(ValueError):
        make()


def test_training_defenses_refuse_non_mf_models(train):
    with pytest.raises(ValueError, match="matrix factorisation"):
        LTSMF().fit(lambda **o: NSVD(factors=8, epochs=1), train)
    with pytest.raises(ValueError, match="does not apply"):
        ExperimentSpec(dataset="synthetic:filmtrust", model="nsvd", defense="rmf+rvd")


def test_defense_names_parse_into_plans():
    assert get_defense("rvd").training is None and isinstance(get_defense("rvd").serving, VicinalDefense)
    plan = get_defense("LTSMF+RVD")
    assert isinstance(plan.training, LTSMF) and plan.serving is not None and plan.name == "ltsmf+rvd"
    assert isinstance(get_defense("apr").training, APR) and get_defense("apr").serving is None
    with pytest.raises(ValueError, match="unknown defense"):
        get_defense("nosuch")
    for bad in ("rvd+rvd", "rvd+ltsmf", "ltsmf+rmf", "ltsmf+rvd+rvd"):
        with pytest.raises(ValueError, match="a training part followed by a serving part"):
            get_defense(bad)
    with pytest.raises(ValueError, match="name is missing"):
        get_defense("ltsmf+")


@pytest.mark.parametrize("defense", ["ltsmf", "rmf+rvd[k=8]"])
def test_training_defense_in_an_experiment(defense):
    spec = ExperimentSpec(dataset="synthetic:filmtrust", attack="average", defense=defense, targets="unpopular",
                          seeds=2, model_options={"epochs": 3, "factors": 8})
    r = run_experiment(spec)
    for key in ("hr_attack", "hr_defense", "test_hr_defense", "ri"):
        assert len(r[key]["values"]) == 2, key
    assert r["timings"]["defense_fit"] > 0


def test_mf_robust_options_do_not_apply_to_nsvd():
    with pytest.raises(ValueError, match="does not apply"):
        make_model("nsvd", trim=0.1)


def single_rating_step(p0, q0, r, lr, **objective):
    """(p, q) after one SGD step on the single rating r of user 0 on item 0."""
    d = len(p0)
    P, Q = aligned_zeros((1, d)), aligned_zeros((1, d))
    P[0], Q[0] = p0, q0
    one = np.zeros(1, dtype=np.int32)
    _core.mf_sgd_epoch(P, Q, aligned_zeros((1,)), aligned_zeros((1,)), 0.0, one, one, np.array([r], np.float32),
                       lr, 0.0, False, 1, objective.pop("seed", 0), **objective)
    return P[0].astype(np.float64), Q[0].astype(np.float64)


def test_random_perturbation_is_a_truncated_normal():
    # From p = q = 0 the step is p' = lr * w * (r - du.di) * di: it reveals the noise di.
    d, lr, w, r, std = 128, 1e-3, 1.0, 1.0, 0.01
    samples = np.concatenate([single_rating_step(np.zeros(d), np.zeros(d), r, lr, seed=s, perturbation=2,
                                                 perturbation_size=std, perturbation_weight=w)[0] / (lr * w * r)
                              for s in range(60)])
    assert abs(samples.std() / std - 0.8796) < 0.03  # std of N(0, 1) truncated at +-2
    assert np.abs(samples).max() <= 2.0 * std * 1.01 and abs(samples.mean()) < 0.05 * std


def test_small_random_perturbation_adds_the_weighted_clean_gradient():
    rng = np.random.default_rng(0)
    p0, q0 = rng.normal(0, 0.5, 16), rng.normal(0, 0.5, 16)
    r, lr, w = 0.8, 0.05, 0.5
    clean = single_rating_step(p0, q0, r, lr)[0]
    noisy = single_rating_step(p0, q0, r, lr, perturbation=2, perturbation_size=1e-6, perturbation_weight=w)[0]
    np.testing.assert_allclose(noisy - p0, (1 + w) * (clean - p0), rtol=1e-3, atol=2e-7)


def test_sampled_test_hr_where_the_split_has_negatives():
    ds = load_dataset("synthetic:filmtrust")
    negatives = sample_negatives(ds.split.full(), ds.split.test_users, 99, seed=0)
    with_negatives = dataclasses.replace(ds, split=dataclasses.replace(ds.split, negatives=negatives))
    spec = ExperimentSpec(dataset="synthetic:filmtrust", attack="random", defense="ltsmf", targets="unpopular",
                          model_options={"epochs": 3, "factors": 8})
    r = run_experiment(spec, dataset=with_negatives)
    for stage in ("origin", "attack", "defense"):
        sampled, full = r[f"test_hr_{stage}_sampled"]["mean"], r[f"test_hr_{stage}"]["mean"]
        assert 0 <= full <= sampled <= 1  # 100 candidates instead of every unrated item: easier
    served = run_experiment(dataclasses.replace(spec, defense="rvd"), dataset=with_negatives)
    assert served["test_hr_defense_sampled"] is None and served["test_hr_attack_sampled"] is not None
    assert run_experiment(spec, dataset=ds)["test_hr_origin_sampled"] is None  # no negatives, no sampled HR
