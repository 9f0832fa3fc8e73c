"""Reading a ratings file or folder given by path, with the format picked from file names."""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .formats import DAT_TRAIN, read_dat_pair, read_inter, read_named_columns
from .loaders import PathLike, has_header, read_delimited, read_ncf, with_gz
from .registry import raw_readers
from .split import Split, default_threshold, leave_one_out

_NCF_SUFFIX = ".train.rating"


def _either(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1]


def _folder_format(path: Path, readers: dict) -> Split | Path:
    """The split a dataset folder's files make (NCF layout, a ``.dat`` pair), else the one
    ratings file it holds (a registered raw file name, or a single ``.inter`` file)."""
    def named(suffix: str) -> list[Path]:
        return sorted(p for p in path.iterdir() if p.name.removesuffix(".gz").endswith(suffix) and p.is_file())

    for suffix, read in ((_NCF_SUFFIX, read_ncf), (DAT_TRAIN, read_dat_pair)):
        found = named(suffix)
        if len(found) > 1:
            raise DataError(f"several datasets: {', '.join(p.name for p in found)}; name one file", path=path)
        if found:
            return read(path, found[0].name.removesuffix(".gz")[: -len(suffix)])
    raw = [p for f in readers if (p := with_gz(path / f)).is_file()]
    if raw:
        return raw[0]
    inter = named(".inter")
    if len(inter) > 1:
        raise DataError(f"several .inter files: {', '.join(p.name for p in inter)}; name one", path=path)
    if not inter:
        expected = _either(["NAME" + _NCF_SUFFIX, "NAME" + DAT_TRAIN, "NAME.inter", *readers])
        raise DataError(f"no ratings found: expected {expected}", path=path)
    return inter[0]


def detect_and_read(path: PathLike, *, seed: int = 0) -> Split:
    """Read a file or directory of ratings, picking the format from its name; any file may
    be gzip'd (told by its bytes; a ``.gz`` ending is ignored for the name).

    A directory is read by its files: one ``NAME.train.rating`` (`read_ncf`), one
    ``NAME_train.dat`` with its ``NAME_test.dat`` (`read_dat_pair`), else its first raw file
    named as a registered dataset's (`registry.raw_readers`: ``u.data``, ``ratings.dat``,
    ``ratings.txt``) or its one ``.inter`` file. Those names, ``*.train.rating``,
    ``*_train.dat``, ``*.inter`` (RecBole, `read_inter`), ``*.csv`` and ``*.tsv`` (a header is
    detected, and read for the user, item and rating columns: `read_named_columns`) are
    recognised as files. Single files are split by `leave_one_out` (``seed``,
    `default_threshold`).
    """
    path = Path(path)
    readers = raw_readers()
    if path.is_dir():
        found = _folder_format(path, readers)
        if isinstance(found, Split):
            return found
        path = found
    if not path.is_file():
        raise DataError("no such file or directory", path=path)
    name = path.name.removesuffix(".gz")
    suffix = Path(name).suffix.lower()
    if name.endswith(_NCF_SUFFIX):
        return read_ncf(path.parent, name[: -len(_NCF_SUFFIX)])
    if name.endswith(DAT_TRAIN):
        return read_dat_pair(path.parent, name[: -len(DAT_TRAIN)])
    if name in readers:
        data = readers[name](path)
    elif suffix == ".inter":
        data = read_inter(path)
    elif suffix in (".csv", ".tsv"):
        sep = "," if suffix == ".csv" else "\t"
        data = read_named_columns(path, sep) if has_header(path, sep) else read_delimited(path, sep=sep)
    else:
        known = [*readers, "NAME" + _NCF_SUFFIX, "NAME" + DAT_TRAIN, ".inter", ".csv", ".tsv"]
        raise DataError(f"unknown ratings format: expected {_either(known)} (each may be gzip'd)", path=path)
    return leave_one_out(data, seed=seed, threshold=default_threshold(data.scale))
