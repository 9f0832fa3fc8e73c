"""One experiment cell: dataset x model (x attack x defense) over seeds, as `run --json` reports it."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from ..data.datasets import Dataset, load_dataset
from ..data.ratings import RatingData
from ..attacks import get_attack
from ..data.targets import choose_targets
from ..models import make_model
from .metrics import target_hit_ratio, test_hit_ratio
from .stats import aggregate


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
            raise ValueError("defenses are not available in this version; run without --defense")
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


def _evaluate(model: Any, dataset: Dataset, targets: np.ndarray, k: int) -> tuple[dict[str, float], float]:
    """Target HR@k and test HR@k of a fitted model over the real users; returns (metrics, seconds/user)."""
    split = dataset.split
    real = np.arange(split.train.n_real_users, dtype=np.int32)
    start = time.perf_counter()
    top = model.top_k(real, k)
    per_user = (time.perf_counter() - start) / max(1, len(real))
    rated = split.train.csr[: len(real)]
    return {
        "hr": target_hit_ratio(top.items, targets, rated),
        "test_hr": test_hit_ratio(top.items, split.test_users, split.test_items),
    }, per_user


def _fit_and_evaluate(spec: ExperimentSpec, ds: Dataset, train: RatingData, targets: np.ndarray, seed: int,
                      progress: bool) -> tuple[dict[str, float], float, float]:
    """Fit a fresh victim on ``train``; returns (metrics, fit seconds, recommend seconds/user)."""
    model = make_model(spec.model, ds.name, **spec.model_options)
    start = time.perf_counter()
    model.fit(train, seed=seed, progress=progress)
    fit_s = time.perf_counter() - start
    metrics, per_user = _evaluate(model, ds, targets, spec.hr_k)
    return metrics, fit_s, per_user


def run_experiment(spec: ExperimentSpec, *, dataset: Dataset | None = None, progress: bool = False,
                   on_seed: SeedCallback | None = None) -> dict[str, Any]:
    """Run every seed of ``spec`` and return the `run --json` object (DESIGN §6).

    Per seed: targets are drawn, a victim is fitted on the clean training data
    (``hr_origin``); with an attack, fake users are generated under the threat model and a
    fresh victim is fitted on the poisoned data (``hr_attack``). Metrics count real users only.
    """
    ds = dataset or load_dataset(spec.dataset, spec.data_dir, require_real=spec.require_real)
    train = ds.split.train
    per_seed: list[dict[str, float]] = []
    timings: dict[str, list[float]] = {"fit": [], "recommend_per_user": [], "attack": []}
    target_sets = []
    for s in range(spec.seed, spec.seed + spec.seeds):
        targets = choose_targets(train, spec.targets, spec.n_targets, seed=s)
        target_sets.append(targets.tolist())
        metrics, fit_s, per_user = _fit_and_evaluate(spec, ds, train, targets, s, progress)
        timings["fit"].append(fit_s)
        timings["recommend_per_user"].append(per_user)
        if spec.attack is not None:
            start = time.perf_counter()
            fakes = get_attack(spec.attack).generate(train, targets, size=spec.attack_size, n_filler=spec.n_filler,
                                                     knowledge=spec.knowledge, seed=s)
            timings["attack"].append(time.perf_counter() - start)
            attacked, _, _ = _fit_and_evaluate(spec, ds, fakes.inject(train), targets, s, progress)
            metrics.update({f"{k}_attack": v for k, v in attacked.items()})
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
        "hr_defense": None,
        "test_hr_origin": summarised("test_hr"),
        "test_hr_attack": summarised("test_hr_attack"),
        "test_hr_defense": None,
        "ri": None,
        "p_value": None,
        "timings": {"attack": float(np.mean(timings["attack"])) if timings["attack"] else None,
                    "fit": float(np.mean(timings["fit"])), "defense_fit": None,
                    "recommend_per_user": float(np.mean(timings["recommend_per_user"]))},
    }
