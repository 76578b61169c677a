"""Third-party warnings (tangermeme, captum) collected during a call and summarised in one line."""

from __future__ import annotations

import logging
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CapturedWarnings", "captured_warnings"]

_LOG = logging.getLogger("cislearn.interpret")
_NUMBER = re.compile(r"[-+]?\d[\d.eE+-]*")


class CapturedWarnings:
    """Warnings raised inside :func:`captured_warnings`, counted by their first line with
    numbers replaced by ``#`` (so "deltas are 12.1%" and "deltas are 17.6%" count together)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    @property
    def total(self) -> int:
        """Number of warnings raised."""
        return sum(self.counts.values())

    def summary(self) -> str:
        """One line: the count and the most frequent message (cut to 120 characters)."""
        if not self.counts:
            return "no warnings"
        text, n = self.counts.most_common(1)[0]
        return f"{self.total} warnings, most often ({n}x): {text[:120]}"


@contextmanager
def captured_warnings(what: str, *, log: bool = True) -> Iterator[CapturedWarnings]:
    """Collect every warning raised in the block instead of printing each one.

    Parameters
    ----------
    what : str
        Names the call in the summary logged at the end (e.g. ``"DeepLIFT/SHAP"``).
    log : bool
        Log one ``WARNING`` line with the summary when any warning was raised.

    Examples
    --------
    >>> with captured_warnings("demo", log=False) as seen:
    ...     warnings.warn("noisy")
    >>> seen.total
    1
    """
    seen = CapturedWarnings()
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        yield seen
    for rec in records:
        text = str(rec.message).splitlines()[0] if str(rec.message) else "warning"
        seen.counts[_NUMBER.sub("#", text)] += 1
    if log and seen.total:
        _LOG.warning("%s: %s", what, seen.summary())
