"""The backfire guard: a defense that promotes the targets on purpose is flagged in `run`'s
JSON and text, in `report` and `reproduce` tables and CSV, and by one stderr line; defenses
that defend are not. The accuracy guard likewise marks a defense that costs test HR."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from fastpoison.cli import main
from fastpoison.defenses import DEFENSES, ServingDefense, register_defense
from fastpoison.eval import backfire
from fastpoison.eval.experiment import ExperimentSpec, run_experiment
from fastpoison.eval.report import backfired, collect, render
from fastpoison.eval.runner import run_grid
from fastpoison.models.scoring import TopK

DATASET = "synthetic:ml-100k"
OPTIONS = {"factors": 32}  # as tests/test_defense_behaviour.py: Average lifts the targets, LTSMF removes them


@dataclass(frozen=True)
class PushTargets(ServingDefense):
    """A defense that backfires on purpose: puts the given items first in every list."""

    items: str = ""
    name: ClassVar[str] = "toy_push"

    def serve(self, model, *, seed=0, progress=False):
        pushed = np.array([int(i) for i in self.items.split("/") if i], dtype=np.int32)

        def recommend(users, k):
            top = model.top_k(users, k=k)
            rows = [np.concatenate([pushed, [i for i in row if i not in pushed]])[:k] for row in top.items]
            return TopK(np.array(rows, dtype=np.int32), np.zeros((len(users), k), np.float32))
        return recommend


@pytest.fixture(autouse=True)
def toy():
    register_defense(PushTargets)
    yield
    DEFENSES.pop(PushTargets.name)


def targets_of(spec: ExperimentSpec) -> str:
    from fastpoison.data.datasets import load_dataset
    from fastpoison.data.targets import choose_targets
    return "/".join(str(i) for i in choose_targets(load_dataset(DATASET).split.train, spec.targets, spec.n_targets,
                                                   seed=spec.seed))


def specs() -> tuple[ExperimentSpec, ExperimentSpec]:
    base = ExperimentSpec(dataset=DATASET, attack="average", targets="unpopular", model_options=OPTIONS)
    pushed = ExperimentSpec(dataset=DATASET, attack="average", defense=f"toy_push[items={targets_of(base)}]",
                            targets="unpopular", model_options=OPTIONS)
    return pushed, ExperimentSpec(dataset=DATASET, attack="average", defense="ltsmf", targets="unpopular",
                                  model_options=OPTIONS)


def test_reasons():
    assert backfire.reasons(0.2, 0.1) == [] and backfire.reasons(0.2, 0.2) == []
    assert backfire.reasons(0.1, 0.2)[0].startswith("target HR 0.1000 attacked -> 0.2000")
    # One hit in 73,000 pairs is a backfire too, and the line shows it rather than 0.0000 -> 0.0000.
    assert backfire.reasons(0.0, 1.37e-5) == ["target HR 0.00000 attacked -> 0.00001 defended"]
    assert backfire.reasons(0.2, 0.1, -50.0, -80.0)[0].startswith("targets moved up 80 ranks")
    assert backfire.reasons(0.2, 0.1, -80.0, -50.0) == []
    assert backfire.reasons(0.2, 0.1, 300.0, 4.0) == []  # the attack demoted them; the defense promoted none
    assert backfire.reasons(0.2, 0.1, 300.0, -4.0)[0].startswith("targets moved up 4 ranks")
    assert backfire.reasons(math.nan, 0.1, None, -5.0) == []


def test_a_backfiring_defense_is_flagged_and_one_that_defends_is_not():
    pushed, ltsmf = specs()
    shared: dict = {}
    flagged, clean = run_experiment(pushed, shared=shared), run_experiment(ltsmf, shared=shared)
    assert flagged["hr_defense"]["mean"] == 1.0 and flagged["backfire"][0].startswith("target HR")
    assert clean["hr_defense"]["mean"] < clean["hr_attack"]["mean"] and clean["backfire"] == []
    assert run_experiment(ExperimentSpec(dataset=DATASET, attack="average", model_options=OPTIONS))["backfire"] is None


def test_run_report_and_csv_flag_it(tmp_path, capsys):
    pushed, ltsmf = specs()
    out = tmp_path / "run.json"
    assert main(["run", "--dataset", DATASET, "--attack", "average", "--defense", pushed.defense, "--targets",
                 "unpopular", "--factors", "32", "--json", str(out)]) == 0
    text = capsys.readouterr()
    assert f"backfire {backfire.MARK}" in text.out
    assert [line for line in text.err.splitlines() if "backfired" in line][0].startswith(
        f"fastpoison: warning: {pushed.defense} against average on ml-100k")
    assert json.loads(out.read_text())["backfire"]
    run_grid([pushed, ltsmf], str(tmp_path / "grid"))
    assert main(["report", str(tmp_path / "grid")]) == 0
    text = capsys.readouterr()
    assert sum("backfired" in line for line in text.err.splitlines()) == 1  # one line, for the pushed cell
    rows = {line.split("|")[1].strip(): line for line in text.out.splitlines() if line.startswith("| ")}
    assert rows[pushed.defense].rstrip(" |").endswith(backfire.MARK) and backfire.MARK not in rows["ltsmf"]
    assert backfire.LEGEND in text.out
    cells = collect(json.loads(p.read_text()) for p in (tmp_path / "grid").glob("*.json"))
    assert [label.split(" against ")[0] for label, _ in backfired(cells)] == [pushed.defense]
    import csv
    rows = list(csv.DictReader(render(cells, "csv").splitlines()))
    assert rows and all(bool(r["backfire"]) == r["defense"].startswith("toy_push") for r in rows)


def test_reproduce_marks_backfired_entries():
    from fastpoison.eval import reproduce
    from fastpoison.eval.paper_tables import PaperTable
    table = PaperTable("rvd-table0", "rvd", 0, "demo", "hr", {"d": 50}, ())
    row = {"dataset": "d", "model": "mf", "targets": "unpopular", "knowledge": 1.0, "column": None, "seeds": 1,
           "ours_std": 0.0, "attack": "a", "value": 0.5}
    rows = [{**row, "defense": None, "ours": 0.3, "backfire": [], "extensions": {}},
            {**row, "defense": "rvd", "ours": 0.4, "backfire": ["target HR 0.3000 attacked -> 0.4000 defended"],
             "extensions": {"rvd[step=sgd]": {"mean": 0.2, "std": 0.0, "seeds": 1, "backfire": [],
                                              "accuracy_cost": ["test HR 0.2000 undefended -> 0.1000 defended"]}}}]
    text = reproduce.to_markdown(table, rows)
    lines = [line for line in text.splitlines() if line.startswith("| d |")]
    assert lines[1].split("|")[8].strip().endswith(backfire.MARK) and backfire.MARK not in lines[1].split("|")[9]
    assert backfire.MARK not in lines[0] and backfire.LEGEND in text
    assert lines[1].split("|")[9].strip().endswith(backfire.COST_MARK) and backfire.COST_MARK not in lines[1].split("|")[8]
    assert backfire.COST_LEGEND in text


def test_accuracy_cost_reasons():
    assert backfire.accuracy_cost(0.5, 0.45) == [] and backfire.accuracy_cost(0.5, 0.6) == []
    assert backfire.accuracy_cost(0.5, 0.44)[0] == "test HR 0.5000 undefended -> 0.4400 defended (0.88x)"
    assert backfire.accuracy_cost(math.nan, 0.1) == [] and backfire.accuracy_cost(0.5, math.nan) == []
    assert backfire.cost_of_result({"test_hr_origin": {"mean": 0.5}, "test_hr_defense": {"mean": 0.2}})
    assert backfire.cost_of_result({"test_hr_attack": {"mean": 0.5}}) is None


def test_a_defense_that_costs_accuracy_is_marked_everywhere(tmp_path, capsys):
    """Fifty items pushed into every list take most of the test HR; one item pushed does not."""
    base = ExperimentSpec(dataset=DATASET, attack="average", targets="unpopular", model_options=OPTIONS)
    targets = {int(i) for i in targets_of(base).split("/")}
    others = [i for i in range(200) if i not in targets]
    costly_spec, mild = (ExperimentSpec(dataset=DATASET, attack="average", targets="unpopular", model_options=OPTIONS,
                                        defense=f"toy_push[items={'/'.join(map(str, others[:n]))}/]") for n in (50, 1))
    out = tmp_path / "run.json"
    assert main(["run", "--dataset", DATASET, "--attack", "average", "--defense", costly_spec.defense, "--targets",
                 "unpopular", "--factors", "32", "--json", str(out)]) == 0
    text = capsys.readouterr()
    assert f"accuracy cost {backfire.COST_MARK}" in text.out
    assert any(line.startswith("fastpoison: warning: ") and "cost accuracy: test HR" in line
               for line in text.err.splitlines())
    result = json.loads(out.read_text())
    assert result["accuracy_cost"] and result["test_hr_defense"]["mean"] < 0.9 * result["test_hr_attack"]["mean"]
    run_grid([costly_spec, mild], str(tmp_path / "grid"))
    assert main(["report", str(tmp_path / "grid")]) == 0
    text = capsys.readouterr()
    assert sum("cost accuracy" in line for line in text.err.splitlines()) == 1
    rows = {line.split("|")[1].strip(): line for line in text.out.splitlines() if line.startswith("| ")}
    assert f" {backfire.COST_MARK}" in rows[costly_spec.defense] and backfire.COST_MARK not in rows[mild.defense]
    assert backfire.COST_LEGEND in text.out
    import csv
    cells = collect(json.loads(p.read_text()) for p in (tmp_path / "grid").glob("*.json"))
    rows = list(csv.DictReader(render(cells, "csv").splitlines()))
    assert rows and all(bool(r["accuracy_cost"]) == (r["defense"] == costly_spec.defense) for r in rows)
