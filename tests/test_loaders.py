"""Rating-file readers: error messages name the file and line; real files give the README's counts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastpoison.data import (RatingScale, Split, detect_and_read, leave_one_out, read_delimited, read_filmtrust,
                             read_ml1m, read_ml100k, read_ncf, synthetic_twin, write_ncf)
from fastpoison.errors import DataError



def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def raises_at(reader, path: Path, line: int | None, *words: str) -> str:
    """Call ``reader(path)``; assert a DataError at ``path:line`` whose message has ``words``."""
    with pytest.raises(DataError) as err:
        reader(path)
    message = str(err.value)
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    assert message.startswith(where), message
    assert err.value.line == line
    for word in words:
        assert word in message, message
    return message


U_DATA = "1\t1\t5\t100\n1\t2\t3\t101\n2\t1\t4\t102\n3\t3\t1\t103\n"


# ---------------------------------------------------------------------- ml-100k format
def test_ml100k_reads_and_shifts_ids(tmp_path: Path) -> None:
    data = read_ml100k(write(tmp_path, "u.data", U_DATA))
    assert (data.n_users, data.n_items, data.n_ratings) == (3, 3, 4)
    assert data.user_items(0)[0].tolist() == [0, 1]
    assert data.user_items(0)[1].tolist() == [5.0, 3.0]
    assert data.scale == RatingScale(1, 5, 1)
    assert data.meta["data_source"] == "real" and data.meta["files"] == [str(tmp_path / "u.data")]


@pytest.mark.parametrize("bad_line, line_no, words", [
    ("2\t2\t3", 3, ["expected 4 fields", "found 3"]),
    ("2\t2\tx\t5", 3, ["rating 'x'", "not a number"]),
    ("2\tfoo\t3\t5", 3, ["item id 'foo'", "not a number"]),
    ("2\t2\tnan\t5", 3, ["rating nan", "not a finite"]),
    ("2\t2\tinf\t5", 3, ["rating inf", "not a finite"]),
    ("2\t2\t6\t5", 3, ["rating 6", "off the scale 1..5"]),
    ("2\t2\t3.5\t5", 3, ["rating 3.5", "off the scale"]),
    ("2\t2\t0\t5", 3, ["rating 0", "off the scale"]),
    ("0\t2\t3\t5", 3, ["user id 0", "start at 1"]),
    ("2\t0\t3\t5", 3, ["item id 0", "start at 1"]),
    ("-4\t2\t3\t5", 3, ["user id -4", "out of range"]),
    ("2.5\t2\t3\t5", 3, ["user id 2.5", "not an integer"]),
    ("", 3, ["empty line"]),
    ("2::2::3::5", 3, ["found 1", "'::'-separated"]),
    ("1\t1\t4\t7", 3, ["duplicate rating", "user 1, item 1", "also on line 1"]),
])
def test_ml100k_bad_line_is_named(tmp_path: Path, bad_line: str, line_no: int, words: list[str]) -> None:
    text = "1\t1\t5\t100\n1\t2\t3\t101\n" + bad_line + "\n3\t3\t1\t103\n"
    raises_at(read_ml100k, write(tmp_path, "u.data", text), line_no, *words)


def test_first_bad_line_wins(tmp_path: Path) -> None:
    text = U_DATA + "4\t4\t9\t1\n5\t0\t3\t1\n"  # line 5: off scale; line 6: bad id
    raises_at(read_ml100k, write(tmp_path, "u.data", text), 5, "rating 9")


def test_bad_line_deep_in_a_large_file(tmp_path: Path) -> None:
    n = 50_000
    rng = np.random.default_rng(0)
    lines = [f"{u}\t{i}\t{r}\t0" for u, i, r in zip(np.arange(n) // 50 + 1, np.arange(n) % 50 + 1,
                                                  rng.integers(1, 6, n))]
    lines[40_000] = lines[40_000].replace("\t0", "\t0\t0")
    raises_at(read_ml100k, write(tmp_path, "u.data", "\n".join(lines)), 40_001, "found 5")


@pytest.mark.parametrize("text", ["", "\n\n", "   \n"])
def test_empty_file_has_no_ratings(tmp_path: Path, text: str) -> None:
    raises_at(read_ml100k, write(tmp_path, "u.data", text), None, "no ratings")


def test_missing_file(tmp_path: Path) -> None:
    raises_at(read_ml100k, tmp_path / "u.data", None, "cannot read")


def test_tolerated_variants_parse_the_same(tmp_path: Path) -> None:
    """Trailing blank lines, CRLF, blanks around fields and "+3"/"3.0" all read like the plain file."""
    plain = read_ml100k(write(tmp_path, "u.data", U_DATA))
    variants = [
        U_DATA + "\n\n",
        U_DATA.replace("\n", "\r\n"),
        U_DATA.replace("\t5\t", "\t 5 \t"),
        U_DATA.replace("\t3\t", "\t+3.0\t").replace("\t4\t", "\t4e0\t"),
    ]
    for k, text in enumerate(variants):
        data = read_ml100k(write(tmp_path, f"u{k}.data", text))
        assert np.array_equal(data.indptr, plain.indptr)
        assert np.array_equal(data.indices, plain.indices)
        assert np.array_equal(data.values, plain.values)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 8),
                          st.sampled_from(["{}", "{}.0", "+{}", " {} ", "{}.50", "{}e0", "0{}"])),
                min_size=1, max_size=60, unique_by=lambda t: (t[0], t[1])))
def test_delimited_values_match_python_float(tmp_path_factory: pytest.TempPathFactory,
                                             rows: list[tuple[int, int, int, str]]) -> None:
    """The compiled scanner and the line-by-line fallback agree with float() on every value."""
    folder = tmp_path_factory.mktemp("csv")
    cells = [(u, i, style.format(r) if style != "{}.50" else f"{r}.50") for u, i, r, style in rows]
    path = write(folder, "r.csv", "".join(f"{u},{i},{c}\n" for u, i, c in cells))
    data = read_delimited(path, scale=RatingScale(0, 9, 0.5), compact_ids=False)
    got = {(int(u), int(i)): float(r) for u, i, r in zip(*data.coo())}
    assert got == {(u, i): float(c) for u, i, c in cells}


# ---------------------------------------------------------------------- ml-1m format
def test_ml1m_compacts_ids(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.dat", "10::3952::4::1\n10::20::5::2\n7::20::1::3\n")
    data = read_ml1m(path)
    assert (data.n_users, data.n_items, data.n_ratings) == (2, 2, 3)
    assert data.meta["user_ids"].tolist() == [7, 10]
    assert data.meta["item_ids"].tolist() == [20, 3952]
    assert data.user_items(1)[0].tolist() == [0, 1]
    assert data.user_items(1)[1].tolist() == [5.0, 4.0]


def test_ml1m_read_as_tab_suggests_the_separator(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.dat", "1\t2\t3\t4\n")
    raises_at(read_ml1m, path, 1, "separated by '::'", "found 1", "'\\t'-separated")


def test_tab_file_read_as_ml1m_via_ml100k_message(tmp_path: Path) -> None:
    path = write(tmp_path, "u.data", "1::2::3::4\n")
    raises_at(read_ml100k, path, 1, "expected 4 fields separated by '\\t'", "'::'-separated")


# ---------------------------------------------------------------------- filmtrust raw
def test_filmtrust_scale_and_last_duplicate_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.txt", "1 1 2\n1 2 3.5\n5 2 0.5\n1 1 4\n")
    data = read_filmtrust(path)
    assert data.scale == RatingScale(0.5, 4, 0.5)
    assert data.n_ratings == 3 and data.meta["duplicates_dropped"] == 1
    assert dict(zip(*(a.tolist() for a in data.user_items(0)))) == {0: 4.0, 1: 3.5}
    assert data.meta["user_ids"].tolist() == [1, 5]


@pytest.mark.parametrize("bad, words", [("1 3 4.5", ["rating 4.5", "0.5..4 step 0.5"]),
                                        ("1 3 0", ["rating 0"]), ("1 3 1.25", ["rating 1.25"]),
                                        ("1\t3\t2", ["found 1", "'\\t'-separated"]),
                                        ("1 3 2 7", ["expected 3 fields", "found 4"])])
def test_filmtrust_bad_lines(tmp_path: Path, bad: str, words: list[str]) -> None:
    raises_at(read_filmtrust, write(tmp_path, "ratings.txt", f"1 1 2\n{bad}\n"), 2, *words)


# ---------------------------------------------------------------------- generic delimited
def test_delimited_header_columns_and_unused_text(tmp_path: Path) -> None:
    text = "when,item,user,stars\n2020-01-01 10:00,5,1,4.5\nyesterday,7,1,2\nnow,5,3,1\n"
    path = write(tmp_path, "r.csv", text)
    data = read_delimited(path, user_col=2, item_col=1, rating_col=3, skip_header=True, one_based=True,
                          compact_ids=False)
    assert data.scale == RatingScale(1, 4.5, 0.5)
    assert (data.n_users, data.n_items) == (3, 7)
    assert data.user_items(0)[0].tolist() == [4, 6]
    compact = read_delimited(path, user_col=2, item_col=1, rating_col=3, skip_header=True)  # the default
    assert (compact.n_users, compact.n_items) == (2, 2)
    assert compact.item_labels().tolist() == [5, 7] and compact.user_labels().tolist() == [1, 3]


def test_delimited_line_numbers_count_the_header(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "u,i,r\n0,0,1\n0,1,?\n")
    raises_at(lambda p: read_delimited(p, skip_header=True), path, 3, "rating '?'")
    raises_at(lambda p: read_delimited(p, skip_header=True, one_based=True), write(tmp_path, "s.csv",
              "u,i,r\n1,1,1\n1,0,1\n"), 3, "item id 0")
    raises_at(lambda p: read_delimited(p, skip_header=True), write(tmp_path, "t.csv", "u,i,r\n"), None,
              "no ratings")


def test_delimited_explicit_scale_and_wrong_width(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", "0,0,10\n1,1,1\n")
    raises_at(lambda p: read_delimited(p, scale=RatingScale(1, 5, 1)), path, 1, "rating 10")
    raises_at(lambda p: read_delimited(p, rating_col=5), path, 1, "column 6")
    raises_at(read_delimited, write(tmp_path, "s.csv", "0,0,1\n1,1,1,1\n"), 2, "expected 3 fields")


# ---------------------------------------------------------------------- NCF layout
def ncf(folder: Path, train: str, test: str, negative: str | None = None) -> Path:
    folder.mkdir(exist_ok=True)
    write(folder, "d.train.rating", train)
    write(folder, "d.test.rating", test)
    if negative is not None:
        write(folder, "d.test.negative", negative)
    return folder


TRAIN = "0\t0\t7.0\n0\t1\t2.0\n1\t1\t8.0\n1\t2\t1.0\n1\t3\t4.0\n"
TEST = "0\t2\t5.0\n1\t0\t6.0\n"


def test_ncf_reads_split_and_scale(tmp_path: Path) -> None:
    split = read_ncf(ncf(tmp_path, TRAIN, TEST, "(0,2)\t3\t1\n(1,0)\t3\t3\n"), "d")
    assert isinstance(split, Split)
    assert (split.train.n_users, split.train.n_items, split.train.n_ratings) == (2, 4, 5)
    assert split.train.scale == RatingScale(1, 8, 1)
    assert split.test_users.tolist() == [0, 1] and split.test_items.tolist() == [2, 0]
    assert split.test_ratings.tolist() == [5.0, 6.0]
    assert split.negatives.tolist() == [[3, 1], [3, 3]]
    assert len(split.train.meta["files"]) == 3
    assert read_ncf(tmp_path, "d", scale=RatingScale(1, 10, 1)).train.scale.high == 10


def test_ncf_timestamps_and_no_negatives(tmp_path: Path) -> None:
    split = read_ncf(ncf(tmp_path, TRAIN.replace("\n", "\t99\n"), TEST.replace("\n", "\t99\n")), "d")
    assert split.negatives is None and split.n_test == 2


@pytest.mark.parametrize("train, test, negative, file, line, words", [
    (TRAIN, TEST + "0\t3\t1.0\n", None, "test.rating", 3, ["user 0 has a second test rating"]),
    (TRAIN, "0\t1\t5.0\n", None, "test.rating", 1, ["also appears in the train"]),
    (TRAIN, "0\t2\t0\n", None, "test.rating", 1, ["rating 0", "off the scale 1..8"]),
    (TRAIN + "1\t2\t3.0\n", TEST, None, "train.rating", 6, ["duplicate", "line 4"]),
    (TRAIN.replace("\t", " "), TEST, None, "train.rating", 1, ["found 1", "' '-separated"]),
    (TRAIN, TEST, "(0,2)\t3\n(1,1)\t3\n", "test.negative", 2, ["does not match test rating 2"]),
    (TRAIN, TEST, "(0,2)\t3\n(1,0)\t-1\n", "test.negative", 2, ["0..3"]),
    (TRAIN, TEST, "(0,2)\t3\n1,0\t3\n", "test.negative", 2, ["(user,item)"]),
    (TRAIN, TEST, "(0,2)\t3\n(1,0)\t3\t1\n", "test.negative", 2, ["2 negatives, line 1 has 1"]),
    (TRAIN, TEST, "(0,2)\t3\n(1,0)\tx\n", "test.negative", 2, ["integers"]),
])
def test_ncf_errors(tmp_path: Path, train: str, test: str, negative: str | None, file: str, line: int,
                    words: list[str]) -> None:
    folder = ncf(tmp_path, train, test, negative)
    raises_at(lambda _: read_ncf(folder, "d"), tmp_path / f"d.{file}", line, *words)


def test_ncf_missing_files(tmp_path: Path) -> None:
    raises_at(lambda _: read_ncf(tmp_path, "d"), tmp_path / "d.train.rating", None, "missing")
    write(tmp_path, "d.train.rating", TRAIN)
    raises_at(lambda _: read_ncf(tmp_path, "d"), tmp_path / "d.test.rating", None, "missing")
    write(tmp_path, "d.test.rating", TEST)
    write(tmp_path, "d.test.negative", "(0,2)\t3\n")
    raises_at(lambda _: read_ncf(tmp_path, "d"), tmp_path / "d.test.negative", None, "1 lines for 2")


def test_write_ncf_round_trip(tmp_path: Path) -> None:
    split = synthetic_twin("filmtrust", seed=3)
    paths = write_ncf(split, tmp_path, "ft", n_negatives=50, seed=1)
    assert [p.name for p in paths] == ["ft.train.rating", "ft.test.rating", "ft.test.negative"]
    back = read_ncf(tmp_path, "ft")
    for a, b in ((back.train.indptr, split.train.indptr), (back.train.indices, split.train.indices),
                 (back.train.values, split.train.values), (back.test_users, split.test_users),
                 (back.test_items, split.test_items), (back.test_ratings, split.test_ratings)):
        assert np.array_equal(a, b)
    assert back.train.scale == split.train.scale
    neg = back.negatives
    assert neg.shape == (split.n_test, 50)
    full = split.full().csr
    for k, u in enumerate(back.test_users):
        assert len(set(neg[k])) == 50
        assert not full[u, neg[k]].nnz
    write_ncf(back, tmp_path / "again", "ft")  # a split with negatives writes them as they are
    assert np.array_equal(read_ncf(tmp_path / "again", "ft").negatives, neg)
    assert write_ncf(split, tmp_path / "x", "ft", n_negatives=50, seed=1)[2].read_text() == paths[2].read_text()


def test_write_ncf_half_step_scale_round_trips_with_the_scale(tmp_path: Path) -> None:
    data = read_filmtrust(write(tmp_path, "ratings.txt", "1 1 2\n1 2 3.5\n1 3 0.5\n2 1 4\n2 4 1\n"))
    split = leave_one_out(data, seed=0)
    write_ncf(split, tmp_path / "out", "ft", n_negatives=1)
    back = read_ncf(tmp_path / "out", "ft", scale=data.scale)
    assert np.array_equal(back.train.values, split.train.values)
    assert back.test_ratings.tolist() == split.test_ratings.tolist()


# ---------------------------------------------------------------------- detection
def test_detect_and_read(tmp_path: Path) -> None:
    write(tmp_path, "u.data", U_DATA)
    split = detect_and_read(tmp_path)
    assert split.train.meta["format"] == "ml-100k"
    assert split.n_test == 1 and split.full().n_ratings == 4  # only user 0 has >= 2 ratings
    csv = write(tmp_path, "r.csv", "user,item,rating\n0,0,5\n0,1,4\n")
    assert detect_and_read(csv).full().n_ratings == 2
    tsv = write(tmp_path, "r.tsv", "0\t0\t5\n0\t1\t4\n")
    assert detect_and_read(tsv).full().n_ratings == 2
    ncf(tmp_path / "n", TRAIN, TEST)
    assert detect_and_read(tmp_path / "n").train.meta["format"] == "ncf"
    assert detect_and_read(tmp_path / "n" / "d.train.rating").n_test == 2
    with pytest.raises(DataError, match="unknown ratings format"):
        detect_and_read(write(tmp_path, "r.json", "{}"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no ratings found"):
        detect_and_read(tmp_path / "empty")


# ---------------------------------------------------------------------- real data
def test_real_ml100k(shared_data: Path) -> None:
    raw = read_ml100k(shared_data / "ml-100k" / "u.data")
    assert (raw.n_users, raw.n_items, raw.n_ratings) == (943, 1682, 100000)
    split = read_ncf(shared_data / "ml-100k", "ml-100k")
    assert (split.train.n_users, split.train.n_items) == (943, 1682)
    assert (split.train.n_ratings, split.n_test) == (99057, 943)
    assert split.negatives.shape == (943, 99)
    assert split.train.scale == RatingScale(1, 5, 1)
    assert np.bincount(split.test_ratings.astype(int))[1:].tolist() == [48, 117, 225, 330, 223]


def test_real_filmtrust(shared_data: Path) -> None:
    split = read_ncf(shared_data / "filmtrust", "filmtrust")
    assert (split.train.n_users, split.train.n_items) == (796, 2011)
    assert (split.train.n_ratings, split.n_test) == (30084, 796)
    assert split.train.scale.to_list() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    raw = read_filmtrust(shared_data / "filmtrust" / "ratings.txt")
    lines = (shared_data / "filmtrust" / "ratings.txt").read_text().count("\n")
    assert lines == 35497  # the README's count is of lines: 3 (user, item) pairs repeat
    assert (raw.n_users, raw.n_items) == (1508, 2071)
    assert raw.n_ratings + raw.meta["duplicates_dropped"] == 35497
    assert raw.meta["duplicates_dropped"] == 3
    assert raw.values.min() == 0.5 and raw.values.max() == 4.0


def test_huge_and_sparse_ids_are_renumbered_or_refused(tmp_path: Path) -> None:
    text = "".join(f"{u * 100_000_000}\t{i * 1_000_000_000_000}\t{1 + (u + i) % 5}\n" for u in range(1, 6)
                   for i in range(1, 5))
    data = read_delimited(write(tmp_path, "r.tsv", text), sep="\t")
    assert (data.n_users, data.n_items) == (5, 4) and data.item_labels()[-1] == 4_000_000_000_000
    raises_at(lambda p: read_delimited(p, sep="\t", compact_ids=False), write(tmp_path, "s.tsv", text), 17,
              "would make")
