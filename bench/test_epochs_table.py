"""The interleaved timing rounds and the ratio table that bench/bpr_epoch.py and
bench/lightgcn_epoch.py share (bench/_epochs.py)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_epochs", Path(__file__).with_name("_epochs.py"))
_epochs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_epochs)


def test_methods_take_turns_and_ratios_pair_by_round(capsys, tmp_path):
    calls = []

    def timer(name, seconds):
        values = iter(seconds)
        return lambda: (calls.append(name), next(values))[1]

    results = _epochs.interleaved({"fastpoison": timer("ours", [1.0, 2.0, 4.0]),
                                   "other": timer("other", [3.0, 2.0, 8.0]),
                                   "gone": "skipped: no module named other"}, rounds=3)
    assert calls == ["ours", "other"] * 3
    assert results == {"fastpoison": [1.0, 2.0, 4.0], "other": [3.0, 2.0, 8.0],
                       "gone": "skipped: no module named other"}
    path = tmp_path / "epochs.json"
    _epochs.report_epochs(results, dataset="d", data_source="real", n_interactions=10, json_path=str(path))
    # The median of the rounds' ratios (3, 1, 2), not the ratio of the medians (3 / 2).
    assert "2.00x ours (rounds 1.00-3.00)" in capsys.readouterr().out
    assert json.loads(path.read_text())["ratio_to_ours_per_round"]["other"] == [3.0, 1.0, 2.0]


def test_a_timer_runs_its_warm_up_untimed():
    runs = []
    timed = _epochs.timer_of(lambda: runs.append(1))
    assert runs == [1]
    assert timed() >= 0 and runs == [1, 1]
