"""Inputs shared by the interpretation functions: validated one-hot batches (the model's device
and mode are handled by :class:`cislearn.device.ModelSession`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from cislearn.errors import InputError
from cislearn.models.layers import RCAverage, reverse_complement_batch

__all__ = ["as_input", "strand_mean", "strands_apart"]


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


def strands_apart(model: Any, explain: Any, x: Tensor) -> tuple[Any, Any] | None:
    """For a strand-averaged model (:class:`RCAverage`), ``explain(inner, x)`` and
    ``explain(inner, rc(x))`` with its one-strand network ``inner``; None for other models.

    DeepLIFT/SHAP (tangermeme) pairs each input with its references inside one batch at
    every nonlinearity; the wrapper's stacked strands would break that pairing, so the two
    strands are explained apart and the caller averages them (:func:`strand_mean`).
    """
    if not isinstance(model, RCAverage):
        return None
    return explain(model.model, x), explain(model.model, reverse_complement_batch(x))


def strand_mean(forward: np.ndarray, reverse: np.ndarray) -> np.ndarray:
    """Mean of per-base maps (n, C, L) of x and of rc(x), the latter put back on x's strand."""
    back = reverse_complement_batch(torch.from_numpy(np.ascontiguousarray(reverse))).numpy()
    return (0.5 * (forward + back)).astype(np.float32)
