"""The exception hierarchy: every error cislearn raises on purpose is a CislearnError."""

from __future__ import annotations

import os

__all__ = [
    "CislearnError",
    "InputError",
    "GenomeError",
    "ConfigError",
    "ModelLoadError",
    "where",
]


def where(
    path: str | os.PathLike[str] | None = None,
    *,
    line: int | None = None,
    record: int | None = None,
    record_id: str | None = None,
) -> str:
    """Format a location prefix such as ``pos.fa, record 12 ("chr1_12"), line 37``.

    Every part is optional; empty parts are left out so the message stays one line.
    """
    parts: list[str] = []
    if path is not None:
        parts.append(os.fspath(path))
    if record is not None:
        rec = f"record {record}"
        if record_id is not None:
            rec += f' ("{record_id}")'
        parts.append(rec)
    elif record_id is not None:
        parts.append(f'record "{record_id}"')
    if line is not None:
        parts.append(f"line {line}")
    return ", ".join(parts)


class CislearnError(Exception):
    """Base class of all errors raised on purpose by cislearn.

    The message is always one line that names the thing, what was expected, what was found
    and, where there is one, the fix.
    """


class InputError(CislearnError, ValueError):
    """A user's input file or value is malformed.

    Parameters
    ----------
    message : str
        What is wrong, e.g. ``unexpected character 'X'; allowed: A C G T N``.
    path, line, record, record_id
        Where it is wrong; they are prefixed to the message.

    Examples
    --------
    >>> str(InputError("unexpected character 'X'", path="pos.fa", record=12, line=37))
    "pos.fa, record 12, line 37: unexpected character 'X'"
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | os.PathLike[str] | None = None,
        line: int | None = None,
        record: int | None = None,
        record_id: str | None = None,
    ) -> None:
        self.problem = message
        self.path = os.fspath(path) if path is not None else None
        self.line = line
        self.record = record
        self.record_id = record_id
        prefix = where(path, line=line, record=record, record_id=record_id)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class GenomeError(CislearnError):
    """The reference genome cannot be read, or a region does not fit it."""


class ConfigError(CislearnError, ValueError):
    """A configuration key or command-line option has a value that is not allowed."""


class ModelLoadError(CislearnError):
    """A model bundle is missing, incomplete, tampered with or of an unknown version."""
