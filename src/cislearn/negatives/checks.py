"""Validation of the integer options shared by the shuffles and the genomic background."""

from __future__ import annotations

import numpy as np

from cislearn.errors import ConfigError


def check_int(name: str, value: object, minimum: int) -> None:
    """Raise ConfigError naming ``name`` unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}; got {value!r}")
