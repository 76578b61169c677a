"""Inputs shared by the interpretation functions: validated one-hot batches (the model's device
and mode are handled by :class:`cislearn.device.ModelSession`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from cislearn.errors import InputError

__all__ = ["as_input"]


def as_input(x: Any) -> Tensor:
    """Validate a one-hot batch: float array/tensor of shape (n, C >= 4, L) → float32 Tensor."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[1] < 4:
        found = f"shape {tuple(x.shape)}" if hasattr(x, "shape") else type(x).__name__
        raise InputError(f"x: expected a one-hot array of shape (n, 4 + tracks, L); got {found}")
    if not x.is_floating_point():
        raise InputError(f"x: expected a float array (one-hot); got dtype {x.dtype}")
    return x.detach().float()
