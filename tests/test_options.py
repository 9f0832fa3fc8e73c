"""KEY=VALUE settings and bracketed variants (``tcd[pseudo_budget=1]``)."""
from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given

from fastpoison.options import (build, checked_settings, format_chain, format_variant, option_value, parse_chain,
                                parse_options, parse_variant, split_top_level)


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


def test_chains_split_outside_brackets_and_spell_canonically():
    assert split_top_level("rvd[k=5,epochs=2],tcd", ",") == ["rvd[k=5,epochs=2]", "tcd"]
    assert parse_chain("LTSMF + rvd[k=25]") == [("ltsmf", {}), ("rvd", {"k": 25})]
    assert format_chain(parse_chain("rvd[lr=0.5,k=25.0,exact=TRUE]")) == "rvd[exact=true,k=25,lr=0.5]"
    for bad in ("rvd[k=1]]", "rvd[k=[1]]", "[k=1]"):
        with pytest.raises(ValueError):
            parse_chain(bad)


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True).filter(lambda k: k not in ("none", "true")),
                       st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.none(),
                                 st.floats(-1e6, 1e6, allow_nan=False).filter(lambda x: x != 0 or str(x) == "0.0"),
                                 st.from_regex(r"[a-z]{1,6}", fullmatch=True).filter(
                                     lambda s: s not in ("none", "true", "false", "inf", "nan"))),
                       max_size=4))
def test_the_canonical_spelling_reads_back_the_same(settings):
    text = format_variant("part", settings)
    name, parsed = parse_variant(text)
    assert name == "part" and format_variant(name, parsed) == text
    assert all(parsed[k] == v or (isinstance(v, float) and parsed[k] == int(v)) for k, v in settings.items())


class Settings:
    def __init__(self, steps: int = 3, size: float = 0.1, name: str = "x", budget: float | None = None,
                 exact: bool = False) -> None:
        self.steps, self.size, self.budget = steps, size, budget


def test_build_checks_keys_and_types_before_construction():
    made = build(Settings, "attack x", {"steps": 5, "size": 1, "budget": None, "exact": True})
    assert (made.steps, made.size, made.budget) == (5, 1.0, None) and type(made.size) is float
    for bad, message in (({"stepz": 1}, "has no setting stepz; it accepts budget, exact, name, size, steps"),
                         ({"steps": 1.5}, "setting steps takes int, not 1.5"),
                         ({"steps": True}, "setting steps takes int"),
                         ({"size": "big"}, "setting size takes float"),
                         ({"exact": 1}, "setting exact takes bool"),
                         ({"budget": "x"}, "setting budget takes float or none")):
        with pytest.raises(ValueError, match=message):
            build(Settings, "attack x", bad)
    assert checked_settings(Settings, "x", {"name": "y"}) == {"name": "y"}
