"""The dataset registry: the papers' settings per dataset, and datasets registered by users."""
from __future__ import annotations

import functools
import warnings
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from fastpoison.data import (DATASETS, DatasetRecord, PaperSettings, RatingScale, RawFile, TwinShape, dataset_record,
                             default_threshold, is_large, load_dataset, model_overrides, paper_hr_k, paper_neighbours,
                             paper_tcd, rating_threshold, read_delimited, register_dataset, synthetic_ratings)
from fastpoison.data.fetch import fetch
from fastpoison.defenses import TCD, applies, get_defense
from fastpoison.errors import DataError
from fastpoison.eval.grid import expand
from fastpoison.models import MODELS, make_model

BUILT_IN = ("ml-100k", "ml-1m", "filmtrust", "yelp")


@pytest.fixture(autouse=True)
def isolated_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No $FASTPOISON_DATA and an empty user cache, so only what a test sets up is found."""
    monkeypatch.delenv("FASTPOISON_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


# ------------------------------------------------------------- the papers' settings
def test_lookups_take_twins_as_their_original_and_default_elsewhere() -> None:
    assert dataset_record("synthetic:filmtrust") is DATASETS["filmtrust"]
    for name in (None, "netflix", "synthetic:netflix", "/data/ratings.csv"):
        assert dataset_record(name) is None
        assert paper_hr_k(name) == 50 and paper_neighbours(name, "mf") is None and paper_tcd(name) is None
        assert not is_large(name) and model_overrides(name, "mf") == {}
    assert paper_neighbours("ml-100k", "someothermodel") is None  # RVD then chooses k


def test_rvd_neighbours_are_table_2() -> None:
    expected = {
        ("ml-100k", "mf"): 12, ("ml-1m", "mf"): 12, ("filmtrust", "mf"): 650, ("yelp", "mf"): 100,
        ("ml-100k", "nsvd"): 25, ("ml-1m", "nsvd"): 70, ("filmtrust", "nsvd"): 7, ("yelp", "nsvd"): 900,
        ("ml-100k", "autorec"): 12, ("ml-1m", "autorec"): 12, ("filmtrust", "autorec"): 12, ("yelp", "autorec"): 100,
        ("ml-100k", "cdae"): 12, ("ml-1m", "cdae"): 12, ("filmtrust", "cdae"): 12, ("yelp", "cdae"): 200,
    }
    for (dataset, model), k in expected.items():
        assert paper_neighbours(dataset, model) == paper_neighbours("synthetic:" + dataset, model) == k


def test_hr_k() -> None:
    assert {name: paper_hr_k(name) for name in BUILT_IN} == {"ml-100k": 50, "ml-1m": 50, "filmtrust": 50, "yelp": 500}
    assert paper_hr_k("synthetic:yelp") == 500


def test_tcd_settings_and_large_sets() -> None:
    expected = {"filmtrust": (1, 1.0), "ml-100k": (4, 1.0), "ml-1m": (2, 0.2)}
    assert {name: paper_tcd(name) for name in BUILT_IN} == {**expected, "yelp": None}
    assert paper_tcd("synthetic:ml-1m") == (2, 0.2)
    assert [name for name in BUILT_IN if is_large(name)] == ["yelp"] and is_large("synthetic:yelp")


def test_model_overrides() -> None:
    expected = {"mf": {"batch_size": 4096}, "nsvd": {"batch_size": 4096}, "autorec": {}, "cdae": {}, "bprmf": {},
                "lightgcn": {}, "pop": {}}
    for model in MODELS:
        assert {name: model_overrides(name, model) for name in BUILT_IN} == {
            "ml-100k": {}, "ml-1m": {}, "filmtrust": expected[model], "yelp": {}}
    assert model_overrides("synthetic:filmtrust", "mf") == {"batch_size": 4096}
    model_overrides("filmtrust", "mf")["batch_size"] = 1  # a fresh dict: the record is untouched
    assert model_overrides("filmtrust", "mf") == {"batch_size": 4096}


def test_thresholds_default_unless_the_record_sets_one() -> None:
    assert rating_threshold("ml-100k", RatingScale(1, 5, 1)) == default_threshold(RatingScale(1, 5, 1)) == 4.0
    assert rating_threshold("synthetic:filmtrust", RatingScale(1, 8, 1)) == 6.0
    assert rating_threshold(None, RatingScale(0.5, 4, 0.5)) == 3.0
    assert all(DATASETS[name].threshold is None for name in BUILT_IN)


def test_records_are_read_only() -> None:
    record = DATASETS["filmtrust"]
    with pytest.raises(FrozenInstanceError):
        record.scale = RatingScale(1, 5, 1)  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.papers.neighbours["mf"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        record.papers.model_overrides["mf"]["batch_size"] = 1  # type: ignore[index]


def test_records_are_checked() -> None:
    scale = RatingScale(1, 5, 1)
    for bad in ("", "synthetic:x", "a/b"):
        with pytest.raises(ValueError, match="name"):
            DatasetRecord(bad, scale)
    with pytest.raises(ValueError, match="histogram"):
        DatasetRecord("x", scale, twin=TwinShape(10, 10, 50, 2, 1.0, 1.0, (0.5, 0.5)))
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(DatasetRecord("ml-100k", scale))


def test_consumers_read_the_registry() -> None:
    names = [*BUILT_IN, *("synthetic:" + name for name in BUILT_IN), "netflix", "/data/ratings.csv"]
    for name in names:
        if name in ("netflix", "/data/ratings.csv"):  # neither registered nor on disk: refused up front
            with pytest.raises(ValueError, match="unknown dataset"):
                expand({"grid": {"dataset": name}})
        else:
            assert expand({"grid": {"dataset": name}})[0].hr_k == paper_hr_k(name)
        for model in (m for m in MODELS if applies("rvd", m)):
            assert get_defense("rvd", dataset=name, model=model).serving.k == paper_neighbours(name, model)
        for model in MODELS:
            config = make_model(model, name).config
            assert all(getattr(config, key) == value for key, value in model_overrides(name, model).items())
        tcd, settings = TCD.for_dataset(name), paper_tcd(name)
        if settings is not None:
            assert (tcd.pretrain_epochs, tcd.pseudo_ratio) == settings
        assert (TCD.for_dataset(name, n_pairs=1).pseudo_budget is not None) == is_large(name)


# ------------------------------------------------------------------ a user's dataset
TOY = b"user,item,rating\n" + b"".join(f"{u},{i},{1 + (u + i) % 5}\n".encode()
                                       for u in range(6) for i in range(8) if (u * 3 + i) % 4)


@pytest.fixture()
def toy() -> Iterator[DatasetRecord]:
    """A registered toy dataset read from ``ratings.csv``, with a twin and paper settings."""
    reader = functools.partial(read_delimited, sep=",", skip_header=True)
    record = DatasetRecord(
        "toy", RatingScale(1, 5, 1), raw_files=(RawFile("ratings.csv", reader),),
        twin=TwinShape(30, 20, 200, min_per_user=3, activity_sigma=0.5, popularity_sigma=0.5,
                       histogram=(0.1, 0.1, 0.2, 0.3, 0.3)),
        papers=PaperSettings(hr_k=10, neighbours={"mf": 3}, tcd=(1, 0.5), model_overrides={"mf": {"epochs": 2}}),
        threshold=3.0,
    )
    assert register_dataset(record) is record
    yield record
    del DATASETS["toy"]


def test_a_registered_dataset_loads_by_name(toy: DatasetRecord, tmp_path: Path) -> None:
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "ratings.csv").write_bytes(TOY)
    ds = load_dataset("toy", tmp_path, require_real=True)
    assert (ds.name, ds.data_source) == ("toy", "real")
    assert ds.files == [str(tmp_path / "toy" / "ratings.csv")]
    full = ds.split.full()
    assert (full.n_users, full.n_items, full.n_ratings) == (6, 8, TOY.count(b"\n") - 1)
    assert ds.split.n_test == 6 and np.all(ds.split.test_ratings >= 3.0)  # the record's threshold
    assert (paper_hr_k("toy"), paper_neighbours("toy", "mf"), paper_tcd("toy"), model_overrides("toy", "mf")) == (
        10, 3, (1, 0.5), {"epochs": 2})


def test_a_registered_twin_stands_in(toy: DatasetRecord, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="synthetic twin"):
        ds = load_dataset("toy", tmp_path)
    assert ds.data_source == "synthetic"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        twin = load_dataset("synthetic:toy", seed=0)
    assert np.array_equal(twin.split.train.indices, ds.split.train.indices)
    full = synthetic_ratings("toy", seed=1)
    assert (full.n_users, full.n_items, full.n_ratings) == (30, 20, 200)


def test_a_dataset_without_twin_needs_real_data(tmp_path: Path) -> None:
    register_dataset(DatasetRecord("bare", RatingScale(1, 5, 1)))
    try:
        with pytest.raises(DataError, match="no real copy of bare"):
            load_dataset("bare", tmp_path)
        with pytest.raises(DataError, match="unknown synthetic twin"):
            load_dataset("synthetic:bare")
        with pytest.raises(DataError, match="no download is known"):
            fetch("bare", tmp_path)
    finally:
        del DATASETS["bare"]
