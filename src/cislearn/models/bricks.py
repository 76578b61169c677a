"""Bricks of layer lists and graphs: a config per kind (shape rule + torch module) and parsing."""

from __future__ import annotations

import difflib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, ValidationError, field_validator
from torch import nn

from cislearn.errors import ConfigError
from cislearn.models.brickmodules import (
    Dense,
    Flatten,
    KmerEmbedding,
    Maxout,
    Residual,
    SelfAttention,
    Shape,
    ShapeError,
    layer_activation,
    need_seq,
    window_length,
)
from cislearn.models.layers import DropoutRate, GlobalPool, PosInt, conv1d
from cislearn.models.rnn import RecurrentEncoder

__all__ = [
    "BRICKS",
    "BrickConfig",
    "POSITIONWISE_BRICKS",
    "error_text",
    "Brick",
    "Shape",
    "parse_bricks",
    "infer_shapes",
    "build_stack",
]

#: Activations a conv1d / dense / activation brick accepts (``linear`` = none).
LayerActivation = Literal[
    "linear", "relu", "elu", "leaky_relu", "gelu", "tanh", "sigmoid", "softplus"
]


# -- bricks: a frozen config per kind, with its shape rule and its torch module -------------


class BrickConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:  # pragma: no cover - abstract
        raise NotImplementedError

    def module(self, shape: Shape) -> nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError


class Conv1dBrick(BrickConfig):
    """``conv1d``: filters of ``width`` over (C, L) → (filters, L'); Keras Conv1D."""

    type: Literal["conv1d"] = "conv1d"
    filters: PosInt
    width: PosInt
    stride: PosInt = 1
    padding: Literal["valid", "same"] = "valid"
    dilation: PosInt = 1
    activation: LayerActivation = "linear"
    bias: bool = True

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        need_seq(shape, "conv1d")
        if self.padding == "same":
            if self.stride != 1:
                raise ShapeError("padding 'same' needs stride 1")
            return Shape(True, self.filters, shape.length)
        return Shape(
            True, self.filters, window_length(shape.length, self.width, self.stride, self.dilation)
        )

    def module(self, shape: Shape) -> nn.Module:
        conv = conv1d(
            shape.channels,
            self.filters,
            self.width,
            padding=self.padding,
            dilation=self.dilation,
            bias=self.bias,
        )
        conv.stride = (self.stride,)
        parts: OrderedDict[str, nn.Module] = OrderedDict(conv=conv)
        if self.activation != "linear":
            parts["act"] = layer_activation(self.activation)
        return nn.Sequential(parts)


class _PoolBrick(BrickConfig):
    size: PosInt = 2
    stride: PosInt | None = None
    ceil: bool = False

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        need_seq(shape, self.type)  # type: ignore[attr-defined]
        stride = self.stride or self.size
        if shape.length is None:
            return Shape(True, shape.channels, None)
        if self.ceil:
            if shape.length < 1:
                raise ShapeError("empty input")
            n = -(-max(shape.length - self.size, 0) // stride) + 1
            return Shape(True, shape.channels, n)
        return Shape(True, shape.channels, window_length(shape.length, self.size, stride))


class MaxPool1dBrick(_PoolBrick):
    """``maxpool1d``: max over windows of ``size`` (stride defaults to size); Keras MaxPooling1D."""

    type: Literal["maxpool1d"] = "maxpool1d"

    def module(self, shape: Shape) -> nn.Module:
        return nn.MaxPool1d(self.size, self.stride or self.size, ceil_mode=self.ceil)


class AvgPool1dBrick(_PoolBrick):
    """``avgpool1d``: mean over windows of ``size``; Keras AveragePooling1D."""

    type: Literal["avgpool1d"] = "avgpool1d"

    def module(self, shape: Shape) -> nn.Module:
        return nn.AvgPool1d(self.size, self.stride or self.size, ceil_mode=self.ceil)


class GlobalMaxPoolBrick(BrickConfig):
    """``global_max_pool``: (C, L) → (C,), maximum over positions."""

    type: Literal["global_max_pool"] = "global_max_pool"

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        need_seq(shape, self.type)
        return Shape(False, shape.channels)

    def module(self, shape: Shape) -> nn.Module:
        return GlobalPool("max")


class GlobalAvgPoolBrick(GlobalMaxPoolBrick):
    """``global_avg_pool``: (C, L) → (C,), mean over positions."""

    type: Literal["global_avg_pool"] = "global_avg_pool"  # type: ignore[assignment]

    def module(self, shape: Shape) -> nn.Module:
        return GlobalPool("mean")


class BatchNormBrick(BrickConfig):
    """``batchnorm``: per-channel (or per-feature) batch norm; ``momentum`` in torch's sense."""

    type: Literal["batchnorm"] = "batchnorm"
    eps: Annotated[float, Field(gt=0.0)] = 1e-5
    momentum: Annotated[float, Field(gt=0.0, le=1.0)] = 0.1

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        return shape

    def module(self, shape: Shape) -> nn.Module:
        norm = nn.BatchNorm1d(shape.channels, eps=self.eps, momentum=self.momentum)
        return nn.Sequential(OrderedDict(norm=norm))


class DropoutBrick(BrickConfig):
    """``dropout``: zero a fraction ``rate`` of values during training."""

    type: Literal["dropout"] = "dropout"
    rate: DropoutRate = 0.5

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        return shape

    def module(self, shape: Shape) -> nn.Module:
        return nn.Dropout(self.rate)


class DenseBrick(BrickConfig):
    """``dense``: ``units`` outputs (omit ``units`` on the last brick: one per target)."""

    type: Literal["dense"] = "dense"
    units: PosInt | None = None
    activation: LayerActivation = "linear"
    bias: bool = True

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        if self.units is None:
            raise ShapeError("units may be left out only on the last brick (the output layer)")
        return shape._replace(channels=self.units)

    def module(self, shape: Shape) -> nn.Module:
        return Dense(shape.channels, int(self.units or 0), self.activation, self.bias)


class FlattenBrick(BrickConfig):
    """``flatten``: (C, L) → (L * C,); the model then takes only its built length."""

    type: Literal["flatten"] = "flatten"

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        if not shape.seq:
            return shape
        if shape.length is None:
            return Shape(False, shape.channels)  # width known only once the length is
        return Shape(False, shape.channels * shape.length)

    def module(self, shape: Shape) -> nn.Module:
        return Flatten()


class ActivationBrick(BrickConfig):
    """``activation``: a named activation, or ``maxout`` over groups of ``pieces`` channels."""

    type: Literal["activation"] = "activation"
    name: LayerActivation | Literal["maxout"]
    pieces: Annotated[int, Field(ge=2)] = 2

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        if self.name != "maxout":
            return shape
        if shape.channels % self.pieces:
            raise ShapeError(f"maxout: {shape.channels} channels do not split into {self.pieces}s")
        return shape._replace(channels=shape.channels // self.pieces)

    def module(self, shape: Shape) -> nn.Module:
        return Maxout(self.pieces) if self.name == "maxout" else layer_activation(self.name)


class _RecurrentBrick(BrickConfig):
    units: PosInt
    return_sequences: bool = False
    bidirectional: bool = False

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        need_seq(shape, self.type)  # type: ignore[attr-defined]
        width = self.units * (2 if self.bidirectional else 1)
        return Shape(True, width, shape.length) if self.return_sequences else Shape(False, width)

    def module(self, shape: Shape) -> nn.Module:
        return RecurrentEncoder(
            shape.channels,
            cell=self.type,  # type: ignore[attr-defined]
            units=self.units,
            bidirectional=self.bidirectional,
            pool="sequence" if self.return_sequences else "last",
            nonlinearity=self.nonlinearity(),
        )

    def nonlinearity(self) -> str:
        """Activation of a plain RNN cell (LSTM and GRU cells have fixed ones)."""
        return "tanh"


class LSTMBrick(_RecurrentBrick):
    """``lstm``: final state (N, units), or every position with ``return_sequences``."""

    type: Literal["lstm"] = "lstm"


class GRUBrick(_RecurrentBrick):
    """``gru``: as ``lstm`` with a GRU cell (Keras ``reset_after=True`` form)."""

    type: Literal["gru"] = "gru"


class RNNBrick(_RecurrentBrick):
    """``rnn`` (alias ``simple_rnn``): Elman RNN, ``activation`` tanh or relu; Keras SimpleRNN."""

    type: Literal["rnn"] = "rnn"
    activation: Literal["tanh", "relu"] = "tanh"

    def nonlinearity(self) -> str:
        return self.activation


class AttentionBrick(BrickConfig):
    """``attention``: multi-head self-attention; channels must divide by ``heads``."""

    type: Literal["attention"] = "attention"
    heads: PosInt = 4
    dropout: DropoutRate = 0.0

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        need_seq(shape, "attention")
        if shape.channels % self.heads:
            raise ShapeError(f"{shape.channels} channels do not split into {self.heads} heads")
        return shape

    def module(self, shape: Shape) -> nn.Module:
        return SelfAttention(shape.channels, self.heads, self.dropout)


class ResidualBrick(BrickConfig):
    """``residual``: ``x + layers(x)``; the inner bricks must keep the shape (use same padding)."""

    type: Literal["residual"] = "residual"
    layers: tuple[Brick, ...] = Field(min_length=1)

    @field_validator("layers", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return [b.model_dump() for b in parse_bricks(value, where="layers")]

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        try:
            out = infer_shapes(self.layers, shape, where="residual.layers", raw=False)[-1]
        except ConfigError as exc:
            raise ShapeError(str(exc)) from None
        if out != shape:
            raise ShapeError(
                f"the inner layers change shape {shape} to {out}; keep it (padding same)"
            )
        return shape

    def module(self, shape: Shape) -> nn.Module:
        return Residual(build_stack(self.layers, shape, raw=False)[0])


class EmbeddingBrick(BrickConfig):
    """``embedding``: learned vectors of overlapping k-mers (first brick, on A, C, G, T only)."""

    type: Literal["embedding"] = "embedding"
    k: Annotated[int, Field(ge=1, le=8)] = 3
    dim: PosInt = 32

    def out_shape(self, shape: Shape, *, raw: bool) -> Shape:
        if not raw or shape.channels != 4:
            raise ShapeError(
                "embedding reads the one-hot A, C, G, T input: put it first, on a model "
                f"without extra tracks (got input {shape})"
            )
        return Shape(True, self.dim, window_length(shape.length, self.k, 1))

    def module(self, shape: Shape) -> nn.Module:
        return KmerEmbedding(self.k, self.dim)


Brick = Annotated[
    Union[  # noqa: UP007 - a discriminated union reads best spelled out
        Conv1dBrick,
        MaxPool1dBrick,
        AvgPool1dBrick,
        GlobalMaxPoolBrick,
        GlobalAvgPoolBrick,
        BatchNormBrick,
        DropoutBrick,
        DenseBrick,
        FlattenBrick,
        ActivationBrick,
        LSTMBrick,
        GRUBrick,
        RNNBrick,
        AttentionBrick,
        ResidualBrick,
        EmbeddingBrick,
    ],
    Discriminator("type"),
]

_CLASSES: dict[str, type[BrickConfig]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        Conv1dBrick,
        MaxPool1dBrick,
        AvgPool1dBrick,
        GlobalMaxPoolBrick,
        GlobalAvgPoolBrick,
        BatchNormBrick,
        DropoutBrick,
        DenseBrick,
        FlattenBrick,
        ActivationBrick,
        LSTMBrick,
        GRUBrick,
        RNNBrick,
        AttentionBrick,
        ResidualBrick,
        EmbeddingBrick,
    )
}
#: Every brick name a ``layers:`` list accepts (plus ``bidirectional`` around an RNN brick).
BRICKS: tuple[str, ...] = (*_CLASSES, "bidirectional")
_ALIASES = {"simple_rnn": "rnn", "elman": "rnn", "batch_norm": "batchnorm"}
#: The parameter a bare value sets: ``- dropout: 0.5``, ``- dense: 10``, ``- activation: relu``.
_MAIN = {
    "dropout": "rate",
    "dense": "units",
    "activation": "name",
    "maxpool1d": "size",
    "avgpool1d": "size",
    "lstm": "units",
    "gru": "units",
    "rnn": "units",
    "attention": "heads",
    "residual": "layers",
}
POSITIONWISE_BRICKS = ("batchnorm", "dropout", "activation")


def error_text(exc: ValidationError, allowed: Sequence[str]) -> str:
    """Pydantic errors of one brick as ``key: problem (got value)``."""
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        key = ".".join(loc) or "value"
        got = err.get("input")
        if err.get("type") == "extra_forbidden":
            hint = difflib.get_close_matches(loc[-1], allowed, n=1) if loc else []
            did = f" (did you mean '{hint[0]}'?)" if hint else ""
            parts.append(f"{key}: unknown key{did}; allowed: {', '.join(allowed)}")
        elif err.get("type") == "missing":
            parts.append(f"{key}: required")
        else:
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            parts.append(f"{key}: {msg} (got {got!r})")
    return "; ".join(parts)


def _parse_one(item: Any, where: str) -> BrickConfig:
    if isinstance(item, BrickConfig):
        return item
    if isinstance(item, str):
        name, params = item, {}
    elif isinstance(item, Mapping) and "type" in item:
        name, params = item["type"], {k: v for k, v in item.items() if k != "type"}
    elif isinstance(item, Mapping) and len(item) == 1:
        name, params = next(iter(item.items()))
    else:
        raise ConfigError(
            f"{where}: each layer is a one-key mapping such as `conv1d: {{filters: 64, width: "
            f"9}}` or a bare name such as `flatten`; got {item!r}"
        )
    name = _ALIASES.get(str(name), str(name))
    if name == "bidirectional":
        inner = _parse_one(params, f"{where}.bidirectional")
        if not isinstance(inner, _RecurrentBrick):
            raise ConfigError(f"{where}.bidirectional: wraps lstm, gru or rnn; got {inner.type}")  # type: ignore[attr-defined]
        return inner.model_copy(update={"bidirectional": True})
    if name not in _CLASSES:
        hint = difflib.get_close_matches(name, BRICKS, n=1)
        did = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise ConfigError(f"{where}: unknown layer '{name}'{did}; allowed: {', '.join(BRICKS)}")
    if params is None:
        params = {}
    elif not isinstance(params, Mapping):
        if name not in _MAIN:
            raise ConfigError(f"{where}.{name}: expects a mapping of options; got {params!r}")
        params = {_MAIN[name]: params}
    cls = _CLASSES[name]
    try:
        return cls.model_validate({"type": name, **params})
    except ValidationError as exc:
        allowed = [f for f in cls.model_fields if f != "type"]
        raise ConfigError(f"{where}.{name}: {error_text(exc, allowed)}") from None
    except ConfigError as exc:  # nested residual layers
        raise ConfigError(f"{where}.{name}.{exc}") from None


def parse_bricks(items: Any, *, where: str = "layers") -> list[BrickConfig]:
    """Validate a list of layer specs (shorthand or canonical) into brick configs.

    Parameters
    ----------
    items : list
        Each item is ``name`` (no options), ``{name: {options}}``, ``{name: value}`` for the
        brick's main option (``dropout: 0.5``, ``dense: 10``, ``activation: relu``), or the
        canonical ``{type: name, **options}`` that :meth:`model_dump` writes.
    where : str
        Key prefix used in error messages.

    Returns
    -------
    list of brick configs

    Raises
    ------
    ConfigError
        One line naming the layer index and key, e.g.
        ``layers[2].conv1d.filters: Input should be greater than 0 (got -3)``.
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ConfigError(f"{where}: must be a list of layers; got {items!r}")
    return [_parse_one(item, f"{where}[{i}]") for i, item in enumerate(items)]


ResidualBrick.model_rebuild()


# -- shape inference and building -----------------------------------------------------------


def infer_shapes(
    bricks: Sequence[BrickConfig], shape: Shape, *, where: str = "layers", raw: bool = True
) -> list[Shape]:
    """Shapes after each brick, starting from ``shape``.

    ``raw`` says that ``shape`` is the model input (an ``embedding`` brick may come first).

    Returns
    -------
    list of Shape, one per brick plus the input first (length ``len(bricks) + 1``).

    Raises
    ------
    ConfigError
        ``layers[3] (dense): ...; input shape (128, 186)`` for the first brick that
        cannot take its input.
    """
    shapes = [shape]
    for i, brick in enumerate(bricks):
        try:
            shape = brick.out_shape(shape, raw=raw and i == 0)
        except ShapeError as exc:
            raise ConfigError(
                f"{where}[{i}] ({brick.type}): {exc}; input shape {shape}"  # type: ignore[attr-defined]
            ) from None
        shapes.append(shape)
    return shapes


def build_stack(
    bricks: Sequence[BrickConfig], shape: Shape, *, where: str = "layers", raw: bool = True
) -> tuple[nn.Sequential, Shape]:
    """The torch modules of ``bricks`` on input ``shape`` (``nn.Sequential`` named 0, 1, ...)."""
    shapes = infer_shapes(bricks, shape, where=where, raw=raw)
    mods = [brick.module(s) for brick, s in zip(bricks, shapes, strict=False)]
    return nn.Sequential(*mods), shapes[-1]
