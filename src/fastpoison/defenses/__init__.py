"""Defenses: RVD at inference time; training-time defenses (APR, AT, RAT, LTSMF, RMF, TCD) wrap `fit`."""
from __future__ import annotations

from .neighbours import HnswNeighbours, exact_neighbours
from .registry import DEFENSES, TRAINING_DEFENSES, DefensePlan, get_defense
from .rvd import PAPER_K, RVD, paper_k
from .tcd import TCD, agreement_labels
from .training import APR, AT, LTSMF, RAT, RMF, RobustObjective, TrainingDefense

__all__ = ["APR", "AT", "RAT", "DEFENSES", "LTSMF", "PAPER_K", "RMF", "RVD", "TCD", "TRAINING_DEFENSES", "DefensePlan",
           "HnswNeighbours", "RobustObjective", "TrainingDefense", "agreement_labels", "exact_neighbours",
           "get_defense", "paper_k"]
