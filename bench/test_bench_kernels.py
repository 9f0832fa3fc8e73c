"""pytest-benchmark cases for the C++ kernels, one thread each:

* one MF SGD epoch, one MF lazy-Adam epoch (batch 2048) and one NSVD SGD epoch over the
  ML-1M-shaped training ratings (``synthetic:ml-1m``, ratings / 5), 64 factors, biases on;
* one BPR-MF epoch (lazy Adam, batch 2048, one uniform negative per rating) over the same
  ratings read as interactions;
* LightGCN over the graph of the same interactions (3 layers): the propagation, and one
  mini-batch's loss and ego gradient (2048 triples: propagation forward and back, the bulk of
  each of an epoch's ~490 batches; the call also builds the graph);
* one MF lazy-Adam epoch as TCD trains it: the ML-1M twin's fitted ratings plus the
  pseudo-labels two MF models (d=128, trained 2 epochs) agree on at the paper's ML-1M
  ratio 0.2, shuffled, d=128 without biases (the papers' MF); ``extra_info["ratings_per_s"]``;
* ``score_top_k``: scores + seen-item masking + top-50 for a block of 2048 users against all
  25,602 items of a Yelp-shaped catalogue (random factors, d=64, ~38 seen items per user);
* RVD serving one user of ``synthetic:yelp`` (MF d=64 trained 2 epochs, k=100 neighbours,
  5 fine-tune epochs): hnswlib query + overlay fine-tune + scoring + top-50, per call; and
  the same as the RVD paper (``step="model"``: the model's own 40 Adam epochs on a copy of
  the rows involved); and NSVD (d=64, trained 2 epochs) at the RVD paper's k=900 for it on
  Yelp, 5 fine-tune epochs on the overlay.
  Masking and top-K run on one thread; the score product is numpy's BLAS with its default
  thread count (``OPENBLAS_NUM_THREADS=1`` for a strictly single-threaded figure);
* TCD's agreement kernel on a Yelp-shaped block of 512 users x 25,602 items: both models'
  scores given, it snaps, compares, masks ~38 seen items per user and samples at ratio 0.2;
  ``extra_info["pairs_per_s"]`` is user-item pairs examined per second;
* one training epoch of AutoRec (500 hidden units) and of CDAE (50 hidden units, 5 negatives
  per rating), default settings (batch 32 users, Adam), over the ML-1M-shaped ratings;
* RVD serving one user of ``synthetic:yelp`` with AutoRec / CDAE (default sizes, trained one
  epoch in batches of 4096 users; the RVD paper's k = 100 / 200 neighbours, 5 fine-tune
  epochs): hnswlib query + fine-tuning a copy of the touched rows + scoring + top-50.

Kernels update their parameters in place, so rounds after the first continue training;
the timing of an epoch does not depend on the parameter values.

    PYTHONPATH=src python3 -m pytest bench/ --benchmark-enable --benchmark-only
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _data under --import-mode=importlib
from _data import load_ratings  # noqa: E402

from fastpoison import _core  # noqa: E402
from fastpoison.defenses import RVD  # noqa: E402
from fastpoison.data.registry import paper_neighbours  # noqa: E402
from fastpoison.models import CDAE, MF, NSVD, AutoRec, LightGCN  # noqa: E402
from fastpoison.models.buffers import aligned_zeros  # noqa: E402
from fastpoison.models.mf import xavier  # noqa: E402
from fastpoison.models.scoring import SeenItems, score_top_k  # noqa: E402

D, THREADS, ROUNDS = 64, 1, 5


@pytest.fixture(scope="module")
def ml1m():
    """Normalised ML-1M-shaped ratings: (RatingData, shuffled coo triplet, mu)."""
    train = load_ratings("synthetic:ml-1m").normalized()
    users, items, ratings = train.coo()
    order = np.random.default_rng(0).permutation(len(users))
    coo = tuple(np.ascontiguousarray(a[order]) for a in (users, items, ratings))
    return train, coo, float(train.values.mean())


def factors(rows_a: int, n_items: int, n_users: int):
    rng = np.random.default_rng(0)
    return xavier(rng, rows_a, D), xavier(rng, n_items, D), aligned_zeros((n_users,)), aligned_zeros((n_items,))


def test_mf_sgd_epoch(benchmark, ml1m):
    train, coo, mu = ml1m
    P, Q, bu, bi = factors(train.n_users, train.n_items, train.n_users)
    benchmark.pedantic(_core.mf_sgd_epoch, args=(P, Q, bu, bi, mu, *coo, 0.01, 0.02, True, THREADS, 1),
                       rounds=ROUNDS, warmup_rounds=1)


def test_mf_adam_epoch(benchmark, ml1m):
    train, coo, mu = ml1m
    params = factors(train.n_users, train.n_items, train.n_users)
    moments = tuple(aligned_zeros(p.shape) for p in params for _ in range(2))
    benchmark.pedantic(_core.mf_adam_epoch, args=(*params, mu, moments, *coo, 2048, 0.005, 0.001, 0.9, 0.999,
                                                  1e-8, 0, True, THREADS, 1), rounds=ROUNDS, warmup_rounds=1)


def test_nsvd_sgd_epoch(benchmark, ml1m):
    train, _, mu = ml1m
    Y, Q, bu, bi = factors(train.n_items, train.n_items, train.n_users)
    benchmark.pedantic(_core.nsvd_sgd_epoch, args=(Y, Q, bu, bi, mu, train.indptr, train.indices, train.values,
                                                   0.01, 0.02, True, THREADS, 1), rounds=ROUNDS, warmup_rounds=1)


def test_bpr_adam_epoch(benchmark, ml1m):
    """One BPR-MF epoch: every rating an interaction, one uniform negative each, batch 2048."""
    train, _, _ = ml1m
    P, Q = factors(train.n_users, train.n_items, train.n_users)[:2]
    moments = tuple(aligned_zeros(p.shape) for p in (P, Q) for _ in range(2))
    users = np.repeat(np.arange(train.n_users, dtype=np.int32), np.diff(train.indptr))
    benchmark.pedantic(_core.bpr_adam_epoch, args=(P, Q, moments, users, train.indices, train.indptr, train.indices,
                                                   2048, 1e-4, 0.001, 0.9, 0.999, 1e-8, 0, THREADS, 1),
                       rounds=ROUNDS, warmup_rounds=1)


@pytest.fixture(scope="module")
def ml1m_graph(ml1m):
    """Ego embeddings, the ML-1M-shaped interactions (users, items) and 2048 triples of them."""
    train, _, _ = ml1m
    P, Q = factors(train.n_users, train.n_items, train.n_users)[:2]
    users = np.repeat(np.arange(train.n_users, dtype=np.int32), np.diff(train.indptr))
    rng = np.random.default_rng(1)
    batch = rng.choice(len(users), 2048, replace=False)
    triples = (users[batch], train.indices[batch], rng.integers(0, train.n_items, 2048).astype(np.int32))
    return P, Q, users, train.indices, triples


def test_lightgcn_propagate(benchmark, ml1m_graph):
    P, Q, users, items, _ = ml1m_graph
    benchmark.pedantic(_core.lightgcn_propagate, args=(P, Q, users, items, 3, THREADS), rounds=ROUNDS,
                       warmup_rounds=1)


def test_lightgcn_batch_grad(benchmark, ml1m_graph):
    P, Q, users, items, triples = ml1m_graph
    benchmark.pedantic(_core.lightgcn_loss_grad, args=(P, Q, users, items, *triples, 3, 1e-4), rounds=ROUNDS,
                       warmup_rounds=1)


@pytest.fixture(scope="module")
def ml100k_lightgcn():
    return LightGCN(epochs=2, patience=0, threads=THREADS).fit(load_ratings("synthetic:ml-100k"), seed=0)


def test_lightgcn_rvd_paper_one_user(benchmark, ml100k_lightgcn):
    """RVD's paper step on LightGCN for one user: 40 epochs of LightGCN's own training on
    the subgraph of 20 neighbours (its propagation buffers are built afresh every epoch)."""
    model = ml100k_lightgcn
    neighbours = np.random.default_rng(0).permutation(model.n_users)[None, :20].astype(np.int32)
    benchmark.pedantic(model.vicinal_fit_top_k, args=(np.array([0], np.int32), neighbours, 50),
                       kwargs={"epochs": 40}, rounds=ROUNDS, warmup_rounds=1)


@pytest.fixture(scope="module")
def tcd_epoch_ratings():
    """ML-1M twin: (an MF model 2 epochs in, its shuffled ratings + pseudo-labels as the Adam kernel reads them)."""
    from fastpoison.models.agreement import agreement_labels
    train = load_ratings("synthetic:ml-1m")
    models = [MF(factors=128, epochs=2, threads=THREADS) for _ in range(3)]
    fit, _ = models[0].split_validation(train, 0)
    for seed, model in enumerate(models):
        model.start(train, fit, seed)
        model.train_epochs(fit, 2, seed)
    pseudo = agreement_labels(models[1], models[2], train, ratio=0.2, seed=1, threads=THREADS)
    models[0]._prepare(fit.with_ratings(*pseudo).normalized(), 0)
    return models[0], models[0]._prepared


def test_mf_adam_epoch_with_pseudo_labels(benchmark, tcd_epoch_ratings):
    model, coo = tcd_epoch_ratings
    c, p = model.config, model.params
    benchmark.extra_info["ratings"] = len(coo[0])
    benchmark.pedantic(_core.mf_adam_epoch, args=(p["P"], p["Q"], p["bu"], p["bi"], model.mu, model._moments, *coo,
                                                  c.batch_size, c.reg, c.lr, *c.adam_betas, c.adam_eps, 0, c.bias,
                                                  THREADS, 7), rounds=3, warmup_rounds=0)
    if benchmark.stats is not None:
        benchmark.extra_info["ratings_per_s"] = len(coo[0]) / benchmark.stats.stats.median


def yelp_seen(rng: np.random.Generator, n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of 15-61 random seen items per user, as in the Yelp twin."""
    counts = rng.integers(15, 62, n_users)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = np.concatenate([np.sort(rng.choice(n_items, c, replace=False)) for c in counts]).astype(np.int32)
    return indptr, indices


def test_score_top50_yelp_block(benchmark):
    n_users, n_items, k = 2048, 25602, 50
    rng = np.random.default_rng(0)
    U = rng.normal(0, 0.1, (n_users, D)).astype(np.float32)
    V = rng.normal(0, 0.1, (n_items, D)).astype(np.float32)
    seen = SeenItems(*yelp_seen(rng, n_users, n_items), n_items)
    top = benchmark.pedantic(score_top_k, args=(U, V, k), kwargs={"seen": seen, "threads": THREADS},
                             rounds=ROUNDS, warmup_rounds=1)
    assert top.items.shape == (n_users, k)


@pytest.fixture(scope="module")
def yelp_rvd():
    model = MF(factors=D, epochs=2, threads=THREADS).fit(load_ratings("synthetic:yelp"), seed=0)
    return RVD(model, k=100, epochs=5, step="sgd", threads=THREADS)  # the C++ overlay kernel


def test_rvd_one_user_yelp(benchmark, yelp_rvd):
    users = iter(np.random.default_rng(0).permutation(yelp_rvd.model.n_users).astype(np.int32))
    benchmark.pedantic(lambda: yelp_rvd.recommend(np.array([next(users)], dtype=np.int32), 50),
                       rounds=200, warmup_rounds=5)


def test_rvd_paper_one_user_yelp(benchmark, yelp_rvd):
    paper = RVD(yelp_rvd.model, k=100, epochs=40, threads=THREADS)  # step="model", its 40 Adam epochs
    users = iter(np.random.default_rng(0).permutation(paper.model.n_users).astype(np.int32))
    benchmark.pedantic(lambda: paper.recommend(np.array([next(users)], dtype=np.int32), 50),
                       rounds=20, warmup_rounds=2)


def test_nsvd_rvd_one_user_yelp(benchmark, yelp_ratings):
    model = NSVD(factors=D, epochs=2, threads=THREADS).fit(yelp_ratings, seed=0)
    rvd = RVD(model, k=paper_neighbours("yelp", model.name), epochs=5, step="sgd", threads=THREADS)
    users = iter(np.random.default_rng(0).permutation(model.n_users).astype(np.int32))
    benchmark.pedantic(lambda: rvd.recommend(np.array([next(users)], dtype=np.int32), 50), rounds=100,
                       warmup_rounds=5)


def test_tcd_agreement_yelp_block(benchmark):
    n_users, n_items = 512, 25602
    rng = np.random.default_rng(0)
    a = rng.normal(3.5, 0.6, (n_users, n_items)).astype(np.float32)
    b = (a + rng.normal(0, 0.3, a.shape)).astype(np.float32)
    indptr, indices = yelp_seen(rng, n_users, n_items)
    users = np.arange(n_users, dtype=np.int32)
    out = benchmark.pedantic(_core.agreement_pairs, args=(a, b, users, indptr, indices, 1.0, 1.0, 5, 0.2, 0, THREADS),
                             rounds=ROUNDS, warmup_rounds=1)
    assert 0 < len(out[0]) < 0.2 * n_users * n_items
    if benchmark.stats:  # None under --benchmark-disable
        benchmark.extra_info["pairs_per_s"] = n_users * n_items / benchmark.stats.stats.median


@pytest.fixture(scope="module")
def ml1m_ratings():
    return load_ratings("synthetic:ml-1m")


@pytest.mark.parametrize("cls", [AutoRec, CDAE], ids=["autorec", "cdae"])
def test_neural_epoch_ml1m(benchmark, ml1m_ratings, cls):
    model = cls(threads=THREADS)
    model.start(ml1m_ratings, ml1m_ratings, seed=0)
    epochs = iter(range(1000))
    benchmark.pedantic(lambda: model.train_epoch(ml1m_ratings, next(epochs)), rounds=3, warmup_rounds=1)


@pytest.fixture(scope="module")
def yelp_ratings():
    return load_ratings("synthetic:yelp")


@pytest.mark.parametrize("cls", [AutoRec, CDAE], ids=["autorec", "cdae"])
def test_neural_rvd_one_user_yelp(benchmark, yelp_ratings, cls):
    model = cls(batch_size=4096, threads=THREADS).fit(yelp_ratings, epochs=1, seed=0)
    rvd = RVD(model, k=paper_neighbours("yelp", model.name), epochs=5, step="sgd", threads=THREADS)  # numba overlay
    users = iter(np.random.default_rng(0).permutation(model.n_users).astype(np.int32))
    benchmark.pedantic(lambda: rvd.recommend(np.array([next(users)], dtype=np.int32), 50), rounds=30,
                       warmup_rounds=2)
