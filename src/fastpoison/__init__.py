"""fastpoison: poisoning attacks and defenses for recommender systems.

The public API: datasets (`load_dataset`, `RatingData`), victim models (`MF`, `NSVD`,
`AutoRec`, `CDAE`, `make_model`), attacks (`get_attack`, `FakeProfiles`), and experiments (`ExperimentSpec`, `run_experiment`).
"""
from .attacks import ATTACKS, FakeProfiles, get_attack
from .data import RatingData, RatingScale
from .data.datasets import load_dataset
from .errors import DataError, FastPoisonError
from .eval.experiment import ExperimentSpec, run_experiment
from .models import CDAE, MF, NSVD, AutoRec, load_model, make_model

__version__ = "0.1.0"

__all__ = ["ATTACKS", "AutoRec", "CDAE", "DataError", "FakeProfiles", "ExperimentSpec", "FastPoisonError", "MF", "NSVD", "RatingData", "RatingScale",
           "get_attack", "load_dataset", "load_model",
           "make_model", "run_experiment"]
