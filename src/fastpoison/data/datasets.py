"""Dataset resolution by name: real files when found, else the synthetic twin."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .detect import detect_and_read
from .loaders import PathLike, read_ncf
from .paths import ENV_VAR, data_roots
from .records import DatasetRecord
from .registry import DATASETS, SYNTHETIC_PREFIX, rating_threshold, twin_names
from .split import Split, leave_one_out
from .synthetic import synthetic_twin
from .verified import damaged


class SyntheticFallbackWarning(UserWarning):
    """A known dataset was not found locally, so its synthetic twin is used instead."""


@dataclass
class Dataset:
    """A resolved dataset: its split, where it came from (``"real"`` or ``"synthetic"``),
    the files read, and a one-line notice when a synthetic twin stands in for real data."""

    name: str
    split: Split
    data_source: str
    files: list[str] = field(default_factory=list)
    notice: str | None = None


def _expected_files(record: DatasetRecord) -> str:
    name = record.name
    return " or ".join([f"{name}.train.rating + {name}.test.rating"] + [raw.path for raw in record.raw_files])


def _find_real(record: DatasetRecord, roots: list[Path], seed: int) -> Split | None:
    """The first real copy of ``record``'s dataset under ``roots``: the NCF split as is,
    else a raw file split by a seeded leave-one-out at `registry.rating_threshold`."""
    name = record.name
    for root in roots:
        folder = root / name
        changed = damaged(folder)
        if changed:
            raise DataError(f"{', '.join(changed)} changed since fetch installed them (truncated or edited); run "
                            f"`fastpoison data fetch {name} --force`", path=folder)
        if (folder / f"{name}.train.rating").is_file():
            return read_ncf(folder, name)
        for raw in record.raw_files:
            if (folder / raw.path).is_file():
                data = raw.reader(folder / raw.path)
                return leave_one_out(data, seed=seed, threshold=rating_threshold(name, data.scale))
    return None


def load_dataset(name: str, data_dir: PathLike | None = None, *,
                 require_real: bool = False, seed: int = 0) -> Dataset:
    """Resolve ``name``: a registered dataset (`registry.DATASETS`), ``synthetic:NAME``
    for one with a twin, or a path to a ratings file/folder.

    A registered name is looked up as ``ROOT/NAME/`` under each of `paths.data_roots`
    (a ``synthetic_only`` shape is its twin, without a notice). When no copy is found, raises `DataError` if ``require_real`` or the dataset has no
    twin; otherwise returns the synthetic twin (seeded by ``seed``) with a ``notice`` and
    a `SyntheticFallbackWarning`.
    """
    twins = twin_names()
    if name.startswith(SYNTHETIC_PREFIX):
        twin = name[len(SYNTHETIC_PREFIX):]
        if twin not in twins:
            raise DataError(f"unknown synthetic twin {twin!r}; choose one of "
                            f"{', '.join(SYNTHETIC_PREFIX + k for k in twins)}")
        return Dataset(twin, synthetic_twin(twin, seed), "synthetic")
    record = DATASETS.get(name)
    if record is not None and record.synthetic_only:
        if require_real:
            raise DataError(record.fetch_message or f"{name} exists only as a synthetic shape")
        return Dataset(name, synthetic_twin(name, seed), "synthetic")
    if record is not None:
        roots = data_roots(data_dir)
        split = _find_real(record, roots, seed)
        if split is not None:
            return Dataset(name, split, "real", list(split.train.meta["files"]))
        looked = ", ".join(str(root / name) for root in roots)
        if require_real or record.twin is None:
            raise DataError(f"no real copy of {name} found (looked in {looked}); put {_expected_files(record)} "
                            f"in DIR/{name}/ and pass --data-dir DIR or set {ENV_VAR}=DIR")
        get = f"`fastpoison data fetch {name}` downloads it, or " if record.archive is not None else ""
        notice = (f"{name}: no real data found in {looked}; using the synthetic twin (seed {seed}); "
                  f"{get}pass --data-dir or set {ENV_VAR} to use real data")
        warnings.warn(notice, SyntheticFallbackWarning, stacklevel=2)
        return Dataset(name, synthetic_twin(name, seed), "synthetic", notice=notice)
    path = Path(name)
    if path.exists():
        split = detect_and_read(path, seed=seed)
        return Dataset(split.train.name, split, "real", list(split.train.meta["files"]))
    raise DataError(f"unknown dataset {name!r}: use one of {', '.join(DATASETS)}, "
                    f"{SYNTHETIC_PREFIX}NAME, or a path to a ratings file or folder")


def check_dataset_name(name: str) -> None:
    """DataError unless ``name`` is something `load_dataset` can resolve: a registered dataset,
    ``synthetic:NAME`` of a twin, or an existing path (its contents are read later)."""
    if not isinstance(name, str) or not name.strip():
        raise DataError(f"a dataset is a name or a path, got {name!r}")
    twin = name[len(SYNTHETIC_PREFIX):] if name.startswith(SYNTHETIC_PREFIX) else None
    if (name in DATASETS or twin in twin_names()) or Path(name).exists():
        return
    raise DataError(f"unknown dataset {name!r}: use one of {', '.join(DATASETS)}, {SYNTHETIC_PREFIX}NAME, or a path "
                    f"to a ratings file or folder")


def dataset_info(ds: Dataset) -> dict[str, Any]:
    """The ``data info`` figures over train + validation + test, plus files and popularity
    tail, then the degenerate shapes: users and items of the id space without a training
    rating, test ratings (and their distinct items) whose item has none, and, for ratings
    read from files, the ids present and the gaps in their numbering (else None)."""
    split = ds.split
    full = split.full()
    stats = full.stats()
    info: dict[str, Any] = {"name": ds.name, "data_source": ds.data_source}
    for key in ("n_users", "n_items", "n_ratings", "density", "grid", "min_rating", "max_rating",
                "mean_ratings_per_user"):
        info[key] = stats[key]
    info["files"] = list(ds.files)
    for key in ("top10pct_items_share", "items_with_lt5_ratings", "max_item_ratings"):
        info[key] = stats[key]
    train = split.train.stats()
    cold = split.cold_test()
    info.update(users_without_train_ratings=train["users_without_ratings"],
                items_without_train_ratings=train["items_without_ratings"],
                cold_test_items=int(np.unique(split.test_items[cold]).size), cold_test_ratings=int(cold.sum()))
    numbering = full.id_numbering()
    for key in ("user_ids_present", "user_id_gaps", "item_ids_present", "item_id_gaps"):
        info[key] = None if numbering is None else numbering[key]
    return info
