"""One experiment cell: dataset x model (x attack x defense) over seeds, as `run --json` reports it."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from ..data.datasets import Dataset, load_dataset
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
        if self.attack is not None or self.defense is not None:
            raise ValueError("attacks and defenses are not available in this version; run the clean case")


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


def run_experiment(spec: ExperimentSpec, *, dataset: Dataset | None = None, progress: bool = False,
                   on_seed: SeedCallback | None = None) -> dict[str, Any]:
    """Run every seed of ``spec`` and return the `run --json` object (DESIGN §6)."""
    ds = dataset or load_dataset(spec.dataset, spec.data_dir, require_real=spec.require_real)
    train = ds.split.train
    per_seed: list[dict[str, float]] = []
    timings: dict[str, list[float]] = {"fit": [], "recommend_per_user": []}
    target_sets = []
    for s in range(spec.seed, spec.seed + spec.seeds):
        targets = choose_targets(train, spec.targets, spec.n_targets, seed=s)
        target_sets.append(targets.tolist())
        model = make_model(spec.model, ds.name, **spec.model_options)
        start = time.perf_counter()
        model.fit(train, seed=s, progress=progress)
        timings["fit"].append(time.perf_counter() - start)
        metrics, per_user = _evaluate(model, ds, targets, spec.hr_k)
        timings["recommend_per_user"].append(per_user)
        per_seed.append(metrics)
        if on_seed is not None:
            on_seed(s, metrics)
    summary = aggregate(per_seed)
    return {
        **asdict(spec),
        "data_source": ds.data_source,
        "files": list(ds.files),
        "target_items": target_sets,
        "hr_origin": summary["hr"].to_dict(),
        "hr_attack": None,
        "hr_defense": None,
        "test_hr_origin": summary["test_hr"].to_dict(),
        "test_hr_attack": None,
        "test_hr_defense": None,
        "ri": None,
        "p_value": None,
        "timings": {"attack": None, "fit": float(np.mean(timings["fit"])), "defense_fit": None,
                    "recommend_per_user": float(np.mean(timings["recommend_per_user"]))},
    }

