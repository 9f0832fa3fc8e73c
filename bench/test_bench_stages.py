"""pytest-benchmark cases for the stages of `fastpoison bench` (the standard grid), one
thread, on the ML-100K twin (``synthetic:ml-100k``, MF with the papers' settings):

* fitting the victim (40 epochs of lazy Adam, best validation epoch kept);
* generating the fake users of each standard attack (5 unpopular targets, 3 % fakes,
  knowledge 0.4);
* serving every real user through RVD (k = 12) and fitting TCD with ``pseudo_budget=1``;
* TCD's sample-first agreement on the Yelp twin at the ratio ``pseudo_budget=1`` implies
  (``extra_info["pairs_per_s"]``: user-item pairs covered per second);
* TCD's cost as a multiple of one plain training: the plain MF fit and the TCD fit (its
  dataset settings) on the ML-1M twin at ``pseudo_budget=4`` (the budget that defends on
  ML-100K), and on the Yelp twin at its default settings; the multiple is the ratio of the
  two medians. The Yelp TCD fit takes minutes, so it runs only with ``--benchmark-enable``.

    PYTHONPATH=src python3 -m pytest bench/test_bench_stages.py --benchmark-enable --benchmark-only
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fastpoison.attacks import get_attack
from fastpoison.data.datasets import load_dataset
from fastpoison.data.targets import choose_targets
from fastpoison.defenses import RVD, TCD
from fastpoison.models.agreement import agreement_labels
from fastpoison.eval.bench import STANDARD_ATTACKS
from fastpoison.models import make_model


@pytest.fixture(scope="module")
def ml100k():
    ds = load_dataset("synthetic:ml-100k")
    train = ds.split.train
    model = make_model("mf", ds.name).fit(train, seed=0)
    return ds, train, model


def test_fit_mf(benchmark, ml100k):
    ds, train, _ = ml100k
    benchmark.pedantic(lambda: make_model("mf", ds.name).fit(train, seed=0), rounds=3, warmup_rounds=0)


@pytest.mark.parametrize("attack", STANDARD_ATTACKS)
def test_attack(benchmark, ml100k, attack):
    _, train, _ = ml100k
    targets = choose_targets(train, "unpopular", 5, seed=0)
    fakes = benchmark.pedantic(lambda: get_attack(attack).generate(train, targets, size=0.03, knowledge=0.4, seed=0),
                               rounds=1, warmup_rounds=0)
    assert fakes.n_fake > 0


@pytest.mark.parametrize("step", ["model", "sgd"])
def test_rvd_all_users(benchmark, ml100k, step):
    _, train, model = ml100k
    rvd = RVD(model, k=12, step=step, threads=1)
    users = np.arange(train.n_users, dtype=np.int32)
    top = benchmark.pedantic(lambda: rvd.recommend(users, 50), rounds=3, warmup_rounds=0)
    assert top.items.shape == (train.n_users, 50)


def test_tcd_fit_budget_1(benchmark, ml100k):
    ds, train, _ = ml100k
    tcd = TCD(pretrain_epochs=4, pseudo_budget=1.0)
    benchmark.pedantic(lambda: tcd.fit(lambda **o: make_model("mf", ds.name, **o), train, seed=0),
                       rounds=1, warmup_rounds=0)


def test_tcd_sampled_agreement_yelp(benchmark):
    train = load_dataset("synthetic:yelp").split.train
    a, b = (make_model("mf", "yelp", factors=64, epochs=1).fit(train, seed=s) for s in (0, 1))
    ratio = TCD(pseudo_budget=1.0).sampling_ratio(train, train.n_ratings)
    out = benchmark.pedantic(lambda: agreement_labels(a, b, train, ratio=ratio, seed=0), rounds=5, warmup_rounds=1)
    assert 0 < len(out[0]) <= 1.1 * train.n_ratings
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["pairs_per_s"] = train.n_users * train.n_items / benchmark.stats.stats.median


@pytest.fixture(scope="module", params=["synthetic:ml-1m", "synthetic:yelp"])
def twin(request):
    ds = load_dataset(request.param)
    return ds, ds.split.train


def tcd_for(ds, train) -> TCD:
    """TCD as the cost figures run it: the dataset's settings, at budget 4 on the ML-1M twin."""
    tcd = TCD.for_dataset(ds.name, train.n_users * train.n_items)
    return dataclasses.replace(tcd, pseudo_budget=4.0) if ds.name == "ml-1m" else tcd


def test_plain_fit_twin(benchmark, twin):
    ds, train = twin
    benchmark.pedantic(lambda: make_model("mf", ds.name).fit(train, seed=0), rounds=3, warmup_rounds=0)


def test_tcd_fit_twin(benchmark, twin):
    ds, train = twin
    if benchmark.disabled and ds.name != "ml-1m":
        pytest.skip("TCD's default fit on the Yelp twin takes minutes: it runs with --benchmark-enable")
    tcd = tcd_for(ds, train)
    model = benchmark.pedantic(lambda: tcd.fit(lambda **o: make_model("mf", ds.name, **o), train, seed=0),
                               rounds=1, warmup_rounds=0)
    # co-trained on pseudo-labels, unless the canary check declined TCD and the plain fit serves
    assert any(h.get("pseudo_labels", 0) > 0 for h in model.history) or model.fit_notes.get("canary") == "declined"
