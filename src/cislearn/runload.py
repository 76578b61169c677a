"""Loading any run folder for prediction: a deep model bundle or a classical baseline run."""

from __future__ import annotations

import os

import torch

from cislearn.baseline import is_baseline, load_predictor
from cislearn.predict import load as load_bundle
from cislearn.types import Predictor

__all__ = ["load_run", "load"]


def load_run(
    path: str | os.PathLike[str], *, device: str | torch.device | None = None
) -> Predictor:
    """Load a run folder for prediction, whichever kind it is (nothing is unpickled).

    Parameters
    ----------
    path : path
        A model bundle written by ``cislearn train`` (→ :class:`cislearn.predict.DeepPredictor`)
        or a baseline run folder written by ``cislearn baseline`` (→
        :class:`cislearn.baseline.BaselinePredictor`, which takes sequences of any length).
    device : str or torch.device, optional
        Where a deep model runs; None → the GPU when present, else the CPU. Baselines run on
        the CPU.

    Returns
    -------
    Predictor
        ``predictor.kind`` says which one it is.

    Raises
    ------
    ModelLoadError
        Missing or damaged files, an unknown format version, an architecture this version
        does not know, or weights that do not fit the described model.

    Examples
    --------
    >>> import cislearn
    >>> pred = cislearn.load("runs/ctcf")  # doctest: +SKIP
    >>> pred.kind, pred.task  # doctest: +SKIP
    ('deep', 'binary')
    """
    if is_baseline(path):
        return load_predictor(path)
    return load_bundle(path, device=device)


#: ``cislearn.load``: the same as :func:`load_run`.
load = load_run
