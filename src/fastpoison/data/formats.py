"""Other layouts of the field: train/test ``.dat`` pairs, RecBole atomic ``.inter`` files, and
delimited files whose header names the user, item and rating columns."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from ..errors import DataError
from .loaders import PathLike, read_delimited, read_first_line, split_of_files, with_gz
from .ratings import RatingData
from .split import Split

#: Header names (lower case, without ``_``, ``-``, blanks and a RecBole ``:type`` suffix) of
#: each column, as the field's files spell them.
COLUMN_NAMES = {
    "user": ("user", "userid", "uid", "reviewerid", "customerid"),
    "item": ("item", "itemid", "iid", "movieid", "asin", "businessid", "productid", "bookid"),
    "rating": ("rating", "ratings", "score", "stars", "overall", "preference"),
}
DAT_TRAIN, DAT_TEST = "_train.dat", "_test.dat"


def _normalised(field: str) -> str:
    return re.sub(r"[\s_\-]", "", field.split(":", 1)[0]).strip().strip('"').lower()


def header_columns(path: PathLike, sep: str) -> tuple[int, int, int] | None:
    """The 0-based (user, item, rating) columns named by the header line of ``path``
    (`COLUMN_NAMES`), or None when it does not name all three."""
    names = [_normalised(f) for f in read_first_line(Path(path)).split(sep)]
    found = [next((k for k, n in enumerate(names) if n in COLUMN_NAMES[role]), None)
             for role in ("user", "item", "rating")]
    return None if None in found else (found[0], found[1], found[2])  # type: ignore[return-value]


def read_named_columns(path: PathLike, sep: str) -> RatingData:
    """A delimited file with a header line: columns by their names where the header names
    all three (`header_columns`), else the first three; ids renumbered densely in ascending
    order (`read_delimited`)."""
    user, item, rating = header_columns(path, sep) or (0, 1, 2)
    return read_delimited(path, sep=sep, user_col=user, item_col=item, rating_col=rating, skip_header=True)


def read_inter(path: PathLike) -> RatingData:
    """A RecBole atomic ``.inter`` file: tab-separated, a header of ``name:type`` fields
    (``user_id:token``, ``item_id:token``, ``rating:float``, ...), numeric ids renumbered
    densely in ascending order."""
    columns = header_columns(path, "\t")
    if columns is None:
        raise DataError("an .inter file needs a header naming user_id, item_id and rating fields "
                        f"(found {read_first_line(Path(path))[:80]!r}); this toolkit's models read rating values",
                        path=Path(path), line=1)
    data = read_delimited(path, sep="\t", user_col=columns[0], item_col=columns[1], rating_col=columns[2],
                          skip_header=True)
    return replace(data, meta={**data.meta, "format": "recbole-inter"})


def _separator(path: Path) -> str:
    """The separator of a ``.dat`` file's first line: a tab, a comma, ``::`` or a blank."""
    line = read_first_line(path)
    for sep in ("\t", "::", ",", " "):
        if len(line.split(sep)) in (3, 4):
            return sep
    raise DataError("expected 'user item rating' [timestamp] separated by tabs, commas, '::' or blanks",
                    path=path, line=1)


def read_dat_pair(folder: PathLike, name: str) -> Split:
    """The shilling-attack repositories' layout: ``NAME_train.dat`` and ``NAME_test.dat``
    (possibly gzip'd), ``user item rating`` [timestamp] per line, 0-based ids kept as they
    are, the rating grid from the lowest rating found (FilmTrust's 0.5..4 included). The
    files' own split, with any number of test ratings per user."""
    folder = Path(folder)
    train, test = with_gz(folder / f"{name}{DAT_TRAIN}"), with_gz(folder / f"{name}{DAT_TEST}")
    if not train.is_file():
        raise DataError("missing file of the .dat pair", path=train)
    return split_of_files(train, test, sep=_separator(train), name=name, fmt="dat-pair", lowest=None,
                          one_test_per_user=False)
