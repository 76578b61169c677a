"""Supervised training: tasks and targets, the supervised Lightning module, and :func:`fit`.

The engine it runs on (epoch bookkeeping, hardware, trainer, checkpoints) is
:mod:`cislearn.engine`; masked-LM pretraining is :mod:`cislearn.pretrain`. Checkpoints in
``workdir/checkpoints`` exist only for ``resume``, and are only ever read with torch's
restricted unpickler (see :mod:`cislearn.engine`); the trained model leaves :func:`fit` as an
``nn.Module`` and the caller saves it as a safetensors bundle
(:func:`cislearn.io.bundle.save_bundle` with ``result.meta``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from cislearn.config import TrainConfig
from cislearn.data import (
    OneHotDataset,
    SequenceDataset,
    assign_split,
    carve_valid,
    length_error,
    make_loader,
)
from cislearn.engine import (
    CKPT_DIR,
    Engine,
    default_threads,
    engine_context,
    history_frame,
    loader_batch_size,
    make_trainer,
    prepare_checkpoints,
    read_back,
    resolve_hardware,
)
from cislearn.errors import ConfigError, InputError, ModelLoadError
from cislearn.io.bundle import read_bundle
from cislearn.leakage import split_notes
from cislearn.losses import class_weights, loss_fn
from cislearn.metrics import classification_metrics, multiclass_metrics, regression_metrics
from cislearn.models.layers import reverse_complement_batch
from cislearn.models.registry import build_model
from cislearn.types import CLASSIFICATION_TASKS, Progress, no_progress

__all__ = [
    "default_threads",
    "MAX_CLASSES",
    "TrainResult",
    "fit",
    "infer_task",
    "output_names",
    "stop_summary",
    "NO_VALID_WARNING",
]

#: ``task: auto`` calls integer labels 0..K-1 multiclass up to this many classes.
MAX_CLASSES = 20


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


#: The note (and warning) of a run that trains without a validation part.
NO_VALID_WARNING = (
    "warning: no validation part (valid_fraction 0): trained every epoch up to max_epochs "
    "without early stopping and kept the last epoch, which may be over-fitted"
)

log = logging.getLogger(__name__)


def stop_summary(history: pd.DataFrame, best_epoch: int, monitor: str, max_epochs: int) -> str:
    """How training ended: ``stopped early at epoch N; best epoch M (valid_auroc X)``.

    Parameters
    ----------
    history : DataFrame
        One row per epoch run (:attr:`TrainResult.history`).
    best_epoch : int
        1-based epoch of the kept weights.
    monitor : str
        Monitored column of ``history``.
    max_epochs : int
    """
    n = len(history)
    ran = f"ran all {n} epochs" if n > 1 else "ran 1 epoch"
    if n < max_epochs:
        ran = f"stopped early at epoch {n}"
    if monitor not in history or not 1 <= best_epoch <= n:
        return f"{ran}; kept the last epoch (no validation part)"
    value = float(history[monitor].iloc[best_epoch - 1])
    return f"{ran}; best epoch {best_epoch} ({monitor} {value:.4g})"


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
        notes.append(NO_VALID_WARNING)
        log.warning(NO_VALID_WARNING)
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

    out = out.astype(np.float64)  # sklearn checks that probabilities sum to 1
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
}


# -- the Lightning module -------------------------------------------------------------------


def _random_rc(x: Tensor) -> Tensor:
    """Reverse-complement a random half (in expectation) of a one-hot batch."""
    flip = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(flip[:, None, None], reverse_complement_batch(x), x)


class _Supervised(Engine):
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
        Called after every epoch as ``progress("epoch", 3, 20, "epoch 3/20 train_loss=0.41
        valid_loss=0.35 valid_auroc=0.91")``: the bar name, then the epoch's metrics as the
        ``detail``.

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
    ds = carve_valid(ds, fraction=config.valid_fraction, seed=config.seed)
    train_ds, valid_ds = ds.part("train"), ds.part("valid")
    if len(train_ds) == 0:
        raise ConfigError("no training records after the split; lower valid/test fractions")
    length = ds.fixed_length
    if length is None:
        raise length_error(ds)
    task = infer_task(train_ds.targets) if config.task == "auto" else config.task
    n_outputs = _check_targets(task, ds.targets, ds.target_names)
    n_tracks = 0 if ds.tracks is None else int(ds.tracks.shape[1])
    if config.loss is not None and task != "regression":
        raise ConfigError(f"config key 'loss': only for the regression task; task is '{task}'")
    if config.class_weights and task not in CLASSIFICATION_TASKS:
        raise ConfigError(f"config key 'class_weights': only for classification; task is '{task}'")
    hardware = resolve_hardware(config)
    monitor, mode, notes = _resolve_monitor(config, task, valid_ds.targets)
    notes[:0] = split_notes(ds)
    init_state, init_meta = _read_init(config.init) if config.init else (None, None)
    resolved = config.model_copy(update={"task": task, "monitor": monitor, **hardware})

    with engine_context(hardware["num_threads"], config.deterministic):
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
        # every architecture parameter, defaults included, goes into the recorded config
        resolved = resolved.model_copy(update={"model": model.config.model_dump(mode="json")})
        pos_weight = class_weight = None
        if config.class_weights:
            weights = class_weights(train_ds.targets, task, n_classes=n_outputs)
            pos_weight, class_weight = (None, weights) if task == "multiclass" else (weights, None)
        loss = loss_fn(task, loss=config.loss, pos_weight=pos_weight, class_weight=class_weight)
        fingerprint = _fingerprint(model, task, train_ds)
        ckpt_dir = workdir / CKPT_DIR
        ckpt_path, first_epoch = prepare_checkpoints(
            ckpt_dir, resume=resume, fingerprint=fingerprint, notes=notes
        )
        module = _Supervised(
            model, loss, task=task, config=resolved, fingerprint=fingerprint, progress=progress
        )
        train_loader = make_loader(
            OneHotDataset(train_ds),
            batch_size=loader_batch_size(config),
            shuffle=True,
            seed=config.seed,
        )
        valid_loader = (
            make_loader(OneHotDataset(valid_ds), batch_size=loader_batch_size(config))
            if len(valid_ds)
            else None
        )
        module.loader_generator = train_loader.generator
        module.seed_shuffle(first_epoch)
        has_valid = module.has_valid = valid_loader is not None
        trainer = make_trainer(
            resolved, hardware, workdir=workdir, monitor=monitor if has_valid else None, mode=mode
        )
        trainer.fit(module, train_loader, valid_loader, ckpt_path=ckpt_path, weights_only=True)
        state, rows, best_epoch = read_back(ckpt_dir, has_valid)
        world_size = int(trainer.world_size)

    model.load_state_dict(state, strict=True)
    model.eval().cpu()
    history = history_frame(rows, notes)
    best_score = float("nan")
    if has_valid and len(history) >= best_epoch:
        best_score = float(history[monitor].iloc[best_epoch - 1])
    ending = stop_summary(history, best_epoch if has_valid else 0, monitor, config.max_epochs)
    notes.append(ending)
    history.attrs["notes"] = list(notes)
    progress("epoch", len(history), len(history), ending)
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
