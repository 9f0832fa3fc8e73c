"""AUSH (Lin et al. 2020): fake users from a GAN-trained generator, written in numpy.

Each fake user copies a *template* (a random real user the attacker sees): its fillers are
``n_selected = ceil(selected_share * n_filler)`` "selected" items at the maximum rating
(the most popular items, as the attacker knows them) and the rest sampled from the
template's own items. A generator ``G(x) = sigmoid(W2 relu(W1 x + b1) + b2)`` maps the
template's normalised rating row to ratings for every item and is trained, with Adam, on

    reconstruction  MSE of G(x) against the template's ratings (on the items it rated)
  + adv_weight      -log D(G(x) on the sampled fillers)  (D: logistic regression on
                    profiles, trained alternately to tell real rows from generated ones)
  + attack_weight   the shilling term: ascent on the hinge of each target's gap to every
                    real user's K-th best item in the surrogate MF, back-propagated from
                    `influence.TargetResponse.gradient` through G.

Hyper-parameters (``hidden`` 128, ``epochs`` 20, batch 64, lr 1e-3) are the paper's
orders of magnitude scaled to CPU budgets.
"""
from __future__ import annotations

import numpy as np

from .base import Attack, ThreatModel
from .influence import Objective, TargetResponse, profile_items
from .knowledge import AttackerView


class _Adam:
    """Adam over a list of arrays, updated in place."""

    def __init__(self, params: list[np.ndarray], lr: float) -> None:
        self.params, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= 0.9
            m += 0.1 * g
            v *= 0.999
            v += 0.001 * g * g
            p -= self.lr * (m / (1 - 0.9**self.t)) / (np.sqrt(v / (1 - 0.999**self.t)) + 1e-8)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class AUSHAttack(Attack):
    name = "aush"

    def __init__(self, hidden: int = 128, epochs: int = 20, batch: int = 64, lr: float = 1e-3,
                 adv_weight: float = 0.1, attack_weight: float = 0.1, selected_share: float = 0.1) -> None:
        self.hidden, self.epochs, self.batch, self.lr = hidden, epochs, batch, lr
        self.adv_weight, self.attack_weight, self.selected_share = adv_weight, attack_weight, selected_share

    def _fillers(self, view: AttackerView, threat: ThreatModel, rows: np.ndarray, popular: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
        """Selection scores: the popular items first, then the template's items, then any."""
        key = rng.random(rows.shape).astype(np.float32) + (rows > 0)
        key[:, popular] = 3.0
        return key

    def craft(self, view: AttackerView, threat: ThreatModel, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n_items, high = view.n_items, view.scale.high
        counts = view.item_counts.astype(np.float64)
        counts[threat.targets] = -1
        popular = np.argsort(-counts, kind="stable")[: int(np.ceil(self.selected_share * threat.n_filler))]
        users = view.active_users
        response = TargetResponse(view, threat)
        objective = Objective("hinge")

        W1 = rng.normal(0, np.sqrt(2.0 / n_items), (n_items, self.hidden)).astype(np.float32)
        b1 = np.zeros(self.hidden, np.float32)
        W2 = rng.normal(0, np.sqrt(1.0 / self.hidden), (self.hidden, n_items)).astype(np.float32)
        b2 = np.zeros(n_items, np.float32)
        w_d, b_d = np.zeros(n_items, np.float32), np.zeros(1, np.float32)
        gen, disc = _Adam([W1, b1, W2, b2], self.lr), _Adam([w_d, b_d], self.lr)

        def forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            h = np.maximum(x @ W1 + b1, 0.0)
            return h, _sigmoid(h @ W2 + b2)

        for _ in range(self.epochs):
            for start in range(0, len(users), self.batch):
                x = view.normalized_rows(rng.permutation(users)[: self.batch])
                real = view.normalized_rows(rng.choice(users, size=len(x)))
                rated = x > 0
                h, y = forward(x)
                items = profile_items(self._fillers(view, threat, x, popular, rng), threat.targets, threat.n_filler)
                mask = np.zeros_like(x)
                np.put_along_axis(mask, items, 1.0, axis=1)
                mask[:, threat.targets] = 0.0
                # discriminator step: real rows (their own items) against generated fillers
                d_real = _sigmoid(real @ w_d + b_d)
                d_fake = _sigmoid((y * mask) @ w_d + b_d)
                g_real, g_fake = (d_real - 1.0) / len(x), d_fake / len(x)
                disc.step([(real.T @ g_real + (y * mask).T @ g_fake).astype(np.float32),
                           np.array([g_real.sum() + g_fake.sum()], np.float32)])
                # generator step
                dy = 2.0 * rated * (y - x) / max(rated.sum(), 1)
                dy += self.adv_weight * ((d_fake - 1.0) / len(x))[:, None] * w_d[None] * mask
                if self.attack_weight:
                    xs = np.take_along_axis(y, items, axis=1)
                    xs[:, -threat.targets.size:] = 1.0
                    _, g_att = response.gradient(items, xs, objective)
                    dy -= self.attack_weight * mask * g_att / np.maximum(np.abs(g_att).max(), 1e-12) / len(x)
                dz = (dy * y * (1.0 - y)).astype(np.float32)
                dh = (dz @ W2.T) * (h > 0)
                gen.step([x.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0)])

        templates = view.normalized_rows(rng.choice(users, size=threat.n_fake))
        _, y = forward(templates)
        values = (y * high).astype(np.float32)
        values[:, popular] = high
        return self._fillers(view, threat, templates, popular, rng), values
