"""The training engine: Lightning module and trainer setup for fitting and masked-LM pretraining.

This is the only module that imports Lightning (importing it costs seconds, so prediction and
the other commands stay on plain torch). Checkpoints in ``workdir/checkpoints`` exist only
for ``resume``; the trained model leaves :func:`fit` as an ``nn.Module`` and the caller saves
it as a safetensors bundle (:func:`cislearn.io.bundle.save_bundle` with ``result.meta``).

Checkpoint safety: Lightning 2.6 reads ``.ckpt`` files with ``torch.load``, and a pickle can
run code. Every checkpoint is loaded here with ``weights_only=True`` (torch's restricted
unpickler: tensors, containers and primitive types, nothing callable): when resuming
(``Trainer.fit(..., weights_only=True)``) and when reading the best weights and the history
back. So a checkpoint someone hands us cannot execute anything; our own checkpoints hold
only such types (the history is stored as plain floats).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_only
from torch import Tensor, nn

from cislearn.config import CLASSIFICATION_TASKS, TrainConfig
from cislearn.data import OneHotDataset, SequenceDataset, assign_split, make_loader
from cislearn.errors import ConfigError, InputError, ModelLoadError
from cislearn.io.bundle import read_bundle
from cislearn.losses import class_weights, loss_fn
from cislearn.metrics import classification_metrics, multiclass_metrics, regression_metrics
from cislearn.models.layers import reverse_complement_batch
from cislearn.models.registry import build_model
from cislearn.types import Progress, no_progress

__all__ = [
    "DEFAULT_THREADS",
    "MAX_CLASSES",
    "PROGRESS_SEP",
    "TrainResult",
    "PretrainResult",
    "fit",
    "pretrain",
    "infer_task",
    "output_names",
]

#: Torch CPU threads when ``num_threads`` is None (measured; see benchmarks/train_overhead.py).
DEFAULT_THREADS = 2
#: ``task: auto`` calls integer labels 0..K-1 multiclass up to this many classes.
MAX_CLASSES = 20
#: Progress stages carry metrics after this separator: ``"epoch | train_loss=0.41 ..."``.
PROGRESS_SEP = " | "

log = logging.getLogger(__name__)
_CKPT_DIR = "checkpoints"
_LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning_fabric", "lightning.pytorch")


class TrainResult(NamedTuple):
    """What :func:`fit` returns."""

    model: nn.Module
    """The best weights (by the monitored metric), eval mode, on CPU."""
    history: pd.DataFrame
    """One row per epoch: epoch, train_loss, valid_loss, valid metrics, lr, seconds."""
    best_epoch: int
    """1-based epoch of the best weights."""
    best_score: float
    """Monitored metric at ``best_epoch`` (NaN without a validation set)."""
    config: TrainConfig
    """The config made concrete: arch, task, monitor, devices, precision, num_threads."""
    task: str
    split: np.ndarray
    """Split of every record of the dataset passed in, shape (n,)."""
    meta: dict
    """Bundle metadata for :func:`cislearn.io.bundle.save_bundle`."""
    notes: tuple[str, ...]
    """Things the user should know (e.g. no validation set, so no early stopping)."""


class PretrainResult(NamedTuple):
    """What :func:`pretrain` returns (the model is a ``transformer`` with its MLM head)."""

    model: nn.Module
    history: pd.DataFrame
    best_epoch: int
    best_score: float
    config: TrainConfig
    meta: dict
    notes: tuple[str, ...]


# -- tasks ---------------------------------------------------------------------------------


def infer_task(targets: np.ndarray) -> str:
    """Guess the task from training targets (``task: auto``).

    One 0/1 column → ``binary``; several 0/1 columns → ``multilabel``; one column of integer
    labels exactly 0..K-1 with 3 <= K <= :data:`MAX_CLASSES` → ``multiclass``; other
    non-negative integers → ``counts``; anything else → ``regression``. NaN (missing) values
    are ignored.

    Parameters
    ----------
    targets : ndarray of shape (n,) or (n, t)

    Examples
    --------
    >>> infer_task(np.array([[0.0], [1.0]])), infer_task(np.array([0, 1, 2, 1]))
    ('binary', 'multiclass')
    """
    y = np.asarray(targets, dtype=float)
    y = y.reshape(len(y), -1)
    values = y[~np.isnan(y)]
    if values.size == 0:
        raise InputError("targets: no values to learn from (all missing)")
    if np.isin(values, (0.0, 1.0)).all():
        return "binary" if y.shape[1] == 1 else "multilabel"
    if np.isfinite(values).all() and (values >= 0).all() and (values == np.round(values)).all():
        classes = np.unique(values)
        k = len(classes)
        if y.shape[1] == 1 and 3 <= k <= MAX_CLASSES and (classes == np.arange(k)).all():
            return "multiclass"
        return "counts"
    return "regression"


def _check_targets(task: str, targets: np.ndarray, names: Sequence[str]) -> int:
    """Raise InputError unless the targets fit the task; return the number of outputs."""
    y = targets.reshape(len(targets), -1)
    values = y[~np.isnan(y)]
    fix = f"(set the task explicitly, e.g. --task {infer_task(y)})" if values.size else ""
    if np.isinf(values).any():
        raise InputError("targets: infinite values; remove or fix those records")
    if task in ("binary", "multilabel") and not np.isin(values, (0.0, 1.0)).all():
        bad = values[~np.isin(values, (0.0, 1.0))][0]
        raise InputError(f"task '{task}': targets must be 0 or 1; found {bad:g} {fix}")
    if task == "binary" and y.shape[1] != 1:
        raise InputError(
            f"task 'binary' needs one target column; found {y.shape[1]} ({', '.join(names)}); "
            "use --task multilabel"
        )
    if task == "multiclass":
        if y.shape[1] != 1 or (values < 0).any() or (values != np.round(values)).any():
            raise InputError(
                f"task 'multiclass' needs one column of class indices 0..K-1; found "
                f"{y.shape[1]} column(s) with values such as {values[:3].tolist()} {fix}"
            )
        n_classes = int(values.max()) + 1
        if n_classes < 2:
            raise InputError("task 'multiclass' needs at least two classes; found one")
        return n_classes
    if task == "counts" and (values < 0).any():
        raise InputError(f"task 'counts': targets must be >= 0; found {values.min():g} {fix}")
    return y.shape[1]


def output_names(task: str, target_names: Sequence[str], n_outputs: int) -> list[str]:
    """Column name of each model output: the targets, or ``label_0``.. for multiclass."""
    if task == "multiclass":
        return [f"{target_names[0]}_{k}" for k in range(n_outputs)]
    return list(target_names)


def _resolve_monitor(
    config: TrainConfig, task: str, valid_targets: np.ndarray
) -> tuple[str, str, list[str]]:
    """Monitored metric, its mode (min/max) and notes."""
    classification = task in CLASSIFICATION_TASKS
    monitor = config.monitor
    if monitor == "auto":
        monitor = "valid_auroc" if classification else "valid_loss"
    if monitor in ("valid_auroc", "valid_auprc") and not classification:
        raise ConfigError(
            f"config key 'monitor': {monitor} needs a classification task; task is '{task}' "
            "(use valid_loss, valid_pearson or valid_spearman)"
        )
    if monitor == "valid_auprc" and task == "multiclass":
        raise ConfigError("config key 'monitor': valid_auprc is not defined for multiclass")
    if monitor in ("valid_pearson", "valid_spearman") and classification:
        raise ConfigError(
            f"config key 'monitor': {monitor} needs a regression or counts task; task is '{task}'"
        )
    notes: list[str] = []
    if len(valid_targets) == 0:
        notes.append("no validation records: trained for max_epochs without early stopping")
    elif monitor in ("valid_auroc", "valid_auprc") and task != "multiclass":
        y = valid_targets[~np.isnan(valid_targets)]
        if y.size == 0 or y.min() == y.max():
            notes.append(
                f"the validation set has a single class: monitored valid_loss, not {monitor}"
            )
            monitor = "valid_loss"
    return monitor, ("min" if monitor == "valid_loss" else "max"), notes


def _valid_scores(task: str, out: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Whole-validation-set metrics (nan-mean over targets)."""

    def mean(values: Any) -> float:
        arr = np.atleast_1d(np.asarray(values, dtype=float))
        return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")

    if task == "multiclass":
        z = out - out.max(axis=1, keepdims=True)
        prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        keep = ~np.isnan(y[:, 0])
        m = multiclass_metrics(y[keep, 0].astype(int), prob[keep])
        return {"valid_auroc": m["macro_auroc"], "valid_accuracy": m["accuracy"]}
    if task in ("binary", "multilabel"):
        m = classification_metrics(y, 1.0 / (1.0 + np.exp(-out)))
        return {"valid_auroc": mean(m["auroc"]), "valid_auprc": mean(m["auprc"])}
    pred = np.logaddexp(0.0, out) if task == "counts" else out
    m = regression_metrics(y, pred)
    return {"valid_pearson": mean(m["pearson"]), "valid_spearman": mean(m["spearman"])}


_VALID_KEYS = {
    "binary": ("valid_loss", "valid_auroc", "valid_auprc"),
    "multilabel": ("valid_loss", "valid_auroc", "valid_auprc"),
    "multiclass": ("valid_loss", "valid_auroc", "valid_accuracy"),
    "regression": ("valid_loss", "valid_pearson", "valid_spearman"),
    "counts": ("valid_loss", "valid_pearson", "valid_spearman"),
    "mlm": ("valid_loss", "valid_accuracy"),
}


# -- the Lightning modules -----------------------------------------------------------------


class _Engine(pl.LightningModule):
    """Shared epoch bookkeeping: train loss without per-step syncs, history rows, progress.

    Subclasses implement ``_train_loss(batch) -> Tensor``, ``_valid_batch(batch) -> tuple of
    Tensors`` (concatenated over the epoch along dim 0) and ``_valid_metrics(*tensors) ->
    dict``.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        config: TrainConfig,
        valid_keys: Sequence[str],
        fingerprint: Mapping[str, Any],
        progress: Progress,
    ) -> None:
        super().__init__()
        self.model = model
        self.cfg = config
        self.valid_keys = tuple(valid_keys)
        self.fingerprint = dict(fingerprint)
        self.progress = progress
        self.loader_generator: torch.Generator | None = None
        self.history: list[dict[str, float]] = []
        self._loss_sum: Tensor | None = None
        self._n_batches = 0
        self._t0 = 0.0
        self._row_done = False
        self._valid: list[tuple[Tensor, ...]] = []

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)

    # optimisation
    def configure_optimizers(self) -> Any:
        c = self.cfg
        params = [p for p in self.model.parameters() if p.requires_grad]
        if c.optimizer == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(
                params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay
            )
        elif c.optimizer == "adam":
            opt = torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)
        elif c.optimizer == "adamw":
            opt = torch.optim.AdamW(params, lr=c.lr, weight_decay=c.weight_decay)
        else:
            opt = torch.optim.RMSprop(
                params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay
            )
        if c.scheduler == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=c.max_epochs)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
        if c.scheduler == "plateau":
            monitored = self.trainer.val_dataloaders is not None
            monitor = c.monitor if monitored else "train_loss"
            mode = "max" if monitored and monitor != "valid_loss" else "min"
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, mode=mode, factor=0.5, patience=max(1, c.patience // 2)
            )
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": sched, "interval": "epoch", "monitor": monitor},
            }
        return opt

    # training
    # Every epoch is reseeded from (seed, epoch): dropout and augmentation here, shuffling
    # before the epoch's batch order is drawn. A resumed run then repeats the uninterrupted
    # one exactly.
    def _epoch_seed(self, epoch: int) -> int:
        return self.cfg.seed * 100_003 + epoch

    def seed_shuffle(self, epoch: int) -> None:
        """Seed the training loader's generator for ``epoch`` (call before it iterates)."""
        if self.loader_generator is not None:
            self.loader_generator.manual_seed(self._epoch_seed(epoch))

    def on_train_epoch_start(self) -> None:
        torch.manual_seed(self._epoch_seed(self.current_epoch))
        self._t0 = time.perf_counter()
        self._loss_sum = torch.zeros((), device=self.device)
        self._n_batches = 0
        self._row_done = False

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        loss = self._train_loss(batch)
        # Accumulated on the device: no .item() (a host sync) per step.
        self._loss_sum += loss.detach().float()
        self._n_batches += 1
        return loss

    def _epoch_train_loss(self) -> float:
        mean = self._loss_sum / max(self._n_batches, 1)
        if self.trainer.world_size > 1:
            mean = self.all_gather(mean).mean()
        return float(mean)

    # validation
    def on_validation_epoch_start(self) -> None:
        self._valid = []

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self._valid.append(tuple(t.detach() for t in self._valid_batch(batch)))

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self._valid:
            return
        parts = [torch.cat(group) for group in zip(*self._valid, strict=True)]
        self._valid = []
        if self.trainer.world_size > 1:  # every rank saw a shard: score the whole set
            parts = [self.all_gather(p).flatten(0, 1) for p in parts]
        metrics = self._valid_metrics(*(p.float() for p in parts))
        for key, value in metrics.items():
            self.log(key, float(value), sync_dist=False)
        self._append_row(metrics)

    def on_train_epoch_end(self) -> None:
        self.seed_shuffle(self.current_epoch + 1)
        self.log("train_loss", self._epoch_train_loss(), sync_dist=False)
        if not self._row_done:  # no validation this epoch
            self._append_row({})

    def _append_row(self, metrics: Mapping[str, float]) -> None:
        row = {"epoch": float(self.current_epoch + 1), "train_loss": self._epoch_train_loss()}
        row.update({k: float(metrics.get(k, float("nan"))) for k in self.valid_keys})
        row["lr"] = float(self.trainer.optimizers[0].param_groups[0]["lr"])
        row["seconds"] = time.perf_counter() - self._t0
        self.history.append(row)
        self._row_done = True
        if self.global_rank == 0:
            shown = " ".join(
                f"{k}={v:.4g}" for k, v in row.items() if k not in ("epoch", "lr", "seconds")
            )
            stage = f"epoch{PROGRESS_SEP}epoch {int(row['epoch'])}/{self.cfg.max_epochs} {shown}"
            self.progress(stage, int(row["epoch"]), self.cfg.max_epochs)

    # checkpoints carry the history (plain floats: loadable with weights_only=True)
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["cislearn"] = {"history": list(self.history), "fingerprint": self.fingerprint}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.history = list(checkpoint.get("cislearn", {}).get("history", []))

    def _train_loss(self, batch: Any) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _valid_batch(self, batch: Any) -> tuple[Tensor, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _valid_metrics(self, *parts: Tensor) -> dict[str, float]:  # pragma: no cover
        raise NotImplementedError


def _random_rc(x: Tensor) -> Tensor:
    """Reverse-complement a random half (in expectation) of a one-hot batch."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip[:, None, None], reverse_complement_batch(x), x)


class _Supervised(_Engine):
    def __init__(self, model: nn.Module, loss: nn.Module, *, task: str, **kwargs: Any) -> None:
        super().__init__(model, valid_keys=_VALID_KEYS[task], **kwargs)
        self.loss = loss
        self.task = task

    def _train_loss(self, batch: Any) -> Tensor:
        x, y = batch
        if self.cfg.rc_augment:
            x = _random_rc(x)
        return self.loss(self.model(x), y)

    def _valid_batch(self, batch: Any) -> tuple[Tensor, ...]:
        x, y = batch
        out = self.model(x)
        if self.cfg.rc_average:
            out = 0.5 * (out + self.model(reverse_complement_batch(x)))
        return out, y

    def _valid_metrics(self, out: Tensor, y: Tensor) -> dict[str, float]:
        loss = float(self.loss(out, y))
        scores = _valid_scores(self.task, out.cpu().numpy(), y.cpu().numpy())
        return {"valid_loss": loss, **scores}


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
    from cislearn.models.transformer import MASK, N_SPECIAL, PAD

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


class _MaskedLM(_Engine):
    def __init__(self, model: nn.Module, *, mask_fraction: float, **kwargs: Any) -> None:
        super().__init__(model, valid_keys=_VALID_KEYS["mlm"], **kwargs)
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


# -- hardware, quiet Lightning, trainer ------------------------------------------------------


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _resolve_hardware(config: TrainConfig) -> dict[str, Any]:
    """accelerator, devices, precision and num_threads made concrete."""
    has_gpu = torch.cuda.is_available()
    accelerator = config.accelerator
    if accelerator == "auto":
        accelerator = "gpu" if has_gpu else "cpu"
    if accelerator == "gpu" and not has_gpu:
        raise ConfigError(
            "config key 'accelerator': gpu requested but torch sees no GPU "
            "(torch.cuda.is_available() is False); use --accelerator cpu or auto"
        )
    distributed = config.strategy in ("ddp", "ddp_spawn")
    # One device unless a distributed strategy is asked for: 'auto' on a multi-GPU node
    # would otherwise start DDP behind the user's back.
    devices: int | str = config.devices if config.devices != "auto" or distributed else 1
    precision = config.precision
    if precision == "auto":
        precision = "16-mixed" if accelerator == "gpu" else "32-true"
    if precision == "16-mixed" and accelerator == "cpu":
        raise ConfigError(
            "config key 'precision': 16-mixed needs a GPU; on CPU use 32-true or bf16-mixed"
        )
    threads = config.num_threads
    if threads is None:
        threads = min(DEFAULT_THREADS, _cpu_count())
        if accelerator == "cpu" and distributed and isinstance(devices, int):
            threads = max(1, _cpu_count() // devices)  # the processes share the cores
    return {
        "accelerator": accelerator,
        "devices": devices,
        "precision": precision,
        "num_threads": threads,
    }


@contextlib.contextmanager
def _engine_context(threads: int, deterministic: bool) -> Iterator[None]:
    """Torch threads set, Lightning's banners and hints silenced; all restored on exit."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    loggers = [logging.getLogger(name) for name in _LIGHTNING_LOGGERS]
    levels = [lg.level for lg in loggers]
    try:
        with warnings.catch_warnings():
            # Hints meant for interactive use (workers, logging intervals, sync_dist) that do
            # not apply: data are pre-encoded tensors, and metrics are gathered by hand.
            warnings.filterwarnings("ignore", module=r"(pytorch_)?lightning(_fabric)?\b")
            warnings.filterwarnings("ignore", message=r".*(num_workers|does not have many workers)")
            for lg in loggers:
                lg.setLevel(logging.WARNING)
            torch.set_num_threads(threads)
            yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn_only)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _trainer(
    config: TrainConfig,
    hardware: Mapping[str, Any],
    *,
    workdir: Path,
    monitor: str | None,
    mode: str,
) -> pl.Trainer:
    # Two checkpoint callbacks: Lightning 2.6 writes ``save_last`` only in epochs where the
    # top-k file was also saved, but resuming needs the state after every epoch.
    ckpt_dir = workdir / _CKPT_DIR
    callbacks: list[Any] = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="last",
            monitor=None,
            save_top_k=1,
            enable_version_counter=False,
        )
    ]
    if monitor is not None:
        callbacks.append(
            ModelCheckpoint(
                dirpath=ckpt_dir,
                filename="best",
                monitor=monitor,
                mode=mode,
                save_top_k=1,
                auto_insert_metric_name=False,
                enable_version_counter=False,
            )
        )
    if monitor is not None and config.patience > 0:
        callbacks.append(
            EarlyStopping(monitor=monitor, mode=mode, patience=config.patience, check_finite=False)
        )
    return pl.Trainer(
        accelerator=hardware["accelerator"],
        devices=hardware["devices"],
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=hardware["precision"],
        max_epochs=config.max_epochs,
        deterministic=config.deterministic,
        gradient_clip_val=config.grad_clip,
        gradient_clip_algorithm="norm" if config.grad_clip else None,
        callbacks=callbacks,
        logger=False,  # the history lives in our checkpoints; no lightning_logs folder
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=workdir,
    )


# -- checkpoints -----------------------------------------------------------------------------


def _load_checkpoint(path: Path) -> dict[str, Any]:
    """A Lightning checkpoint read with torch's restricted unpickler (nothing executed)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{path}: not a readable cislearn checkpoint ({first})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ModelLoadError(f"{path}: not a Lightning checkpoint (no state_dict)")
    return ckpt


def _prepare_checkpoints(
    ckpt_dir: Path, *, resume: bool, fingerprint: Mapping[str, Any], notes: list[str]
) -> tuple[Path | None, int]:
    """The checkpoint to resume from (or None, after clearing stale ones) and the next epoch."""
    last = ckpt_dir / "last.ckpt"
    if resume and last.is_file():
        ckpt = _load_checkpoint(last)
        saved = ckpt.get("cislearn", {}).get("fingerprint", {})
        differ = [k for k in fingerprint if saved.get(k) != fingerprint[k]]
        if differ:
            raise ConfigError(
                f"{last}: cannot resume: the checkpoint was trained with a different "
                f"{', '.join(differ)}; run without --resume or choose a new --out"
            )
        return last, int(ckpt.get("epoch", -1)) + 1
    if resume:
        notes.append(f"resume: no checkpoint in {ckpt_dir}; started from the first epoch")
        log.warning("nothing to resume in %s; training from the start", ckpt_dir)
    if rank_zero_only.rank == 0 and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)
    return None, 0


def _read_back(ckpt_dir: Path, monitored: bool) -> tuple[dict[str, Tensor], list[dict], int]:
    """Best weights (without the module prefix), the history and the 1-based best epoch."""
    last = _load_checkpoint(ckpt_dir / "last.ckpt")
    best = _load_checkpoint(ckpt_dir / "best.ckpt") if monitored else last
    state = {k[6:]: v for k, v in best["state_dict"].items() if k.startswith("model.")}
    history = list(last.get("cislearn", {}).get("history", []))
    return state, history, int(best.get("epoch", 0)) + 1


def _fingerprint(model: nn.Module, task: str, data: SequenceDataset) -> dict[str, Any]:
    digest = hashlib.sha256("\n".join(data.ids).encode())
    digest.update(np.ascontiguousarray(data.targets).tobytes())
    return {
        "arch": model.arch,
        "model": model.config.model_dump(mode="json"),
        "task": task,
        "n_outputs": int(model.n_outputs),
        "length": int(model.length),
        "n_tracks": int(model.n_tracks),
        "data": digest.hexdigest(),
    }


def _history_frame(rows: list[dict], notes: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if "epoch" in frame:
        frame["epoch"] = frame["epoch"].astype(int)
    frame.attrs["notes"] = list(notes)
    return frame


# -- initialisation from a pretrained bundle -------------------------------------------------

_ENCODER_KEYS = ("k", "d_model", "heads", "layers", "ff", "activation", "positional")


def _read_init(path: str) -> tuple[dict[str, Tensor], dict[str, Any]]:
    state, meta = read_bundle(path)
    if meta["arch"] != "transformer":
        raise ConfigError(
            f"config key 'init': {path} holds a '{meta['arch']}' model; only transformer "
            "encoders can initialise a model (pretrain one with `cislearn pretrain`)"
        )
    prefix = "model.encoder." if any(k.startswith("model.encoder.") for k in state) else "encoder."
    encoder = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not encoder:
        raise ModelLoadError(f"{path}: the bundle has no transformer encoder weights")
    return encoder, meta


def _init_params(config: TrainConfig, init_meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """Architecture params: the pretrained encoder's shape unless the config overrides it."""
    if init_meta is None:
        return dict(config.model)
    if config.arch != "transformer":
        raise ConfigError(
            f"config key 'init': a pretrained transformer cannot initialise arch "
            f"'{config.arch}'; use --arch transformer"
        )
    pretrained = init_meta.get("model", {})
    return {**{k: pretrained[k] for k in _ENCODER_KEYS if k in pretrained}, **config.model}


# -- the public entry points -----------------------------------------------------------------


def fit(
    dataset: SequenceDataset,
    config: TrainConfig,
    *,
    workdir: str | os.PathLike[str],
    resume: bool = False,
    progress: Progress | None = None,
) -> TrainResult:
    """Train a model on a dataset's ``train`` part, validating on its ``valid`` part.

    Parameters
    ----------
    dataset : SequenceDataset
        Sequences of one length, targets (n, t), optional tracks (n, c, L). Without a split
        one is assigned from the config (``split``, ``valid_fraction``, ...); the ``test``
        part is never looked at.
    config : TrainConfig
    workdir : path
        Run directory; checkpoints go to ``workdir/checkpoints`` (``best.ckpt``,
        ``last.ckpt``). Without ``resume`` old checkpoints there are removed first.
    resume : bool
        Continue from ``workdir/checkpoints/last.ckpt`` (weights, optimiser, epoch counter,
        early-stopping state and history); the config may change ``max_epochs`` and
        ``patience`` but not the model, task or data.
    progress : Progress, optional
        Called after every epoch as ``progress("epoch | epoch 3/20 train_loss=0.41
        valid_loss=0.35 valid_auroc=0.91", 3, 20)``: the bar name, then :data:`PROGRESS_SEP`
        and the epoch's metrics.

    Returns
    -------
    TrainResult
        ``model`` (best weights, eval mode, CPU), ``history``, ``best_epoch``,
        ``best_score``, resolved ``config``, ``task``, ``split``, bundle ``meta``, ``notes``.

    Raises
    ------
    InputError
        Sequences of different lengths, or targets that do not fit the task.
    ConfigError
        A config value that cannot work with these data or this machine.

    Examples
    --------
    >>> ds = assign_split(load_dataset(pos="pos.fa", neg="neg.fa"))  # doctest: +SKIP
    >>> result = fit(ds, TrainConfig(arch="cnn", max_epochs=10), workdir="runs/a")  # doctest: +SKIP
    >>> save_bundle("runs/a", result.model.state_dict(), result.meta)  # doctest: +SKIP
    """
    progress = progress or no_progress
    workdir = Path(workdir)
    if len(dataset) == 0:
        raise InputError("the dataset has no records")
    ds = dataset if dataset.split is not None else assign_split(dataset, **config.split_kwargs())
    train_ds, valid_ds = ds.part("train"), ds.part("valid")
    if len(train_ds) == 0:
        raise ConfigError("no training records after the split; lower valid/test fractions")
    length = ds.fixed_length
    if length is None:
        lengths = ds.lengths
        raise InputError(
            f"sequences must all have one length for training; found {int(lengths.min())}.."
            f"{int(lengths.max())} (resize them, e.g. with `cislearn prepare --width`)"
        )
    task = infer_task(train_ds.targets) if config.task == "auto" else config.task
    n_outputs = _check_targets(task, ds.targets, ds.target_names)
    n_tracks = 0 if ds.tracks is None else int(ds.tracks.shape[1])
    if config.loss is not None and task != "regression":
        raise ConfigError(f"config key 'loss': only for the regression task; task is '{task}'")
    if config.class_weights and task not in CLASSIFICATION_TASKS:
        raise ConfigError(f"config key 'class_weights': only for classification; task is '{task}'")
    hardware = _resolve_hardware(config)
    monitor, mode, notes = _resolve_monitor(config, task, valid_ds.targets)
    init_state, init_meta = _read_init(config.init) if config.init else (None, None)
    resolved = config.model_copy(update={"task": task, "monitor": monitor, **hardware})

    with _engine_context(hardware["num_threads"], config.deterministic):
        pl.seed_everything(config.seed, workers=True, verbose=False)
        model = build_model(
            config.arch,
            _init_params(config, init_meta),
            length=length,
            n_outputs=n_outputs,
            n_tracks=n_tracks,
        )
        if init_state is not None:
            model.load_encoder_state_dict(init_state)
        pos_weight = class_weight = None
        if config.class_weights:
            weights = class_weights(train_ds.targets, task, n_classes=n_outputs)
            pos_weight, class_weight = (None, weights) if task == "multiclass" else (weights, None)
        loss = loss_fn(task, loss=config.loss, pos_weight=pos_weight, class_weight=class_weight)
        fingerprint = _fingerprint(model, task, train_ds)
        ckpt_dir = workdir / _CKPT_DIR
        ckpt_path, first_epoch = _prepare_checkpoints(
            ckpt_dir, resume=resume, fingerprint=fingerprint, notes=notes
        )
        module = _Supervised(
            model, loss, task=task, config=resolved, fingerprint=fingerprint, progress=progress
        )
        train_loader = make_loader(
            OneHotDataset(train_ds), batch_size=config.batch_size, shuffle=True, seed=config.seed
        )
        valid_loader = (
            make_loader(OneHotDataset(valid_ds), batch_size=config.batch_size)
            if len(valid_ds)
            else None
        )
        module.loader_generator = train_loader.generator
        module.seed_shuffle(first_epoch)
        has_valid = valid_loader is not None
        trainer = _trainer(
            resolved, hardware, workdir=workdir, monitor=monitor if has_valid else None, mode=mode
        )
        trainer.fit(module, train_loader, valid_loader, ckpt_path=ckpt_path, weights_only=True)
        state, rows, best_epoch = _read_back(ckpt_dir, has_valid)
        world_size = int(trainer.world_size)

    model.load_state_dict(state, strict=True)
    model.eval().cpu()
    history = _history_frame(rows, notes)
    best_score = float("nan")
    if has_valid and len(history) >= best_epoch:
        best_score = float(history[monitor].iloc[best_epoch - 1])
    meta = _bundle_meta(model, ds, resolved, task=task, notes=notes)
    meta.update(
        best_epoch=int(best_epoch),
        best_score=None if np.isnan(best_score) else best_score,
        world_size=world_size,
    )
    return TrainResult(
        model, history, best_epoch, best_score, resolved, task, ds.split, meta, tuple(notes)
    )


def _bundle_meta(
    model: nn.Module,
    ds: SequenceDataset,
    config: TrainConfig,
    *,
    task: str,
    notes: Sequence[str],
) -> dict[str, Any]:
    import platform

    counts = {}
    if ds.split is not None:
        names, n = np.unique(ds.split.astype(str), return_counts=True)
        counts = {str(k): int(v) for k, v in zip(names, n, strict=True)}
    return {
        "arch": model.arch,
        "model": model.config.model_dump(mode="json"),
        "length": int(model.length),
        "n_outputs": int(model.n_outputs),
        "n_tracks": int(model.n_tracks),
        "track_names": list(ds.track_names),
        "task": task,
        "target_names": list(ds.target_names),
        "output_names": output_names(task, ds.target_names, int(model.n_outputs)),
        "n_value": 0.25,
        "rc_average": bool(config.rc_average),
        "seed": int(config.seed),
        "data": json.loads(json.dumps(dict(ds.provenance), default=str)),
        "split": {**config.split_kwargs(), "counts": counts},
        "config": config.model_dump(mode="json"),
        "monitor": config.monitor,
        "notes": list(notes),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "pytorch_lightning": pl.__version__,
        },
    }


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
    from cislearn.encode import kmer_tokens
    from cislearn.models.transformer import CLS, PAD

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
    hardware = _resolve_hardware(config)
    notes: list[str] = []
    resolved = config.model_copy(update={"task": "auto", "monitor": "valid_loss", **hardware})
    with _engine_context(hardware["num_threads"], config.deterministic):
        pl.seed_everything(config.seed, workers=True, verbose=False)
        length = max(len(s) for s in sequences)
        model = build_model("transformer", config.model, length=length, n_outputs=1)
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
        ckpt_dir = workdir / _CKPT_DIR
        ckpt_path = _prepare_checkpoints(
            ckpt_dir, resume=False, fingerprint=fingerprint, notes=notes
        )
        module = _MaskedLM(
            model,
            mask_fraction=mask_fraction,
            config=resolved,
            fingerprint=fingerprint,
            progress=progress,
        )
        loader_args = {"batch_size": config.batch_size, "collate_fn": _identity}
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
        if valid_loader is None:
            notes.append("no validation sequences: trained for max_epochs without early stopping")
        trainer = _trainer(
            resolved,
            hardware,
            workdir=workdir,
            monitor="valid_loss" if valid_loader is not None else None,
            mode="min",
        )
        trainer.fit(module, train_loader, valid_loader, ckpt_path=ckpt_path, weights_only=True)
        state, rows, best_epoch = _read_back(ckpt_dir, valid_loader is not None)

    model.load_state_dict(state, strict=True)
    model.eval().cpu()
    history = _history_frame(rows, notes)
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
