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
import math
from typing import Any, Sequence

from .experiment import ExperimentSpec
from .paper_tables import PaperEntry, PaperTable, paper_table
from .report import Cell, collect

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


def _spec(table: PaperTable, entry: PaperEntry) -> ExperimentSpec:
    return ExperimentSpec(dataset=entry.dataset, model=entry.model, attack=_attack_of(entry), defense=entry.defense,
                          targets=entry.targets or DEFAULT_TARGETS,
                          knowledge=entry.knowledge if entry.knowledge is not None else DEFAULT_KNOWLEDGE,
                          hr_k=table.k.get(entry.dataset, 50))


def _attack_of(entry: PaperEntry) -> str | None:
    return entry.attack if entry.attack is not None else entry.column


def plan(table: PaperTable, dataset: str | None = None) -> list[tuple[PaperEntry, ExperimentSpec]]:
    """Each entry of ``table`` (on ``dataset``, or all) with the cell (one seed, seed 0) that
    yields our number."""
    return [(entry, _spec(table, entry)) for entry in table.rows if dataset is None or entry.dataset == dataset]


def cells(pairs: Sequence[tuple[PaperEntry, ExperimentSpec]], *, seeds: int,
          data_dir: str | None = None) -> list[ExperimentSpec]:
    """The distinct one-seed cells to run for ``pairs`` (seeds 0 .. seeds-1)."""
    out: dict[str, ExperimentSpec] = {}
    for _, spec in pairs:
        for s in range(seeds):
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
    rows = []
    for entry, spec in pairs:
        mean, std, n = _ours(table, entry, by_spec.get(_identity(dataclasses.asdict(spec))))
        rows.append({**dataclasses.asdict(entry), "ours": mean, "ours_std": std, "seeds": n})
    return rows


def _identity(spec: dict[str, Any]) -> tuple[Any, ...]:
    fields = ("dataset", "model", "attack", "defense", "targets", "knowledge", "hr_k")
    return tuple(spec.get(f) for f in fields)


def to_markdown(table: PaperTable, rows: Sequence[dict[str, Any]]) -> str:
    """Our numbers beside the paper's, one line per published entry."""
    unit = ("seconds per user" if table.metric == "seconds_per_user"
            else _DESCRIBED[DEFINITIONS[table.paper, table.metric]] + ", as the paper counts")
    lines = [f"### {table.name}: {table.caption} ({unit})", "",
             "| dataset | model | targets | knowledge | attack | defense | ours | paper |", "|---" * 8 + "|"]
    for r in rows:
        attack = r["attack"] or (f"none ({r['column']} column)" if r.get("column") else "none")
        ours = "-" if r["seeds"] == 0 else f"{r['ours']:.4f} ± {r['ours_std']:.4f}"
        lines.append(f"| {r['dataset']} | {r['model']} | {r['targets'] or '-'} | "
                     f"{'-' if r['knowledge'] is None else r['knowledge']} | {attack} | {r['defense'] or 'none'} | "
                     f"{ours} | {r['value']:.4f} |")
    return "\n".join(lines) + "\n"
