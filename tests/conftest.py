"""Shared fixtures. Real datasets are read from ``../shared/data`` beside the checkout."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real datasets; skips the test (saying where it looked) when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not present at {SHARED_DATA}")
    return SHARED_DATA


def _bpr_loss64(U, V, P, Q, triples, reg):
    """The mean BPR loss of the triples (users, positives, negatives) scored by ``U`` and
    ``V``, plus ``reg / 2`` of the mean squared rows of ``P`` and ``Q`` they touch, in float64."""
    users, pos, neg = triples
    margin = np.einsum("kd,kd->k", U[users], V[pos] - V[neg])
    l2 = (P[users] ** 2).sum(1) + (Q[pos] ** 2).sum(1) + (Q[neg] ** 2).sum(1)
    return np.mean(np.logaddexp(0.0, -margin)) + 0.5 * reg * np.mean(l2)


def _central_differences(loss, A, h=1e-6):
    grad = np.zeros_like(A)
    for idx in np.ndindex(A.shape):
        up, down = A.copy(), A.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (loss(up) - loss(down)) / (2 * h)
    return grad


def _gradient_check(loss, P, Q, dP, dQ):
    """Assert that ``dP`` and ``dQ`` are float64 ``loss(P, Q)``'s gradients by central
    differences, within 1 % (norm of the error against the norm of the gradient)."""
    for got, want in ((dP, _central_differences(lambda A: loss(A, Q), P)),
                      (dQ, _central_differences(lambda A: loss(P, A), Q))):
        assert np.linalg.norm(got - want) <= 0.01 * np.linalg.norm(want)


@pytest.fixture(scope="session")
def bpr_loss64():
    """The BPR loss reference (`_bpr_loss64`) of the BPR-trained models' gradient tests."""
    return _bpr_loss64


@pytest.fixture(scope="session")
def gradient_check():
    """`_gradient_check`: kernel gradients against float64 finite differences."""
    return _gradient_check
