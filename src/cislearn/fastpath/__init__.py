"""The exact CPU fast path, in one place, and its one on/off switch.

Models of the form conv branches → position-wise ops → global pool → head (those whose
``local_parts()`` is not None) can be evaluated without the naive, full forward pass:

- :mod:`cislearn.fastpath.plan`: checks a model's ``local_parts()`` and splits each branch into
  its first convolution and the position-wise modules after it (shared by everything below);
- :mod:`cislearn.fastpath.codeconv`: prediction and one-substitution scoring straight from base
  codes (numba kernel), used by :mod:`cislearn.predict` and variant scoring;
- :mod:`cislearn.fastpath.mutagenesis` and :mod:`cislearn.fastpath.ismkernel`: substitution
  and full mutation-map scoring from one-hot inputs (torch block path and a numba kernel),
  used by :mod:`cislearn.interpret.ism`.

Every result equals the naive path to float32 rounding (tests compare them). The switch below
turns the whole fast path off at once (prediction, mutagenesis and variant scoring then run
the model's own forward pass): ``CISLEARN_FASTPATH=0`` in the environment, or
:func:`disabled` around a block.

Examples
--------
>>> from cislearn import fastpath
>>> with fastpath.disabled():
...     fastpath.enabled()
False
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ENV_VAR", "enabled", "disabled", "set_enabled"]

#: Environment variable: ``0`` (or ``false``/``no``/``off``) turns the fast path off.
ENV_VAR = "CISLEARN_FASTPATH"

_override: list[bool] = []  # stack of explicit settings (innermost last), process-wide


def enabled() -> bool:
    """True unless the fast path was switched off (:func:`disabled`, :func:`set_enabled`, or
    ``CISLEARN_FASTPATH=0``). Checked by every fast-path entry point on each call."""
    if _override:
        return _override[-1]
    return os.environ.get(ENV_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


def set_enabled(value: bool | None) -> None:
    """Switch the fast path on or off for the whole process; None → back to the environment."""
    _override.clear()
    if value is not None:
        _override.append(bool(value))


@contextmanager
def disabled() -> Iterator[None]:
    """Run the block on the naive path (the model's own forward pass) everywhere."""
    _override.append(False)
    try:
        yield
    finally:
        _override.pop()
