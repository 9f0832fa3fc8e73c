"""Defenses: RVD at inference time; training-time defenses (APR, LTSMF, RMF) wrap `fit`."""
from __future__ import annotations

from .neighbours import HnswNeighbours, exact_neighbours
from .registry import DEFENSES, DefensePlan, get_defense
from .rvd import PAPER_K, RVD, paper_k
from .training import APR, LTSMF, RMF, TRAINING_DEFENSES, TrainingDefense

__all__ = ["APR", "DEFENSES", "LTSMF", "PAPER_K", "RMF", "RVD", "TRAINING_DEFENSES", "DefensePlan",
           "HnswNeighbours", "TrainingDefense", "exact_neighbours", "get_defense", "paper_k"]
