"""Exceptions shared by every stage of fastpoison."""
from __future__ import annotations


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
