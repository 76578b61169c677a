"""``wide-deep``: a CNN joined to a strand-merged k-mer linear path (the lasso's model form).

The output is ``deep_scale * cnn(x) + Σ_positions table[canonical k-mer at position] + bias``.
The wide path is linear in the k-mer counts of ``kmer_counts(..., rc_merge=True)`` (windows
holding an N are skipped), so a k-mer lasso fitted by :mod:`cislearn.baseline` loads into it
exactly, and it gives the same value on both strands. :mod:`cislearn.stack` fits it in stages
(CNN, then lasso, then the two weights on the validation part); with ``fit: joint`` the
ordinary training loop trains every part at once.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, ValidationInfo, field_validator
from torch import Tensor, nn

from cislearn.models.cnn import CNN, CNNConfig
from cislearn.models.layers import ArchConfig, SequenceModel
from cislearn.models.rnn import CNNLSTM, CNNLSTMConfig

__all__ = ["DEEP_MEMBERS", "WideDeepConfig", "WideDeep", "canonical_columns"]

#: Architectures the deep member can be: name → (config class, module class).
DEEP_MEMBERS: dict[str, tuple[type[ArchConfig], type[SequenceModel]]] = {
    "cnn": (CNNConfig, CNN),
    "cnn-lstm": (CNNLSTMConfig, CNNLSTM),
}


class WideDeepConfig(ArchConfig):
    """``wide-deep``: a deep member (``cnn`` or ``cnn-lstm``) plus a strand-merged k-mer path.

    Attributes
    ----------
    deep_arch : {"cnn", "cnn-lstm"}
        Architecture of the deep member.
    deep : dict
        Its options (validated by its config class; its own ``rc_average`` must stay off,
        set the top-level one to average both strands). Stored with every default filled in.
    k : int
        k-mer length of the wide path, 1 to 8 (``(4**k + 4**(k/2)) / 2`` weights, even k).
    fit : {"stack", "joint"}
        ``stack`` (default): train the CNN, fit an L1 logistic regression on the k-mer
        counts of the training part, then learn the two weights by logistic regression on
        the validation logits. ``joint``: train everything together by gradient descent.

    Minimum input length: the CNN's.
    """

    deep_arch: Literal["cnn", "cnn-lstm"] = "cnn"
    deep: dict[str, Any] = Field(default_factory=dict, validate_default=True)
    k: int = Field(default=6, ge=1, le=8)
    fit: Literal["stack", "joint"] = "stack"

    @field_validator("deep", mode="before")
    @classmethod
    def _deep_options(cls, value: Any, info: ValidationInfo) -> dict[str, Any]:
        if isinstance(value, ArchConfig):
            value = value.model_dump()
        config_class = DEEP_MEMBERS[info.data.get("deep_arch", "cnn")][0]
        config = config_class.model_validate(dict(value or {}))
        if config.rc_average:
            raise ValueError("deep.rc_average: set rc_average on wide-deep itself")
        return config.model_dump(mode="json")

    def deep_config(self) -> ArchConfig:
        """The deep member's validated config."""
        return DEEP_MEMBERS[self.deep_arch][0].model_validate(self.deep)


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
    """``deep`` (:class:`CNN` or :class:`CNNLSTM`), ``table`` (strand-merged k-mer weights),
    ``deep_scale`` and ``bias``.

    Gradients reach the weights of both paths but not the input through the wide path
    (it looks k-mers up), so gradient attributions see only the CNN; mutagenesis sees both.
    """

    arch = "wide-deep"

    def __init__(
        self, config: WideDeepConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        member = DEEP_MEMBERS[config.deep_arch][1]
        self.deep = member(
            config.deep_config(), length=length, n_outputs=n_outputs, n_tracks=n_tracks
        )
        column, n_columns = canonical_columns(config.k)
        self.register_buffer("column", column, persistent=False)
        self.register_buffer(
            "powers", 4 ** torch.arange(config.k - 1, -1, -1, dtype=torch.int64), persistent=False
        )
        self.table = nn.Parameter(torch.zeros(n_columns, n_outputs))
        self.deep_scale = nn.Parameter(torch.ones(n_outputs))
        self.bias = nn.Parameter(torch.zeros(n_outputs))

    @classmethod
    def min_length(cls, config: WideDeepConfig) -> int:
        member = DEEP_MEMBERS[config.deep_arch][1]
        return max(member.min_length(config.deep_config()), config.k)

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
        return self.deep(x) * self.deep_scale + self.wide(x) + self.bias
