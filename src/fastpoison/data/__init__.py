"""Data layer: rating matrices, loaders, splits, synthetic twins, the dataset registry and resolution."""
from ..errors import DataError
from .datasets import Dataset, SyntheticFallbackWarning, dataset_info, load_dataset
from .detect import detect_and_read
from .loaders import read_delimited, read_filmtrust, read_ml1m, read_ml100k, read_ncf, write_ncf
from .ratings import RatingData
from .records import Archive, DatasetRecord, PaperSettings, RawFile, TwinShape
from .registry import (DATASETS, dataset_record, is_large, model_overrides, paper_hr_k, paper_neighbours, paper_tcd,
                       rating_threshold, register_dataset)
from .scale import RatingScale
from .split import Split, default_threshold, leave_one_out, validation_split
from .synthetic import synthetic_ratings, synthetic_twin

__all__ = [
    "DATASETS", "Archive", "DataError", "Dataset", "DatasetRecord", "PaperSettings", "RatingData", "RatingScale",
    "RawFile", "Split", "SyntheticFallbackWarning", "TwinShape", "dataset_info", "dataset_record",
    "default_threshold", "detect_and_read", "is_large", "leave_one_out", "load_dataset", "model_overrides",
    "paper_hr_k", "paper_neighbours", "paper_tcd", "rating_threshold", "read_delimited", "read_filmtrust",
    "read_ml100k", "read_ml1m", "read_ncf", "register_dataset", "synthetic_ratings", "synthetic_twin",
    "validation_split", "write_ncf",
]
