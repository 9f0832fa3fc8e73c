"""Fingerprints of fetched files: `fetch` writes the SHA-256 of each file it installs into a
marker beside them, and every later use checks the files against it, so a truncated or
edited copy in the cache is never taken for the dataset. Folders without a marker (files a
user put there) are not checked."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

#: The marker's file name inside a dataset folder.
MARKER = ".fastpoison-sha256.json"


def sha256_of(path: Path) -> str:
    """The SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_marker(folder: Path, names: Iterable[str]) -> None:
    """Record the digest of each file ``names`` (relative to ``folder``) in the marker."""
    (folder / MARKER).write_text(json.dumps({name: sha256_of(folder / name) for name in names}, indent=1))


def damaged(folder: Path) -> list[str]:
    """The marked files of ``folder`` that are missing or changed since the marker was
    written (none when there is no marker)."""
    marker = folder / MARKER
    if not marker.is_file():
        return []
    try:
        digests = json.loads(marker.read_text())
    except ValueError:
        return [MARKER]
    return [name for name, digest in digests.items()
            if not (folder / name).is_file() or sha256_of(folder / name) != digest]
