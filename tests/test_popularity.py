"""The popularity baseline: counts, ties, seen items, ranks, persistence, the defenses that
refuse it, the command line and its test HR on real ML-100K."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fastpoison.cli import main
from fastpoison.data import RatingData, RatingScale
from fastpoison.defenses import RVD, TCD
from fastpoison.eval.experiment import ExperimentSpec, run_experiment
from fastpoison.models import MODELS, Popularity, load_model, make_model

# items rated 3, 1, 3, 0, 2, 1 times: 0 and 2 tie, so do 1 and 5
USERS = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
ITEMS = [0, 2, 4, 0, 2, 0, 2, 5, 1, 4]
COUNTS = [3, 1, 3, 0, 2, 1]


@pytest.fixture()
def data() -> RatingData:
    ratings = [5, 1, 2, 4, 3, 1, 2, 5, 4, 3]
    return RatingData.from_coo(np.array(USERS), np.array(ITEMS), np.array(ratings, dtype=float), 5, 6,
                               RatingScale(1, 5, 1))


@pytest.fixture()
def pop(data) -> Popularity:
    return make_model("pop").fit(data)


def test_registered_under_pop_and_fitted_in_one_pass(data):
    seen = []
    model = make_model("pop", epochs=7).fit(data, seed=3, callbacks=[lambda e, rec: seen.append((e, sorted(rec)))])
    assert MODELS["pop"] is Popularity and model.name == "pop"
    assert model.params["counts"].tolist() == COUNTS  # every rating counts: no validation share held out
    assert seen == [(0, ["epoch", "train_mse"])] and model.best_epoch == 0 and len(model.history) == 1


def test_ranking_is_the_counts_with_ties_to_the_lower_id(pop):
    top = pop.top_k(np.array([4]), k=6, exclude_seen=False)  # user 4 rated nothing anyway
    assert top.items[0].tolist() == [0, 2, 4, 1, 5, 3]
    assert top.scores[0].tolist() == [3, 3, 2, 1, 1, 0]
    assert pop.top_k(k=6, exclude_seen=False).items.tolist() == [[0, 2, 4, 1, 5, 3]] * 5


def test_seen_items_are_excluded(pop, data):
    top = pop.top_k(k=6)
    for user in range(data.n_users):
        rated = set(data.user_items(user)[0].tolist())
        unrated = [i for i in (0, 2, 4, 1, 5, 3) if i not in rated]
        assert top.items[user].tolist() == unrated + [-1] * len(rated)


def test_ranks_of_query_items(pop):
    # user 0 rated 0, 2, 4: the unrated order is 1, 5, 3; user 4 rated nothing
    top = pop.top_k(np.array([0, 4]), k=2, query_items=np.array([[3, 1, 0], [3, 1, 0]]))
    assert top.ranks.tolist() == [[3, 1, -1], [6, 4, 1]]


def test_predict_maps_the_counts_onto_the_rating_scale(pop):
    rows = pop.predict(np.array([0, 3]))
    expected = 1 + 4 * np.array(COUNTS) / 3
    np.testing.assert_allclose(rows, [expected, expected], rtol=1e-6)
    np.testing.assert_allclose(pop.predict_pairs(np.array([1, 2]), np.array([3, 4])), expected[[3, 4]], rtol=1e-6)


def test_fake_users_count(data, pop):
    fakes = RatingData.from_coo(np.array([0, 0, 1]), np.array([3, 5, 3]), np.array([5.0, 2.0, 5.0]), 2, 6,
                                data.scale)
    attacked = make_model("pop").fit(data.with_fake_users(fakes))
    assert attacked.params["counts"].tolist() == [3, 1, 3, 2, 2, 2]
    assert pop.top_k(np.array([4]), k=6, query_items=np.array([[3]])).ranks[0, 0] == 6
    assert attacked.top_k(np.array([4]), k=6, query_items=np.array([[3]])).ranks[0, 0] == 3


def test_state_round_trip_without_pickle(pop, tmp_path):
    path = tmp_path / "pop.npz"
    pop.save(path)
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    back = load_model(path)
    assert type(back) is Popularity and back.params["counts"].tolist() == COUNTS
    np.testing.assert_array_equal(back.top_k(k=4).items, pop.top_k(k=4).items)
    np.testing.assert_array_equal(back.predict(np.array([1])), pop.predict(np.array([1])))


def test_rvd_and_tcd_refuse_it(pop, data):
    with pytest.raises(ValueError, match="user embeddings.*'pop'"):
        RVD(pop, k=2, exact=True)
    with pytest.raises(ValueError, match="pop fits the same model whatever the seed"):
        TCD().fit(lambda **o: make_model("pop", **o), data)


def test_cli_run_train_and_grid(tmp_path, capsys):
    out = tmp_path / "run.json"
    argv = ["run", "--dataset", "synthetic:ml-100k", "--model", "pop", "--attack", "average", "--targets",
            "unpopular", "--quiet", "--json", str(out)]
    assert main(argv) == 0
    r = json.loads(out.read_text())
    assert r["model"] == "pop" and 0 < r["test_hr_origin"]["mean"] < 1
    assert r["rank_shift_attack"]["share_negative"] == 1.0  # fake ratings lift every target for every user
    assert main(["train", "--dataset", "synthetic:ml-100k", "--model", "pop", "--out", str(tmp_path / "p.npz"),
                 "--quiet"]) == 0
    assert load_model(tmp_path / "p.npz").name == "pop"
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\ndataset = "synthetic:ml-100k"\nmodel = ["pop"]\nattack = ["none", "random"]\n')
    assert main(["grid", str(grid), "--out", str(tmp_path / "records"), "--quiet"]) == 0
    assert main(["run", "--dataset", "synthetic:ml-100k", "--model", "pop", "--defense", "rvd", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'pop'" in err


def test_real_ml100k_test_hr(shared_data):
    """Popularity's test HR@50 on ML-100K's leave-one-out split is about 0.32 (MF's: 0.24)."""
    spec = ExperimentSpec(dataset="ml-100k", model="pop", data_dir=str(shared_data), require_real=True)
    result = run_experiment(spec)
    assert result["data_source"] == "real"
    assert 0.31 <= result["test_hr_origin"]["mean"] <= 0.33, result["test_hr_origin"]


def test_bench_leaves_out_the_defenses_that_refuse_it():
    from fastpoison.defenses import applies
    from fastpoison.eval.bench import standard_grid
    cells = standard_grid("synthetic:ml-100k", models=("mf", "pop"))
    assert {c.defense for c in cells if c.model == "pop"} == {None}
    assert [(c.attack, c.defense) for c in standard_grid("synthetic:ml-100k") if c.model == "pop"] == [(None, None)]
    assert {c.defense for c in cells if c.model == "mf"} >= {"rvd", "tcd[pseudo_budget=1]"}
    assert applies("ltsmf+rvd", "mf") and not applies("ltsmf", "pop") and not applies("tcd", "pop")
    with pytest.raises(ValueError, match="does not apply to model 'pop'"):
        ExperimentSpec(dataset="synthetic:ml-100k", model="pop", defense="rvd")
