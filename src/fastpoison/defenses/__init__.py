"""Defenses: training parts (APR, AT, RAT, LTSMF, RMF, TCD) that refit the victim, serving
parts (RVD) that answer queries on top of it, and the registry that builds them by name."""
from __future__ import annotations

from .base import DefenseContext, DefensePart, ModelFactory, Recommend, ServingDefense, TrainingDefense
from .neighbours import HnswNeighbours, exact_neighbours
from .registry import DEFENSES, DefensePlan, applies, get_defense, register_defense, with_settings
from .rvd import RVD, VicinalDefense
from .tcd import TCD
from .training import APR, AT, LTSMF, RAT, RMF, RobustObjective

__all__ = ["APR", "AT", "DEFENSES", "LTSMF", "RAT", "RMF", "RVD", "TCD", "DefenseContext", "DefensePart",
           "DefensePlan", "HnswNeighbours", "ModelFactory", "Recommend", "RobustObjective", "ServingDefense",
           "TrainingDefense", "VicinalDefense", "applies", "exact_neighbours", "get_defense", "register_defense",
           "with_settings"]
