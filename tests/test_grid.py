"""Grids: TOML expansion, shared work, local and dask executors, resume after SIGKILL, reports."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastpoison.eval.experiment import ExperimentSpec, run_experiment
from fastpoison.eval.grid import expand, load_grid
from fastpoison.eval.plots import DPI, PANEL, plot
from fastpoison.eval.report import collect, render
from fastpoison.eval.runner import plan_tasks, run_grid, run_task
from fastpoison.eval.store import ResultStore

GRID = """
[grid]
dataset = "synthetic:filmtrust"
model = "mf"
attack = ["random", "average"]
defense = ["none", "rvd[k=10]", "ltsmf"]
targets = ["random", "unpopular"]
seeds = 2

[model_options]
epochs = 2
factors = 8
"""


def comparable(record: dict) -> dict:
    """A record without what differs run to run (timings, provenance)."""
    result = {k: v for k, v in record["result"].items() if k != "timings"}
    return {"key": record["key"], "spec": record["spec"], "result": result, "error": record["error"]}


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("grid") / "grid.toml"
    path.write_text(GRID)
    return path


@pytest.fixture(scope="module")
def local_records(grid_file, tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("local")
    outcome = run_grid(load_grid(grid_file), str(out), workers=2)
    assert outcome.ran == 24 and not outcome.failed
    return {r["key"]: r for r in ResultStore(out).records()}


def test_expansion_keys_and_variants(grid_file):
    cells = load_grid(grid_file)
    assert len(cells) == 24 and len({c.key() for c in cells}) == 24
    assert {c.seed for c in cells} == {0, 1} and all(c.seeds == 1 for c in cells)
    assert {c.defense for c in cells} == {None, "rvd[k=10]", "ltsmf"}
    moved = load_grid(grid_file, data_dir="/elsewhere")
    assert [c.key() for c in moved] == [c.key() for c in cells]  # where the data lives is not the cell
    variant = expand({"grid": {"dataset": "ml-100k", "defense": "TCD[ pseudo_budget=1.0 ]", "attack": "pga[steps=5]"}})
    assert variant[0].defense == "tcd[pseudo_budget=1]" and variant[0].attack == "pga[steps=5]"
    assert variant[0].key() != expand({"grid": {"dataset": "ml-100k", "defense": "tcd", "attack": "random"}})[0].key()
    assert ExperimentSpec.from_dict(cells[3].to_dict()) == cells[3] and hash(cells[3]) == hash(cells[3].key())
    for bad in ({"grid": {"dataset": "x", "colour": "red"}}, {"grid": {}}, {"grid": {"dataset": "x", "seeds": 0}},
                {"grid": {"dataset": "x"}, "extra": {}}, {"grid": {"dataset": "x"}, "settings": {"nope": 1}},
                {"grid": {"dataset": "x", "attack": []}}):
        with pytest.raises(ValueError):
            expand(bad)


def test_cells_sharing_work_give_the_same_results_as_alone(tmp_path):
    cells = expand({"grid": {"dataset": "synthetic:filmtrust", "attack": "average",
                             "defense": ["none", "rvd[k=10]", "ltsmf"], "targets": "unpopular"}, "model_options": {"epochs": 2, "factors": 8}})
    assert len(plan_tasks(cells)) == 1  # one clean fit, one fake set, one attacked fit for all three
    mixed = expand({"grid": {"dataset": "synthetic:filmtrust", "attack": ["random", "average"], "defense": ["none", "rvd"],
                             "seeds": 2}})
    assert [len(t) for t in plan_tasks(mixed, workers=2)] == [4, 4]  # per seed: both attacks share the clean fit
    # Split per attack to feed the workers, then one attack's cells halved: 3 cells' time on
    # the busiest worker instead of 4.
    assert [len(t) for t in plan_tasks(mixed, workers=3)] == [2, 2, 2, 1, 1]
    # One big group beside a one-cell baseline (the bench's popularity cell): split too, or a
    # worker idles while the other runs every cell of the big group.
    lopsided = [*expand({"grid": {"dataset": "synthetic:filmtrust", "model": "pop"}}), *(c for c in mixed if c.seed == 0)]
    assert [len(t) for t in plan_tasks(lopsided, workers=2)] == [2, 2, 1]
    # The standard bench's shape: five attacks of four defenses and the popularity cell. Five
    # tasks of 4 on two workers put 12 cells on one; halving one attack makes it 11.
    bench = [*expand({"grid": {"dataset": "synthetic:filmtrust", "model": "pop"}}),
             *expand({"grid": {"dataset": "synthetic:filmtrust", "attack": ["random", "average", "pga", "mixrand", "aush"],
                               "defense": ["none", "rvd", "ltsmf", "tcd"]}})]
    tasks = plan_tasks(bench, workers=2)
    assert [len(t) for t in tasks] == [4, 4, 4, 4, 2, 2, 1]
    assert sorted(c.key() for t in tasks for c in t) == sorted(c.key() for c in bench)
    assert tasks[4][0].attack == tasks[5][0].attack  # the halves of one attack's cells
    shared: dict = {}
    together = [run_experiment(c, shared=shared) for c in cells]
    assert len([k for k in shared if k[0] == "clean"]) == 1 and len([k for k in shared if k[0] == "attacked"]) == 1
    task = expand({"grid": {"dataset": "synthetic:filmtrust", "attack": ["average", "random", "none"],
                            "defense": ["none", "ltsmf"], "targets": "unpopular"},
                   "model_options": {"epochs": 2, "factors": 8}})
    assert len(plan_tasks(task)) == 1
    run_task([c.to_dict() for c in task], str(tmp_path))  # attack by attack, forgetting the previous one
    stored = ResultStore(tmp_path)
    for cell, result in [*zip(cells, together), *((c, stored.read(c.key())["result"]) for c in task)]:
        alone = run_experiment(cell)
        for key in ("hr_origin", "hr_attack", "hr_defense", "test_hr_attack", "test_hr_defense", "target_items"):
            assert result[key] == alone[key], key


def test_dask_cluster_gives_the_local_records(grid_file, local_records, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        outcome = run_grid(load_grid(grid_file), str(tmp_path), scheduler=cluster.scheduler_address)
    assert outcome.ran == 24 and not outcome.failed
    records = {r["key"]: r for r in ResultStore(tmp_path).records()}
    assert records.keys() == local_records.keys()
    for key, record in records.items():
        assert comparable(record) == comparable(local_records[key])
        assert record["provenance"]["fastpoison"] and record["spec"]["seed"] in (0, 1)


def test_failing_cell_records_its_error_and_the_grid_goes_on(tmp_path):
    cells = expand({"grid": {"dataset": "synthetic:filmtrust", "attack": "random",
                             "defense": ["rvd[k=3]", "rvd[k=1000000]"]}, "model_options": {"epochs": 1, "factors": 4}})
    outcome = run_grid(cells, str(tmp_path))
    assert outcome.ran == 2 and len(outcome.failed) == 1
    failed = ResultStore(tmp_path).read(outcome.failed[0])
    assert "k must lie in" in failed["error"] and failed["result"] is None
    again = run_grid(cells, str(tmp_path), resume=True)
    assert again.skipped == 1 and again.ran == 1  # the failed cell is retried, the finished one is not


def test_sigkill_midway_then_resume_loses_and_duplicates_nothing(grid_file, tmp_path):
    out = tmp_path / "records"
    cmd = [sys.executable, "-m", "fastpoison", "grid", str(grid_file), "--out", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(out.glob("*.json"))) < 4:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    assert 4 <= len(done_before) < 24, "the grid was not stopped midway"
    report = tmp_path / "resume.json"
    subprocess.run([*cmd, "--resume", "--json", str(report)], env=env, check=True)
    summary = json.loads(report.read_text())
    assert summary["skipped"] == len(done_before) and summary["ran"] == 24 - len(done_before)
    files = sorted(os.listdir(out))
    assert len(files) == 24 and all(f.endswith(".json") and not f.startswith(".") for f in files)
    keys = {c.key() for c in load_grid(grid_file)}
    assert {f[:-5] for f in files} == keys
    for name, mtime in done_before.items():
        assert (out / name).stat().st_mtime_ns == mtime  # finished cells were not rerun
    for f in files:
        record = json.loads((out / f).read_text())
        assert record["error"] is None and record["key"] == f[:-5]


def test_markdown_csv_latex_and_png(local_records, tmp_path):
    cells = collect(local_records.values())
    assert len(cells) == 12 and all(c.seeds == [0, 1] for c in cells)
    md = render(cells, "md")
    blocks = [b for b in md.split("### ") if b.strip()]
    assert len(blocks) == 2  # random and unpopular targets
    for block in blocks:
        rows = [line for line in block.splitlines() if line.startswith("|")]
        assert rows[0] == "| defense | average | random |" and rows[1] == "|---|---|---|"
        assert [r.split("|")[1].strip() for r in rows[2:]] == ["none", "ltsmf", "rvd[k=10]"]
        assert all(r.count("|") == 4 for r in rows) and block.count("**") % 2 == 0 and "**" in block
    text = render(cells, "csv")
    parsed = list(csv.DictReader(io.StringIO(text)))
    by_cell = {(c.spec["targets"], c.attack, c.defense): c for c in cells}
    assert len(parsed) > len(cells)
    at_k = {row["metric"] for row in parsed if row["metric"].startswith("at_k.")}
    assert {"at_k.attack.target_hr@10", "at_k.defense.test_ndcg@100", "at_k.origin.target_recall@20"} <= at_k
    for row in parsed:
        cell = by_cell[(row["targets"], row["attack"], row["defense"])]
        mean, std, n = cell.ri() if row["metric"] == "ri" else cell.summary(row["metric"])
        assert (float(row["mean"]), float(row["std"]), int(row["n"])) == (mean, std, n)
        assert np.isclose(float(row["mean"]), np.mean(cell.values.get(row["metric"], [mean])))
    latex = render(cells, "latex")
    assert latex.count(r"\begin{tabular}") == 2 and r"\textbf{" in latex and "±" not in latex
    with pytest.raises(ValueError):
        render(cells, "html")
    matplotlib_image = pytest.importorskip("matplotlib.image")
    shifted = [c for c in cells if "attack" in c.rank_shift]
    assert len(shifted) == 12 and all("defense" in c.rank_shift for c in cells if c.defense == "ltsmf")
    assert not any("defense" in c.rank_shift for c in cells if c.defense == "rvd[k=10]")
    for kind in ("hr", "rank-shift", "size-sweep"):
        png = plot(cells, kind, tmp_path / f"{kind}.png")
        height, width = matplotlib_image.imread(png).shape[:2]
        assert (width, height) == (round(PANEL[0] * DPI * 2), round(PANEL[1] * DPI))  # targets random, unpopular


def test_k_sweep_draws_one_line_per_attack_and_defense(tmp_path):
    from fastpoison.eval.report import Cell
    base = {"dataset": "d", "model": "mf", "targets": "unpopular", "knowledge": 0.4, "attack_size": 0.03,
            "attack": "random"}
    cells = []
    for k, hr in ((5, 0.3), (10, 0.2), (20, 0.1)):
        cell = Cell({**base, "defense": f"rvd[k={k}]"}, defense_settings={"rvd": {"k": k}})
        cell.per_seed = {0: {"hr_defense": hr, "hr_attack": 0.5}, 1: {"hr_defense": hr + 0.02, "hr_attack": 0.5}}
        cells.append(cell)
    matplotlib_image = pytest.importorskip("matplotlib.image")
    drawn = matplotlib_image.imread(plot(cells, "k-sweep", tmp_path / "k.png"))
    assert drawn.shape[:2] == (round(PANEL[1] * DPI), round(PANEL[0] * DPI))
    for cell in cells:  # the same panel without RVD cells: no line
        cell.spec["defense"], cell.defense_settings = None, {}
    empty = matplotlib_image.imread(plot(cells, "k-sweep", tmp_path / "empty.png"))
    assert drawn.shape == empty.shape and not np.array_equal(drawn, empty)
    with pytest.raises(ValueError, match="plot must be one of"):
        plot(cells, "pie", tmp_path / "x.png")


def test_yelp_cells_default_to_hr_at_500():
    cells = expand({"grid": {"dataset": ["synthetic:yelp", "ml-100k"], "attack": "random"}})
    assert [c.hr_k for c in cells] == [500, 50]
    assert expand({"grid": {"dataset": "yelp"}, "settings": {"hr_k": 20}})[0].hr_k == 20


def test_records_of_an_earlier_protocol_are_neither_resumed_nor_reported(local_records, monkeypatch):
    from fastpoison.eval import experiment
    from fastpoison.eval.experiment import PROTOCOL
    old = next(iter(local_records.values()))
    stale = {**old, "key": "0" * 20, "result": {k: v for k, v in old["result"].items() if k != "protocol"}}
    assert old["result"]["protocol"] == PROTOCOL
    with pytest.warns(UserWarning, match="1 record.* earlier protocol"):
        cells = collect([*local_records.values(), stale])
    assert sum(len(c.seeds) for c in cells) == len(local_records)  # the stale record is not counted
    spec = ExperimentSpec.from_dict(old["spec"])
    assert spec.key() == old["key"]
    monkeypatch.setattr(experiment, "PROTOCOL", PROTOCOL + 1)
    assert spec.key() != old["key"]  # a resumed grid of the next protocol reruns the cell


@pytest.mark.parametrize("body, message", [
    ('dataset = 5', "dataset must be str"),
    ('dataset = "synthetic:filmtrust"\nmodel = ["mf", "nope"]', "unknown model 'nope'"),
    ('dataset = "synthetic:filmtrust"\n[model_options]\nbogus = 3', "bogus"),
    ('dataset = ["synthetic:filmtrust", "nosuchdata"]', "unknown dataset 'nosuchdata'"),
    ('dataset = "synthetic:filmtrust"\nhr_k = 2.5', "hr_k must be int"),
    ('dataset = "synthetic:filmtrust"\nknowledge = true', "knowledge must be float"),
    ('dataset = "synthetic:filmtrust"\n[settings]\nseed = -1', "seed must be >= 0"),
])
def test_a_grid_is_checked_whole_before_its_first_cell(tmp_path, capsys, body, message):
    from fastpoison.cli import main
    grid = tmp_path / "g.toml"
    grid.write_text(f"[grid]\n{body}\n")
    assert main(["grid", str(grid), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.json"))  # no cell ran


def test_records_of_two_configurations_are_never_merged(local_records):
    from fastpoison.eval.report import to_markdown
    old = next(r for r in local_records.values() if r["spec"]["attack"])
    other = json.loads(json.dumps(old))
    other["key"] = "f" * 20
    other["spec"]["model_options"] = {**old["spec"]["model_options"], "epochs": 99}
    other["result"]["hr_attack"]["values"] = [0.987654]
    text = to_markdown(collect([old, other]))
    headings = [line for line in text.splitlines() if line.startswith("### Target HR")]
    assert len(headings) == 2 and all("model_options" in h for h in headings)
    assert "0.9877" in text and f"{old['result']['hr_attack']['values'][0]:.4f}" in text


def test_report_lists_records_it_cannot_use_and_strict_fails(local_records, tmp_path, capsys):
    from fastpoison.cli import main
    folder = tmp_path / "records"
    folder.mkdir()
    for key, record in local_records.items():
        (folder / f"{key}.json").write_text(json.dumps(record))
    whole = next(iter(local_records.values()))
    (folder / "truncated.json").write_text(json.dumps(whole)[:300])
    (folder / "nospec.json").write_text(json.dumps({"result": whole["result"]}))
    (folder / "wrongtype.json").write_text(json.dumps({**whole, "result": {**whole["result"], "hr_attack": 3}}))
    assert main(["report", str(folder)]) == 0
    err = capsys.readouterr().err
    for name, why in (("truncated", "does not parse"), ("nospec", "no spec"), ("wrongtype", "hr_attack")):
        assert f"skipped {folder / name}.json: " in err and why in err
    assert main(["report", str(folder), "--strict"]) == 1
    assert main(["report", str(folder / "truncated.json")]) == 2


def test_one_writer_per_folder(tmp_path, capsys):
    import os

    from fastpoison.cli import main
    from fastpoison.eval.store import LOCK_NAME, FolderInUse, ResultStore
    folder = tmp_path / "records"
    store = ResultStore(folder)
    cells = expand({"grid": {"dataset": "synthetic:filmtrust"}, "model_options": {"epochs": 1, "factors": 4}})
    (folder / LOCK_NAME).write_text(str(os.getppid()))  # a live process holds the folder
    with pytest.raises(FolderInUse, match=f"process {os.getppid()}"):
        run_grid(cells, str(folder))
    grid = tmp_path / "g.toml"
    grid.write_text('[grid]\ndataset = "synthetic:filmtrust"\n[model_options]\nepochs = 1\nfactors = 4\n')
    assert main(["grid", str(grid), "--out", str(folder), "--quiet"]) == 2
    assert "is being written by process" in capsys.readouterr().err
    (folder / LOCK_NAME).write_text("999999999")  # its owner is gone: the lock and its temp files go
    (folder / ".abc.123.tmp").write_text("partial")
    assert run_grid(cells, str(folder)).ran == 1
    assert not (folder / LOCK_NAME).exists() and not list(folder.glob(".*.tmp"))
    with store.writer():
        assert (folder / LOCK_NAME).read_text() == str(os.getpid())


def test_grid_check_validates_and_runs_nothing(tmp_path, capsys):
    from fastpoison.cli import main
    grid = tmp_path / "g.toml"
    grid.write_text('[grid]\ndataset = "synthetic:filmtrust"\nattack = ["none", "random"]\ndefense = ["none", "rvd"]\n')
    assert main(["grid", str(grid), "--check", "--json", str(tmp_path / "c.json")]) == 0
    assert json.loads((tmp_path / "c.json").read_text())["cells"] == 4 and "4 valid cells" in capsys.readouterr().out
    assert main(["grid", str(grid)]) == 2 and "--out" in capsys.readouterr().err


def test_report_holds_each_victim_against_popularity():
    from fastpoison.eval.report import Cell, to_markdown
    base = {"dataset": "d", "targets": "unpopular", "knowledge": 0.4, "attack_size": 0.03, "attack": "random",
            "defense": None}
    victim, pop = Cell({**base, "model": "mf"}), Cell({**base, "model": "pop", "attack": None})
    victim.per_seed = {0: {"hr_attack": 0.5, "hr_origin": 0.0, "test_hr_origin": 0.2}}
    pop.per_seed = {0: {"hr_origin": 0.0, "test_hr_origin": 0.3}}
    text = to_markdown([victim, pop])
    assert "Clean test HR (every test user): mf 0.2000, popularity 0.3000: the victim ranks below popularity." in text
    assert to_markdown([victim]).count("Clean test HR") == 0  # no baseline in the records: no line


def test_workers_give_warnings_in_the_commands_one_line_form(tmp_path, monkeypatch, capfd):
    """A warning raised in a worker process (here: no real FilmTrust, so its twin is used)
    reaches stderr as the command's one line, not Python's form with the source line."""
    from fastpoison.cli import main

    monkeypatch.delenv("FASTPOISON_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\ndataset = "filmtrust"\nmodel = "pop"\nattack = "none"\nseeds = 2\n')
    assert main(["grid", str(grid), "--out", str(tmp_path / "out"), "--workers", "2", "--quiet"]) == 0
    err = capfd.readouterr().err
    assert "fastpoison: filmtrust: no real data found" in err
    assert "SyntheticFallbackWarning" not in err and "load_dataset(" not in err



def test_workers_share_the_cores_for_blas():
    """Each local worker's BLAS runs on its share of the cores, not on all of them (two
    workers' products would oversubscribe the cores)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from fastpoison.eval.runner import blas_threads_per_worker, worker_pool

    assert blas_threads_per_worker(2) == max(1, (os.cpu_count() or 1) // 2)
    assert blas_threads_per_worker(10 ** 6) == 1
    with threadpool_limits(1, user_api="blas"):  # as OPENBLAS_NUM_THREADS=1 would
        assert blas_threads_per_worker(1) == 1
    with worker_pool(2) as pool:
        pools = pool.submit(threadpool_info).result()
    assert {p["num_threads"] for p in pools if p["user_api"] == "blas"} == {blas_threads_per_worker(2)}
