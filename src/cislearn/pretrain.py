"""Masked k-mer language-model pretraining of the ``transformer`` (DNABERT's recipe, small)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cislearn.config import TrainConfig
from cislearn.encode import kmer_tokens
from cislearn.engine import (
    CKPT_DIR,
    Engine,
    engine_context,
    history_frame,
    loader_batch_size,
    make_trainer,
    prepare_checkpoints,
    read_back,
    resolve_hardware,
)
from cislearn.errors import ConfigError, InputError
from cislearn.models.registry import build_model
from cislearn.models.transformer import CLS, MASK, N_SPECIAL, PAD
from cislearn.types import Progress, no_progress

__all__ = ["PretrainResult", "pretrain", "mask_tokens"]

#: History columns of the validation set: loss and accuracy on the masked tokens.
_MLM_KEYS = ("valid_loss", "valid_accuracy")


class PretrainResult(NamedTuple):
    """What :func:`pretrain` returns (the model is a ``transformer`` with its MLM head)."""

    model: nn.Module
    history: pd.DataFrame
    best_epoch: int
    best_score: float
    config: TrainConfig
    meta: dict
    notes: tuple[str, ...]


def mask_tokens(
    tokens: Tensor, *, k: int, fraction: float, vocab: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """DNABERT-style masking of k-mer tokens: contiguous spans of ``k`` tokens.

    Neighbouring overlapping k-mers share k-1 bases, so a lone masked token could be read off
    its neighbours; masking spans of k tokens hides the span's centre. Span starts are drawn
    with probability ``fraction / k`` so that about ``fraction`` of the tokens are masked;
    masked inputs become MASK (80 %), a random k-mer (10 %) or stay (10 %), as in BERT. The
    first token (CLS) and PAD are never masked.

    Parameters
    ----------
    tokens : LongTensor of shape (N, T)

    Returns
    -------
    inputs : LongTensor of shape (N, T)
    labels : LongTensor of shape (N, T)
        The original id where masked, -100 (ignored by cross-entropy) elsewhere.
    """
    n, t = tokens.shape
    device = tokens.device

    def rand(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=generator, device=device)

    starts = (rand(n, t) < fraction / k).float()
    # A span start at i masks i..i+k-1: max-pool the starts over a window looking back k-1.
    spans = F.max_pool1d(F.pad(starts[:, None], (k - 1, 0)), k, stride=1)[:, 0] > 0
    spans[:, 0] = False
    spans &= tokens != PAD
    labels = torch.where(spans, tokens, torch.full_like(tokens, -100))
    roll = rand(n, t)
    random_ids = (rand(n, t) * (vocab - N_SPECIAL)).long() + N_SPECIAL
    inputs = torch.where(spans & (roll < 0.8), torch.full_like(tokens, MASK), tokens)
    inputs = torch.where(spans & (roll >= 0.8) & (roll < 0.9), random_ids, inputs)
    return inputs, labels


class _MaskedLM(Engine):
    def __init__(self, model: nn.Module, *, mask_fraction: float, **kwargs: Any) -> None:
        super().__init__(model, valid_keys=_MLM_KEYS, **kwargs)
        self.mask_fraction = mask_fraction

    def _mlm_loss(self, inputs: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.model.mlm_logits(inputs)
        loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return loss, logits

    def _train_loss(self, batch: Any) -> Tensor:
        (tokens,) = batch
        inputs, labels = mask_tokens(
            tokens, k=self.model.k, fraction=self.mask_fraction, vocab=self.model.vocab_size
        )
        return self._mlm_loss(inputs, labels)[0]

    def _valid_batch(self, batch: Any) -> tuple[Tensor, ...]:
        inputs, labels = batch  # masked once, up front, so every epoch scores the same task
        logits = self.model.mlm_logits(inputs)
        masked = labels != -100
        loss_sum = F.cross_entropy(
            logits.flatten(0, 1), labels.flatten(), ignore_index=-100, reduction="sum"
        )
        correct = ((logits.argmax(-1) == labels) & masked).sum()
        return (torch.stack([loss_sum.float(), masked.sum().float(), correct.float()])[None],)

    def _valid_metrics(self, stats: Tensor) -> dict[str, float]:
        loss_sum, n, correct = stats.sum(dim=0).tolist()
        return {"valid_loss": loss_sum / max(n, 1.0), "valid_accuracy": correct / max(n, 1.0)}


class _Batches:
    """A map-style dataset of pre-built tensors served a whole batch at a time."""

    def __init__(self, *tensors: Tensor) -> None:
        self.tensors = tensors

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices: Sequence[int]) -> tuple[Tensor, ...]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        return tuple(t[idx] for t in self.tensors)


def _identity(batch: Any) -> Any:
    return batch


def _token_matrix(sequences: Sequence[str], k: int) -> Tensor:
    """CLS + k-mer ids per sequence, right-padded with PAD to the longest, (N, T) int64."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    if (lengths < k).any():
        i = int(np.flatnonzero(lengths < k)[0])
        raise InputError(f"sequence {i + 1} is shorter than k={k}", record=i + 1)
    out = np.full((len(sequences), int(lengths.max()) - k + 2), PAD, dtype=np.int64)
    out[:, 0] = CLS
    for length in np.unique(lengths):  # one vectorised call per distinct length
        rows = np.flatnonzero(lengths == length)
        out[rows, 1 : length - k + 2] = kmer_tokens([sequences[i] for i in rows], k)
    return torch.from_numpy(out)


def pretrain(
    sequences: Sequence[str],
    config: TrainConfig,
    *,
    workdir: str | os.PathLike[str],
    mask_fraction: float = 0.15,
    progress: Progress | None = None,
) -> PretrainResult:
    """Pretrain a ``transformer`` as a masked k-mer language model on unlabelled sequences.

    DNABERT's recipe at small scale: overlapping k-mer tokens, spans of k contiguous tokens
    masked (see :func:`mask_tokens`), cross-entropy on the masked positions. A seeded
    ``valid_fraction`` of the sequences (masked once, so epochs are comparable) drives early
    stopping. Fine-tune with ``fit(..., TrainConfig(arch="transformer", init=bundle_dir))``
    after saving the result with :func:`cislearn.io.bundle.save_bundle`.

    Parameters
    ----------
    sequences : sequence of str
        Unlabelled DNA; lengths may differ (shorter ones are padded, and PAD is not attended).
    config : TrainConfig
        ``arch`` must be ``transformer``; optimiser, epochs, batch size, seed, devices...
        as for :func:`fit`.
    workdir : path
        Checkpoints go to ``workdir/checkpoints``.
    mask_fraction : float
        Expected fraction of tokens masked, in (0, 0.5].

    Returns
    -------
    PretrainResult
        ``model`` (best weights, eval, CPU), ``history`` (train_loss, valid_loss,
        valid_accuracy of masked tokens), ``best_epoch``, ``best_score`` (valid loss),
        ``config``, bundle ``meta`` (task ``mlm``), ``notes``.

    Examples
    --------
    >>> res = pretrain(seqs, TrainConfig(arch="transformer"), workdir="runs/pre")  # doctest: +SKIP
    """
    progress = progress or no_progress
    workdir = Path(workdir)
    if config.arch != "transformer":
        raise ConfigError(f"config key 'arch': pretraining needs transformer; got '{config.arch}'")
    if not 0.0 < mask_fraction <= 0.5:
        raise ConfigError(f"mask_fraction must be in (0, 0.5]; got {mask_fraction}")
    if len(sequences) < 2:
        raise InputError(f"pretraining needs at least 2 sequences; got {len(sequences)}")
    hardware = resolve_hardware(config)
    notes: list[str] = []
    resolved = config.model_copy(update={"task": "auto", "monitor": "valid_loss", **hardware})
    with engine_context(hardware["num_threads"], config.deterministic):
        pl.seed_everything(config.seed, workers=True, verbose=False)
        length = max(len(s) for s in sequences)
        model = build_model("transformer", config.model, length=length, n_outputs=1)
        resolved = resolved.model_copy(update={"model": model.config.model_dump(mode="json")})
        tokens = _token_matrix(sequences, model.k)
        order = np.random.default_rng(config.seed).permutation(len(tokens))
        n_valid = int(round(config.valid_fraction * len(tokens)))
        valid_idx, train_idx = order[:n_valid], order[n_valid:]
        if len(train_idx) == 0:
            raise ConfigError("no training sequences left; lower valid_fraction")
        gen = torch.Generator().manual_seed(config.seed + 1)
        v_inputs, v_labels = mask_tokens(
            tokens[valid_idx],
            k=model.k,
            fraction=mask_fraction,
            vocab=model.vocab_size,
            generator=gen,
        )
        fingerprint = {
            "arch": "transformer",
            "model": model.config.model_dump(mode="json"),
            "task": "mlm",
            "length": int(length),
            "data": hashlib.sha256(tokens.numpy().tobytes()).hexdigest(),
        }
        ckpt_dir = workdir / CKPT_DIR
        ckpt_path, _ = prepare_checkpoints(
            ckpt_dir, resume=False, fingerprint=fingerprint, notes=notes
        )
        module = _MaskedLM(
            model,
            mask_fraction=mask_fraction,
            config=resolved,
            fingerprint=fingerprint,
            progress=progress,
        )
        loader_args = {"batch_size": loader_batch_size(config), "collate_fn": _identity}
        train_loader = torch.utils.data.DataLoader(
            _Batches(tokens[train_idx]),
            shuffle=True,
            generator=torch.Generator().manual_seed(config.seed),
            **loader_args,
        )
        module.loader_generator = train_loader.generator
        module.seed_shuffle(0)
        valid_loader = (
            torch.utils.data.DataLoader(_Batches(v_inputs, v_labels), **loader_args)
            if n_valid
            else None
        )
        module.has_valid = valid_loader is not None
        if valid_loader is None:
            notes.append("no validation sequences: trained for max_epochs without early stopping")
        trainer = make_trainer(
            resolved,
            hardware,
            workdir=workdir,
            monitor="valid_loss" if valid_loader is not None else None,
            mode="min",
        )
        trainer.fit(module, train_loader, valid_loader, ckpt_path=ckpt_path, weights_only=True)
        state, rows, best_epoch = read_back(ckpt_dir, valid_loader is not None)

    model.load_state_dict(state, strict=True)
    model.eval().cpu()
    history = history_frame(rows, notes)
    best_score = float("nan")
    if valid_loader is not None and len(history) >= best_epoch:
        best_score = float(history["valid_loss"].iloc[best_epoch - 1])
    meta = {
        "arch": "transformer",
        "model": model.config.model_dump(mode="json"),
        "length": int(length),
        "n_outputs": 1,
        "n_tracks": 0,
        "track_names": [],
        "task": "mlm",
        "target_names": [],
        "output_names": [],
        "seed": int(config.seed),
        "pretrain": {"mask_fraction": mask_fraction, "n_sequences": len(sequences)},
        "config": resolved.model_dump(mode="json"),
        "best_epoch": int(best_epoch),
        "best_score": None if np.isnan(best_score) else best_score,
        "notes": list(notes),
    }
    return PretrainResult(model, history, best_epoch, best_score, resolved, meta, tuple(notes))
