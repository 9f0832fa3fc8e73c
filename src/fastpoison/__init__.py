"""fastpoison: poisoning attacks and defenses for recommender systems.

The public API: datasets (`load_dataset`, `RatingData`, `register_dataset`), victim models
(`MF`, `NSVD`, `AutoRec`, `CDAE`, the `Popularity` baseline, `make_model`), attacks
(`get_attack`, `register_attack`, `FakeProfiles`), defenses (`get_defense`,
`register_defense`, `RVD`, `TCD`), and experiments (`ExperimentSpec`, `run_experiment`).
"""
from .attacks import ATTACKS, FakeProfiles, get_attack, register_attack
from .data import RatingData, RatingScale, register_dataset
from .data.datasets import load_dataset
from .defenses import DEFENSES, RVD, TCD, get_defense, register_defense
from .errors import DataError, FastPoisonError
from .eval.experiment import ExperimentSpec, run_experiment
from .models import CDAE, MF, NSVD, AutoRec, Popularity, load_model, make_model

__version__ = "0.1.0"

__all__ = ["ATTACKS", "CDAE", "DEFENSES", "MF", "NSVD", "RVD", "TCD", "AutoRec", "DataError", "ExperimentSpec",
           "FakeProfiles", "FastPoisonError", "Popularity", "RatingData", "RatingScale", "get_attack", "get_defense",
           "load_dataset", "load_model", "make_model", "register_attack", "register_dataset", "register_defense",
           "run_experiment"]
