"""`fastpoison reproduce TABLE`: run the grid behind a paper's table and set our numbers
beside the published ones (`paper_tables`).

Each published entry maps onto one cell (dataset, model, attack, defense, targets,
knowledge; HR@K with the table's K): a number without a defense is the cell's attacked
value, one without an attack its clean value (the TCD paper's "Origin" rows read the clean
value of the cell under their column's attack). Cells that differ only in the defense share
the clean fit, the fakes and the attacked fit (see `runner`).
"""
from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any, Callable, Sequence

from . import backfire
from .experiment import ExperimentSpec
from .paper_tables import PaperEntry, PaperTable, paper_table
from .report import Cell, collect

#: Our named extensions of a published defense, run and printed beside the paper's method
#: (docs/papers.md): RVD's SGD fine-tune and whole-model shrink; TCD's agreement only within
#: the rating scale (one of the two `labels=auto` chooses between off the paper's datasets).
EXTENSIONS: dict[str, tuple[str, ...]] = {"rvd": ("rvd[step=sgd]", "rvd[forget=0.1,step=sgd]"),
                                          "tcd": ("tcd[labels=in-range]",)}

#: Appendix twins in the RVD paper: the same layout on the other two datasets.
TWINS: dict[str, str] = {"rvd-table3": "rvd-table7", "rvd-table4": "rvd-table8", "rvd-table5": "rvd-table9"}
TWINS.update({v: k for k, v in TWINS.items()})
DEFAULT_TARGETS, DEFAULT_KNOWLEDGE = "unpopular", 0.4


def resolve(name: str, dataset: str | None) -> PaperTable:
    """The table ``name``, or its appendix twin when only the twin has ``dataset``."""
    table = paper_table(name)
    if dataset is None or any(e.dataset == dataset for e in table.rows):
        return table
    twin = TWINS.get(table.name)
    if twin is not None and any(e.dataset == dataset for e in paper_table(twin).rows):
        return paper_table(twin)
    datasets = sorted({e.dataset for e in table.rows})
    raise ValueError(f"{table.name} has no {dataset!r}; it covers {', '.join(datasets)}")


#: Both papers train every model for a fixed number of epochs: no early stopping.
PAPER_MODEL_OPTIONS: dict[str, Any] = {"patience": 0}


def _spec(table: PaperTable, entry: PaperEntry) -> ExperimentSpec:
    return ExperimentSpec(dataset=entry.dataset, model=entry.model, attack=_attack_of(entry), defense=entry.defense,
                          targets=entry.targets or DEFAULT_TARGETS,
                          knowledge=entry.knowledge if entry.knowledge is not None else DEFAULT_KNOWLEDGE,
                          hr_k=table.k.get(entry.dataset, 50), model_options=dict(PAPER_MODEL_OPTIONS))


def _attack_of(entry: PaperEntry) -> str | None:
    return entry.attack if entry.attack is not None else entry.column


def plan(table: PaperTable, dataset: str | None = None) -> list[tuple[PaperEntry, ExperimentSpec]]:
    """Each entry of ``table`` (on ``dataset``, or all) with the cell (one seed, seed 0) that
    yields our number."""
    return [(entry, _spec(table, entry)) for entry in table.rows if dataset is None or entry.dataset == dataset]


def cells(pairs: Sequence[tuple[PaperEntry, ExperimentSpec]], *, seeds: int,
          data_dir: str | None = None) -> list[ExperimentSpec]:
    """The distinct one-seed cells to run for ``pairs`` (seeds 0 .. seeds-1), with the cells
    of our named extensions of each published defense (`EXTENSIONS`)."""
    out: dict[str, ExperimentSpec] = {}
    for _, paper_spec in pairs:
        for spec, s in itertools.product((paper_spec, *_extended(paper_spec).values()), range(seeds)):
            cell = dataclasses.replace(spec, seed=s, data_dir=data_dir)
            out.setdefault(cell.key(), cell)
    return list(out.values())


#: The result key (per stage) of the definition each paper's numbers use: the RVD paper
#: counts target HR over the users who have not rated a target (its appendix D) and accuracy
#: over the test users whose held-out rating is "liked"; the TCD code counts every real user
#: and every test user.
DEFINITIONS: dict[tuple[str, str], str] = {("rvd", "hr"): "hr_{}", ("rvd", "test_hr"): "test_hr_{}_liked",
                                           ("tcd", "hr"): "hr_{}_all_users", ("tcd", "test_hr"): "test_hr_{}"}
_DESCRIBED = {"hr_{}": "target HR over users who have not rated the target",
              "hr_{}_all_users": "target HR over all real users",
              "test_hr_{}": "test HR over all test users",
              "test_hr_{}_liked": "test HR over test users whose held-out rating is liked"}


def _ours(table: PaperTable, entry: PaperEntry, cell: Cell | None) -> tuple[float, float, int]:
    if cell is None:
        return math.nan, math.nan, 0
    if table.metric == "seconds_per_user":
        return cell.timing("recommend_per_user")
    if entry.attack is None and entry.defense is None:
        stage = "origin"
    else:
        stage = "defense" if entry.defense is not None else "attack"
    return cell.summary(DEFINITIONS[table.paper, table.metric].format(stage))


def compare(table: PaperTable, pairs: Sequence[tuple[PaperEntry, ExperimentSpec]],
            records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per entry: its fields, the paper's value and ours (mean, std, seeds) from ``records``."""
    by_spec = {_identity(c.spec): c for c in collect(records)}

    def ours(spec: ExperimentSpec, entry: PaperEntry) -> dict[str, Any]:
        cell = by_spec.get(_identity(dataclasses.asdict(spec)))
        mean, std, n = _ours(table, entry, cell)
        return {"mean": mean, "std": std, "seeds": n, "backfire": [] if cell is None else cell.backfire(),
                "accuracy_cost": [] if cell is None else cell.accuracy_cost(),
                "inactive": cell is not None and bool(cell.inactive)}

    rows = []
    for entry, spec in pairs:
        own = ours(spec, entry)
        extended = {name: ours(variant, entry) for name, variant in _extended(spec).items()}
        rows.append({**dataclasses.asdict(entry), "ours": own["mean"], "ours_std": own["std"], "seeds": own["seeds"],
                     "backfire": own["backfire"], "accuracy_cost": own["accuracy_cost"], "inactive": own["inactive"],
                     "extensions": extended})
    return rows


def _extended(spec: ExperimentSpec) -> dict[str, ExperimentSpec]:
    """``spec`` with each of our named extensions of its defense, by the extension's name."""
    return {name: dataclasses.replace(spec, defense=name) for name in EXTENSIONS.get(spec.defense or "", ())}


def _identity(spec: dict[str, Any]) -> tuple[Any, ...]:
    fields = ("dataset", "model", "attack", "defense", "targets", "knowledge", "hr_k")
    return tuple(spec.get(f) for f in fields)


def to_markdown(table: PaperTable, rows: Sequence[dict[str, Any]]) -> str:
    """Our numbers beside the paper's, one line per published entry."""
    unit = ("seconds per user" if table.metric == "seconds_per_user"
            else _DESCRIBED[DEFINITIONS[table.paper, table.metric]] + ", as the paper counts")
    extensions = sorted({name for r in rows for name in r.get("extensions", {})})
    head = ["dataset", "model", "targets", "knowledge", "attack", "defense", "paper", "ours (defaults)",
            *(f"ours with {name}" for name in extensions)]
    lines = [f"### {table.name}: {table.caption} ({unit})", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for r in rows:
        attack = r["attack"] or (f"none ({r['column']} column)" if r.get("column") else "none")
        ours = {"mean": r["ours"], "std": r["ours_std"], "seeds": r["seeds"], "backfire": r.get("backfire"),
                "accuracy_cost": r.get("accuracy_cost"), "inactive": r.get("inactive")}
        cols = [r["dataset"], r["model"], r["targets"] or "-", "-" if r["knowledge"] is None else r["knowledge"],
                attack, r["defense"] or "none", f"{r['value']:.4f}", _fmt(ours),
                *(_fmt(r["extensions"].get(name, {"seeds": 0})) for name in extensions)]
        lines.append("| " + " | ".join(str(c) for c in cols) + " |")
    lines += ["", *judge(table, rows)]
    if any(r.get("backfire") or any(e.get("backfire") for e in r["extensions"].values()) for r in rows):
        lines.append(backfire.LEGEND + ".")
    if any(r.get("accuracy_cost") or any(e.get("accuracy_cost") for e in r["extensions"].values()) for r in rows):
        lines.append(backfire.COST_LEGEND + ".")
    if any(r.get("inactive") or any(e.get("inactive") for e in r["extensions"].values()) for r in rows):
        lines.append(backfire.INACTIVE_LEGEND + ".")
    return "\n".join(lines) + "\n"


#: How close to a published HR (absolute) our number must be to count as reproduced.
TOLERANCE = 0.05
#: How much a defense may lower test HR and still count as keeping it.
KEEPS_TEST_HR = 0.02


def _group(row: dict[str, Any]) -> tuple[Any, ...]:
    """The cell of a row without its defense and attack: rows of one group are comparable."""
    return row["dataset"], row["model"], row["targets"], row["knowledge"]


def _holds(pairs: list[tuple[float, float]], better: Callable[[float, float], bool]) -> str:
    """``"h/n"``: in how many of the ``(defended, undefended)`` pairs ``better`` holds."""
    return f"{sum(better(d, u) for d, u in pairs)}/{len(pairs)}"


def judge(table: PaperTable, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Lines that judge our numbers against the paper's: the share of entries within
    `TOLERANCE`, and each of the paper's qualitative claims (a defense lowers the target HR, or
    keeps the test HR within `KEEPS_TEST_HR`; the order of the attacks by attacked HR), with
    in how many cells it holds in the paper and in ours. Entries without our number are left
    out (and counted)."""
    ran = [r for r in rows if r["seeds"]]
    lines = [f"{len(ran)} of {len(rows)} entries have our number."]
    if not ran or table.metric == "seconds_per_user":
        return lines
    close = sum(abs(r["ours"] - r["value"]) <= TOLERANCE for r in ran)
    lines.append(f"Within ±{TOLERANCE} of the paper: {close}/{len(ran)} entries.")
    undefended = {(_group(r), r["attack"] or r.get("column")): r for r in ran if r["defense"] is None}
    for defense in sorted({r["defense"] for r in ran if r["defense"]}):
        pairs = [(r, undefended[_group(r), r["attack"]]) for r in ran
                 if r["defense"] == defense and (_group(r), r["attack"]) in undefended]
        if table.metric == "hr":
            claim, better = f"{defense} lowers the target HR", (lambda d, u: d < u)
        else:
            claim, better = f"{defense} keeps the test HR", (lambda d, u: d >= u - KEEPS_TEST_HR)
        paper = _holds([(r["value"], u["value"]) for r, u in pairs], better)
        ours = _holds([(r["ours"], u["ours"]) for r, u in pairs], better)
        lines.append(f"{claim}: paper {paper}, ours {ours}.")
    if table.metric == "hr":
        lines.append(_attack_order(ran))
    return lines


def _attack_order(ran: Sequence[dict[str, Any]]) -> str:
    """How many pairs of attacks, within each group of undefended attacked entries, we order
    as the paper does (by target HR; ties in the paper are left out)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in ran:
        if r["defense"] is None and r["attack"] is not None:
            groups.setdefault(_group(r), []).append(r)
    agree = total = 0
    for members in groups.values():
        for a, b in itertools.combinations(members, 2):
            if a["value"] != b["value"]:
                total += 1
                agree += (a["value"] < b["value"]) == (a["ours"] < b["ours"])
    return f"Attacks ordered by attacked target HR as the paper orders them: {agree}/{total} pairs."


def _fmt(ours: dict[str, Any]) -> str:
    """``mean ± std`` of our number (marked if its defense backfired, cost accuracy or left the model
    as it was), ``-`` where no seed has run."""
    if not ours["seeds"]:
        return "-"
    return (f"{ours['mean']:.4f} ± {ours['std']:.4f}" + (f" {backfire.MARK}" if ours.get("backfire") else "")
            + (f" {backfire.COST_MARK}" if ours.get("accuracy_cost") else "")
            + (f" {backfire.INACTIVE_MARK}" if ours.get("inactive") else ""))
