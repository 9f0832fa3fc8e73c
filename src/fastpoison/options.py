"""Named settings as command lines, grid files and records spell them, and their checking.

One syntax everywhere: ``KEY=VALUE`` settings (``pseudo_budget=1``), a name with bracketed
settings (``tcd[pseudo_budget=1]``, ``pga[steps=50]``), and a chain of parts joined by ``+``
(``ltsmf+rvd[k=25]``). `build` makes an object from a name's settings, checking every key
and the type of every value against the constructor before any work is done.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
from typing import Any, Callable, Iterable, Mapping, TypeVar

_WORDS = {"none": None, "true": True, "false": False}

#: One part of a name: ``(name, settings)``.
Variant = tuple[str, dict[str, Any]]


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
    return text.strip()


def parse_options(items: Iterable[str]) -> dict[str, Any]:
    """``{key: value}`` from ``KEY=VALUE`` strings; ValueError on one without ``=`` or key."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"a setting takes KEY=VALUE, not {item!r}")
        options[key.strip()] = option_value(value)
    return options


def split_top_level(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside brackets: ``"rvd[k=5,epochs=2],tcd"`` at ``,``
    gives ``["rvd[k=5,epochs=2]", "tcd"]``."""
    parts, depth, start = [], 0, 0
    for at, char in enumerate(text):
        depth += (char == "[") - (char == "]")
        if char == separator and depth == 0:
            parts.append(text[start:at])
            start = at + 1
    parts.append(text[start:])
    return parts


def parse_variant(text: str) -> Variant:
    """``"tcd[pseudo_budget=1,epochs=20]"`` -> ``("tcd", {"pseudo_budget": 1, "epochs": 20})``;
    a bare name has no settings. Names are lower-cased."""
    name, bracket, rest = text.strip().partition("[")
    name = name.strip().lower()
    if not name:
        raise ValueError(f"{text!r}: a name is missing")
    if not bracket:
        return name, {}
    if not rest.endswith("]") or "[" in rest or "]" in rest[:-1]:
        raise ValueError(f"{text!r}: settings go in one pair of brackets, e.g. tcd[pseudo_budget=1]")
    return name, parse_options(s for s in rest[:-1].split(",") if s.strip())


def parse_chain(text: str) -> list[Variant]:
    """``"ltsmf+rvd[k=25]"`` -> ``[("ltsmf", {}), ("rvd", {"k": 25})]``."""
    return [parse_variant(part) for part in split_top_level(text, "+")]


def format_value(value: Any) -> str:
    """A value as `option_value` reads it back: ``true``, ``none``, ``1`` for 1.0, ``0.05``."""
    if value is None or isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


def format_variant(name: str, settings: Mapping[str, Any]) -> str:
    """The canonical spelling of a name with settings (keys sorted): ``tcd[pseudo_budget=1]``."""
    if not settings:
        return name
    return f"{name}[{','.join(f'{k}={format_value(v)}' for k, v in sorted(settings.items()))}]"


def format_chain(parts: Iterable[Variant]) -> str:
    """The canonical spelling of a chain: ``ltsmf+rvd[k=25]``."""
    return "+".join(format_variant(name, settings) for name, settings in parts)


T = TypeVar("T")


def register(registry: dict[str, T], entry: T, what: str) -> T:
    """Add ``entry`` (a class with a ``name``) to ``registry`` under its name and return it;
    a name that is not plain (brackets, ``+``, ``,``, ``=``, spaces) or already taken by
    another entry is a ValueError naming ``what`` (e.g. ``"an attack"``)."""
    name = getattr(entry, "name", None)
    if not isinstance(name, str) or not name or any(c in name for c in "[]+,= "):
        raise ValueError(f"{getattr(entry, '__name__', entry)!r} needs a plain name "
                         f"(no brackets, '+', ',', '=' or spaces)")
    if registry.get(name, entry) is not entry:
        raise ValueError(f"{what} named {name!r} is already registered ({registry[name]!r})")
    registry[name] = entry
    return entry


def setting_types(factory: Callable[..., Any]) -> dict[str, Any]:
    """The settings ``factory`` (a dataclass or a class with keyword ``__init__``) accepts,
    each with its annotation (a type, a string such as ``"float | None"``, or ``None``)."""
    if dataclasses.is_dataclass(factory):
        return {f.name: f.type for f in dataclasses.fields(factory) if f.init}
    params = inspect.signature(factory).parameters.values()
    return {p.name: (None if p.annotation is inspect.Parameter.empty else p.annotation) for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}


_SCALARS: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,),
                                         "None": (type(None),)}


def _type_names(annotation: Any) -> set[str] | None:
    """The scalar type names of an annotation (``"float | None"`` -> {float, None}); None
    when any part is not a plain scalar (then any value is passed on to the constructor)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
    names = {part.strip().removeprefix("typing.") for part in text.replace("Optional[", "None|").rstrip("]").split("|")}
    return names if names <= set(_SCALARS) else None


def checked_value(key: str, value: Any, annotation: Any) -> Any:
    """``value`` if it fits ``annotation`` (an int where a float is wanted becomes a float),
    else a ValueError naming the setting and the type wanted."""
    names = None if annotation is None else _type_names(annotation)
    if names is None:
        return value
    fits = any(isinstance(value, _SCALARS[n]) and not (isinstance(value, bool) and n in ("int", "float"))
               for n in names)
    if not fits:
        wanted = " or ".join(sorted(n.lower() for n in names))
        raise ValueError(f"setting {key} takes {wanted}, not {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and "float" in names and "int" not in names:
        return float(value)
    return value


def checked_settings(factory: Callable[..., Any], what: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` checked against what ``factory`` accepts (`setting_types`): unknown keys
    and values of the wrong type are one ValueError naming ``what`` (e.g. ``"defense tcd"``)."""
    types = setting_types(factory)
    unknown = sorted(set(settings) - set(types))
    if unknown:
        accepted = f"it accepts {', '.join(sorted(types))}" if types else "it takes no settings"
        raise ValueError(f"{what} has no setting {', '.join(unknown)}; {accepted}")
    try:
        return {key: checked_value(key, value, types[key]) for key, value in settings.items()}
    except ValueError as e:
        raise ValueError(f"{what}: {e}") from None


def build(factory: Callable[..., T], what: str, settings: Mapping[str, Any]) -> T:
    """``factory(**settings)`` after `checked_settings`; the constructor's own ValueError or
    TypeError (a value it rejects) becomes one ValueError naming ``what``."""
    checked = checked_settings(factory, what, settings)
    try:
        return factory(**checked)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what}: {e}") from None
