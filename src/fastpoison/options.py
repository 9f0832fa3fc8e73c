"""``KEY=VALUE`` settings as command lines and tables spell them, e.g. ``pseudo_budget=1``."""
from __future__ import annotations

from typing import Any, Iterable

_WORDS = {"none": None, "true": True, "false": False}


def option_value(text: str) -> Any:
    """A setting's value: an int, a float, true/false, none, or else the text itself."""
    word = text.strip().lower()
    if word in _WORDS:
        return _WORDS[word]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_options(items: Iterable[str]) -> dict[str, Any]:
    """``{key: value}`` from ``KEY=VALUE`` strings; ValueError on one without ``=`` or key."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"a setting takes KEY=VALUE, not {item!r}")
        options[key.strip()] = option_value(value)
    return options


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """``"tcd[pseudo_budget=1,epochs=20]"`` -> ``("tcd", {"pseudo_budget": 1, "epochs": 20})``;
    a bare name has no options."""
    name, bracket, rest = text.partition("[")
    if not bracket:
        return text.strip(), {}
    if not rest.endswith("]"):
        raise ValueError(f"{text!r}: settings go in one pair of brackets, e.g. tcd[pseudo_budget=1]")
    return name.strip(), parse_options(s for s in rest[:-1].split(",") if s.strip())
