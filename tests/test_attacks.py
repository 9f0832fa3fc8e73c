"""Attacks: the shared threat model, profile validity, determinism, and that they work."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from fastpoison.errors import DataError

from fastpoison.attacks import ATTACKS, AttackerView, ThreatModel, get_attack
from fastpoison.attacks.coattack import GCoAttack
from fastpoison.attacks.profiles_io import read_fakes, write_fakes
from fastpoison.cli import main
from fastpoison.data.datasets import load_dataset
from fastpoison.data.registry import tcd_settings
from fastpoison.data.targets import choose_targets
from fastpoison.eval.metrics import target_hit_ratio
from fastpoison.models import MF
from fastpoison.models.agreement import sampling_ratio


#: Lighter settings for the attacks that co-train models, to keep the suite short.
QUICK = {"coattack": {"epochs": 10}, "gcoattack": {"epochs": 6, "pseudo_ratio": 0.1}}


def attack(name: str):
    """The registered attack ``name``, with `QUICK` settings where it has them."""
    return ATTACKS[name](**QUICK.get(name, {}))


@pytest.fixture(scope="module")
def small():
    """The synthetic FilmTrust twin (796 users x 2011 items, half-step grid)."""
    return load_dataset("synthetic:filmtrust").split.train


@pytest.fixture(scope="module")
def ml():
    return load_dataset("synthetic:ml-100k").split.train


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_profiles_are_valid(name, small):
    targets = choose_targets(small, "unpopular", 5, seed=1)
    fakes = attack(name).generate(small, targets, seed=3)
    r, t = fakes.ratings, fakes.threat
    assert t.n_fake == int(0.03 * small.n_users) == r.n_users
    assert t.n_filler == round(small.n_ratings / small.n_users) - 5  # a mean-sized profile, targets included
    assert np.all(np.diff(r.indptr) == t.n_filler + 5)
    assert np.all(small.scale.contains(r.values))
    for z in range(r.n_users):
        items, ratings = r.user_items(z)
        assert np.unique(items).size == items.size
        assert set(targets) <= set(items.tolist())
        assert np.all(ratings[np.isin(items, targets)] == small.scale.high)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_same_seed_same_profiles_other_seed_other(name, small):
    targets = choose_targets(small, "random", 5, seed=0)
    a, b = (attack(name).generate(small, targets, seed=7, n_filler=20) for _ in range(2))
    c = attack(name).generate(small, targets, seed=8, n_filler=20)
    assert np.array_equal(a.ratings.indices, b.ratings.indices) and np.array_equal(a.ratings.values, b.ratings.values)
    assert not (np.array_equal(a.ratings.indices, c.ratings.indices)
                and np.array_equal(a.ratings.values, c.ratings.values))


def _mean_target_rank(train, targets, seed=0):
    model = MF(factors=32, epochs=15).fit(train, seed=seed)
    real = np.arange(train.n_real_users, dtype=np.int32)
    query = np.broadcast_to(targets, (real.size, targets.size))
    ranks = model.top_k(real, 10, query_items=query).ranks.astype(float)
    ranks[ranks < 0] = np.nan  # a user who rated the target
    return np.nanmean(ranks)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_poisoning_improves_the_targets_rank(name, ml):
    targets = choose_targets(ml, "unpopular", 5, seed=2)
    fakes = attack(name).generate(ml, targets, seed=2)
    before, after = _mean_target_rank(ml, targets), _mean_target_rank(fakes.inject(ml), targets)
    assert after < 0.8 * before, (before, after)


@pytest.mark.parametrize("kwargs, message", [
    ({"knowledge": 0.0}, "knowledge"), ({"knowledge": 1.2}, "knowledge"), ({"n_fake": 0}, "fake users"),
    ({"n_filler": 0}, "filler"), ({"n_filler": 10**6}, "filler"), ({"size": 0.0}, "size"),
])
def test_threat_model_rejects_bad_sizes(kwargs, message, small):
    with pytest.raises(ValueError, match=message):
        get_attack("random").generate(small, np.array([1, 2]), **kwargs)


@pytest.mark.parametrize("targets", [np.array([-1]), np.array([10**6]), np.array([3, 3]), np.array([], int)])
def test_threat_model_rejects_bad_targets(targets, small):
    with pytest.raises(ValueError, match="target"):
        ThreatModel.for_data(small, targets)


def test_unknown_attack_lists_the_valid_ones():
    with pytest.raises(ValueError, match="average.*random"):
        get_attack("nosuch")


def test_attacker_sees_its_share_of_real_ratings_only(small):
    view = AttackerView(small, 0.4, seed=0)
    assert abs(view.observed.n_ratings / small.n_ratings - 0.4) < 0.02
    assert view.observed.n_users == small.n_users
    full = AttackerView(small, 1.0, seed=0)
    assert full.observed.n_ratings == small.n_ratings
    poisoned = get_attack("random").generate(small, np.array([5]), seed=0).inject(small)
    assert AttackerView(poisoned, 1.0, seed=0).observed.n_ratings == small.n_ratings  # fakes are not "real"


def test_fakes_tsv_round_trips_in_the_datasets_own_ids(tmp_path, small):
    fakes = get_attack("average").generate(small, np.array([4, 9]), seed=0).ratings
    path = write_fakes(tmp_path / "f.tsv", fakes, small)
    first = path.read_text().splitlines()[0].split("\t")
    assert int(first[0]) == small.user_labels().max() + 1
    back = read_fakes(path, small)
    assert np.array_equal(back.indptr, fakes.indptr) and np.array_equal(back.indices, fakes.indices)
    assert np.array_equal(back.values, fakes.values)
    real = small.user_labels()[3]
    path.write_text(path.read_text() + f"{real}\t{small.item_labels()[0]}\t{small.scale.high:g}\n")
    with pytest.raises(DataError, match=f"user {real} is a real user"):
        read_fakes(path, small)


def test_cli_attack_then_data_info_describes_the_poisoned_set(tmp_path):
    out = tmp_path / "fakes.tsv"
    assert main(["attack", "--dataset", "synthetic:ml-100k", "--attack", "bandwagon", "--targets", "10,20",
                 "--out", str(out), "--quiet", "--json", str(tmp_path / "a.json")]) == 0
    a = json.loads((tmp_path / "a.json").read_text())
    assert a["n_fake"] == 28 and a["targets"] == [10, 20]
    assert main(["data", "info", "synthetic:ml-100k", "--fakes", str(out), "--quiet", "--json",
                 str(tmp_path / "i.json")]) == 0
    info = json.loads((tmp_path / "i.json").read_text())
    assert info["n_fake_users"] == 28 and info["poisoned_n_users"] == 943 + 28
    assert info["items_rated_by_every_fake"][:2] == [10, 20] or {10, 20} <= set(info["items_rated_by_every_fake"])


def test_cli_run_with_an_attack_fills_the_attack_fields(tmp_path):
    out = tmp_path / "r.json"
    assert main(["run", "--dataset", "synthetic:filmtrust", "--attack", "average", "--targets", "unpopular",
                 "--epochs", "3", "--factors", "8", "--quiet", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["attack"] == "average" and r["knowledge"] == 0.4
    assert 0 <= r["hr_attack"]["mean"] <= 1 and 0 <= r["test_hr_attack"]["mean"] <= 1
    assert r["timings"]["attack"] > 0


@pytest.mark.parametrize("settings", [{"epochs": 0}, {"pretrain_epochs": 5, "epochs": 5}, {"kappa": -1},
                                      {"step_size": 0}, {"pseudo_ratio": 0}, {"mode": "nosuch"}])
def test_co_training_attacks_reject_bad_settings(settings):
    with pytest.raises(ValueError):
        ATTACKS["gcoattack"](**settings)


def test_gcoattack_plays_against_tcd_as_tcd_runs_on_the_dataset(small):
    """Without settings, GCoAttack's pseudo-labels follow TCD's ratio and budget for the
    attacker's dataset; given settings win."""
    def ratio(attack, name):
        attack._prepare(AttackerView(dataclasses.replace(small, name=name), 0.4, 0))
        return attack._ratio

    assert ratio(GCoAttack(), "ml-100k") == 1.0 and ratio(GCoAttack(), "ml-1m") == 0.2
    observed = AttackerView(small, 0.4, 0).observed
    yelp = tcd_settings("yelp", 1)
    assert ratio(GCoAttack(), "yelp") == sampling_ratio(0.2, yelp["pseudo_budget"], observed, observed.n_ratings) < 0.2
    assert ratio(GCoAttack(pseudo_ratio=0.5), "ml-1m") == 0.5
    assert ratio(GCoAttack(pseudo_ratio=1.0, pseudo_budget=0.01), "ml-100k") < 0.01
    with pytest.raises(ValueError, match="pseudo_budget"):
        GCoAttack(pseudo_budget=0)


@pytest.mark.parametrize("mode", ["paper", "response"])
@pytest.mark.parametrize("name", ["coattack", "gcoattack"])
def test_co_training_attacks_are_deterministic_per_seed_in_both_modes(name, mode, small):
    targets = choose_targets(small, "unpopular", 5, seed=4)
    a, b = (ATTACKS[name](**QUICK[name], mode=mode).generate(small, targets, seed=5) for _ in range(2))
    assert np.array_equal(a.ratings.indices, b.ratings.indices) and np.array_equal(a.ratings.values, b.ratings.values)


def _target_hr(train, targets, k=50):
    model = MF(factors=32, epochs=15).fit(train, seed=0)
    real = np.arange(train.n_real_users, dtype=np.int32)
    return target_hit_ratio(model.top_k(real, k).items, targets, train.csr[:train.n_real_users])


@pytest.mark.parametrize("name", ["coattack", "gcoattack"])
def test_paper_mode_raises_the_targets_hr_over_the_clean_model(name, ml):
    """Eq. 4's co-training (the default mode) promotes the targets into the top-50 lists."""
    targets = choose_targets(ml, "unpopular", 5, seed=1)
    fakes = ATTACKS[name](**QUICK[name]).generate(ml, targets, seed=1)
    assert ATTACKS[name]().mode == "paper"
    clean, attacked = _target_hr(ml, targets), _target_hr(fakes.inject(ml), targets)
    assert attacked > clean + 0.5, (clean, attacked)
