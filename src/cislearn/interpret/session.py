"""Inputs and model state shared by the interpretation functions: validated one-hot batches,
and the model on a device in eval mode for the length of a call."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from cislearn.errors import InputError
from cislearn.predict import default_device

__all__ = ["as_input", "ModelSession"]


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


class ModelSession:
    """Model on the device in eval mode for the duration of a ``with`` block, then restored."""

    def __init__(self, model: nn.Module, device: Any) -> None:
        self.model = model
        self.device = torch.device(device) if device is not None else default_device()
        first = next(model.parameters(), None)
        self.old_device = first.device if first is not None else self.device
        self.was_training = model.training

    def __enter__(self) -> ModelSession:
        self.model.to(self.device).eval()
        return self

    def __exit__(self, *exc: object) -> None:
        self.model.to(self.old_device).train(self.was_training)
