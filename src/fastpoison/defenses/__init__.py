"""Defenses: RVD at inference time; training-time defenses wrap `fit`."""
from __future__ import annotations

from .neighbours import HnswNeighbours, exact_neighbours
from .rvd import PAPER_K, RVD, paper_k

__all__ = ["PAPER_K", "RVD", "HnswNeighbours", "exact_neighbours", "paper_k"]
