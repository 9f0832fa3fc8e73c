"""Dataset resolution: real files under the data roots, else the synthetic twin (with a notice)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from fastpoison.cli import main
from fastpoison.data import (DATASETS, Dataset, RatingData, RatingScale, SyntheticFallbackWarning, dataset_info,
                             load_dataset, read_ml100k, read_ml1m, synthetic_twin, write_ncf)
from fastpoison.errors import DataError

INFO_KEYS = {"name", "data_source", "n_users", "n_items", "n_ratings", "density", "grid", "min_rating",
             "max_rating", "mean_ratings_per_user"}
TAIL_KEYS = {"top10pct_items_share", "items_with_lt5_ratings", "max_item_ratings"}
SHAPE_KEYS = {"users_without_train_ratings", "items_without_train_ratings", "cold_test_items", "cold_test_ratings",
              "user_ids_present", "user_id_gaps", "item_ids_present", "item_id_gaps"}


@pytest.fixture(autouse=True)
def isolated_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No $FASTPOISON_DATA and an empty user cache, so only what a test sets up is found."""
    monkeypatch.delenv("FASTPOISON_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_known_names() -> None:
    assert tuple(DATASETS) == ("ml-100k", "ml-1m", "filmtrust", "yelp", "longtail", "sparse", "medium")
    assert [n for n, r in DATASETS.items() if r.synthetic_only] == ["longtail", "sparse", "medium"]


def test_fallback_to_the_twin_says_so(tmp_path: Path) -> None:
    with pytest.warns(SyntheticFallbackWarning) as caught:
        ds = load_dataset("filmtrust", tmp_path / "data", seed=4)
    assert isinstance(ds, Dataset) and ds.data_source == "synthetic" and ds.files == []
    notice = ds.notice
    assert notice is not None and "\n" not in notice and str(caught[0].message) == notice
    for part in ("synthetic twin", str(tmp_path / "data" / "filmtrust"), str(tmp_path / "cache"),
                 "--data-dir", "FASTPOISON_DATA", "`fastpoison data fetch filmtrust`"):
        assert part in notice
    with pytest.warns(SyntheticFallbackWarning) as caught:
        load_dataset("yelp", tmp_path / "data")
    assert "data fetch" not in str(caught[0].message)  # no download exists for Yelp
    assert np.array_equal(ds.split.train.indices, synthetic_twin("filmtrust", 4).train.indices)


def test_require_real_raises_with_directions(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("ml-1m", tmp_path, require_real=True)
    message = str(err.value)
    for part in (str(tmp_path / "ml-1m"), "ratings.dat", "ml-1m.train.rating", "--data-dir", "FASTPOISON_DATA"):
        assert part in message


def test_explicit_synthetic_and_unknown_names() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load_dataset("synthetic:ml-100k", require_real=True)
    assert (ds.name, ds.data_source, ds.notice) == ("ml-100k", "synthetic", None)
    with pytest.raises(DataError, match="synthetic:ml-100k"):
        load_dataset("synthetic:netflix")
    with pytest.raises(DataError) as err:
        load_dataset("netflix")
    assert all(name in str(err.value) for name in DATASETS)


def test_ncf_layout_under_data_dir_is_used_as_is(tmp_path: Path) -> None:
    twin = synthetic_twin("filmtrust", 1)
    write_ncf(twin, tmp_path / "filmtrust", "filmtrust")
    ds = load_dataset("filmtrust", tmp_path, require_real=True)
    assert ds.data_source == "real" and ds.notice is None and len(ds.files) == 3
    assert np.array_equal(ds.split.test_items, twin.test_items)
    assert ds.split.negatives.shape == (twin.n_test, 99)


def test_env_var_and_cache_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "env" / "ml-100k").mkdir(parents=True)
    (tmp_path / "env" / "ml-100k" / "u.data").write_text("1\t1\t5\t0\n1\t2\t3\t0\n2\t1\t4\t0\n")
    monkeypatch.setenv("FASTPOISON_DATA", str(tmp_path / "env"))
    ds = load_dataset("ml-100k", require_real=True, seed=3)
    assert ds.files == [str(tmp_path / "env" / "ml-100k" / "u.data")]
    assert ds.split.test_items.tolist() == [0]  # user 1's only rating >= 4 is held out
    assert ds.split.train.meta["split"] == {"method": "leave_one_out", "seed": 3, "threshold": 4.0}
    monkeypatch.delenv("FASTPOISON_DATA")
    nested = tmp_path / "cache" / "fastpoison" / "ml-1m" / "ml-1m"
    nested.mkdir(parents=True)
    (nested / "ratings.dat").write_text("1::10::5::0\n1::20::4::0\n")
    assert load_dataset("ml-1m", require_real=True).files == [str(nested / "ratings.dat")]


def test_broken_real_file_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    (tmp_path / "filmtrust").mkdir()
    (tmp_path / "filmtrust" / "ratings.txt").write_text("1 1 2\n1 2 9\n")
    with pytest.raises(DataError, match=r"ratings.txt:2: rating 9"):
        load_dataset("filmtrust", tmp_path)


def test_paths_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("user,item,rating\n0,0,5\n0,1,2\n1,1,3\n")
    ds = load_dataset(str(path))
    assert (ds.name, ds.data_source, ds.files) == ("mine", "real", [str(path)])
    assert ds.split.full().n_ratings == 3 and ds.split.test_items.tolist() == [0]


def test_dataset_info_counts_train_and_test() -> None:
    ds = load_dataset("synthetic:yelp")
    info = dataset_info(ds)
    assert set(info) == INFO_KEYS | TAIL_KEYS | SHAPE_KEYS | {"files"}
    assert all(info[key] is None for key in ("user_ids_present", "user_id_gaps", "item_ids_present", "item_id_gaps"))
    assert (info["n_users"], info["n_items"], info["n_ratings"]) == (14575, 25602, 555374)
    assert info["grid"] == [1.0, 2.0, 3.0, 4.0, 5.0] and info["data_source"] == "synthetic"
    assert info["density"] == pytest.approx(555374 / (14575 * 25602))
    assert info["mean_ratings_per_user"] == pytest.approx(555374 / 14575)
    assert (info["min_rating"], info["max_rating"]) == (1.0, 5.0)
    json.dumps(info)


def test_real_shared_data_is_found(shared_data: Path) -> None:
    ml = dataset_info(load_dataset("ml-100k", shared_data, require_real=True))
    assert (ml["n_users"], ml["n_items"], ml["n_ratings"], ml["data_source"]) == (943, 1682, 100000, "real")
    assert len(ml["files"]) == 3 and ml["files"][0].endswith("ml-100k.train.rating")
    ft = load_dataset("filmtrust", shared_data, require_real=True)
    assert (ft.split.train.n_ratings, ft.split.n_test) == (30084, 796)
    assert dataset_info(ft)["grid"] == [float(g) for g in range(1, 9)]


def degenerate_ncf(folder: Path) -> Path:
    """An NCF split over users 0..3 and items 0..5 where user 2 and item 3 are never rated,
    user 3 is only in test, and items 2 and 5 (twice) only in test."""
    folder.mkdir()
    (folder / "d.train.rating").write_text("0\t0\t5\n0\t1\t4\n1\t1\t3\n1\t4\t2\n")
    (folder / "d.test.rating").write_text("0\t2\t5\n1\t5\t4\n3\t5\t1\n")
    return folder


def test_dataset_info_counts_degenerate_shapes(tmp_path: Path) -> None:
    info = dataset_info(load_dataset(str(degenerate_ncf(tmp_path / "d"))))
    assert (info["n_users"], info["n_items"]) == (4, 6)
    assert info["users_without_train_ratings"] == 2  # user 2 (no rating at all) and user 3 (test only)
    assert info["items_without_train_ratings"] == 3  # items 2 and 5 (test only) and 3 (none)
    assert (info["cold_test_items"], info["cold_test_ratings"]) == (2, 3)
    assert (info["user_ids_present"], info["user_id_gaps"]) == (3, 1)
    assert (info["item_ids_present"], info["item_id_gaps"]) == (5, 1)


def test_id_gaps_of_raw_files_count_from_the_files_numbering(tmp_path: Path) -> None:
    ml1m = tmp_path / "ratings.dat"  # compacted: users 7, 10 and items 20, 3952 of 1-based numberings
    ml1m.write_text("10::3952::4::1\n10::20::5::2\n7::20::1::3\n")
    assert read_ml1m(ml1m).id_numbering() == {"user_ids_present": 2, "user_id_gaps": 8,
                                              "item_ids_present": 2, "item_id_gaps": 3950}
    ml100k = tmp_path / "u.data"  # ids kept: users 1, 3 and items 1, 4 of 1..3 and 1..4
    ml100k.write_text("1\t1\t5\t0\n3\t4\t2\t0\n3\t1\t3\t0\n")
    assert read_ml100k(ml100k).id_numbering() == {"user_ids_present": 2, "user_id_gaps": 1,
                                                  "item_ids_present": 2, "item_id_gaps": 2}
    made = RatingData.from_coo(np.array([0, 2]), np.array([1, 3]), np.array([1.0, 2.0]), 4, 5, RatingScale(1, 5, 1))
    assert made.id_numbering() is None  # not read from files: its ids are the caller's, not a file's
    assert made.stats()["users_without_ratings"] == 2 and made.stats()["items_without_ratings"] == 3


def test_data_info_prints_and_writes_the_degenerate_shapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = degenerate_ncf(tmp_path / "d")
    assert main(["data", "info", str(folder), "--json", str(tmp_path / "info.json")]) == 0
    info = json.loads((tmp_path / "info.json").read_text())
    assert SHAPE_KEYS <= set(info) and info["cold_test_ratings"] == 3 and info["item_id_gaps"] == 1
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert lines["cold_test_items"] == "2" and lines["users_without_train_ratings"] == "2"
    assert main(["data", "info", "synthetic:ml-100k"]) == 0
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert lines["item_id_gaps"] == "-" and lines["cold_test_items"] == "0"
