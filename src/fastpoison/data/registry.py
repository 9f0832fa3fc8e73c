"""The dataset registry: one `DatasetRecord` per dataset name, and the look-ups by name.

Adding a dataset is one `register_dataset` call (plus a reader when its file format is
new); loading, fetching, the synthetic twin and the papers' settings all read the record.
A ``synthetic:NAME`` twin counts as its original NAME in every look-up here; names without
a record (unknown names, paths) get the defaults stated on each function.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from .loaders import ML_SCALE, read_filmtrust, read_ml100k, read_ml1m
from .ratings import RatingData
from .records import DEFAULT_HR_K, Archive, DatasetRecord, PaperSettings, RawFile, TwinShape
from .scale import RatingScale
from .split import default_threshold

SYNTHETIC_PREFIX = "synthetic:"
#: RVD's k for a model that cannot choose one (it kept no validation ratings, e.g. it was
#: loaded from a file) on a (dataset, model) pair the RVD paper's Table 2 lacks.
DEFAULT_NEIGHBOURS = 12

#: The registered datasets by name, in registration order; add to it with `register_dataset`.
DATASETS: dict[str, DatasetRecord] = {}


def register_dataset(record: DatasetRecord) -> DatasetRecord:
    """Add ``record`` to `DATASETS` and return it; raises `ValueError` if its name is taken."""
    if record.name in DATASETS:
        raise ValueError(f"a dataset named {record.name!r} is already registered")
    DATASETS[record.name] = record
    return record


def dataset_record(name: str | None) -> DatasetRecord | None:
    """The record of ``name`` (``synthetic:NAME`` gives NAME's), or ``None`` for names
    without one: ``None``, unknown names and paths."""
    if name is None:
        return None
    return DATASETS.get(name.removeprefix(SYNTHETIC_PREFIX))


def twin_names() -> list[str]:
    """The registered datasets that have a synthetic twin, in registration order."""
    return [name for name, record in DATASETS.items() if record.twin is not None]


def raw_readers() -> dict[str, Callable[[Path], RatingData]]:
    """Raw file name (without folders) -> its reader, over all registered raw files in
    registration order; the first dataset to use a file name owns it."""
    readers: dict[str, Callable[[Path], RatingData]] = {}
    for record in DATASETS.values():
        for raw in record.raw_files:
            readers.setdefault(Path(raw.path).name, raw.reader)
    return readers


def rating_threshold(dataset: str | None, scale: RatingScale) -> float:
    """The "liked" rating of ``dataset`` on ``scale``: the record's ``threshold`` when it
    sets one, else `default_threshold` (4 on 1..5, 6 on 1..8)."""
    record = dataset_record(dataset)
    if record is not None and record.threshold is not None:
        return record.threshold
    return default_threshold(scale)


def paper_hr_k(dataset: str | None) -> int:
    """The papers' HR@K cut-off for ``dataset`` (500 on Yelp); `DEFAULT_HR_K` (50) otherwise."""
    record = dataset_record(dataset)
    return DEFAULT_HR_K if record is None else record.papers.hr_k


def paper_neighbours(dataset: str | None, model: str) -> int | None:
    """RVD's k for ``dataset`` and the model named ``model`` (the RVD paper's Table 2); None
    for pairs the table lacks (RVD then chooses k, `defenses.neighbour_count`)."""
    record = dataset_record(dataset)
    return None if record is None else record.papers.neighbours.get(model)


def paper_tcd(dataset: str | None) -> tuple[int, float] | None:
    """TCD's (pre-training epochs, pseudo-label ratio) on ``dataset`` (the TCD paper §6.1.5),
    or ``None`` where the paper did not use it."""
    record = dataset_record(dataset)
    return None if record is None else record.papers.tcd


#: Datasets the TCD paper did not use follow its rule: all pseudo-labels up to `SMALL_PAIRS`
#: user-item pairs, else 20 %, with 2 pre-training epochs; large ones (more pairs, or a
#: dataset registered as large, e.g. Yelp) cap the labels at `LARGE_SET_BUDGET` per rating.
SMALL_PAIRS = 5_000_000
#: Pseudo-labels per training rating on large datasets the paper did not use (e.g. Yelp):
#: about what its 20 % gave on ML-1M (4.1 per rating). Yelp at 20 % would be 136 per rating
#: (325x a plain training); with this cap TCD costs about 12x there. On ML-100K a budget of
#: 4 cut the target HR@50 of Average, Random, AUSH, PGA and TNA by 85-99 % (the paper's
#: 16 per rating: 100 %; a budget of 8: 99.8-99.9 %).
LARGE_SET_BUDGET = 4.0


def tcd_settings(dataset: str | None, n_pairs: int | None = None) -> dict[str, Any]:
    """TCD's ``pretrain_epochs``, ``pseudo_ratio``, ``pseudo_budget`` and ``labels`` on
    ``dataset`` of ``n_pairs`` user-item pairs: the paper's (`paper_tcd`) where it has them,
    else its rule for the size (see `SMALL_PAIRS`, `LARGE_SET_BUDGET`) with labels chosen by
    validation accuracy (``"auto"``, ours: on data shapes the paper did not use, its
    agreement labels can raise the targets) and the ``canary`` check on (ours, `TCD`)."""
    settings = paper_tcd(dataset)
    if settings is not None:
        return {"pretrain_epochs": settings[0], "pseudo_ratio": settings[1], "pseudo_budget": None, "labels": "agree",
                "canary": False}
    if not is_large(dataset) and (n_pairs is None or n_pairs <= SMALL_PAIRS):
        return {"pretrain_epochs": 2, "pseudo_ratio": 1.0, "pseudo_budget": None, "labels": "auto", "canary": True}
    return {"pretrain_epochs": 2, "pseudo_ratio": 0.2, "pseudo_budget": LARGE_SET_BUDGET, "labels": "auto",
            "canary": True}


def is_large(dataset: str | None) -> bool:
    """Whether ``dataset`` counts as large whatever its size (Yelp); ``False`` without a record."""
    record = dataset_record(dataset)
    return record is not None and record.papers.large


def model_overrides(dataset: str | None, model: str) -> dict[str, Any]:
    """A fresh dict of the papers' settings for the model named ``model`` on ``dataset``
    (e.g. ``{"batch_size": 4096}`` for MF and NSVD on FilmTrust); empty when there are none."""
    record = dataset_record(dataset)
    return {} if record is None else dict(record.papers.model_overrides.get(model, {}))


# ---------------------------------------------------------------------- built-in datasets
#: The MovieLens look of a twin: >= 20 ratings per user and the MovieLens rating histogram.
_MOVIELENS_TWIN: Mapping[str, Any] = {"min_per_user": 20, "activity_sigma": 0.95, "popularity_sigma": 1.8,
                                      "histogram": (0.06, 0.11, 0.27, 0.34, 0.22)}


def _movielens(name: str, raw_files: tuple[RawFile, ...], sha256: str, size: int, description: str,
               counts: tuple[int, int, int], papers: PaperSettings,
               twin_fit: Mapping[str, Any] | None = None) -> DatasetRecord:
    """A GroupLens MovieLens dataset rated 1..5: ``NAME.zip`` has the top folder ``NAME/``
    holding the first raw file; the twin has ``counts`` (users, items, ratings) and the
    MovieLens look (`_MOVIELENS_TWIN`), with the `TwinShape` fields in ``twin_fit`` instead
    where given (a twin calibrated to the real dataset)."""
    return DatasetRecord(
        name=name,
        scale=ML_SCALE,
        raw_files=raw_files,
        archive=Archive(
            url=f"https://files.grouplens.org/datasets/movielens/{name}.zip",
            sha256=sha256,
            size=size,
            members=(f"{name}/{Path(raw_files[0].path).name}",),
            root=name,
            description=description,
            citation=(
                "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and "
                "Context. ACM TiiS 5(4):19. doi:10.1145/2827872"
            ),
        ),
        twin=TwinShape(*counts, **{**_MOVIELENS_TWIN, **(twin_fit or {})}),
        papers=papers,
    )


# SHA-256s and sizes as published in TensorFlow Datasets' checksums
# (tensorflow_datasets/url_checksums/movielens.txt); OmniRec pins the same SHA-256 for ML-100K.
register_dataset(_movielens(
    "ml-100k", (RawFile("u.data", read_ml100k),),
    "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229", 4_924_029,
    "MovieLens 100K: 100,000 ratings (1-5) by 943 users on 1,682 movies.", (943, 1682, 100000),
    PaperSettings(neighbours={"mf": 12, "nsvd": 25, "autorec": 12, "cdae": 12}, tcd=(4, 1.0)),
))
#: The calibrated twins' generator, fitted to real ML-1M (its NCF split). The shape follows
#: the real data's statistics: ratings per user (10/25/50/75/90 % quantiles 26, 43, 95, 207,
#: 399) and per item (7, 33, 122, 349, 726; 7.9 % of items with 1-4 ratings, the top tenth of
#: items holds 44 % of the ratings) are lognormals skewed to a long low tail and a compact head;
#: the held-out rating is any rating, as in the NCF split, so held-out items are as popular as
#: the real ones (median 586 ratings). The score weights (popularity effect, taste, noise) were
#: then chosen by a small search so that MF's clean test HR@50 and the target HR@50 of Average
#: and PGA on unpopular and random targets come out as on real ML-1M (all but PGA on random
#: targets within 25 % over 3 seeds; docs/papers.md, "Calibrated twins").
CALIBRATED_TWIN: Mapping[str, Any] = {
    "activity_sigma": 1.9, "activity_head_sigma": 1.05, "popularity_sigma": 2.8, "popularity_head_sigma": 1.3,
    "popularity_effect": 1.1, "interaction": 0.25, "noise": 0.95, "liked_test": False,
}
#: ML-1M's twin: the calibrated generator and real ML-1M's rating histogram.
ML1M_TWIN_FIT: Mapping[str, Any] = {"histogram": (0.056, 0.108, 0.261, 0.349, 0.226), **CALIBRATED_TWIN}
register_dataset(_movielens(
    "ml-1m", (RawFile("ratings.dat", read_ml1m), RawFile("ml-1m/ratings.dat", read_ml1m)),
    "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20", 5_917_549,
    "MovieLens 1M: 1,000,209 ratings (1-5) by 6,040 users on 3,706 movies.", (6040, 3706, 1000209),
    PaperSettings(neighbours={"mf": 12, "nsvd": 70, "autorec": 12, "cdae": 12}, tcd=(2, 0.2)),
    twin_fit=ML1M_TWIN_FIT,
))

register_dataset(DatasetRecord(
    name="filmtrust",
    # the NCF FilmTrust version: the raw 0.5..4 ratings doubled (the raw reader keeps 0.5..4)
    scale=RatingScale(1, 8, 1),
    raw_files=(RawFile("ratings.txt", read_filmtrust),),
    # SHA-256 as published in OmniRec's FilmTrust loader
    # (ISG-Siegen/OmniRec, src/omnirec/data_loaders/filmtrust.py); size not published.
    archive=Archive(
        url="https://guoguibing.github.io/librec/datasets/filmtrust.zip",
        sha256="de4a55cb4ae26f663d88e9ad1ba1fae2d0d6d7a7499e37dc5245bab470c2d13c",
        size=None,
        members=("ratings.txt",),
        root="",
        description="FilmTrust (LibRec copy): 35,497 ratings (0.5-4) by 1,508 users, 2,071 films.",
        citation=(
            "G. Guo, J. Zhang and N. Yorke-Smith. 2013. A Novel Bayesian Similarity Measure "
            "for Recommender Systems. IJCAI 2013"
        ),
    ),
    # the NCF version keeps users with >= 15 ratings; a few items hold most ratings
    twin=TwinShape(796, 2011, 30880, min_per_user=15, activity_sigma=0.9, popularity_sigma=3.4,
                   histogram=(0.031, 0.033, 0.046, 0.091, 0.127, 0.223, 0.2, 0.249)),
    papers=PaperSettings(
        neighbours={"mf": 650, "nsvd": 7, "autorec": 12, "cdae": 12},
        tcd=(1, 1.0),
        # the TCD authors' code
        model_overrides={"mf": {"batch_size": 4096}, "nsvd": {"batch_size": 4096}},
    ),
))

register_dataset(DatasetRecord(
    name="yelp",
    scale=RatingScale(1, 5, 1),
    fetch_message=(
        "the Yelp dataset has no public download: obtain it from Yelp under Yelp's licence "
        "(https://www.yelp.com/dataset) and point fastpoison at it with --data-dir"
    ),
    # built as ML-1M's calibrated twin: the RVD paper's counts (Table 1; 38 ratings per user,
    # the TCD paper's Yelp filler size) with the generator fitted on ML-1M; assumed, as no real
    # copy is at hand: >= 15 ratings per user and the rating histogram of Yelp's stars. It does
    # not reproduce the paper's Yelp effect sizes (docs/papers.md, "Calibrated twins")
    twin=TwinShape(14575, 25602, 555374, min_per_user=15, histogram=(0.1, 0.09, 0.14, 0.29, 0.38),
                   **CALIBRATED_TWIN),
    # the RVD paper ranks the top 500 on Yelp; the TCD paper did not use Yelp
    papers=PaperSettings(hr_k=500, neighbours={"mf": 100, "nsvd": 900, "autorec": 100, "cdae": 200}, large=True),
))


# Shapes the papers never used, as twins only: defenses are measured on them too.
def _shape(name: str, twin: TwinShape, description: str) -> DatasetRecord:
    return DatasetRecord(name=name, scale=RatingScale(1, 5, 1), twin=twin, synthetic_only=True,
                         fetch_message=f"{name} is a synthetic data shape ({description}); use synthetic:{name}")


ML_HISTOGRAM = (0.06, 0.11, 0.27, 0.34, 0.22)
register_dataset(_shape("longtail", TwinShape(900, 150_000, 171_000, min_per_user=40, activity_sigma=0.8,
                                              popularity_sigma=3.0, histogram=ML_HISTOGRAM),
                        "900 users, 150,000 items, 190 ratings per user, nearly every item rated once"))
register_dataset(_shape("sparse", TwinShape(3000, 1800, 21_000, min_per_user=3, activity_sigma=0.6,
                                            popularity_sigma=1.5, histogram=ML_HISTOGRAM),
                        "3,000 users, 1,800 items, 7 ratings per user"))
register_dataset(_shape("medium", TwinShape(1800, 8700, 56_000, min_per_user=10, activity_sigma=0.9,
                                            popularity_sigma=1.8, histogram=ML_HISTOGRAM, unrated_share=0.1),
                        "1,800 users, 8,700 item ids of which a tenth are never rated, 31 ratings per user"))
