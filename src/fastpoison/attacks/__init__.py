"""Poisoning attacks behind one `Attack` protocol, and the name registry the CLI uses."""
from __future__ import annotations

from .aush import AUSHAttack
from .average import AverageAttack
from .bandwagon import BandwagonAttack
from .base import Attack, FakeProfiles, ThreatModel
from .coattack import CoAttack, GCoAttack
from .knowledge import AttackerView
from .dl import DLAttack
from .mixinf import MixInfAttack
from .mixrand import MixRandAttack
from .pga import PGAAttack
from .projection import project_profiles
from .random_attack import RandomAttack
from .tna import TNAAttack

ATTACKS: dict[str, type[Attack]] = {cls.name: cls for cls in (
    RandomAttack, AverageAttack, BandwagonAttack, MixRandAttack, PGAAttack, TNAAttack, DLAttack, MixInfAttack, AUSHAttack,
    CoAttack, GCoAttack)}


def get_attack(name: str) -> Attack:
    """A fresh attack with its default settings, by registry name."""
    try:
        return ATTACKS[name.lower()]()
    except KeyError:
        raise ValueError(f"unknown attack {name!r}; choose from {', '.join(sorted(ATTACKS))}") from None


__all__ = ["ATTACKS", "Attack", "AttackerView", "FakeProfiles", "ThreatModel", "get_attack", "project_profiles"]
