"""Figures from grid cells (matplotlib, PNG): target HR per attack and defense, the targets'
rank shift against the clean model (the TCD paper's Fig. 4/7), HR against RVD's k (the RVD
paper's Fig. 6) and against the attack size (the TCD paper's Fig. 5/6)."""
from __future__ import annotations

import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from ..options import format_chain, parse_chain
from .metrics import RANK_SHIFT_EDGES
from .report import Cell, Configuration, configuration, headings

PLOTS = ("hr", "rank-shift", "k-sweep", "size-sweep")
#: Inches per panel (one panel per dataset, model, targets, knowledge and attack size) and
#: resolution: a PNG is 600 x 450 pixels per panel, side by side.
PANEL, DPI = (6.0, 4.5), 100


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("figures need matplotlib: pip install 'fastpoison[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _target_hr(cell: Cell) -> tuple[float, float]:
    """(mean, std) of the HR the cell is about: defended if it has a defense, else attacked."""
    mean, std, n = cell.summary("hr_defense" if cell.spec["defense"] else "hr_attack")
    return (mean, std) if n else (math.nan, math.nan)


def _bars(ax, cells: list[Cell]) -> None:
    rows: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    for cell in cells:
        if cell.values.get("hr_attack"):
            rows["none"][cell.attack] = cell.summary("hr_attack")[:2]
        if cell.values.get("hr_defense"):
            rows[cell.defense][cell.attack] = cell.summary("hr_defense")[:2]
    attacks = sorted({a for r in rows.values() for a in r})
    names = sorted(rows, key=lambda r: (r != "none", r))
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        xs = [i + k * width for i, a in enumerate(attacks) if a in rows[name]]
        ms = [rows[name][a][0] for a in attacks if a in rows[name]]
        ss = [rows[name][a][1] for a in attacks if a in rows[name]]
        ax.bar(xs, ms, width, yerr=ss, label=name, capsize=2)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(attacks))], attacks)
    ax.set_ylabel("target HR")


def _shift_curves(ax, cells: list[Cell]) -> None:
    """Share of (user, target) pairs per rank-shift bin: each attack, and each defense against it
    (RVD serves per user and has no rank of the whole catalogue, so RVD cells have no curve)."""
    curves: dict[str, list[int]] = {}
    for cell in cells:
        if "attack" in cell.rank_shift:
            curves.setdefault(f"{cell.attack} / none", cell.rank_shift["attack"])
        if "defense" in cell.rank_shift:
            curves[f"{cell.attack} / {cell.defense}"] = cell.rank_shift["defense"]
    centres = (RANK_SHIFT_EDGES[:-1] + RANK_SHIFT_EDGES[1:]) / 2
    for name, counts in sorted(curves.items()):
        total = max(1, sum(counts))
        ax.plot(centres, [c / total for c in counts], marker=".", label=name)
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set_xlabel("rank shift of the target (share of items; < 0: promoted)")
    ax.set_ylabel("share of (user, target) pairs")


def _neighbours_k(cell: Cell) -> Any:
    """The k of a cell's RVD serving part (None without one)."""
    return cell.defense_settings.get("rvd", {}).get("k")


def _without_k(cell: Cell) -> str:
    """The cell's defense named without RVD's k (the swept axis)."""
    return format_chain((name, {k: v for k, v in settings.items() if not (name == "rvd" and k == "k")})
                        for name, settings in parse_chain(cell.defense))


def _lines(ax, cells: list[Cell], x_of: Callable[[Cell], Any], series_of: Callable[[Cell], str], label: str) -> None:
    series: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for cell in cells:
        x = x_of(cell)
        if x is None:
            continue
        mean, std = _target_hr(cell)
        series[f"{cell.attack} / {series_of(cell)}"].append((float(x), mean, std))
    for name, points in sorted(series.items()):
        points.sort()
        ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[p[2] for p in points], marker="o",
                    capsize=2, label=name)
    ax.set_xlabel(label)
    ax.set_ylabel("target HR")


def panels(cells: list[Cell], swept: tuple[str, ...] = ()) -> dict[str, list[Cell]]:
    """Cells per panel, titled: one panel per configuration (`report.configuration`) apart
    from the ``swept`` fields, so configurations are never drawn together; stable order."""
    groups: dict[Configuration, list[Cell]] = defaultdict(list)
    for cell in cells:
        groups[tuple((f, v) for f, v in configuration(cell) if f not in swept)].append(cell)
    titles = headings(groups)
    return {titles[key]: groups[key] for key in sorted(groups)}


def plot(cells: list[Cell], kind: str, path: str | os.PathLike[str]) -> Path:
    """Draw figure ``kind`` (one of `PLOTS`) of ``cells`` into the PNG at ``path``: one panel
    per configuration (sweeps leave their axis out)."""
    if kind not in PLOTS:
        raise ValueError(f"plot must be one of {', '.join(PLOTS)}, not {kind!r}")
    plt = _pyplot()
    swept = {"k-sweep": (), "size-sweep": ("attack_size",)}.get(kind, ())
    groups = panels(cells, swept)
    fig, axes = plt.subplots(1, len(groups), figsize=(PANEL[0] * len(groups), PANEL[1]), dpi=DPI, squeeze=False)
    for ax, (title, members) in zip(axes[0], groups.items()):
        if kind == "hr":
            _bars(ax, members)
        elif kind == "rank-shift":
            _shift_curves(ax, members)
        elif kind == "k-sweep":
            _lines(ax, members, _neighbours_k, _without_k, "RVD neighbours k")
        else:
            _lines(ax, [c for c in members if c.spec["attack"]], lambda c: c.spec.get("attack_size"),
                   lambda c: c.defense, "attack size (share of users)")
        ax.set_title(title, fontsize="small", wrap=True)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="x-small")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=DPI)
    plt.close(fig)
    return out
