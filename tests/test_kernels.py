"""The C++ kernels against straightforward numpy references, and their input validation."""
from __future__ import annotations

import numpy as np
import pytest

from fastpoison import _core


def _mf_problem(n_users=7, n_items=9, n=60, d=8, seed=0):
    rng = np.random.default_rng(seed)
    pairs = rng.choice(n_users * n_items, size=n, replace=False)
    users, items = (pairs // n_items).astype(np.int32), (pairs % n_items).astype(np.int32)
    ratings = rng.uniform(0.2, 1.0, n).astype(np.float32)
    P = rng.normal(0, 0.3, (n_users, d)).astype(np.float32)
    Q = rng.normal(0, 0.3, (n_items, d)).astype(np.float32)
    bu = rng.normal(0, 0.1, n_users).astype(np.float32)
    bi = rng.normal(0, 0.1, n_items).astype(np.float32)
    return users, items, ratings, P, Q, bu, bi


def _sgd_reference(users, items, ratings, P, Q, bu, bi, mu, lr, reg, bias):
    P, Q, bu, bi = (a.astype(np.float64) for a in (P, Q, bu, bi))
    for u, i, r in zip(users, items, ratings):
        e = r - (P[u] @ Q[i] + (mu + bu[u] + bi[i] if bias else 0.0))
        if bias:
            bu[u] += lr * (e - reg * bu[u])
            bi[i] += lr * (e - reg * bi[i])
        P[u], Q[i] = P[u] + lr * (e * Q[i] - reg * P[u]), Q[i] + lr * (e * P[u] - reg * Q[i])
    return P, Q, bu, bi


# the kernels are specialised (fully unrolled) for d in {32, 64, 128}; other sizes take the
# generic path, with scalar tails when d is not a multiple of 8
FACTOR_SIZES = [4, 13, 32, 64, 128]


@pytest.mark.parametrize("d", FACTOR_SIZES)
@pytest.mark.parametrize("bias", [False, True])
def test_mf_sgd_matches_sequential_reference(bias, d):
    # fewer ratings than one shuffled block (256): the kernel visits them in order
    users, items, ratings, P, Q, bu, bi = _mf_problem(d=d)
    want = _sgd_reference(users, items, ratings, P, Q, bu, bi, 0.6, 0.05, 0.02, bias)
    sse = _core.mf_sgd_epoch(P, Q, bu, bi, 0.6, users, items, ratings, 0.05, 0.02, bias, 1, 3)
    for got, ref in zip((P, Q, bu, bi), want):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    assert sse > 0


def test_mf_sgd_single_thread_is_deterministic_and_learns():
    rng = np.random.default_rng(1)
    n_users, n_items, d = 300, 200, 8
    U, V = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    pairs = rng.choice(n_users * n_items, size=6000, replace=False)
    users, items = (pairs // n_items).astype(np.int32), (pairs % n_items).astype(np.int32)
    ratings = (0.5 + 0.1 * np.einsum("ij,ij->i", U[users], V[items])).astype(np.float32)

    def train(seed):
        P = np.full((n_users, d), 0.1, np.float32)
        Q = np.full((n_items, d), 0.1, np.float32)
        Q += np.linspace(-0.05, 0.05, n_items * d, dtype=np.float32).reshape(n_items, d)
        z = np.zeros(0, np.float32)
        losses = [_core.mf_sgd_epoch(P, Q, z, z, 0.0, users, items, ratings, 0.05, 0.001, False, 1, seed + e)
                  for e in range(15)]
        return P, Q, losses

    P1, Q1, l1 = train(0)
    P2, Q2, l2 = train(0)
    P3, _, _ = train(1)
    assert np.array_equal(P1, P2) and np.array_equal(Q1, Q2) and l1 == l2
    assert not np.array_equal(P1, P3)
    assert l1[-1] < 0.5 * l1[0]


def _adam_reference(param, g, lr, b1, b2, eps):
    """One Adam step from zero moments on the rows with a non-zero gradient."""
    m, v = (1 - b1) * g, (1 - b2) * g * g
    step = param - lr * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps)
    touched = np.any(g != 0, axis=1)
    return np.where(touched[:, None], step, param)


@pytest.mark.parametrize("frobenius", [False, True], ids=["mean-square", "frobenius"])
@pytest.mark.parametrize("d", FACTOR_SIZES)
def test_mf_adam_one_batch_matches_reference(d, frobenius):
    users, items, ratings, P, Q, bu, bi = _mf_problem(n=40, d=d)
    d, lr, b1, b2, eps = P.shape[1], 0.01, 0.9, 0.999, 1e-8
    reg = 0.05 * d
    # reference: loss = mean(e^2) (or sqrt(sum e^2)) + reg * (mean over entries of P[u]^2 + of Q[i]^2);
    # reg is large enough that the balance of the two terms decides the sign of some steps
    P64, Q64 = P.astype(np.float64), Q.astype(np.float64)
    e = np.einsum("ij,ij->i", P64[users], Q64[items]) - ratings
    B = len(ratings)
    scale = 1 / (2 * np.sqrt(np.sum(e**2))) if frobenius else 1 / B
    gP, gQ = np.zeros_like(P64), np.zeros_like(Q64)
    np.add.at(gP, users, 2 * e[:, None] * Q64[items] * scale + 2 * reg * P64[users] / (B * d))
    np.add.at(gQ, items, 2 * e[:, None] * P64[users] * scale + 2 * reg * Q64[items] / (B * d))
    want_P, want_Q = (_adam_reference(a, g, lr, b1, b2, eps) for a, g in ((P64, gP), (Q64, gQ)))
    other = 1 / B if frobenius else 1 / (2 * np.sqrt(np.sum(e**2)))
    gP_other = np.zeros_like(P64)
    np.add.at(gP_other, users, 2 * e[:, None] * Q64[items] * other + 2 * reg * P64[users] / (B * d))
    assert not np.allclose(_adam_reference(P64, gP_other, lr, b1, b2, eps), want_P, rtol=1e-4, atol=1e-6)
    moments = tuple(np.zeros_like(a) for a in (P, P, Q, Q, bu, bu, bi, bi))
    sse, step = _core.mf_adam_epoch(P, Q, bu, bi, 0.0, moments, users, items, ratings, 2048, reg, lr, b1, b2, eps,
                                    0, False, 1, 0, frobenius=frobenius)
    assert step == 1
    np.testing.assert_allclose(sse, np.sum(e**2), rtol=1e-5)
    np.testing.assert_allclose(P, want_P, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(Q, want_Q, rtol=1e-4, atol=1e-6)


def _nsvd_one_user(d):
    """One user rating items 1, 3, 4 of 6 (so each rated item has n_i = 1): (items, vals, indptr, Y, Q)."""
    rng = np.random.default_rng(2)
    items = np.array([1, 3, 4], np.int32)
    vals = np.array([0.8, 0.4, 1.0], np.float32)
    indptr = np.array([0, 3], np.int64)
    Y = rng.normal(0, 0.3, (6, d)).astype(np.float32)
    Q = rng.normal(0, 0.3, (6, d)).astype(np.float32)
    return items, vals, indptr, Y, Q


@pytest.mark.parametrize("d", FACTOR_SIZES)
@pytest.mark.parametrize("item_reg", [0.0, 0.5])
def test_nsvd_sgd_matches_reference_for_one_user(item_reg, d):
    # n_i = 1, so each rated item's prior weight is item_reg / n_i = item_reg
    items, vals, indptr, Y, Q = _nsvd_one_user(d)
    z = np.zeros(0, np.float32)
    lr, reg = 0.1, 0.01
    Yr, Qr = Y.astype(np.float64), Q.astype(np.float64)
    norm = 1 / np.sqrt(3)
    p = norm * Yr[items].sum(0)
    g = np.zeros(d)
    for i, r in zip(items, vals):
        e = r - p @ Qr[i]
        g += e * Qr[i]
        Qr[i] += lr * (e * p - (reg + item_reg) * Qr[i])
    Yr[items] += lr * (norm * g - reg * Yr[items])
    _core.nsvd_sgd_epoch(Y, Q, z, z, 0.0, indptr, items, vals, lr, reg, False, 1, 0, item_reg)
    np.testing.assert_allclose(Q, Qr, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(Y, Yr, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("d", FACTOR_SIZES)
def test_nsvd_adam_one_batch_matches_reference(d):
    # loss (1/B) sum_i [e_i^2 + (reg/d)(|p|^2 + |q_i|^2) + item_reg |q_i|^2], p = |N|^-1/2 sum_j y_j
    items, vals, indptr, Y, Q = _nsvd_one_user(d)
    reg, item_reg, lr, b1, b2, eps = 0.01, 0.5, 0.01, 0.9, 0.999, 1e-8
    Yr, Qr = Y.astype(np.float64), Q.astype(np.float64)
    B, norm = len(items), 1 / np.sqrt(len(items))
    p = norm * Yr[items].sum(0)
    e = Qr[items] @ p - vals
    gQ, gY = np.zeros_like(Qr), np.zeros_like(Yr)
    gQ[items] = 2 * e[:, None] * p / B + (2 * reg / (B * d) + 2 * item_reg / B) * Qr[items]
    gp = (2 * e[:, None] * Qr[items]).sum(0) / B + B * 2 * reg * p / (B * d)
    gY[items] = norm * gp
    z = np.zeros(0, np.float32)
    moments = tuple(np.zeros_like(a) for a in (Y, Y, Q, Q)) + (z, z, z, z)
    sse, step = _core.nsvd_adam_epoch(Y, Q, z, z, 0.0, moments, indptr, items, vals, 2048, reg, lr, b1, b2, eps, 0,
                                      False, 1, 0, item_reg)
    assert step == 1
    np.testing.assert_allclose(sse, np.sum(e**2), rtol=1e-5)
    np.testing.assert_allclose(Q, _adam_reference(Qr, gQ, lr, b1, b2, eps), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(Y, _adam_reference(Yr, gY, lr, b1, b2, eps), rtol=1e-4, atol=1e-6)


def test_topk_masks_seen_and_breaks_ties_by_item_id():
    scores = np.array([[0.5, 0.9, 0.9, 0.1, 0.7], [0.3, 0.2, 0.1, 0.0, -1.0]], np.float32)
    indptr = np.array([0, 1, 4], np.int64)
    indices = np.array([1, 0, 1, 2], np.int32)  # user 0 saw item 1; user 1 saw items 0..2
    users = np.array([0, 1], np.int32)
    _core.mask_seen(scores, users, indptr, indices, 1)
    items, top = _core.topk_rows(scores, 3, 1)
    assert items.tolist() == [[2, 4, 0], [3, 4, -1]]
    assert top[1, 2] == -np.inf
    ranks = _core.rank_items(scores, np.array([[0, 1], [4, 0]], np.int32), 1)
    assert ranks.tolist() == [[3, -1], [2, -1]]


def test_topk_agrees_with_numpy_sort():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 20, size=(50, 300)).astype(np.float32)  # many ties
    items, top = _core.topk_rows(scores, 25, 2)
    for row, got in zip(scores, items):
        want = np.lexsort((np.arange(len(row)), -row))[:25]
        assert got.tolist() == want.tolist()


def _top_k_reference(row: np.ndarray, k: int) -> list[int]:
    """The k best scored items of a row (ties: lower id), -1 padded: numpy's sort."""
    scored = np.flatnonzero(row > -np.inf)  # NaN and -inf never rank
    order = scored[np.lexsort((scored, -row[scored]))][:k]
    return order.tolist() + [-1] * (k - len(order))


@pytest.mark.parametrize("k", [1, 50, 500, 625])
@pytest.mark.parametrize("rows_of", ["normal", "ties", "ascending", "masked", "nan"])
def test_topk_of_wide_rows_agrees_with_numpy_sort(k, rows_of):
    # Rows of 5,000 items take the sampled-threshold path (and the heap when it misjudges).
    rng = np.random.default_rng(k)
    scores = rng.standard_normal((6, 5000)).astype(np.float32)
    if rows_of == "ties":
        scores = rng.integers(0, 40, scores.shape).astype(np.float32)
    elif rows_of == "ascending":
        scores = np.sort(scores, axis=1)
    elif rows_of == "masked":
        scores[rng.random(scores.shape) < np.array([0.0, 0.5, 0.9, 0.99, 0.999, 1.0])[:, None]] = -np.inf
    elif rows_of == "nan":
        scores[rng.random(scores.shape) < 0.3] = np.nan
    items, top = _core.topk_rows(scores, k, 2)
    for row, got, got_scores in zip(scores, items, top):
        want = _top_k_reference(row, k)
        assert got.tolist() == want
        assert got_scores.tolist() == [row[i] if i >= 0 else -np.inf for i in want]


def test_topk_is_exact_when_the_sampled_threshold_is_too_high():
    # Every 4th score (the sampled ones, at this width) is large: fewer than k reach the threshold.
    scores = np.random.default_rng(0).standard_normal((2, 4096)).astype(np.float32)
    scores[:, ::4] += 100.0
    items, _ = _core.topk_rows(scores, 300, 1)
    for row, got in zip(scores, items):
        assert got.tolist() == _top_k_reference(row, 300)


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a.update(users=a["users"].astype(np.int64)), "users must have dtype int32"),
    (lambda a: a.update(P=a["P"].astype(np.float64)), "P must have dtype float32"),
    (lambda a: a.update(P=np.asfortranarray(a["P"])), "C-contiguous"),
    (lambda a: a["users"].__setitem__(3, 7), "outside"),
    (lambda a: a["items"].__setitem__(0, -1), "outside"),
    (lambda a: a["users"].__setitem__(5, np.iinfo(np.int32).min), r"users\[5\] = -2147483648 is outside"),
    (lambda a: a.update(ratings=a["ratings"][:-1].copy()), "ratings has shape"),
    (lambda a: a.update(Q=a["Q"][:, :3].copy()), "Q has shape"),
    (lambda a: a.update(lr=-1.0), "lr must be > 0"),
])
def test_mf_kernel_rejects_bad_input(mutate, message):
    users, items, ratings, P, Q, bu, bi = _mf_problem()
    args = dict(P=P, Q=Q, bu=bu, bi=bi, mu=0.0, users=users, items=items, ratings=ratings, lr=0.01, reg=0.0,
                bias=True, n_threads=1, seed=0)
    mutate(args)
    with pytest.raises(ValueError, match=message):
        _core.mf_sgd_epoch(**args)


def test_nsvd_kernel_rejects_bad_csr():
    Y = np.zeros((4, 2), np.float32)
    z = np.zeros(0, np.float32)
    with pytest.raises(ValueError, match="indptr"):
        _core.nsvd_sgd_epoch(Y, Y.copy(), z, z, 0.0, np.array([0, 3, 2], np.int64), np.array([0, 1], np.int32),
                             np.ones(2, np.float32), 0.1, 0.0, False, 1, 0)
    with pytest.raises(ValueError, match="outside"):
        _core.nsvd_sgd_epoch(Y, Y.copy(), z, z, 0.0, np.array([0, 2], np.int64), np.array([0, 9], np.int32),
                             np.ones(2, np.float32), 0.1, 0.0, False, 1, 0)


def test_scoring_kernels_reject_bad_input():
    s = np.zeros((2, 5), np.float32)
    with pytest.raises(ValueError, match="k must be"):
        _core.topk_rows(s, 0, 1)
    with pytest.raises(ValueError, match="query"):
        _core.rank_items(s, np.array([[5], [0]], np.int32), 1)
    with pytest.raises(ValueError, match="users must be <"):
        _core.mask_seen(s, np.array([0, 3], np.int32), np.array([0, 0, 0], np.int64), np.zeros(0, np.int32), 1)


def test_nsvd_kernel_rejects_negative_item_reg():
    Y = np.zeros((4, 2), np.float32)
    z = np.zeros(0, np.float32)
    with pytest.raises(ValueError, match="item_reg"):
        _core.nsvd_sgd_epoch(Y, Y.copy(), z, z, 0.0, np.array([0, 2], np.int64), np.array([0, 1], np.int32),
                             np.ones(2, np.float32), 0.1, 0.0, False, 1, 0, -1.0)


@pytest.mark.parametrize("d", FACTOR_SIZES)
def test_mf_adam_row_perturbation_matches_reference(d):
    # APR as He et al.: per mini-batch, each touched row is perturbed by eps times its normalised
    # gradient of the batch's squared error; the loss adds weight * the perturbed squared error.
    users, items, ratings, P, Q, bu, bi = _mf_problem(n=40, d=d)
    d, reg, lr, b1, b2, eps, size, weight = P.shape[1], 0.01, 0.01, 0.9, 0.999, 1e-8, 0.3, 0.7
    P64, Q64 = P.astype(np.float64), Q.astype(np.float64)
    B = len(ratings)
    e = np.einsum("ij,ij->i", P64[users], Q64[items]) - ratings
    gP, gQ = np.zeros_like(P64), np.zeros_like(Q64)
    np.add.at(gP, users, 2 * e[:, None] * Q64[items] / B)
    np.add.at(gQ, items, 2 * e[:, None] * P64[users] / B)
    norm = lambda g: size * g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-30)  # noqa: E731
    dP, dQ = norm(gP), norm(gQ)
    pu, qi = P64[users] + dP[users], Q64[items] + dQ[items]
    e_adv = np.einsum("ij,ij->i", pu, qi) - ratings
    gP, gQ = np.zeros_like(P64), np.zeros_like(Q64)
    np.add.at(gP, users, 2 * (e[:, None] * Q64[items] + weight * e_adv[:, None] * qi) / B
              + 2 * reg * P64[users] / (B * d))
    np.add.at(gQ, items, 2 * (e[:, None] * P64[users] + weight * e_adv[:, None] * pu) / B
              + 2 * reg * Q64[items] / (B * d))
    want_P, want_Q = (_adam_reference(a, g, lr, b1, b2, eps) for a, g in ((P64, gP), (Q64, gQ)))
    for other in (1, 0):  # the per-rating perturbation and none move P otherwise
        Po, moments = P.copy(), tuple(np.zeros_like(a) for a in (P, P, Q, Q, bu, bu, bi, bi))
        _core.mf_adam_epoch(Po, Q.copy(), bu, bi, 0.0, moments, users, items, ratings, 2048, reg, lr, b1, b2, eps, 0,
                            False, 1, 0, perturbation=other, perturbation_size=size, perturbation_weight=weight)
        assert not np.allclose(Po, want_P, rtol=1e-4, atol=1e-6)
    moments = tuple(np.zeros_like(a) for a in (P, P, Q, Q, bu, bu, bi, bi))
    _core.mf_adam_epoch(P, Q, bu, bi, 0.0, moments, users, items, ratings, 2048, reg, lr, b1, b2, eps, 0, False, 1, 0,
                        perturbation=3, perturbation_size=size, perturbation_weight=weight)
    np.testing.assert_allclose(P, want_P, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(Q, want_Q, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="Adam"):
        _core.mf_sgd_epoch(P, Q, bu, bi, 0.0, users, items, ratings, 0.01, 0.0, False, 1, 0, perturbation=3,
                           perturbation_size=size, perturbation_weight=weight)


def test_absurd_thread_counts_are_clamped_not_fatal():
    # Adam updates more than 256 touched rows in parallel: 100,000 threads once crashed here.
    users, items, ratings, P, Q, bu, bi = _mf_problem(n_users=600, n_items=50, n=6000)
    out = []
    for threads in (1, 100_000):
        Pt, moments = P.copy(), tuple(np.zeros_like(a) for a in (P, P, Q, Q, bu, bu, bi, bi))
        _core.mf_adam_epoch(Pt, Q.copy(), bu, bi, 0.0, moments, users, items, ratings, 8192, 0.01, 0.01, 0.9, 0.999,
                            1e-8, 0, False, threads, 0)
        out.append(Pt)
    np.testing.assert_array_equal(out[0], out[1])  # rows are independent: any thread count, same result
