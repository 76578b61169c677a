"""The one device choice (the GPU when torch sees one, else the CPU) and model-state restore."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["gpu_available", "default_device", "resolve_device", "ModelSession"]


def gpu_available() -> bool:
    """True when torch sees a CUDA GPU."""
    return torch.cuda.is_available()


def default_device() -> torch.device:
    """The GPU when torch sees one, else the CPU: what ``device=None`` means everywhere."""
    return torch.device("cuda" if gpu_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a torch.device; None → :func:`default_device`.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    return default_device() if device is None else torch.device(device)


class ModelSession:
    """Model on the device in eval mode for the duration of a ``with`` block, then restored
    to its former device and train/eval mode.

    Examples
    --------
    >>> net = nn.Linear(2, 1)
    >>> with ModelSession(net, "cpu") as session:
    ...     session.device.type
    'cpu'
    """

    def __init__(self, model: nn.Module, device: Any) -> None:
        self.model = model
        self.device = resolve_device(device)
        first = next(model.parameters(), None)
        self.old_device = first.device if first is not None else self.device
        self.was_training = model.training

    def __enter__(self) -> ModelSession:
        self.model.to(self.device).eval()
        return self

    def __exit__(self, *exc: object) -> None:
        self.model.to(self.old_device).train(self.was_training)
