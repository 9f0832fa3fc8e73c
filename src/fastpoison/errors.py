"""Exceptions shared by every stage of fastpoison, and the one-line form its command gives
warnings in."""
from __future__ import annotations

import sys
from typing import Any


class FastPoisonError(Exception):
    """Base class of the errors fastpoison raises on purpose."""


class DataError(FastPoisonError, ValueError):
    """Bad input data: names the file (and line, where there is one) that is at fault."""

    def __init__(self, message: str, *, path: object = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f":{line}"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.line = line


def one_line_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    """A `warnings.showwarning` that prints ``fastpoison: MESSAGE`` on stderr, without the
    source line Python's default adds (the command's form, in its worker processes too)."""
    print(f"fastpoison: {message}", file=sys.stderr)
