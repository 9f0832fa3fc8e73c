"""MF and NSVD: learning, determinism, persistence, ranking contracts."""
from __future__ import annotations

import numpy as np
import pytest

from fastpoison.data import RatingData, RatingScale
from fastpoison.models import MF, NSVD, load_model, make_model


def low_rank_ratings(n_users=200, n_items=150, per_user=30, seed=0) -> RatingData:
    """Ratings 1..5 from a rank-3 model with noise, users choosing items they tend to like
    (so both explicit and implicit models can learn): small and fast."""
    rng = np.random.default_rng(seed)
    U, V = rng.normal(size=(n_users, 3)), rng.normal(size=(n_items, 3))
    users = np.repeat(np.arange(n_users), per_user)
    affinity = np.exp(U @ V.T)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False, p=a / a.sum()) for a in affinity])
    raw = np.einsum("ij,ij->i", U[users], V[items]) + rng.normal(0, 0.3, len(users))
    ratings = np.clip(np.round(3 + raw), 1, 5)
    return RatingData.from_coo(users, items, ratings, n_users, n_items, RatingScale(1, 5, 1))


@pytest.fixture(scope="module")
def data() -> RatingData:
    return low_rank_ratings()


@pytest.mark.parametrize("cls", [MF, NSVD])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_fit_beats_the_mean_and_is_deterministic(cls, optimizer, data):
    kw = dict(factors=16, epochs=25, optimizer=optimizer, lr=0.01 if optimizer == "adam" else 0.05, reg=0.001)
    m1 = cls(**kw).fit(data, seed=3)
    m2 = cls(**kw).fit(data, seed=3)
    m3 = cls(**kw).fit(data, seed=4)
    for k in m1.params:
        assert np.array_equal(m1.params[k], m2.params[k])
    assert not np.array_equal(m1.params["Q"], m3.params["Q"])
    valid = [h["valid_mse"] for h in m1.history]
    assert m1.best_epoch == int(np.argmin(valid))
    # the kept epoch predicts held-out ratings better than the global mean does
    vals = data.values / 5.0
    assert min(valid) < 0.8 * np.var(vals)


def test_early_stopping_ends_a_fit_patience_epochs_after_its_best(data):
    # lr high enough that validation MSE turns up well before 40 epochs
    kw = dict(factors=16, epochs=40, lr=0.02, reg=0.0)
    full = MF(patience=0, **kw).fit(data, seed=1)
    stopped = MF(patience=3, **kw).fit(data, seed=1)
    assert full.epochs_run == 40 and stopped.epochs_run == stopped.best_epoch + 4 < 40
    # the same epochs as the full fit up to the stop: same history, hence the same kept epoch
    assert stopped.history == full.history[:stopped.epochs_run]
    assert stopped.best_epoch == int(np.argmin([h["valid_mse"] for h in stopped.history]))
    if full.best_epoch == stopped.best_epoch:
        for k in full.params:
            assert np.array_equal(full.params[k], stopped.params[k]), k
    # without validation ratings nothing stops early
    assert MF(patience=3, valid_fraction=0, **kw).fit(data, seed=1).epochs_run == 40
    with pytest.raises(ValueError, match="patience"):
        MF(patience=-1)


def test_history_and_callbacks(data):
    seen = []
    MF(factors=4, epochs=3).fit(data, callbacks=[lambda e, rec: seen.append((e, sorted(rec)))])
    assert [e for e, _ in seen] == [0, 1, 2]
    assert seen[0][1] == ["epoch", "train_mse", "valid_mse"]


@pytest.mark.parametrize("cls", [MF, NSVD])
def test_top_k_excludes_seen_items_and_matches_predict(cls, data):
    m = cls(factors=8, epochs=5, bias=True).fit(data, seed=0)
    users = np.array([0, 5, 17])
    top = m.top_k(users, k=10)
    scores = m.predict(users)
    assert scores.shape == (3, data.n_items)
    for row, u in enumerate(users):
        seen = set(data.user_items(u)[0].tolist())
        assert not seen & set(top.items[row].tolist())
        masked = scores[row].copy()
        masked[list(seen)] = -np.inf
        want = np.lexsort((np.arange(data.n_items), -masked))[:10]
        np.testing.assert_allclose(masked[top.items[row]], masked[want], rtol=1e-5)
    assert m.user_embeddings(users).shape == (3, 8)


def test_rank_of_query_items(data):
    m = MF(factors=8, epochs=3).fit(data)
    top = m.top_k(np.arange(4), k=5, query_items=None)
    firsts = top.items[:, :1]
    ranked = m.top_k(np.arange(4), k=5, query_items=firsts)
    assert (ranked.ranks == 1).all()


@pytest.mark.parametrize("cls", [MF, NSVD])
def test_state_round_trip_without_pickle(cls, data, tmp_path):
    m = cls(factors=8, epochs=3, bias=True).fit(data, seed=1)
    path = tmp_path / "model.npz"
    m.save(path)
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    back = load_model(path)
    assert type(back) is cls and back.best_epoch == m.best_epoch
    np.testing.assert_array_equal(back.top_k(k=7).items, m.top_k(k=7).items)
    np.testing.assert_array_equal(back.predict(np.array([2])), m.predict(np.array([2])))


def test_load_state_rejects_wrong_model_and_missing_arrays(data):
    state = MF(factors=4, epochs=1).fit(data).state()
    with pytest.raises(ValueError, match="not nsvd"):
        NSVD().load_state(state)
    del state["param_Q"]
    with pytest.raises(ValueError, match="missing"):
        MF().load_state(state)


def test_multithreaded_fit_runs_and_learns(data):
    m = MF(factors=8, epochs=10, optimizer="sgd", lr=0.05, threads=2).fit(data, seed=0)
    assert m.history[-1]["train_mse"] < m.history[0]["train_mse"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(optimizer="rmsprop"), "optimizer"), (dict(factors=0), "factors"), (dict(lr=-1), "lr"),
    (dict(valid_fraction=1.0), "valid_fraction"), (dict(epochs=0), "epochs"),
])
def test_bad_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MF(**kwargs)


def test_bad_calls(data):
    m = MF(factors=4, epochs=1)
    with pytest.raises(RuntimeError, match="not fitted"):
        m.top_k(k=3)
    m.fit(data)
    with pytest.raises(ValueError, match="user ids"):
        m.top_k(np.array([data.n_users]), k=3)
    with pytest.raises(ValueError, match="unknown model"):
        make_model("svdpp")


def test_paper_overrides_per_dataset():
    assert make_model("mf", "filmtrust").config.batch_size == 4096
    assert make_model("mf", "synthetic:filmtrust").config.batch_size == 4096
    assert make_model("mf", "ml-100k").config.batch_size == 2048
    assert make_model("mf", "filmtrust", batch_size=128).config.batch_size == 128


def test_thread_counts_are_bounded():
    from fastpoison.cli import main
    from fastpoison.models.base import MAX_THREADS
    with pytest.raises(ValueError, match="threads must lie in"):
        MF(threads=MAX_THREADS + 1)
    assert main(["run", "--dataset", "synthetic:filmtrust", "--threads", "100000", "--quiet"]) == 2


def test_bad_model_files_are_one_clear_error(tmp_path):
    import json

    from fastpoison.data.datasets import load_dataset
    from fastpoison.errors import DataError
    model = MF(factors=4, epochs=1).fit(load_dataset("synthetic:filmtrust").split.train)
    good = tmp_path / "m.npz"
    model.save(good)
    state = model.state()
    meta = json.loads(str(state["meta"]))
    P = state["param_P"].copy()
    P[0, 0] = np.nan
    cases = {
        "truncated.npz": good.read_bytes()[:200], "empty.npz": b"",
        "unknown_setting.npz": {**state, "meta": np.array(json.dumps({**meta, "config": {**meta["config"], "x": 1}}))},
        "short.npz": {**state, "param_P": state["param_P"][:5]}, "nan.npz": {**state, "param_P": P},
        "bad_ids.npz": {**state, "seen_indices": state["seen_indices"] + 10_000},
    }
    for name, content in cases.items():
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            np.savez(path, **content)
    np.save(tmp_path / "array.npy", np.zeros(3))
    for name in [*cases, "array.npy", "missing.npz"]:
        for load in (load_model, MF.load):
            with pytest.raises(DataError, match=name):
                load(tmp_path / name)
    assert np.array_equal(load_model(good).top_k(np.array([0]), 5).items, model.top_k(np.array([0]), 5).items)
