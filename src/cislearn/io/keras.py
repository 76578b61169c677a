"""Keras HDF5 files (``model.save('model.h5')`` / R ``save_model_hdf5``) read with h5py:
the ``model_config`` JSON and every layer's weights, without TensorFlow."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cislearn.errors import ModelLoadError

__all__ = ["KerasFile", "read_keras_file"]


class KerasFile(NamedTuple):
    """The parts of a Keras HDF5 model file that describe the model."""

    config: dict[str, Any]
    """The parsed ``model_config`` attribute."""
    weights: dict[str, list[tuple[str, np.ndarray]]]
    """Layer name → (weight name, array) in the order of the layer's ``weight_names``."""
    keras_version: str
    """The ``keras_version`` attribute ("" when absent)."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_weights(group: Any) -> dict[str, list[tuple[str, np.ndarray]]]:
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for raw in group.attrs.get("layer_names", []):
        name = _text(raw)
        layer = group[name]
        names = [_text(n) for n in layer.attrs.get("weight_names", [])]
        out[name] = [(n, np.asarray(layer[n][()])) for n in names]
    return out


def read_keras_file(path: str | os.PathLike[str]) -> KerasFile:
    """Read the model config and weights of a Keras HDF5 file.

    Parameters
    ----------
    path : path
        The ``.h5`` / ``.hdf5`` file.

    Returns
    -------
    KerasFile

    Raises
    ------
    ModelLoadError
        Missing file, not HDF5 (e.g. a Keras 3 ``.keras`` zip), no ``model_config`` (a
        weights-only file) or a config that is not JSON.

    Examples
    --------
    >>> kf = read_keras_file("CNN1_model_CTCF.hdf5")  # doctest: +SKIP
    >>> kf.config["class_name"]  # doctest: +SKIP
    'Sequential'
    """
    import h5py  # optional at import time: only Keras import needs it

    file = Path(path)
    if not file.is_file():
        raise ModelLoadError(f"{file}: no such file")
    try:
        handle = h5py.File(file, "r")
    except OSError as exc:
        raise ModelLoadError(
            f"{file}: not an HDF5 file ({exc}); Keras 3 '.keras' zip files are not supported, "
            "save with model.save('model.h5') instead"
        ) from None
    with handle:
        text = handle.attrs.get("model_config")
        if text is None:
            raise ModelLoadError(
                f"{file}: no model_config attribute (a weights-only file?); save the whole "
                "model with model.save / save_model_hdf5"
            )
        try:
            config = json.loads(_text(text))
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{file}: model_config is not valid JSON ({exc.msg})") from None
        group = handle["model_weights"] if "model_weights" in handle else handle
        weights = _read_weights(group)
        version = _text(handle.attrs.get("keras_version", b""))
    return KerasFile(config, weights, version)
