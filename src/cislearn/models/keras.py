"""Keras model import: a parsed ``model_config`` + weights → a layer-list or graph model spec.

The HDF5 file is read by :mod:`cislearn.io.keras`; single layers are translated by
:mod:`cislearn.models.keraslayers`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from cislearn.errors import ConfigError, ModelLoadError
from cislearn.io.keras import read_keras_file
from cislearn.models.bricks import Shape, infer_shapes
from cislearn.models.graph import node_shapes
from cislearn.models.keraslayers import ALIASES, KERAS_LAYERS, keras_error, layer_brick
from cislearn.models.registry import arch_config, build_model

__all__ = ["KERAS_LAYERS", "KerasModel", "read_keras", "convert_keras"]

#: Final activation → cislearn task (cislearn models output raw values; the task applies it).
_TASK_OF = {
    "sigmoid": "binary",
    "softmax": "multiclass",
    "linear": "regression",
    "softplus": "counts",
}


class KerasModel(NamedTuple):
    """A Keras model translated to a cislearn architecture, with converted weights."""

    arch: str
    """``layers`` (Sequential) or ``graph`` (functional Model)."""
    model: dict[str, Any]
    """Architecture parameters for :func:`cislearn.models.build_model`."""
    state_dict: dict[str, torch.Tensor]
    """Weights in the built model's parameter names (channels first, torch gate order)."""
    length: int
    n_outputs: int
    n_tracks: int
    task: str
    """From the final activation: sigmoid → binary/multilabel, softmax → multiclass,
    linear → regression, softplus → counts (the activation itself is dropped)."""
    info: dict[str, Any]
    """Keras version, class, final activation, per-layer mapping (for ``model.json``)."""

    def build(self) -> torch.nn.Module:
        """The cislearn model with the converted weights loaded (eval mode)."""
        model = build_model(
            self.arch,
            self.model,
            length=self.length,
            n_outputs=self.n_outputs,
            n_tracks=self.n_tracks,
        )
        model.load_state_dict(self.state_dict, strict=True)
        return model.eval()


# -- whole models --------------------------------------------------------------------------


def _input_shape(cfg: Mapping[str, Any]) -> list[Any] | None:
    for key in ("batch_input_shape", "batch_shape", "build_input_shape"):
        if cfg.get(key):
            return list(cfg[key])
    return None


def _inbound(layer: Mapping[str, Any]) -> list[str]:
    """Names of the layers feeding ``layer`` (Keras 2 lists or Keras 3 ``keras_history``)."""
    nodes = layer.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise keras_error(layer, "a layer called more than once (shared layer) is not supported")
    names: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, Mapping):
            if "keras_history" in obj:
                names.append(str(obj["keras_history"][0]))
                return
            for value in obj.values():
                walk(value)
        elif isinstance(obj, (list, tuple)):
            if len(obj) >= 3 and isinstance(obj[0], str) and isinstance(obj[1], int):
                names.append(obj[0])
                return
            for value in obj:
                walk(value)

    walk(nodes)
    return names


def _final_task(spec: dict[str, Any] | None, layer: Mapping[str, Any]) -> tuple[str, str]:
    """(task, final activation) of the output brick; strips the activation from ``spec``."""
    if spec is None or spec["type"] not in ("dense", "activation"):
        raise keras_error(layer, "the output layer must be Dense or Activation")
    key = "activation" if spec["type"] == "dense" else "name"
    act = spec[key]
    if act not in _TASK_OF:
        raise keras_error(
            layer,
            f"final activation '{act}' has no cislearn task; allowed: sigmoid, "
            "softmax, linear, softplus",
        )
    spec[key] = "linear"
    return _TASK_OF[act], act


def _input_of(layers: Sequence[Mapping[str, Any]]) -> tuple[int | None, int]:
    """(length or None, channels) of a Sequential model's declared input shape."""
    shape = None
    for layer in layers:
        shape = _input_shape(layer.get("config", {}))
        if shape:
            break
    if not shape or len(shape) != 3:
        raise ModelLoadError(
            f"Keras model: input shape {shape} is not (batch, length, channels) one-hot"
        )
    return shape[1], int(shape[2])


def _sanitise(name: str, taken: set[str]) -> str:
    clean = re.sub(r"[^0-9A-Za-z_]", "_", name) or "node"
    while clean in taken:
        clean += "_"
    taken.add(clean)
    return clean


def convert_keras(
    model_config: Mapping[str, Any],
    weights: Mapping[str, Sequence[tuple[str, np.ndarray]]],
    *,
    length: int | None = None,
) -> KerasModel:
    """Translate a parsed Keras ``model_config`` and its weights (pure, no file access).

    Parameters
    ----------
    model_config : mapping
        The JSON of the HDF5 ``model_config`` attribute.
    weights : mapping of layer name to list of (weight name, array)
        Arrays in the order of each layer's ``weight_names``.
    length : int, optional
        Input length when the model does not fix it.

    Returns
    -------
    KerasModel

    Raises
    ------
    ModelLoadError
        An unsupported layer or option (named), or weights that do not fit.
    """
    kind = model_config.get("class_name")
    cfg = model_config.get("config", {})
    if kind == "Sequential":
        layers = cfg["layers"] if isinstance(cfg, Mapping) else cfg  # Keras < 2.2.5: a list
        in_len, channels = _input_of([*layers, {"config": cfg}])
        specs: list[dict[str, Any]] = []
        state: dict[str, torch.Tensor] = {}
        mapping = []
        ndim = 2
        for layer in layers:
            layer = {**layer, "class_name": ALIASES.get(layer["class_name"], layer["class_name"])}
            if layer["class_name"] == "InputLayer":
                continue
            spec, tensors = layer_brick(layer, weights.get(layer["config"]["name"], []), ndim)
            state |= {f"layers.{len(specs)}.{k}": v for k, v in tensors.items()}
            mapping.append([layer["config"]["name"], layer["class_name"], spec["type"]])
            specs.append(spec)
            if spec["type"] in ("flatten", "global_max_pool", "global_avg_pool") or (
                spec["type"] in ("lstm", "gru", "rnn") and not spec["return_sequences"]
            ):
                ndim = 1
        if not specs:
            raise ModelLoadError("Keras model: no layers")
        task, final = _final_task(specs[-1], layers[-1])
        if specs[-1]["type"] == "activation":
            specs.pop()
        arch, params = "layers", {"layers": specs}
    elif kind in ("Model", "Functional"):
        arch, params, state, in_len, channels, task, final, mapping = _functional(cfg, weights)
    else:
        raise ModelLoadError(f"Keras model class '{kind}' is not supported (Sequential or Model)")
    if channels < 4:
        raise ModelLoadError(
            f"Keras model: input has {channels} channel(s); a one-hot DNA input has 4 "
            "(A, C, G, T) plus any extra tracks"
        )
    final_len = length if in_len is None else int(in_len)
    if final_len is None:
        raise ModelLoadError("Keras model: the input length is not fixed; give the length")
    if length is not None and in_len is not None and int(length) != int(in_len):
        raise ModelLoadError(f"Keras model: built for length {in_len}; got length {length}")
    try:
        n_outputs = _n_outputs(arch, params, final_len, channels)
        if task == "binary" and n_outputs > 1:
            task = "multilabel"
        probe = build_model(
            arch, params, length=final_len, n_outputs=n_outputs, n_tracks=channels - 4
        )
        probe.load_state_dict(state, strict=True)
    except ConfigError as exc:
        raise ModelLoadError(f"Keras model does not map onto cislearn: {exc}") from None
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ModelLoadError(f"Keras weights do not fit the translated model: {detail}") from None
    info = {"class_name": kind, "final_activation": final, "layers": mapping}
    return KerasModel(
        arch,
        probe.config.model_dump(mode="json"),
        state,
        final_len,
        n_outputs,
        channels - 4,
        task,
        info,
    )


def _n_outputs(arch: str, params: Mapping[str, Any], length: int, channels: int) -> int:
    """Width of the translated model's output, by shape inference."""
    config = arch_config(arch, params)
    start = Shape(True, channels, length)
    if arch == "layers":
        return infer_shapes(config.layers, start)[-1].channels
    plan = node_shapes(config, start._replace(channels=4), n_tracks=channels - 4, n_outputs=1)
    return plan[""][0].channels


def _functional(
    cfg: Mapping[str, Any], weights: Mapping[str, Sequence[tuple[str, np.ndarray]]]
) -> tuple[str, dict, dict, Any, int, str, str, list]:
    layers = {layer["config"]["name"]: layer for layer in cfg["layers"]}
    inputs = [entry[0] for entry in cfg.get("input_layers", [])]
    outputs = [entry[0] for entry in cfg.get("output_layers", [])]
    if (
        isinstance(cfg.get("input_layers"), list)
        and cfg["input_layers"]
        and isinstance(cfg["input_layers"][0], str)
    ):
        inputs = [cfg["input_layers"][0]]  # a single input stored flat
    if (
        isinstance(cfg.get("output_layers"), list)
        and cfg["output_layers"]
        and isinstance(cfg["output_layers"][0], str)
    ):
        outputs = [cfg["output_layers"][0]]
    if len(outputs) != 1:
        raise ModelLoadError(f"Keras model: {len(outputs)} outputs; only one is supported")
    if not 1 <= len(inputs) <= 2:
        raise ModelLoadError(
            f"Keras model: {len(inputs)} inputs; 1 (sequence) or 2 "
            "(sequence + per-base tracks) are supported"
        )
    shapes = {name: _input_shape(layers[name]["config"]) for name in inputs}
    for name, shape in shapes.items():
        if not shape or len(shape) != 3:
            raise ModelLoadError(
                f"Keras input '{name}': shape {shape} is not (batch, length, channels)"
            )
    rename: dict[str, str] = {}
    if len(inputs) == 1:
        rename[inputs[0]] = "input"
        channels = int(shapes[inputs[0]][2])
    else:
        seq = next((n for n in inputs if int(shapes[n][2]) == 4), None)
        if seq is None:
            raise ModelLoadError("Keras model: neither input has 4 (A, C, G, T) channels")
        other = next(n for n in inputs if n != seq)
        if shapes[seq][1] != shapes[other][1]:
            raise ModelLoadError(
                f"Keras model: inputs '{seq}' and '{other}' differ in length; extra inputs must "
                "be per-base tracks of the sequence's length"
            )
        rename |= {seq: "sequence", other: "tracks"}
        channels = 4 + int(shapes[other][2])
    in_len = shapes[inputs[0]][1]
    # topological order (Keras lists layers in creation order, which usually is one)
    order: list[str] = []
    done = set(inputs)
    pending = [n for n in layers if n not in done]
    while pending:
        ready = [n for n in pending if all(s in done for s in _inbound(layers[n]))]
        if not ready:
            raise ModelLoadError(f"Keras model: cannot order layers {pending[:3]} (cycle?)")
        for n in ready:
            order.append(n)
            done.add(n)
        pending = [n for n in pending if n not in done]
    taken = {"sequence", "tracks", "input"}
    nodes = []
    state: dict[str, torch.Tensor] = {}
    mapping = []
    ndim: dict[str, int] = {name: 2 for name in inputs}
    task = final = ""
    for name in order:
        layer = layers[name]
        layer = {**layer, "class_name": ALIASES.get(layer["class_name"], layer["class_name"])}
        kind = layer["class_name"]
        sources = _inbound(layer)
        in_dim = ndim[sources[0]] if sources else 2
        node = {"name": _sanitise(name, taken), "inputs": [rename[s] for s in sources]}
        if kind in ("Concatenate", "Add"):
            axis = layer["config"].get("axis", -1)
            if kind == "Concatenate" and axis not in (-1, in_dim):
                raise keras_error(
                    layer, f"concatenation on axis {axis}; only the channel axis (-1)"
                )
            node["merge"] = "concat" if kind == "Concatenate" else "add"
            spec = None
        else:
            if len(sources) != 1:
                raise keras_error(layer, f"expects one input; got {len(sources)}")
            spec, tensors = layer_brick(layer, weights.get(name, []), in_dim)
            state |= {f"nodes.{node['name']}.0.{k}": v for k, v in tensors.items()}
        if name == outputs[0]:
            task, final = _final_task(spec, layer)
            if spec is not None and spec["type"] == "activation":
                spec = None
        node["layers"] = [spec] if spec else []
        rename[name] = node["name"]
        out_dim = in_dim
        if spec and (
            spec["type"] in ("flatten", "global_max_pool", "global_avg_pool")
            or (spec["type"] in ("lstm", "gru", "rnn") and not spec["return_sequences"])
        ):
            out_dim = 1
        ndim[name] = out_dim
        nodes.append(node)
        mapping.append([name, kind, spec["type"] if spec else node.get("merge", "identity")])
    params = {"nodes": nodes, "output": rename[outputs[0]]}
    return "graph", params, state, in_len, channels, task, final, mapping


def read_keras(path: str | os.PathLike[str], *, length: int | None = None) -> KerasModel:
    """Read a Keras HDF5 model (``model.save(...h5)`` / R ``save_model_hdf5``) without TensorFlow.

    The architecture comes from the file's ``model_config`` attribute, the weights from its
    ``model_weights`` group (read by :func:`cislearn.io.keras.read_keras_file`). Keras works
    channels last on (length, 4) one-hot input in the order A, C, G, T; kernels are
    transposed to torch's channels-first layout and recurrent gates reordered (GRU z, r, h →
    torch r, z, n; LSTM i, f, c, o is torch's i, f, g, o).

    Parameters
    ----------
    path : path
        The ``.h5`` / ``.hdf5`` file.
    length : int, optional
        Input length, needed only when the model does not fix it.

    Returns
    -------
    KerasModel
        ``.build()`` gives the cislearn model with the weights loaded.

    Raises
    ------
    ModelLoadError
        Not an HDF5 Keras model, no ``model_config`` (a weights-only file), or a layer or
        option that cislearn does not map (named, with the supported list).

    Examples
    --------
    >>> km = read_keras("CNN1_model_CTCF.hdf5")  # doctest: +SKIP
    >>> km.arch, km.task, km.length  # doctest: +SKIP
    ('layers', 'binary', 201)
    """
    keras_file = read_keras_file(path)
    file = Path(path)
    try:
        result = convert_keras(keras_file.config, keras_file.weights, length=length)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{file}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelLoadError(f"{file}: unexpected Keras model layout ({exc!r})") from None
    result.info["keras_version"] = keras_file.keras_version
    return result
