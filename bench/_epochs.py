"""The epoch-time comparison table shared by the implicit-feedback benchmarks."""
from __future__ import annotations

import json
import statistics

Timings = dict[str, "list[float] | str"]


def report_epochs(results: Timings, *, dataset: str, data_source: str, n_interactions: int,
                  json_path: str | None = None) -> None:
    """Print each method's median seconds per epoch, interactions per second and ratio to
    ``results["fastpoison"]`` (a string result is a reason it was skipped); with
    ``json_path``, also write every timing there."""
    base = statistics.median(results["fastpoison"])  # type: ignore[arg-type]
    width = max(len(name) for name in results)
    for name, times in results.items():
        if isinstance(times, str):
            print(f"  {name:<{width}} {times}")
            continue
        median = statistics.median(times)
        print(f"  {name:<{width}} {median:8.3f} s/epoch  {n_interactions / median / 1e6:6.3f} M interactions/s  "
              f"{median / base:6.1f}x ours")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"dataset": dataset, "data_source": data_source, "n_interactions": n_interactions,
                       "seconds_per_epoch": results}, f, indent=2)
