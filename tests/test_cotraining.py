"""Eq. 4's joint training (attacks/cotraining.py): the pieces against their definitions."""
from __future__ import annotations

import numpy as np
import pytest

from fastpoison.attacks import AttackerView, ThreatModel
from fastpoison.attacks.coattack import CoAttack
from fastpoison.attacks.cotraining import AttackLoss, FakeRatings, _squared_error_grad, joint_epoch
from fastpoison.attacks.influence import average_start
from fastpoison.data.datasets import load_dataset
from fastpoison.data.targets import choose_targets
from fastpoison.models import MF


@pytest.fixture(scope="module")
def ml():
    return load_dataset("synthetic:ml-100k").split.train


def test_joint_step_on_the_training_loss_is_the_epoch_kernels_step(ml):
    """One batch: the numpy/numba squared-error gradient plus `MF.adam_step` move the factors
    as the C++ Adam epoch does."""
    part = ml.subset_ratings(np.arange(ml.n_ratings) < 1500)
    kernel, ours = (MF(factors=16, batch_size=2048, valid_fraction=0.0) for _ in range(2))
    for model in (kernel, ours):
        model.start(part, part, seed=3)
    kernel.train_epoch(part, seed=1)
    u, i, r = part.normalized().coo()
    grads = {"P": np.zeros_like(ours.params["P"]), "Q": np.zeros_like(ours.params["Q"])}
    shrink = 2.0 * ours.config.reg / (u.size * 16)
    _squared_error_grad(ours.params["P"], ours.params["Q"], u, i, r, 2.0 / u.size, shrink, grads["P"], grads["Q"])
    ours.adam_step(grads, {"P": np.unique(u), "Q": np.unique(i)})
    for name in ("P", "Q"):
        np.testing.assert_allclose(ours.params[name], kernel.params[name], rtol=1e-4, atol=1e-7)


def test_attack_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    P, Q = rng.normal(0, 0.5, (6, 4)), rng.normal(0, 0.5, (30, 4))
    loss = AttackLoss(np.arange(6), np.array([3, 7]), kappa=0.2, k=5)
    loss.lists = np.argsort(-(P @ Q.T), axis=1)[:, :5].astype(np.int32)
    rows = np.arange(6)
    grad_P, grad_Q = np.zeros_like(P), np.zeros_like(Q)
    loss.add_gradient(P, Q, rows, 0.5, grad_P, grad_Q)
    for array, grad in ((P, grad_P), (Q, grad_Q)):
        for index in np.ndindex(*array.shape):
            old = array[index]
            array[index] = old + 1e-6
            up = loss.add_gradient(P, Q, rows, 0.5, np.zeros_like(P), np.zeros_like(Q))[0]
            array[index] = old - 1e-6
            down = loss.add_gradient(P, Q, rows, 0.5, np.zeros_like(P), np.zeros_like(Q))[0]
            array[index] = old
            assert abs((up - down) / 2e-6 - grad[index]) < 1e-5, index


def test_joint_epochs_lower_the_attack_loss_and_keep_fake_ratings_in_range(ml):
    targets = choose_targets(ml, "unpopular", 5, seed=1)
    threat = ThreatModel.for_data(ml, targets)
    view = AttackerView(ml, 0.4, seed=0)
    x, items = average_start(view, threat, np.random.default_rng(0))
    data = CoAttack._with_fakes(view, threat, items, x)
    model = MF(factors=32, valid_fraction=0.0)
    model.start(data, data, seed=0)
    model.train_epoch(data, seed=1)
    fakes = FakeRatings.of(data, threat.targets, model)
    start = fakes.values.copy()
    loss = AttackLoss(view.active_users, threat.targets, 0.2, 50)
    real = view.observed.normalized().coo()
    values = []
    for epoch in range(6):
        loss.refresh(model)
        values.append(joint_epoch(model, real, fakes, loss, seed=epoch))
    assert values[-1] < values[0]
    assert np.all((fakes.values >= fakes.low) & (fakes.values <= 1.0))
    assert np.array_equal(fakes.values[~fakes.free], start[~fakes.free])  # the targets stay at the maximum
    assert not np.array_equal(fakes.values, start)
