"""``wide-deep``: deep members (CNN, CNN-LSTM) joined to a strand-merged k-mer linear path.

The output is ``Σ_i deep_scale[i] * member_i(x) + Σ_positions table[canonical k-mer] + bias``.
The wide path is linear in the k-mer counts of ``kmer_counts(..., rc_merge=True)`` (windows
holding an N are skipped), so a k-mer lasso or ridge fitted by :mod:`cislearn.baseline` loads
into it exactly, and it gives the same value on both strands. :mod:`cislearn.stack` fits it in
stages (each member, then the k-mer model, then the weights on the validation part); with
``fit: joint`` the ordinary training loop trains every part at once.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, ValidationInfo, field_validator
from torch import Tensor, nn

from cislearn.models.cnn import CNN, CNNConfig
from cislearn.models.layers import ArchConfig, SequenceModel
from cislearn.models.rnn import CNNLSTM, CNNLSTMConfig

__all__ = ["DEEP_MEMBERS", "WideDeepConfig", "WideDeep", "WidePath", "canonical_columns"]

#: Architectures the deep member can be: name → (config class, module class).
DEEP_MEMBERS: dict[str, tuple[type[ArchConfig], type[SequenceModel]]] = {
    "cnn": (CNNConfig, CNN),
    "cnn-lstm": (CNNLSTMConfig, CNNLSTM),
}


DeepArch = Literal["cnn", "cnn-lstm"]


class WideDeepConfig(ArchConfig):
    """``wide-deep``: deep members (``cnn``, ``cnn-lstm``) plus a strand-merged k-mer path.

    Attributes
    ----------
    deep_arch : tuple of {"cnn", "cnn-lstm"}
        Architecture of each deep member (a single name means one member).
    deep : tuple of dict
        Options of each member (validated by its config class; its own ``rc_average`` must
        stay off, set the top-level one to average both strands); empty → defaults. Stored
        with every default filled in. A single dict is for a single member.
    k : int
        k-mer length of the wide path, 1 to 8 (``(4**k + 4**(k/2)) / 2`` weights, even k).
    wide_model : {"lasso", "ridge"}
        How ``fit: stack`` fits the wide path: L1 or L2 logistic regression on the k-mer
        counts (C by cross-validation; :func:`cislearn.baseline.fit_baseline`).
    fit : {"stack", "joint"}
        ``stack`` (default): train each deep member, fit the wide path's logistic regression
        on the k-mer counts of the training part, then learn one weight per member by
        logistic regression on the validation logits (:mod:`cislearn.stack`). ``joint``:
        train everything together by gradient descent.

    Minimum input length: the largest of the members'.
    """

    deep_arch: tuple[DeepArch, ...] = Field(default=("cnn", "cnn-lstm"), min_length=1)
    deep: tuple[dict[str, Any], ...] = Field(default=(), validate_default=True)
    k: int = Field(default=6, ge=1, le=8)
    wide_model: Literal["lasso", "ridge"] = "lasso"
    fit: Literal["stack", "joint"] = "stack"

    @field_validator("deep_arch", mode="before")
    @classmethod
    def _one_name(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("deep", mode="before")
    @classmethod
    def _deep_options(cls, value: Any, info: ValidationInfo) -> tuple[dict[str, Any], ...]:
        archs = info.data.get("deep_arch") or ("cnn",)
        if isinstance(value, dict | ArchConfig):
            value = (value,)
        value = list(value or ())
        if value and len(value) != len(archs):
            raise ValueError(f"give one options dict per member of deep_arch {list(archs)}")
        out = []
        for i, arch in enumerate(archs):
            given = value[i] if value else {}
            if isinstance(given, ArchConfig):
                given = given.model_dump()
            config = DEEP_MEMBERS[arch][0].model_validate(dict(given or {}))
            if config.rc_average:
                raise ValueError("deep.rc_average: set rc_average on wide-deep itself")
            out.append(config.model_dump(mode="json"))
        return tuple(out)

    def deep_configs(self) -> list[ArchConfig]:
        """Each deep member's validated config."""
        return [
            DEEP_MEMBERS[a][0].model_validate(o)
            for a, o in zip(self.deep_arch, self.deep, strict=True)
        ]


def canonical_columns(k: int) -> tuple[Tensor, int]:
    """Column of every k-mer code in the strand-merged k-mer table, and the number of columns.

    A k-mer's code is its bases read as base-4 digits (A=0, C=1, G=2, T=3, first base most
    significant), so codes sort alphabetically; a k-mer and its reverse complement share the
    column of the alphabetically first, and columns follow that order (as in
    :func:`cislearn.features.kmer_counts` with ``rc_merge``).

    Returns
    -------
    column : Tensor of shape (4**k,), int64
    n_columns : int
    """
    codes = torch.arange(4**k, dtype=torch.int64)
    digits = torch.stack([(codes // 4 ** (k - 1 - i)) % 4 for i in range(k)], dim=1)
    rc_digits = (3 - digits).flip(1)
    powers = 4 ** torch.arange(k - 1, -1, -1, dtype=torch.int64)
    rc_codes = (rc_digits * powers).sum(1)
    canonical = torch.minimum(codes, rc_codes)
    keep, column = torch.unique(canonical, sorted=True, return_inverse=True)
    return column, int(keep.numel())


class WideDeep(SequenceModel):
    """``deep`` (a ModuleList of :class:`CNN` / :class:`CNNLSTM`), ``table`` (strand-merged
    k-mer weights), ``deep_scale`` (members, n_outputs) and ``bias``.

    Output: ``Σ_i deep_scale[i] * deep[i](x) + wide(x) + bias``. Gradients reach the weights
    of every path but not the input through the wide path (it looks k-mers up), so gradient
    attributions see only the deep members; mutagenesis sees everything.
    """

    arch = "wide-deep"

    def __init__(
        self, config: WideDeepConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        self.deep = nn.ModuleList(
            DEEP_MEMBERS[arch][1](c, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
            for arch, c in zip(config.deep_arch, config.deep_configs(), strict=True)
        )
        column, n_columns = canonical_columns(config.k)
        self.register_buffer("column", column, persistent=False)
        self.register_buffer(
            "powers", 4 ** torch.arange(config.k - 1, -1, -1, dtype=torch.int64), persistent=False
        )
        self.table = nn.Parameter(torch.zeros(n_columns, n_outputs))
        self.deep_scale = nn.Parameter(torch.ones(len(self.deep), n_outputs))
        self.bias = nn.Parameter(torch.zeros(n_outputs))

    @classmethod
    def min_length(cls, config: WideDeepConfig) -> int:
        members = zip(config.deep_arch, config.deep_configs(), strict=True)
        return max(config.k, *(DEEP_MEMBERS[a][1].min_length(c) for a, c in members))

    def wide(self, x: Tensor) -> Tensor:
        """The wide path alone: Σ over k-mer windows without an N of their weights, (N, n_outputs).

        A position counts as a base only when exactly one of A, C, G, T is 1 and the others 0.
        """
        bases = x[:, :4]
        top, code = bases.max(dim=1)
        is_base = (top == 1.0) & (bases.sum(dim=1) == 1.0)
        k = self.config.k
        windows = code.unfold(1, k, 1)  # (N, L-k+1, k)
        index = (windows * self.powers).sum(-1)
        ok = is_base.unfold(1, k, 1).all(-1)
        weights = self.table[self.column[index]]  # (N, L-k+1, n_outputs)
        return (weights * ok[..., None].to(weights.dtype)).sum(1)

    def _forward(self, x: Tensor) -> Tensor:
        out = self.wide(x) + self.bias
        for member, scale in zip(self.deep, self.deep_scale, strict=True):
            out = out + member(x) * scale
        return out

    def additive_parts(self) -> tuple[list[tuple[nn.Module, Tensor]], nn.Module]:
        """The output as a sum of parts: each deep member with its per-output scale, and the
        rest (wide path + bias, the same on both strands) as a module. Mutagenesis and
        variant scoring (:mod:`cislearn.interpret.ism`) score each part on its own path, the
        CNN member on the exact fast path, and add them up."""
        members = [(m, s.detach()) for m, s in zip(self.deep, self.deep_scale, strict=True)]
        return members, WidePath(self)


class WidePath(nn.Module):
    """The wide path and bias of a :class:`WideDeep` as a model of its own:
    ``model.wide(x) + model.bias`` (strand-symmetric; gradients do not reach the input)."""

    def __init__(self, model: WideDeep) -> None:
        super().__init__()
        self.model = model
        self.n_outputs = model.n_outputs

    def forward(self, x: Tensor) -> Tensor:
        return self.model.wide(x) + self.model.bias
