"""Plug-ins: modules named in ``$FASTPOISON_PLUGINS`` (comma-separated, importable names) are
imported before the command line or a grid worker looks anything up, so the attacks,
defenses and datasets they register are known by name everywhere, worker processes included."""
from __future__ import annotations

import importlib
import os

from .errors import FastPoisonError

ENV_VAR = "FASTPOISON_PLUGINS"


def load_plugins() -> list[str]:
    """Import every module named in `ENV_VAR` (once each; Python caches imports); returns
    their names. A module that cannot be imported is a `FastPoisonError` naming the variable."""
    names = [n.strip() for n in os.environ.get(ENV_VAR, "").split(",") if n.strip()]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise FastPoisonError(f"{ENV_VAR}: cannot import plug-in {name!r}: {e}") from e
    return names
