from __future__ import annotations

import math

import pytest

from fastpoison.attacks import ATTACKS
from fastpoison.defenses import get_defense
from fastpoison.eval.paper_tables import PAPER_TABLES, PaperTable, entries, paper_table

MODELS = {"mf", "nsvd", "autorec", "cdae"}
DATASETS = {"ml-100k", "ml-1m", "filmtrust", "yelp"}

# Published cells per table, counted from the papers (p-value rows and headers excluded):
# RVD 3/7: 5 defense rows x 2 datasets x 7 attacks; RVD 4/8: 3 models x before/after x 14;
# RVD 5/9: 4 models x before/after x 14; RVD 6: 2 rows x 4 models;
# TCD 3: 3 datasets x 8 attacks x 2 target kinds x (Origin + 5 knowledge levels);
# TCD 4/5: 2 target kinds x 3 datasets x 5 methods x 8 attacks.
EXPECTED_COUNTS = {
    "rvd-table3": 70, "rvd-table4": 84, "rvd-table5": 112, "rvd-table6": 8,
    "rvd-table7": 70, "rvd-table8": 84, "rvd-table9": 112,
    "tcd-table3": 288, "tcd-table4": 240, "tcd-table5": 240,
}


def one(name: str, **filters) -> float:
    found = entries(name, **filters)
    assert len(found) == 1, (name, filters, found)
    return found[0].value


def test_every_table_loads_with_expected_size() -> None:
    assert set(PAPER_TABLES) == set(EXPECTED_COUNTS)
    for name, count in EXPECTED_COUNTS.items():
        table = paper_table(name)
        assert isinstance(table, PaperTable)
        assert table.name == name == f"{table.paper}-table{table.number}"
        assert table.caption
        assert len(table.rows) == count, name


def test_names_are_registry_names() -> None:
    for table in PAPER_TABLES.values():
        assert table.paper in ("rvd", "tcd")
        assert table.metric in ("hr", "test_hr", "seconds_per_user")
        for e in table.rows:
            assert e.dataset in DATASETS
            assert e.model in MODELS
            assert e.attack is None or e.attack in ATTACKS
            assert e.defense is None or get_defense(e.defense).name == e.defense
            assert e.targets in (None, "unpopular", "random")
            assert e.knowledge is None or 0 < e.knowledge <= 1
            assert e.column is None or (e.attack is None and e.column in ATTACKS)


def test_values_finite_and_in_range() -> None:
    for table in PAPER_TABLES.values():
        for e in table.rows:
            assert math.isfinite(e.value)
            if table.metric in ("hr", "test_hr"):
                assert 0.0 <= e.value <= 1.0, (table.name, e)
            else:
                assert e.value > 0


def test_entries_are_unique_and_k_covers_datasets() -> None:
    for table in PAPER_TABLES.values():
        keys = [(e.dataset, e.model, e.attack, e.defense, e.targets, e.knowledge, e.column) for e in table.rows]
        assert len(keys) == len(set(keys)), table.name
        if table.metric != "seconds_per_user":
            assert set(table.k) == {e.dataset for e in table.rows}, table.name


def test_hr_cutoffs() -> None:
    assert paper_table("rvd-table3").k == {"ml-1m": 50, "yelp": 500}
    assert paper_table("rvd-table8").k == {"ml-100k": 50, "filmtrust": 50}
    assert paper_table("tcd-table4").k == {"ml-100k": 50, "ml-1m": 50, "filmtrust": 50}


def test_unknown_table_lists_names() -> None:
    with pytest.raises(ValueError, match="rvd-table3.*tcd-table5"):
        paper_table("rvd-table2")


# ------------------------------------------------------------ spot checks against the papers
def test_rvd_table3() -> None:
    assert one("rvd-table3", dataset="ml-1m", attack="tna", defense="rvd") == 0.002
    assert one("rvd-table3", dataset="ml-1m", attack="mixinf", defense="rvd") == 0.564
    assert one("rvd-table3", dataset="yelp", attack="average", defense=None) == 0.163
    assert one("rvd-table3", dataset="yelp", attack="tna", defense="apr") == 0.569
    assert one("rvd-table3", dataset="yelp", attack="random", defense="ltsmf") == 0.009
    assert {e.model for e in paper_table("rvd-table3").rows} == {"mf"}
    assert {e.targets for e in paper_table("rvd-table3").rows} == {"unpopular"}


def test_rvd_table4() -> None:
    assert one("rvd-table4", dataset="ml-1m", model="autorec", attack="mixinf", defense="rvd") == 0.016
    assert one("rvd-table4", dataset="ml-1m", model="cdae", attack="mixinf", defense="rvd") == 0.128
    assert one("rvd-table4", dataset="ml-1m", model="nsvd", attack="mixinf", defense="rvd") == 0.252
    assert one("rvd-table4", dataset="yelp", model="nsvd", attack="tna", defense=None) == 0.023
    assert one("rvd-table4", dataset="yelp", model="cdae", attack="mixinf", defense="rvd") == 0.919
    assert not entries("rvd-table4", model="mf")


def test_rvd_table5() -> None:
    assert one("rvd-table5", dataset="yelp", model="nsvd", attack="average", defense="rvd") == 0.402
    assert one("rvd-table5", dataset="ml-1m", model="autorec", attack="mixrand", defense=None) == 0.022
    assert one("rvd-table5", dataset="ml-1m", model="mf", attack="pga", defense="rvd") == 0.097
    assert paper_table("rvd-table5").metric == "test_hr"


def test_rvd_table6() -> None:
    assert one("rvd-table6", model="cdae", defense="rvd") == 1.268
    assert one("rvd-table6", model="mf", defense=None) == 0.007
    assert one("rvd-table6", model="nsvd", defense=None) == 0.169
    assert one("rvd-table6", model="autorec", defense="rvd") == 0.131
    assert {e.dataset for e in paper_table("rvd-table6").rows} == {"yelp"}
    assert paper_table("rvd-table6").metric == "seconds_per_user"


def test_rvd_table7() -> None:
    assert one("rvd-table7", dataset="ml-100k", attack="mixinf", defense="ltsmf") == 0.000
    assert one("rvd-table7", dataset="filmtrust", attack="aush", defense="rmf") == 0.865
    assert one("rvd-table7", dataset="ml-100k", attack="random", defense=None) == 0.950
    assert one("rvd-table7", dataset="filmtrust", attack="pga", defense="rvd") == 0.128


def test_rvd_table8() -> None:
    assert one("rvd-table8", dataset="ml-100k", model="autorec", attack="tna", defense=None) == 0.994
    assert one("rvd-table8", dataset="ml-100k", model="autorec", attack="tna", defense="rvd") == 0.000
    assert one("rvd-table8", dataset="filmtrust", model="nsvd", attack="average", defense="rvd") == 0.053
    assert one("rvd-table8", dataset="filmtrust", model="cdae", attack="pga", defense=None) == 0.614


def test_rvd_table9() -> None:
    assert one("rvd-table9", dataset="filmtrust", model="mf", attack="random", defense=None) == 0.870
    assert one("rvd-table9", dataset="ml-100k", model="autorec", attack="aush", defense="rvd") == 0.343
    assert one("rvd-table9", dataset="ml-100k", model="cdae", attack="mixrand", defense="rvd") == 0.244


def test_tcd_table3() -> None:
    t = "tcd-table3"
    assert one(t, dataset="filmtrust", attack="tna", targets="random", knowledge=0.2) == 0.7299
    assert one(t, dataset="ml-100k", attack="dl", targets="unpopular", knowledge=0.2) == 0.9223
    assert one(t, dataset="ml-1m", attack="pga", targets="random", knowledge=1.0) == 0.0446
    assert one(t, dataset="ml-1m", attack="gcoattack", targets="unpopular", knowledge=0.6) == 0.9980
    assert one(t, dataset="filmtrust", attack="coattack", targets="unpopular", knowledge=0.8) == 0.3521
    origin = entries(t, dataset="ml-100k", attack=None, targets="random")
    assert len(origin) == 8 and {e.value for e in origin} == {0.0535}
    assert {e.column for e in origin} == {"average", "random", "aush", "pga", "tna", "dl", "coattack", "gcoattack"}
    assert {e.knowledge for e in paper_table(t).rows if e.attack} == {0.2, 0.4, 0.6, 0.8, 1.0}
    assert {e.defense for e in paper_table(t).rows} == {None}


def test_tcd_table4() -> None:
    t = "tcd-table4"
    assert one(t, dataset="filmtrust", targets="random", attack="aush", defense="tcd") == 0.2386
    assert one(t, dataset="ml-1m", targets="unpopular", attack="average", defense="rat") == 0.9504
    assert one(t, dataset="ml-1m", targets="unpopular", attack="average", defense="tcd") == 0.9304
    assert one(t, dataset="ml-100k", targets="unpopular", attack="pga", defense="at") == 0.5953
    assert one(t, dataset="ml-100k", targets="unpopular", attack="coattack", defense=None) == 0.9876
    assert {e.knowledge for e in paper_table(t).rows if e.attack} == {0.4}
    assert len(entries(t, attack=None, defense=None)) == 48


def test_tcd_table5() -> None:
    t = "tcd-table5"
    [origin] = [e for e in entries(t, dataset="ml-100k", targets="random", attack=None) if e.column == "average"]
    assert origin.value == 0.2364
    assert one(t, dataset="filmtrust", targets="unpopular", attack="pga", defense="tcd") == 0.8721
    assert one(t, dataset="ml-1m", targets="unpopular", attack="gcoattack", defense="tcd") == 0.1199
    assert one(t, dataset="filmtrust", targets="random", attack="gcoattack", defense=None) == 0.8325
    assert one(t, dataset="ml-1m", targets="random", attack="aush", defense="at") == 0.0458
    assert one(t, dataset="filmtrust", targets="random", attack="dl", defense="rat") == 0.8322
