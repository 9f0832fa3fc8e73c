"""The epoch-time comparison shared by the implicit-feedback benchmarks: methods timed in
interleaved rounds, and the table of their medians and per-round ratios."""
from __future__ import annotations

import json
import statistics
import time
from typing import Callable

Timings = dict[str, "list[float] | str"]
#: One measurement of a method: the seconds of an epoch (measured, or extrapolated from a few
#: mini-batches).
Timer = Callable[[], float]


def timer_of(run_epoch: Callable[[], None]) -> Timer:
    """A Timer of one call of ``run_epoch``, after one untimed warm-up call."""
    run_epoch()

    def timed() -> float:
        start = time.perf_counter()
        run_epoch()
        return time.perf_counter() - start
    return timed


def interleaved(timers: dict[str, "Timer | str"], rounds: int) -> Timings:
    """Each timer once per round, in turn, for ``rounds`` rounds: on a shared machine a slow
    spell then falls on every method of its round alike, and the per-round ratios pair like
    with like. A string stands for a method that could not run (the reason), kept as is."""
    results: Timings = {name: t if isinstance(t, str) else [] for name, t in timers.items()}
    for _ in range(rounds):
        for name, t in timers.items():
            if not isinstance(t, str):
                results[name].append(t())  # type: ignore[union-attr]
    return results


def report_epochs(results: Timings, *, dataset: str, data_source: str, n_interactions: int,
                  json_path: str | None = None) -> None:
    """Print each method's median seconds per epoch, interactions per second and ratio to
    ``results["fastpoison"]``: the median over rounds of the round's ratio, with its range
    (the timings are paired by round, as `interleaved` gives them; a string result is a reason
    the method was skipped). With ``json_path``, also write every timing and ratio there."""
    base = results["fastpoison"]
    assert not isinstance(base, str)
    width = max(len(name) for name in results)
    ratios: dict[str, list[float]] = {}
    for name, times in results.items():
        if isinstance(times, str):
            print(f"  {name:<{width}} {times}")
            continue
        ratios[name] = [t / b for t, b in zip(times, base)]
        median = statistics.median(times)
        print(f"  {name:<{width}} {median:8.3f} s/epoch  {n_interactions / median / 1e6:6.3f} M interactions/s  "
              f"{statistics.median(ratios[name]):6.2f}x ours (rounds {min(ratios[name]):.2f}-{max(ratios[name]):.2f})")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"dataset": dataset, "data_source": data_source, "n_interactions": n_interactions,
                       "seconds_per_epoch": results, "ratio_to_ours_per_round": ratios}, f, indent=2)
