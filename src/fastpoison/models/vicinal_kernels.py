"""numba kernels of RVD's fine-tuning of an auto-encoder (see
`AutoEncoderModel.vicinal_top_k`), in float32.

The fine-tuned weights are an `Overlay` on the base model's: every weight is stored divided
by the scale ``s``, the product of the ``keep`` shrinks applied so far, so a step's shrink of
*all* weights is one scalar update and a row no step has updated equals its base row. Such
a row is copied into the overlay the first time a step reads it, by a pass over the step's
items before its arithmetic (`_own_rows`; ``*_own`` flags say which rows the overlay
holds). The touched items have local ids ``0..n-1``, ``items`` their global ids.

Batches come item-major (`item_major`): item ``i``'s entries are ``ptr[i]:ptr[i + 1]`` of
``(rows, vals)``, ``rows`` being batch rows. A step then reads and writes each of its items'
decoder and encoder rows once, and updates them in place, with no gradient arrays.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from .dae_kernels import output_delta


class Overlay(NamedTuple):
    """The fine-tuned weights divided by the scale: rows ``E[i]``, ``D[i]`` of local item
    ``i`` (valid where ``E_own[i]``, ``D_own[i]``), ``c`` [n], ``b``, ``U`` (the neighbours'
    user rows, local ids; ``[0, hidden]`` without a user node)."""

    E: np.ndarray
    E_own: np.ndarray
    D: np.ndarray
    D_own: np.ndarray
    c: np.ndarray
    b: np.ndarray
    U: np.ndarray


class Base(NamedTuple):
    """The base model's encoder and decoder, and the global id of each local item."""

    E: np.ndarray
    D: np.ndarray
    items: np.ndarray


@njit(cache=True, nogil=True)
def item_major(ptr, idx, val, item_id, n_local):
    """The CSR ``(ptr, idx, val)`` (global item ids, ``item_id`` maps them to local ids
    ``< n_local``) as item-major ``(ptr, rows, vals)``; an item's entries keep row order."""
    out_ptr = np.zeros(n_local + 1, np.int64)
    for j in range(idx.shape[0]):
        out_ptr[item_id[idx[j]] + 1] += 1
    for i in range(n_local):
        out_ptr[i + 1] += out_ptr[i]
    fill = out_ptr[:-1].copy()
    rows = np.empty(idx.shape[0], np.int32)
    vals = np.empty(idx.shape[0], np.float32)
    for r in range(ptr.shape[0] - 1):
        for j in range(ptr[r], ptr[r + 1]):
            i = item_id[idx[j]]
            rows[fill[i]] = r
            vals[fill[i]] = val[j]
            fill[i] += 1
    return out_ptr, rows, vals


@njit(cache=True, fastmath=True, nogil=True)
def _own_rows(rows, own, base, items, ptr, other_ptr):
    """Copies into the overlay (``rows``, flags ``own``) the base row of each local item with
    entries in ``ptr`` or ``other_ptr`` (item-major pointers) that it does not hold yet. Done in
    a pass of its own: a copy inside a step's loop keeps that loop from vectorising (the
    decoder's pass ran 2x slower at 50 hidden units)."""
    for i in range(ptr.shape[0] - 1):
        if not own[i] and (ptr[i] != ptr[i + 1] or other_ptr[i] != other_ptr[i + 1]):
            src = base[items[i]]
            row = rows[i]
            for k in range(row.shape[0]):
                row[k] = src[k]
            own[i] = True


@njit(cache=True, fastmath=True, nogil=True)
def _decode(targets, Z, dZ, ov, base, s, step, out_sigmoid, log_loss):
    """Output errors of every target at scale ``s`` (the derivative of `loss_grad`'s loss);
    adds ``delta * D[i] / s`` to ``dZ``'s rows, then moves each target item's decoder row and
    bias by ``-step`` times their gradient."""
    ptr, rows, vals = targets
    h = Z.shape[1]
    _own_rows(ov.D, ov.D_own, base.D, base.items, ptr, ptr)
    deltas = np.empty(rows.shape[0], np.float32)
    for i in range(ptr.shape[0] - 1):
        if ptr[i] == ptr[i + 1]:
            continue
        d = ov.D[i]
        gc = np.float32(0.0)
        for j in range(ptr[i], ptr[i + 1]):
            z, dz = Z[rows[j]], dZ[rows[j]]
            e = deltas[j] = output_delta(s * (_dot(d, z) + ov.c[i]), vals[j], out_sigmoid, log_loss)
            gc += e
            for k in range(h):
                dz[k] += e * d[k]
        ov.c[i] -= step * gc
        for j in range(ptr[i], ptr[i + 1]):  # only now: the loop above reads the row before the step
            z, e = Z[rows[j]], step * deltas[j]
            for k in range(h):
                d[k] -= e * z[k]


@njit(cache=True, fastmath=True, nogil=True)
def _hidden_error(Z, dZ, users, ov, s, step):
    """``dZ = s * dZ * Z (1 - Z)`` (the pre-activation gradient), then moves ``b`` and the
    rows ``users`` of ``U`` by ``-step`` times their gradient."""
    one = np.float32(1.0)
    for r in range(Z.shape[0]):
        z, dz = Z[r], dZ[r]
        for k in range(Z.shape[1]):
            dz[k] *= s * z[k] * (one - z[k])
            ov.b[k] -= step * dz[k]
        if ov.U.shape[0] > 0:
            u = ov.U[users[r]]
            for k in range(Z.shape[1]):
                u[k] -= step * dz[k]


@njit(cache=True, fastmath=True, nogil=True)
def input_sums(inputs, dZ, next_inputs, next_users, pre, ov, base, step):
    """The encoder pass: moves each item's encoder row by ``-step`` times its gradient from
    ``inputs`` and ``dZ`` (none for items without such entries), then sets ``pre`` to the
    pre-activations of ``next_inputs`` (row ``r``'s user ``next_users[r]``) divided by the scale."""
    g_ptr, g_rows, g_vals = inputs
    n_ptr, n_rows, n_vals = next_inputs
    h = pre.shape[1]
    for r in range(pre.shape[0]):
        for k in range(h):
            pre[r, k] = ov.b[k]
        if ov.U.shape[0] > 0:
            for k in range(h):
                pre[r, k] += ov.U[next_users[r], k]
    _own_rows(ov.E, ov.E_own, base.E, base.items, g_ptr, n_ptr)
    for i in range(g_ptr.shape[0] - 1):
        if g_ptr[i] == g_ptr[i + 1] and n_ptr[i] == n_ptr[i + 1]:
            continue
        e = ov.E[i]
        for j in range(g_ptr[i], g_ptr[i + 1]):
            x, dz = step * g_vals[j], dZ[g_rows[j]]
            for k in range(h):
                e[k] -= x * dz[k]
        for j in range(n_ptr[i], n_ptr[i + 1]):
            x, p = n_vals[j], pre[n_rows[j]]
            for k in range(h):
                p[k] += x * e[k]


@njit(cache=True, fastmath=True, nogil=True)
def vicinal_step(targets, inputs, users, Z, next_inputs, next_users, next_pre, ov, base, s, step, out_sigmoid,
                 log_loss):
    """One full-batch SGD step of the overlay at scale ``s`` on a batch (item-major
    ``targets`` and ``inputs``, row ``r``'s local user ``users[r]``, hidden layer ``Z``);
    ``step`` is ``lr`` over the scale after the step. Sets ``next_pre`` as `input_sums`.
    Computes no loss (the fine-tune needs none)."""
    dZ = np.zeros_like(Z)
    _decode(targets, Z, dZ, ov, base, s, step, out_sigmoid, log_loss)
    _hidden_error(Z, dZ, users, ov, s, step)
    input_sums(inputs, dZ, next_inputs, next_users, next_pre, ov, base, step)


@njit(cache=True, fastmath=True, nogil=True)
def vicinal_scores(D, c, h, ov, base, out):
    """``out[j] = D[j] . h + c[j]`` for every item ``j``, the overlay's row and bias instead of
    the base model's ``D``, ``c`` where it holds one (one pass over the decoder)."""
    for j in range(D.shape[0]):
        out[j] = _dot(D[j], h) + c[j]
    for i in range(ov.D_own.shape[0]):
        if ov.D_own[i]:
            out[base.items[i]] = _dot(ov.D[i], h) + ov.c[i]


@njit(cache=True, fastmath=True, nogil=True)
def _dot(x, y):
    """``x . y`` in float32 (vectorised: fastmath lets the sum reassociate)."""
    a = np.float32(0.0)
    for k in range(x.shape[0]):
        a += x[k] * y[k]
    return a
