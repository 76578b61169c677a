"""Keras layer → cislearn brick: one layer's config and weights translated (pure, no file access).

:mod:`cislearn.models.keras` walks whole models with these; weights come channels last and
are transposed to torch's channels-first layout, recurrent gates reordered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from cislearn.errors import ModelLoadError

__all__ = ["KERAS_LAYERS", "ALIASES", "keras_error", "layer_brick"]

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
ALIASES = {"Convolution1D": "Conv1D", "MaxPool1D": "MaxPooling1D", "AvgPool1D": "AveragePooling1D"}
_ACTIVATIONS = {
    "linear": "linear",
    "relu": "relu",
    "elu": "elu",
    "tanh": "tanh",
    "sigmoid": "sigmoid",
    "softplus": "softplus",
    "gelu": "gelu",
}


def keras_error(layer: Mapping[str, Any], why: str) -> ModelLoadError:
    """The error for an unsupported layer or option, naming the layer and its class."""
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
        raise keras_error(
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
        raise keras_error(layer, "go_backwards, return_state and stateful RNNs are not supported")
    act = cfg.get("activation", "tanh")
    if kind != "SimpleRNN" and act != "tanh":
        raise keras_error(layer, f"activation must be tanh (torch's {kind}); got {act}")
    if kind != "SimpleRNN" and cfg.get("recurrent_activation", "sigmoid") != "sigmoid":
        raise keras_error(
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
            raise keras_error(
                layer,
                "GRU with reset_after=False has no torch equivalent (torch's GRU is the "
                "reset_after=True form, the Keras 2.3+ default); retrain with reset_after=True",
            )
        bias = bias.reshape(2, -1) if bias.ndim == 2 or bias.size == 6 * units else None
        if bias is None:
            raise keras_error(layer, "GRU bias should have shape (2, 3 * units) with reset_after")
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


def layer_brick(
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
        raise keras_error(layer, "only data_format channels_last is supported")
    if kind == "Conv1D":
        padding = cfg.get("padding", "valid")
        if padding not in ("valid", "same") or cfg.get("groups", 1) != 1:
            raise keras_error(layer, f"padding '{padding}' / grouped convolution is not supported")
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
            raise keras_error(layer, "softmax over conv channels is not supported")
        # Keras kernel (width, in, filters) → torch (filters, in, width)
        tensors = {"conv.weight": _t(w["kernel"].transpose(2, 1, 0))}
        if spec["bias"]:
            tensors["conv.bias"] = _t(w["bias"])
        return spec, tensors
    if kind in ("MaxPooling1D", "AveragePooling1D"):
        if cfg.get("padding", "valid") != "valid":
            raise keras_error(layer, "pooling with padding 'same' is not supported (use valid)")
        size = _int(cfg.get("pool_size", 2))
        stride = _int(cfg.get("strides") or size)
        name = "maxpool1d" if kind == "MaxPooling1D" else "avgpool1d"
        return {"type": name, "size": size, "stride": stride}, {}
    if kind in ("GlobalMaxPooling1D", "GlobalAveragePooling1D"):
        if cfg.get("keepdims"):
            raise keras_error(layer, "keepdims=True is not supported")
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
            raise keras_error(
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
                raise keras_error(layer, f"SimpleRNN activation must be tanh or relu; got {act}")
            spec["activation"] = act
        return spec, _recurrent(layer, {**cfg, "__class__": kind}, w, "")
    if kind == "Bidirectional":
        inner = cfg.get("layer", {})
        inner_kind = inner.get("class_name")
        if inner_kind not in ("LSTM", "GRU", "SimpleRNN"):
            raise keras_error(
                layer, f"wraps {inner_kind}; only LSTM, GRU and SimpleRNN are supported"
            )
        if cfg.get("merge_mode", "concat") != "concat":
            raise keras_error(
                layer, f"merge_mode {cfg.get('merge_mode')!r}; only 'concat' is supported"
            )
        forward = [(n, v) for n, v in weights if "backward" not in n.rsplit("/", 2)[-2]]
        backward = [(n, v) for n, v in weights if "backward" in n.rsplit("/", 2)[-2]]
        if not backward or len(forward) != len(backward):
            raise keras_error(layer, "cannot tell forward from backward weights by name")
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
    raise keras_error(
        layer,
        f"layer class '{kind}' is not supported; supported: {', '.join(KERAS_LAYERS)}",
    )
