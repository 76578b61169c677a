"""Recurrent models: ``lstm`` (RNN over the one-hot sequence) and ``cnn-lstm`` (DanQ-like)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from cislearn.models.layers import (
    ActivationName,
    ArchConfig,
    ConvBlock,
    DenseHead,
    DropoutRate,
    NonNegInt,
    PosInt,
    SequenceModel,
)

__all__ = ["RNNConfig", "RNN", "CNNLSTMConfig", "CNNLSTM", "RecurrentEncoder"]

Cell = Literal["lstm", "gru", "rnn"]
#: How the per-position RNN states become one vector: the final hidden state(s), or a
#: max / mean over positions.
RNNPool = Literal["last", "max", "mean"]


class RecurrentEncoder(nn.Module):
    """RNN over the length axis and a reduction to one vector: (N, C, L) → (N, out_features),
    or every position's state, (N, out_features, L), with ``pool="sequence"``.

    Used by the ``lstm`` / ``cnn-lstm`` architectures and by the ``lstm`` / ``gru`` / ``rnn``
    bricks of ``layers:`` models (:mod:`cislearn.models.bricks`).

    Parameters
    ----------
    in_features : int
        Channels per position.
    cell : {"lstm", "gru", "rnn"}
    units, layers : int
    bidirectional : bool
    dropout : float
        Between stacked RNN layers (ignored for a single layer).
    pool : {"last", "max", "mean", "sequence"}
        ``last`` concatenates the last layer's final hidden state of each direction;
        ``sequence`` returns the states at every position instead of one vector.
    nonlinearity : {"tanh", "relu"}
        Activation of the plain ``rnn`` cell (LSTM and GRU ignore it).
    """

    def __init__(
        self,
        in_features: int,
        *,
        cell: str = "lstm",
        units: int = 64,
        layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        pool: str = "max",
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        self.rnn = rnn_class(
            in_features,
            units,
            num_layers=layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
            **extra,
        )
        self.pool = pool
        self.directions = 2 if bidirectional else 1
        self.out_features = units * self.directions

    def forward(self, x: Tensor) -> Tensor:
        states, final = self.rnn(x.transpose(1, 2))  # (N, L, dirs * units)
        if self.pool == "sequence":
            return states.transpose(1, 2)
        if self.pool == "max":
            return states.amax(dim=1)
        if self.pool == "mean":
            return states.mean(dim=1)
        h_n = final[0] if isinstance(final, tuple) else final  # LSTM returns (h_n, c_n)
        # h_n: (layers * dirs, N, units); the last layer's directions are the last rows.
        return h_n[-self.directions :].transpose(0, 1).reshape(x.shape[0], -1)


class RNNConfig(ArchConfig):
    """``lstm``: a (bidirectional) LSTM/GRU/RNN read over the one-hot sequence.

    ``dropout`` is applied between stacked RNN layers and before the head. Any input length
    >= 1 works; long inputs (>~1 kb) are slow because the recurrence is sequential.
    """

    cell: Cell = "lstm"
    units: PosInt = 64
    layers: PosInt = 1
    bidirectional: bool = True
    pool: RNNPool = "max"
    dense: NonNegInt = 0
    activation: ActivationName = "relu"
    dropout: DropoutRate = 0.2


class RNN(SequenceModel):
    """``encoder`` (RecurrentEncoder) → ``head`` (DenseHead)."""

    arch = "lstm"

    def __init__(
        self, config: RNNConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        c = config
        self.encoder = RecurrentEncoder(
            self.in_channels,
            cell=c.cell,
            units=c.units,
            layers=c.layers,
            bidirectional=c.bidirectional,
            dropout=c.dropout,
            pool=c.pool,
        )
        self.head = DenseHead(
            self.encoder.out_features,
            n_outputs,
            hidden=(c.dense,) if c.dense else (),
            activation=c.activation,
            input_dropout=c.dropout,
        )

    def _forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))


class CNNLSTMConfig(ArchConfig):
    """``cnn-lstm`` (DanQ): conv → max pool → dropout → BiLSTM → pool → dense → output.

    DanQ's 1000-bp model used 320 filters of width 26, pool 13, a BiLSTM of 320 units and a
    dense layer of 925; the defaults here are smaller so it trains on a CPU. DanQ flattens
    the LSTM states; this version reduces them with ``pool`` so any length works.

    Minimum input length: ``width`` (valid convolution; the last partial pool window is kept).
    """

    filters: PosInt = 128
    width: PosInt = 26
    pool_size: PosInt = 13
    cell: Cell = "lstm"
    units: PosInt = 64
    layers: PosInt = 1
    bidirectional: bool = True
    pool: RNNPool = "max"
    dense: NonNegInt = 64
    activation: ActivationName = "relu"
    dropout: DropoutRate = 0.2
    batch_norm: bool = False


class CNNLSTM(SequenceModel):
    """``conv`` (ConvBlock with pooling and dropout) → ``encoder`` (RecurrentEncoder) → ``head``."""

    arch = "cnn-lstm"

    def __init__(
        self, config: CNNLSTMConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        c = config
        self.conv = ConvBlock(
            self.in_channels,
            c.filters,
            c.width,
            activation=c.activation,
            batch_norm=c.batch_norm,
            pool_size=c.pool_size,
            pool_ceil=True,
            dropout=c.dropout,
        )
        self.encoder = RecurrentEncoder(
            c.filters,
            cell=c.cell,
            units=c.units,
            layers=c.layers,
            bidirectional=c.bidirectional,
            dropout=c.dropout,
            pool=c.pool,
        )
        self.head = DenseHead(
            self.encoder.out_features,
            n_outputs,
            hidden=(c.dense,) if c.dense else (),
            activation=c.activation,
            input_dropout=c.dropout,
        )

    @classmethod
    def min_length(cls, config: CNNLSTMConfig) -> int:
        return config.width

    def _forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(self.conv(x)))
