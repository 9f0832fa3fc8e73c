"""Data layer: rating matrices, loaders, splits, synthetic twins, dataset resolution."""
from .ratings import RatingData
from .scale import RatingScale

__all__ = ["RatingData", "RatingScale"]
