"""The architecture registry: name → (config class, module class), config validation, build."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from torch import nn

from cislearn.errors import ConfigError
from cislearn.models.basset import Basset, BassetConfig
from cislearn.models.cnn import CNN, CNNConfig, CNNDeep, CNNDeepConfig, CNNMulti, CNNMultiConfig
from cislearn.models.graph import Graph, GraphConfig
from cislearn.models.hybrid import Hybrid, HybridConfig
from cislearn.models.layerlist import LayerList, LayerListConfig
from cislearn.models.layers import ArchConfig, RCAverage, SequenceModel
from cislearn.models.resnet import ResNet, ResNetConfig
from cislearn.models.rnn import CNNLSTM, RNN, CNNLSTMConfig, RNNConfig
from cislearn.models.transformer import Transformer, TransformerConfig
from cislearn.models.widedeep import WideDeep, WideDeepConfig

__all__ = ["REGISTRY", "ARCHITECTURES", "arch_config", "build_model", "model_class"]

#: Every architecture by name. Adding one: write its module (config + SequenceModel
#: subclass), add a line here, add it to the parametrised tests in tests/test_models.py.
REGISTRY: dict[str, tuple[type[ArchConfig], type[SequenceModel]]] = {
    "cnn": (CNNConfig, CNN),
    "cnn-multi": (CNNMultiConfig, CNNMulti),
    "cnn-deep": (CNNDeepConfig, CNNDeep),
    "lstm": (RNNConfig, RNN),
    "cnn-lstm": (CNNLSTMConfig, CNNLSTM),
    "basset": (BassetConfig, Basset),
    "resnet": (ResNetConfig, ResNet),
    "transformer": (TransformerConfig, Transformer),
    "hybrid": (HybridConfig, Hybrid),
    "layers": (LayerListConfig, LayerList),
    "graph": (GraphConfig, Graph),
    "wide-deep": (WideDeepConfig, WideDeep),
}

ARCHITECTURES: tuple[str, ...] = tuple(REGISTRY)


def _entry(arch: str) -> tuple[type[ArchConfig], type[SequenceModel]]:
    if arch not in REGISTRY:
        hint = difflib.get_close_matches(str(arch), ARCHITECTURES, n=1)
        did = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigError(
            f"model.arch: unknown architecture {arch!r}{did}; allowed: {', '.join(ARCHITECTURES)}"
        )
    return REGISTRY[arch]


def model_class(arch: str) -> type[SequenceModel]:
    """The module class registered under ``arch`` (ConfigError if unknown)."""
    return _entry(arch)[1]


_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}


def _describe(error: Mapping[str, Any], arch: str, allowed: list[str]) -> str:
    """One pydantic error as ``model.key: problem (got value)``."""
    loc = error.get("loc", ())
    key = "model" + "".join(f".{part}" if isinstance(part, str) else f"[{part}]" for part in loc)
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    got = f" (got {error.get('input')!r})"
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else ""
        hint = difflib.get_close_matches(name, allowed, n=1)
        did = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"{key}: unknown key for arch {arch!r}{did}; allowed: {', '.join(allowed)}"
    if kind in _BOUNDS:
        name, symbol = _BOUNDS[kind]
        return f"{key}: must be {symbol} {ctx.get(name)}{got}"
    if kind == "literal_error":
        return f"{key}: must be one of {ctx.get('expected')}{got}"
    if kind == "too_short":
        return f"{key}: needs at least {ctx.get('min_length')} value(s){got}"
    if kind == "too_long":
        return f"{key}: takes at most {ctx.get('max_length')} value(s){got}"
    if kind in ("tuple_type", "list_type"):
        return f"{key}: must be a list of values{got}"
    if kind.startswith(("int_", "float_", "bool_")):
        wanted = {"int": "an integer", "float": "a number", "bool": "true or false"}
        return f"{key}: must be {wanted[kind.split('_')[0]]}{got}"
    if kind == "value_error":
        message = str(ctx.get("error", error.get("msg", "")))
        # a nested config (layer lists, graphs) names its own sub-key: model.layers[2].dense...
        head = str(loc[-1]) if loc else ""
        if re.match(r"[a-z_]+[\[.]", message) and (not head or message.startswith(head)):
            return key.rsplit(".", 1)[0] + "." + message if head else f"model.{message}"
        return f"{key}: {message}"
    return f"{key}: {error.get('msg', 'invalid value')}{got}"


def arch_config(arch: str, params: Mapping[str, Any] | BaseModel | None = None) -> ArchConfig:
    """Validate the options of an architecture.

    Parameters
    ----------
    arch : str
        One of :data:`ARCHITECTURES`.
    params : mapping or config model, optional
        Options to override the defaults (a config model is re-validated via its dump).

    Returns
    -------
    ArchConfig
        The architecture's frozen pydantic config with every field filled in.

    Raises
    ------
    ConfigError
        Unknown architecture, unknown key or bad value, as one line such as
        ``model.filters: must be > 0 (got -3)``.

    Examples
    --------
    >>> arch_config("cnn", {"filters": 32}).filters
    32
    """
    config_class, _ = _entry(arch)
    if isinstance(params, BaseModel):
        params = params.model_dump()
    if params is not None and not isinstance(params, Mapping):
        raise ConfigError(f"model: options must be a mapping of key to value; got {params!r}")
    try:
        return config_class.model_validate(dict(params or {}))
    except ValidationError as exc:
        allowed = sorted(config_class.model_fields)
        problems = [_describe(err, arch, allowed) for err in exc.errors()]
        raise ConfigError("; ".join(problems)) from None


def build_model(
    arch: str,
    params: Mapping[str, Any] | BaseModel | None = None,
    *,
    length: int,
    n_outputs: int,
    n_tracks: int = 0,
) -> nn.Module:
    """Build an untrained model from an architecture name and options.

    Parameters
    ----------
    arch : str
        One of :data:`ARCHITECTURES`.
    params : mapping or config model, optional
        Architecture options (see each config class); defaults when None.
    length : int
        Input length in bp; must be at least the architecture's minimum for this config.
    n_outputs : int
        Width of the output (targets, or classes for multiclass).
    n_tracks : int
        Extra per-base input channels after A, C, G, T.

    Returns
    -------
    nn.Module
        A :class:`SequenceModel` (or an :class:`RCAverage` around one when
        ``rc_average`` is set) mapping (N, 4 + n_tracks, length) to (N, n_outputs), with
        attributes ``arch``, ``config``, ``length``, ``n_outputs`` and ``n_tracks``.
        ``build_model(m.arch, m.config, length=m.length, n_outputs=m.n_outputs,
        n_tracks=m.n_tracks)`` rebuilds the same module tree (same state-dict keys).

    Raises
    ------
    ConfigError
        Unknown architecture, bad option, or a length / track count the architecture
        cannot take.

    Examples
    --------
    >>> import torch
    >>> model = build_model("cnn", {"filters": 32}, length=201, n_outputs=1)
    >>> model(torch.zeros(8, 4, 201)).shape
    torch.Size([8, 1])
    """
    config = arch_config(arch, params)
    model = model_class(arch)(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
    return RCAverage(model) if config.rc_average else model
