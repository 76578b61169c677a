"""Validation of the integer options shared by the shuffles and the genomic background."""

from __future__ import annotations

import numpy as np

from cislearn.errors import ConfigError


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; got {value!r}")
