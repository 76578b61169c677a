"""The shared Lightning engine: epoch bookkeeping, hardware and threads, trainer, checkpoints.

Used by :mod:`cislearn.train` (supervised fitting) and :mod:`cislearn.pretrain` (masked-LM
pretraining); like them it imports Lightning, which prediction and the other commands never do.
Checkpoints in ``workdir/checkpoints`` exist only for ``resume``.

Checkpoint safety: Lightning 2.6 reads ``.ckpt`` files with ``torch.load``, and a pickle can
run code. Every checkpoint is loaded with ``weights_only=True`` (torch's restricted
unpickler: tensors, containers and primitive types, nothing callable): when resuming
(``Trainer.fit(..., weights_only=True)``, passed by the callers) and when reading the best
weights and the history back (:func:`read_back`). So a checkpoint someone hands us cannot
execute anything; our own checkpoints hold only such types (the history is stored as plain
floats).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Checkpoint
from pytorch_lightning.plugins.precision import Precision
from pytorch_lightning.utilities import rank_zero_only
from torch import Tensor, nn

from cislearn.config import TrainConfig
from cislearn.device import default_threads, resolve_hardware
from cislearn.errors import ConfigError, ModelLoadError
from cislearn.types import Progress

__all__ = [
    "CKPT_DIR",
    "BATCHES_PER_CALL",
    "Engine",
    "EpochCheckpoint",
    "default_threads",
    "resolve_hardware",
    "engine_context",
    "make_trainer",
    "prepare_checkpoints",
    "read_back",
    "history_frame",
    "loader_batch_size",
]

#: Checkpoints go to ``workdir / CKPT_DIR``.
CKPT_DIR = "checkpoints"
#: Mini-batches handed to one Lightning training/validation step (see ``Engine.training_step``).
#: 8 cut the ``cnn``'s seconds per epoch at batch 32 by ~10% (benchmarks/train_overhead.py).
BATCHES_PER_CALL = 8

log = logging.getLogger(__name__)
_SEED_ENV = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")
_LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning_fabric", "lightning.pytorch")


# -- the Lightning module base ---------------------------------------------------------------


class Engine(pl.LightningModule):
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
        self.has_valid = True  # False: no validation loader (plateau then watches train_loss)
        self.history: list[dict[str, float]] = []
        # Plain dict, not attributes: nn.Module.__setattr__ is slow, and this runs every step.
        self._epoch: dict[str, Any] = {"loss_sum": None, "n_batches": 0}
        self._t0 = 0.0
        self._row_done = False
        self._valid: list[tuple[Tensor, ...]] = []
        # Manual optimisation: Lightning's automatic path wraps every step in a closure and
        # several more hook dispatches; this one calls backward and the optimiser directly
        # (through Lightning's wrappers, so DDP, mixed precision and clipping still apply).
        self.automatic_optimization = False

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
            monitor = c.monitor if self.has_valid else "train_loss"
            mode = "min" if monitor in ("valid_loss", "train_loss") else "max"
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
        self._epoch = {"loss_sum": torch.zeros((), device=self.device), "n_batches": 0}
        self._row_done = False

    def _parts(self, batch: Any) -> Iterator[tuple[Tensor, ...]]:
        """The configured mini-batches of one loader batch of ``BATCHES_PER_CALL`` of them."""
        return zip(*(t.split(self.cfg.batch_size) for t in batch), strict=True)

    def _plain_steps(self) -> bool:
        """True when Lightning's backward/step wrappers would only dispatch hooks: one process
        and full float32 precision (no gradient scaler, no autocast, no DDP reducer)."""
        trainer = self.trainer
        return trainer.world_size == 1 and type(trainer.precision_plugin) is Precision

    def training_step(self, batch: Any, batch_idx: int) -> None:
        # One Lightning step runs BATCHES_PER_CALL optimiser steps, each on one mini-batch of
        # ``batch_size`` in loader order: the same updates as one step per mini-batch, with
        # Lightning's per-step machinery paid once per group. In a single float32 process
        # the steps call torch directly (Lightning's manual_backward / optimizer.step add
        # ~8 hook dispatches and a profiler record per step and nothing else there); mixed
        # precision and DDP go through Lightning, which scales the loss and prepares DDP's
        # reducer before each backward.
        opt = self.optimizers()
        plain = self._plain_steps()
        raw = opt.optimizer
        clip = self.cfg.grad_clip
        params = [p for group in raw.param_groups for p in group["params"]]
        for part in self._parts(batch):
            if plain:
                raw.zero_grad(set_to_none=True)
                loss = self._train_loss(part)
                loss.backward()
                if clip:
                    torch.nn.utils.clip_grad_norm_(params, clip)
                raw.step()
            else:
                opt.zero_grad(set_to_none=True)
                loss = self._train_loss(part)
                self.manual_backward(loss)
                if clip:
                    self.clip_gradients(opt, gradient_clip_val=clip, gradient_clip_algorithm="norm")
                opt.step()
            # Accumulated on the device: no .item() (a host sync) per step.
            self._epoch["loss_sum"] += loss.detach().float()
            self._epoch["n_batches"] += 1
        # Nothing returned: Lightning would keep the loss (and so the step's autograd graph
        # and activations) alive until the next step.

    def _epoch_train_loss(self) -> float:
        mean = self._epoch["loss_sum"] / max(self._epoch["n_batches"], 1)
        if self.trainer.world_size > 1:
            mean = self.all_gather(mean).mean()
        return float(mean)

    # validation
    def on_validation_epoch_start(self) -> None:
        self._valid = []

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        for part in self._parts(batch):
            self._valid.append(tuple(t.detach() for t in self._valid_batch(part)))

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
        train_loss = self._epoch_train_loss()
        self.log("train_loss", train_loss, sync_dist=False)
        if not self._row_done:  # no validation this epoch
            self._append_row({})
        self._step_scheduler(train_loss)

    def _step_scheduler(self, train_loss: float) -> None:
        """Epoch-end LR step (manual optimisation: Lightning leaves it to the module)."""
        sched = self.lr_schedulers()
        if sched is None:
            return
        if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            monitor = self.cfg.monitor if self.has_valid else "train_loss"
            value = self.trainer.callback_metrics.get(monitor, train_loss)
            sched.step(float(value))
        else:
            sched.step()

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
            epoch = int(row["epoch"])
            detail = f"epoch {epoch}/{self.cfg.max_epochs} {shown}"
            if self.has_valid and self._is_best(row):
                detail += f" *best {self.cfg.monitor}*"
            self.progress("epoch", epoch, self.cfg.max_epochs, detail)

    def _is_best(self, row: Mapping[str, float]) -> bool:
        """Whether ``row`` beats every earlier epoch on the monitored metric (as the
        checkpoint callback decides: the first epoch counts, NaN never improves)."""
        key = self.cfg.monitor
        value = row.get(key)
        if value is None or value != value:
            return len(self.history) == 1
        earlier = [r[key] for r in self.history[:-1] if r.get(key) == r.get(key)]
        if not earlier:
            return True
        return value < min(earlier) if key == "valid_loss" else value > max(earlier)

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


def loader_batch_size(config: TrainConfig) -> int:
    """Batch size of the loaders: ``BATCHES_PER_CALL`` mini-batches per loader batch.

    A loader batch of k * b shuffled indices split into pieces of b is the same sequence of
    mini-batches as a loader of batch size b (same permutation, same last partial batch).
    """
    return config.batch_size * BATCHES_PER_CALL


# -- hardware, quiet Lightning, trainer ------------------------------------------------------


@contextlib.contextmanager
def engine_context(threads: int, deterministic: bool) -> Iterator[None]:
    """Torch threads set, Lightning's banners and hints silenced; all restored on exit."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    loggers = [logging.getLogger(name) for name in _LIGHTNING_LOGGERS]
    levels = [lg.level for lg in loggers]
    env = {k: os.environ.get(k) for k in _SEED_ENV}  # set by seed_everything
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
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def make_trainer(
    config: TrainConfig,
    hardware: Mapping[str, Any],
    *,
    workdir: Path,
    monitor: str | None,
    mode: str,
) -> pl.Trainer:
    """A quiet Lightning trainer: checkpoints under ``workdir/checkpoints``, early stopping on
    ``monitor`` (None: no validation, so neither a best checkpoint nor early stopping)."""
    callbacks = [
        EpochCheckpoint(
            workdir / CKPT_DIR,
            monitor=monitor,
            mode=mode,
            patience=config.patience if monitor is not None else 0,
        )
    ]
    return pl.Trainer(
        accelerator=hardware["accelerator"],
        devices=hardware["devices"],
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=hardware["precision"],
        max_epochs=config.max_epochs,
        deterministic=config.deterministic,
        callbacks=callbacks,
        logger=False,  # the history lives in our checkpoints; no lightning_logs folder
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=workdir,
    )


# -- checkpoints and early stopping ----------------------------------------------------------


class EpochCheckpoint(Checkpoint):
    """``last.ckpt`` after every epoch, ``best.ckpt`` when ``monitor`` improves, and early
    stopping after ``patience`` epochs without improvement — one callback, epoch-end hooks only.

    Written by hand instead of Lightning's two ``ModelCheckpoint`` plus ``EarlyStopping``:
    Lightning dispatches ~6 hooks per training step to every callback, and with those three
    the dispatch alone cost ~8 % of a step of the default ``cnn`` at batch 32
    (``benchmarks/train_overhead.py``). Also, ``save_last`` in Lightning 2.6 is written only in
    epochs where the top-k file was saved, while resuming needs the state after every epoch.

    Checkpoints are written to a temporary name and renamed, so a run killed while saving
    keeps the previous complete file. A subclass of ``Checkpoint`` so Lightning calls its
    ``on_train_epoch_end`` after the module's own (which completes the history row).
    """

    def __init__(
        self, dirpath: Path, *, monitor: str | None, mode: str = "min", patience: int = 0
    ) -> None:
        super().__init__()
        if mode not in ("min", "max"):
            raise ConfigError(f"checkpoint mode must be min or max; got {mode!r}")
        self.dirpath = Path(dirpath)
        self.monitor = monitor
        self.mode = mode
        self.patience = int(patience)
        self.best: float | None = None
        self.best_epoch = -1
        self.wait = 0

    @property
    def state_key(self) -> str:
        return f"EpochCheckpoint{{monitor={self.monitor!r}}}"

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")
        self.best_epoch = int(state_dict.get("best_epoch", -1))
        self.wait = int(state_dict.get("wait", 0))

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True  # the first epoch is the best so far, even when its score is NaN
        if value != value:  # NaN never improves
            return False
        if self.best != self.best:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _save(self, trainer: pl.Trainer, names: Sequence[str]) -> None:
        """Serialise the state once and store it under each name (``best`` before ``last``)."""
        tmp = self.dirpath / ".epoch.ckpt.tmp"
        trainer.save_checkpoint(tmp)  # collective under DDP; rank 0 writes
        if trainer.is_global_zero:
            for name in names[:-1]:  # a file copy is cheaper than a second serialisation
                copy = self.dirpath / f".{name}.ckpt.tmp"
                shutil.copyfile(tmp, copy)
                os.replace(copy, self.dirpath / f"{name}.ckpt")
            os.replace(tmp, self.dirpath / f"{names[-1]}.ckpt")
        trainer.strategy.barrier("EpochCheckpoint.save")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        stop = False
        names = ["last"]
        if self.monitor is not None:
            metric = trainer.callback_metrics.get(self.monitor)
            if metric is not None:
                value = float(metric)
                if self._improved(value):
                    self.best, self.best_epoch, self.wait = value, trainer.current_epoch, 0
                    names = ["best", "last"]
                else:
                    self.wait += 1
                    stop = self.patience > 0 and self.wait >= self.patience
        self._save(trainer, names)
        if stop:
            trainer.should_stop = bool(trainer.strategy.reduce_boolean_decision(stop, all=False))


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


def prepare_checkpoints(
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


def read_back(ckpt_dir: Path, monitored: bool) -> tuple[dict[str, Tensor], list[dict], int]:
    """Best weights (without the module prefix), the history and the 1-based best epoch."""
    last = _load_checkpoint(ckpt_dir / "last.ckpt")
    best = _load_checkpoint(ckpt_dir / "best.ckpt") if monitored else last
    state = {k[6:]: v for k, v in best["state_dict"].items() if k.startswith("model.")}
    history = list(last.get("cislearn", {}).get("history", []))
    return state, history, int(best.get("epoch", 0)) + 1


def history_frame(rows: list[dict], notes: Sequence[str]) -> pd.DataFrame:
    """History rows as a DataFrame (integer ``epoch``), with the notes in ``attrs["notes"]``."""
    frame = pd.DataFrame(rows)
    if "epoch" in frame:
        frame["epoch"] = frame["epoch"].astype(int)
    frame.attrs["notes"] = list(notes)
    return frame
