"""Strict JSON: non-finite numbers are written as null and read back as nan."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fastpoison.jsonio import dumps, number, strict


def test_non_finite_numbers_become_null_everywhere():
    obj = {"a": math.nan, "b": [1.0, math.inf, (-math.inf, 2)], "c": {"d": 0.5, "e": "nan"}}
    assert strict(obj) == {"a": None, "b": [1.0, None, [None, 2]], "c": {"d": 0.5, "e": "nan"}}
    assert json.loads(dumps(obj)) == strict(obj)
    assert math.isnan(number(None)) and number(3) == 3.0


def test_what_strict_cannot_see_is_an_error_not_invalid_json():
    with pytest.raises((ValueError, TypeError)):
        dumps({"x": np.float32("nan")})
