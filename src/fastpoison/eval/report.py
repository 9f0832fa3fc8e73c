"""Tables from a grid's records: mean ± std over seeds, RI, paired t-test stars, best in bold.

Records of one seed each are grouped into *cells* (the spec without its seed); a table per
(dataset, model, targets, knowledge, attack size) has the defenses as rows ("none": the
attacked model) and the attacks as columns, holding target HR@K. Stars mark the paired
t-test of the attacked against the defended HR over seeds: * p < 0.05, ** p < 0.01,
*** p < 0.001; `backfire.MARK` a defense that backfired, `backfire.COST_MARK` one that cost more
than a tenth of the test HR. The lowest HR of each column is in bold.
"""
from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..jsonio import number
from . import backfire
from .experiment import PROTOCOL, STAGE_METRICS, STAGES
from .metrics import robustness_improvement
from .stats import paired_ttest, summarize

#: Per-seed metrics a cell reports, as named in `run_experiment`'s result (both definitions).
METRICS = tuple(key.format(stage) for key in STAGE_METRICS.values() for stage in STAGES)
#: What the tables show, said under each heading.
TABLE_METRIC = ("target HR@K over the real users who have not rated the target (the RVD paper's appendix D; "
                "the CSV also has hr_*_all_users, over every real user, as the TCD code counts)")
#: The model whose clean test HR every victim is held against (popularity).
BASELINE_MODEL = "pop"
#: Spec fields every table heading names.
TABLE_FIELDS = ("dataset", "model", "targets", "knowledge", "attack_size")
#: Spec fields that are not part of a table's configuration: its rows and columns, and where
#: the data lives. Every other field (n_targets, hr_k, model_options, ...) tells tables apart.
NOT_CONFIGURATION = ("attack", "defense", "data_dir", "require_real")
#: A table's configuration: ``(field, value as JSON)`` pairs, sorted by field.
Configuration = tuple[tuple[str, str], ...]
FORMATS = ("md", "csv", "latex")


@dataclass
class Cell:
    """One spec over seeds: ``per_seed[seed][metric]``; `values` lists a metric in seed order."""

    spec: dict[str, Any]
    per_seed: dict[int, dict[str, float]] = field(default_factory=dict)
    #: Target rank-shift histograms (``"attack"``, ``"defense"``) summed over seeds.
    rank_shift: dict[str, list[int]] = field(default_factory=dict)
    #: ``timings[seed][stage]``: seconds as `run_experiment` reports them (None: stage not run).
    timings: dict[int, dict[str, float | None]] = field(default_factory=dict)
    #: Every defense part's settings in force, defaults included (``{"rvd": {"k": 12, ...}}``).
    defense_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``shift_means[stage][seed]``: the targets' mean rank shift against the clean model.
    shift_means: dict[str, dict[int, float]] = field(default_factory=dict)
    #: Seeds in which the defense left the model as trained without it (its ``inactive`` note).
    inactive: set[int] = field(default_factory=set)

    @property
    def seeds(self) -> list[int]:
        return sorted(self.per_seed)

    @property
    def values(self) -> dict[str, list[float]]:
        """Each metric every seed reports, in seed order: the `METRICS`, then the metrics at
        several K as ``at_k.<stage>.<metric>@<K>``."""
        names = [*METRICS, *(m for m in self.per_seed[self.seeds[0]] if m not in METRICS)] if self.seeds else []
        return {m: [self.per_seed[s][m] for s in self.seeds] for m in names
                if all(m in self.per_seed[s] for s in self.seeds)}

    @property
    def attack(self) -> str:
        return self.spec["attack"] or "none"

    @property
    def defense(self) -> str:
        return defense_label(self.spec)

    def summary(self, metric: str) -> tuple[float, float, int]:
        """``(mean, std, n)`` of ``metric`` over seeds (nan, nan, 0 when absent)."""
        return _mean_std_n(self.values.get(metric, []))

    def timing(self, stage: str) -> tuple[float, float, int]:
        """``(mean, std, n)`` over seeds of one timing (e.g. ``"recommend_per_user"``)."""
        return _mean_std_n([t[stage] for t in self.timings.values() if t.get(stage) is not None])

    def p_value(self) -> float:
        """Paired t-test of attacked against defended target HR over seeds."""
        if not self.values.get("hr_defense") or not self.values.get("hr_attack"):
            return math.nan
        return paired_ttest(self.values["hr_attack"], self.values["hr_defense"])

    def backfire(self) -> list[str]:
        """`backfire.reasons` over the cell's seeds (empty without a defended HR)."""
        if not self.values.get("hr_defense") or not self.values.get("hr_attack"):
            return []
        shifts = [self.shift_means.get(stage, {}) for stage in ("attack", "defense")]
        attack_shift, defense_shift = (_mean_std_n(list(s.values()))[0] if s else None for s in shifts)
        return backfire.reasons(self.summary("hr_attack")[0], self.summary("hr_defense")[0], attack_shift,
                                defense_shift)

    def accuracy_cost(self) -> list[str]:
        """`backfire.accuracy_cost` of the seeds' mean test HR (empty without a defended one)."""
        before = "test_hr_attack" if self.values.get("test_hr_attack") else "test_hr_origin"
        if not self.values.get("test_hr_defense") or not self.values.get(before):
            return []
        return backfire.accuracy_cost(self.summary(before)[0], self.summary("test_hr_defense")[0])

    def label(self) -> str:
        """The cell as warnings name it: defense against attack on dataset (model, targets)."""
        return (f"{self.defense} against {self.attack} on {self.spec['dataset']} ({self.spec['model']}, "
                f"{self.spec['targets']} targets, knowledge {self.spec['knowledge']})")

    def ri(self) -> tuple[float, float, int]:
        """Robustness improvement per seed, as ``(mean, std, n)``."""
        triples = zip(self.values.get("hr_origin", []), self.values.get("hr_attack", []),
                      self.values.get("hr_defense", []))
        return _mean_std_n([robustness_improvement(o, a, d) for o, a, d in triples])


def _mean_std_n(values: list[float]) -> tuple[float, float, int]:
    """`summarize`'s mean, std and count; (nan, nan, 0) without values."""
    if not values:
        return math.nan, math.nan, 0
    s = summarize(values)
    return s.mean, s.std, s.n


def defense_label(spec: dict[str, Any]) -> str:
    """A spec's defense as tables name it, with its settings: ``none``, ``rvd``,
    ``tcd[pseudo_budget=1]``, ``ltsmf+rvd[k=25]``."""
    return spec["defense"] or "none"


def malformed(record: Any) -> str | None:
    """Why ``record`` is not a result record `collect` can use (None if it is one)."""
    if not isinstance(record, dict) or not isinstance(record.get("spec"), dict):
        return "no spec"
    spec, result = record["spec"], record.get("result")
    missing = [f for f in (*TABLE_FIELDS, "attack", "defense", "seed") if f not in spec]
    if missing:
        return f"its spec lacks {', '.join(missing)}"
    if record.get("error") is None and not isinstance(result, dict):
        return "no result"
    if isinstance(result, dict):
        for m in METRICS:
            value = result.get(m)
            if value is not None and not (isinstance(value, dict) and isinstance(value.get("values"), list)):
                return f"its {m} is not a summary with values"
    return None


def collect(records: Iterable[dict[str, Any]]) -> list[Cell]:
    """Group successful records (one seed or several each) into cells; errors are skipped, and
    so are records of an earlier `PROTOCOL` (with a warning: their defaults meant other things)
    and `malformed` ones (with a warning)."""
    cells: dict[str, Cell] = {}
    earlier = bad = 0
    for record in records:
        if malformed(record) is not None:
            bad += 1
            continue
        if record.get("error") is not None or not record.get("result"):
            continue
        if record["result"].get("protocol", 1) != PROTOCOL:
            earlier += 1
            continue
        spec = dict(record["spec"])
        first, count = spec.pop("seed"), spec.pop("seeds", 1)
        cell = cells.setdefault(json.dumps(spec, sort_keys=True, default=str), Cell(spec))
        result = record["result"]
        cell.defense_settings = dict(result.get("defense_settings") or {})
        for i, notes in enumerate(result.get("defense_notes") or []):
            if notes and "inactive" in notes:
                cell.inactive.add(first + i)
        for i in range(count):
            cell.per_seed[first + i] = {m: number(result[m]["values"][i]) for m in METRICS if result.get(m) is not None}
            cell.per_seed[first + i].update({f"at_k.{stage}.{name}": number(summary["values"][i])
                                             for stage, by_name in (result.get("at_k") or {}).items()
                                             for name, summary in by_name.items()})
            cell.timings[first + i] = dict(result.get("timings") or {})  # a multi-seed record has means only
        for stage in ("attack", "defense"):
            shift = result.get(f"rank_shift_{stage}")
            if shift:
                old = cell.rank_shift.get(stage, [0] * len(shift["histogram"]))
                cell.rank_shift[stage] = [a + b for a, b in zip(old, shift["histogram"])]
                if shift.get("mean") is not None:
                    cell.shift_means.setdefault(stage, {})[first] = float(shift["mean"])
    if earlier:
        warnings.warn(f"{earlier} record(s) of an earlier protocol left out (their defaults differ from this "
                      f"version's); rerun those cells to include them", stacklevel=2)
    if bad:
        warnings.warn(f"{bad} record(s) that are not result records left out", stacklevel=2)
    return list(cells.values())


def stars(p: float) -> str:
    if math.isnan(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def configuration(cell: Cell) -> Configuration:
    """Everything in ``cell``'s spec that changes a result, apart from its attack and defense."""
    return tuple((f, json.dumps(v, sort_keys=True, default=str)) for f, v in sorted(cell.spec.items())
                 if f not in NOT_CONFIGURATION)


def headings(configs: Iterable[Configuration]) -> dict[Configuration, str]:
    """A heading per configuration: the `TABLE_FIELDS`, then every other field whose value
    differs between the configurations (so two tables never read alike)."""
    configs = list(configs)
    values: dict[str, set[str]] = defaultdict(set)
    for config in configs:
        for f, v in config:
            values[f].add(v)
    shown = [*TABLE_FIELDS, *sorted(f for f, seen in values.items() if len(seen) > 1 and f not in TABLE_FIELDS)]
    return {config: ", ".join(f"{f} {json.loads(dict(config)[f])}" for f in shown if f in dict(config))
            for config in configs}


def tables(cells: list[Cell]) -> dict[Configuration, dict[str, dict[str, tuple[float, float, str]]]]:
    """Per table (one `configuration`): ``{row (defense): {attack: (mean, std, stars)}}``
    with target HR; the "none" row is the attacked model without defense."""
    out: dict[Configuration, dict[str, dict[str, tuple[float, float, str]]]] = defaultdict(dict)
    for cell in cells:
        table = out[configuration(cell)]
        if cell.values.get("hr_attack"):
            mean, std, _ = cell.summary("hr_attack")
            table.setdefault("none", {})[cell.attack] = (mean, std, "")
        if cell.values.get("hr_defense"):
            mean, std, _ = cell.summary("hr_defense")
            mark = (stars(cell.p_value()) + (f" {backfire.MARK}" if cell.backfire() else "")
                    + (f" {backfire.COST_MARK}" if cell.accuracy_cost() else "")
                    + (f" {backfire.INACTIVE_MARK}" if cell.inactive else ""))
            table.setdefault(cell.defense, {})[cell.attack] = (mean, std, mark)
        elif not cell.values.get("hr_attack"):
            mean, std, _ = cell.summary("hr_origin")
            table.setdefault("origin", {})[cell.attack] = (mean, std, "")
    return dict(out)


def _grid(table: dict[str, dict[str, tuple[float, float, str]]], bold: tuple[str, str]) -> tuple[list[str], list[list[str]]]:
    attacks = sorted({a for row in table.values() for a in row})
    rows = sorted(table, key=lambda r: (r not in ("origin", "none"), r != "none", r))
    best = {a: min((table[r][a][0] for r in rows if a in table[r] and r != "origin" and not math.isnan(table[r][a][0])),
                   default=math.nan) for a in attacks}
    body = []
    for r in rows:
        line = [r]
        for a in attacks:
            if a not in table[r]:
                line.append("-")
                continue
            mean, std, mark = table[r][a]
            text = f"{mean:.4f} ± {std:.4f}{mark}"
            line.append(f"{bold[0]}{text}{bold[1]}" if r != "origin" and mean == best[a] else text)
        body.append(line)
    return attacks, body


def _legends(body: list[list[str]]) -> list[str]:
    """The legend of each mark a table body holds (backfire, accuracy cost, inactive)."""
    return [legend for mark, legend in ((backfire.MARK, backfire.LEGEND), (backfire.COST_MARK, backfire.COST_LEGEND),
                                        (backfire.INACTIVE_MARK, backfire.INACTIVE_LEGEND))
            if any(f" {mark}" in text for row in body for text in row[1:])]


def _sorted_tables(cells: list[Cell]) -> list[tuple[str, dict[str, dict[str, tuple[float, float, str]]]]]:
    """``(heading, table)`` per configuration, in a stable order."""
    found = tables(cells)
    names = headings(found)
    return [(names[config], found[config]) for config in sorted(found)]


def _clean_test_hr(cells: Iterable[Cell]) -> float:
    """The mean clean test HR (every test user) over ``cells`` (nan without one)."""
    values = [v for c in cells for v in c.values.get("test_hr_origin", [])]
    return _mean_std_n(values)[0]


def _baseline_line(members: list[Cell], everyone: list[Cell]) -> list[str]:
    """The line comparing a table's clean victim with the popularity baseline's clean test HR
    on the same dataset, when the records hold both."""
    model, dataset = members[0].spec["model"], members[0].spec["dataset"]
    baseline = _clean_test_hr(c for c in everyone if c.spec["model"] == BASELINE_MODEL and c.spec["dataset"] == dataset)
    victim = _clean_test_hr(members)
    if model == BASELINE_MODEL or math.isnan(baseline) or math.isnan(victim):
        return []
    verdict = ": the victim ranks below popularity" if victim < baseline else ""
    return ["", f"Clean test HR (every test user): {model} {victim:.4f}, popularity {baseline:.4f}{verdict}."]


def to_markdown(cells: list[Cell]) -> str:
    """One Markdown table per configuration (see `configuration`), each with its clean
    victim's test HR beside the popularity baseline's where the records hold it."""
    parts = []
    by_config: dict[Configuration, list[Cell]] = defaultdict(list)
    for cell in cells:
        by_config[configuration(cell)].append(cell)
    names = headings(by_config)
    found = tables(cells)
    for config in sorted(found):
        attacks, body = _grid(found[config], ("**", "**"))
        lines = [f"### Target HR: {names[config]}", "", f"{TABLE_METRIC[0].upper()}{TABLE_METRIC[1:]}.", "",
                 "| defense | " + " | ".join(attacks) + " |",
                 "|---" * (len(attacks) + 1) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        lines += [line for legend in _legends(body) for line in ("", legend + ".")]
        lines += _baseline_line(by_config[config], cells)
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def backfired(cells: Iterable[Cell]) -> list[tuple[str, list[str]]]:
    """``(label, reasons)`` of every cell whose defense backfired."""
    return [(cell.label(), found) for cell in cells if (found := cell.backfire())]


def costly(cells: Iterable[Cell]) -> list[tuple[str, list[str]]]:
    """``(label, reasons)`` of every cell whose defense cost more than the tolerated test HR."""
    return [(cell.label(), found) for cell in cells if (found := cell.accuracy_cost())]


def to_latex(cells: list[Cell]) -> str:
    """The Markdown tables as LaTeX ``tabular`` environments (booktabs rules)."""
    parts = []
    for heading, table in _sorted_tables(cells):
        attacks, body = _grid(table, (r"\textbf{", "}"))
        heading = heading.replace("_", r"\_")
        lines = [f"% target HR: {heading}", f"% {TABLE_METRIC}".replace("_", r"\_"), r"\begin{tabular}{l" + "r" * len(attacks) + "}", r"\toprule",
                 " & ".join(["defense", *attacks]).replace("_", r"\_") + r" \\", r"\midrule"]
        lines += [" & ".join(row).replace("±", r"$\pm$").replace("_", r"\_") + r" \\" for row in body]
        lines += [r"\bottomrule", r"\end{tabular}"] + [f"% {legend}" for legend in _legends(body)]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


CSV_COLUMNS = (*TABLE_FIELDS, "attack", "defense", "metric", "mean", "std", "n", "p_value", "backfire", "accuracy_cost",
               "configuration")


def to_csv(cells: list[Cell]) -> str:
    """Long format: one row per cell and metric (the `METRICS`, ``ri``, then the metrics at
    several K, ``at_k.<stage>.<metric>@<K>``), with the cell's p-value."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for cell in cells:
        head = [cell.spec[f] for f in TABLE_FIELDS] + [cell.attack, cell.defense]
        p, found, cost = cell.p_value(), "; ".join(cell.backfire()), "; ".join(cell.accuracy_cost())
        config = json.dumps({f: json.loads(v) for f, v in configuration(cell) if f not in TABLE_FIELDS}, sort_keys=True)
        at_k = [m for m in cell.values if m not in METRICS]
        for metric in (*METRICS, "ri", *at_k):
            mean, std, n = cell.ri() if metric == "ri" else cell.summary(metric)
            if n:
                writer.writerow([*head, metric, repr(mean), repr(std), n, repr(p), found, cost, config])
    return buffer.getvalue()


def render(cells: list[Cell], fmt: str) -> str:
    """The report in ``fmt`` (one of `FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return {"md": to_markdown, "csv": to_csv, "latex": to_latex}[fmt](cells)
