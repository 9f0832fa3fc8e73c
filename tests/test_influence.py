"""The closed-form surrogate response the optimisation-based attacks differentiate."""
from __future__ import annotations

import numpy as np
import pytest

from fastpoison.attacks import AttackerView, ThreatModel
from fastpoison.attacks.influence import Objective, TargetResponse, profile_items
from fastpoison.data.datasets import load_dataset


@pytest.fixture(scope="module")
def setup():
    train = load_dataset("synthetic:filmtrust").split.train
    threat = ThreatModel.for_data(train, np.array([3, 50, 700]), n_filler=20)
    view = AttackerView(train, 0.5, seed=1)
    return TargetResponse(view, threat), threat, train


@pytest.mark.parametrize("objective", [Objective("mean"), Objective("hinge", 0.05),
                                       Objective("hinge", 0.2, np.r_[np.ones(300), np.zeros(10_000)])])
def test_gradient_matches_finite_differences(setup, objective):
    response, threat, train = setup
    if objective.user_weights is not None:
        objective = Objective("hinge", 0.2, objective.user_weights[: len(response.users)])
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 1.0, (4, train.n_items))
    items = profile_items(x, threat.targets, threat.n_filler)
    xs = np.take_along_axis(x, items, axis=1)
    value, grad = response.gradient(items, xs, objective)
    for z, k in [(0, 0), (1, 5), (3, 19)]:
        bumped = xs.copy()
        bumped[z, k] += 1e-6
        numeric = (response.gradient(items, bumped, objective)[0] - value) / 1e-6
        assert numeric == pytest.approx(grad[z, items[z, k]], rel=1e-3, abs=1e-9)
    assert np.all(grad[:, threat.targets] == 0)


def test_single_injections_match_the_batched_response(setup):
    response, threat, train = setup
    rng = np.random.default_rng(1)
    x = rng.uniform(0.2, 1.0, (5, train.n_items))
    items = profile_items(x, threat.targets, threat.n_filler)
    p, _ = response.fit_users(items, np.take_along_axis(x, items, axis=1))
    each = response.value_each(p, Objective("hinge"), chunk=2)
    assert each == pytest.approx([response.value(p[z:z + 1], Objective("hinge")) for z in range(5)])


def test_profile_items_takes_the_best_and_breaks_ties_by_id():
    x = np.array([[0.5, 0.9, 0.5, 0.5, 0.1, 0.9]])
    assert profile_items(x, np.array([1]), 3).tolist() == [[0, 2, 5, 1]]


def test_the_response_aims_at_the_threat_models_top_k(setup):
    """The K-th best score each active user is measured against follows the threat model's K."""
    _, _, train = setup
    targets = np.array([3, 50, 700])
    view = AttackerView(train, 0.4, 0)
    kth = {k: TargetResponse(view, ThreatModel.for_data(train, targets, n_filler=20, top_k=k)).kth for k in (10, 50)}
    assert np.all(kth[10] >= kth[50]) and np.any(kth[10] > kth[50])
    with pytest.raises(ValueError, match="top-K"):
        ThreatModel.for_data(train, targets, top_k=0)


def test_tna_influence_predicts_the_effect_of_removing_a_user():
    # With every item factor at its ridge optimum given the user factors, the first-order
    # influence of removing a user's ratings tracks the exact re-solved change of the
    # objective (the K-th scores read off the moved item factors).
    from fastpoison.attacks.tna import influence_of_users

    train = load_dataset("synthetic:filmtrust").split.train
    threat = ThreatModel.for_data(train, np.array([3, 50, 700]), n_filler=20)
    view = AttackerView(train, 1.0, seed=2)
    P, Q = view.surrogate.params["P"], view.surrogate.params["Q"]
    users, items, ratings = view.observed.normalized().coo()
    ridge = 0.1

    def ridge_items(drop: int | None) -> np.ndarray:
        keep = users != drop
        out = Q.astype(np.float64)
        for j in np.unique(items):
            sel = keep & (items == j)
            A = P[users[sel]].T.astype(np.float64) @ P[users[sel]] + ridge * np.eye(P.shape[1])
            out[j] = np.linalg.solve(A, P[users[sel]].T @ ratings[sel])
        return out

    Q[...] = ridge_items(None)
    response = TargetResponse(view, threat, ridge=ridge)
    objective = Objective("hinge", 0.1)
    predicted = influence_of_users(view, response, objective)

    def value(Qm: np.ndarray) -> float:
        kth = np.einsum("nd,nd->n", response.P, Qm[response.kth_items])
        return objective.value_and_grad(response.P @ Qm[response.targets].T, kth)[0]

    base = value(response.Q)
    probe = np.argsort(-np.abs(predicted))[:6]
    exact = np.array([value(ridge_items(int(response.users[n]))) - base for n in probe])
    assert np.corrcoef(predicted[probe], exact)[0, 1] > 0.9, (predicted[probe], exact)
    assert np.all(np.sign(predicted[probe]) == np.sign(exact))
