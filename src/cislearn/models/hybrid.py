"""DeepG4-like two-branch model (``hybrid``): a sequence branch and a per-base track branch."""

from __future__ import annotations

import torch
from torch import Tensor

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
)

__all__ = ["HybridConfig", "Hybrid"]


class HybridConfig(ArchConfig):
    """``hybrid``: conv on A, C, G, T → global pool, conv on the extra tracks → global pool,
    concatenated → dropout → dense → output. Needs ``n_tracks >= 1`` (e.g. accessibility).

    Both convolutions use same padding, so any input length >= 1 works.
    """

    filters: PosInt = 64
    width: PosInt = 16
    pool: PoolName = "max"
    track_filters: PosInt = 8
    track_width: PosInt = 9
    track_pool: PoolName = "maxmean"
    dense: NonNegInt = 32
    activation: ActivationName = "relu"
    dropout: DropoutRate = 0.3
    batch_norm: bool = False


class Hybrid(SequenceModel):
    """``sequence`` and ``tracks`` branches (ConvBlocks), ``pool``/``track_pool``, ``head``."""

    arch = "hybrid"
    min_tracks = 1

    def __init__(
        self, config: HybridConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        c = config
        self.sequence = ConvBlock(
            4, c.filters, c.width, activation=c.activation, batch_norm=c.batch_norm, padding="same"
        )
        self.tracks = ConvBlock(
            n_tracks,
            c.track_filters,
            c.track_width,
            activation=c.activation,
            batch_norm=c.batch_norm,
            padding="same",
        )
        self.pool = GlobalPool(c.pool)
        self.track_pool = GlobalPool(c.track_pool)
        self.head = DenseHead(
            self.pool.out_features(c.filters) + self.track_pool.out_features(c.track_filters),
            n_outputs,
            hidden=(c.dense,) if c.dense else (),
            activation=c.activation,
            input_dropout=c.dropout,
        )

    def _forward(self, x: Tensor) -> Tensor:
        seq = self.pool(self.sequence(x[:, :4]))
        trk = self.track_pool(self.tracks(x[:, 4:]))
        return self.head(torch.cat([seq, trk], dim=1))
