"""K-mer transformer (``transformer``): tokenises the one-hot input, encodes, pools; MLM head.

Token ids (shared with :func:`cislearn.encode.kmer_tokens`): ``PAD=0, UNK=1, MASK=2, CLS=3``;
the k-mer with bases b_1..b_k (A=0, C=1, G=2, T=3) has id ``4 + sum_j b_j * 4**(k - j)``
(first base most significant); a k-mer containing an N is UNK.

Pretraining and fine-tuning
---------------------------
``forward_tokens(tokens)`` returns the encoder states, ``mlm_head`` turns them into vocabulary
logits per position; ``tokenize(x)`` gives the tokens ``forward`` uses (CLS first). The
encoder's weights are the ``encoder.`` keys of the state dict: move them from a pretrained
model into a classifier with ``clf.load_encoder_state_dict(pre.encoder_state_dict())``.
Both models need the same ``k``, ``d_model``, ``heads``, ``layers``, ``ff`` and
``positional`` (and, for learned positions, the same input length).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field, model_validator
from torch import Tensor, nn

from cislearn.errors import InputError, ModelLoadError
from cislearn.models.layers import (
    ArchConfig,
    DenseHead,
    DropoutRate,
    NonNegInt,
    PosInt,
    SequenceModel,
)

__all__ = [
    "PAD",
    "UNK",
    "MASK",
    "CLS",
    "N_SPECIAL",
    "vocab_size",
    "kmer_token_ids",
    "KmerEncoder",
    "TransformerConfig",
    "Transformer",
]

PAD, UNK, MASK, CLS = 0, 1, 2, 3
#: Number of special tokens before the first k-mer id.
N_SPECIAL = 4


def vocab_size(k: int) -> int:
    """Number of token ids for k-mers of size ``k``: the specials plus 4**k k-mers."""
    return N_SPECIAL + 4**k


def kmer_token_ids(x: Tensor, k: int) -> Tensor:
    """Overlapping k-mer token ids of a one-hot batch (no CLS).

    Parameters
    ----------
    x : Tensor of shape (N, C >= 4, L)
        Channels 0..3 are A, C, G, T; a position whose four values are all equal is N.
    k : int
        K-mer size, ``1 <= k <= L``.

    Returns
    -------
    LongTensor of shape (N, L - k + 1)
        Token ``i`` encodes positions ``i .. i + k - 1``.

    Examples
    --------
    >>> from cislearn.models.transformer import kmer_token_ids
    >>> x = torch.eye(4)[[0, 1, 3]].T[None]  # "ACT"
    >>> kmer_token_ids(x, 2).tolist()
    [[5, 11]]
    """
    bases = x[:, :4]
    codes = bases.argmax(dim=1)  # first maximum on ties, so any value pattern is defined
    is_n = bases.amax(dim=1) == bases.amin(dim=1)
    powers = 4 ** torch.arange(k - 1, -1, -1, device=x.device)
    ids = (codes.unfold(1, k, 1) * powers).sum(dim=-1) + N_SPECIAL
    has_n = is_n.unfold(1, k, 1).any(dim=-1)
    return torch.where(has_n, torch.full_like(ids, UNK), ids)


def _sinusoid(n_positions: int, d_model: int, device: torch.device) -> Tensor:
    """The (n_positions, d_model) sine/cosine table of Vaswani et al. (2017)."""
    position = torch.arange(n_positions, device=device, dtype=torch.float32)[:, None]
    inv_freq = torch.exp(
        torch.arange(0, d_model, 2, device=device, dtype=torch.float32)
        * (-math.log(10000.0) / d_model)
    )
    table = torch.empty(n_positions, d_model, device=device)
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq)
    return table


class KmerEncoder(nn.Module):
    """Token embedding + positions + pre-norm TransformerEncoder: (N, T) ids → (N, T, d_model).

    PAD positions are masked out of attention.
    """

    def __init__(
        self,
        *,
        k: int,
        d_model: int,
        heads: int,
        layers: int,
        ff: int,
        dropout: float,
        activation: str,
        positional: str,
        max_tokens: int,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size(k), d_model, padding_idx=PAD)
        self.position = nn.Embedding(max_tokens, d_model) if positional == "learned" else None
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            d_model,
            heads,
            ff,
            dropout,
            activation=activation,
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(
            layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        )

    def forward(self, tokens: Tensor) -> Tensor:
        n_tokens = tokens.shape[1]
        if self.position is not None:
            if n_tokens > self.position.num_embeddings:
                raise InputError(
                    f"transformer: {n_tokens} tokens but learned positions cover "
                    f"{self.position.num_embeddings}; use shorter inputs or positional=sinusoidal"
                )
            pos = self.position.weight[:n_tokens]
        else:
            pos = _sinusoid(n_tokens, self.embed.embedding_dim, tokens.device)
        h = self.dropout(self.embed(tokens) + pos)
        padding = tokens == PAD
        return self.transformer(h, src_key_padding_mask=padding if bool(padding.any()) else None)


class TransformerConfig(ArchConfig):
    """``transformer``: overlapping k-mer tokens + CLS → TransformerEncoder → pooled head.

    The defaults (k=4, d_model 64, 2 layers of 4 heads) train on a CPU on a few thousand
    200-bp sequences in minutes. Minimum input length: ``k``. Attention cost grows with the
    square of the length; beyond ~2 kb prefer ``resnet``.
    """

    k: Annotated[int, Field(ge=1, le=8)] = 4
    d_model: PosInt = 64
    heads: PosInt = 4
    layers: PosInt = 2
    ff: PosInt = 128
    dropout: DropoutRate = 0.1
    activation: Literal["relu", "gelu"] = "gelu"
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"
    pool: Literal["cls", "mean"] = "cls"
    dense: NonNegInt = 0

    @model_validator(mode="after")
    def _check_dims(self) -> TransformerConfig:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        if self.positional == "sinusoidal" and self.d_model % 2:
            raise ValueError(f"d_model must be even for sinusoidal positions; got {self.d_model}")
        return self


class Transformer(SequenceModel):
    """``encoder`` (KmerEncoder) → CLS or mean pooling → ``head``; plus ``mlm_head``.

    ``mlm_head`` maps encoder states (N, T, d_model) to vocabulary logits (N, T, vocab); it is
    not used by ``forward`` (its parameters get no gradient when training a classifier).
    Tokenisation is discrete, so no gradient reaches the one-hot input: attribute this model
    with in-silico mutagenesis rather than input gradients.
    """

    arch = "transformer"

    def __init__(
        self, config: TransformerConfig, *, length: int, n_outputs: int, n_tracks: int = 0
    ) -> None:
        super().__init__(config, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
        c = config
        self.k = c.k
        self.encoder = KmerEncoder(
            k=c.k,
            d_model=c.d_model,
            heads=c.heads,
            layers=c.layers,
            ff=c.ff,
            dropout=c.dropout,
            activation=c.activation,
            positional=c.positional,
            max_tokens=length - c.k + 2,  # k-mers plus CLS
        )
        self.head = DenseHead(
            c.d_model,
            n_outputs,
            hidden=(c.dense,) if c.dense else (),
            activation=c.activation,
            input_dropout=c.dropout,
        )
        self.mlm_head = nn.Sequential(
            nn.Linear(c.d_model, c.d_model),
            nn.GELU(),
            nn.LayerNorm(c.d_model),
            nn.Linear(c.d_model, vocab_size(c.k)),
        )

    @classmethod
    def min_length(cls, config: TransformerConfig) -> int:
        return config.k

    @property
    def vocab_size(self) -> int:
        return vocab_size(self.k)

    def tokenize(self, x: Tensor) -> Tensor:
        """Tokens ``forward`` feeds the encoder: CLS then the k-mer ids.

        Parameters
        ----------
        x : Tensor of shape (N, 4 + n_tracks, L)

        Returns
        -------
        LongTensor of shape (N, L - k + 2)
        """
        ids = kmer_token_ids(x, self.k)
        cls = torch.full((ids.shape[0], 1), CLS, dtype=ids.dtype, device=ids.device)
        return torch.cat([cls, ids], dim=1)

    def forward_tokens(self, tokens: Tensor) -> Tensor:
        """Encoder states of token ids (for masked-LM pretraining).

        Parameters
        ----------
        tokens : LongTensor of shape (N, T)
            Ids as from :meth:`tokenize` (MASK and PAD allowed; PAD is not attended to).

        Returns
        -------
        Tensor of shape (N, T, d_model)
        """
        return self.encoder(tokens)

    def mlm_logits(self, tokens: Tensor) -> Tensor:
        """Vocabulary logits per position, (N, T) → (N, T, vocab_size)."""
        return self.mlm_head(self.forward_tokens(tokens))

    def _forward(self, x: Tensor) -> Tensor:
        tokens = self.tokenize(x)
        states = self.forward_tokens(tokens)
        if self.config.pool == "cls":
            pooled = states[:, 0]
        else:
            keep = (tokens != PAD).unsqueeze(-1).to(states.dtype)
            pooled = (states * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)
        return self.head(pooled)

    def encoder_state_dict(self) -> dict[str, Tensor]:
        """The encoder's weights (keys without the ``encoder.`` prefix)."""
        return self.encoder.state_dict()

    def load_encoder_state_dict(self, state: dict[str, Tensor]) -> None:
        """Load pretrained encoder weights (from :meth:`encoder_state_dict`) in place.

        Raises
        ------
        ModelLoadError
            When keys or shapes differ (different k, d_model, layers or positions).
        """
        try:
            self.encoder.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            detail = " ".join(line.strip() for line in first[:3])
            raise ModelLoadError(
                "transformer: pretrained encoder weights do not fit this model (same k, "
                f"d_model, heads, layers, ff and positional needed): {detail}"
            ) from exc
