"""Basset (Kelley et al. 2016): three conv blocks, flatten, two dense layers, multi-task output."""

from __future__ import annotations

import math

from pydantic import model_validator
from torch import Tensor, nn

from cislearn.models.layers import (
    ActivationName,
    ArchConfig,
    ConvBlock,
    DenseHead,
    DropoutRate,
    PosInt,
    PosIntTuple,
    SequenceModel,
    pooled_length,
    require_same_depth,
)

__all__ = ["BassetConfig", "Basset"]


class BassetConfig(ArchConfig):
    """``basset``: conv blocks (300×19, 200×11, 200×7; batch norm, ReLU, max pool 3/4/4),
    flatten, dense 1000 → dense 1000 with dropout 0.3, one output per task.

    ``filters``, ``widths`` and ``pool_sizes`` give one value per conv block, ``dense`` one
    width per dense layer. Convolutions use same padding. Because the positions are
    flattened, the model accepts only the input length it was built for, and that length must
    be at least the product of ``pool_sizes`` (48 by default).
    """

    filters: PosIntTuple = (300, 200, 200)
    widths: PosIntTuple = (19, 11, 7)
    pool_sizes: PosIntTuple = (3, 4, 4)
    dense: tuple[PosInt, ...] = (1000, 1000)
    activation: ActivationName = "relu"
    dropout: DropoutRate = 0.3
    batch_norm: bool = True

    @model_validator(mode="after")
    def _check(self) -> BassetConfig:
        require_same_depth(filters=self.filters, widths=self.widths, pool_sizes=self.pool_sizes)
        return self


class Basset(SequenceModel):
    """``convs`` (ConvBlocks ``convs.0``...) → flatten → ``head`` (dense1, act1, dropout1...)."""

    arch = "basset"
    fixed_length = True

    def __init__(
        self, config: BassetConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        c = config
        channels = [self.in_channels, *c.filters]
        self.convs = nn.Sequential(
            *(
                ConvBlock(
                    channels[i],
                    channels[i + 1],
                    c.widths[i],
                    activation=c.activation,
                    batch_norm=c.batch_norm,
                    padding="same",
                    pool_size=c.pool_sizes[i],
                )
                for i in range(len(c.filters))
            )
        )
        positions = length
        for size in c.pool_sizes:
            positions = pooled_length(positions, size)
        self.head = DenseHead(
            positions * c.filters[-1],
            n_outputs,
            hidden=c.dense,
            activation=c.activation,
            dropout=c.dropout,
        )

    @classmethod
    def min_length(cls, config: BassetConfig) -> int:
        return math.prod(config.pool_sizes)

    def _forward(self, x: Tensor) -> Tensor:
        return self.head(self.convs(x).flatten(1))
