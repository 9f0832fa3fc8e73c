"""Defenses that defend today keep defending: each is measured against the attacked model on a
seeded attacked twin (ML-100K shape, MF with 32 factors, 5 unpopular targets, Average and
Random attacks, seeds 0-2), and the test fails when its robustness improvement falls below a
bar set from the measured spread.

Measured (5 seeds, RI of the mean target HRs / per-seed range): RVD as the paper (the
model's own Adam training for its 40 epochs on the neighbours) lowers the targets in every
seed, 0.25 of the mean under Average (0.22-0.29 per seed), 0.30 under Random (0.24-0.37); our
SGD fine-tune (``rvd[step=sgd]``) 0.08 under Average; with our shrink
(``rvd[forget=0.1,step=sgd]``) 0.99-1.0 per seed; LTSMF, LTSMF+RVD, TCD+our shrink 0.99-1.0;
TCD at one pseudo-label per rating 0.86-0.96 per seed on seeds 0-2 under Average, 0.53 on
seed 3 and negative on seed 4 (0.68 of the means over all five), 0.92 under Random. The bars
sit about two seed-spreads below the measured values. Defenses that do not defend on this
twin (APR, in either version, and our Huber RMF raise the targets; AT, RAT and the paper's RMF lower them by
12-27 %) are measured in docs/papers.md, not held to a bar here.
"""
from __future__ import annotations

import pytest

from fastpoison import ExperimentSpec, load_dataset, run_experiment

DATASET = "synthetic:ml-100k"
OPTIONS = {"factors": 32}
SEEDS = 3
#: Lowest acceptable RI of the mean target HRs over seeds 0-2, per defense.
BARS = {"rvd": 0.15, "rvd[step=sgd]": 0.03, "rvd[forget=0.1,step=sgd]": 0.9, "ltsmf": 0.9, "ltsmf+rvd": 0.9,
        "tcd[pseudo_budget=1]": 0.5, "tcd[pseudo_budget=1]+rvd[forget=0.1,step=sgd]": 0.9}


@pytest.fixture(scope="module")
def twin():
    return load_dataset(DATASET)


@pytest.fixture(scope="module")
def shared():
    """One clean fit, one set of fakes and one attacked fit per attack and seed for all defenses."""
    return {}


@pytest.mark.parametrize("attack", ["average", "random"])
@pytest.mark.parametrize("defense", list(BARS))
def test_defense_keeps_defending(twin, shared, attack, defense):
    spec = ExperimentSpec(dataset=DATASET, attack=attack, defense=defense, targets="unpopular", seeds=SEEDS,
                          model_options=OPTIONS)
    result = run_experiment(spec, dataset=twin, shared=shared)
    attacked, defended = result["hr_attack"]["values"], result["hr_defense"]["values"]
    assert min(attacked) > 0.1  # the attack works on this twin: there is something to defend
    assert result["ri_of_means"] >= BARS[defense], (attacked, defended)
    if defense in ("rvd", "rvd[step=sgd]"):  # a fine-tune alone: a modest effect, but in every seed
        assert all(d < a for a, d in zip(attacked, defended)), (attacked, defended)
