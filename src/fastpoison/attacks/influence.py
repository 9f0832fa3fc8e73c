"""How injected users move the attacker's surrogate, in closed form (no retraining).

The surrogate MF (``r_hat = p_u . q_i`` on ratings / max) is read as the fixed point of
alternating ridge regressions. A fake user ``z`` rating items ``S_z`` with values ``x_z``
gets the embedding that fits those ratings,

    p_z = B_z^-1 Q_S^T W x_S,          B_z = Q_S^T W Q_S + ridge I,

where ``W`` weighs each item by how firmly its factor is anchored by real users,
``w_j = n_j / (n_j + n_fake)`` (``n_j`` its observed ratings): an item the fake users would
dominate follows them instead of pulling them towards the real users, so it counts for
little (without this, ascent favours obscure fillers that only fool the surrogate).

and each target ``t`` answers the injected users with one Newton step of its own ridge
problem, started from the trained ``q_t`` (the influence-function response):

    q_t' = A_t^-1 (H_t q_t + sum_z x_zt p_z),  A_t = H_t + sum_z p_z p_z^T,
    H_t = sum_{u rated t} p_u p_u^T + ridge I.

Attack objectives are functions of the real users' target scores ``s_ut = p_u . q_t'``;
`TargetResponse.gradient` differentiates them through both solves to every fake rating
``x_zj`` (for items outside ``S_z``: the derivative of adding ``j`` to the profile).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models.mf import MF
from .base import ThreatModel
from .knowledge import AttackerView


@dataclass(frozen=True)
class Objective:
    """What the attacker maximises over the real users' target scores ``s_ut``.

    ``"mean"``: the mean target score. ``"hinge"``: ``-mean max(s_u(K) - s_ut, -margin)``,
    the gap of each target to the user's K-th best item, ignored once ``margin`` above it.
    ``"log_hinge"``: the same on ``log sigmoid(s)`` (the TCD paper's eq. 3).
    ``user_weights`` (one per active user, default all 1) restricts or weights users.
    """

    kind: str = "hinge"
    margin: float = 0.1
    user_weights: np.ndarray | None = None

    def value_and_grad(self, scores: np.ndarray, kth: np.ndarray) -> tuple[float, np.ndarray]:
        """``(J, dJ/dscores)`` for scores ``[n_users, n_targets]``."""
        w = np.ones(scores.shape[0]) if self.user_weights is None else self.user_weights
        norm = max(float(w.sum()), 1e-12) * scores.shape[1]
        if self.kind == "mean":
            return float((w[:, None] * scores).sum() / norm), np.broadcast_to(w[:, None] / norm, scores.shape)
        if self.kind == "log_hinge":
            terms, d_scores, _ = log_hinge(scores, kth, self.margin)
        else:
            gap = kth[:, None] - scores
            terms, d_scores = np.maximum(gap, -self.margin), -(gap > -self.margin).astype(np.float64)
        value = -float((w[:, None] * terms).sum() / norm)
        return value, -d_scores * (w[:, None] / norm)


def log_hinge(scores: np.ndarray, kth: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The TCD paper's eq. 3 terms ``max(log sigmoid(kth_u) - log sigmoid(s_ut), -margin)`` for
    scores ``[n, T]`` against each row's K-th best score ``kth`` ``[n]``, and their
    derivatives in ``s_ut`` and in ``kth_u`` (both ``[n, T]``, zero where the term is flat)."""
    gap = np.logaddexp(0.0, -scores) - np.logaddexp(0.0, -kth)[:, None]
    active = gap > -margin
    return (np.maximum(gap, -margin), -(active / (1.0 + np.exp(scores))),
            active / (1.0 + np.exp(kth))[:, None])


class TargetResponse:
    """The surrogate's user and item factors, each target's ridge system, and each active
    user's K-th best score and item; `commit` makes injected users part of the baseline."""

    def __init__(self, view: AttackerView, threat: ThreatModel, *, ridge: float = 0.1,
                 model: MF | None = None) -> None:
        model = view.surrogate if model is None else model  # another model: its first users are the real ones
        P, Q, _, _ = model._factors()
        self.users = view.active_users
        self.P = P[self.users].astype(np.float64)
        self.Q = Q.astype(np.float64)
        self.targets = threat.targets
        self.ridge = ridge
        counts = view.item_counts.astype(np.float64)
        self.anchor = counts / (counts + threat.n_fake)
        d = self.Q.shape[1]
        csc = view.observed.csr.tocsc()
        self.A = np.empty((len(self.targets), d, d))
        self.c = np.empty((len(self.targets), d))
        for n, t in enumerate(self.targets):
            raters = csc.indices[csc.indptr[t]:csc.indptr[t + 1]]
            Pr = P[raters].astype(np.float64)
            self.A[n] = Pr.T @ Pr + ridge * np.eye(d)
            self.c[n] = self.A[n] @ self.Q[t]
        k = min(threat.top_k, view.n_items - 1)
        top = model.top_k(self.users, k)
        self.kth = top.scores[:, -1].astype(np.float64)
        self.kth_items = top.items[:, -1]

    def fit_users(self, items: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(p, B)``: embeddings ``[n, d]`` of users rating ``items`` ``[n, s]`` with
        normalised values ``x`` ``[n, s]``, and their ridge matrices ``[n, d, d]``."""
        Qs = self.Q[items]
        Qw = Qs * self.anchor[items][..., None]
        Qw_t = Qw.transpose(0, 2, 1)
        B = Qw_t @ Qs + self.ridge * np.eye(self.Q.shape[1])
        p = np.linalg.solve(B, Qw_t @ x[..., None])[..., 0]
        return p, B

    def respond(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(q', A')``: target factors ``[n_targets, d]`` and systems after injecting users
        with embeddings ``p`` ``[n, d]`` who rate every target the maximum."""
        A = self.A + (p.T @ p)[None]
        q = np.linalg.solve(A, (self.c + p.sum(axis=0)[None])[..., None])[..., 0]
        return q, A

    def value(self, p: np.ndarray, objective: Objective) -> float:
        """The objective after injecting users with embeddings ``p``."""
        q, _ = self.respond(p)
        return objective.value_and_grad(self.P @ q.T, self.kth)[0]

    def value_each(self, p: np.ndarray, objective: Objective, chunk: int = 128) -> np.ndarray:
        """The objective after injecting each user of ``p`` ``[n, d]`` on its own: ``[n]``."""
        out = np.empty(len(p))
        for a in range(0, len(p), chunk):
            pc = p[a:a + chunk]
            A = self.A[None] + np.einsum("zd,ze->zde", pc, pc)[:, None]           # [c, T, d, d]
            q = np.linalg.solve(A, (self.c[None] + pc[:, None])[..., None])[..., 0]  # [c, T, d]
            for k, qk in enumerate(q):
                out[a + k] = objective.value_and_grad(self.P @ qk.T, self.kth)[0]
        return out

    def gradient(self, items: np.ndarray, x: np.ndarray, objective: Objective) -> tuple[float, np.ndarray]:
        """``(J, dJ/dx)`` for users rating ``items`` with ``x`` (both ``[n, s]``); the
        gradient is ``[n, n_items]`` (zero on the targets)."""
        p, B = self.fit_users(items, x)
        q, A = self.respond(p)
        value, dS = objective.value_and_grad(self.P @ q.T, self.kth)
        g = dS.T @ self.P                                   # dJ/dq'_t            [T, d]
        v = np.linalg.solve(A, g[..., None])[..., 0]        # A_t^-1 g_t          [T, d]
        pq = p @ q.T                                        # p_z . q'_t          [n, T]
        pv = p @ v.T                                        # p_z . v_t           [n, T]
        dp = (1.0 - pq) @ v - pv @ q                        # dJ/dp_z             [n, d]
        w = np.linalg.solve(B, dp[..., None])[..., 0]       # B_z^-1 dJ/dp_z      [n, d]
        grad = (w @ self.Q.T) * self.anchor[None]
        grad[:, self.targets] = 0.0
        return value, grad

    def commit(self, p: np.ndarray) -> None:
        """Make users with embeddings ``p`` part of every later response."""
        self.A = self.A + (p.T @ p)[None]
        self.c = self.c + p.sum(axis=0)[None]


def profile_items(x: np.ndarray, targets: np.ndarray, n_filler: int) -> np.ndarray:
    """Per row of ``x``, the ``n_filler`` non-target items with the highest value (ties to the
    lower id) in ascending id order, followed by the targets: ``[n, n_filler + n_targets]``."""
    keyed = x.astype(np.float64, copy=True)
    keyed[:, targets] = -np.inf
    n, m = keyed.shape
    threshold = np.partition(keyed, m - n_filler, axis=1)[:, m - n_filler, None]
    above = keyed > threshold
    tied = keyed == threshold
    need = n_filler - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= need))
    best = np.nonzero(chosen)[1].reshape(n, n_filler)
    return np.concatenate([best, np.broadcast_to(targets, (n, targets.size))], axis=1)


def ascend_profiles(response: TargetResponse, x: np.ndarray, items: np.ndarray, threat: ThreatModel,
                    objective: Objective, *, steps: int, step_size: float,
                    low: float) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Projected gradient ascent from dense normalised ratings ``x`` ``[n, n_items]`` and
    profiles ``items`` ``[n, n_filler + n_targets]`` (targets last).

    Each step moves the rated values by at most ``step_size`` along the row-normalised
    gradient (clipped to ``[low, 1]``, targets held at 1), then re-selects each profile as
    the ``n_filler`` items with the highest rating in the fake user's dense vector: its own
    rating where it rates, elsewhere the surrogate's prediction ``p_z . q_j`` weighted by
    the item's anchoring, entering at that predicted value. Returns the final ``x``,
    ``items`` and the objective before each step.
    """
    x = x.copy()
    x[:, threat.targets] = 1.0
    trace = []
    for _ in range(steps):
        value, grad = response.gradient(items, np.take_along_axis(x, items, axis=1), objective)
        trace.append(value)
        rated = np.zeros(x.shape, dtype=bool)
        np.put_along_axis(rated, items, True, axis=1)
        step = step_size * grad / np.maximum(np.abs(grad).max(axis=1, keepdims=True), 1e-12)
        x = np.clip(np.where(rated, x + step, x), low, 1.0)
        x[:, threat.targets] = 1.0
        p, _ = response.fit_users(items, np.take_along_axis(x, items, axis=1))
        predicted = np.clip(p @ response.Q.T, low, 1.0)
        x = np.where(rated, x, predicted)
        items = profile_items(np.where(rated, x, response.anchor * predicted), threat.targets, threat.n_filler)
    return x, items, trace


def average_start(view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Dense normalised ratings and profiles of Average-attack users: random fillers, each
    rating drawn from its item's observed N(mean, std), clipped to the scale."""
    mean, std = view.item_stats
    high = view.scale.high
    x = np.clip(rng.normal(mean, std, size=(threat.n_fake, view.n_items)) / high, view.scale.low / high, 1.0)
    return x, profile_items(rng.random(x.shape), threat.targets, threat.n_filler)


def selection_of(items: np.ndarray, n_items: int) -> np.ndarray:
    """Selection scores that make `project_profiles` keep exactly ``items`` of each row."""
    select = np.full((items.shape[0], n_items), -np.inf, dtype=np.float32)
    np.put_along_axis(select, items, 1.0, axis=1)
    return select
