"""bench/early_stopping.py: where a patience stops a recorded fit, and one curve per TCD co-training."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from fastpoison.data.datasets import load_dataset
from fastpoison.models import make_model

_spec = importlib.util.spec_from_file_location("early_stopping", Path(__file__).with_name("early_stopping.py"))
early_stopping = importlib.util.module_from_spec(_spec)
sys.modules["early_stopping"] = early_stopping  # its dataclass looks its module up there
_spec.loader.exec_module(early_stopping)


def curve(*mse: float) -> list[dict[str, float]]:
    return [{"valid_mse": m} for m in mse]


def test_a_patience_stops_where_the_full_curve_says():
    history = curve(5, 4, 4.5, 4.6, 3, 3.5, 3.6, 3.7)
    assert early_stopping.stop(history, 2) == (4, 1)  # epochs 2, 3 without a new best: stop after epoch 3
    assert early_stopping.stop(history, 3) == (8, 4)  # the best at epoch 4 is found; then the curve ends
    assert early_stopping.stop(history, 2, counting_from=3) == (7, 4)  # counting from epoch 3, the best at 4


def test_tcd_records_each_co_training_by_its_labels_and_data():
    train = load_dataset("synthetic:filmtrust").split.train
    tcd = early_stopping.RecordingTCD(epochs=3, pretrain_epochs=1, labels="auto", canary=True, cell_users=train.n_users)
    tcd.fit(lambda **o: make_model("mf", factors=4, patience=0, **o), train, seed=0)
    names = [name for name, _, _ in tcd.curves]
    assert names[:2] == ["clipped labels, data", "in-range labels, data"]
    assert len(names) == 3 and names[2].endswith("labels, canary")
    assert all(len(history) == 3 and start == 1 for _, history, start in tcd.curves)
