"""KEY=VALUE settings and bracketed variants (``tcd[pseudo_budget=1]``)."""
from __future__ import annotations

import pytest

from fastpoison.options import option_value, parse_options, parse_variant


def test_values_take_their_natural_type():
    assert [option_value(t) for t in ("3", "0.5", "1e-3", "None", "TRUE", "false", "adam")] == \
        [3, 0.5, 1e-3, None, True, False, "adam"]
    assert type(option_value("3")) is int


def test_variants_and_options():
    assert parse_variant("tcd") == ("tcd", {})
    assert parse_variant("tcd[pseudo_budget=1, epochs=20]") == ("tcd", {"pseudo_budget": 1, "epochs": 20})
    assert parse_options(["a=x", "b = 2"]) == {"a": "x", "b": 2}
    for bad in ("tcd[pseudo_budget=1", "tcd[pseudo_budget]", "tcd[=3]"):
        with pytest.raises(ValueError):
            parse_variant(bad)
