"""The canary check: the defender's own attack is staged as specified, its verdict follows the
canary targets' HR, a declined defense serves the undefended model and says so (warning,
notes, the `=` mark in report tables), and the defaults turn it on only off the papers' data."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fastpoison.data.datasets import load_dataset
from fastpoison.data.targets import UNPOPULAR_BELOW
from fastpoison.defenses import RVD, TCD, get_defense
from fastpoison.defenses.canary import CANARY_ITEMS, CANARY_SIZE, MIN_HITS, Verdict, judge, stage_canary
from fastpoison.eval import backfire
from fastpoison.eval.experiment import ExperimentSpec
from fastpoison.eval.report import collect, render
from fastpoison.eval.runner import run_grid
from fastpoison.models import MF
from fastpoison.models.scoring import TopK


@pytest.fixture(scope="module")
def train():
    return load_dataset("synthetic:sparse").split.train


def test_the_canary_is_an_average_attack_on_unpopular_items_by_three_percent_of_the_users(train):
    canary = stage_canary(train, seed=3)
    data, items = canary.data, canary.items
    n_fake = int(CANARY_SIZE * train.n_users)
    assert data.n_users == train.n_users + n_fake and items.size == CANARY_ITEMS
    assert np.all((train.item_counts()[items] > 0) & (train.item_counts()[items] < UNPOPULAR_BELOW))
    assert np.array_equal(data.indptr[:train.n_users + 1], train.indptr)  # real rows untouched
    profile = round(train.n_ratings / train.n_users)
    for u in range(train.n_users, data.n_users):
        cols, vals = data.indices[data.indptr[u]:data.indptr[u + 1]], data.values[data.indptr[u]:data.indptr[u + 1]]
        assert cols.size == profile and np.all(vals[np.isin(cols, items)] == train.scale.high)
        assert np.isin(items, cols).all() and np.all(train.scale.contains(vals))
    assert canary.users.max() < train.n_users and np.all(np.diff(canary.users) > 0)
    again = stage_canary(train, seed=3)
    assert np.array_equal(again.items, items) and np.array_equal(again.data.indices, data.indices)
    assert not np.array_equal(stage_canary(train, seed=4).data.indices, data.indices)


def test_hits_count_the_unrated_pairs_in_the_top_lists(train):
    canary = stage_canary(train, seed=0)
    rated = sum(np.isin(canary.items, train.indices[train.indptr[u]:train.indptr[u + 1]]).sum() for u in canary.users)

    def first(users, k):  # the canary items at the head of every list
        items = np.tile(np.concatenate([canary.items, np.full(k - canary.items.size, -1)]), (len(users), 1))
        return TopK(items.astype(np.int32), np.zeros(items.shape, np.float32))

    def none(users, k):
        return TopK(np.full((len(users), k), -1, np.int32), np.zeros((len(users), k), np.float32))

    hits = canary.hits(first)
    assert hits.size == canary.users.size * CANARY_ITEMS - rated and hits.all()
    assert not canary.hits(none).any()


def test_the_verdict_keeps_only_a_defense_that_lowers_the_canary_beyond_chance():
    plain = np.zeros(100, bool)
    plain[:40] = True
    lowered = plain & (np.arange(100) >= 20)  # 20 hits fewer, none new: 20 > 2 sqrt(20)
    assert judge(plain, lowered).judged and not judge(plain, lowered).declined
    slightly = plain & (np.arange(100) >= 3)  # 3 fewer: 3 < 2 sqrt(3)
    assert judge(plain, slightly).declined
    churned = (plain & (np.arange(100) >= 30)) | ((np.arange(100) >= 40) & (np.arange(100) < 45))
    verdict = judge(plain, churned)  # 30 lost, 5 gained: 25 > 2 sqrt(35)
    assert (verdict.lowered, verdict.raised) == (30, 5) and not verdict.declined
    assert judge(plain, plain).declined and judge(plain, ~plain).declined
    few, fewer_still = np.zeros(100, bool), np.zeros(100, bool)
    few[:MIN_HITS - 2] = True
    fewer_still[:1] = True
    assert not judge(few, fewer_still).judged and not judge(few, fewer_still).declined
    lifted = np.zeros(100, bool)
    lifted[:MIN_HITS] = True
    assert judge(fewer_still, lifted).declined  # a canary the defense lifts is judged however weak it was
    assert judge(plain, plain).notes()["canary"] == "declined" and "inactive" in judge(plain, plain).notes()
    assert "inactive" not in judge(plain, lowered).notes()


def declining(plain, defended) -> Verdict:
    return Verdict(0.1, 0.2, 100, 0, 10, True)


def test_a_declined_tcd_returns_the_undefended_fit_and_says_so(train, monkeypatch):
    monkeypatch.setattr("fastpoison.defenses.tcd.judge", declining)
    tcd = TCD(epochs=3, pretrain_epochs=1, canary=True)
    with pytest.warns(UserWarning, match="tcd declined: on a canary attack"):
        model = tcd.fit(lambda **o: MF(factors=8, epochs=3, **o), train, seed=2)
    plain = MF(factors=8, epochs=3).fit(train, seed=2)
    assert all(np.array_equal(model.params[k], plain.params[k]) for k in plain.params)
    assert model.fit_notes["canary"] == "declined" and model.fit_notes["labels"] == "agree"


def test_a_declined_rvd_serves_the_model_own_lists(train, monkeypatch):
    model = MF(factors=8, epochs=5).fit(train, seed=0)
    users = np.arange(20, dtype=np.int32)
    monkeypatch.setattr("fastpoison.defenses.rvd.judge", declining)
    with pytest.warns(UserWarning, match="rvd declined"):
        rvd = RVD(model, k=12, epochs=2, canary=True)
    assert rvd.notes["canary"] == "declined"
    assert np.array_equal(rvd.recommend(users, 20).items, model.top_k(users, 20).items)
    model.seen_values = None  # as a model saved without its ratings' values
    assert RVD(model, k=12, epochs=2, canary=True).notes["canary"].startswith("not run")


def test_where_the_defenses_defend_the_canary_keeps_them(train):
    """On the sparse twin both defenses lower a real Average attack's targets (docs/papers.md);
    the canary must see that and keep them."""
    model = MF(factors=16, epochs=20).fit(train, seed=0)
    rvd = RVD(model, k=50, canary=True, seed=0)
    assert rvd.notes["canary"] == "kept" and rvd.notes["canary_hr_defended"] < rvd.notes["canary_hr_plain"]
    fitted = TCD(pretrain_epochs=2, epochs=10, canary=True).fit(lambda **o: MF(factors=16, epochs=20, **o), train)
    assert fitted.fit_notes["canary"] == "kept"


def test_the_check_is_on_only_where_the_defaults_are_ours():
    for dataset in ("ml-100k", "ml-1m", "filmtrust"):
        assert get_defense("tcd", dataset=dataset, model="mf").training.canary is False
        assert get_defense("rvd", dataset=dataset, model="mf").serving.canary is False
    for dataset in ("synthetic:longtail", "synthetic:sparse", None):
        assert get_defense("tcd", dataset=dataset, model="mf").training.canary is True
    assert get_defense("rvd", dataset="synthetic:longtail", model="mf").serving.canary is True
    assert get_defense("tcd[canary=false]", dataset="synthetic:longtail", model="mf").training.canary is False


def test_report_marks_a_declined_cell(tmp_path, monkeypatch):
    monkeypatch.setattr("fastpoison.defenses.rvd.judge", declining)
    spec = ExperimentSpec(dataset="synthetic:sparse", attack="average", defense="rvd[k=25,epochs=2]",
                          targets="unpopular", model_options={"factors": 8, "epochs": 5})
    with pytest.warns(UserWarning):
        run_grid([spec], str(tmp_path), workers=1)
    record = json.loads(next(tmp_path.glob("*.json")).read_text())
    result = record["result"]
    assert result["hr_defense"]["values"] == result["hr_attack"]["values"]  # the undefended model served
    assert result["defense_notes"][0]["canary"] == "declined"
    text = render(collect([record]), "md")
    row = [line for line in text.splitlines() if line.startswith("| rvd")][0]
    assert f"± 0.0000 {backfire.INACTIVE_MARK}" in row and backfire.INACTIVE_LEGEND in text
