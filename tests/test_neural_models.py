"""AutoRec and CDAE: gradients against finite differences, determinism, persistence, ranking
contracts, RVD against a dense numpy reference, bad input."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from fastpoison.data import RatingData, RatingScale
from fastpoison.defenses import RVD
from fastpoison.models import CDAE, AutoRec, load_model, make_model

VARIANTS = [(AutoRec, {"output": "identity"}), (AutoRec, {"output": "sigmoid"}),
            (CDAE, {"loss": "log"}), (CDAE, {"loss": "squared"})]
IDS = ["autorec-identity", "autorec-sigmoid", "cdae-log", "cdae-squared"]


def ratings(n_users: int, n_items: int, density: float, seed: int = 0) -> RatingData:
    """Random 1..5 ratings whose values follow a rank-2 model; each user rates >= 2 items."""
    rng = np.random.default_rng(seed)
    U, V = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    mask = rng.random((n_users, n_items)) < density
    mask[:, :2] = True
    u, i = np.nonzero(mask)
    r = np.clip(np.round(3 + (U[u] * V[i]).sum(1)), 1, 5)
    return RatingData.from_coo(u, i, r, n_users, n_items, RatingScale(1, 5, 1))


@pytest.fixture(scope="module")
def tiny() -> RatingData:
    return ratings(7, 9, 0.4)


@pytest.fixture(scope="module")
def small() -> RatingData:
    return ratings(60, 40, 0.25, seed=1)


# ----------------------------------------------------------------------------- gradients
def gradient_error(model, batch, params, grads, share, eps=1e-6) -> float:
    """Largest |analytic - central difference| / max(|central difference|, 1e-3) over every
    parameter entry of the batch loss (data + L2), in float64."""
    def loss() -> float:
        scratch = {k: np.zeros_like(v) for k, v in params.items()}
        return sum(model.loss_and_grad(batch, scratch, share, params))

    worst = 0.0
    for name, p in params.items():
        flat, g = p.reshape(-1), grads[name].reshape(-1)
        for j in range(flat.size):
            x = flat[j]
            flat[j] = x + eps
            up = loss()
            flat[j] = x - eps
            down = loss()
            flat[j] = x
            numeric = (up - down) / (2 * eps)
            worst = max(worst, abs(numeric - g[j]) / max(abs(numeric), 1e-3))
    return worst


def float64_batch(cls, kwargs, data, reg=0.3):
    model = cls(hidden=3, reg=reg, valid_fraction=0, **kwargs)
    model.start(data, data, seed=0)
    model._prepare(data.normalized(), seed=0)
    params = {k: v.astype(np.float64) for k, v in model.params.items()}
    params["b"] += 0.3  # away from the initial zeros, so every term of the gradient matters
    params["c"] -= 0.2
    norm = data.normalized()
    batch = model._batch(np.array([1, 3, 4, 6], dtype=np.int32), norm.indptr, norm.indices, norm.values, 5)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    model.loss_and_grad(batch, grads, 0.4, params)
    return model, batch, params, grads


@pytest.mark.parametrize("cls, kwargs", VARIANTS, ids=IDS)
def test_gradients_match_finite_differences(cls, kwargs, tiny):
    model, batch, params, grads = float64_batch(cls, kwargs, tiny)
    assert gradient_error(model, batch, params, grads, 0.4) < 1e-5
    # the check is tight: 1 % off in any one array, or the L2 term left out, fails it
    for name in params:
        wrong = {k: v * (1.01 if k == name else 1.0) for k, v in grads.items()}
        assert gradient_error(model, batch, params, wrong, 0.4) > 1e-3, name
    _, _, _, no_l2 = float64_batch(cls, kwargs, tiny, reg=0.0)
    assert gradient_error(model, batch, params, no_l2, 0.4) > 1e-3


# ----------------------------------------------------------------------------- training
@pytest.mark.parametrize("cls, kwargs", VARIANTS[::2], ids=IDS[::2])
def test_fit_is_deterministic_and_learns(cls, kwargs, small):
    kw = dict(hidden=8, epochs=8, lr=0.01, batch_size=16, **kwargs)
    a, b, c = cls(**kw).fit(small, seed=3), cls(**kw).fit(small, seed=3), cls(**kw).fit(small, seed=4)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k
    assert not np.array_equal(a.params["D"], c.params["D"])
    losses = [h[a.train_metric] for h in a.history]
    assert losses[-1] < 0.8 * losses[0]
    assert a.best_epoch == int(np.argmin([h["valid_mse"] for h in a.history]))


def test_sgd_learns_too(small):
    m = AutoRec(hidden=8, epochs=6, optimizer="sgd", lr=0.05, batch_size=8).fit(small, seed=0)
    assert m.history[-1]["train_mse"] < m.history[0]["train_mse"]


@pytest.mark.parametrize("cls, kwargs", VARIANTS[::2], ids=IDS[::2])
def test_step_api_drives_training(cls, kwargs, small):
    m = cls(hidden=8, lr=0.01, **kwargs)
    fit_part, valid = m.split_validation(small, seed=0)
    m.start(small, fit_part, seed=0)
    before = m.validation_mse(valid)
    for epoch in range(5):
        m.train_epoch(fit_part, seed=epoch)
    best = m.snapshot()
    assert m.validation_mse(valid) < before
    m.train_epoch(fit_part, seed=9)
    m.finish(best, 5)
    assert all(np.array_equal(m.params[k], v) for k, v in best.items())


# ----------------------------------------------------------------------------- inference
@pytest.mark.parametrize("cls, kwargs", VARIANTS, ids=IDS)
def test_top_k_excludes_seen_items_and_matches_predict(cls, kwargs, small):
    m = cls(hidden=8, epochs=3, **kwargs).fit(small, seed=0)
    users = np.array([0, 5, 17])
    top, scores = m.top_k(users, k=10), m.predict(users)
    assert scores.shape == (3, small.n_items)
    for row, u in enumerate(users):
        seen = small.user_items(u)[0]
        assert not set(seen.tolist()) & set(top.items[row].tolist())
        masked = scores[row].copy()
        masked[seen] = -np.inf
        np.testing.assert_allclose(masked[top.items[row]], np.sort(masked)[::-1][:10], rtol=1e-5)
        np.testing.assert_allclose(small.scale.denormalize(top.scores[row]), masked[top.items[row]], rtol=1e-5)
    np.testing.assert_allclose(m.predict_pairs(users, top.items[:, 0]), scores[np.arange(3), top.items[:, 0]],
                               rtol=1e-5)
    emb = m.user_embeddings(users)
    assert emb.shape == (3, 8) and emb.dtype == np.float32 and np.all((emb > 0) & (emb < 1))


@pytest.mark.parametrize("cls, kwargs", VARIANTS[::2], ids=IDS[::2])
def test_state_round_trip_without_pickle(cls, kwargs, small, tmp_path):
    m = cls(hidden=8, epochs=2, **kwargs).fit(small, seed=1)
    m.save(tmp_path / "m.npz")
    back = load_model(tmp_path / "m.npz")
    assert type(back) is cls and back.config == m.config and back.best_epoch == m.best_epoch
    users = np.arange(small.n_users)
    assert np.array_equal(back.predict(users), m.predict(users))
    assert np.array_equal(back.top_k(users, 5).items, m.top_k(users, 5).items)
    with pytest.raises(ValueError, match="holds a"):
        (AutoRec if cls is CDAE else CDAE)().load_state(m.state())


# ----------------------------------------------------------------------------- RVD
def dense(ptr, idx, val, rows, n_cols):
    out = np.zeros((len(rows), n_cols))
    for r, row in enumerate(rows):
        np.add.at(out[r], idx[ptr[row]:ptr[row + 1]], val[ptr[row]:ptr[row + 1]])
    return out


def naive_rvd(model, user, neighbours, epochs, lr, forget):
    """Deep-copy the model, fine-tune every weight densely in numpy (float64), score all items
    for ``user`` (pre-output scores, rated items at -inf)."""
    m = copy.deepcopy(model)
    P = {k: v.astype(np.float64) for k, v in m.params.items()}
    batches = m.vicinal_batches(user, neighbours, epochs)
    keep = forget ** (1.0 / len(batches)) if batches else 1.0
    n = m.n_items
    sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    for b in batches:
        X = dense(b.in_ptr, b.in_idx, b.in_val, b.rows, n)
        T = dense(b.t_ptr, b.t_idx, b.t_val, b.rows, n)
        M = dense(b.t_ptr, b.t_idx, np.ones_like(b.t_val), b.rows, n)  # counts (CDAE may draw a negative twice)
        H = sigmoid(X @ P["E"] + P["b"] + (P["U"][b.users] if "U" in P else 0.0))
        A = H @ P["D"].T + P["c"]
        if m.log_loss:
            delta = (sigmoid(A) - T) * M
        elif m.out_sigmoid:
            Y = sigmoid(A)
            delta = 2 * (Y - np.where(M > 0, T / np.maximum(M, 1), 0)) * Y * (1 - Y) * M
        else:
            delta = 2 * (A - np.where(M > 0, T / np.maximum(M, 1), 0)) * M
        dz = (delta @ P["D"]) * H * (1 - H)
        g = {"E": X.T @ dz, "b": dz.sum(0), "D": delta.T @ H, "c": delta.sum(0)}
        if "U" in P:
            g["U"] = np.zeros_like(P["U"])
            np.add.at(g["U"], b.users, dz)
        for k in P:
            P[k] = keep * P[k] - lr * g[k]
    ptr, idx, val = m._input
    x = dense(ptr, idx, val, [user], n)[0]
    h = sigmoid(x @ P["E"] + P["b"] + (P["U"][user] if "U" in P else 0.0))
    s = P["D"] @ h + P["c"]
    s[idx[ptr[user]:ptr[user + 1]]] = -np.inf
    return s


@pytest.mark.parametrize("cls, kwargs", VARIANTS, ids=IDS)
def test_rvd_matches_the_dense_reference_and_leaves_the_model_alone(cls, kwargs, small):
    model = cls(hidden=6, epochs=3, batch_size=3, **kwargs).fit(small, seed=0)
    before = model.snapshot()
    rvd = RVD(model, k=5, epochs=2, lr=0.1, forget=0.5, step="sgd", exact=True)
    users = np.array([0, 11, 42], dtype=np.int32)
    top = rvd.recommend(users, 8)
    for row, u in enumerate(users):
        ref = naive_rvd(model, int(u), rvd.neighbours(np.array([u]))[0], 2, 0.1, 0.5)
        best = np.argsort(-ref, kind="stable")[:8]
        assert top.items[row].tolist() == best.tolist()
        np.testing.assert_allclose(top.scores[row], model._output(ref[best].astype(np.float32)), rtol=2e-4, atol=1e-6)
    assert np.array_equal(RVD(model, k=5, epochs=2, lr=0.1, forget=0.5, step="sgd", exact=True, threads=2).recommend(users, 8).items,
                          top.items)
    for k, v in model.params.items():
        assert np.array_equal(v, before[k]), k
    untuned = RVD(model, k=5, epochs=0, exact=True).recommend(users, 8)
    plain = model.top_k(users, 8)
    assert np.array_equal(untuned.items, plain.items)
    np.testing.assert_allclose(untuned.scores, plain.scores, rtol=1e-5)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("cls, kwargs, message", [
    (AutoRec, dict(hidden=0), "hidden"), (AutoRec, dict(output="relu"), "output"), (AutoRec, dict(lr=0), "lr"),
    (AutoRec, dict(factors=8), "factors"), (CDAE, dict(corruption=1.0), "corruption"),
    (CDAE, dict(negative_ratio=-1), "negative_ratio"), (CDAE, dict(loss="hinge"), "loss"),
    (CDAE, dict(optimizer="adagrad"), "optimizer"),
])
def test_bad_config(cls, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        cls(**kwargs)


def test_bad_calls(small):
    m = CDAE(hidden=4, epochs=1)
    with pytest.raises(RuntimeError, match="not fitted"):
        m.top_k(k=3)
    m.fit(small)
    with pytest.raises(ValueError, match="user ids"):
        m.top_k(np.array([small.n_users]), k=3)
    with pytest.raises(ValueError, match="neighbours"):
        m.vicinal_top_k(np.array([0, 1]), np.zeros((1, 3), dtype=np.int32), epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="user ids"):
        m.vicinal_top_k(np.array([0]), np.array([[0, small.n_users]]), epochs=1, lr=0.1)
    with pytest.raises(ValueError, match="forget"):
        m.vicinal_top_k(np.array([0]), np.array([[0, 1]]), epochs=1, lr=0.1, forget=0)
    with pytest.raises(ValueError, match="empty"):
        AutoRec().fit(RatingData.from_coo([], [], [], 3, 3, RatingScale(1, 5, 1)))


def test_registry_and_settings():
    assert isinstance(make_model("autorec"), AutoRec) and isinstance(make_model("CDAE", "ml-1m"), CDAE)
    assert make_model("autorec").config.hidden == 500 and make_model("cdae").config.hidden == 50
    assert make_model("cdae", "filmtrust").config.batch_size == CDAE().config.batch_size  # MF's paper batch only
    with pytest.raises(ValueError, match="does not apply"):
        make_model("cdae", item_reg=1.0)


# ----------------------------------------------------------------------------- command line
def run_cli(tmp_path, *argv: str) -> tuple[int, dict | None]:
    from fastpoison.cli import main

    out = tmp_path / "out.json"
    status = main([*argv, "--quiet", "--json", str(out)])
    return status, (json.loads(out.read_text()) if status == 0 else None)


def test_cli_trains_and_serves_the_neural_models(tmp_path):
    status, result = run_cli(tmp_path, "train", "--dataset", "synthetic:filmtrust", "--model", "cdae", "--epochs", "2",
                             "--hidden", "8", "--out", str(tmp_path / "m.npz"))
    assert status == 0 and len(result["history"]) == 2
    assert load_model(tmp_path / "m.npz").config.hidden == 8
    status, result = run_cli(tmp_path, "run", "--dataset", "synthetic:filmtrust", "--model", "autorec", "--attack",
                             "random", "--defense", "rvd", "--epochs", "2", "--hidden", "16", "--rvd-k", "5")
    assert status == 0 and result["hr_defense"] is not None and result["defense_settings"]["rvd"]["k"] == 5


@pytest.mark.parametrize("argv, message", [
    (["--model", "autorec", "--defense", "ltsmf"], "does not apply"),
    (["--model", "cdae", "--defense", "apr+rvd"], "does not apply"),
    (["--model", "autorec", "--factors", "8"], "factors does not apply"),
    (["--model", "cdae", "--bias"], "bias does not apply"),
])
def test_cli_rejects_what_does_not_apply_to_neural_models(tmp_path, capsys, argv, message):
    status, _ = run_cli(tmp_path, "run", "--dataset", "synthetic:filmtrust", "--epochs", "1", *argv)
    assert status == 2 and message in capsys.readouterr().err


def test_cdae_batch_negatives_are_unrated_and_seeded(small):
    """CDAE's batch: the inputs are the rated items kept, the targets every rated item (1) and
    round(ratio x rated) unrated items (0), the same user twice included; same seed, same batch."""
    from fastpoison.models.dae_kernels import corrupt_and_sample
    users = np.array([3, 0, 3, 59], dtype=np.int32)
    ptr, idx = small.indptr, small.indices.astype(np.int32)
    batch = corrupt_and_sample(users, ptr, idx, small.n_items, 0.5, 2.0, 11)
    in_ptr, in_idx, _, t_ptr, t_idx, t_val = batch
    for r, u in enumerate(users):
        rated = set(idx[ptr[u]:ptr[u + 1]].tolist())
        inputs = set(in_idx[in_ptr[r]:in_ptr[r + 1]].tolist())
        targets, values = t_idx[t_ptr[r]:t_ptr[r + 1]], t_val[t_ptr[r]:t_ptr[r + 1]]
        assert inputs <= rated
        assert set(targets[values == 1].tolist()) == rated
        negatives = targets[values == 0]
        assert len(negatives) == int(2.0 * len(rated) + 0.5)
        assert not rated & set(negatives.tolist())
    again = corrupt_and_sample(users, ptr, idx, small.n_items, 0.5, 2.0, 11)
    assert all(np.array_equal(a, b) for a, b in zip(batch, again))
