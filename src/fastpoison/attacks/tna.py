"""TNA, the S-TNA variant (Fang, Gong & Liu 2020): promote the targets into the top-K lists
of the most influential subset of users.

Objective: ``-mean max(s_u(K) - s_ut, -margin)`` over the subset ``S`` of users the attacker
sees (hinge on each target's gap to the user's K-th best item, K = the threat model's
top-K), in the surrogate MF and through `influence.TargetResponse`. Profiles are optimised
by `influence.ascend_profiles` from Average-attack users.

``S`` is the ``user_share`` of users chosen by ``select``:

- ``"influence"`` (the default, Fang et al.'s influence function, approximated): the first-order
  change of the objective over all users if a user's observed ratings were removed, in the
  surrogate read as alternating ridge regressions (the Hessian block-diagonal per item, user
  factors held fixed): removing rating ``r_uj`` moves ``q_j`` by ``-A_j^-1 p_u e_uj``
  (``A_j = sum_(v rated j) p_v p_v^T + ridge I``, ``e_uj`` the residual), so user ``u``'s
  influence is ``-sum_j e_uj p_u . A_j^-1 dJ/dq_j`` over the items the objective reads (the
  targets and the users' K-th items). The users of largest absolute influence form ``S``;
  Fang et al. pick them greedily over a fuller Hessian.
- ``"effort"`` (ours, a heuristic): the users whose gaps are cheapest to close, i.e. with the
  smallest mean gap divided by ``|p_u|`` (the distance the target factors must move).
"""
from __future__ import annotations

import numpy as np

from .base import Attack, ThreatModel
from .influence import Objective, TargetResponse, ascend_profiles, average_start, selection_of
from .knowledge import AttackerView

#: How the influential subset is chosen (see the module docstring).
SELECTIONS = ("influence", "effort")


def influence_of_users(view: AttackerView, response: TargetResponse, objective: Objective) -> np.ndarray:
    """Per active user of ``response``, the first-order change of ``objective`` (a hinge) if
    its observed ratings were removed (see the module docstring)."""
    P_all = view.surrogate._factors()[0].astype(np.float64)
    P, Q, targets = response.P, response.Q, response.targets
    _, d_scores = objective.value_and_grad(P @ Q[targets].T, response.kth)
    grad_q = np.zeros_like(Q)                       # dJ/dq_j           [n_items, d]
    grad_q[targets] += d_scores.T @ P
    np.add.at(grad_q, response.kth_items, -d_scores.sum(axis=1)[:, None] * P)  # the hinge reads kth - s
    read = np.flatnonzero(np.abs(grad_q).sum(axis=1) > 0)
    users, items, ratings = view.observed.normalized().coo()
    csc = view.observed.csr.tocsc()
    w = np.zeros_like(Q)                            # A_j^-1 dJ/dq_j
    for j in read:
        raters = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        A = P_all[raters].T @ P_all[raters] + response.ridge * np.eye(Q.shape[1])
        w[j] = np.linalg.solve(A, grad_q[j])
    on = np.isin(items, read)
    u, j, r = users[on], items[on], ratings[on]
    residual = r - np.einsum("nd,nd->n", P_all[u], Q[j])
    per_user = np.bincount(u, weights=-residual * np.einsum("nd,nd->n", P_all[u], w[j]), minlength=P_all.shape[0])
    return per_user[response.users]


class TNAAttack(Attack):
    name = "tna"

    def __init__(self, user_share: float = 0.5, steps: int = 30, step_size: float = 0.1, margin: float = 0.1,
                 ridge: float = 0.1, select: str = "influence") -> None:
        if not 0 < user_share <= 1:
            raise ValueError("user_share must lie in (0, 1]")
        if select not in SELECTIONS:
            raise ValueError(f"select must be one of {', '.join(SELECTIONS)}, not {select!r}")
        self.user_share, self.steps, self.step_size, self.margin, self.ridge = user_share, steps, step_size, margin, ridge
        self.select = select

    def influential_users(self, view: AttackerView, response: TargetResponse) -> np.ndarray:
        """0/1 weights over the attacker's users: 1 on the influential subset."""
        if self.select == "influence":
            rank = -np.abs(influence_of_users(view, response, Objective("hinge", self.margin)))
        else:
            gaps = response.kth[:, None] - response.P @ response.Q[response.targets].T
            rank = gaps.mean(axis=1) / np.maximum(np.linalg.norm(response.P, axis=1), 1e-12)
        chosen = np.argsort(rank, kind="stable")[: max(1, int(self.user_share * len(rank)))]
        weights = np.zeros(len(rank))
        weights[chosen] = 1.0
        return weights

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        response = TargetResponse(view, threat, ridge=self.ridge)
        objective = Objective("hinge", self.margin, self.influential_users(view, response))
        x, items = average_start(view, threat, rng)
        x, items, _ = ascend_profiles(response, x, items, threat, objective, steps=self.steps,
                                      step_size=self.step_size, low=view.scale.low / view.scale.high)
        return selection_of(items, view.n_items), (x * view.scale.high).astype(np.float32)
