"""Keras-like text summary of a model (layers, output shapes, parameter counts) via torchinfo."""

from __future__ import annotations

import re

from torch import nn

__all__ = ["summarize"]


def summarize(model: nn.Module, *, length: int, n_tracks: int = 0) -> str:
    """A table of layers, output shapes and parameter counts, with totals.

    Runs one forward pass on a zero batch of shape (1, 4 + n_tracks, length) on the model's
    device; the model's train/eval mode is left as it was.

    Parameters
    ----------
    model : nn.Module
        A model from :func:`cislearn.models.build_model`.
    length : int
        Input length.
    n_tracks : int
        Extra per-base input channels.

    Returns
    -------
    str
        Multi-line table ending with total and trainable parameter counts.

    Examples
    --------
    >>> from cislearn.models import build_model
    >>> text = summarize(build_model("cnn", length=201, n_outputs=1), length=201)
    >>> "Total params" in text
    True
    """
    import torchinfo  # optional at import time: only the summary needs it

    param = next(model.parameters(), None)
    device = param.device if param is not None else "cpu"
    was_training = model.training
    try:
        stats = torchinfo.summary(
            model,
            input_size=(1, 4 + n_tracks, length),
            col_names=("output_size", "num_params"),
            depth=3,
            device=device,
            mode="eval",
            verbose=0,
        )
    finally:
        model.train(was_training)
    # torchinfo formats its unit enum as "(Units.MEGABYTES)" on Python >= 3.11; show "(M)"
    from torchinfo.enums import Units

    return re.sub(r"\(Units\.(\w+)\)", lambda m: f"({Units[m.group(1)].value})", str(stats))
