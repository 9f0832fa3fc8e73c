"""Run a grid of experiment cells on local processes or a dask cluster, into a `ResultStore`.

Cells of one dataset, model and seed form one task, run in one process with a shared memo:
one clean training per task, and one poisoned set and one attacked training per attack
(cells run attack by attack, and an attack's work is dropped when the next one starts).
When one such task holds more than a worker's share of the cells, tasks are split per attack
instead. Each cell's record is written by the process that ran it, atomically, as soon as
it is done, so a killed grid loses at most the cells in flight; ``resume`` skips cells that
already have a record without an error. A cell that raises records its error and the grid
goes on.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import platform
import time
import traceback
import warnings
from collections import defaultdict
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
from tqdm.auto import tqdm

from ..data.datasets import load_dataset
from ..errors import one_line_warning
from ..plugins import load_plugins
from .experiment import ExperimentSpec, run_experiment
from .grid import clean_key, distinct, share_key
from .store import ResultStore


@dataclass(frozen=True)
class GridOutcome:
    """What a grid run did: cells skipped as finished, run, and failed (their keys)."""

    skipped: int
    ran: int
    failed: tuple[str, ...]


def provenance() -> dict[str, str]:
    """Versions that produced a record."""
    return {"fastpoison": version("fastpoison"), "numpy": np.__version__, "python": platform.python_version(),
            "machine": platform.machine()}


def run_task(cells: Sequence[dict[str, Any]], folder: str) -> list[tuple[str, bool]]:
    """Run cells (as `ExperimentSpec.to_dict`) that share a clean victim and fakes, writing each
    record to the store in ``folder``; returns ``(key, succeeded)`` per cell."""
    load_plugins()  # a worker process registers the plug-ins its cells name
    store = ResultStore(folder)
    specs = sorted((ExperimentSpec.from_dict(c) for c in cells), key=share_key)
    shared: dict[Any, Any] = {}
    dataset = None
    outcome = []
    for i, spec in enumerate(specs):
        if i and share_key(spec) != share_key(specs[i - 1]):
            _forget_attack(shared)
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


def _forget_attack(shared: dict[Any, Any]) -> None:
    """Drop the memo entries of an attack (its fakes, attacked victim, evaluations), keeping
    the clean victim and its evaluations."""
    for key in list(shared):
        if not (key[0] == "clean" or (key[0] == "eval" and key[1][0] == "clean")):
            del shared[key]


def plan_tasks(cells: Sequence[ExperimentSpec], workers: int = 1) -> list[list[ExperimentSpec]]:
    """Cells grouped by `clean_key`, or by `share_key` when a `clean_key` group holds more than
    a worker's share of the cells (so that, say, one big group beside a one-cell baseline does
    not leave a worker idle); then, with several workers, the largest group halved while that
    shortens the schedule (`longest_first_span`, each cell counted alike; a half repeats the
    stages its group shared). Largest first, ties in order of first appearance."""
    for grouping in (clean_key, share_key):
        groups: dict[tuple[Any, ...], list[ExperimentSpec]] = defaultdict(list)
        for cell in cells:
            groups[grouping(cell)].append(cell)
        if max(map(len, groups.values()), default=0) * workers <= len(cells):
            break
    tasks = sorted(groups.values(), key=len, reverse=True)
    while workers > 1 and tasks and len(tasks[0]) > 1:
        half = (len(tasks[0]) + 1) // 2
        halved = sorted([tasks[0][:half], tasks[0][half:], *tasks[1:]], key=len, reverse=True)
        if longest_first_span([len(t) for t in halved], workers) >= longest_first_span([len(t) for t in tasks], workers):
            break
        tasks = halved
    return tasks


def longest_first_span(sizes: Sequence[int], workers: int) -> int:
    """The load of the busiest of ``workers`` when each task, largest first, goes to the least
    loaded one (as a pool hands tasks to whichever worker is free)."""
    loads = [0] * workers
    for size in sorted(sizes, reverse=True):
        loads[loads.index(min(loads))] += size
    return max(loads)


Submit = Callable[[list[list[dict[str, Any]]], str], Iterable[list[tuple[str, bool]]]]


def _inline(tasks: list[list[dict[str, Any]]], folder: str) -> Iterable[list[tuple[str, bool]]]:
    return (run_task(t, folder) for t in tasks)


def blas_threads_per_worker(workers: int) -> int:
    """BLAS threads for each of ``workers`` local processes: their share of the cores, and
    no more than this process's BLAS uses (so ``OPENBLAS_NUM_THREADS=1`` holds in workers)."""
    share = max(1, (os.cpu_count() or 1) // workers)
    ours = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return min([share, *ours])


def _start_worker(one_line: bool, blas_threads: int) -> None:
    """A worker's initializer: BLAS on ``blas_threads`` threads, and warnings in the command's
    one-line form when ``one_line``."""
    threadpool_limits(blas_threads, user_api="blas")
    if one_line:
        warnings.showwarning = one_line_warning  # type: ignore[assignment]


def worker_pool(workers: int) -> cf.ProcessPoolExecutor:
    """``workers`` spawned processes (no fork after OpenMP threads started), each with its
    share of the cores for BLAS: with BLAS's default of every core in every worker, two
    workers' matrix products oversubscribe the cores and RVD's paper step, for one, runs at
    half speed. Warnings come in the command's one-line form when the parent gives them so."""
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_start_worker,
                                  initargs=(warnings.showwarning is one_line_warning, blas_threads_per_worker(workers)))


def _processes(workers: int) -> Submit:
    def submit(tasks: list[list[dict[str, Any]]], folder: str) -> Iterable[list[tuple[str, bool]]]:
        with worker_pool(workers) as pool:
            futures = [pool.submit(run_task, t, folder) for t in tasks]
            for future in cf.as_completed(futures):
                yield future.result()
    return submit


def _dask_client(scheduler: Any) -> tuple[Any, bool]:
    """``(client, owned)``: ``scheduler`` itself if it is a `distributed.Client`, else a new
    client connected to that address (to be closed by the caller)."""
    try:
        from distributed import Client
    except ImportError:
        raise RuntimeError("a dask scheduler needs the dask extra: pip install 'fastpoison[dask]'") from None
    return (scheduler, False) if isinstance(scheduler, Client) else (Client(scheduler), True)


def _dask(client: Any) -> Submit:
    def submit(tasks: list[list[dict[str, Any]]], folder: str) -> Iterable[list[tuple[str, bool]]]:
        from distributed import as_completed
        futures = [client.submit(run_task, t, folder, pure=False) for t in tasks]
        for future in as_completed(futures):
            yield future.result()
    return submit


def run_grid(cells: Sequence[ExperimentSpec], folder: str, *, workers: int = 1, scheduler: Any = None,
             resume: bool = True, progress: bool = False) -> GridOutcome:
    """Run every cell of ``cells`` not finished in the store at ``folder``.

    ``scheduler``: a dask scheduler address or `distributed.Client` (the workers must see
    ``folder``); else ``workers`` local processes (1: in this process). One grid writes to a
    folder at a time (`ResultStore.writer`: another live writer is a `FolderInUse` error); the
    temporary files of a killed earlier run are removed first.
    """
    if workers < 1:
        raise ValueError("workers must be >= 1")
    store = ResultStore(folder)
    with store.writer():
        return _run(store, cells, workers, scheduler, resume, progress)


def _run(store: ResultStore, cells: Sequence[ExperimentSpec], workers: int, scheduler: Any, resume: bool,
         progress: bool) -> GridOutcome:
    """`run_grid` once the folder is held."""
    cells = distinct(cells)
    todo = [c for c in cells if not (resume and store.finished(c.key()))]
    client, owned = _dask_client(scheduler) if scheduler is not None else (None, False)
    try:
        parallel = len(client.nthreads()) if client is not None else workers
        tasks = [[c.to_dict() for c in group] for group in plan_tasks(todo, parallel)]
        if client is not None:
            submit = _dask(client)
        else:
            submit = _processes(workers) if workers > 1 and len(tasks) > 1 else _inline
        failed: list[str] = []
        with tqdm(total=len(todo), desc="grid", unit="cell", disable=None if progress else True) as bar:
            for outcome in submit(tasks, str(store.folder)):
                failed.extend(key for key, ok in outcome if not ok)
                bar.update(len(outcome))
    finally:
        if owned:
            client.close()
    return GridOutcome(skipped=len(cells) - len(todo), ran=len(todo), failed=tuple(failed))
