"""What fastpoison knows about one dataset, as one frozen `DatasetRecord`.

A record gathers the dataset's raw files and their readers, its rating scale, where to
download it (or why it cannot be), the shape of its synthetic twin, and the settings the
papers used on it. `registry` holds the records of the built-in datasets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from .ratings import RatingData
from .scale import RatingScale


def strip_root(member: str, root: str) -> str:
    """Archive member path ``member`` without the archive's top folder ``root`` (if any)."""
    prefix = root + "/" if root else ""
    return member[len(prefix):] if prefix and member.startswith(prefix) else member


@dataclass(frozen=True)
class Archive:
    """One downloadable archive.

    ``members`` are paths inside the archive that a loader needs; ``root`` is the archive's
    top folder, stripped on extraction (``""`` when there is none). ``sha256``/``size`` are
    ``None`` when no published value is known.
    """

    url: str
    sha256: str | None
    size: int | None
    members: tuple[str, ...]
    root: str
    description: str
    citation: str

    def outputs(self) -> tuple[str, ...]:
        """The needed members as paths relative to ``<cache_dir>/<name>/``."""
        return tuple(strip_root(m, self.root) for m in self.members)


@dataclass(frozen=True)
class RawFile:
    """A raw ratings file, relative to ``ROOT/NAME/``, and the reader that parses it."""

    path: str
    reader: Callable[[Path], RatingData]


@dataclass(frozen=True)
class TwinShape:
    """How a synthetic twin looks: user, item and rating counts, minimum ratings per user,
    spread (lognormal sigma) of user activity and of item popularity, the rating histogram
    over the record's scale (one weight per grid value), and the share of item ids that no
    one rates (ids with gaps; 0: every item is rated).

    The other fields calibrate a twin to its real dataset; their defaults are the generator
    every uncalibrated twin uses. ``activity_head_sigma`` / ``popularity_head_sigma``: the
    sigma above the median of the lognormal weights (``None``: the same as below it; less
    than below it gives a log-skewed law with a long low tail and a compact head).
    ``popularity_cap``: the quantile at which item popularity weights are capped.
    ``popularity_effect``: how much (in item-bias standard deviations) an item's log
    popularity raises its scores. ``interaction`` / ``noise``: the weights of the low-rank
    term (of rank ``rank``) and of the per-rating noise in the scores. ``liked_test``: the
    held-out rating is a liked one whenever the user has one (``False``: any rating, as the
    NCF splits).
    """

    n_users: int
    n_items: int
    n_ratings: int
    min_per_user: int
    activity_sigma: float
    popularity_sigma: float
    histogram: tuple[float, ...]
    unrated_share: float = 0.0
    activity_head_sigma: float | None = None
    popularity_head_sigma: float | None = None
    popularity_cap: float = 0.995
    popularity_effect: float = 0.4
    interaction: float = 0.8
    noise: float = 0.6
    rank: int = 8
    liked_test: bool = True


#: The HR@K cut-off of the papers unless a dataset's `PaperSettings` says otherwise.
DEFAULT_HR_K = 50


def _frozen_mapping(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class PaperSettings:
    """The settings the papers used on a dataset.

    ``hr_k``: the HR@K cut-off; ``neighbours``: RVD's neighbourhood size k per model name;
    ``tcd``: TCD's (pre-training epochs, pseudo-label ratio), ``None`` where the TCD paper
    did not use the dataset; ``large``: the dataset counts as large whatever its size (TCD
    then caps its pseudo-labels); ``model_overrides``: model settings per model name.
    The mappings are stored read-only.
    """

    hr_k: int = DEFAULT_HR_K
    neighbours: Mapping[str, int] = field(default_factory=dict, hash=False)
    tcd: tuple[int, float] | None = None
    large: bool = False
    model_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "neighbours", _frozen_mapping(self.neighbours))
        object.__setattr__(self, "model_overrides", MappingProxyType(
            {model: _frozen_mapping(settings) for model, settings in self.model_overrides.items()}))


@dataclass(frozen=True)
class DatasetRecord:
    """Everything fastpoison knows about the dataset ``name``.

    ``scale`` is the rating grid of the dataset as the papers use it (its NCF-layout copy
    and its twin); a raw file's reader may use the grid of the raw format instead.
    ``raw_files`` are tried in order after the NCF layout. ``archive`` tells `fetch` where
    to download the dataset; ``fetch_message`` explains why it cannot be downloaded
    (at most one of the two). ``twin`` is ``None`` when the dataset has no synthetic twin.
    ``threshold`` is the "liked" rating when `split.default_threshold` is not right for
    the dataset; it applies to every copy, so leave it ``None`` when raw files use
    another scale. ``synthetic_only``: a data shape that exists only as its twin (no real
    copy to look for).
    """

    name: str
    scale: RatingScale
    raw_files: tuple[RawFile, ...] = ()
    archive: Archive | None = None
    fetch_message: str | None = None
    twin: TwinShape | None = None
    papers: PaperSettings = field(default_factory=PaperSettings)
    threshold: float | None = None
    synthetic_only: bool = False

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip() or ":" in self.name or "/" in self.name:
            raise ValueError(f"a dataset name must be a non-empty folder name without ':' or '/', got {self.name!r}")
        if self.archive is not None and self.fetch_message is not None:
            raise ValueError(f"dataset {self.name!r} has both an archive and a fetch message")
        if self.synthetic_only and self.twin is None:
            raise ValueError(f"dataset {self.name!r} is synthetic only but has no twin")
        if self.twin is not None and not 0 <= self.twin.unrated_share < 1:
            raise ValueError(f"the twin of {self.name!r} needs unrated_share in [0, 1)")
        if self.twin is not None and len(self.twin.histogram) != len(self.scale.grid):
            raise ValueError(f"the twin of {self.name!r} needs one histogram weight per rating of its scale")
        if self.twin is not None and not (0 < self.twin.popularity_cap <= 1 and self.twin.rank >= 1):
            raise ValueError(f"the twin of {self.name!r} needs popularity_cap in (0, 1] and rank >= 1")
