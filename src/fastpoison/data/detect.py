"""Reading a ratings file or folder given by path, with the format picked from file names."""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .loaders import PathLike, has_header, read_delimited, read_ncf
from .registry import raw_readers
from .split import Split, default_threshold, leave_one_out

_NCF_SUFFIX = ".train.rating"


def _either(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1]


def _magic(path: Path) -> bytes:
    """The first two bytes of a file (gzip's are 1f 8b)."""
    with open(path, "rb") as f:
        return f.read(2)


def detect_and_read(path: PathLike, *, seed: int = 0) -> Split:
    """Read a file or directory of ratings, picking the format from its name.

    A directory holding one ``*.train.rating`` is read with `read_ncf`, else its first raw
    file named as a registered dataset's (`registry.raw_readers`: ``u.data``,
    ``ratings.dat``, ``ratings.txt``); those file names, ``*.train.rating``, ``*.csv`` and
    ``*.tsv`` (header detected) are recognised as files. Single files are split by
    `leave_one_out` (``seed``, `default_threshold`).
    """
    path = Path(path)
    readers = raw_readers()
    if path.is_dir():
        ncf = sorted(path.glob("*" + _NCF_SUFFIX))
        if len(ncf) > 1:
            raise DataError(f"several NCF datasets: {', '.join(p.name for p in ncf)}; name one file", path=path)
        if ncf:
            return read_ncf(path, ncf[0].name[: -len(_NCF_SUFFIX)])
        raw = [path / f for f in readers if (path / f).is_file()]
        if not raw:
            raise DataError(f"no ratings found: expected {_either(['NAME' + _NCF_SUFFIX, *readers])}", path=path)
        path = raw[0]
    if not path.is_file():
        raise DataError("no such file or directory", path=path)
    if path.is_file() and _magic(path) == b"\x1f\x8b":
        raise DataError("a gzip-compressed file: decompress it first (gunzip), then pass the ratings file", path=path)
    if path.name.endswith(_NCF_SUFFIX):
        return read_ncf(path.parent, path.name[: -len(_NCF_SUFFIX)])
    if path.name in readers:
        data = readers[path.name](path)
    elif path.suffix.lower() in (".csv", ".tsv"):
        sep = "," if path.suffix.lower() == ".csv" else "\t"
        data = read_delimited(path, sep=sep, skip_header=has_header(path, sep))
    else:
        raise DataError(f"unknown ratings format: expected {_either([*readers, 'NAME' + _NCF_SUFFIX, '.csv', '.tsv'])}",
                        path=path)
    return leave_one_out(data, seed=seed, threshold=default_threshold(data.scale))
