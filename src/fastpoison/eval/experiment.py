"""One experiment cell: dataset x model (x attack x defense) over seeds, as `run --json` reports it."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from ..attacks import get_attack
from ..data.datasets import Dataset, load_dataset
from ..data.ratings import RatingData
from ..data.targets import choose_targets
from ..defenses import RVD, DefensePlan, get_defense
from ..models import MODELS, make_model
from ..models.base import FactorModel, TrainableModel
from ..models.scoring import TopK
from .metrics import robustness_improvement, target_hit_ratio, test_hit_ratio
from .stats import aggregate, paired_ttest, summarize


@dataclass(frozen=True)
class ExperimentSpec:
    """What to run. ``seeds`` runs seeds ``seed .. seed+seeds-1``; ``model_options`` override
    the model's defaults (e.g. ``{"epochs": 10}``)."""

    dataset: str
    model: str = "mf"
    attack: str | None = None
    defense: str | None = None
    targets: str = "random"
    n_targets: int = 5
    attack_size: float = 0.03
    n_filler: int | None = None
    knowledge: float = 0.4
    rvd_k: int | None = None
    hr_k: int = 50
    seeds: int = 1
    seed: int = 0
    data_dir: str | None = None
    require_real: bool = False
    model_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise ValueError("seeds must be >= 1")
        if self.hr_k < 1:
            raise ValueError("hr_k must be >= 1")
        if self.defense is not None:
            plan = get_defense(self.defense)  # unknown names fail before any work
            models = None if plan.training is None else plan.training.models
            if models is not None and self.model not in models:
                raise ValueError(f"defense {self.defense} trains {', '.join(models)}; it does not apply to "
                                 f"model {self.model!r}")
            cls = MODELS.get(self.model.lower())
            if plan.training is not None and models is None and cls is not None and not issubclass(cls, FactorModel):
                raise ValueError(f"defense {self.defense} trains factor models (mf, nsvd); it does not apply to "
                                 f"model {self.model!r}")
        if self.rvd_k is not None and self.rvd_k < 1:
            raise ValueError(f"rvd_k must be >= 1, got {self.rvd_k}")
        if self.attack is not None:
            get_attack(self.attack)  # unknown names fail before any work
            if not 0 < self.attack_size <= 1:
                raise ValueError(f"attack size must lie in (0, 1], got {self.attack_size}")
            if not 0 < self.knowledge <= 1:
                raise ValueError(f"attacker knowledge must lie in (0, 1], got {self.knowledge}")
            if self.n_filler is not None and self.n_filler < 1:
                raise ValueError(f"filler items per fake user must be >= 1, got {self.n_filler}")


#: Called after each seed with (seed index, that seed's metrics).
SeedCallback = Callable[[int, dict[str, float]], None]


Recommend = Callable[[np.ndarray, int], TopK]


def _evaluate(recommend: Recommend, dataset: Dataset, targets: np.ndarray, k: int) -> tuple[dict[str, float], float]:
    """Target HR@k and test HR@k over the real users; returns (metrics, seconds per user)."""
    split = dataset.split
    real = np.arange(split.train.n_real_users, dtype=np.int32)
    start = time.perf_counter()
    top = recommend(real, k)
    per_user = (time.perf_counter() - start) / max(1, len(real))
    rated = split.train.csr[: len(real)]
    return {
        "hr": target_hit_ratio(top.items, targets, rated),
        "test_hr": test_hit_ratio(top.items, split.test_users, split.test_items),
    }, per_user


def _fit(spec: ExperimentSpec, ds: Dataset, train: RatingData, seed: int, progress: bool) -> tuple[TrainableModel, float]:
    """A fresh victim fitted on ``train``, and the seconds it took."""
    model = make_model(spec.model, ds.name, **spec.model_options)
    start = time.perf_counter()
    model.fit(train, seed=seed, progress=progress)
    return model, time.perf_counter() - start


def _defend(spec: ExperimentSpec, ds: Dataset, plan: DefensePlan, train: RatingData, victim: TrainableModel, seed: int,
            progress: bool) -> tuple[Recommend, float]:
    """The defended recommender on ``train`` and its set-up seconds: a victim refitted under the
    training-time part (else ``victim`` itself), served through RVD (its index built) if planned."""
    start = time.perf_counter()
    if plan.training is not None:
        victim = plan.training.fit(lambda **o: make_model(spec.model, ds.name, **{**spec.model_options, **o}),
                                   train, seed=seed, progress=progress)
    recommend = RVD(victim, k=spec.rvd_k, dataset=ds.name, seed=seed).recommend if plan.vicinal else victim.top_k
    return recommend, time.perf_counter() - start


def _robustness(per_seed: list[dict[str, float]]) -> dict[str, Any] | None:
    if not per_seed or "hr_defense" not in per_seed[0] or "hr_attack" not in per_seed[0]:
        return None
    values = [robustness_improvement(m["hr"], m["hr_attack"], m["hr_defense"]) for m in per_seed]
    return summarize(values).to_dict()


def _p_value(per_seed: list[dict[str, float]]) -> float | None:
    if not per_seed or "hr_defense" not in per_seed[0] or "hr_attack" not in per_seed[0]:
        return None
    return paired_ttest([m["hr_attack"] for m in per_seed], [m["hr_defense"] for m in per_seed])


def run_experiment(spec: ExperimentSpec, *, dataset: Dataset | None = None, progress: bool = False,
                   on_seed: SeedCallback | None = None) -> dict[str, Any]:
    """Run every seed of ``spec`` and return the `run --json` object (DESIGN §6).

    Per seed: targets are drawn, a victim is fitted on the clean training data
    (``hr_origin``); with an attack, fake users are generated under the threat model and a
    fresh victim is fitted on the poisoned data (``hr_attack``); with a defense, a victim refitted
    under its training part (else that victim) serves, through RVD if the defense includes it
    (``hr_defense``). Metrics count real users only. ``ri`` is the robustness improvement
    per seed (mean, std, values); ``p_value`` the paired t-test of
    ``hr_attack`` against ``hr_defense`` over seeds (nan with fewer than two).
    """
    ds = dataset or load_dataset(spec.dataset, spec.data_dir, require_real=spec.require_real)
    train = ds.split.train
    per_seed: list[dict[str, float]] = []
    timings: dict[str, list[float]] = {"fit": [], "recommend_per_user": [], "attack": [], "defense_fit": []}
    target_sets = []
    plan = get_defense(spec.defense, train, ds.name) if spec.defense is not None else None
    for s in range(spec.seed, spec.seed + spec.seeds):
        targets = choose_targets(train, spec.targets, spec.n_targets, seed=s)
        target_sets.append(targets.tolist())
        model, fit_s = _fit(spec, ds, train, s, progress)
        metrics, per_user = _evaluate(model.top_k, ds, targets, spec.hr_k)
        timings["fit"].append(fit_s)
        victim, poisoned = model, train
        if spec.attack is not None:
            start = time.perf_counter()
            fakes = get_attack(spec.attack).generate(train, targets, size=spec.attack_size, n_filler=spec.n_filler,
                                                     knowledge=spec.knowledge, seed=s)
            timings["attack"].append(time.perf_counter() - start)
            poisoned = fakes.inject(train)
            victim, _ = _fit(spec, ds, poisoned, s, progress)
            attacked, per_user = _evaluate(victim.top_k, ds, targets, spec.hr_k)
            metrics.update({f"{k}_attack": v for k, v in attacked.items()})
        if plan is not None:
            recommend, setup_s = _defend(spec, ds, plan, poisoned, victim, s, progress)
            defended, per_user = _evaluate(recommend, ds, targets, spec.hr_k)
            timings["defense_fit"].append(setup_s)
            metrics.update({f"{k}_defense": v for k, v in defended.items()})
        timings["recommend_per_user"].append(per_user)
        per_seed.append(metrics)
        if on_seed is not None:
            on_seed(s, metrics)
    summary = aggregate(per_seed)

    def summarised(key: str) -> dict[str, Any] | None:
        return summary[key].to_dict() if key in summary else None

    return {
        **asdict(spec),
        "data_source": ds.data_source,
        "files": list(ds.files),
        "target_items": target_sets,
        "hr_origin": summarised("hr"),
        "hr_attack": summarised("hr_attack"),
        "hr_defense": summarised("hr_defense"),
        "test_hr_origin": summarised("test_hr"),
        "test_hr_attack": summarised("test_hr_attack"),
        "test_hr_defense": summarised("test_hr_defense"),
        "ri": _robustness(per_seed),
        "p_value": _p_value(per_seed),
        "timings": {key: (float(np.mean(v)) if v else None) for key, v in timings.items()},
    }
