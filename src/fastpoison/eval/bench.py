"""The standard benchmark grid of `fastpoison bench`: effect and cost of the main attacks and
defenses on one dataset, as tables."""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable, Sequence

from ..data.targets import UNPOPULAR_BELOW
from ..defenses import applies
from .experiment import ExperimentSpec
from .grid import expand
from .report import BASELINE_MODEL, defense_label

STANDARD_ATTACKS = ("random", "average", "pga", "mixrand", "coattack")
#: TCD runs at a budget of 1 pseudo-label per rating (about 7-9x a plain fit) so that the
#: bench stays within a quarter hour on Yelp; ``--defenses none,rvd,tcd`` runs its default
#: (the paper's settings; 4 per rating on Yelp, about 15x).
#: RVD runs as the paper (the fine-tune alone) and with our whole-model shrink.
STANDARD_DEFENSES = ("none", "rvd", "rvd[forget=0.1,step=sgd]", "tcd[pseudo_budget=1]")
TIMINGS = ("attack", "fit", "attacked_fit", "defense_fit", "recommend_per_user", "evaluate", "total")
#: The model every bench also runs clean, so that a victim weaker than popularity shows.
BASELINE = BASELINE_MODEL


def standard_grid(dataset: str, *, models: Sequence[str] = ("mf",), attacks: Sequence[str] = STANDARD_ATTACKS,
                  defenses: Sequence[str] = STANDARD_DEFENSES, targets: str = "unpopular", seeds: int = 1,
                  seed: int = 0, model_options: dict[str, Any] | None = None) -> list[ExperimentSpec]:
    """The cells of the standard grid (defense variants such as ``tcd[pseudo_budget=1]`` allowed),
    without the defenses that cannot defend a model (RVD and TCD for popularity), plus one
    clean cell of the popularity baseline (`BASELINE`) unless it is among ``models``."""
    cells = [cell for model in models for cell in expand({
        "grid": {"dataset": dataset, "model": model, "attack": list(attacks), "targets": targets, "seeds": seeds,
                 "defense": [d for d in defenses if d.strip().lower() == "none" or applies(d, model)]},
        "settings": {"seed": seed}, "model_options": dict(model_options or {})})]
    if BASELINE not in models:
        cells.append(ExperimentSpec(dataset=dataset, model=BASELINE, targets=targets, seeds=seeds, seed=seed))
    return cells


#: The papers' targets: each attack promotes 5 unpopular items (both the RVD and the TCD paper).
PAPERS_TARGETS = ("unpopular", 5)


def protocol(targets: str, n_targets: int) -> str:
    """One line saying which items the bench promotes and whether that is the papers'
    protocol (`PAPERS_TARGETS`)."""
    how = targets.strip()
    what = {"unpopular": f"{n_targets} unpopular items (rated by 1-{UNPOPULAR_BELOW - 1} users)",
            "random": f"{n_targets} random items"}.get(how, f"the items {how}")
    if (how, n_targets) == PAPERS_TARGETS:
        return f"targets: {what}, the papers' protocol"
    return f"targets: {what}, not the papers' protocol ({PAPERS_TARGETS[1]} unpopular items)"


def _mean(values: Iterable[float | None]) -> float:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def timing_table(records: Iterable[dict[str, Any]]) -> str:
    """Markdown: per model, attack and defense, the mean over seeds of each stage's seconds
    (the attack, the clean and the attacked fit, the defense's set-up, the evaluations), the
    milliseconds per served user and the cell's total seconds, under a line that says how
    they add up (stages reused from another cell of the grid cost nothing in its total)."""
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record.get("error") is None and record.get("result"):
            spec = record["spec"]
            rows[(spec["model"], spec["attack"] or "none", defense_label(spec))].append(record["result"]["timings"])
    lines = ["Seconds of each stage, its own cost also where a cell reused it from another cell of the grid "
             "(evaluate: the clean, attacked and defended evaluations); cell total: the cell's own wall time, in "
             "which reused stages cost nothing, so it can be below the sum of its stages.", "",
             "| model | attack | defense | attack s | fit s | attacked fit s | defense fit s | ms per user | evaluate s "
             "| cell total s |", "|---" * 10 + "|"]
    for (model, attack, defense), timings in sorted(rows.items()):
        t = {name: _mean(x.get(name) for x in timings) for name in TIMINGS}
        cols = [_fmt(t["attack"]), _fmt(t["fit"]), _fmt(t["attacked_fit"]), _fmt(t["defense_fit"]),
                _fmt(1000 * t["recommend_per_user"], 3), _fmt(t["evaluate"]), _fmt(t["total"])]
        lines.append(f"| {model} | {attack} | {defense} | " + " | ".join(cols) + " |")
    return "\n".join(lines) + "\n"


def accuracy_table(records: Iterable[dict[str, Any]]) -> str:
    """Markdown: per model, attack and defense, the test HR over every test user (clean,
    attacked, defended), under a line that says so."""
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record.get("error") is None and record.get("result"):
            spec = record["spec"]
            rows[(spec["model"], spec["attack"] or "none", defense_label(spec))].append(record["result"])
    lines = ["Test HR over every test user (records also hold test_hr_*_liked, the RVD paper's accuracy).", "",
             "| model | attack | defense | test HR clean | attacked | defended |", "|---" * 6 + "|"]
    clean: dict[str, list[float]] = defaultdict(list)
    for (model, attack, defense), results in sorted(rows.items()):
        cols = [_mean((r.get(k) or {}).get("mean") for r in results)
                for k in ("test_hr_origin", "test_hr_attack", "test_hr_defense")]
        clean[model].append(cols[0])
        lines.append(f"| {model} | {attack} | {defense} | " + " | ".join(_fmt(c, 4) for c in cols) + " |")
    if BASELINE in clean:
        baseline = _mean(clean.pop(BASELINE))
        weaker = [f"{m} ({_fmt(_mean(v), 4)})" for m, v in sorted(clean.items()) if _mean(v) < baseline]
        lines += ["", f"Popularity's clean test HR: {_fmt(baseline, 4)}; "
                      + (f"below it: {', '.join(weaker)}." if weaker else "every victim here ranks better.")]
    return "\n".join(lines) + "\n"
