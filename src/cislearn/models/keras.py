"""Keras HDF5 import: ``model_config`` + weights (read with h5py) → a layer-list or graph model."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from cislearn.errors import ConfigError, ModelLoadError
from cislearn.models.bricks import Shape, infer_shapes
from cislearn.models.graph import node_shapes
from cislearn.models.registry import arch_config, build_model

__all__ = ["KERAS_LAYERS", "KerasModel", "read_keras", "convert_keras"]

#: Keras layer classes the importer maps (anything else is refused by name).
KERAS_LAYERS: tuple[str, ...] = (
    "InputLayer",
    "Conv1D",
    "MaxPooling1D",
    "AveragePooling1D",
    "GlobalMaxPooling1D",
    "GlobalAveragePooling1D",
    "Dropout",
    "Dense",
    "Flatten",
    "Activation",
    "BatchNormalization",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "Bidirectional",
    "Concatenate",
    "Add",
)
_ALIASES = {"Convolution1D": "Conv1D", "MaxPool1D": "MaxPooling1D", "AvgPool1D": "AveragePooling1D"}
_ACTIVATIONS = {
    "linear": "linear",
    "relu": "relu",
    "elu": "elu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "softplus": "softplus",
    "gelu": "gelu",
}
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


def _fail(layer: Mapping[str, Any], why: str) -> ModelLoadError:
    name = layer.get("config", {}).get("name", "?")
    return ModelLoadError(f"Keras layer '{name}' ({layer.get('class_name')}): {why}")


def _int(value: Any) -> int:
    return int(value[0]) if isinstance(value, (list, tuple)) else int(value)


def _activation(layer: Mapping[str, Any], name: Any) -> str:
    if isinstance(name, Mapping):  # Keras 3 may store {"class_name": ..., "config": ...}
        name = name.get("config", {}).get("name", name.get("class_name"))
    if name == "softmax":
        return "softmax"
    if name not in _ACTIVATIONS:
        raise _fail(
            layer, f"activation '{name}' is not supported; allowed: {', '.join(_ACTIVATIONS)}"
        )
    return _ACTIVATIONS[str(name)]


def _by_suffix(weights: Sequence[tuple[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``.../kernel:0`` → ``kernel``; one Keras layer's weights by short name."""
    out = {}
    for name, value in weights:
        short = name.rsplit("/", 1)[-1].split(":")[0]
        out[short] = np.asarray(value, dtype=np.float32)
    return out


def _t(value: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))


def _gru_order(value: np.ndarray) -> np.ndarray:
    """Keras GRU gate blocks (z, r, h) on the last axis → torch's (r, z, n)."""
    z, r, h = np.split(value, 3, axis=-1)
    return np.concatenate([r, z, h], axis=-1)


def _recurrent(
    layer: Mapping[str, Any], cfg: Mapping[str, Any], w: dict[str, np.ndarray], suffix: str
) -> dict[str, torch.Tensor]:
    """Weights of one LSTM / GRU / SimpleRNN direction as torch ``rnn.*_l0{suffix}`` tensors."""
    kind = cfg["__class__"]
    if cfg.get("go_backwards") or cfg.get("return_state") or cfg.get("stateful"):
        raise _fail(layer, "go_backwards, return_state and stateful RNNs are not supported")
    act = cfg.get("activation", "tanh")
    if kind != "SimpleRNN" and act != "tanh":
        raise _fail(layer, f"activation must be tanh (torch's {kind}); got {act}")
    if kind != "SimpleRNN" and cfg.get("recurrent_activation", "sigmoid") != "sigmoid":
        raise _fail(
            layer,
            f"recurrent_activation {cfg.get('recurrent_activation')} (torch uses sigmoid; "
            "Keras < 2.3 defaulted to hard_sigmoid)",
        )
    kernel, recurrent = w["kernel"], w["recurrent_kernel"]
    units = recurrent.shape[0]
    gates = {"LSTM": 4, "GRU": 3, "SimpleRNN": 1}[kind]
    bias = w.get("bias", np.zeros(gates * units, np.float32))
    if kind == "GRU":
        if not cfg.get("reset_after", False):
            raise _fail(
                layer,
                "GRU with reset_after=False has no torch equivalent (torch's GRU is the "
                "reset_after=True form, the Keras 2.3+ default); retrain with reset_after=True",
            )
        bias = bias.reshape(2, -1) if bias.ndim == 2 or bias.size == 6 * units else None
        if bias is None:
            raise _fail(layer, "GRU bias should have shape (2, 3 * units) with reset_after")
        kernel, recurrent = _gru_order(kernel), _gru_order(recurrent)
        b_ih, b_hh = _gru_order(bias[0]), _gru_order(bias[1])
    else:
        b_ih, b_hh = bias, np.zeros_like(bias)  # Keras has one bias; torch adds two
    return {
        f"rnn.weight_ih_l0{suffix}": _t(kernel.T),
        f"rnn.weight_hh_l0{suffix}": _t(recurrent.T),
        f"rnn.bias_ih_l0{suffix}": _t(b_ih),
        f"rnn.bias_hh_l0{suffix}": _t(b_hh),
    }


def _brick(
    layer: Mapping[str, Any], weights: Sequence[tuple[str, np.ndarray]], ndim: int
) -> tuple[dict[str, Any] | None, dict[str, torch.Tensor]]:
    """One Keras layer → (brick spec, tensors named relative to the brick's module).

    ``ndim`` is the rank of the layer's input without the batch axis (2: (L, C), 1: (F,)).
    A None brick means the layer maps to nothing (InputLayer) or to a graph merge.
    """
    kind = layer["class_name"]
    cfg = layer.get("config", {})
    w = _by_suffix(weights)
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise _fail(layer, "only data_format channels_last is supported")
    if kind == "Conv1D":
        padding = cfg.get("padding", "valid")
        if padding not in ("valid", "same") or cfg.get("groups", 1) != 1:
            raise _fail(layer, f"padding '{padding}' / grouped convolution is not supported")
        spec = {
            "type": "conv1d",
            "filters": int(cfg["filters"]),
            "width": _int(cfg["kernel_size"]),
            "stride": _int(cfg.get("strides", 1)),
            "padding": padding,
            "dilation": _int(cfg.get("dilation_rate", 1)),
            "activation": _activation(layer, cfg.get("activation", "linear")),
            "bias": bool(cfg.get("use_bias", True)),
        }
        if spec["activation"] == "softmax":
            raise _fail(layer, "softmax over conv channels is not supported")
        # Keras kernel (width, in, filters) → torch (filters, in, width)
        tensors = {"conv.weight": _t(w["kernel"].transpose(2, 1, 0))}
        if spec["bias"]:
            tensors["conv.bias"] = _t(w["bias"])
        return spec, tensors
    if kind in ("MaxPooling1D", "AveragePooling1D"):
        if cfg.get("padding", "valid") != "valid":
            raise _fail(layer, "pooling with padding 'same' is not supported (use valid)")
        size = _int(cfg.get("pool_size", 2))
        stride = _int(cfg.get("strides") or size)
        name = "maxpool1d" if kind == "MaxPooling1D" else "avgpool1d"
        return {"type": name, "size": size, "stride": stride}, {}
    if kind in ("GlobalMaxPooling1D", "GlobalAveragePooling1D"):
        if cfg.get("keepdims"):
            raise _fail(layer, "keepdims=True is not supported")
        return {"type": "global_max_pool" if "Max" in kind else "global_avg_pool"}, {}
    if kind == "Dropout":
        return {"type": "dropout", "rate": float(cfg.get("rate", 0.5))}, {}
    if kind == "Flatten":
        return {"type": "flatten"}, {}
    if kind == "Dense":
        spec = {
            "type": "dense",
            "units": int(cfg["units"]),
            "activation": _activation(layer, cfg.get("activation", "linear")),
            "bias": bool(cfg.get("use_bias", True)),
        }
        tensors = {"linear.weight": _t(w["kernel"].T)}
        if spec["bias"]:
            tensors["linear.bias"] = _t(w["bias"])
        return spec, tensors
    if kind == "Activation":
        return {"type": "activation", "name": _activation(layer, cfg.get("activation"))}, {}
    if kind == "BatchNormalization":
        axis = cfg.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if axis not in (-1, ndim):
            raise _fail(
                layer, f"only normalisation over channels (axis -1) is supported; got {axis}"
            )
        mean, var = w["moving_mean"], w["moving_variance"]
        gamma = w.get("gamma", np.ones_like(mean)) if cfg.get("scale", True) else np.ones_like(mean)
        beta = (
            w.get("beta", np.zeros_like(mean)) if cfg.get("center", True) else np.zeros_like(mean)
        )
        spec = {
            "type": "batchnorm",
            "eps": float(cfg.get("epsilon", 1e-3)),
            "momentum": float(1.0 - cfg.get("momentum", 0.99)),
        }
        tensors = {
            "norm.weight": _t(gamma),
            "norm.bias": _t(beta),
            "norm.running_mean": _t(mean),
            "norm.running_var": _t(var),
            "norm.num_batches_tracked": torch.tensor(0),
        }
        return spec, tensors
    if kind in ("LSTM", "GRU", "SimpleRNN"):
        spec = {
            "type": {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}[kind],
            "units": int(cfg["units"]),
            "return_sequences": bool(cfg.get("return_sequences", False)),
        }
        if kind == "SimpleRNN":
            act = cfg.get("activation", "tanh")
            if act not in ("tanh", "relu"):
                raise _fail(layer, f"SimpleRNN activation must be tanh or relu; got {act}")
            spec["activation"] = act
        return spec, _recurrent(layer, {**cfg, "__class__": kind}, w, "")
    if kind == "Bidirectional":
        inner = cfg.get("layer", {})
        inner_kind = inner.get("class_name")
        if inner_kind not in ("LSTM", "GRU", "SimpleRNN"):
            raise _fail(layer, f"wraps {inner_kind}; only LSTM, GRU and SimpleRNN are supported")
        if cfg.get("merge_mode", "concat") != "concat":
            raise _fail(layer, f"merge_mode {cfg.get('merge_mode')!r}; only 'concat' is supported")
        forward = [(n, v) for n, v in weights if "backward" not in n.rsplit("/", 2)[-2]]
        backward = [(n, v) for n, v in weights if "backward" in n.rsplit("/", 2)[-2]]
        if not backward or len(forward) != len(backward):
            raise _fail(layer, "cannot tell forward from backward weights by name")
        icfg = {**inner.get("config", {}), "__class__": inner_kind}
        spec = {
            "type": {"LSTM": "lstm", "GRU": "gru", "SimpleRNN": "rnn"}[inner_kind],
            "units": int(icfg["units"]),
            "return_sequences": bool(icfg.get("return_sequences", False)),
            "bidirectional": True,
        }
        if inner_kind == "SimpleRNN":
            spec["activation"] = icfg.get("activation", "tanh")
        icfg["go_backwards"] = False  # Keras sets it on the backward copy; torch reverses itself
        tensors = _recurrent(layer, icfg, _by_suffix(forward), "")
        tensors |= _recurrent(layer, icfg, _by_suffix(backward), "_reverse")
        return spec, tensors
    raise _fail(
        layer,
        f"layer class '{kind}' is not supported; supported: {', '.join(KERAS_LAYERS)}",
    )


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
        raise _fail(layer, "a layer called more than once (shared layer) is not supported")
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
        raise _fail(layer, "the output layer must be Dense or Activation")
    key = "activation" if spec["type"] == "dense" else "name"
    act = spec[key]
    if act not in _TASK_OF:
        raise _fail(
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
            layer = {**layer, "class_name": _ALIASES.get(layer["class_name"], layer["class_name"])}
            if layer["class_name"] == "InputLayer":
                continue
            spec, tensors = _brick(layer, weights.get(layer["config"]["name"], []), ndim)
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
        layer = {**layer, "class_name": _ALIASES.get(layer["class_name"], layer["class_name"])}
        kind = layer["class_name"]
        sources = _inbound(layer)
        in_dim = ndim[sources[0]] if sources else 2
        node = {"name": _sanitise(name, taken), "inputs": [rename[s] for s in sources]}
        if kind in ("Concatenate", "Add"):
            axis = layer["config"].get("axis", -1)
            if kind == "Concatenate" and axis not in (-1, in_dim):
                raise _fail(layer, f"concatenation on axis {axis}; only the channel axis (-1)")
            node["merge"] = "concat" if kind == "Concatenate" else "add"
            spec = None
        else:
            if len(sources) != 1:
                raise _fail(layer, f"expects one input; got {len(sources)}")
            spec, tensors = _brick(layer, weights.get(name, []), in_dim)
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


def _read_weights(group: Any) -> dict[str, list[tuple[str, np.ndarray]]]:
    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for raw in group.attrs.get("layer_names", []):
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        layer = group[name]
        names = [
            n.decode() if isinstance(n, bytes) else str(n)
            for n in layer.attrs.get("weight_names", [])
        ]
        out[name] = [(n, np.asarray(layer[n][()])) for n in names]
    return out


def read_keras(path: str | os.PathLike[str], *, length: int | None = None) -> KerasModel:
    """Read a Keras HDF5 model (``model.save(...h5)`` / R ``save_model_hdf5``) without TensorFlow.

    The architecture comes from the file's ``model_config`` attribute, the weights from its
    ``model_weights`` group (read with h5py). Keras works channels last on (length, 4)
    one-hot input in the order A, C, G, T; kernels are transposed to torch's channels-first
    layout and recurrent gates reordered (GRU z, r, h → torch r, z, n; LSTM i, f, c, o is
    torch's i, f, g, o).

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
    import h5py

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
        text = text.decode() if isinstance(text, bytes) else str(text)
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{file}: model_config is not valid JSON ({exc.msg})") from None
        group = handle["model_weights"] if "model_weights" in handle else handle
        weights = _read_weights(group)
        version = handle.attrs.get("keras_version", b"")
        version = version.decode() if isinstance(version, bytes) else str(version)
    try:
        result = convert_keras(config, weights, length=length)
    except ModelLoadError as exc:
        raise ModelLoadError(f"{file}: {exc}") from None
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelLoadError(f"{file}: unexpected Keras model layout ({exc!r})") from None
    result.info["keras_version"] = version
    return result
