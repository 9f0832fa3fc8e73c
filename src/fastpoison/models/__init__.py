"""Victim recommenders behind one `Recommender` protocol (the `Popularity` baseline offers all but
user embeddings and vicinal fine-tuning), and the name registry the CLI uses."""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from ..data.registry import model_overrides
from .autorec import AutoRec, AutoRecConfig
from ..errors import DataError
from .base import FactorConfig, FactorModel, Recommender, TrainableModel, TrainConfig, read_state
from .bpr import BPRMF, BPRConfig
from .cdae import CDAE, CDAEConfig
from .lightgcn import LightGCN, LightGCNConfig
from .mf import MF
from .nsvd import NSVD
from .popularity import Popularity
from .scoring import TopK, score_top_k

MODELS: dict[str, type[TrainableModel]] = {"mf": MF, "nsvd": NSVD, "autorec": AutoRec, "cdae": CDAE,
                                         "bprmf": BPRMF, "lightgcn": LightGCN, "pop": Popularity}


def make_model(name: str, dataset: str | None = None, **overrides: Any) -> TrainableModel:
    """A fresh model by registry name, with the papers' per-dataset settings (the dataset
    record's ``model_overrides``, e.g. MF's batch 4096 on FilmTrust), then ``overrides``."""
    try:
        cls = MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(sorted(MODELS))}") from None
    known = {f.name for f in dataclasses.fields(cls.config_class)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(f"option {', '.join(unknown)} does not apply to model {cls.name}")
    return cls(**{**model_overrides(dataset, cls.name), **overrides})


def load_model(path: str | os.PathLike[str]) -> TrainableModel:
    """Read any registered model saved with ``save`` (npz, ``allow_pickle=False``); DataError
    naming the file for anything that is not a valid model file (`base.read_state`)."""
    state = read_state(path)
    try:
        return make_model(json.loads(str(state["meta"]))["model"]).load_state(state)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"not a valid fastpoison model file: {e}", path=os.fspath(path)) from None


__all__ = ["BPRMF", "BPRConfig", "CDAE", "MODELS", "MF", "NSVD", "AutoRec", "AutoRecConfig", "CDAEConfig", "FactorConfig", "FactorModel",
           "LightGCN", "LightGCNConfig", "Popularity", "Recommender", "TopK", "TrainConfig", "TrainableModel", "load_model", "make_model",
           "score_top_k"]
