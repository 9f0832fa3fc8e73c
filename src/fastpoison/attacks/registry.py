"""The attack registry: names -> attack classes, and attacks built from names with bracketed
settings (``pga[steps=50]``). New attacks register with `register_attack`."""
from __future__ import annotations

from typing import Any, Mapping

from ..options import build, format_variant, parse_variant, register, setting_types
from .aush import AUSHAttack
from .average import AverageAttack
from .bandwagon import BandwagonAttack
from .base import Attack
from .coattack import CoAttack, GCoAttack
from .dl import DLAttack
from .mixinf import MixInfAttack
from .mixrand import MixRandAttack
from .pga import PGAAttack
from .random_attack import RandomAttack
from .tna import TNAAttack

#: Every registered attack class by name (`register_attack` adds to it).
ATTACKS: dict[str, type[Attack]] = {}


def register_attack(cls: type[Attack]) -> type[Attack]:
    """Add an `Attack` subclass under its ``name`` (its keyword constructor arguments are its
    settings, kept as attributes of the same names); returns it, so it also serves as a
    decorator. A name already taken by another class is a ValueError."""
    if not (isinstance(cls, type) and issubclass(cls, Attack)):
        raise ValueError(f"{cls!r} is not an Attack subclass")
    return register(ATTACKS, cls, "an attack")


for _cls in (RandomAttack, AverageAttack, BandwagonAttack, MixRandAttack, PGAAttack, TNAAttack, DLAttack,
             MixInfAttack, AUSHAttack, CoAttack, GCoAttack):
    register_attack(_cls)


def get_attack(name: str, options: Mapping[str, Any] | None = None) -> Attack:
    """A fresh attack by name, e.g. ``"pga"`` or ``"pga[steps=50]"``, with ``options`` added
    to the bracketed settings; unknown names, unknown settings and values of the wrong type
    are one ValueError."""
    base, settings = parse_variant(name)
    try:
        cls = ATTACKS[base]
    except KeyError:
        raise ValueError(f"unknown attack {base!r}; choose from {', '.join(sorted(ATTACKS))}") from None
    return build(cls, f"attack {base}", {**settings, **(options or {})})


def attack_name(name: str, options: Mapping[str, Any] | None = None) -> str:
    """The canonical spelling of an attack with its settings (``pga[steps=50]``), checked."""
    get_attack(name, options)
    base, settings = parse_variant(name)
    return format_variant(base, {**settings, **(options or {})})


def attack_settings(attack: Attack) -> dict[str, Any]:
    """The settings an attack runs with, defaults included."""
    return {key: getattr(attack, key) for key in setting_types(type(attack)) if hasattr(attack, key)}
