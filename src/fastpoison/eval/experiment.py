"""One experiment cell: dataset x model (x attack x defense) over seeds, as `run --json` reports it."""
from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, ClassVar, Mapping, TypeVar

import numpy as np
import scipy.sparse as sp

from ..attacks import attack_name, attack_settings, get_attack
from ..data.datasets import Dataset, check_dataset_name, load_dataset
from ..data.registry import rating_threshold
from ..data.ratings import RatingData
from ..data.split import Split
from ..data.targets import choose_targets
from ..errors import DataError
from ..defenses import DefensePlan, get_defense
from ..models import MODELS, make_model
from ..models.base import TrainableModel
from ..models.scoring import TopK
from . import backfire
from .metrics import (RANK_SHIFT_EDGES, rank_shift, rank_shift_histogram, rank_shift_summary, ranking_at_k,
                      robustness_improvement, sampled_hit_ratio, target_hit_ratio, test_hit_ratio)
from .stats import aggregate, paired_ttest, summarize


#: The version of what a spec's defaults mean: raised whenever a default that changes results
#: changes, so that records of an earlier protocol are neither resumed nor mixed into reports.
#: 2: RVD without the whole-model shrink (the paper's), fake profiles of the mean size with the
#: targets included, attacks aiming at the cell's HR@K, GCoAttack at TCD's pseudo-label
#: ratio for the dataset, both metric definitions.
#: 3: RVD fine-tunes with the model's own training (the paper's), APR's perturbation per
#: embedding row and RMF's Frobenius norm (the papers'), NSVD without the per-item prior,
#: CoAttack and GCoAttack as eq. 4, TNA's users by influence, delimited files renumbered.
#: 4: early stopping (MF and NSVD, patience 10, ours) outside `reproduce`; off the paper's datasets, TCD's
#: labels chosen by validation and RVD's k chosen by validation; the ML-1M twin calibrated
#: to real ML-1M.
#: 5: TCD caps its pseudo-labels at one per rating on victims whose scores only rank (BPR-MF,
#: LightGCN; ours); on LightGCN, RVD serves the whole model after the fine-tune and TCD's
#: pseudo-labels are not edges of the graph.
PROTOCOL = 5


#: The value types of `ExperimentSpec`'s fields, by their annotation.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "str | None": (str, type(None)), "int": (int,),
                                             "int | None": (int, type(None)), "float": (int, float),
                                             "bool": (bool,), "dict[str, Any]": (dict,), "tuple[int, ...]": (tuple,)}

#: The cut-offs at which every result also gives HR, precision, recall and NDCG of the
#: targets and of the test items (`RANKING_METRICS`), beside the headline HR@``hr_k``.
DEFAULT_KS = (10, 20, 50, 100)


def _check_types(spec: "ExperimentSpec") -> None:
    """ValueError naming the first field whose value is not of its annotated type (a bool is
    not a number here)."""
    for f in fields(spec):
        value, allowed = getattr(spec, f.name), _FIELD_TYPES[str(f.type)]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise ValueError(f"{f.name} must be {f.type}, got {value!r}")


@dataclass(frozen=True)
class ExperimentSpec:
    """What to run. ``seeds`` runs seeds ``seed .. seed+seeds-1``; ``model_options`` override
    the model's defaults (e.g. ``{"epochs": 10}``). ``attack`` and ``defense`` are registry
    names with their settings in brackets (``pga[steps=50]``, ``ltsmf+rvd[k=25]``), checked
    and spelled canonically (lower case, settings sorted) when the spec is made."""

    dataset: str
    model: str = "mf"
    attack: str | None = None
    defense: str | None = None
    targets: str = "random"
    n_targets: int = 5
    attack_size: float = 0.03
    n_filler: int | None = None
    knowledge: float = 0.4
    hr_k: int = 50
    ks: tuple[int, ...] = DEFAULT_KS
    seeds: int = 1
    seed: int = 0
    data_dir: str | None = None
    require_real: bool = False
    model_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.ks, list):  # from JSON or TOML
            object.__setattr__(self, "ks", tuple(self.ks))
        _check_types(self)
        check_dataset_name(self.dataset)
        try:
            make_model(self.model, self.dataset, **self.model_options)  # unknown models and settings fail here
        except TypeError as e:
            raise ValueError(f"model {self.model}: {e}") from None
        if self.seeds < 1:
            raise ValueError("seeds must be >= 1")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if self.hr_k < 1:
            raise ValueError("hr_k must be >= 1")
        if not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in self.ks):
            raise ValueError(f"ks must be cut-offs >= 1, got {self.ks!r}")
        object.__setattr__(self, "ks", tuple(sorted(set(self.ks))))
        if self.defense is not None:  # bad names and settings fail here, before any work
            object.__setattr__(self, "defense", get_defense(self.defense, dataset=self.dataset, model=self.model).name)
        if self.attack is not None:
            object.__setattr__(self, "attack", attack_name(self.attack))
            if not 0 < self.attack_size <= 1:
                raise ValueError(f"attack size must lie in (0, 1], got {self.attack_size}")
            if not 0 < self.knowledge <= 1:
                raise ValueError(f"attacker knowledge must lie in (0, 1], got {self.knowledge}")
            if self.n_filler is not None and self.n_filler < 1:
                raise ValueError(f"filler items per fake user must be >= 1, got {self.n_filler}")

    #: Fields that say where the data lives, not what the experiment is: not part of `key`.
    LOCATION_FIELDS: ClassVar[tuple[str, ...]] = ("data_dir", "require_real")
    #: Fields added after records were made, in `key` only when not at their default, so
    #: that those records keep their keys.
    LATER_FIELDS: ClassVar[tuple[str, ...]] = ("ks",)

    def key(self) -> str:
        """A stable 20-hex-digit hash of every field that defines the experiment, and of the
        `PROTOCOL` that says what its defaults mean."""
        defaults = {f.name: f.default for f in fields(self) if f.name in self.LATER_FIELDS}
        defining = {k: v for k, v in asdict(self).items()
                    if k not in self.LOCATION_FIELDS and not (k in defaults and v == defaults[k])}
        defining["protocol"] = PROTOCOL
        canonical = json.dumps(defining, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:20]

    def __hash__(self) -> int:
        return hash(self.key())

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ExperimentSpec":
        """The spec `to_dict` wrote (other keys, e.g. a record's results, are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


#: Called after each seed with (seed index, that seed's metrics).
SeedCallback = Callable[[int, dict[str, float]], None]


#: ``(users, k)`` -> top items; the models' ``top_k`` also take ``query_items=`` for ranks.
Recommend = Callable[..., TopK]


def _evaluate(recommend: Recommend, dataset: Dataset, targets: np.ndarray, k: int, ks: tuple[int, ...] = (), *,
              target_ranks: bool = False, score_pairs: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
              ) -> tuple[dict[str, float], dict[str, float], float, np.ndarray | None]:
    """Target HR@k and test HR@k of the real users, by both definitions each (`STAGE_METRICS`),
    and `_at_ks` of the same top lists at each of ``ks`` below the item count; returns
    (metrics, metrics at ks, seconds per user, and with ``target_ranks`` each real user's
    rank of each target [users, targets], -1 if rated). Sampled test HR needs the split's
    negatives and ``score_pairs`` (a model's ``predict_pairs``; a serving defense has none)."""
    split = dataset.split
    real = np.arange(split.train.n_real_users, dtype=np.int32)
    ks = tuple(c for c in ks if c < split.train.n_items)
    query = {"query_items": np.tile(targets.astype(np.int32), (len(real), 1))} if target_ranks else {}
    start = time.perf_counter()
    top = recommend(real, max((k, *ks)), **query)  # top-K lists nest: a shorter list is a prefix
    per_user = (time.perf_counter() - start) / max(1, len(real))
    rated = split.train.csr[: len(real)]
    liked = split.test_ratings >= rating_threshold(dataset.name, split.train.scale)
    items = top.items[:, :k]
    metrics = {
        "hr": target_hit_ratio(items, targets, rated),
        "hr_all_users": target_hit_ratio(items, targets, rated, exclude_raters=False),
        "test_hr": test_hit_ratio(items, split.test_users, split.test_items),
        "test_hr_liked": test_hit_ratio(items, split.test_users[liked], split.test_items[liked]),
    }
    if split.negatives is not None and score_pairs is not None:
        candidates = np.concatenate([split.test_items[:, None], split.negatives], axis=1)
        users = np.repeat(split.test_users, candidates.shape[1])
        scores = score_pairs(users, candidates.reshape(-1)).reshape(candidates.shape)
        metrics["test_hr_sampled"] = sampled_hit_ratio(scores[:, 0], scores[:, 1:], k)
    return metrics, _at_ks(top.items, split, targets, rated, ks), per_user, top.ranks


def _at_ks(top_items: np.ndarray, split: Split, targets: np.ndarray, rated: sp.csr_matrix,
           ks: tuple[int, ...]) -> dict[str, float]:
    """Per K of ``ks``, keyed ``"<metric>@<K>"``: target HR (per target over non-raters, as
    the headline ``hr``) and `ranking_at_k` of the targets each real user has not rated
    (``target_precision`` ...) and of each test user's held-out items (``test_hr`` ...)."""
    if not ks:
        return {}
    n_real, n_items = rated.shape
    unrated = np.ones((n_real, targets.size), dtype=bool)
    for j, t in enumerate(targets):
        unrated[:, j] = np.asarray(rated[:, int(t)].todense()).ravel() == 0
    users, cols = np.nonzero(unrated)
    target_sets = sp.csr_matrix((np.ones(users.size), (users, targets[cols])), shape=(n_real, n_items))
    test_sets = sp.csr_matrix((np.ones(split.test_users.size), (split.test_users, split.test_items)),
                              shape=(n_real, n_items))
    out = {f"target_hr@{c}": target_hit_ratio(top_items[:, :c], targets, rated) for c in ks}
    for prefix, relevant in (("target", target_sets), ("test", test_sets)):
        for metric, by_k in ranking_at_k(top_items, relevant, ks).items():
            if (prefix, metric) != ("target", "hr"):
                out.update({f"{prefix}_{metric}@{c}": value for c, value in by_k.items()})
    return out


#: Each metric `_evaluate` measures, by the key it has in a result for a stage (origin,
#: attack, defense): target HR over the users who have not rated a target (the RVD paper's
#: appendix D: ``hr_<stage>``) and over every real user (the TCD code:
#: ``hr_<stage>_all_users``); test HR over every test user (``test_hr_<stage>``) and over the
#: users whose held-out rating is at least the dataset's "liked" threshold (the RVD paper's
#: accuracy: ``test_hr_<stage>_liked``); where the split ships sampled negatives (the NCF
#: layout), the NCF protocol's sampled HR@K of the test item against them
#: (``test_hr_<stage>_sampled``; not for serving defenses, which score only their top-K).
STAGE_METRICS: dict[str, str] = {"hr": "hr_{}", "hr_all_users": "hr_{}_all_users", "test_hr": "test_hr_{}",
                                 "test_hr_liked": "test_hr_{}_liked", "test_hr_sampled": "test_hr_{}_sampled"}
STAGES = ("origin", "attack", "defense")


def _at_stage(metrics: dict[str, float], stage: str) -> dict[str, float]:
    """``metrics`` of `_evaluate` under their result keys for ``stage``."""
    return {STAGE_METRICS[name].format(stage): value for name, value in metrics.items()}


def _at_stage_ks(metrics: dict[str, float], stage: str) -> dict[tuple[str, str], float]:
    """`_at_ks`'s metrics keyed (stage, "<metric>@<K>")."""
    return {(stage, name): value for name, value in metrics.items()}


def _by_stage(summary: dict[Any, Any]) -> dict[str, dict[str, Any]] | None:
    """The result's ``at_k``: per stage, each ``"<metric>@<K>"``'s summary over seeds; None
    when no K was measured."""
    out: dict[str, dict[str, Any]] = {}
    for (stage, name), value in summary.items():
        out.setdefault(stage, {})[name] = value.to_dict()
    return out or None


def _stage(progress: bool, seed: int, text: str) -> None:
    """With ``progress``, one line on stderr saying which stage of ``seed`` starts."""
    if progress:
        print(f"fastpoison: seed {seed}: {text}", file=sys.stderr, flush=True)


def _fit(spec: ExperimentSpec, ds: Dataset, train: RatingData, seed: int, progress: bool) -> tuple[TrainableModel, float]:
    """A fresh victim fitted on ``train``, and the seconds it took."""
    _stage(progress, seed, f"fitting {spec.model} on {'the poisoned' if train.n_users > train.n_real_users else 'the'} "
                           f"training ratings")
    model = make_model(spec.model, ds.name, **spec.model_options)
    return _timed(lambda: model.fit(train, seed=seed, progress=progress))


def _epochs(model: TrainableModel) -> dict[str, int]:
    """The epoch a fit kept and how many it ran (fewer than configured if it stopped early)."""
    return {"kept_epoch": int(model.best_epoch), "epochs_run": model.epochs_run}


def _defend(spec: ExperimentSpec, ds: Dataset, plan: DefensePlan, train: RatingData, victim: TrainableModel, seed: int,
            progress: bool) -> tuple[Recommend, Callable[..., np.ndarray] | None, float, dict[str, Any],
                                     TrainableModel]:
    """The defended recommender on ``train``, its pair scorer (None behind a serving part), its
    set-up seconds, what its parts chose (`TrainableModel.fit_notes`, a served recommender's
    ``notes``) and the model behind it: a victim refitted under the training part (else
    ``victim`` itself), served through the serving part (else its own top-K)."""
    start = time.perf_counter()
    notes: dict[str, Any] = {}
    _stage(progress, seed, f"defending with {plan.name}" + (" (training)" if plan.training is not None else ""))
    if plan.training is not None:
        victim = plan.training.fit(lambda **o: make_model(spec.model, ds.name, **{**spec.model_options, **o}),
                                   train, seed=seed, progress=progress)
        notes = dict(victim.fit_notes)
    if plan.serving is not None:
        served = plan.serving.serve(victim, seed=seed, progress=progress)
        notes.update(getattr(served, "notes", {}))
        return served, None, time.perf_counter() - start, notes, victim
    return victim.top_k, victim.predict_pairs, time.perf_counter() - start, notes, victim


T = TypeVar("T")


def _memo(shared: dict[Any, Any] | None, key: Any, compute: Callable[[], T]) -> T:
    """``compute()``, remembered under ``key`` in ``shared`` (always computed when None)."""
    if shared is None:
        return compute()
    if key not in shared:
        shared[key] = compute()
    return shared[key]


def _timed(compute: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    return compute(), time.perf_counter() - start


def _shift_summary(shifts: list[np.ndarray], n_items: int) -> dict[str, Any] | None:
    """Rank shift of the targets against the clean model over every seed's (user, target)
    pairs: mean, median, share moved up, and the histogram of shift / n_items."""
    if not shifts:
        return None
    pooled = np.concatenate(shifts)
    return {**rank_shift_summary(pooled), "histogram": rank_shift_histogram(pooled, n_items),
            "edges": RANK_SHIFT_EDGES.tolist()}


def _robustness(per_seed: list[dict[str, float]]) -> dict[str, Any] | None:
    if not per_seed or "hr_defense" not in per_seed[0] or "hr_attack" not in per_seed[0]:
        return None
    values = [robustness_improvement(m["hr_origin"], m["hr_attack"], m["hr_defense"]) for m in per_seed]
    return summarize(values).to_dict()


def _ri_of_means(summary: dict[str, Any]) -> float | None:
    """RI of the mean target HRs over seeds (steadier than the mean of per-seed RIs when the
    attack barely moves the targets in some seed)."""
    if "hr_defense" not in summary or "hr_attack" not in summary:
        return None
    return robustness_improvement(summary["hr_origin"].mean, summary["hr_attack"].mean, summary["hr_defense"].mean)


def _p_value(per_seed: list[dict[str, float]]) -> float | None:
    if not per_seed or "hr_defense" not in per_seed[0] or "hr_attack" not in per_seed[0]:
        return None
    return paired_ttest([m["hr_attack"] for m in per_seed], [m["hr_defense"] for m in per_seed])


#: The stage timings of a result, each the mean over seeds of wall seconds: the clean fit,
#: the attack's generation, the attacked fit, the defense's set-up (its training and/or
#: serving preparation), the serving stage's top-K per user (the last stage evaluated), and
#: the evaluation of every stage (top-K lists and metrics). Stages reused from ``shared``
#: carry the seconds they took when they were made.
SEED_TIMINGS = ("fit", "attack", "attacked_fit", "defense_fit", "recommend_per_user", "evaluate")


def peak_rss_mb() -> float:
    """The process's peak resident set so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def _check_evaluable(spec: ExperimentSpec, ds: Dataset) -> None:
    """DataError unless ``spec``'s metrics can mean something on ``ds``: some user has a test
    rating, the ratings vary (for models of rating values), and K leaves items out of the
    top-K lists."""
    if ds.split.train.n_real_users < 2:
        raise DataError(f"{ds.name} has one user: target HR counts users who have not rated a target, and there "
                        f"would be none (or only that user) to count")
    if ds.split.n_test == 0:
        raise DataError(f"{ds.name}: no user has a test rating (leave-one-out needs users with 2 ratings or more)")
    values = ds.split.train.values
    if values.size and values.min() == values.max() and not MODELS[spec.model].implicit_feedback:
        raise DataError(f"{ds.name}: every training rating is {values[0]:g}, so a model of rating values has nothing "
                        f"to learn; use an implicit-feedback model (cdae) or data with varied ratings")
    if spec.hr_k >= ds.split.train.n_items:
        raise DataError(f"HR@{spec.hr_k} on {ds.name}, which has {ds.split.train.n_items} items: every item would be "
                        f"in every top-K list; choose --hr-k below the number of items")


def run_experiment(spec: ExperimentSpec, *, dataset: Dataset | None = None, progress: bool = False,
                   on_seed: SeedCallback | None = None, shared: dict[Any, Any] | None = None) -> dict[str, Any]:
    """Run every seed of ``spec`` and return the `run --json` object.

    Per seed: targets are drawn, a victim is fitted on the clean training data
    (``hr_origin``); with an attack, fake users are generated under the threat model and a
    fresh victim is fitted on the poisoned data (``hr_attack``); with a defense, a victim refitted
    under its training part (else that victim) serves, through its serving part if it has one
    (``hr_defense``). Metrics count real users only, each HR by both papers' definitions
    (`STAGE_METRICS`). ``attack_settings`` and ``defense_settings`` give every setting in
    force, defaults included; ``defense_notes`` what the defense chose per seed (e.g.
    TCD's labels under ``labels=auto``, RVD's k off Table 2), None if it chose nothing;
    ``epochs`` per stage and seed the epoch each fit kept (``kept_epoch``, counted from 0 as
    in a model's ``history``) and the epochs it ran (early stopping, `TrainConfig.patience`), the defended stage's from the model that serves (the
    attacked victim behind a serving-only defense). ``ri`` is the robustness
    improvement per seed (mean, std, values), ``ri_of_means`` the RI of the mean HRs;
    ``p_value`` the paired t-test of ``hr_attack`` against ``hr_defense`` over seeds (nan
    with fewer than two); ``backfire`` the reasons the defense backfired
    (`backfire.of_result`: empty if it did not, None without an attack and a defense);
    ``accuracy_cost`` why the defense is marked for what it cost of the test HR
    (`backfire.cost_of_result`: empty if it is not, None without a defense);
    ``at_k`` per stage the summaries of ``"<metric>@<K>"`` for each K of ``ks`` below the item
    count (`_at_ks`: target HR, precision, recall, NDCG; the same of the test items).

    ``shared``: a dict kept across calls on the same dataset so that experiments that differ
    only in the defense (or the targets' evaluation) reuse the clean victim, the fake users
    and the attacked victim (with the timings measured when they were made); results are
    the same as without it.
    """
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    ds = dataset or load_dataset(spec.dataset, spec.data_dir, require_real=spec.require_real)
    _check_evaluable(spec, ds)
    train = ds.split.train
    per_seed: list[dict[str, float]] = []
    timings: dict[str, list[float]] = {key: [] for key in SEED_TIMINGS}
    target_sets = []
    shifts: dict[str, list[np.ndarray]] = {"attack": [], "defense": []}
    defense_notes: list[dict[str, Any]] = []
    epochs: dict[str, list[dict[str, int]]] = {stage: [] for stage in STAGES}
    at_ks: list[dict[str, float]] = []
    plan = None if spec.defense is None else get_defense(spec.defense, dataset=ds.name, model=spec.model, data=train)
    model_key = (ds.name, spec.model, json.dumps(spec.model_options, sort_keys=True))
    for s in range(spec.seed, spec.seed + spec.seeds):
        targets = choose_targets(train, spec.targets, spec.n_targets, seed=s)
        target_sets.append(targets.tolist())
        clean_key = ("clean", model_key, s)
        model, fit_s = _memo(shared, clean_key, lambda: _fit(spec, ds, train, s, progress))
        eval_key = (spec.targets, spec.n_targets, spec.hr_k, spec.ks)
        (clean, clean_at_ks, per_user, clean_ranks), eval_s = _memo(
            shared, ("eval", clean_key, eval_key),
            lambda: _timed(lambda: _evaluate(model.top_k, ds, targets, spec.hr_k, spec.ks, target_ranks=True,
                                             score_pairs=model.predict_pairs)))
        metrics = _at_stage(clean, "origin")
        seed_at_ks = _at_stage_ks(clean_at_ks, "origin")
        timings["fit"].append(fit_s)
        epochs["origin"].append(_epochs(model))
        victim, poisoned = model, train
        if spec.attack is not None:
            fakes_key = ("fakes", ds.name, spec.attack, spec.targets, spec.n_targets, spec.attack_size, spec.n_filler,
                         spec.knowledge, spec.hr_k, s)

            def generate() -> Any:
                _stage(progress, s, f"generating {spec.attack}'s fake users")
                return get_attack(spec.attack).generate(train, targets, size=spec.attack_size, n_filler=spec.n_filler,
                                                        knowledge=spec.knowledge, seed=s, top_k=spec.hr_k)

            fakes, attack_s = _memo(shared, fakes_key, lambda: _timed(generate))
            timings["attack"].append(attack_s)
            poisoned = _memo(shared, ("poisoned", fakes_key), lambda: fakes.inject(train))
            attacked_key = ("attacked", model_key, fakes_key)
            victim, attacked_fit_s = _memo(shared, attacked_key, lambda: _fit(spec, ds, poisoned, s, progress))
            timings["attacked_fit"].append(attacked_fit_s)
            (attacked, attacked_at_ks, per_user, ranks), attacked_eval_s = _memo(
                shared, ("eval", attacked_key, eval_key),
                lambda: _timed(lambda: _evaluate(victim.top_k, ds, targets, spec.hr_k, spec.ks, target_ranks=True,
                                                 score_pairs=victim.predict_pairs)))
            eval_s += attacked_eval_s
            metrics.update(_at_stage(attacked, "attack"))
            seed_at_ks.update(_at_stage_ks(attacked_at_ks, "attack"))
            epochs["attack"].append(_epochs(victim))
            shifts["attack"].append(rank_shift(clean_ranks[clean_ranks > 0], ranks[clean_ranks > 0]))
        if plan is not None:
            recommend, score_pairs, setup_s, notes, defended_model = _defend(spec, ds, plan, poisoned, victim, s,
                                                                             progress)
            defense_notes.append(notes)
            epochs["defense"].append(_epochs(defended_model))
            gives_ranks = plan.serving is None or plan.serving.gives_ranks
            if plan.serving is not None:
                _stage(progress, s, f"serving {train.n_real_users} users through {plan.serving.name}")
            (defended, defended_at_ks, per_user, ranks), defended_eval_s = _timed(
                lambda: _evaluate(recommend, ds, targets, spec.hr_k, spec.ks, target_ranks=gives_ranks,
                                  score_pairs=score_pairs))
            eval_s += defended_eval_s
            seed_at_ks.update(_at_stage_ks(defended_at_ks, "defense"))
            if ranks is not None:
                shifts["defense"].append(rank_shift(clean_ranks[clean_ranks > 0], ranks[clean_ranks > 0]))
            timings["defense_fit"].append(setup_s)
            metrics.update(_at_stage(defended, "defense"))
        timings["recommend_per_user"].append(per_user)
        timings["evaluate"].append(eval_s)
        per_seed.append(metrics)
        at_ks.append(seed_at_ks)
        if on_seed is not None:
            on_seed(s, metrics)
    summary = aggregate(per_seed)

    def summarised(key: str) -> dict[str, Any] | None:
        return summary[key].to_dict() if key in summary else None

    result = {
        **asdict(spec),
        "protocol": PROTOCOL,
        "data_source": ds.data_source,
        "files": list(ds.files),
        "target_items": target_sets,
        "attack_settings": None if spec.attack is None else attack_settings(get_attack(spec.attack)),
        "defense_settings": None if plan is None else plan.settings(),
        "defense_notes": defense_notes if any(defense_notes) else None,
        "epochs": {stage: per_stage or None for stage, per_stage in epochs.items()},
        **{key.format(stage): summarised(key.format(stage)) for key in STAGE_METRICS.values() for stage in STAGES},
        "ri": _robustness(per_seed),
        "ri_of_means": _ri_of_means(summary),
        "p_value": _p_value(per_seed),
        "at_k": _by_stage(aggregate(at_ks)),
        "rank_shift_attack": _shift_summary(shifts["attack"], train.n_items),
        "rank_shift_defense": _shift_summary(shifts["defense"], train.n_items),
        "timings": {**{key: (float(np.mean(v)) if v else None) for key, v in timings.items()},
                    "total": time.perf_counter() - wall_start, "cpu_total": time.process_time() - cpu_start,
                    "peak_rss_mb": peak_rss_mb()},
    }
    result["backfire"] = backfire.of_result(result)
    result["accuracy_cost"] = backfire.cost_of_result(result)
    return result
