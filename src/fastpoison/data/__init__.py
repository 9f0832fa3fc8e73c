"""Data layer: rating matrices, loaders, splits, synthetic twins, dataset resolution."""
from ..errors import DataError
from .datasets import KNOWN, Dataset, SyntheticFallbackWarning, dataset_info, load_dataset
from .loaders import (detect_and_read, read_delimited, read_filmtrust, read_ml1m, read_ml100k, read_ncf,
                      write_ncf)
from .ratings import RatingData
from .scale import RatingScale
from .split import Split, default_threshold, leave_one_out, validation_split
from .synthetic import TWINS, synthetic_ratings, synthetic_twin

__all__ = [
    "KNOWN", "TWINS", "DataError", "Dataset", "RatingData", "RatingScale", "Split", "SyntheticFallbackWarning",
    "dataset_info", "default_threshold", "detect_and_read", "leave_one_out", "load_dataset", "read_delimited",
    "read_filmtrust", "read_ml100k", "read_ml1m", "read_ncf", "synthetic_ratings", "synthetic_twin",
    "validation_split", "write_ncf",
]
