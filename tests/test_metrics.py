from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from fastpoison.eval import metrics as M

NAN = float("nan")


def _rated(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    """CSR with a stored 1.0 at every (user, item) listed in ``rows``."""
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.array([i for r in rows for i in r], dtype=np.int64)
    return sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(rows), n_items))


# 4 users, 6 items, K = 3; rated items are never in a user's own row.
RATED = _rated([[1, 3], [0, 2], [0, 1, 3, 5], [2, 4]], 6)
TOP = np.array(
    [
        [0, 5, 2],
        [5, 1, 3],
        [2, 4, -1],  # user 2 has only 2 unseen items: padded
        [1, 0, 3],
    ]
)


# ---------------------------------------------------------------- target HR
def test_per_target_hit_ratio_appendix_d() -> None:
    # t=5: rated by u2; non-raters u0,u1,u3; hits u0,u1        -> 2/3
    # t=4: rated by u3; non-raters u0,u1,u2; hits u2           -> 1/3
    got = M.per_target_hit_ratio(TOP, [5, 4], RATED)
    np.testing.assert_allclose(got, [2 / 3, 1 / 3])
    # mean over targets: (2/3 + 1/3) / 2 = 0.5
    assert M.target_hit_ratio(TOP, [5, 4], RATED) == pytest.approx(0.5)


def test_target_hit_ratio_tcd_variant_counts_pairs() -> None:
    # all 4 users in every denominator: t=5 hits u0,u1 -> 2/4; t=4 hits u2 -> 1/4
    got = M.per_target_hit_ratio(TOP, [5, 4], RATED, exclude_raters=False)
    np.testing.assert_allclose(got, [2 / 4, 1 / 4])
    # = 3 hit pairs / 8 (user, target) pairs = 0.375
    assert M.target_hit_ratio(TOP, [5, 4], RATED, exclude_raters=False) == pytest.approx(0.375)


def test_target_hit_ratio_user_subset() -> None:
    # users {1,3}: t=5 non-raters u1,u3, hit u1 -> 1/2; t=4 non-rater u1 only, no hit -> 0/1
    got = M.per_target_hit_ratio(TOP, [5, 4], RATED, users=[1, 3])
    np.testing.assert_allclose(got, [0.5, 0.0])
    assert M.target_hit_ratio(TOP, [5, 4], RATED, users=np.array([1, 3])) == pytest.approx(0.25)


def test_target_rated_by_every_user_is_skipped() -> None:
    rated = _rated([[0], [0, 2]], 3)
    top = np.array([[1, 2], [1, -1]])
    # t=0 rated by both users -> undefined (nan); t=1 hit by both non-raters -> 2/2
    np.testing.assert_array_equal(M.per_target_hit_ratio(top, [0, 1], rated), [NAN, 1.0])
    assert M.target_hit_ratio(top, [0, 1], rated) == 1.0  # mean over defined targets only
    assert math.isnan(M.target_hit_ratio(top, [0], rated))  # every target skipped
    # the TCD variant keeps raters in the denominator: t=0 is a plain 0/2
    assert M.target_hit_ratio(top, [0], rated, exclude_raters=False) == 0.0


def test_padding_never_hits_and_empty_inputs() -> None:
    # user 2's row [2, 4, -1] is padded: t=2 and t=4 hit 1/1; t=0 is rated by u2 -> nan
    got = M.per_target_hit_ratio(TOP, [2, 4, 0], RATED, users=[2])
    np.testing.assert_array_equal(got, [1.0, 1.0, NAN])
    assert math.isnan(M.target_hit_ratio(TOP, [], RATED))
    assert math.isnan(M.target_hit_ratio(TOP, [5], RATED, users=[]))
    # K = 0: no hits at all
    assert M.target_hit_ratio(np.zeros((4, 0), dtype=int), [5, 4], RATED) == 0.0


def test_explicit_zero_entries_count_as_rated() -> None:
    rated = sp.csr_matrix((np.array([0.0]), np.array([1]), np.array([0, 1, 1])), shape=(2, 2))
    top = np.array([[0, -1], [1, 0]])
    # u0 stores item 1 (value 0.0) -> u0 is a rater; only u1 counts and hits -> 1/1
    assert M.target_hit_ratio(top, [1], rated) == 1.0


@pytest.mark.parametrize(
    ("top", "targets", "kwargs", "match"),
    [
        ([[0, 5, 2], [5, 1], [2, 4, -1], [1, 0, 3]], [5], {}, "rectangular"),
        (TOP.astype(float), [5], {}, "integers"),
        (TOP[:3], [5], {}, "rows"),
        (np.where(TOP == 5, 6, TOP), [5], {}, "n_items"),
        (np.where(TOP == 5, -2, TOP), [5], {}, "padding"),
        (TOP, [6], {}, "targets"),
        (TOP, [-1], {}, "targets"),  # -1 would otherwise match padding
        (TOP, [[5]], {}, "1-d"),
        (TOP, [5], {"users": [0, 4]}, "users"),
        (TOP, [5], {"users": [1, 1]}, "repeat"),
    ],
)
def test_target_hit_ratio_rejects_bad_input(top, targets, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        M.target_hit_ratio(top, targets, RATED, **kwargs)


def test_rated_must_be_sparse() -> None:
    with pytest.raises(ValueError, match="sparse"):
        M.target_hit_ratio(TOP, [5], RATED.toarray())


def _reference_hr(top: np.ndarray, targets: list[int], rated: np.ndarray, exclude: bool) -> list[float]:
    out = []
    for t in targets:
        users = [u for u in range(len(top)) if not (exclude and rated[u, t])]
        hits = sum(t in set(top[u]) for u in users)
        out.append(hits / len(users) if users else NAN)
    return out


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 6),
    n_items=st.integers(1, 8),
    k=st.integers(0, 4),
    exclude=st.booleans(),
)
def test_target_hit_ratio_matches_brute_force(seed, n_users, n_items, k, exclude) -> None:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < 0.4
    top = np.full((n_users, k), -1)
    for u in range(n_users):
        unseen = rng.permutation(np.flatnonzero(~dense[u]))[:k]
        top[u, : unseen.size] = unseen
    targets = rng.integers(0, n_items, size=3).tolist()
    got = M.per_target_hit_ratio(top, targets, sp.csr_matrix(dense), exclude_raters=exclude)
    np.testing.assert_allclose(got, _reference_hr(top, targets, dense, exclude))
    defined = got[~np.isnan(got)]
    assert np.all((defined >= 0) & (defined <= 1))
    mean = M.target_hit_ratio(top, targets, sp.csr_matrix(dense), exclude_raters=exclude)
    assert math.isnan(mean) or 0.0 <= mean <= 1.0


# ---------------------------------------------------------------- test HR
def test_test_hit_ratio() -> None:
    # u0: 2 in [0,5,2] yes; u1: 4 in [5,1,3] no; u2: 4 in [2,4,-1] yes; u3: 3 in [1,0,3] yes
    assert M.test_hit_ratio(TOP, [0, 1, 2, 3], [2, 4, 4, 3]) == pytest.approx(3 / 4)
    # subset: u1: 1 in row yes; u2: 0 not in row -> 1/2
    assert M.test_hit_ratio(TOP, np.array([1, 2]), np.array([1, 0])) == pytest.approx(0.5)
    assert math.isnan(M.test_hit_ratio(TOP, [], []))


@pytest.mark.parametrize(
    ("users", "items", "match"),
    [
        ([0, 1], [2], "length"),
        ([0], [-1], "item"),  # -1 would otherwise match padding
        ([4], [2], "test_users"),
        ([0.0], [2], "integers"),
    ],
)
def test_test_hit_ratio_rejects_bad_input(users, items, match) -> None:
    with pytest.raises(ValueError, match=match):
        M.test_hit_ratio(TOP, users, items)


# ---------------------------------------------------------------- RI
def test_robustness_improvement_scalars() -> None:
    # 1 - (0.2 - 0.1) / (0.5 - 0.1) = 1 - 0.1/0.4 = 0.75
    ri = M.robustness_improvement(0.1, 0.5, 0.2)
    assert isinstance(ri, float) and ri == pytest.approx(0.75)
    # defense worse than the attack: 1 - (0.6 - 0.1)/0.4 = -0.25
    assert M.robustness_improvement(0.1, 0.5, 0.6) == pytest.approx(-0.25)
    assert math.isnan(M.robustness_improvement(0.3, 0.3, 0.1))  # attack changed nothing


def test_robustness_improvement_elementwise() -> None:
    # [1 - 0.1/0.4, zero denominator, 1 - 0/0.1]
    ri = M.robustness_improvement([0.1, 0.2, 0.3], [0.5, 0.2, 0.4], [0.2, 0.1, 0.3])
    np.testing.assert_allclose(ri, [0.75, NAN, 1.0])
    # broadcasting: one origin/attack, three defenses: 1 - [0, 0.2, 0.4]/0.4
    np.testing.assert_allclose(M.robustness_improvement(0.0, 0.4, [0.0, 0.2, 0.4]), [1.0, 0.5, 0.0])


unit = st.floats(0.0, 1.0)


@given(origin=unit, attack=unit)
def test_robustness_improvement_endpoints(origin: float, attack: float) -> None:
    if origin == attack:
        assert math.isnan(M.robustness_improvement(origin, attack, origin))
    else:
        assert M.robustness_improvement(origin, attack, origin) == 1.0
        assert M.robustness_improvement(origin, attack, attack) == 0.0


# ---------------------------------------------------------------- rank shift
def test_rank_shift_sign_and_summary() -> None:
    before = np.array([[3, 10], [1, 5]])
    after = np.array([[1, 12], [1, 2]])
    shift = M.rank_shift(before, after)
    # after - before: promoted by 2, demoted by 2, unchanged, promoted by 3
    np.testing.assert_array_equal(shift, [[-2, 2], [0, -3]])
    assert shift.dtype == np.int64
    # sorted [-3, -2, 0, 2]: mean -3/4, median (-2 + 0)/2, 2 of 4 negative
    assert M.rank_shift_summary(shift) == {"mean": -0.75, "median": -1.0, "share_negative": 0.5}


def test_rank_shift_unsigned_input_does_not_wrap() -> None:
    # 2 - 5 = -3, not 253
    shift = M.rank_shift(np.array([5], dtype=np.uint8), np.array([2], dtype=np.uint8))
    np.testing.assert_array_equal(shift, [-3])


def test_rank_shift_summary_empty() -> None:
    assert all(math.isnan(v) for v in M.rank_shift_summary([]).values())
    assert M.rank_shift(np.array([], dtype=int), np.array([], dtype=int)).size == 0


@pytest.mark.parametrize(
    ("before", "after", "match"),
    [
        ([1, 2], [1], "shapes"),
        ([0, 2], [1, 1], ">= 1"),
        ([1.0, 2.0], [1, 1], "integers"),
    ],
)
def test_rank_shift_rejects_bad_input(before, after, match) -> None:
    with pytest.raises(ValueError, match=match):
        M.rank_shift(before, after)


def test_rank_shift_summary_rejects_nan() -> None:
    with pytest.raises(ValueError, match="finite"):
        M.rank_shift_summary([1.0, NAN])


def test_rank_shift_histogram_bins_shares_of_the_catalogue():
    from fastpoison.eval.metrics import RANK_SHIFT_EDGES, rank_shift_histogram
    counts = rank_shift_histogram(np.array([-100, -50, 0, 1, 99, 100]), 100)
    assert len(counts) == len(RANK_SHIFT_EDGES) - 1 == 40 and sum(counts) == 6
    assert counts[0] == 1 and counts[-1] == 2 and counts[20] == 2 and counts[10] == 1  # -1, 1, [0, .05), -0.5


def test_sampled_hit_ratio_counts_negatives_that_outrank_the_test_item():
    test = [0.9, 0.5, 0.2]
    negatives = [[0.1, 0.2, 0.3], [0.6, 0.5, 0.4], [0.3, 0.4, 0.5]]  # 0, 1 (a tie does not count), 3 above
    assert M.sampled_hit_ratio(test, negatives, 1) == pytest.approx(1 / 3)
    assert M.sampled_hit_ratio(test, negatives, 2) == pytest.approx(2 / 3)
    assert M.sampled_hit_ratio(test, negatives, 4) == 1.0
    assert math.isnan(M.sampled_hit_ratio([], np.zeros((0, 3)), 1))
    with pytest.raises(ValueError):
        M.sampled_hit_ratio(test, negatives[:2], 1)


def _ranking_reference(top: np.ndarray, relevant: list[set[int]], k: int) -> dict[str, float]:
    """HR, precision, recall and NDCG@k written out user by user."""
    sums = {"hr": 0.0, "precision": 0.0, "recall": 0.0, "ndcg": 0.0}
    counted = 0
    for row, rel in zip(top, relevant):
        if not rel:
            continue
        counted += 1
        hits = [p for p, item in enumerate(row[:k]) if item in rel]
        sums["hr"] += 1.0 if hits else 0.0
        sums["precision"] += len(hits) / k
        sums["recall"] += len(hits) / len(rel)
        dcg = sum(1 / math.log2(p + 2) for p in hits)
        ideal = sum(1 / math.log2(p + 2) for p in range(min(len(rel), k)))
        sums["ndcg"] += dcg / ideal
    return {name: (value / counted if counted else math.nan) for name, value in sums.items()}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.integers(4, 40), st.integers(1, 15))
def test_ranking_at_k_equals_a_user_by_user_reference(seed, n_users, n_items, depth):
    rng = np.random.default_rng(seed)
    depth = min(depth, n_items)
    top = np.stack([rng.permutation(n_items)[:depth] for _ in range(n_users)])
    top[rng.random(top.shape) < 0.1] = -1  # padding of users with few unseen items
    relevant = [set(rng.choice(n_items, rng.integers(0, 4), replace=False).tolist()) for _ in range(n_users)]
    rows = [u for u, rel in enumerate(relevant) for _ in rel]
    cols = [i for rel in relevant for i in rel]
    matrix = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    ks = sorted(set(rng.integers(1, depth + 1, 3).tolist()))
    got = M.ranking_at_k(top, matrix, ks)
    for k in ks:
        want = _ranking_reference(top, relevant, k)
        for name in M.RANKING_METRICS:
            assert got[name][k] == pytest.approx(want[name], nan_ok=True), (name, k)


def test_ranking_at_k_refuses_a_k_longer_than_the_lists():
    top = np.array([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="every k"):
        M.ranking_at_k(top, sp.csr_matrix(np.eye(2)), [3])


def test_test_hit_ratio_counts_each_user_once_over_all_their_held_out_items():
    top = np.array([[1, 2], [3, 4], [5, 6]])
    # user 0 holds out 1 (hit) and 9; user 1 holds out 7 and 8 (no hit); user 2 holds out 6 (hit)
    assert M.test_hit_ratio(top, [0, 0, 1, 1, 2], [1, 9, 7, 8, 6]) == pytest.approx(2 / 3)
    assert M.test_hit_ratio(top, [0, 1, 2], [9, 3, 0]) == pytest.approx(1 / 3)
