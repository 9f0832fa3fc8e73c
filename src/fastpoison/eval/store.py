"""A folder of experiment records, one JSON file per cell, keyed by the cell's spec hash.

Every write goes to a temporary file in the same folder, is flushed to disk, then renamed
over the final name, so a reader (or a rerun after a crash) sees either no record or a
whole one, never a partial file. Temporary files left by a killed writer are ignored.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import FastPoisonError
from ..jsonio import dumps

RECORD_SUFFIX = ".json"
#: The file that marks a folder as being written by one process (its pid inside).
LOCK_NAME = ".writer.lock"


class FolderInUse(FastPoisonError):
    """Another live process writes to the record folder."""


def _alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ResultStore:
    """Records under ``folder`` (created if needed): ``<key>.json`` holds one cell's record."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"invalid record key {key!r}")
        return self.folder / f"{key}{RECORD_SUFFIX}"

    def read(self, key: str) -> dict[str, Any] | None:
        """The record stored under ``key``, or None when there is none (or it does not parse)."""
        try:
            record = json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def finished(self, key: str) -> bool:
        """True when ``key`` has a record without an error (a cell to skip on resume)."""
        record = self.read(key)
        return record is not None and record.get("error") is None

    def write(self, key: str, record: dict[str, Any]) -> Path:
        """Store ``record`` under ``key`` atomically (temp file, fsync, rename)."""
        final = self.path(key)
        text = dumps(record, indent=1) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return final

    @contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the folder's writer lock while the block runs: FolderInUse if another live
        process holds it; a lock left by a dead process is taken over, and that process's
        temporary files are removed."""
        lock = self.folder / LOCK_NAME
        while True:
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                break
            except FileExistsError:
                try:
                    owner = int(lock.read_text().strip() or 0)
                except (OSError, ValueError):
                    owner = 0
                if owner and owner != os.getpid() and _alive(owner):
                    raise FolderInUse(f"{self.folder} is being written by process {owner}; wait for it to finish "
                                      f"or use another --out") from None
                lock.unlink(missing_ok=True)  # stale: its owner is gone
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        try:
            self.remove_partial()
            yield
        finally:
            lock.unlink(missing_ok=True)

    def remove_partial(self) -> int:
        """Delete temporary files a killed writer left behind; returns how many. Only safe
        while holding `writer` (no other process writes to this folder)."""
        partial = list(self.folder.glob(".*.tmp"))
        for path in partial:
            path.unlink(missing_ok=True)
        return len(partial)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, in key order."""
        for path in self.paths():
            record = self.read(path.stem)
            if record is not None:
                yield record

    def paths(self) -> list[Path]:
        """The record files, in key order (temporary files left out)."""
        return [p for p in sorted(self.folder.glob(f"*{RECORD_SUFFIX}")) if not p.name.startswith(".")]

    def unreadable(self) -> list[Path]:
        """The record files that do not parse as a JSON object (truncated, foreign)."""
        return [p for p in self.paths() if self.read(p.stem) is None]
