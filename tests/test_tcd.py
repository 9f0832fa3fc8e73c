"""TCD: the agreement kernel against a dense numpy reference, merging pseudo-labels,
determinism, and TCD inside experiments."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fastpoison import _core
from fastpoison.data.datasets import load_dataset
from fastpoison.data.ratings import RatingData
from fastpoison.data.split import default_threshold
from fastpoison.defenses import TCD, get_defense, with_settings
from fastpoison.models.agreement import SAMPLE_FIRST_BELOW, agreement_labels
from fastpoison.models.validation import validation_hit_ratio
from fastpoison.eval.experiment import ExperimentSpec, run_experiment
from fastpoison.models import CDAE, MF, NSVD, AutoRec


@pytest.fixture(scope="module")
def train():
    return load_dataset("synthetic:filmtrust").split.train


@pytest.fixture(scope="module")
def pair(train):
    return MF(factors=8, epochs=3).fit(train, seed=0), MF(factors=16, epochs=15).fit(train, seed=1)


def code_projection(ratings: np.ndarray, scale) -> np.ndarray:
    """The TCD code's round(x * max) / max in rating units, halves rounded up: every whole
    number of steps from the lowest rating, without clipping (float64)."""
    return scale.low + scale.step * np.floor((np.asarray(ratings, np.float64) - scale.low) / scale.step + 0.5)


def clipped_projection(ratings: np.ndarray, scale) -> np.ndarray:
    """The nearest rating of the scale (``labels=clipped``)."""
    return scale.snap(ratings)


PROJECTIONS = {"extend": code_projection, "clamp": clipped_projection}


def dense_agreement(model_a, model_b, seen: RatingData, project=code_projection):
    """Every unrated pair whose two predictions project to the same rating (dense numpy)."""
    users = np.arange(seen.n_users, dtype=np.int32)
    a, b = (project(m.predict(users), seen.scale) for m in (model_a, model_b))
    agree = (a == b) & (seen.csr.toarray() == 0)
    u, i = np.nonzero(agree)
    return u, i, a[u, i].astype(np.float32)


@pytest.mark.parametrize("ends", ["extend", "clamp"])
def test_agreement_equals_a_dense_reference(train, pair, ends):
    u, i, r = agreement_labels(*pair, train, ratio=1.0, seed=0, block_users=37, ends=ends)
    ru, ri, rr = dense_agreement(*pair, train, PROJECTIONS[ends])
    assert 0 < len(u) < train.n_users * train.n_items - train.n_ratings  # some agree, some do not
    np.testing.assert_array_equal(u, ru)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(r, rr)


@pytest.mark.parametrize("ratio", [1.0, 0.1], ids=["blocks", "sample-first"])
def test_the_papers_projection_labels_predictions_near_zero_with_zero(train, pair, ratio):
    """The TCD code's round(x * max) / max: two predictions near 0 agree on 0, below the
    lowest rating; clipped to the scale they agree on the lowest rating instead."""
    u, i, r = agreement_labels(*pair, train, ratio=ratio, seed=3)
    cu, ci, cr = agreement_labels(*pair, train, ratio=ratio, seed=3, ends="clamp")
    low, step = train.scale.low, train.scale.step
    assert low == step  # a 1..max scale: the grid extended down by one step is 0
    near_zero = [np.abs(m.predict_pairs(u, i)) < step / 2 for m in pair]
    assert (near_zero[0] & near_zero[1]).sum() > 0 and np.all(r[near_zero[0] & near_zero[1]] == 0)
    below = r < low
    assert below.sum() > 0
    clipped = dict(zip(zip(cu.tolist(), ci.tolist()), cr.tolist()))
    assert all(clipped.get(p) == low for p in zip(u[below].tolist(), i[below].tolist()))
    assert np.all(r[~below] >= low)


@pytest.mark.parametrize("ratio", [1.0, 0.1], ids=["blocks", "sample-first"])
def test_min_item_ratings_keeps_the_labels_of_known_items(train, pair, ratio):
    u, i, r = agreement_labels(*pair, train, ratio=ratio, seed=3)
    ku, ki, kr = agreement_labels(*pair, train, ratio=ratio, seed=3, min_item_ratings=5)
    known = train.item_counts()[i] >= 5
    assert 0 < known.sum() < len(i)  # some items are rare here, some are not
    np.testing.assert_array_equal(ku, u[known])
    np.testing.assert_array_equal(ki, i[known])
    np.testing.assert_array_equal(kr, r[known])
    with pytest.raises(ValueError, match="min_item_ratings"):
        TCD(min_item_ratings=-1)


@pytest.mark.parametrize("ratio", [1.0, 0.1], ids=["blocks", "sample-first"])
def test_in_range_agreement_drops_predictions_outside_the_grid(train, pair, ratio):
    pair = (MF(factors=16, epochs=15).fit(train, seed=2), pair[1])  # both predict within the grid somewhere
    u, i, r = agreement_labels(*pair, train, ratio=ratio, seed=3, ends="clamp")
    ku, ki, kr = agreement_labels(*pair, train, ratio=ratio, seed=3, ends="drop")
    scale = train.scale
    lo, hi = scale.low - scale.step / 2, scale.high + scale.step / 2
    inside = np.ones(len(u), dtype=bool)
    for model in pair:
        p = model.predict_pairs(u, i)
        inside &= (p >= lo) & (p < hi)
    assert 0 < inside.sum() < len(u)  # some agreement is clipping here, some is not
    np.testing.assert_array_equal(ku, u[inside])
    np.testing.assert_array_equal(ki, i[inside])
    np.testing.assert_array_equal(kr, r[inside])


def test_validation_hit_ratio_ranks_held_out_items_among_unrated_ones(train, pair):
    model = pair[1]
    fit_part, valid = model.split_validation(train, 0)
    hr, n = validation_hit_ratio(model, fit_part, valid, k=20, liked=4.0)
    users = np.arange(train.n_users, dtype=np.int32)
    scores = model.predict(users).astype(np.float64)
    scores[fit_part.csr.toarray() > 0] = -np.inf
    vu, vi, vr = valid
    liked = vr >= 4.0
    above = (scores[vu[liked]] > scores[vu[liked], vi[liked]][:, None]).sum(axis=1)
    assert n == liked.sum() > 0
    assert hr == pytest.approx(np.mean(above < 20)) and 0 < hr < 1


def test_auto_labels_keep_one_of_the_two_fits(train):
    factory = lambda **o: MF(factors=8, **o)  # noqa: E731
    settings = {"pretrain_epochs": 1, "epochs": 3, "pseudo_ratio": 0.5}
    auto = TCD(labels="auto", **settings).fit(factory, train, seed=2)
    notes = auto.fit_notes
    assert set(notes) == {"labels", "labels_per_rating", "lowest_label_share", "valid_hr_clipped", "valid_hr_in_range",
                          "valid_pairs", "margin"}
    chosen = "clipped" if notes["valid_hr_clipped"] - notes["valid_hr_in_range"] > notes["margin"] else "in-range"
    assert notes["labels"] == chosen
    same = TCD(labels=chosen, **settings).fit(factory, train, seed=2)
    other = TCD(labels="in-range" if chosen == "clipped" else "clipped", **settings).fit(factory, train, seed=2)
    assert same.fit_notes == {key: notes[key] for key in ("labels", "labels_per_rating", "lowest_label_share")}
    assert all(np.array_equal(auto.params[k], same.params[k]) for k in auto.params)
    assert not all(np.array_equal(auto.params[k], other.params[k]) for k in auto.params)


def test_sampling_depends_on_the_seed_only(train, pair):
    full = agreement_labels(*pair, train, ratio=1.0, seed=0)
    runs = [agreement_labels(*pair, train, ratio=0.3, seed=5, block_users=b, threads=t) for b, t in
            ((256, 1), (19, 2), (1000, 2))]
    for other in runs[1:]:
        for x, y in zip(runs[0], other):
            np.testing.assert_array_equal(x, y)
    keys = lambda labels: set(zip(labels[0].tolist(), labels[1].tolist()))  # noqa: E731
    sampled, everything = keys(runs[0]), keys(full)
    assert sampled < everything and abs(len(sampled) / len(everything) - 0.3) < 0.01
    assert keys(agreement_labels(*pair, train, ratio=0.3, seed=6)) != sampled


def test_unrated_pairs_are_drawn_at_the_ratio(train):
    unrated = train.n_users * train.n_items - train.n_ratings
    u, i = _core.sample_unrated_pairs(train.indptr, train.indices, train.n_items, 1.0, 3)
    assert len(u) == unrated and train.csr[u, i].sum() == 0
    unrated_per_item = train.n_users - np.bincount(train.indices, minlength=train.n_items)
    for ratio in (0.3, 0.004):
        u, i = _core.sample_unrated_pairs(train.indptr, train.indices, train.n_items, ratio, 3)
        expected = ratio * unrated
        assert abs(len(u) - expected) < 4 * np.sqrt(expected)
        assert train.csr[u, i].sum() == 0 and np.all(np.diff(u.astype(np.int64) * train.n_items + i) > 0)
        again = _core.sample_unrated_pairs(train.indptr, train.indices, train.n_items, ratio, 3, 2)
        np.testing.assert_array_equal(i, again[1])
        # every item is drawn at the ratio, wherever it sits in the row
        share = np.bincount(i, minlength=train.n_items) / unrated_per_item
        half = train.n_items // 2
        assert abs(share[:half].mean() - ratio) < 0.05 * ratio and abs(share[half:].mean() - ratio) < 0.05 * ratio
    with pytest.raises(ValueError):
        _core.sample_unrated_pairs(train.indptr, train.indices, train.n_items, 0.0, 3)


@pytest.mark.parametrize("ends", ["extend", "clamp"])
def test_sample_first_agreement_keeps_the_drawn_pairs_that_agree(train, pair, ends):
    ratio = 0.05
    assert ratio < SAMPLE_FIRST_BELOW
    u, i, r = agreement_labels(*pair, train, ratio=ratio, seed=9, ends=ends)
    drawn = _core.sample_unrated_pairs(train.indptr, train.indices, train.n_items, ratio, 9)
    ru, ri, rr = dense_agreement(*pair, train, PROJECTIONS[ends])
    agreeing = dict(zip(zip(ru.tolist(), ri.tolist()), rr.tolist()))
    expected = [(a, b) for a, b in zip(*(x.tolist() for x in drawn)) if (a, b) in agreeing]
    assert 0 < len(expected) < len(drawn[0])
    assert list(zip(u.tolist(), i.tolist())) == expected
    np.testing.assert_array_equal(r, [agreeing[p] for p in expected])


def test_agreement_kernel_rejects_bad_input(train):
    s = np.zeros((2, train.n_items), dtype=np.float32)
    users = np.array([0, 1], dtype=np.int32)
    args = dict(indptr=train.indptr, indices=train.indices, low=0.5, step=0.5, levels=8, seed=0, n_threads=1)
    for bad in ({"ratio": 0.0}, {"ratio": 1.5}, {"ratio": 1.0, "step": 0.0}, {"ratio": 1.0, "levels": 0},
                {"ratio": 1.0, "ends": "round"}):
        with pytest.raises(ValueError):
            _core.agreement_pairs(s, s, users, **{**args, **bad})
    with pytest.raises(ValueError, match="users"):
        _core.agreement_pairs(s, s, np.array([0, train.n_users], dtype=np.int32), ratio=1.0, **args)
    with pytest.raises(ValueError):
        _core.agreement_pairs(s, s[:1], users, ratio=1.0, **args)


def test_with_ratings_merges_rows_in_item_order(train):
    extra_users = np.array([0, 0, 3], dtype=np.int32)
    unrated = [np.setdiff1d(np.arange(train.n_items), train.user_items(u)[0])[:2] for u in (0, 3)]
    extra_items = np.array([unrated[0][0], unrated[0][1], unrated[1][0]], dtype=np.int32)
    merged = train.with_ratings(extra_users, extra_items, np.array([1.0, 2.0, 3.0], dtype=np.float32))
    assert merged.n_ratings == train.n_ratings + 3
    expected = train.csr.tolil()
    expected[0, extra_items[0]], expected[0, extra_items[1]], expected[3, extra_items[2]] = 1.0, 2.0, 3.0
    assert (merged.csr != expected.tocsr()).nnz == 0
    assert all(np.all(np.diff(merged.user_items(u)[0]) > 0) for u in range(merged.n_users))
    rated = train.user_items(0)[0][:1]
    with pytest.raises(ValueError, match="new pairs"):
        train.with_ratings(np.array([0], np.int32), rated.astype(np.int32), np.array([1.0], np.float32))
    with pytest.raises(ValueError, match="ascending"):
        train.with_ratings(extra_users[:2], extra_items[1::-1].copy(), np.array([1.0, 1.0], np.float32))
    with pytest.raises(ValueError, match="ascending user"):
        train.with_ratings(np.array([3, 0], np.int32), extra_items[:2], np.array([1.0, 1.0], np.float32))


@pytest.mark.parametrize("cls", [MF, NSVD])
def test_tcd_is_deterministic_and_trains_model_zero(train, cls):
    tcd = TCD(pretrain_epochs=1, epochs=3, pseudo_ratio=0.5)
    factory = lambda **o: cls(factors=8, **o)  # noqa: E731
    first, second = tcd.fit(factory, train, seed=3), tcd.fit(factory, train, seed=3)
    for k in first.params:
        assert np.array_equal(first.params[k], second.params[k]), k
    assert [h["pseudo_labels"] for h in first.history][0] == 0 and first.history[-1]["pseudo_labels"] > 0
    assert not np.array_equal(first.params[cls.param_names[0]],
                              tcd.fit(factory, train, seed=4).params[cls.param_names[0]])


@pytest.mark.parametrize("cls", [AutoRec, CDAE])
def test_tcd_trains_auto_encoders(train, cls, monkeypatch):
    added = []
    merge = RatingData.with_ratings

    def spy(self, users, items, ratings):
        added.append(ratings)
        return merge(self, users, items, ratings)
    monkeypatch.setattr(RatingData, "with_ratings", spy)
    tcd = TCD(pretrain_epochs=2, epochs=4, pseudo_ratio=1.0)
    factory = lambda **o: cls(hidden=16, batch_size=64, **o)  # noqa: E731
    first = tcd.fit(factory, train, seed=3)
    labels = np.concatenate(added)
    assert first.history[0]["pseudo_labels"] == 0 and first.history[-1]["pseudo_labels"] > 0 and len(labels)
    if cls.implicit_feedback:  # every rating is an interaction: only the agreed "liked" pairs are added
        assert labels.min() >= default_threshold(train.scale) - 1e-4
    else:
        assert labels.min() < default_threshold(train.scale)
    second = tcd.fit(factory, train, seed=3)
    for k in first.params:
        assert np.array_equal(first.params[k], second.params[k]), k


def test_tcd_settings():
    assert (TCD.for_dataset("ml-100k").pretrain_epochs, TCD.for_dataset("ml-100k").pseudo_ratio) == (4, 1.0)
    assert (TCD.for_dataset("synthetic:yelp").pseudo_ratio, TCD.for_dataset("yelp").pseudo_budget) == (0.2, 4.0)
    assert TCD.for_dataset("mine", n_pairs=10**9).pseudo_budget == 4.0
    assert TCD.for_dataset("mine", n_pairs=10**5).pseudo_budget is None
    assert TCD.for_dataset("ml-1m").pseudo_budget is None  # the paper's own settings are left alone
    assert [TCD.for_dataset(name).labels for name in ("ml-100k", "filmtrust", "ml-1m")] == ["agree"] * 3
    assert [TCD.for_dataset(name).labels for name in ("yelp", "synthetic:longtail", "mine")] == ["auto"] * 3
    for bad in ({"pseudo_ratio": 0}, {"pseudo_ratio": 1.1}, {"pretrain_epochs": -1}, {"epochs": 0}, {"labels": "all"}):
        with pytest.raises(ValueError):
            TCD(**bad)
    assert isinstance(get_defense("tcd+rvd", dataset="filmtrust").training, TCD)


def test_victims_whose_scores_only_rank_get_a_label_budget_by_default():
    """BPR-MF's and LightGCN's sigmoid(score) is no rating estimate: their TCD caps the labels
    at one per rating (ours) where the dataset's settings set no cap; a user's setting wins."""
    budget = {m: get_defense("tcd", dataset="ml-100k", model=m).training.pseudo_budget
              for m in ("mf", "nsvd", "autorec", "cdae", "bprmf", "lightgcn")}
    assert budget == {"mf": None, "nsvd": None, "autorec": None, "cdae": None, "bprmf": 1.0, "lightgcn": 1.0}
    assert get_defense("tcd", dataset="yelp", model="lightgcn").training.pseudo_budget == 4.0
    assert get_defense("tcd[pseudo_budget=none]", dataset="ml-100k", model="bprmf").training.pseudo_budget is None


def test_pseudo_budget_caps_the_labels_per_rating(train):
    factory = lambda **o: MF(factors=8, **o)  # noqa: E731
    full = TCD(pretrain_epochs=1, epochs=2, pseudo_ratio=1.0).fit(factory, train, seed=0)
    fit_ratings = round(train.n_ratings * 0.9)  # the validation split keeps 10 %
    for budget in (0.5, 2.0):
        tcd = TCD(pretrain_epochs=1, epochs=2, pseudo_ratio=1.0, pseudo_budget=budget)
        expected = tcd.sampling_ratio(train, fit_ratings) * full.history[-1]["pseudo_labels"]
        got = tcd.fit(factory, train, seed=0).history[-1]["pseudo_labels"]
        # models 1 and 2 learn from a model 0 that already trained on other labels: close, not equal
        assert abs(got - expected) < 0.1 * expected and got <= 1.05 * budget * fit_ratings
    assert full.history[-1]["pseudo_labels"] > 5 * fit_ratings  # the cap binds on this data
    assert TCD(pseudo_ratio=0.01, pseudo_budget=100.0).sampling_ratio(train, fit_ratings) == 0.01
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="pseudo_budget"):
            TCD(pseudo_budget=bad)


def test_notes_say_how_many_labels_there_were_and_how_many_at_the_lowest_rating(train, monkeypatch):
    import fastpoison.defenses.tcd as tcd_module

    drawn = []

    def recorded(*args, **kwargs):
        labels = agreement_labels(*args, **kwargs)
        drawn.append(labels[2])
        return labels

    monkeypatch.setattr(tcd_module, "agreement_labels", recorded)
    factory = lambda **o: MF(factors=8, **o)  # noqa: E731
    head = TCD(pretrain_epochs=1, epochs=3).fit(factory, train, seed=0)
    assert len(drawn) == 3 * 2  # three models, two co-training epochs
    fit_ratings = round(train.n_ratings * (1 - head.config.valid_fraction))
    per_epoch = [sum(len(v) for v in drawn[e:e + 3]) / 3 / fit_ratings for e in (0, 3)]
    lowest = sum(int(np.count_nonzero(v <= train.scale.low + 1e-4)) for v in drawn) / sum(len(v) for v in drawn)
    notes = head.fit_notes
    assert notes["labels_per_rating"] == pytest.approx(np.mean(per_epoch), rel=1e-3)
    assert notes["lowest_label_share"] == pytest.approx(lowest, rel=1e-6)
    assert 0 < lowest < 1
    assert "labels_per_rating" not in TCD(pretrain_epochs=2, epochs=2).fit(factory, train, seed=0).fit_notes


def test_bracketed_settings_reach_each_part():
    plan = get_defense("tcd[pseudo_budget=1]+rvd[k=7]", dataset="ml-1m", model="mf")
    assert plan.serving.k == 7 and plan.training.pseudo_budget == 1.0 and plan.training.pretrain_epochs == 2
    assert plan.name == "tcd[pseudo_budget=1]+rvd[k=7]"
    assert plan.settings()["tcd"]["pseudo_ratio"] == 0.2 and plan.settings()["rvd"]["epochs"] is None
    assert plan.settings()["rvd"]["step"] == "model"  # the paper's fine-tune: the model's own epochs
    assert get_defense("ltsmf[trim=0.2]").training.trim == 0.2
    assert with_settings("tcd+rvd", {"pseudo_budget": 1, "k": 3}) == "tcd[pseudo_budget=1]+rvd[k=3]"
    with pytest.raises(ValueError, match="accepts .*pseudo_budget"):
        get_defense("tcd[budget=1]")
    with pytest.raises(ValueError, match="no part"):
        with_settings("rvd", {"trim": 3})
    with pytest.raises(ValueError, match="trim"):
        get_defense("ltsmf[trim=2.0]")
    with pytest.raises(ValueError, match="setting k takes int"):
        get_defense("rvd[k=2.5]")


def test_tcd_stops_early_but_co_trains_at_least_patience_epochs(train):
    tcd = TCD(pretrain_epochs=2, epochs=40, pseudo_ratio=0.5)
    factory = lambda **o: MF(factors=8, lr=0.02, reg=0.0, patience=2, **o)  # noqa: E731
    head = tcd.fit(factory, train, seed=0)
    assert head.epochs_run < 40
    assert head.epochs_run == max(head.best_epoch, tcd.pretrain_epochs) + 3
    assert head.best_epoch == int(np.argmin([h["valid_mse"] for h in head.history]))
    full = tcd.fit(lambda **o: MF(factors=8, lr=0.02, reg=0.0, patience=0, **o), train, seed=0)
    assert full.epochs_run == 40 and full.history[:head.epochs_run] == head.history


def test_tcd_in_an_experiment():
    spec = ExperimentSpec(dataset="synthetic:filmtrust", model="nsvd", attack="random", defense="tcd",
                          targets="unpopular", seeds=2, model_options={"epochs": 3, "factors": 8})
    r = run_experiment(spec)
    assert len(r["hr_defense"]["values"]) == 2 and r["timings"]["defense_fit"] > 0
    # the paper's labels on a paper dataset's twin, and what they were
    assert [notes["labels"] for notes in r["defense_notes"]] == ["agree"] * 2
    assert all(notes["labels_per_rating"] > 0 and 0 <= notes["lowest_label_share"] <= 1 for notes in r["defense_notes"])
    # each stage's fit per seed: the epoch it kept and the epochs it ran
    for stage in ("origin", "attack", "defense"):
        assert len(r["epochs"][stage]) == 2
        assert all(0 <= e["kept_epoch"] < e["epochs_run"] <= 3 for e in r["epochs"][stage])


def test_run_reports_what_auto_labels_chose(capsys):
    from fastpoison.cli import main
    assert main(["run", "--dataset", "synthetic:sparse", "--attack", "average", "--defense", "tcd[epochs=3]",
                 "--targets", "unpopular", "--epochs", "3", "--factors", "8", "--quiet", "--json", "-"]) == 0
    notes = json.loads(capsys.readouterr().out)["defense_notes"]
    assert len(notes) == 1 and notes[0]["labels"] in ("clipped", "in-range") and notes[0]["valid_pairs"] > 0
