"""Run a grid of experiment cells on local processes or a dask cluster, into a `ResultStore`.

Cells that differ only in the defense form one task, run in one process with a shared memo
(one clean training, one poisoned set and one attacked training per dataset, model, attack
and seed). Each cell's record is written by the process that ran it, atomically, as soon as
it is done, so a killed grid loses at most the cells in flight; ``resume`` skips cells that
already have a record without an error. A cell that raises records its error and the grid
goes on.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import platform
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm

from .. import __version__
from ..data.datasets import load_dataset
from .experiment import ExperimentSpec, run_experiment
from .grid import distinct, share_key
from .store import ResultStore


@dataclass(frozen=True)
class GridOutcome:
    """What a grid run did: cells skipped as finished, run, and failed (their keys)."""

    skipped: int
    ran: int
    failed: tuple[str, ...]


def provenance() -> dict[str, str]:
    """Versions that produced a record."""
    return {"fastpoison": __version__, "numpy": np.__version__, "python": platform.python_version(),
            "machine": platform.machine()}


def run_task(cells: Sequence[dict[str, Any]], folder: str) -> list[tuple[str, bool]]:
    """Run cells (as `ExperimentSpec.to_dict`) that share a clean victim and fakes, writing each
    record to the store in ``folder``; returns ``(key, succeeded)`` per cell."""
    store = ResultStore(folder)
    specs = [ExperimentSpec.from_dict(c) for c in cells]
    shared: dict[Any, Any] = {}
    dataset = None
    outcome = []
    for spec in specs:
        key = spec.key()
        start = time.perf_counter()
        record: dict[str, Any] = {"key": key, "spec": spec.to_dict(), "provenance": provenance()}
        try:
            if dataset is None:
                dataset = load_dataset(spec.dataset, spec.data_dir, require_real=spec.require_real)
            record.update(result=run_experiment(spec, dataset=dataset, shared=shared), error=None)
        except Exception as e:  # one failing cell must not stop the grid
            record.update(result=None, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
        record["wall_s"] = time.perf_counter() - start
        store.write(key, record)
        outcome.append((key, record["error"] is None))
    return outcome


def plan_tasks(cells: Iterable[ExperimentSpec]) -> list[list[ExperimentSpec]]:
    """Cells grouped by `share_key`, groups in order of first appearance."""
    groups: dict[tuple[Any, ...], list[ExperimentSpec]] = defaultdict(list)
    for cell in cells:
        groups[share_key(cell)].append(cell)
    return list(groups.values())


Submit = Callable[[list[list[dict[str, Any]]], str], Iterable[list[tuple[str, bool]]]]


def _inline(tasks: list[list[dict[str, Any]]], folder: str) -> Iterable[list[tuple[str, bool]]]:
    return (run_task(t, folder) for t in tasks)


def _processes(workers: int) -> Submit:
    def submit(tasks: list[list[dict[str, Any]]], folder: str) -> Iterable[list[tuple[str, bool]]]:
        context = multiprocessing.get_context("spawn")  # no fork after OpenMP threads started
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(run_task, t, folder) for t in tasks]
            for future in cf.as_completed(futures):
                yield future.result()
    return submit


def _dask(scheduler: Any) -> Submit:
    def submit(tasks: list[list[dict[str, Any]]], folder: str) -> Iterable[list[tuple[str, bool]]]:
        try:
            from distributed import Client, as_completed
        except ImportError:
            raise RuntimeError("a dask scheduler needs the dask extra: pip install 'fastpoison[dask]'") from None
        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = [client.submit(run_task, t, folder, pure=False) for t in tasks]
            for future in as_completed(futures):
                yield future.result()
        finally:
            if client is not scheduler:
                client.close()
    return submit


def run_grid(cells: Sequence[ExperimentSpec], folder: str, *, workers: int = 1, scheduler: Any = None,
             resume: bool = True, progress: bool = False) -> GridOutcome:
    """Run every cell of ``cells`` not finished in the store at ``folder``.

    ``scheduler``: a dask scheduler address or `distributed.Client` (the workers must see
    ``folder``); else ``workers`` local processes (1: in this process). Stale temporary files
    of a killed earlier run are removed first, so only one grid may write to a folder at a time.
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    store = ResultStore(folder)
    store.remove_partial()
    cells = distinct(cells)
    todo = [c for c in cells if not (resume and store.finished(c.key()))]
    tasks = [[c.to_dict() for c in group] for group in plan_tasks(todo)]
    if scheduler is not None:
        submit = _dask(scheduler)
    else:
        submit = _processes(workers) if workers > 1 and len(tasks) > 1 else _inline
    failed: list[str] = []
    with tqdm(total=len(todo), desc="grid", unit="cell", disable=None if progress else True) as bar:
        for outcome in submit(tasks, str(store.folder)):
            failed.extend(key for key, ok in outcome if not ok)
            bar.update(len(outcome))
    return GridOutcome(skipped=len(cells) - len(todo), ran=len(todo), failed=tuple(failed))
