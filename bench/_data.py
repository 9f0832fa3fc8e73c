"""Ratings for the benchmarks: ``load_ratings("synthetic:ml-1m")`` is the training split of
``fastpoison.data.datasets.load_dataset(name)`` (real data or a synthetic twin), with
``meta["data_source"]`` set to that dataset's ``data_source``."""
from __future__ import annotations

from dataclasses import replace

from fastpoison.data.datasets import load_dataset
from fastpoison.data.ratings import RatingData


def load_ratings(dataset: str) -> RatingData:
    """Training ratings of ``dataset`` (e.g. ``synthetic:ml-1m``)."""
    ds = load_dataset(dataset)
    train = ds.split.train
    return replace(train, meta={**train.meta, "data_source": ds.data_source})
