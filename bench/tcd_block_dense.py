"""TCD's co-training done block-dense (a formulation tried for speed and not kept), beside TCD.

    python3 bench/tcd_block_dense.py --data-dir ../shared/data [--dataset ml-100k] [--attack average]
                                     [--seeds 3] [--tiles 32x0,64x256,128x128] [--lr-scales 1]

TCD as the package runs it trains each model on its ratings plus the agreement labels in
mini-batches of 2,048 shuffled pairs with lazy Adam: every pair costs scattered row updates.
The block-dense variant here keeps TCD's loss, labels and settings but visits the user x item
grid in tiles (``USERSxITEMS``, 0 items: all): per tile, the three models score it by BLAS,
each model's labels are the tile's unrated pairs on which the two others agree (the code's
projection, sampled at TCD's ratio), and each model takes one step of its own lazy Adam on
the gradient of its tile (real ratings plus labels; L2 as the mini-batch kernel), computed
by BLAS. Pre-training, validation and early stopping are TCD's. Each cell runs `run_experiment`
(MF, 5 unpopular targets, 3 % fakes) and prints target HR@50, test HR@50 and the defense's
fit seconds, also as a multiple of the attacked victim's plain fit; means over the seeds,
TCD's row first. A tile's labels come from the other two models as they stand at that
tile, not at the start of the model's epoch as in TCD.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from fastpoison import ExperimentSpec, RatingData, register_defense, run_experiment
from fastpoison.defenses import TCD
from fastpoison.models.base import TrainableModel, epoch_seed


def as_csr(data: RatingData) -> sp.csr_array:
    """``data``'s ratings as a scipy CSR array (rows: users)."""
    return sp.csr_array((data.values, data.indices, data.indptr), shape=(data.n_users, data.n_items))


@dataclass(frozen=True)
class BlockDenseTCD(TCD):
    """TCD (the paper's labels only) with its co-training epochs run tile by tile (module doc)."""

    tile_users: int = 64
    tile_items: int = 0
    lr_scale: float = 1.0
    name: ClassVar[str] = "tcd-block-dense"

    def _cotrain(self, model_factory: Any, train: RatingData, seed: int, progress: bool, *,
                 ends: str) -> TrainableModel:
        if ends != "extend":
            raise ValueError("the block-dense variant runs the paper's labels only")
        models = [model_factory() for _ in range(3)]
        head = models[0]
        fit_part, valid = head.split_validation(train, seed)
        seeds = np.random.SeedSequence([seed, 0x7CD]).generate_state(4, np.uint64).tolist()
        ratio = self.sampling_ratio(train, fit_part.n_ratings)
        for model, model_seed in zip(models, seeds):
            model.start(train, fit_part, model_seed)
        # Gradient buffers of each model's P and Q, allocated once: adam_step zeroes the rows it used.
        grads = [(np.zeros_like(m.params["P"]), np.zeros_like(m.params["Q"])) for m in models]
        seen_csr, fit_csr, high = as_csr(train), as_csr(fit_part.normalized()), np.float32(train.scale.high)
        tile_items = self.tile_items or train.n_items
        best, best_mse = None, np.inf
        for epoch in range(head.config.epochs if self.epochs is None else self.epochs):
            if epoch < self.pretrain_epochs:
                for j, model in enumerate(models):
                    model.train_epoch(fit_part, epoch_seed(seeds[j], epoch))
            else:
                if epoch == self.pretrain_epochs:
                    for model in models:
                        model.config.lr *= self.lr_scale
                rng = np.random.default_rng(np.random.SeedSequence([seeds[3], epoch]))
                user_order, item_order = rng.permutation(train.n_users), rng.permutation(train.n_items)
                tiles = [(u, i) for u in range(0, train.n_users, self.tile_users)
                         for i in range(0, train.n_items, tile_items)]
                for t in rng.permutation(len(tiles)):
                    u0, i0 = tiles[t]
                    users = np.sort(user_order[u0:u0 + self.tile_users]).astype(np.int32)
                    items = np.sort(item_order[i0:i0 + tile_items]).astype(np.int32)
                    self._tile_steps(models, grads, seen_csr, fit_csr, users, items, ratio, high, rng)
            head.history.append({"epoch": float(epoch), "valid_mse": head.validation_mse(valid)})
            if head.history[-1]["valid_mse"] < best_mse:
                best_mse, head.best_epoch, best = head.history[-1]["valid_mse"], epoch, head.snapshot()
            if head.stops_after(epoch, counting_from=self.pretrain_epochs):
                break
        head.finish(best, len(head.history) - 1)
        head.validation = valid
        return head

    @staticmethod
    def _tile_steps(models: list[TrainableModel], grads: list[tuple[np.ndarray, np.ndarray]], seen_csr: sp.csr_array,
                    fit_csr: sp.csr_array, users: np.ndarray, items: np.ndarray, ratio: float, high: np.float32,
                    rng: np.random.Generator) -> None:
        """One lazy-Adam step of each model on the tile ``users`` x ``items`` (``grads``: each
        model's zeroed gradient buffers of P and Q; ``seen_csr``: the training ratings;
        ``fit_csr``: those fitted, normalised)."""
        seen = seen_csr[users][:, items].toarray() != 0
        fit_tile = fit_csr[users][:, items]
        fitted = np.zeros(seen.shape, dtype=bool)
        fitted[fit_tile.nonzero()] = True
        values = fit_tile.toarray()
        scores = [m.params["P"][users] @ m.params["Q"][items].T for m in models]
        levels = [np.floor(s * high + np.float32(0.5)) for s in scores]  # the code's round(x * max)
        for j, (model, (grad_p, grad_q)) in enumerate(zip(models, grads)):
            a, b = levels[(j + 1) % 3], levels[(j + 2) % 3]
            agree = (a == b) & ~seen
            if ratio < 1:
                agree &= rng.random(agree.shape, dtype=np.float32) < ratio
            pairs = fitted | agree
            n = int(pairs.sum())
            if n == 0:
                continue
            P, Q = model.params["P"], model.params["Q"]
            Pu, Qi = P[users], Q[items]
            error = np.where(pairs, (scores[j] - np.where(fitted, values, a / high)) * np.float32(2.0 / n), 0)
            l2 = np.float32(2.0 * model.config.reg / (n * P.shape[1]))  # as the mini-batch kernel: per pair
            grad_p[users] = error @ Qi + l2 * pairs.sum(1, dtype=np.float32)[:, None] * Pu
            per_item = pairs.sum(0, dtype=np.float32)
            grad_q[items] = error.T @ Pu + l2 * per_item[:, None] * Qi
            model.adam_step({"P": grad_p, "Q": grad_q}, {"P": users, "Q": items[per_item > 0]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--data-dir")
    ap.add_argument("--attack", default="average")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tiles", default="32x0,64x256,128x128", help="USERSxITEMS per tile (0 items: all)")
    ap.add_argument("--lr-scales", default="1", help="the co-training lr as multiples of the model's")
    args = ap.parse_args()
    register_defense(BlockDenseTCD)
    defenses = ["tcd"] + [f"tcd-block-dense[lr_scale={s},tile_items={t.split('x')[1]},tile_users={t.split('x')[0]}]"
                          for t in args.tiles.split(",") for s in args.lr_scales.split(",")]
    print(f"{args.dataset}, MF, {args.attack}, 5 unpopular targets, seeds 0-{args.seeds - 1}; target HR@50 over the "
          "real users who have not rated the target, test HR@50 over every test user")
    print("| defense | target HR@50 attacked -> defended | test HR@50 attacked -> defended | defense fit s "
          "(x the attacked plain fit) |")
    print("|---|---|---|---|")
    for defense in defenses:
        r = run_experiment(ExperimentSpec(dataset=args.dataset, attack=args.attack, defense=defense,
                                          targets="unpopular", seeds=args.seeds, data_dir=args.data_dir))
        fit_s, plain_s = r["timings"]["defense_fit"], r["timings"]["attacked_fit"]  # means over the seeds
        print(f"| {defense} | {r['hr_attack']['mean']:.4f} -> {r['hr_defense']['mean']:.4f} | "
              f"{r['test_hr_attack']['mean']:.4f} -> {r['test_hr_defense']['mean']:.4f} | {fit_s:.1f} ({fit_s / plain_s:.1f}x) |",
              flush=True)


if __name__ == "__main__":
    main()
