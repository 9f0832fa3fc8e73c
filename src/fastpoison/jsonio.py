"""Strict JSON: what fastpoison writes parses in any JSON reader (no ``NaN``/``Infinity``)."""
from __future__ import annotations

import json
import math
from typing import Any


def strict(obj: Any) -> Any:
    """``obj`` with every non-finite float (nan, ±inf) replaced by None, recursively through
    dicts, lists and tuples (tuples become lists)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: strict(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(value) for value in obj]
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """`json.dumps` of `strict` ``obj``; a non-finite value it cannot see (e.g. a numpy
    scalar) is a ValueError rather than invalid JSON."""
    return json.dumps(strict(obj), allow_nan=False, **kwargs)


def number(value: Any) -> float:
    """A number read back from strict JSON: None (written for nan) becomes nan."""
    return math.nan if value is None else float(value)
