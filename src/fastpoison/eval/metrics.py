"""Evaluation metrics: pure functions of top-K lists, rating matrices and ranks.

``top_items`` is always an integer array ``[n_users, K]``: row ``u`` holds user ``u``'s
recommended item ids, best first, with the user's rated items already excluded; ``-1``
pads rows of users with fewer than ``K`` unseen items. ``rated`` is a scipy sparse
matrix ``[n_users, n_items]`` whose stored entries (whatever their value) mark rated items.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

__all__ = [
    "RANKING_METRICS",
    "per_target_hit_ratio",
    "ranking_at_k",
    "rank_shift",
    "rank_shift_summary",
    "robustness_improvement",
    "sampled_hit_ratio",
    "target_hit_ratio",
    "test_hit_ratio",
]


def _int_array(a: ArrayLike, name: str, ndim: int) -> np.ndarray:
    """``a`` as an integer array of ``ndim`` dimensions, or ValueError."""
    try:
        arr = np.asarray(a)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name} must be a rectangular {ndim}-d integer array") from exc
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, got shape {arr.shape}")
    if arr.size == 0 and arr.dtype == np.float64:  # np.asarray([]) is float
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_top(top_items: ArrayLike, n_items: int | None = None) -> np.ndarray:
    top = _int_array(top_items, "top_items", 2)
    if top.size and top.min() < -1:
        raise ValueError("top_items may hold item ids and -1 padding only")
    if n_items is not None and top.size and top.max() >= n_items:
        raise ValueError(f"top_items holds item id {top.max()} >= n_items={n_items}")
    return top


def _check_ids(ids: np.ndarray, name: str, upper: int) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= upper):
        raise ValueError(f"{name} must lie in [0, {upper}), got range [{ids.min()}, {ids.max()}]")


def per_target_hit_ratio(
    top_items: ArrayLike,
    targets: ArrayLike,
    rated: sp.spmatrix | sp.sparray,
    *,
    users: ArrayLike | None = None,
    exclude_raters: bool = True,
) -> np.ndarray:
    """Target HR@K of each entry of ``targets`` (float64, same length as ``targets``).

    With ``exclude_raters`` (RVD paper, appendix D) the value for target ``t`` is the share
    of ``users`` (distinct row ids; default every row) who have not rated ``t`` and have
    ``t`` in their top-K; it is nan when every one of them rated ``t``. Without it (the TCD
    code) the denominator is all of ``users``, raters included, so the mean over targets is
    the share of (user, target) pairs that hit. Empty ``users`` gives nan everywhere.
    """
    if not sp.issparse(rated) or rated.ndim != 2:
        raise ValueError("rated must be a 2-d scipy sparse matrix")
    csr = sp.csr_matrix(rated)
    n_rows, n_items = csr.shape
    top = _check_top(top_items, n_items)
    if top.shape[0] != n_rows:
        raise ValueError(f"top_items has {top.shape[0]} rows but rated has {n_rows}")
    tgt = _int_array(targets, "targets", 1)
    _check_ids(tgt, "targets", n_items)
    rows = np.arange(n_rows) if users is None else _int_array(users, "users", 1)
    _check_ids(rows, "users", n_rows)
    if np.unique(rows).size != rows.size:
        raise ValueError("users must not repeat")

    top = top[rows]
    row_of_entry = np.repeat(np.arange(n_rows), np.diff(csr.indptr))
    out = np.full(tgt.size, np.nan)
    for j, t in enumerate(tgt):
        counted = np.ones(rows.size, dtype=bool)
        if exclude_raters:
            is_rater = np.zeros(n_rows, dtype=bool)
            is_rater[row_of_entry[csr.indices == t]] = True
            counted = ~is_rater[rows]
        n_counted = int(counted.sum())
        if n_counted:
            out[j] = np.count_nonzero(np.any(top[counted] == t, axis=1)) / n_counted
    return out


def target_hit_ratio(
    top_items: ArrayLike,
    targets: ArrayLike,
    rated: sp.spmatrix | sp.sparray,
    *,
    users: ArrayLike | None = None,
    exclude_raters: bool = True,
) -> float:
    """Mean of `per_target_hit_ratio` over the targets whose value is defined (not nan).

    Returns nan when no target has a defined value (or ``targets`` is empty).
    """
    per_target = per_target_hit_ratio(
        top_items, targets, rated, users=users, exclude_raters=exclude_raters
    )
    defined = per_target[~np.isnan(per_target)]
    return float(defined.mean()) if defined.size else float("nan")


def test_hit_ratio(top_items: ArrayLike, test_users: ArrayLike, test_items: ArrayLike) -> float:
    """Share of test users with a held-out item in their top-K row (nan if none).

    ``test_users[i]`` (a row of ``top_items``) holds out ``test_items[i]`` (an item id >= 0);
    a user holding out several items (a test set that is not leave-one-out) counts once,
    as a hit when any of them is in the row.
    """
    top = _check_top(top_items)
    u = _int_array(test_users, "test_users", 1)
    i = _int_array(test_items, "test_items", 1)
    if u.shape != i.shape:
        raise ValueError(f"test_users ({u.size}) and test_items ({i.size}) differ in length")
    _check_ids(u, "test_users", top.shape[0])
    if i.size and i.min() < 0:
        raise ValueError("test_items must be item ids >= 0")
    if not u.size:
        return float("nan")
    users, of_user = np.unique(u, return_inverse=True)
    hit = np.zeros(users.size, dtype=bool)
    np.logical_or.at(hit, of_user.reshape(-1), np.any(top[u] == i[:, None], axis=1))
    return float(np.mean(hit))


test_hit_ratio.__test__ = False  # type: ignore[attr-defined]  # not a pytest test despite its name


#: What `ranking_at_k` measures per user, over the users with at least one relevant item.
RANKING_METRICS = ("hr", "precision", "recall", "ndcg")


def ranking_at_k(top_items: ArrayLike, relevant: sp.spmatrix | sp.sparray, ks: ArrayLike) -> dict[str, dict[int, float]]:
    """HR, precision, recall and NDCG at each K of ``ks``, means over the rows of ``relevant``
    (a sparse [n_users, n_items] matrix whose stored entries mark each user's relevant items)
    that mark at least one item: ``{metric: {k: value}}`` (nan without such rows).

    For user u with relevant set R and top-k list L (``top_items[u, :k]``, -1 padding never
    relevant): hr = [|L ∩ R| > 0], precision = |L ∩ R| / k, recall = |L ∩ R| / |R|,
    ndcg = sum over hit positions p (1-based) of 1/log2(p+1), divided by that sum for
    min(|R|, k) hits at the first positions. Every k must lie in [1, top_items.shape[1]].
    """
    if not sp.issparse(relevant) or relevant.ndim != 2:
        raise ValueError("relevant must be a 2-d scipy sparse matrix")
    csr = sp.csr_matrix(relevant)
    csr.sum_duplicates()
    top = _check_top(top_items, csr.shape[1])
    if top.shape[0] != csr.shape[0]:
        raise ValueError(f"top_items has {top.shape[0]} rows but relevant has {csr.shape[0]}")
    k_values = _int_array(ks, "ks", 1)
    if k_values.size and (k_values.min() < 1 or k_values.max() > top.shape[1]):
        raise ValueError(f"every k must lie in [1, {top.shape[1]}] (the top-K lists' length), got {k_values.tolist()}")
    n_relevant = np.diff(csr.indptr)
    rows = np.flatnonzero(n_relevant)
    if not rows.size:
        return {name: {int(k): float("nan") for k in k_values} for name in RANKING_METRICS}
    listed = top[rows, :int(k_values.max(initial=0))]  # positions below the largest K only
    hit = np.zeros(listed.shape, dtype=bool)
    for j in range(listed.shape[1]):  # one pass per list position, vectorised over users
        hit[:, j] = np.asarray(csr[rows, np.maximum(listed[:, j], 0)]).ravel() != 0
    hit &= listed >= 0
    gain = 1.0 / np.log2(np.arange(2, listed.shape[1] + 2))
    ideal = np.cumsum(gain)
    size = n_relevant[rows]
    out: dict[str, dict[int, float]] = {name: {} for name in RANKING_METRICS}
    for k in k_values.tolist():
        hits = hit[:, :k].sum(axis=1)
        dcg = hit[:, :k] @ gain[:k]
        out["hr"][k] = float(np.mean(hits > 0))
        out["precision"][k] = float(np.mean(hits / k))
        out["recall"][k] = float(np.mean(hits / size))
        out["ndcg"][k] = float(np.mean(dcg / ideal[np.minimum(size, k) - 1]))
    return out


def sampled_hit_ratio(test_scores: ArrayLike, negative_scores: ArrayLike, k: int) -> float:
    """Sampled HR@k (the NCF protocol): the share of test cases whose held-out item scores
    below fewer than ``k`` of its sampled negatives. ``test_scores`` [n], ``negative_scores``
    [n, m]; a negative tied with the test item does not outrank it. nan without test cases."""
    test = np.asarray(test_scores, dtype=np.float64)
    neg = np.asarray(negative_scores, dtype=np.float64)
    if test.ndim != 1 or neg.ndim != 2 or neg.shape[0] != test.size:
        raise ValueError("test_scores must be [n] and negative_scores [n, m]")
    if k < 1:
        raise ValueError("k must be >= 1")
    if not test.size:
        return float("nan")
    return float(np.mean(np.count_nonzero(neg > test[:, None], axis=1) < k))


def robustness_improvement(
    hr_origin: ArrayLike, hr_attack: ArrayLike, hr_defense: ArrayLike
) -> float | np.ndarray:
    """RI = 1 - (hr_defense - hr_origin) / (hr_attack - hr_origin), elementwise.

    1 means the defense undid the attack, 0 that it did nothing; nan where
    ``hr_attack == hr_origin``. Scalars in, float out; arrays broadcast.
    """
    origin, attack, defense = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (hr_origin, hr_attack, hr_defense))
    )
    gain = attack - origin
    with np.errstate(divide="ignore", invalid="ignore"):
        ri = np.where(gain == 0, np.nan, 1.0 - (defense - origin) / gain)
    return float(ri) if ri.ndim == 0 else ri


def rank_shift(rank_before: ArrayLike, rank_after: ArrayLike) -> np.ndarray:
    """``rank_after - rank_before`` per (user, target), as int64 of the inputs' shape.

    Ranks are 1-based positions of the target among the user's unseen items (1 = best),
    so a NEGATIVE shift means the attack PROMOTED the target; 0 means no change.
    """
    before = np.asarray(rank_before)
    after = np.asarray(rank_after)
    if before.shape != after.shape:
        raise ValueError(f"rank shapes differ: {before.shape} vs {after.shape}")
    for name, r in (("rank_before", before), ("rank_after", after)):
        if r.size and not np.issubdtype(r.dtype, np.integer):
            raise ValueError(f"{name} must hold integers, got dtype {r.dtype}")
        if r.size and r.min() < 1:
            raise ValueError(f"{name} must be 1-based ranks (>= 1)")
    return after.astype(np.int64) - before.astype(np.int64)


def rank_shift_summary(shift: ArrayLike) -> dict[str, float]:
    """``{"mean", "median", "share_negative"}`` of the shifts (all nan if empty).

    ``share_negative`` is the share of pairs whose target moved up (see `rank_shift`).
    """
    s = np.asarray(shift, dtype=np.float64).ravel()
    if not np.all(np.isfinite(s)):
        raise ValueError("shift must be finite")
    if not s.size:
        return {"mean": float("nan"), "median": float("nan"), "share_negative": float("nan")}
    return {
        "mean": float(s.mean()),
        "median": float(np.median(s)),
        "share_negative": float(np.mean(s < 0)),
    }


#: Bin edges of `rank_shift_histogram`: the shift as a share of the item count, in 40 bins.
RANK_SHIFT_EDGES = np.linspace(-1.0, 1.0, 41)


def rank_shift_histogram(shift: ArrayLike, n_items: int) -> list[int]:
    """Counts of ``shift / n_items`` over `RANK_SHIFT_EDGES` (the last bin includes 1.0)."""
    s = np.asarray(shift, dtype=np.float64).ravel() / max(1, int(n_items))
    counts, _ = np.histogram(np.clip(s, -1.0, 1.0), bins=RANK_SHIFT_EDGES)
    return counts.astype(int).tolist()
