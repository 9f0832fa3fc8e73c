"""The backfire guard: a defense that leaves the targets better placed than the attack alone
did, either by target HR or by how far it moved them up against the clean model; and the
accuracy guard: a defense that costs more than a tenth of the test HR."""
from __future__ import annotations

import math
import sys
from typing import Any, Mapping, Sequence

#: Appended to a backfired cell's number in tables.
MARK = "!"
#: The legend of `MARK`, printed under tables that hold one.
LEGEND = (f"{MARK} the defense backfired: its target HR is above the attacked model's, or it moved the targets up "
          "(mean rank shift against the clean model) more than the attack did")
#: Appended to a number whose defense, in some seed, left the model as trained without it.
INACTIVE_MARK = "="
INACTIVE_LEGEND = (f"{INACTIVE_MARK} in some seed the defense left the model as trained without it: its kept epoch "
                   "(lowest validation MSE) precedes the epoch its loss starts, or the canary check declined it")


#: Appended to a number whose defense cost more than `COST_TOLERANCE` of the test HR.
COST_MARK = "~"
#: The share of the undefended model's test HR a defense may lose unmarked (ours).
COST_TOLERANCE = 0.1
COST_LEGEND = (f"{COST_MARK} the defense cost more than {COST_TOLERANCE:.0%} of the undefended model's test HR "
               "(attacked, or clean without an attack; test_hr: the held-out item among the top K, over every test "
               "user, not the RVD paper's liked-only accuracy)")


def accuracy_cost(test_hr_before: float, test_hr_defense: float) -> list[str]:
    """Why a defended cell is marked for accuracy (empty if it is not): its mean test HR
    (``test_hr_*``, over every test user) is below ``1 - COST_TOLERANCE`` of the undefended
    model's. Missing or nan figures are not judged."""
    if math.isnan(test_hr_before) or math.isnan(test_hr_defense):
        return []
    if test_hr_defense >= (1 - COST_TOLERANCE) * test_hr_before:
        return []
    return [f"test HR {test_hr_before:.4f} undefended -> {test_hr_defense:.4f} defended "
            f"({test_hr_defense / test_hr_before:.2f}x)"]


def cost_of_result(result: Mapping[str, Any]) -> list[str] | None:
    """`accuracy_cost` for a `run_experiment` result (against the attacked model, or the clean
    one without an attack); None without a defended test HR."""
    before = result.get("test_hr_attack") or result.get("test_hr_origin")
    defended = result.get("test_hr_defense")
    if before is None or defended is None:
        return None
    return accuracy_cost(before["mean"], defended["mean"])


def _told_apart(a: float, b: float) -> tuple[str, str]:
    """a and b to 4 decimals, or to as many more (up to 8) as it takes to tell them apart."""
    for digits in range(4, 9):
        shown = f"{a:.{digits}f}", f"{b:.{digits}f}"
        if shown[0] != shown[1]:
            break
    return shown


def reasons(hr_attack: float, hr_defense: float, shift_attack: float | None = None,
            shift_defense: float | None = None) -> list[str]:
    """Why a defended cell backfired (empty if it did not): mean target HR defended above
    attacked; the targets promoted against the clean model (mean rank shift below 0) further
    under the defense than under the attack (an attack that demoted them counts as 0).
    Missing or nan figures are not judged."""
    found = []
    if not (math.isnan(hr_attack) or math.isnan(hr_defense)) and hr_defense > hr_attack:
        attacked, defended = _told_apart(hr_attack, hr_defense)
        found.append(f"target HR {attacked} attacked -> {defended} defended")
    if (shift_attack is not None and shift_defense is not None and not math.isnan(shift_attack)
            and not math.isnan(shift_defense) and shift_defense < min(shift_attack, 0.0)):
        found.append(f"targets moved up {-shift_defense:.0f} ranks on average against the clean model, "
                     f"under the attack alone {-shift_attack:.0f}")
    return found


def of_result(result: Mapping[str, Any]) -> list[str] | None:
    """`reasons` for a `run_experiment` result; None when it has no attacked or no defended HR."""
    attacked, defended = result.get("hr_attack"), result.get("hr_defense")
    if attacked is None or defended is None:
        return None

    def shift(stage: str) -> float | None:
        summary = result.get(f"rank_shift_{stage}")
        return None if summary is None or summary.get("mean") is None else float(summary["mean"])

    return reasons(attacked["mean"], defended["mean"], shift("attack"), shift("defense"))


def warn(label: str, found: Sequence[str], what: str = "backfired") -> None:
    """One line on stderr naming the cell, ``what`` befell it and why (nothing if ``found`` is empty)."""
    if found:
        sys.stderr.write(f"fastpoison: warning: {label} {what}: {'; '.join(found)}\n")
