"""Readers for rating files (MovieLens, FilmTrust, the NCF layout, delimited text) and the NCF writer.

Every reader raises `DataError` naming the file and the 1-based line at fault. Files are
parsed by a compiled scanner; when it meets anything unusual, a line-by-line Python pass
takes over from that line, so it either parses the rest or reports the exact line.
"""
from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Callable, Sequence, Union

import numpy as np
from numba import njit

from ..errors import DataError
from .ratings import RatingData
from .scale import RatingScale
from .split import Split, sample_negatives

PathLike = Union[str, "os.PathLike[str]"]
_SEPARATORS = ("\t", "::", ",", ";", "|", " ")
_POW10 = np.array([10.0**k for k in range(23)])
_NEGATIVE_HEAD = re.compile(r"\((\d+),(\d+)\)")
ML_SCALE = RatingScale(1, 5, 1)
FILMTRUST_RAW_SCALE = RatingScale(0.5, 4, 0.5)


# ---------------------------------------------------------------------- parsing
@njit(cache=True)
def _at(buf, p, sep):  # pragma: no cover - compiled
    """Whether ``buf[p:]`` starts with ``sep``."""
    if p + len(sep) > len(buf):
        return False
    for k in range(len(sep)):
        if buf[p + k] != sep[k]:
            return False
    return True


@njit(cache=True)
def _scan(buf, sep, slots, out):  # pragma: no cover - compiled
    """Parse lines of ``len(slots)`` fields into ``out`` (field f -> column slots[f], -1 = skip).

    Numbers must be plain decimals (``-12``, ``3.5``, ``7.0``, ``1e3``) that convert exactly.
    Returns ``(rows, pos)``: rows parsed and the byte offset of the first line it could not
    parse (``rows == len(out)`` on success).
    """
    n, n_fields = len(buf), len(slots)
    pos, row = 0, 0
    while pos < n and row < out.shape[0]:
        start, p, ok = pos, pos, True
        for f in range(n_fields):
            if slots[f] < 0:
                while p < n and buf[p] != 10 and not _at(buf, p, sep):
                    p += 1
            else:
                neg = p < n and buf[p] == 45
                if p < n and (buf[p] == 45 or buf[p] == 43):
                    p += 1
                mant, digits, exp = 0, 0, 0
                while p < n and 48 <= buf[p] <= 57:
                    mant, digits, p = mant * 10 + (buf[p] - 48), digits + 1, p + 1
                if p < n and buf[p] == 46:
                    p += 1
                    while p < n and 48 <= buf[p] <= 57:
                        mant, digits, exp, p = mant * 10 + (buf[p] - 48), digits + 1, exp - 1, p + 1
                if p < n and (buf[p] == 101 or buf[p] == 69):
                    p += 1
                    esign = -1 if p < n and buf[p] == 45 else 1
                    if p < n and (buf[p] == 45 or buf[p] == 43):
                        p += 1
                    e, edigits = 0, 0
                    while p < n and 48 <= buf[p] <= 57 and edigits < 4:
                        e, edigits, p = e * 10 + (buf[p] - 48), edigits + 1, p + 1
                    exp += esign * e
                    ok = edigits > 0
                if not ok or digits == 0 or digits > 15 or exp < -22 or exp > 22:
                    ok = False
                    break
                v = mant * _POW10[exp] if exp >= 0 else mant / _POW10[-exp]
                out[row, slots[f]] = -v if neg else v
            last = f == n_fields - 1
            if last and p + 1 < n and buf[p] == 13 and buf[p + 1] == 10:
                p += 1
            if last and (p == n or buf[p] == 10):
                p += 1
            elif not last and _at(buf, p, sep):
                p += len(sep)
            else:
                ok = False
                break
        if not ok:
            return row, start
        pos, row = p, row + 1
    return row, pos


def _field_count_message(line: str, sep: str, expected: Sequence[int]) -> str:
    want = " or ".join(str(k) for k in expected)
    if not line.strip():
        return f"empty line (expected {want} fields separated by {sep!r})"
    msg = f"expected {want} fields separated by {sep!r}, found {len(line.split(sep))}"
    for other in _SEPARATORS:
        if other != sep and other in line and len(line.split(other)) in expected:
            return msg + f"; the line looks {other!r}-separated (wrong format or separator?)"
    return msg


def _slow_parse(text: str, sep: str, n_fields: int, cols: Sequence[int], path: Path, first_line: int) -> np.ndarray:
    """Reference parser, line by line: float() of the wanted fields (surrounding blanks allowed)."""
    lines = text.split("\n")
    values: list[float] = []
    wanted = itemgetter(*cols)
    for k, line in enumerate(lines):
        fields = line.rstrip("\r").split(sep)
        if len(fields) != n_fields:
            raise DataError(_field_count_message(line, sep, [n_fields]), path=path, line=first_line + k)
        try:
            values.extend(map(float, wanted(fields)))
        except ValueError:
            c = next(c for c in cols if not _is_number(fields[c]))
            name = {cols[0]: "user id", cols[1]: "item id", cols[2]: "rating"}[c]
            raise DataError(f"{name} {fields[c]!r} (field {c + 1}) is not a number",
                            path=path, line=first_line + k) from None
    return np.array(values, dtype=np.float64).reshape(len(lines), len(cols))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Table:
    """Parsed user, item and rating columns; row k came from line ``first_line + k``."""

    path: Path
    first_line: int
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray

    def error(self, row: int, message: str) -> DataError:
        return DataError(message, path=self.path, line=self.first_line + row)


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, gunzipped when gzip-compressed (told by its magic bytes, not its
    name), without a UTF-8 byte-order mark."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read file: {e.strerror}", path=path) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"a damaged gzip file: {e}", path=path) from None
    return raw.removeprefix(b"\xef\xbb\xbf")


def read_first_line(path: Path) -> str:
    """The first line of ``path`` (gunzipped if need be), without its line end."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as f:
            line = f.readline()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read file: {e}", path=path) from None
    return line.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace").rstrip("\r\n")


def _read_table(path: Path, *, sep: str, n_fields: Sequence[int] | None = None,
                cols: Sequence[int] = (0, 1, 2), skip_header: bool = False) -> _Table:
    """Parse the user, item and rating columns ``cols`` of a ``sep``-separated file.

    Every line must have the same number of fields: one of ``n_fields`` if given, else
    as many as the first data line. Trailing blank lines are ignored, other blank lines
    are errors; an empty file raises "no ratings".
    """
    if min(cols) < 0 or len(set(cols)) != 3:
        raise ValueError(f"user, item and rating columns must be distinct and >= 0, got {tuple(cols)}")
    raw = read_bytes(path)
    first_line = 1
    if skip_header:
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
        first_line = 2
    body = raw.rstrip()
    if not body.strip():
        raise DataError("no ratings", path=path)
    head = body.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    found = len(head.split(sep))
    if n_fields is not None and found not in n_fields:
        raise DataError(_field_count_message(head, sep, n_fields), path=path, line=first_line)
    if max(cols) >= found:
        others = [s for s in (",", "\t", ";", " ", "::") if s != sep and s in head]
        hint = f" (it holds {others[0]!r}: is the file separated by that instead?)" if others else ""
        raise DataError(f"column {max(cols) + 1} requested but the line has {found} fields "
                        f"separated by {sep!r}{hint}", path=path, line=first_line)
    slots = np.full(found, -1, dtype=np.int64)
    slots[list(cols)] = np.arange(3)
    out = np.empty((body.count(b"\n") + 1, 3), dtype=np.float64)
    rows, pos = _scan(np.frombuffer(body, dtype=np.uint8), np.frombuffer(sep.encode(), dtype=np.uint8),
                      slots, out)
    if rows < len(out):  # an unusual line: the reference parser takes over from there
        out[rows:] = _slow_parse(body[pos:].decode("utf-8", "replace"), sep, found, cols, path, first_line + rows)
    return _Table(path, first_line, out[:, 0], out[:, 1], out[:, 2])


# ---------------------------------------------------------------------- validation
def _raise_first(t: _Table, checks: list[tuple[np.ndarray, Callable[[int], str]]]) -> None:
    """Raise for the earliest row any check flags (the earlier check wins on one row)."""
    found = [(int(np.argmax(bad)), n, msg) for n, (bad, msg) in enumerate(checks) if bad.any()]
    if found:
        row, _, msg = min(found, key=lambda f: (f[0], f[1]))
        raise t.error(row, msg(row))


def _infer_scale(r: np.ndarray, low: float | None = None) -> RatingScale:
    """Integers (or halves, if any rating is fractional) spanning the finite ratings."""
    r = r[np.isfinite(r)]
    if not r.size:
        return ML_SCALE
    step = 1.0 if np.all(r == np.round(r)) else 0.5
    lo = float(np.floor(r.min() / step) * step) if low is None else low
    hi = max(float(np.ceil(r.max() / step) * step), lo)
    return RatingScale(lo, hi, step)


def _check(t: _Table, scale: RatingScale, one_based: bool) -> None:
    """Raise for the first line with a bad id or rating."""
    low = 1 if one_based else 0
    checks: list[tuple[np.ndarray, Callable[[int], str]]] = []
    for ids, what in ((t.users, "user"), (t.items, "item")):
        checks.append((~np.isfinite(ids) | (ids != np.round(ids)),
                       lambda k, ids=ids, what=what: f"{what} id {ids[k]:g} is not an integer"))
        checks.append((ids < low, lambda k, ids=ids, what=what: (
            f"{what} id {ids[k]:g} is out of range: ids in this format start at {low}")))
    r = t.ratings
    checks.append((~np.isfinite(r), lambda k: f"rating {r[k]} is not a finite number"))
    with np.errstate(invalid="ignore"):
        off_scale = ~scale.contains(r)
    checks.append((off_scale, lambda k: (
        f"rating {r[k]:g} is off the scale {scale.low:g}..{scale.high:g} step {scale.step:g}")))
    _raise_first(t, checks)


def _duplicates(t: _Table) -> tuple[np.ndarray, np.ndarray]:
    """``(later, earlier)`` row indices of repeated (user, item) pairs, in file order."""
    users, items = t.users.astype(np.int64), t.items.astype(np.int64)
    order = np.lexsort((items, users))  # stable: file order within a pair
    same = (np.diff(users[order]) == 0) & (np.diff(items[order]) == 0)
    later, earlier = order[1:][same], order[:-1][same]
    by_line = np.argsort(later, kind="stable")
    return later[by_line], earlier[by_line]


def _duplicate_error(t: _Table, later: np.ndarray, earlier: np.ndarray) -> DataError:
    k = int(later[0])
    return t.error(k, f"duplicate rating for user {t.users[k]:g}, item {t.items[k]:g} "
                      f"(also on line {t.first_line + earlier[0]})")


#: Ids kept as they are (not compacted) may exceed their number by this much before the gaps
#: are taken for a mistake (each id below the largest becomes a row of the model).
MAX_ID_SLACK = 1_000_000


def _dense(t: _Table, ids: np.ndarray, one_based: bool, compact: bool) -> tuple[np.ndarray, int, np.ndarray | None]:
    """0-based ids, their count, and the original id of each dense id (when compacting);
    DataError when ids kept as they are would make an absurd number of rows."""
    ids = ids.astype(np.int64)
    if compact:
        original, dense = np.unique(ids, return_inverse=True)
        return dense.reshape(-1), len(original), original
    dense = ids - 1 if one_based else ids
    distinct = len(np.unique(dense))
    if int(dense.max()) + 1 > distinct + MAX_ID_SLACK:
        raise t.error(int(np.argmax(dense)), f"id {int(ids.max())} would make {int(dense.max()) + 1:,} rows for "
                                             f"{distinct:,} distinct ids; this format keeps ids as they are")
    return dense, int(dense.max()) + 1, None


def _ratings(t: _Table, name: str, *, scale: RatingScale, one_based: bool, compact: bool, fmt: str,
             keep_last_duplicate: bool = False) -> RatingData:
    """Validate a parsed table and build its `RatingData` (dense 0-based ids)."""
    _check(t, scale, one_based)
    later, earlier = _duplicates(t)
    meta: dict[str, object] = {"data_source": "real", "format": fmt, "files": [str(t.path)]}
    users, items, ratings = t.users, t.items, t.ratings
    if keep_last_duplicate:
        keep = np.ones(len(users), dtype=bool)
        keep[earlier] = False
        users, items, ratings = users[keep], items[keep], ratings[keep]
        meta["duplicates_dropped"] = len(later)
    elif len(later):
        raise _duplicate_error(t, later, earlier)
    u, n_users, user_ids = _dense(t, users, one_based, compact)
    i, n_items, item_ids = _dense(t, items, one_based, compact)
    if compact:
        meta.update(user_ids=user_ids, item_ids=item_ids)
    if one_based:
        meta["id_base"] = 1
    return RatingData.from_coo(u, i, ratings, n_users, n_items, scale, name=name, meta=meta)


# ---------------------------------------------------------------------- public readers
def read_ml100k(path: PathLike) -> RatingData:
    """MovieLens-100K ``u.data``: ``user<TAB>item<TAB>rating<TAB>timestamp``, 1-based ids, 1..5.

    Ids become 0-based by subtracting 1 (so n_users is the largest user id).
    """
    t = _read_table(Path(path), sep="\t", n_fields=(4,))
    return _ratings(t, "ml-100k", scale=ML_SCALE, one_based=True, compact=False, fmt="ml-100k")


def read_ml1m(path: PathLike) -> RatingData:
    """MovieLens-1M ``ratings.dat``: ``user::item::rating::timestamp``, 1-based ids, 1..5.

    Users and items are renumbered densely in ascending original-id order; the original
    ids are ``meta["user_ids"]`` and ``meta["item_ids"]``.
    """
    t = _read_table(Path(path), sep="::", n_fields=(4,))
    return _ratings(t, "ml-1m", scale=ML_SCALE, one_based=True, compact=True, fmt="ml-1m")


def read_filmtrust(path: PathLike) -> RatingData:
    """Raw FilmTrust ``ratings.txt``: ``user item rating``, 1-based ids, 0.5..4 by 0.5.

    Ids are compacted as in `read_ml1m`. The public file repeats a few (user, item)
    pairs; the last occurrence wins and ``meta["duplicates_dropped"]`` counts the others.
    """
    t = _read_table(Path(path), sep=" ", n_fields=(3,))
    return _ratings(t, "filmtrust", scale=FILMTRUST_RAW_SCALE, one_based=True, compact=True, fmt="filmtrust",
                    keep_last_duplicate=True)


def read_delimited(path: PathLike, *, sep: str = ",", user_col: int = 0, item_col: int = 1,
                   rating_col: int = 2, skip_header: bool = False, one_based: bool = False,
                   scale: RatingScale | None = None, compact_ids: bool = True) -> RatingData:
    """A delimited text file with one rating per line (columns 0-based; no quoting).

    ``scale`` defaults to the integers (or halves) spanning the ratings found. Ids are
    renumbered densely in ascending order (``compact_ids``; the original ids are
    ``meta["user_ids"]`` / ``meta["item_ids"]`` and every output uses them); with
    ``compact_ids=False`` they are used as they are (minus 1 if ``one_based``).
    """
    t = _read_table(Path(path), sep=sep, cols=(user_col, item_col, rating_col), skip_header=skip_header)
    name = t.path.name.removesuffix(".gz")
    return _ratings(t, Path(name).stem, scale=scale or _infer_scale(t.ratings), one_based=one_based,
                    compact=compact_ids, fmt="delimited")


def _read_negatives(path: Path, test_users: np.ndarray, test_items: np.ndarray, n_items: int) -> np.ndarray:
    """``NAME.test.negative``: line k is ``(user,item)`` of test rating k, then item ids."""
    lines = read_bytes(path).decode("utf-8", "replace").rstrip().split("\n")
    if len(lines) != len(test_users):
        raise DataError(f"{len(lines)} lines for {len(test_users)} test ratings", path=path)
    rows: list[list[int]] = []
    for k, line in enumerate(lines):
        fields = line.rstrip("\r").split("\t")
        head = _NEGATIVE_HEAD.fullmatch(fields[0])
        if head is None:
            raise DataError(f"expected '(user,item)<TAB>item<TAB>...', found {line[:40]!r}", path=path, line=k + 1)
        if (int(head[1]), int(head[2])) != (test_users[k], test_items[k]):
            raise DataError(f"{fields[0]} does not match test rating {k + 1} "
                            f"({test_users[k]},{test_items[k]})", path=path, line=k + 1)
        if rows and len(fields) - 1 != len(rows[0]):
            raise DataError(f"{len(fields) - 1} negatives, line 1 has {len(rows[0])}", path=path, line=k + 1)
        try:
            rows.append([int(j) for j in fields[1:]])
        except ValueError:
            raise DataError("negative item ids must be integers", path=path, line=k + 1) from None
        if rows[-1] and not 0 <= min(rows[-1]) <= max(rows[-1]) < n_items:
            raise DataError(f"negative item ids must lie in 0..{n_items - 1}", path=path, line=k + 1)
    return np.array(rows, dtype=np.int32)


def with_gz(path: Path) -> Path:
    """``path``, or its gzip'd sibling ``path.gz`` when only that exists."""
    packed = path.with_name(path.name + ".gz")
    return packed if not path.exists() and packed.is_file() else path


def split_of_files(train_file: Path, test_file: Path, *, sep: str, name: str, fmt: str,
                   scale: RatingScale | None = None, lowest: float | None = 1.0, one_test_per_user: bool = True,
                   negative_file: Path | None = None) -> Split:
    """A split given as a train file and a test file of ``user<sep>item<sep>rating``
    [``<sep>timestamp``] lines with 0-based ids kept as they are (the grid spans max id + 1
    over both files). ``scale`` defaults to the grid (integers, or halves if any rating is
    fractional) from ``lowest`` (None: the lowest rating found) to the highest rating. Test
    ratings must not be in train; with ``one_test_per_user`` a user has at most one."""
    files = [train_file, test_file]
    for f in files:
        if not f.is_file():
            raise DataError(f"missing file of the {fmt} layout", path=f)
    train, test = (_read_table(f, sep=sep, n_fields=(3, 4)) for f in files)
    if scale is None:
        scale = _infer_scale(np.concatenate([train.ratings, test.ratings]), low=lowest)
    for t in (train, test):
        _check(t, scale, one_based=False)
    for t in (train, test):
        later, earlier = _duplicates(t)
        if len(later):
            raise _duplicate_error(t, later, earlier)
    order = np.lexsort((test.items, test.users))
    if one_test_per_user:
        again = order[1:][np.diff(test.users[order]) == 0]
        if len(again):
            k = int(again.min())
            raise test.error(k, f"user {test.users[k]:g} has a second test rating")
    n_users = int(max(train.users.max(), test.users.max())) + 1
    n_items = int(max(train.items.max(), test.items.max())) + 1
    train_keys = np.sort(train.users.astype(np.int64) * n_items + train.items.astype(np.int64))
    test_keys = test.users.astype(np.int64) * n_items + test.items.astype(np.int64)
    in_train = train_keys[np.searchsorted(train_keys, test_keys) % len(train_keys)] == test_keys
    if in_train.any():
        raise test.error(int(np.argmax(in_train)), "the test rating also appears in the train file")
    negatives = None
    if negative_file is not None and negative_file.is_file():
        negatives = _read_negatives(negative_file, test.users, test.items, n_items)[order]
        files.append(negative_file)
    meta = {"data_source": "real", "format": fmt, "files": [str(f) for f in files]}
    data = RatingData.from_coo(train.users.astype(np.int64), train.items.astype(np.int64), train.ratings,
                               n_users, n_items, scale, name=name, meta=meta)
    return Split(data, test.users[order], test.items[order], test.ratings[order], negatives)


def read_ncf(folder: PathLike, name: str, scale: RatingScale | None = None) -> Split:
    """The NCF layout: ``NAME.train.rating``, ``NAME.test.rating`` (``user<TAB>item<TAB>rating``
    [``<TAB>timestamp``], 0-based) and optional ``NAME.test.negative``, each possibly gzip'd
    (``.gz``).

    Returns the files' own split (`split_of_files`): one test rating per user at most."""
    folder = Path(folder)
    train, test, negative = (with_gz(folder / f"{name}.{suffix}")
                             for suffix in ("train.rating", "test.rating", "test.negative"))
    return split_of_files(train, test, sep="\t", name=name, fmt="ncf", scale=scale, negative_file=negative)


def _format_ratings(u: np.ndarray, i: np.ndarray, r: np.ndarray) -> str:
    return "".join(f"{a}\t{b}\t{c:g}\n" for a, b, c in zip(u.tolist(), i.tolist(), r.tolist()))


def write_ncf(split: Split, folder: PathLike, name: str, n_negatives: int = 99, seed: int = 0) -> list[Path]:
    """Write ``split`` in the NCF layout (readable by `read_ncf`); returns the three paths.

    Validation ratings go back into train. The split's own negatives are written when it
    has them; otherwise ``n_negatives`` distinct unrated items per test user are sampled.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    negatives = split.negatives
    if negatives is None:
        negatives = sample_negatives(split.full(), split.test_users, n_negatives, seed)
    u, i, r = split.train.coo()
    if split.valid is not None:
        u, i, r = (np.concatenate(p) for p in zip((u, i, r), split.valid))
        order = np.lexsort((i, u))
        u, i, r = u[order], i[order], r[order]
    paths = [folder / f"{name}.{suffix}" for suffix in ("train.rating", "test.rating", "test.negative")]
    paths[0].write_text(_format_ratings(u, i, r), encoding="utf-8")
    paths[1].write_text(_format_ratings(split.test_users, split.test_items, split.test_ratings), encoding="utf-8")
    paths[2].write_text("".join(f"({a},{b})\t" + "\t".join(map(str, row)) + "\n" for a, b, row in zip(
        split.test_users.tolist(), split.test_items.tolist(), negatives.tolist())), encoding="utf-8")
    return paths


# ---------------------------------------------------------------------- detection
def has_header(path: PathLike, sep: str) -> bool:
    """Whether the first line of ``path`` is a header: one of its first three
    ``sep``-separated fields is not a number."""
    fields = read_first_line(Path(path)).split(sep)
    return not all(_is_number(x) for x in fields[:3])
