"""Where fastpoison looks for datasets: ``--data-dir``, else ``$FASTPOISON_DATA``, else the user cache."""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "FASTPOISON_DATA"


def default_cache_dir() -> Path:
    """The per-user cache (``$XDG_CACHE_HOME/fastpoison`` or ``~/.cache/fastpoison``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastpoison"


def data_roots(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Roots to search, most specific first: the explicit dir, or ``$FASTPOISON_DATA``; then the cache."""
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir))
    elif os.environ.get(ENV_VAR):
        roots.append(Path(os.environ[ENV_VAR]))
    roots.append(default_cache_dir())
    return roots
