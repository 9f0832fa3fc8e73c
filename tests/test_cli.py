"""The `fastpoison` command: its contract (docs/architecture.md), exit codes, and the acceptance figures."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastpoison.cli import main
from fastpoison.data.datasets import load_dataset

INFO_KEYS = {"name", "data_source", "n_users", "n_items", "n_ratings", "density", "grid", "min_rating",
             "max_rating", "mean_ratings_per_user"}


def run_json(tmp_path: Path, *argv: str) -> dict:
    out = tmp_path / "out.json"
    assert main([*argv, "--quiet", "--json", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.mark.parametrize("name, users, items, ratings, grid", [
    ("ml-100k", 943, 1682, 100000, [1, 2, 3, 4, 5]),
    ("filmtrust", 796, 2011, 30880, [1, 2, 3, 4, 5, 6, 7, 8]),
])
def test_data_info_real_counts(tmp_path, shared_data, name, users, items, ratings, grid):
    info = run_json(tmp_path, "data", "info", name, "--data-dir", str(shared_data))
    assert INFO_KEYS <= set(info)
    assert (info["n_users"], info["n_items"], info["n_ratings"]) == (users, items, ratings)
    assert info["grid"] == grid and info["data_source"] == "real"


def test_data_info_raw_files(tmp_path, shared_data):
    ml = run_json(tmp_path, "data", "info", str(shared_data / "ml-100k" / "u.data"))
    assert (ml["n_users"], ml["n_items"], ml["n_ratings"]) == (943, 1682, 100000)
    ft = run_json(tmp_path, "data", "info", str(shared_data / "filmtrust" / "ratings.txt"))
    assert (ft["n_users"], ft["n_items"]) == (1508, 2071)
    assert ft["grid"] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]


def test_data_info_synthetic_yelp(tmp_path):
    info = run_json(tmp_path, "data", "info", "synthetic:yelp")
    assert (info["n_users"], info["n_items"], info["n_ratings"]) == (14575, 25602, 555374)
    assert info["grid"] == [1, 2, 3, 4, 5] and info["data_source"] == "synthetic"


def test_missing_real_data_falls_back_loudly_or_fails_when_required(tmp_path, capsys):
    info = run_json(tmp_path, "data", "info", "ml-100k", "--data-dir", str(tmp_path / "empty"))
    assert info["data_source"] == "synthetic"
    err = capsys.readouterr().err
    assert "synthetic twin" in err and len(err.strip().splitlines()) == 1
    assert main(["data", "info", "ml-100k", "--data-dir", str(tmp_path / "empty"), "--require-real"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ml-100k" in err


@pytest.mark.parametrize("argv", [
    ["data", "info", "no-such-dataset"],
    ["run", "--dataset", "synthetic:ml-100k", "--model", "svdpp"],
    ["run", "--dataset", "synthetic:ml-100k", "--attack", "nosuch"],
    ["run", "--dataset", "synthetic:ml-100k", "--attack", "random", "--knowledge", "0"],
    ["run", "--dataset", "synthetic:ml-100k", "--attack", "random", "--knowledge", "1.5"],
    ["run", "--dataset", "synthetic:ml-100k", "--attack", "random", "--size", "0"],
    ["run", "--dataset", "synthetic:ml-100k", "--attack", "random", "--filler", "0"],
    ["run", "--dataset", "synthetic:ml-100k", "--defense", "nosuch"],
    ["run", "--dataset", "synthetic:ml-100k", "--defense", "rvd", "--rvd-k", "0"],
    ["run", "--dataset", "synthetic:ml-100k", "--model", "nsvd", "--defense", "ltsmf"],
    ["run", "--dataset", "synthetic:ml-100k", "--defense", "tcd", "--defense-option", "pseudo_budget"],
    ["run", "--dataset", "synthetic:ml-100k", "--defense", "tcd", "--defense-option", "budget=1"],
    ["run", "--dataset", "synthetic:ml-100k", "--defense", "tcd", "--defense-option", "pseudo_budget=-1"],
    ["run", "--dataset", "synthetic:ml-100k", "--defense", "rvd", "--defense-option", "trim=3"],
    ["run", "--dataset", "synthetic:ml-100k", "--defense", "rvd[k=2.5]"],
    ["run", "--dataset", "synthetic:ml-100k", "--defense", "tcd+rvd", "--defense-option", "epochs=3"],
    ["run", "--dataset", "synthetic:ml-100k", "--attack", "pga[steps=fast]"],
    ["run", "--dataset", "synthetic:ml-100k", "--attack", "pga", "--attack-option", "nope=1"],
    ["run", "--dataset", "synthetic:ml-100k", "--attack-option", "steps=1"],
    ["run", "--dataset", "synthetic:ml-100k", "--defense", "rvd", "--rvd-k", "0"],
    ["run", "--dataset", "synthetic:ml-100k", "--defense-option", "trim=0.1"],
    ["attack", "--dataset", "synthetic:ml-100k", "--attack", "random", "--targets", "99999", "--out", "never.tsv"],
    ["attack", "--dataset", "synthetic:ml-100k", "--attack", "random", "--filler", "5000", "--out", "never.tsv"],
    ["attack", "--dataset", "synthetic:ml-100k", "--attack", "random", "--size", "-1", "--out", "never.tsv"],
    ["run", "--dataset", "synthetic:ml-100k", "--targets", "99999999"],
    ["run", "--dataset", "synthetic:ml-100k", "--epochs", "0"],
    ["train", "--dataset", "synthetic:ml-100k", "--model", "mf"],
    ["train", "--dataset", "synthetic:ml-100k", "--model", "mf", "--item-reg", "3", "--out", "never.npz"],
    ["frobnicate"],
    ["reproduce", "rvd-table7", "--seeds", "0"],  # would run nothing and print an empty table
    ["run", "--dataset", "synthetic:ml-100k", "--seed", "-1"],
    ["attack", "--dataset", "synthetic:ml-100k", "--attack", "random", "--seed", "-1", "--out", "never.tsv"],
    ["recommend", "--model-file", "never.npz", "--dataset", "synthetic:ml-100k", "--batch", "0"],
    ["recommend", "--model-file", "never.npz", "--dataset", "synthetic:ml-100k", "--n", "0"],
    ["bench", "--dataset", "synthetic:ml-100k", "--workers", "0"],
])
def test_bad_usage_exits_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastpoison:") and err.count("\n") == 1


def test_malformed_file_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "ratings.csv"
    bad.write_text("0,1,4\n1,2,nan\n")
    assert main(["data", "info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2" in err and err.count("\n") == 1


def test_synth_writes_ncf_layout_that_reads_back(tmp_path):
    assert main(["data", "synth", "filmtrust", "--out", str(tmp_path / "ft"), "--quiet"]) == 0
    names = sorted(p.name for p in (tmp_path / "ft").iterdir())
    assert names == ["filmtrust.test.negative", "filmtrust.test.rating", "filmtrust.train.rating"]
    info = run_json(tmp_path, "data", "info", str(tmp_path / "ft"))
    assert (info["n_users"], info["n_items"], info["n_ratings"]) == (796, 2011, 30880)


def test_train_saves_a_loadable_model(tmp_path):
    from fastpoison import load_model

    out = tmp_path / "m.npz"
    result = run_json(tmp_path, "train", "--dataset", "synthetic:ml-100k", "--model", "nsvd", "--epochs", "2",
                      "--factors", "8", "--out", str(out))
    assert result["data_source"] == "synthetic" and len(result["history"]) == 2
    model = load_model(out)
    assert model.name == "nsvd" and model.top_k(np.array([0]), k=5).items.shape == (1, 5)


def test_run_json_follows_the_contract(tmp_path):
    r = run_json(tmp_path, "run", "--dataset", "synthetic:filmtrust", "--model", "mf", "--seeds", "2", "--epochs",
                 "3", "--factors", "8", "--hr-k", "20")
    for key in ("dataset", "model", "attack", "defense", "targets", "hr_k", "seeds", "data_source", "hr_origin",
                "hr_attack", "hr_defense", "test_hr_origin", "test_hr_attack", "test_hr_defense", "ri", "p_value",
                "timings"):
        assert key in r
    assert r["data_source"] == "synthetic" and r["hr_k"] == 20
    assert len(r["test_hr_origin"]["values"]) == 2 and len(r["target_items"]) == 2
    assert 0 <= r["test_hr_origin"]["mean"] <= 1
    assert set(r["timings"]) == {"fit", "attack", "attacked_fit", "defense_fit", "recommend_per_user", "evaluate",
                                 "total", "cpu_total", "peak_rss_mb"}


def test_run_measures_every_k_from_one_list_and_the_headline_is_one_of_them(tmp_path):
    r = run_json(tmp_path, "run", "--dataset", "synthetic:filmtrust", "--epochs", "3", "--factors", "8",
                 "--attack", "average", "--defense", "rvd[k=5]", "--k", "100,5,50", "--hr-k", "50")
    assert r["ks"] == [5, 50, 100]
    for stage in ("origin", "attack", "defense"):
        at = r["at_k"][stage]
        assert at["target_hr@50"] == r[f"hr_{stage}"] and at["test_hr@50"] == r[f"test_hr_{stage}"]
        assert at["test_recall@5"] == at["test_hr@5"]  # one held-out item per user
        for metric in ("target_hr", "target_recall", "test_hr", "test_ndcg"):
            means = [at[f"{metric}@{k}"]["mean"] for k in (5, 50, 100)]
            assert means == sorted(means)  # deeper lists hold every hit of shorter ones
    assert main(["run", "--dataset", "synthetic:filmtrust", "--k", "10,zero"]) == 2
    beyond = run_json(tmp_path, "run", "--dataset", "synthetic:filmtrust", "--epochs", "1", "--factors", "4",
                      "--k", "100000")  # no cut-off below the item count: the headline alone
    assert beyond["at_k"] is None and beyond["hr_origin"] is not None


def test_run_times_every_stage_within_its_total(tmp_path):
    r = run_json(tmp_path, "run", "--dataset", "synthetic:filmtrust", "--model", "mf", "--seeds", "2", "--epochs",
                 "3", "--factors", "8", "--attack", "average", "--defense", "rvd[k=5]")
    t = r["timings"]
    stages = ("fit", "attack", "attacked_fit", "defense_fit", "evaluate")
    assert all(t[key] > 0 for key in stages) and t["recommend_per_user"] > 0
    assert 2 * sum(t[key] for key in stages) <= t["total"]  # means over the 2 seeds, inside the whole call
    assert t["cpu_total"] > 0 and t["peak_rss_mb"] > 50


def test_runs_are_reproducible(tmp_path):
    argv = ["run", "--dataset", "synthetic:filmtrust", "--epochs", "2", "--factors", "8", "--seed", "5"]
    a, b = run_json(tmp_path, *argv), run_json(tmp_path, *argv)
    assert a["test_hr_origin"] == b["test_hr_origin"] and a["target_items"] == b["target_items"]


def test_console_entry_point_exit_codes(tmp_path):
    cmd = [sys.executable, "-m", "fastpoison.cli"]
    ok = subprocess.run([*cmd, "data", "info", "synthetic:ml-100k", "--quiet"], capture_output=True, text=True)
    assert ok.returncode == 0
    bad = subprocess.run([*cmd, "data", "info", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@pytest.mark.parametrize("model", ["mf", "nsvd"])
@pytest.mark.parametrize("dataset, floor", [("ml-100k", 0.20), ("filmtrust", 0.80)])
def test_paper_accuracy_on_real_data(tmp_path, shared_data, dataset, floor, model):
    """TCD paper Table 5 'Origin': MF test HR@50 is 0.236 on ML-100K and 0.85 on FilmTrust;
    NSVD with our per-item prior (``--item-reg 16``; the plain model ranks far worse) is held
    to the same floors."""
    prior = ["--item-reg", "16"] if model == "nsvd" else []
    r = run_json(tmp_path, "run", "--dataset", dataset, "--data-dir", str(shared_data), "--model", model,
                 "--seeds", "3", "--require-real", *prior)
    assert r["data_source"] == "real"
    assert r["test_hr_origin"]["mean"] >= floor, r["test_hr_origin"]


def test_bench_runs_the_standard_grid_and_tabulates(tmp_path, capsys):
    out = tmp_path / "records"
    argv = ["bench", "--dataset", "synthetic:ml-100k", "--models", "mf,nsvd", "--attacks", "none,random",
            "--defenses", "none,rvd", "--epochs", "2", "--factors", "8", "--out", str(out), "--workers", "1",
            "--json", str(tmp_path / "bench.json")]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "bench.json").read_text())
    # 2 models x 2 attacks x 2 defenses, and the popularity baseline's clean cell
    assert summary["cells"] == summary["ran"] == 9 and summary["peak_rss_mib_per_process"] > 0
    assert summary["protocol"] == "targets: 5 unpopular items (rated by 1-4 users), the papers' protocol"
    text = capsys.readouterr().out
    assert summary["protocol"] in text.splitlines()[0]  # the header says which targets the bench promotes
    assert "| none | " in text and "| rvd | " in text and "ms per user" in text and "test HR clean" in text
    assert "cell total: the cell's own wall time" in text  # why a total can be below its stages
    assert "Popularity's clean test HR: 0." in text and "below it: mf" in text  # 2-epoch victims rank worse
    assert main([*argv, "--resume"]) == 0 and json.loads((tmp_path / "bench.json").read_text())["skipped"] == 9


def test_fetch_installs_a_checksummed_archive_where_data_info_finds_it(tmp_path):
    import hashlib
    import zipfile

    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ml-100k/u.data", "".join(f"{u}\t{i}\t{1 + (u + i) % 5}\t0\n" for u in (1, 2, 3) for i in (1, 2, 4)))
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    root = tmp_path / "data"
    argv = ["data", "fetch", "ml-100k", "--data-dir", str(root), "--url", archive.as_uri(), "--quiet"]
    assert main([*argv, "--sha256", "0" * 64]) == 2  # tampered: the hash does not match
    assert not (root / "ml-100k").exists()
    assert main([*argv, "--sha256", digest]) == 0
    info = run_json(tmp_path, "data", "info", "ml-100k", "--data-dir", str(root), "--require-real")
    assert (info["n_users"], info["n_items"], info["n_ratings"]) == (3, 4, 9)


def test_run_with_attack_and_rvd_fills_every_field(tmp_path):
    r = run_json(tmp_path, "run", "--dataset", "synthetic:ml-100k", "--attack", "average", "--defense", "rvd",
                 "--targets", "unpopular", "--seeds", "2", "--epochs", "3", "--factors", "16", "--rvd-k", "8")
    assert r["defense"] == "rvd[k=8]" and r["defense_settings"]["rvd"]["k"] == 8
    for key in ("hr_attack", "hr_defense", "test_hr_attack", "test_hr_defense", "ri"):
        assert len(r[key]["values"]) == 2, key
    for stage in ("origin", "attack", "defense"):  # both definitions of each metric, side by side
        for raters, everyone in zip(r[f"hr_{stage}"]["values"], r[f"hr_{stage}_all_users"]["values"]):
            assert everyone <= raters  # raters of a target count as misses over all users
        # the twin's leave-one-out holds out a liked rating for every user: one definition here
        assert r[f"test_hr_{stage}_liked"]["values"] == r[f"test_hr_{stage}"]["values"], stage
    means = [r[f"hr_{s}"]["mean"] for s in ("origin", "attack", "defense")]
    assert r["ri_of_means"] == pytest.approx(1 - (means[2] - means[0]) / (means[1] - means[0]))
    assert r["p_value"] is not None
    assert r["timings"]["defense_fit"] > 0 and r["timings"]["recommend_per_user"] > 0


def test_defense_and_attack_options_reach_them(tmp_path):
    result = run_json(tmp_path, "run", "--dataset", "synthetic:filmtrust", "--attack", "pga[steps=2]", "--defense",
                      "tcd", "--defense-option", "pseudo_budget=0.5", "--defense-option", "epochs=3", "--epochs", "3",
                      "--factors", "8", "--attack-option", "ridge=0.5")
    assert result["defense"] == "tcd[epochs=3,pseudo_budget=0.5]"
    assert result["defense_settings"]["tcd"]["pseudo_budget"] == 0.5 and result["defense_settings"]["tcd"]["epochs"] == 3
    assert result["attack"] == "pga[ridge=0.5,steps=2]" and result["attack_settings"]["steps"] == 2
    assert result["hr_defense"] is not None and result["timings"]["defense_fit"] > 0


def test_json_is_strict_with_one_seed(tmp_path):
    """A p-value over one seed is nan; the JSON says null, and any JSON reader accepts it."""
    out = tmp_path / "run.json"
    assert main(["run", "--dataset", "synthetic:filmtrust", "--attack", "random", "--defense", "rvd[k=5]", "--epochs",
                 "1", "--factors", "4", "--quiet", "--json", str(out)]) == 0

    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")
    result = json.loads(out.read_text(), parse_constant=refuse)
    assert result["p_value"] is None and result["hr_defense"]["values"][0] is not None


def test_liked_test_hr_counts_only_liked_held_out_ratings(tmp_path, shared_data):
    """Real ML-100K (NCF split): 553 of 943 held-out ratings are >= 4, so the RVD paper's
    accuracy and test HR over every test user differ."""
    r = run_json(tmp_path, "run", "--dataset", "ml-100k", "--data-dir", str(shared_data), "--require-real",
                 "--epochs", "2", "--factors", "8")
    split = load_dataset("ml-100k", str(shared_data), require_real=True).split
    assert int((split.test_ratings >= 4).sum()) == 553 and split.n_test == 943
    assert r["test_hr_origin_liked"]["mean"] != r["test_hr_origin"]["mean"]
    assert r["test_hr_origin"]["mean"] <= r["test_hr_origin_sampled"]["mean"] <= 1  # the NCF negatives file


@pytest.mark.parametrize("rows, message", [
    ([(u, i, 0) for u in range(1, 30) for i in range(1, 20) if (u * i) % 3], "highest rating must be positive"),
    ([(u, u % 60 + 1, 1 + u % 5) for u in range(1, 200)], "no user has a test rating"),
    ([(1, i, 1 + i % 5) for i in range(1, 80)] + [(2, i, 3) for i in range(1, 5)], "every item would be in"),
    ([(u, i, 3) for u in range(1, 40) for i in range(1, 60) if (u * i) % 3], "every training rating is 3"),
    ([(1, i, 1 + i % 5) for i in range(1, 120)], "has one user"),
])
def test_degenerate_data_is_one_clear_error(tmp_path, capsys, rows, message):
    path = tmp_path / "ratings.tsv"
    path.write_text("".join(f"{u}\t{i}\t{r}\n" for u, i, r in rows))
    extra = ["--hr-k", "100"] if "every item" in message else []
    assert main(["run", "--dataset", str(path), "--epochs", "1", "--factors", "4", "--quiet", *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_json_on_stdout_is_all_stdout_carries(capsys):
    assert main(["run", "--dataset", "synthetic:filmtrust", "--epochs", "1", "--factors", "4", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["dataset"] == "synthetic:filmtrust"  # parses whole: the text went to stderr
    assert "test_hr_origin" in err


def test_train_says_the_file_it_wrote(tmp_path, capsys):
    assert main(["train", "--dataset", "synthetic:filmtrust", "--model", "mf", "--epochs", "1", "--factors", "4",
                 "--out", str(tmp_path / "model_noext")]) == 0
    assert f"saved {tmp_path / 'model_noext.npz'}" in capsys.readouterr().out
    assert (tmp_path / "model_noext.npz").exists()


def test_weak_messages_name_the_problem(tmp_path, capsys):
    toml = tmp_path / "bad.toml"
    toml.write_bytes(b'[grid]\ndataset = "\xff\xfe"\n')
    comma = tmp_path / "comma.tsv"
    comma.write_text("1,2,3\n2,3,4\n3,1,5\n")
    import gzip
    packed = tmp_path / "ratings.csv.gz"
    packed.write_bytes(gzip.compress(b"1,2,3\n2,3,4\n")[:-6])  # cut short
    cases = [(["grid", str(toml), "--check"], f"{toml}: not a TOML grid file"),
             (["data", "info", str(packed)], "a damaged gzip file"),
             (["data", "info", str(comma)], "is the file separated by that instead?"),
             (["run", "--dataset", "synthetic:filmtrust", "--attack", "mixrand", "--knowledge", "1e-9", "--quiet"],
              "leaves the attacker no rating to see")]
    for argv, message in cases:
        assert main(argv) == 2
        assert message in capsys.readouterr().err
