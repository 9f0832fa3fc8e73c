"""Poisoning attacks behind one `Attack` protocol, and the registry that builds them by name."""
from __future__ import annotations

from .base import Attack, FakeProfiles, ThreatModel
from .knowledge import AttackerView
from .projection import project_profiles
from .registry import ATTACKS, attack_name, attack_settings, get_attack, register_attack

__all__ = ["ATTACKS", "Attack", "AttackerView", "FakeProfiles", "ThreatModel", "attack_name", "attack_settings",
           "get_attack", "project_profiles", "register_attack"]
