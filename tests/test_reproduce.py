"""`fastpoison reproduce`: paper entries -> cells -> our numbers beside the published ones."""
from __future__ import annotations

import dataclasses
import math

import pytest

from fastpoison.eval import backfire, reproduce
from fastpoison.eval.paper_tables import PaperEntry, PaperTable
from fastpoison.eval.runner import run_grid
from fastpoison.eval.store import ResultStore


def test_rvd_tables_resolve_to_their_appendix_twin():
    table = reproduce.resolve("rvd-table3", "ml-100k")
    assert table.name == "rvd-table7"
    pairs = reproduce.plan(table, "ml-100k")
    cells = reproduce.cells(pairs, seeds=2)
    # 7 attacks x (none, apr, ltsmf, rmf, rvd, and our two RVD variants beside rvd) x 2 seeds
    assert len(pairs) == 35 and len(cells) == 98
    assert {c.knowledge for c in cells} == {1.0} and {c.targets for c in cells} == {"unpopular"}
    assert {c.seed for c in cells} == {0, 1} and all(c.model_options == {"patience": 0} for c in cells)
    assert reproduce.resolve("rvd-table3", "yelp").name == "rvd-table3"
    assert {c.hr_k for _, c in reproduce.plan(reproduce.resolve("rvd-table3", "yelp"), "yelp")} == {500}
    with pytest.raises(ValueError, match="covers"):
        reproduce.resolve("tcd-table4", "yelp")
    with pytest.raises(ValueError, match="unknown paper table"):
        reproduce.resolve("rvd-table99", None)


def test_our_numbers_are_read_off_the_right_stage(tmp_path):
    entry = PaperEntry("synthetic:filmtrust", "mf", "random", None, "unpopular", 0.4, 0.5)
    table = PaperTable("rvd-table0", "rvd", 0, "demo", "hr", {"synthetic:filmtrust": 20}, (
        entry, dataclasses.replace(entry, defense="ltsmf", value=0.1),
        dataclasses.replace(entry, attack=None, column="random", value=0.01)))
    pairs = reproduce.plan(table)
    cells = [dataclasses.replace(c, model_options={"epochs": 6, "factors": 8})
             for c in reproduce.cells(pairs, seeds=2)]
    assert len(cells) == 4  # the origin row reads the clean value of the random-attack cell
    assert not run_grid(cells, str(tmp_path)).failed
    records = list(ResultStore(tmp_path).records())
    pairs = [(e, dataclasses.replace(s, model_options={"epochs": 6, "factors": 8})) for e, s in pairs]
    rows = reproduce.compare(table, pairs, records)
    assert [(r["seeds"], r["value"]) for r in rows] == [(2, 0.5), (2, 0.1), (2, 0.01)]
    expected_attack = sum(r["result"]["hr_attack"]["mean"] for r in records if r["spec"]["defense"] is None) / 2
    expected_defense = sum(r["result"]["hr_defense"]["mean"] for r in records if r["spec"]["defense"]) / 2
    expected_origin = sum(r["result"]["hr_origin"]["mean"] for r in records if r["spec"]["defense"] is None) / 2
    assert rows[0]["ours"] == pytest.approx(expected_attack) and rows[1]["ours"] == pytest.approx(expected_defense)
    assert rows[2]["ours"] == pytest.approx(expected_origin)
    assert len({rows[0]["ours"], rows[1]["ours"], rows[2]["ours"]}) == 3, [r["ours"] for r in rows]
    text = reproduce.to_markdown(table, rows)
    assert text.count("\n| synthetic:filmtrust |") == 3 and "none (random column)" in text
    assert "target HR over users who have not rated the target" in text
    # the TCD paper's numbers are compared with its own definition: every real user counts
    tcd = dataclasses.replace(table, name="tcd-table0", paper="tcd")
    rows = reproduce.compare(tcd, pairs, records)
    all_users = sum(r["result"]["hr_attack_all_users"]["mean"] for r in records if r["spec"]["defense"] is None) / 2
    assert rows[0]["ours"] == pytest.approx(all_users) and all_users < expected_attack
    assert "target HR over all real users" in reproduce.to_markdown(tcd, rows)


def test_named_extensions_run_and_print_beside_the_papers_method():
    table = reproduce.resolve("rvd-table7", "ml-100k")
    pairs = [p for p in reproduce.plan(table, "ml-100k") if p[0].defense == "rvd"]
    cells = reproduce.cells(pairs, seeds=1)
    ours = ("rvd[step=sgd]", "rvd[forget=0.1,step=sgd]")
    assert {c.defense for c in cells} == {"rvd", *ours} and len(cells) == 3 * len(pairs)
    rows = reproduce.compare(table, pairs, [])
    assert all(r["extensions"][name]["seeds"] == 0 for r in rows for name in ours)  # no records yet
    text = reproduce.to_markdown(table, rows)
    header = text.splitlines()[2]
    assert header.endswith("| paper | ours (defaults) | ours with rvd[forget=0.1,step=sgd] | ours with rvd[step=sgd] |")
    assert all(line.count("|") == header.count("|") for line in text.splitlines()[3:] if line.startswith("|"))
    tcd = [p for p in reproduce.plan(reproduce.resolve("tcd-table4", "ml-100k"), "ml-100k") if p[0].defense == "tcd"]
    assert {c.defense for c in reproduce.cells(tcd, seeds=1)} == {"tcd", "tcd[labels=in-range]"}


def test_reproduce_judges_itself():
    table = PaperTable("rvd-table0", "rvd", 0, "demo", "hr", {"d": 50}, ())
    row = {"dataset": "d", "model": "mf", "targets": "unpopular", "knowledge": 1.0, "column": None, "seeds": 1,
           "ours_std": 0.0, "extensions": {}}
    rows = [{**row, "attack": "a", "defense": None, "value": 0.9, "ours": 0.5},
            {**row, "attack": "b", "defense": None, "value": 0.8, "ours": 0.7},
            {**row, "attack": "a", "defense": "rvd", "value": 0.1, "ours": 0.6},
            {**row, "attack": "b", "defense": "rvd", "value": 0.2, "ours": 0.1},
            {**row, "attack": "c", "defense": "rvd", "value": 0.2, "ours": math.nan, "seeds": 0}]
    lines = reproduce.judge(table, rows)
    assert lines == ["4 of 5 entries have our number.", "Within ±0.05 of the paper: 0/4 entries.",
                     "rvd lowers the target HR: paper 2/2, ours 1/2.",
                     "Attacks ordered by attacked target HR as the paper orders them: 0/1 pairs."]
    test_table = dataclasses.replace(table, metric="test_hr")
    assert reproduce.judge(test_table, rows)[2] == "rvd keeps the test HR: paper 0/2, ours 1/2."


def test_a_defense_that_left_the_model_untouched_is_marked(tmp_path):
    # AT's loss starts after 5 clean epochs; in a 3-epoch fit it never trains
    entry = PaperEntry("synthetic:filmtrust", "mf", "random", "at", "unpopular", 0.4, 0.5)
    table = PaperTable("tcd-table0", "tcd", 0, "demo", "hr", {"synthetic:filmtrust": 20},
                       (entry, dataclasses.replace(entry, defense="rat", value=0.4)))
    options = {"epochs": 3, "factors": 8}
    pairs = [(e, dataclasses.replace(s, model_options=options)) for e, s in reproduce.plan(table)]
    cells = [dataclasses.replace(c, model_options=options) for c in reproduce.cells(pairs, seeds=1)]
    assert not run_grid(cells, str(tmp_path)).failed
    rows = reproduce.compare(table, pairs, list(ResultStore(tmp_path).records()))
    assert [r["inactive"] for r in rows] == [True, True]
    text = reproduce.to_markdown(table, rows)
    assert text.count(f" {backfire.INACTIVE_MARK} |") == 2 and backfire.INACTIVE_LEGEND in text
    no_warmup = dataclasses.replace(entry, defense="rat[warmup=0]")
    pairs = [(e, dataclasses.replace(s, model_options=options)) for e, s in reproduce.plan(
        dataclasses.replace(table, rows=(no_warmup,)))]
    assert not run_grid([dataclasses.replace(c, model_options=options) for c in reproduce.cells(pairs, seeds=1)],
                        str(tmp_path)).failed
    rows = reproduce.compare(table, pairs, list(ResultStore(tmp_path).records()))
    assert rows[0]["inactive"] is False and backfire.INACTIVE_LEGEND not in reproduce.to_markdown(table, rows)
