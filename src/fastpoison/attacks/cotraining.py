"""Joint training of the attacker's MF and the fake ratings on the TCD paper's eq. 4,
``min over R', theta of L_atk(R, theta) + L_train(R + R', theta)`` (CoAttack, GCoAttack).

``R'`` (`FakeRatings`) holds the fake users' continuous ratings, scaled to [0, 1], on the
items of their profiles (fillers and targets; the targets stay at the maximum), and enters
``L_train`` as those users' ratings. ``L_train`` is the MF's own loss as its epoch kernel
computes it (squared error, mean over the mini-batch, L2 on the batch's factor rows);
``L_atk`` (`AttackLoss`) is eq. 3 with ``h = sigmoid(p . q)``. Every mini-batch takes one
step of the model's own Adam on the sum, and one step of an Adam with the same settings on
``R'`` (its only gradient is ``L_train``'s: eq. 3 reads the real users alone).

Mini-batches estimate the sum without bias: an epoch shuffles the ratings (real, fake and
any pseudo-labels) together with one eq. 3 term per real user, and each batch of the
model's size averages its samples, as the epoch kernel averages its squared errors. A
batch scores only the users whose terms it holds, against their top-K lists (taken at the
start of the epoch) and the targets: numpy on ``[users, K]`` gathers, float32; the squared
errors' gradient is a numba loop.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..data.ratings import RatingData
from ..models.mf import MF
from .influence import log_hinge

#: One set of ratings as ``(users int32, items int32, ratings float32 scaled to [0, 1])``.
Ratings = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass
class FakeRatings:
    """``R'``: the fake users' ratings scaled to [0, 1] on their profiles' items (``users``
    are their rows in the training data), kept in ``[low, 1]``; targets (``free`` False)
    stay where they are. Optimised by Adam with ``lr``, ``betas`` and ``eps``."""

    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    free: np.ndarray
    low: float
    lr: float
    betas: tuple[float, float]
    eps: float

    def __post_init__(self) -> None:
        self._m = np.zeros_like(self.values)
        self._v = np.zeros_like(self.values)
        self._t = 0

    @classmethod
    def of(cls, data: RatingData, targets: np.ndarray, model: MF) -> "FakeRatings":
        """The injected rows of ``data`` (after its real users), with ``model``'s Adam settings."""
        users, items, values = data.normalized().coo()
        fake = users >= data.n_real_users
        c = model.config
        return cls(users[fake], items[fake], values[fake], ~np.isin(items[fake], targets),
                   data.scale.low / data.scale.high, float(c.lr), tuple(c.adam_betas), c.adam_eps)

    def step(self, slots: np.ndarray, grad: np.ndarray) -> None:
        """One Adam step on the ratings at distinct ``slots`` (targets skipped) along ``grad``."""
        free = self.free[slots]
        s, g = slots[free], grad[free]
        self._t += 1
        beta1, beta2 = self.betas
        bc1, bc2 = 1.0 - beta1 ** self._t, np.sqrt(1.0 - beta2 ** self._t)
        self._m[s] = beta1 * self._m[s] + (1.0 - beta1) * g
        self._v[s] = beta2 * self._v[s] + (1.0 - beta2) * g * g
        step = self.lr * bc2 / bc1 * self._m[s] / (np.sqrt(self._v[s]) + self.eps * bc2)
        self.values[s] = np.clip(self.values[s] - step, self.low, 1.0)


class AttackLoss:
    """Eq. 3 over ``users`` (the real users the attacker sees): per target ``t``,
    ``max(min over L_u of log h(u, i) - log h(u, t), -kappa)`` with ``h = sigmoid(p . q)``
    and ``L_u`` the user's top-``k`` list; the gradient reaches the user's factors, the
    targets' and the factors of the list's lowest-scored item."""

    def __init__(self, users: np.ndarray, targets: np.ndarray, kappa: float, k: int) -> None:
        self.users, self.targets, self.kappa, self.k = users, targets, kappa, k
        self.lists = np.zeros((users.size, k), dtype=np.int32)

    def refresh(self, model: MF) -> None:
        """Take each user's top-``k`` list (its training items excluded) from ``model`` now."""
        self.lists = model.top_k(self.users, self.k).items

    def add_gradient(self, P: np.ndarray, Q: np.ndarray, rows: np.ndarray, weight: float, grad_P: np.ndarray,
                     grad_Q: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Add the gradient of ``weight`` times the terms of the users at ``rows`` (distinct
        indices into ``users``) to ``grad_P`` and ``grad_Q``; returns their weighted value and
        the user and item rows it touched."""
        users, listed = self.users[rows], self.lists[rows]
        pu = P[users]
        scores = np.matmul(Q[listed], pu[:, :, None])[..., 0]
        lowest = np.argmin(scores, axis=1)
        kth_item = listed[np.arange(users.size), lowest]
        terms, d_target, d_kth = log_hinge(pu @ Q[self.targets].T, scores[np.arange(users.size), lowest], self.kappa)
        d_target = (weight * d_target).astype(np.float32)
        d_kth = (weight * d_kth.sum(axis=1)).astype(np.float32)[:, None]
        grad_P[users] += d_target @ Q[self.targets] + d_kth * Q[kth_item]
        grad_Q[self.targets] += d_target.T @ pu
        np.add.at(grad_Q, kth_item, d_kth * pu)
        return weight * float(terms.sum()), users, np.concatenate([self.targets, kth_item])


def joint_epoch(model: MF, ratings: Ratings, fakes: FakeRatings, loss: AttackLoss, seed: int) -> float:
    """One epoch of eq. 4 over the samples ``ratings``, ``fakes`` and one eq. 3 term per user
    of ``loss``, shuffled by ``seed`` into mini-batches of the model's size, each averaged
    over its samples; returns the epoch's eq. 3 value (each term as its batch saw it)."""
    users = np.concatenate([ratings[0], fakes.users])
    items = np.concatenate([ratings[1], fakes.items])
    values = np.concatenate([ratings[2], np.zeros_like(fakes.values)])
    slots = np.concatenate([np.full(ratings[0].size, -1), np.arange(fakes.values.size)])
    grads = {"P": np.zeros_like(model.params["P"]), "Q": np.zeros_like(model.params["Q"])}
    order = np.random.default_rng(seed).permutation(users.size + loss.users.size)
    total = 0.0
    for start in range(0, order.size, model.config.batch_size):
        batch = order[start:start + model.config.batch_size]
        rated, terms = batch[batch < users.size], batch[batch >= users.size] - users.size
        total += _joint_step(model, (users[rated], items[rated], values[rated]), slots[rated], np.sort(terms),
                             1.0 / batch.size, fakes, loss, grads)
    return total


def _joint_step(model: MF, batch: Ratings, slots: np.ndarray, terms: np.ndarray, weight: float, fakes: FakeRatings,
                loss: AttackLoss, grads: dict[str, np.ndarray]) -> float:
    """One Adam step of the model and of ``R'`` on ``weight`` times the squared errors of the
    ratings ``batch`` (``slots``: each one's index in ``fakes``, -1 for the others) and the
    eq. 3 terms of ``loss``'s users at ``terms``; returns those terms' weighted value."""
    u, i, r = batch
    fake = slots >= 0
    r = np.where(fake, fakes.values[np.maximum(slots, 0)], r)
    P, Q = model.params["P"], model.params["Q"]
    shrink = 2.0 * weight * model.config.reg / P.shape[1]  # L2 on the mean factor entry, as the kernel
    coef = _squared_error_grad(P, Q, u, i, r, 2.0 * weight, shrink, grads["P"], grads["Q"])
    value, attacked, item_rows = loss.add_gradient(P, Q, terms, weight, grads["P"], grads["Q"])
    fakes.step(slots[fake], -coef[fake])
    model.adam_step(grads, {"P": np.unique(np.concatenate([u, attacked])),
                            "Q": np.unique(np.concatenate([i, item_rows]))})
    return value


@njit(cache=True, nogil=True)
def _squared_error_grad(P, Q, users, items, ratings, scale, shrink, grad_P, grad_Q):  # pragma: no cover - compiled
    """Add the gradients of ``scale / 2`` times each squared error, and of the L2 term
    ``shrink / 2 * |row|^2`` per rating, to ``grad_P`` and ``grad_Q``; returns each rating's
    ``scale * error`` (the error's derivative in the prediction)."""
    coef = np.empty(users.shape[0], dtype=np.float32)
    for k in range(users.shape[0]):
        u, i = users[k], items[k]
        error = np.float32(0.0)
        for f in range(P.shape[1]):
            error += P[u, f] * Q[i, f]
        c = np.float32(scale * (error - ratings[k]))
        coef[k] = c
        for f in range(P.shape[1]):
            pu, qi = P[u, f], Q[i, f]
            grad_P[u, f] += c * qi + shrink * pu
            grad_Q[i, f] += c * pu + shrink * qi
    return coef
