"""The field's other layouts (train/test .dat pairs, RecBole .inter, CSV with a header, gzip'd
files) read to the same ratings as ML-100K's NCF files (real data from ../shared/data), and a
test set with several items per user goes through every metric."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from fastpoison.cli import main
from fastpoison.data import detect_and_read, load_dataset, read_ncf
from fastpoison.data.ratings import RatingData


@pytest.fixture(scope="module")
def ncf(shared_data):
    return read_ncf(shared_data / "ml-100k", "ml-100k")


def assert_same_ratings(got: RatingData, want: RatingData) -> None:
    assert (got.n_users, got.n_items, got.scale) == (want.n_users, want.n_items, want.scale)
    for name in ("indptr", "indices", "values"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name


def lines(u, i, r, sep: str, extra: str = "") -> str:
    return "".join(f"{a}{sep}{b}{sep}{c:g}{extra}\n" for a, b, c in zip(u.tolist(), i.tolist(), r.tolist()))


def test_a_dat_pair_is_the_ncf_split(ncf, tmp_path):
    u, i, r = ncf.train.coo()
    (tmp_path / "ml100k_train.dat").write_text(lines(u, i, r, "\t"))
    (tmp_path / "ml100k_test.dat").write_text(lines(ncf.test_users, ncf.test_items, ncf.test_ratings, "\t"))
    for where in (tmp_path, tmp_path / "ml100k_train.dat"):
        split = detect_and_read(where)
        assert_same_ratings(split.train, ncf.train)
        assert_same_ratings(split.full(), ncf.full())
        assert np.array_equal(split.test_users, ncf.test_users) and np.array_equal(split.test_items, ncf.test_items)


def test_an_inter_file_is_the_ncf_union(ncf, tmp_path):
    u, i, r = ncf.full().coo()
    path = tmp_path / "ml-100k.inter"
    path.write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + lines(u, i, r, "\t", "\t0"))
    assert_same_ratings(detect_and_read(path).full(), ncf.full())
    assert_same_ratings(detect_and_read(tmp_path).full(), ncf.full())  # the folder's one .inter file


def test_a_gzipped_csv_with_a_header_is_the_ncf_union(ncf, tmp_path):
    u, i, r = ncf.full().coo()
    path = tmp_path / "ratings.csv.gz"  # columns found by their names, in another order
    body = "".join(f"{b},{a},{c:g},0\n" for a, b, c in zip(u.tolist(), i.tolist(), r.tolist()))
    path.write_bytes(gzip.compress(("item_id,user_id,rating,timestamp\n" + body).encode()))
    assert_same_ratings(detect_and_read(path).full(), ncf.full())
    packed = tmp_path / "ncf"
    packed.mkdir()
    for suffix in ("train.rating", "test.rating", "test.negative"):
        source = ncf.train.meta["files"][0].replace("train.rating", suffix)
        (packed / f"ml-100k.{suffix}.gz").write_bytes(gzip.compress(open(source, "rb").read()))
    again = detect_and_read(packed)
    assert_same_ratings(again.full(), ncf.full()) and np.array_equal(again.negatives, ncf.negatives)


def test_several_test_items_per_user_go_through_every_metric(tmp_path):
    full = load_dataset("synthetic:filmtrust").split.full()
    u, i, r = full.coo()
    rng = np.random.default_rng(0)
    test = np.zeros(len(u), dtype=bool)
    for user in range(full.n_users):  # up to 3 held-out ratings per user, 1 rating kept in train
        rows = np.flatnonzero(u == user)
        if len(rows) >= 2:
            test[rng.choice(rows, min(3, len(rows) - 1), replace=False)] = True
    (tmp_path / "twin_train.dat").write_text(lines(u[~test], i[~test], r[~test], " "))
    (tmp_path / "twin_test.dat").write_text(lines(u[test], i[test], r[test], " "))
    split = detect_and_read(tmp_path)
    assert split.n_test == test.sum() and np.bincount(split.test_users).max() == 3
    out = tmp_path / "run.json"
    assert main(["run", "--dataset", str(tmp_path), "--epochs", "2", "--factors", "8", "--quiet",
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    at = result["at_k"]["origin"]
    assert at["test_hr@50"] == result["test_hr_origin"]
    assert 0 < at["test_recall@50"]["mean"] < at["test_hr@50"]["mean"] <= 1  # several items: recall < HR


def test_a_dat_pair_of_half_star_ratings_keeps_its_grid(tmp_path):
    (tmp_path / "ft_train.dat").write_text("0\t0\t0.5\n0\t1\t4\n1\t0\t2.5\n1\t2\t1\n")
    (tmp_path / "ft_test.dat").write_text("0\t2\t3.5\n1\t1\t0.5\n")
    split = detect_and_read(tmp_path)
    assert (split.train.scale.low, split.train.scale.high, split.train.scale.step) == (0.5, 4.0, 0.5)
    assert split.n_test == 2 and split.train.n_ratings == 4
