"""What layer-list bricks are made of: the shape passed between bricks and its checks, and the
torch modules that bricks build beyond torch's own (:mod:`cislearn.models.bricks` holds the
brick configs)."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from cislearn.models.layers import activation
from cislearn.models.transformer import N_SPECIAL, kmer_token_ids

__all__ = [
    "Shape",
    "ShapeError",
    "need_seq",
    "window_length",
    "layer_activation",
    "Dense",
    "Flatten",
    "Maxout",
    "SelfAttention",
    "Residual",
    "KmerEmbedding",
]


class Shape(NamedTuple):
    """Shape of one example between bricks: (channels, length) when ``seq``, else (features,).

    ``length`` is None when the input length is not known yet (config-time checks).
    """

    seq: bool
    channels: int
    length: int | None = None

    def __str__(self) -> str:
        if not self.seq:
            return f"({self.channels},)"
        return f"({self.channels}, {'L' if self.length is None else self.length})"


class ShapeError(ValueError):
    """A brick cannot take the shape it is given (message says why and the fix)."""


def need_seq(shape: Shape, what: str) -> None:
    """Raise ShapeError unless ``shape`` has a length axis."""
    if not shape.seq:
        raise ShapeError(
            f"{what} needs a (channels, length) input; got features {shape} "
            "(move it before the flatten / global pool / rnn that removed the length axis)"
        )


def window_length(length: int | None, size: int, stride: int, dilation: int = 1) -> int | None:
    """Output length of a valid sliding window (None when unknown); raises when it is empty."""
    if length is None:
        return None
    span = dilation * (size - 1) + 1
    if length < span:
        raise ShapeError(f"window of {span} does not fit length {length}")
    return (length - span) // stride + 1


def layer_activation(name: str) -> nn.Module:
    """The activation module of a brick option (``linear``: identity)."""
    return nn.Identity() if name == "linear" else activation(name)


class Dense(nn.Module):
    """Linear layer on features, or on the channels of every position (like Keras Dense)."""

    def __init__(self, in_features: int, units: int, act: str, bias: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, units, bias=bias)
        self.act = layer_activation(act)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 3:
            return self.act(self.linear(x.transpose(1, 2)).transpose(1, 2))
        return self.act(self.linear(x))


class Flatten(nn.Module):
    """(N, C, L) → (N, L * C) in channels-last order (position-major, as Keras Flatten)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(1, 2).reshape(x.shape[0], -1) if x.ndim == 3 else x


class Maxout(nn.Module):
    """Maximum over groups of ``pieces`` consecutive channels: C → C / pieces."""

    def __init__(self, pieces: int) -> None:
        super().__init__()
        self.pieces = pieces

    def forward(self, x: Tensor) -> Tensor:
        shape = (x.shape[0], x.shape[1] // self.pieces, self.pieces, *x.shape[2:])
        return x.reshape(shape).amax(dim=2)

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"


class SelfAttention(nn.Module):
    """Multi-head self-attention over positions: (N, C, L) → (N, C, L)."""

    def __init__(self, channels: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(channels, heads, dropout=dropout, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        seq = x.transpose(1, 2)
        return self.attn(seq, seq, seq, need_weights=False)[0].transpose(1, 2)


class Residual(nn.Module):
    """``x + body(x)``."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class KmerEmbedding(nn.Module):
    """One-hot (N, 4, L) → overlapping k-mer ids → embeddings (N, dim, L - k + 1)."""

    def __init__(self, k: int, dim: int) -> None:
        super().__init__()
        self.k = k
        self.embed = nn.Embedding(N_SPECIAL + 4**k, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.embed(kmer_token_ids(x, self.k)).transpose(1, 2)
