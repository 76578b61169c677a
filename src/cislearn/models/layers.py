"""Shared model building blocks: activations, conv/pool/dense blocks, the model base class, RC."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn

from cislearn.errors import ConfigError, InputError

__all__ = [
    "ACTIVATIONS",
    "ActivationName",
    "PoolName",
    "PosInt",
    "NonNegInt",
    "DropoutRate",
    "PosIntTuple",
    "ArchConfig",
    "SequenceModel",
    "LocalParts",
    "activation",
    "reverse_complement_batch",
    "RCAverage",
    "conv1d",
    "ConvBlock",
    "GlobalPool",
    "DenseHead",
    "pooled_length",
    "require_same_depth",
]

#: Allowed values of every ``activation`` option.
ACTIVATIONS: tuple[str, ...] = (
    "relu",
    "elu",
    "leaky_relu",
    "gelu",
    "tanh",
    "sigmoid",
    "softplus",
)
ActivationName = Literal["relu", "elu", "leaky_relu", "gelu", "tanh", "sigmoid", "softplus"]
#: Global pooling over the length axis: max, mean, or both concatenated.
PoolName = Literal["max", "mean", "maxmean"]

# Field types shared by the architecture configs (each allowed range declared once).
PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
DropoutRate = Annotated[float, Field(ge=0.0, lt=1.0)]
PosIntTuple = Annotated[tuple[PosInt, ...], Field(min_length=1)]


def activation(name: str) -> nn.Module:
    """A fresh activation module by name.

    Parameters
    ----------
    name : str
        One of :data:`ACTIVATIONS`.

    Returns
    -------
    nn.Module

    Examples
    --------
    >>> activation("gelu")
    GELU(approximate='none')
    """
    factories = {
        "relu": nn.ReLU,
        "elu": nn.ELU,
        "leaky_relu": nn.LeakyReLU,
        "gelu": nn.GELU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "softplus": nn.Softplus,
    }
    if name not in factories:
        raise ConfigError(f"activation: unknown name {name!r}; allowed: {', '.join(ACTIVATIONS)}")
    return factories[name]()


# Alias used where a parameter named ``activation`` shadows the factory.
_new_activation = activation


class ArchConfig(BaseModel):
    """Base of every architecture config: frozen, unknown keys rejected.

    Attributes
    ----------
    rc_average : bool
        Wrap the model in :class:`RCAverage` (average of forward and reverse-complement
        strands). Kept in the config so a saved config rebuilds the same module tree.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rc_average: bool = False


class LocalParts(NamedTuple):
    """A model seen as ``head(cat(pool(branch(x)) for branch in branches))``.

    The exact CPU fast path (:mod:`cislearn.fastpath`: prediction from base codes, mutagenesis,
    variant scoring) uses it: each branch starts with an ``nn.Conv1d`` over the input followed
    only by position-wise modules (activation, eval-mode batch norm, dropout), so a one-base
    substitution changes a branch's output only within the kernel span, by a rank-1 amount,
    and the global pool can be updated from running maxima/sums instead of recomputing the
    whole sequence.

    Attributes
    ----------
    branches : tuple of nn.Module
        Each maps (N, C, L) → (N, F_i, L_i); its first module is the ``nn.Conv1d``.
    pool : GlobalPool
        Applied to each branch output; results concatenated on the feature axis.
    head : nn.Module
        Maps the concatenated pooled features (N, sum of pooled F_i) to the outputs.
    """

    branches: tuple[nn.Module, ...]
    pool: nn.Module
    head: nn.Module


class SequenceModel(nn.Module):
    """Base class of every architecture: one-hot in, raw outputs out.

    Subclasses set ``arch``, implement ``_forward`` and, if they need it, ``min_length``.
    ``forward`` checks the input shape and then calls ``_forward``.

    Attributes
    ----------
    arch : str
        Registry name of the architecture.
    config : ArchConfig
        The validated config it was built from.
    length : int
        Input length it was built for (fixed-length models accept only this length).
    n_outputs, n_tracks : int
        Output width and number of extra per-base input channels after A, C, G, T.
    """

    arch: ClassVar[str] = ""
    #: True when the model flattens positions and so accepts only ``length``.
    fixed_length: ClassVar[bool] = False
    #: Fewest extra per-base track channels the architecture needs.
    min_tracks: ClassVar[int] = 0

    def __init__(
        self, config: ArchConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__()
        if int(n_outputs) < 1:
            raise ConfigError(f"{self.arch}: n_outputs must be >= 1; got {n_outputs}")
        if int(n_tracks) < self.min_tracks:
            raise ConfigError(
                f"{self.arch}: needs at least {self.min_tracks} extra per-base track(s) after "
                f"A, C, G, T; got n_tracks={n_tracks} (add tracks or choose another arch)"
                if self.min_tracks
                else f"{self.arch}: n_tracks must be >= 0; got {n_tracks}"
            )
        if int(length) < self.min_length(config):
            raise ConfigError(
                f"{self.arch}: input length must be >= {self.min_length(config)} with this "
                f"config; got {length}"
            )
        self.config = config
        self.length = int(length)
        self.n_outputs = int(n_outputs)
        self.n_tracks = int(n_tracks)

    @property
    def in_channels(self) -> int:
        return 4 + self.n_tracks

    @classmethod
    def min_length(cls, config: Any) -> int:
        """Shortest input length this architecture accepts with ``config``."""
        return 1

    def check_input(self, x: Tensor) -> None:
        """Raise InputError unless ``x`` is a float tensor of shape (N, 4 + n_tracks, L)."""
        if not isinstance(x, Tensor) or not x.is_floating_point() or x.ndim != 3:
            found = (
                f"{x.dtype} tensor of shape {tuple(x.shape)}"
                if isinstance(x, Tensor)
                else type(x).__name__
            )
            raise InputError(
                f"{self.arch} model: expected a float tensor of shape "
                f"(N, {self.in_channels}, L); got {found}"
            )
        if x.shape[1] != self.in_channels:
            raise InputError(
                f"{self.arch} model: expected {self.in_channels} input channels "
                f"(A, C, G, T + {self.n_tracks} tracks); got {x.shape[1]}"
            )
        n = x.shape[2]
        if self.fixed_length and n != self.length:
            raise InputError(
                f"{self.arch} model: built for input length {self.length}; got {n} "
                "(this architecture flattens positions; resize the inputs or rebuild)"
            )
        if n < self.min_length(self.config):
            raise InputError(
                f"{self.arch} model: input length must be >= {self.min_length(self.config)}; "
                f"got {n}"
            )

    def forward(self, x: Tensor) -> Tensor:
        """Raw outputs for a one-hot batch.

        Parameters
        ----------
        x : Tensor of shape (N, 4 + n_tracks, L), float

        Returns
        -------
        Tensor of shape (N, n_outputs)
            Logits (classification) or pre-activation values (regression, counts).
        """
        self.check_input(x)
        return self._forward(x)

    def _forward(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def local_parts(self) -> LocalParts | None:
        """The model as conv branches → global pool → head, or None when it is not of that form.

        Architectures of that form override this so mutagenesis can take its fast exact path.
        """
        return None


def reverse_complement_batch(x: Tensor) -> Tensor:
    """Reverse complement a one-hot batch: swap A<->T, C<->G and flip the length axis.

    Extra track channels (index 4 on) are flipped along the length axis only.

    Parameters
    ----------
    x : Tensor of shape (N, 4 + n_tracks, L)

    Returns
    -------
    Tensor of shape (N, 4 + n_tracks, L)
    """
    bases = x[:, :4].flip(1)  # A, C, G, T -> T, G, C, A is the complement
    if x.shape[1] > 4:
        bases = torch.cat([bases, x[:, 4:]], dim=1)
    return bases.flip(2)


class RCAverage(nn.Module):
    """Strand-symmetric wrapper: the mean of ``model(x)`` and ``model(rc(x))``.

    Attributes other than ``forward`` (``arch``, ``length``, ``tokenize``...) are read
    through to the wrapped model; ``config`` reports ``rc_average=True`` so that
    ``build_model(model.arch, model.config.model_dump(), ...)`` rebuilds the wrapper. The
    wrapped model's parameters are under the ``model.`` prefix of the state dict.

    Parameters
    ----------
    model : SequenceModel

    Examples
    --------
    >>> from cislearn.models import build_model
    >>> net = RCAverage(build_model("cnn", length=50, n_outputs=1))
    >>> net.config.rc_average
    True
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    @property
    def config(self) -> ArchConfig:
        return self.model.config.model_copy(update={"rc_average": True})

    def forward(self, x: Tensor) -> Tensor:
        """Mean of the two strands' raw outputs; x of shape (N, C, L) → (N, n_outputs)."""
        # One call on the stacked strands is faster than two calls on small CPU batches.
        both = self.model(torch.cat([x, reverse_complement_batch(x)], dim=0))
        fwd, rev = both.chunk(2, dim=0)
        return 0.5 * (fwd + rev)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("model"), name)


def require_same_depth(**per_block: tuple[int, ...]) -> None:
    """Raise ValueError (turned into a ConfigError) unless the per-block tuples match in length."""
    sizes = {name: len(values) for name, values in per_block.items()}
    if len(set(sizes.values())) > 1:
        found = ", ".join(f"{name} has {n}" for name, n in sizes.items())
        raise ValueError(f"{', '.join(sizes)} need one value per block; {found}")


def pooled_length(length: int, pool_size: int, *, ceil: bool = False) -> int:
    """Length after a max pool of window and stride ``pool_size``."""
    return -(-length // pool_size) if ceil else length // pool_size


class _Conv1dSame(nn.Conv1d):
    """Conv1d with asymmetric zero padding that keeps the length (even receptive fields).

    Torch's ``padding="same"`` does the same but warns on every even-width call.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        total = self.dilation[0] * (self.kernel_size[0] - 1)
        self.same_pad = (total // 2, total - total // 2)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(nn.functional.pad(x, self.same_pad))


def conv1d(
    in_channels: int,
    out_channels: int,
    width: int,
    *,
    padding: str = "valid",
    dilation: int = 1,
    bias: bool = True,
) -> nn.Conv1d:
    """A Conv1d with ``valid`` or length-keeping ``same`` padding (any width, no warning).

    The parameters are always ``weight`` of shape (out, in, width) and ``bias``.
    """
    if padding not in ("valid", "same"):
        raise ConfigError(f"padding: unknown value {padding!r}; allowed: valid, same")
    total = dilation * (width - 1)
    if padding == "valid" or total % 2 == 0:
        pad = 0 if padding == "valid" else total // 2
        return nn.Conv1d(
            in_channels, out_channels, width, padding=pad, dilation=dilation, bias=bias
        )
    return _Conv1dSame(in_channels, out_channels, width, dilation=dilation, bias=bias)


class ConvBlock(nn.Sequential):
    """conv → [batch norm] → activation → [max pool] → [dropout], over (N, C, L).

    Parameters
    ----------
    in_channels, out_channels, width : int
    activation : str
        Name from :data:`ACTIVATIONS`.
    batch_norm : bool
        Add BatchNorm1d after the convolution (the conv then has no bias).
    padding : {"valid", "same"}
    dilation : int
    pool_size : int
        Max-pool window and stride; 1 means no pooling.
    pool_ceil : bool
        Keep a last partial pooling window (so any length >= 1 survives pooling).
    dropout : float
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int,
        *,
        activation: str = "relu",
        batch_norm: bool = False,
        padding: str = "valid",
        dilation: int = 1,
        pool_size: int = 1,
        pool_ceil: bool = False,
        dropout: float = 0.0,
    ) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv"] = conv1d(
            in_channels,
            out_channels,
            width,
            padding=padding,
            dilation=dilation,
            bias=not batch_norm,
        )
        if batch_norm:
            layers["norm"] = nn.BatchNorm1d(out_channels)
        layers["act"] = _new_activation(activation)
        if pool_size > 1:
            layers["pool"] = nn.MaxPool1d(pool_size, ceil_mode=pool_ceil)
        if dropout > 0:
            layers["dropout"] = nn.Dropout(dropout)
        super().__init__(layers)


class GlobalPool(nn.Module):
    """Global pooling over the length axis: (N, C, L) → (N, C), or (N, 2C) for ``maxmean``."""

    def __init__(self, mode: str = "max") -> None:
        super().__init__()
        if mode not in ("max", "mean", "maxmean"):
            raise ConfigError(f"pool: unknown mode {mode!r}; allowed: max, mean, maxmean")
        self.mode = mode

    def out_features(self, channels: int) -> int:
        return 2 * channels if self.mode == "maxmean" else channels

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "max":
            return x.amax(dim=2)
        if self.mode == "mean":
            return x.mean(dim=2)
        return torch.cat([x.amax(dim=2), x.mean(dim=2)], dim=1)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


class DenseHead(nn.Sequential):
    """[dropout_in] → (dense_i → act_i → [dropout_i])* → output, over (N, F).

    Children are named ``dropout_in``, ``dense1``, ``act1``, ``dropout1``, ..., ``output``
    so state-dict keys are readable (and importers of foreign weights can map them).

    Parameters
    ----------
    in_features, n_outputs : int
    hidden : sequence of int
        Width of each hidden dense layer; empty for a single linear output layer.
    activation : str
    dropout : float
        Dropout after each hidden layer.
    input_dropout : float
        Dropout before the first dense layer.
    """

    def __init__(
        self,
        in_features: int,
        n_outputs: int,
        *,
        hidden: Sequence[int] = (),
        activation: str = "relu",
        dropout: float = 0.0,
        input_dropout: float = 0.0,
    ) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if input_dropout > 0:
            layers["dropout_in"] = nn.Dropout(input_dropout)
        width = in_features
        for i, units in enumerate(hidden, start=1):
            layers[f"dense{i}"] = nn.Linear(width, units)
            layers[f"act{i}"] = _new_activation(activation)
            if dropout > 0:
                layers[f"dropout{i}"] = nn.Dropout(dropout)
            width = units
        layers["output"] = nn.Linear(width, n_outputs)
        super().__init__(layers)
