"""numba kernels of the auto-encoder victims (AutoRec, CDAE), generic over float32/float64.

A batch is given as CSR arrays: the *input* entries of batch row ``r`` are CSR row
``rows[r]`` of ``(in_ptr, in_idx, in_val)``, its *target* entries the same row of
``(t_ptr, t_idx, t_val)``; ``users[r]`` picks the row of the per-user input node ``U``
(an empty ``U`` means no user node) and of its gradient ``gU``. Item ``i``'s encoder weights are ``E[i]`` (the
columns of the paper's W), its decoder weights ``D[i]``; only the rows of items that
occur in the batch are read or written, so the cost is O(entries x hidden).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, fastmath=True, nogil=True)
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, fastmath=True, nogil=True)
def _encode(row, user, in_ptr, in_idx, in_val, E, b, U, out):
    """``out = sigmoid(sum_j in_val[j] E[in_idx[j]] + b (+ U[user]))`` over CSR row ``row``."""
    h = out.shape[0]
    for k in range(h):
        out[k] = b[k]
    if U.shape[0] > 0:
        for k in range(h):
            out[k] += U[user, k]
    for j in range(in_ptr[row], in_ptr[row + 1]):
        w = in_val[j]
        e = E[in_idx[j]]
        for k in range(h):
            out[k] += w * e[k]
    for k in range(h):
        out[k] = _sigmoid(out[k])


@njit(cache=True, fastmath=True, nogil=True)
def hidden_layer(rows, users, in_ptr, in_idx, in_val, E, b, U, out):
    """The hidden layer of every batch row, into ``out`` [len(rows), hidden]."""
    for r in range(rows.shape[0]):
        _encode(rows[r], users[r], in_ptr, in_idx, in_val, E, b, U, out[r])


@njit(cache=True, fastmath=True, nogil=True)
def output_error(a, t, out_sigmoid, log_loss):
    """``(loss, d loss / d a)`` of one target ``t`` at output score ``a`` (see `loss_grad`)."""
    if log_loss:  # softplus(a) - t a, and sigmoid(a), from one exp(-|a|)
        e = math.exp(-abs(a))
        return max(a, 0.0) + math.log1p(e) - t * a, (1.0 if a >= 0 else e) / (1.0 + e) - t
    if out_sigmoid:
        y = _sigmoid(a)
        return (y - t) * (y - t), 2.0 * (y - t) * y * (1.0 - y)
    return (a - t) * (a - t), 2.0 * (a - t)


@njit(cache=True, fastmath=True, nogil=True)
def output_delta(a, t, out_sigmoid, log_loss):
    """``d loss / d a`` of `output_error` alone, for steps that need no loss (no log1p)."""
    if log_loss:
        e = math.exp(-abs(a))
        return (1.0 if a >= 0 else e) / (1.0 + e) - t
    if out_sigmoid:
        y = _sigmoid(a)
        return 2.0 * (y - t) * y * (1.0 - y)
    return 2.0 * (a - t)


@njit(cache=True, fastmath=True, nogil=True)
def loss_grad(rows, users, in_ptr, in_idx, in_val, t_ptr, t_idx, t_val, E, b, D, c, U, out_sigmoid, log_loss,
              gE, gb, gD, gc, gU):
    """Data loss of a batch, its gradients *added* to ``gE, gb, gD, gc, gU``.

    Output ``a = D[i] . h + c[i]``, ``y = sigmoid(a)`` if ``out_sigmoid`` else ``a``. Loss per
    target entry ``t``: ``(y - t)^2``, or with ``log_loss`` (sigmoid output)
    ``-t log y - (1 - t) log(1 - y)``. Returns the summed loss (float64).
    """
    h = E.shape[1]
    z = np.empty(h, E.dtype)
    dz = np.empty(h, E.dtype)
    delta = np.empty(1, E.dtype)  # the output error in the parameters' precision
    loss = 0.0
    for r in range(rows.shape[0]):
        row = rows[r]
        _encode(row, users[r], in_ptr, in_idx, in_val, E, b, U, z)
        for k in range(h):
            dz[k] = 0.0
        for j in range(t_ptr[row], t_ptr[row + 1]):
            i = t_idx[j]
            t = t_val[j]
            d = D[i]
            a = c[i]
            for k in range(h):
                a += d[k] * z[k]
            err, d_out = output_error(a, t, out_sigmoid, log_loss)
            loss += err
            delta[0] = d_out
            g = delta[0]
            gc[i] += g
            gd = gD[i]
            for k in range(h):
                gd[k] += g * z[k]
                dz[k] += g * d[k]
        for k in range(h):
            dz[k] *= z[k] * (1.0 - z[k])
            gb[k] += dz[k]
        if U.shape[0] > 0:
            for k in range(h):
                gU[users[r], k] += dz[k]
        for j in range(in_ptr[row], in_ptr[row + 1]):
            w = in_val[j]
            ge = gE[in_idx[j]]
            for k in range(h):
                ge[k] += w * dz[k]
    return loss


@njit(cache=True, fastmath=True, nogil=True)
def add_scaled(g, a, p):
    """``g += a * p`` over flat arrays; returns ``|p|^2`` (float64)."""
    sq = 0.0
    for k in range(p.shape[0]):
        g[k] += a * p[k]
        sq += p[k] * p[k]
    return sq


@njit(cache=True, fastmath=True, nogil=True)
def sgd_step(p, g, lr, keep):
    """``p = keep * p - lr * g`` over flat arrays, then ``g = 0``."""
    for k in range(p.shape[0]):
        p[k] = keep * p[k] - lr * g[k]
        g[k] = 0.0


@njit(cache=True, fastmath=True, nogil=True)
def adam_step(p, g, m, v, lr_t, beta1, beta2, eps):
    """One Adam update of flat arrays (``lr_t`` includes the bias corrections), then ``g = 0``."""
    for k in range(p.shape[0]):
        gk = g[k]
        m[k] = beta1 * m[k] + (1.0 - beta1) * gk
        v[k] = beta2 * v[k] + (1.0 - beta2) * gk * gk
        p[k] -= lr_t * m[k] / (math.sqrt(v[k]) + eps)
        g[k] = 0.0


@njit(cache=True, fastmath=True, nogil=True)
def adam_rows(p, g, m, v, rows, lr_t, beta1, beta2, eps):
    """Adam on rows ``rows`` (distinct) of 2-d arrays only (lazy Adam), zeroing those rows of ``g``."""
    for r in range(rows.shape[0]):
        x = rows[r]
        adam_step(p[x], g[x], m[x], v[x], lr_t, beta1, beta2, eps)


@njit(cache=True, nogil=True)
def corrupt_and_sample(users, indptr, indices, n_items, corruption, negative_ratio, seed):
    """CDAE's batch for ``users`` (rows of the CSR ``indptr, indices``).

    Input: each rated item kept with probability ``1 - corruption``, valued ``1 / (1 - corruption)``.
    Target: every rated item (1) and ``round(negative_ratio * n_rated)`` items drawn uniformly
    from the unrated ones, with replacement (0). Returns batch-local CSRs
    ``(in_ptr, in_idx, in_val, t_ptr, t_idx, t_val)``; the draws depend on ``seed`` only.
    """
    np.random.seed(seed)
    n = users.shape[0]
    n_pos = 0
    n_neg = 0
    for r in range(n):
        cnt = indptr[users[r] + 1] - indptr[users[r]]
        n_pos += cnt
        if cnt < n_items:
            n_neg += int(negative_ratio * cnt + 0.5)
    in_ptr = np.zeros(n + 1, np.int64)
    in_idx = np.empty(n_pos, np.int32)
    in_val = np.empty(n_pos, np.float32)
    t_ptr = np.zeros(n + 1, np.int64)
    t_idx = np.empty(n_pos + n_neg, np.int32)
    t_val = np.empty(n_pos + n_neg, np.float32)
    kept_value = 1.0 / (1.0 - corruption)
    rated = np.zeros(n_items, np.bool_)  # the current user's items (a binary search was 3x slower)
    a = 0
    t = 0
    for r in range(n):
        row = indices[indptr[users[r]]:indptr[users[r] + 1]]
        for x in row:
            rated[x] = True
            if np.random.random() >= corruption:
                in_idx[a] = x
                in_val[a] = kept_value
                a += 1
            t_idx[t] = x
            t_val[t] = 1.0
            t += 1
        if row.shape[0] < n_items:
            for _ in range(int(negative_ratio * row.shape[0] + 0.5)):
                x = np.random.randint(0, n_items)
                while rated[x]:
                    x = np.random.randint(0, n_items)
                t_idx[t] = x
                t_val[t] = 0.0
                t += 1
        for x in row:
            rated[x] = False
        in_ptr[r + 1] = a
        t_ptr[r + 1] = t
    return in_ptr, in_idx[:a], in_val[:a], t_ptr, t_idx[:t], t_val[:t]
