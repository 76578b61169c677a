"""Basenji-like dilated residual network for long inputs and count regression (``resnet``)."""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from cislearn.models.layers import (
    ActivationName,
    ArchConfig,
    ConvBlock,
    DenseHead,
    DropoutRate,
    GlobalPool,
    NonNegInt,
    PoolName,
    PosInt,
    SequenceModel,
    conv1d,
)
from cislearn.models.layers import activation as make_activation

__all__ = ["ResNetConfig", "ResNet", "DilatedResidualBlock"]


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm1d(channels) if batch_norm else nn.Identity()


class DilatedResidualBlock(nn.Module):
    """Pre-activation residual block: x + dropout(conv1x1(act(norm(conv_d(act(norm(x))))))).

    Parameters
    ----------
    channels, width, dilation : int
        The dilated convolution keeps the length (same padding).
    activation : str
    batch_norm : bool
    dropout : float
    """

    def __init__(
        self,
        channels: int,
        width: int,
        dilation: int,
        *,
        activation: str = "gelu",
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["norm1"] = _norm(channels, batch_norm)
        layers["act1"] = make_activation(activation)
        layers["conv1"] = conv1d(channels, channels, width, padding="same", dilation=dilation)
        layers["norm2"] = _norm(channels, batch_norm)
        layers["act2"] = make_activation(activation)
        layers["conv2"] = nn.Conv1d(channels, channels, 1)
        if dropout > 0:
            layers["dropout"] = nn.Dropout(dropout)
        self.body = nn.Sequential(layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResNetConfig(ArchConfig):
    """``resnet``: stem conv + max pool, a tower of dilated residual blocks (dilation
    multiplied by ``dilation_rate`` at each block: 1, 2, 4, 8...), global pooling, output.

    All convolutions use same padding and the stem pool keeps a partial window, so any
    input length >= 1 works; it is meant for long inputs (1-100 kb). ``pool="mean"`` suits
    count regression (a sum of local contributions); ``max`` suits motif presence.
    """

    filters: PosInt = 64
    stem_width: PosInt = 15
    stem_pool: PosInt = 2
    blocks: NonNegInt = 4
    width: PosInt = 3
    dilation_rate: PosInt = 2
    activation: ActivationName = "gelu"
    dropout: DropoutRate = 0.1
    batch_norm: bool = True
    pool: PoolName = "mean"
    dense: NonNegInt = 0


class ResNet(SequenceModel):
    """``stem`` (ConvBlock) → ``tower`` (DilatedResidualBlocks) → ``final`` (norm, act) →
    ``pool`` → ``head``."""

    arch = "resnet"

    def __init__(
        self, config: ResNetConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        c = config
        self.stem = ConvBlock(
            self.in_channels,
            c.filters,
            c.stem_width,
            activation=c.activation,
            batch_norm=c.batch_norm,
            padding="same",
            pool_size=c.stem_pool,
            pool_ceil=True,
        )
        self.tower = nn.Sequential(
            *(
                DilatedResidualBlock(
                    c.filters,
                    c.width,
                    c.dilation_rate**i,
                    activation=c.activation,
                    batch_norm=c.batch_norm,
                    dropout=c.dropout,
                )
                for i in range(c.blocks)
            )
        )
        self.final = nn.Sequential(_norm(c.filters, c.batch_norm), make_activation(c.activation))
        self.pool = GlobalPool(c.pool)
        self.head = DenseHead(
            self.pool.out_features(c.filters),
            n_outputs,
            hidden=(c.dense,) if c.dense else (),
            activation=c.activation,
            input_dropout=c.dropout,
        )

    def _forward(self, x: Tensor) -> Tensor:
        return self.head(self.pool(self.final(self.tower(self.stem(x)))))
