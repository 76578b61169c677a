"""Convolutional models: ``cnn`` (DeepBind-like), ``cnn-multi`` (parallel widths), ``cnn-deep``."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import model_validator
from torch import Tensor, nn

from cislearn.models.layers import (
    ActivationName,
    ArchConfig,
    ConvBlock,
    DenseHead,
    DropoutRate,
    GlobalPool,
    LocalParts,
    NonNegInt,
    PoolName,
    PosInt,
    PosIntTuple,
    SequenceModel,
    require_same_depth,
)

__all__ = ["CNNConfig", "CNN", "CNNMultiConfig", "CNNMulti", "CNNDeepConfig", "CNNDeep"]

Padding = Literal["valid", "same"]


class CNNConfig(ArchConfig):
    """``cnn``: conv → activation → global pool → dropout → dense → activation → output.

    The defaults are the teaching workshop's CNN1 (DeepBind-like): 128 filters of width 16,
    valid padding, global max pool, dropout 0.5, a dense layer of 10 units.

    Minimum input length: ``width`` with valid padding, 1 with same padding.
    """

    filters: PosInt = 128
    width: PosInt = 16
    dense: NonNegInt = 10
    activation: ActivationName = "relu"
    dropout: DropoutRate = 0.5
    batch_norm: bool = False
    padding: Padding = "valid"
    pool: PoolName = "max"


class CNN(SequenceModel):
    """Single convolution layer + global pooling + small dense head.

    Submodules: ``conv`` (ConvBlock: conv, [norm], act), ``pool`` (GlobalPool), ``head``
    (DenseHead: dropout_in, dense1, act1, output). The Keras CNN1 maps onto them one to one
    (its two final 1-unit dense layers fold into ``head.output``).
    """

    arch = "cnn"

    def __init__(
        self, config: CNNConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        c = config
        self.conv = ConvBlock(
            self.in_channels,
            c.filters,
            c.width,
            activation=c.activation,
            batch_norm=c.batch_norm,
            padding=c.padding,
        )
        self.pool = GlobalPool(c.pool)
        self.head = DenseHead(
            self.pool.out_features(c.filters),
            n_outputs,
            hidden=(c.dense,) if c.dense else (),
            activation=c.activation,
            input_dropout=c.dropout,
        )

    @classmethod
    def min_length(cls, config: CNNConfig) -> int:
        return config.width if config.padding == "valid" else 1

    def _forward(self, x: Tensor) -> Tensor:
        return self.head(self.pool(self.conv(x)))

    def local_parts(self) -> LocalParts:
        """One branch (``conv``: conv, [norm], act) → ``pool`` → ``head``."""
        return LocalParts(branches=(self.conv,), pool=self.pool, head=self.head)


class CNNMultiConfig(ArchConfig):
    """``cnn-multi``: parallel convolutions of several widths, each globally pooled, concatenated.

    Minimum input length: ``max(widths)`` with valid padding, 1 with same padding.
    """

    filters: PosInt = 64
    widths: PosIntTuple = (8, 16, 24)
    dense: NonNegInt = 32
    activation: ActivationName = "relu"
    dropout: DropoutRate = 0.5
    batch_norm: bool = False
    padding: Padding = "valid"
    pool: PoolName = "max"


class CNNMulti(SequenceModel):
    """Parallel conv branches (``branches.0``, ``branches.1``...) → concat → dense head."""

    arch = "cnn-multi"

    def __init__(
        self, config: CNNMultiConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        c = config
        self.branches = nn.ModuleList(
            ConvBlock(
                self.in_channels,
                c.filters,
                width,
                activation=c.activation,
                batch_norm=c.batch_norm,
                padding=c.padding,
            )
            for width in c.widths
        )
        self.pool = GlobalPool(c.pool)
        self.head = DenseHead(
            len(c.widths) * self.pool.out_features(c.filters),
            n_outputs,
            hidden=(c.dense,) if c.dense else (),
            activation=c.activation,
            input_dropout=c.dropout,
        )

    @classmethod
    def min_length(cls, config: CNNMultiConfig) -> int:
        return max(config.widths) if config.padding == "valid" else 1

    def _forward(self, x: Tensor) -> Tensor:
        return self.head(torch.cat([self.pool(branch(x)) for branch in self.branches], dim=1))

    def local_parts(self) -> LocalParts:
        """The parallel ``branches`` → ``pool`` (each, concatenated) → ``head``."""
        return LocalParts(branches=tuple(self.branches), pool=self.pool, head=self.head)


class CNNDeepConfig(ArchConfig):
    """``cnn-deep``: stacked conv/batch-norm/activation/max-pool blocks, global pool, dense.

    ``filters``, ``widths`` and ``pool_sizes`` give one value per block. Convolutions use
    same padding and pooling keeps partial windows, so any input length >= 1 works.
    """

    filters: PosIntTuple = (64, 96, 128)
    widths: PosIntTuple = (9, 7, 5)
    pool_sizes: PosIntTuple = (3, 3, 2)
    dense: NonNegInt = 64
    activation: ActivationName = "relu"
    dropout: DropoutRate = 0.2
    batch_norm: bool = True
    pool: PoolName = "max"

    @model_validator(mode="after")
    def _same_depth(self) -> CNNDeepConfig:
        require_same_depth(filters=self.filters, widths=self.widths, pool_sizes=self.pool_sizes)
        return self


class CNNDeep(SequenceModel):
    """Tower of ConvBlocks (``blocks.0``...) → global pool → dense head."""

    arch = "cnn-deep"

    def __init__(
        self, config: CNNDeepConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        c = config
        channels = [self.in_channels, *c.filters]
        self.blocks = nn.Sequential(
            *(
                ConvBlock(
                    channels[i],
                    channels[i + 1],
                    c.widths[i],
                    activation=c.activation,
                    batch_norm=c.batch_norm,
                    padding="same",
                    pool_size=c.pool_sizes[i],
                    pool_ceil=True,
                    dropout=c.dropout,
                )
                for i in range(len(c.filters))
            )
        )
        self.pool = GlobalPool(c.pool)
        self.head = DenseHead(
            self.pool.out_features(c.filters[-1]),
            n_outputs,
            hidden=(c.dense,) if c.dense else (),
            activation=c.activation,
            dropout=c.dropout,
        )

    def _forward(self, x: Tensor) -> Tensor:
        return self.head(self.pool(self.blocks(x)))
