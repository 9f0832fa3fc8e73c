"""The defense registry: names -> parts, and plans built from names with bracketed settings.

A defense name is one part or a training part followed by a serving part, each with optional
settings: ``rvd``, ``rvd[k=100,epochs=5]``, ``tcd[pseudo_budget=1]``, ``ltsmf+rvd[k=25]``.
New parts register with `register_defense` (no package file changes).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..data.ratings import RatingData
from ..models import MODELS
from ..options import Variant, build, format_chain, parse_chain, register, setting_types
from .base import DefenseContext, DefensePart, ServingDefense, TrainingDefense
from .rvd import VicinalDefense
from .tcd import TCD
from .training import ROBUST_OBJECTIVES

#: Every registered part by name (`register_defense` adds to it).
DEFENSES: dict[str, type[DefensePart]] = {}


def register_defense(part: type[DefensePart]) -> type[DefensePart]:
    """Add a `TrainingDefense` or `ServingDefense` subclass (a frozen dataclass whose fields
    are its settings) under its ``name``; returns it, so it also serves as a decorator.
    A name already taken by another class is a ValueError."""
    if not (isinstance(part, type) and issubclass(part, (TrainingDefense, ServingDefense))):
        raise ValueError(f"{part!r} is neither a TrainingDefense nor a ServingDefense subclass")
    return register(DEFENSES, part, "a defense")


for _part in (*ROBUST_OBJECTIVES, TCD, VicinalDefense):
    register_defense(_part)


@dataclass(frozen=True)
class DefensePlan:
    """A defended victim: fitted under ``training`` (None: the attacked victim as it is), then
    served through ``serving`` (None: the model's own top-K). ``name`` is the canonical
    spelling with the user's settings, e.g. ``ltsmf+rvd[k=25]``."""

    name: str
    training: TrainingDefense | None
    serving: ServingDefense | None

    def settings(self) -> dict[str, dict[str, Any]]:
        """Every part's settings in force (defaults included), by part name."""
        return {part.name: {key: getattr(part, key) for key in setting_types(type(part))}
                for part in (self.training, self.serving) if part is not None}


def _part_class(name: str) -> type[DefensePart]:
    try:
        return DEFENSES[name]
    except KeyError:
        raise ValueError(f"unknown defense {name!r}; choose from {', '.join(sorted(DEFENSES))}, "
                         f"or a training part + a serving part, e.g. ltsmf+rvd") from None


def _roles(parts: list[Variant]) -> tuple[Variant | None, Variant | None]:
    """``(training part, serving part)`` of a chain; ValueError unless it is one part, or a
    training part followed by a serving part."""
    kinds = [issubclass(_part_class(name), TrainingDefense) for name, _ in parts]
    if len(parts) == 1:
        return (parts[0], None) if kinds[0] else (None, parts[0])
    if len(parts) == 2 and kinds == [True, False]:
        return parts[0], parts[1]
    names = "+".join(name for name, _ in parts)
    raise ValueError(f"defense {names!r}: a defense is one part, or a training part followed by a serving part "
                     f"(e.g. ltsmf+rvd)")


def _check_model(name: str, cls: type[DefensePart], model: str | None, settings: Mapping[str, Any]) -> None:
    """ValueError when part ``cls`` (named ``name``, with ``settings``) cannot defend the
    registered model ``model``."""
    model_cls = None if model is None else MODELS.get(model)
    if model_cls is None:
        return
    if not cls.applies_to(model_cls):
        allowed = [m for m, c in MODELS.items() if cls.applies_to(c)]
        raise ValueError(f"defense {name} applies to {', '.join(allowed)}; it does not apply to model {model!r}")
    why = cls.refusal(model_cls, settings)
    if why is not None:
        raise ValueError(why)


def applies(defense: str, model: str) -> bool:
    """Whether every part of ``defense`` can defend the registered model ``model``."""
    try:
        for name, settings in parse_chain(defense):
            _check_model(name, _part_class(name), model, settings)
    except ValueError:
        return False
    return True


def _build(variant: Variant, context: DefenseContext) -> DefensePart:
    name, settings = variant
    cls = _part_class(name)
    _check_model(name, cls, context.model, settings)
    return build(cls, f"defense {name}", {**cls.defaults(context), **settings})


def get_defense(name: str, *, dataset: str | None = None, model: str | None = None,
                data: RatingData | None = None) -> DefensePlan:
    """The plan for a defense name (see the module doc): each part with its `defaults` for the
    dataset, model and data size, then the settings the name gives. Unknown names, unknown
    settings and settings of the wrong type are one ValueError, before any work."""
    parts = parse_chain(name)
    training, serving = _roles(parts)
    context = DefenseContext(dataset, model, None if data is None else data.n_users * data.n_items)
    return DefensePlan(name=format_chain(parts),
                       training=None if training is None else _build(training, context),  # type: ignore[arg-type]
                       serving=None if serving is None else _build(serving, context))  # type: ignore[arg-type]


def with_settings(name: str, settings: Mapping[str, Any]) -> str:
    """``name`` with ``settings`` added to the part that has each (the command line's
    ``--defense-option KEY=VALUE``); ValueError when no part, or both, have a setting."""
    parts = parse_chain(name)
    for key, value in settings.items():
        owners = [i for i, (part, _) in enumerate(parts) if key in setting_types(_part_class(part))]
        if len(owners) != 1:
            where = "no part" if not owners else "both parts"
            raise ValueError(f"defense {format_chain(parts)}: {where} of it has a setting {key!r}; "
                             f"give it in brackets, e.g. {parts[-1][0]}[{key}=...]")
        parts[owners[0]][1][key] = value
    return format_chain(parts)
