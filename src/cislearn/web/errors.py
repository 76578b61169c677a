"""The web app's one error type, its JSON shape ``{"error": {"code": ..., "message": ...}}``,
and the one rewrite of library messages for web users (one line, no command-line flags)."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ApiError", "error_body", "web_message"]

#: A parenthesised hint naming a flag or a command: "(use --iupac-to-n to ...)".
_CLI_HINT = re.compile(r"\s*\([^()]*(?:--[a-z]|`cislearn |cislearn [a-z])[^()]*\)")
#: "; use --split random" and the like: a clause that is only a command-line fix.
_CLI_CLAUSE = re.compile(
    r"[;,]\s*(?:use|try|e\.g\.|pass|set)\b[^;()]*?(?:--[a-z]|`cislearn )[^;()]*"
)
#: Flags a library message may still name, in words a web user can act on.
_FLAG_WORDS = {
    "--fixed-length": "training",
    "--data": "the data",
    "--pos": "the positives",
    "--neg": "the negatives",
    "--task": "the task",
    "--arch": "the model",
}
_FLAG = re.compile(r"`?--([a-z][a-z0-9-]*)`?")
#: Longest message shown; the job log keeps no more either.
MESSAGE_CHARS = 500


def web_message(text: str) -> str:
    """A library message as a web page or the API shows it: the first line only, without
    command-line hints (a web user has no flags), at most :data:`MESSAGE_CHARS` characters.

    Examples
    --------
    >>> web_message("line 2: 'X'; allowed: A C G T N (use --iupac-to-n to map IUPAC codes)")
    "line 2: 'X'; allowed: A C G T N"
    """
    lines = str(text).strip().splitlines()
    line = lines[0] if lines else ""
    line = _CLI_HINT.sub("", line)
    line = _CLI_CLAUSE.sub("", line)
    line = _FLAG.sub(lambda m: _FLAG_WORDS.get("--" + m[1], m[1].replace("-", " ")), line)
    if len(line) > MESSAGE_CHARS:
        line = line[: MESSAGE_CHARS - 1] + "…"
    return line.strip()


class ApiError(Exception):
    """An error answered as ``status`` with a stable machine ``code`` and a one-line message."""

    def __init__(
        self, status: int, code: str, message: str, *, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of every API error."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}
