"""Lightning's distributed predict loop for :func:`cislearn.distribute.run_sharded` when
several processes run: each rank takes its items (a distributed sampler's interleaved split),
runs them on its device and appends the payloads to its shard (a ``BasePredictionWriter``).
Imported only then: importing Lightning alone costs seconds."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, IterableDataset

from cislearn import errors
from cislearn.engine import engine_context
from cislearn.io.atomic import atomic_write
from cislearn.io.shards import ShardWriter

__all__ = ["predict_loop"]


def _rank_and_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _as_is(item: Any) -> Any:
    return item


class _Items(IterableDataset):
    """This rank's items (the rank is known once Lightning started the process group)."""

    def __init__(self, work: Any) -> None:
        self.work = work

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        rank, world = _rank_and_world()
        return iter(self.work.items(rank, world))


class _Module(pl.LightningModule):
    def __init__(self, work: Any, threads: int) -> None:
        super().__init__()
        self.work = work
        self.threads = threads
        self.net = work.model  # registered: Lightning moves it to the rank's device
        self.launcher_pid = os.getpid()

    def on_predict_start(self) -> None:
        # a started rank's threads are its own (Lightning sets cores / processes unless
        # OMP_NUM_THREADS is set)
        torch.set_num_threads(self.threads)
        if os.getpid() != self.launcher_pid:
            # a forked rank: when another rank fails, the launcher stops this one with
            # SIGTERM. Lightning's handler would broadcast to the dead rank and raise, and
            # where exceptions are printed, not raised (a __del__, numba's cache callback)
            # the user got a gloo traceback under the one-line error. A prediction has no
            # state to save: the signal ends the rank; the launcher reports the failure.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, idx: int) -> Any:
        return batch  # items are host objects (records, chunks); run() moves tensors

    def predict_step(self, batch: tuple[int, Any], batch_idx: int) -> tuple[int, bytes]:
        index, item = batch
        return index, self.work.run(index, item, self.device)


class _ShardWriter(BasePredictionWriter):
    def __init__(self, folder: Path, after: Callable[[int, int], None] | None) -> None:
        super().__init__(write_interval="batch")
        self.folder = folder
        self.after = after
        self.shard: ShardWriter | None = None

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.shard = ShardWriter(self.folder, trainer.global_rank)
        (self.folder / f"{_ERROR}{trainer.global_rank}").unlink(missing_ok=True)  # a killed run's

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: tuple[int, bytes],
        batch_indices: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        assert self.shard is not None
        self.shard.append(*prediction)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        # a user's error (a bad record) is the run's error on every rank: left here before
        # this rank's connections close, for the ranks (and a fork launcher) that then see
        # only "connection closed by peer"
        if isinstance(exception, errors.CislearnError):
            kind = type(exception)
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{_ERROR}{trainer.global_rank}"
            with atomic_write(path) as fh:
                fh.write(f"{kind.__module__}.{kind.__name__}: {exception}")

    def on_predict_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert self.shard is not None
        self.shard.close(pl_module.work.state())
        trainer.strategy.barrier("cislearn-shards")  # every shard complete before rank 0 reads
        if self.after is not None:  # inside the loop: rank 0 may be a forked child
            self.after(trainer.global_rank, trainer.world_size)
            trainer.strategy.barrier("cislearn-after")


def predict_loop(
    work: Any, folder: Path, hardware: Any, after: Callable[[int, int], None] | None = None
) -> tuple[int, int]:
    """Run ``work`` (a :class:`cislearn.distribute.ShardedWork`) on Lightning's predict loop
    with ``hardware`` (a :class:`cislearn.distribute.Hardware`); every rank calls this.
    ``after(rank, world)`` runs on every rank once all shards are complete, inside the loop
    (the process group up; a forked rank ends after it).

    Returns
    -------
    (int, int)
        This process's global rank and the world size; all shards are complete on return.
    """
    # items pass as they are: the default conversion walks every record of a chunk (2.5 s of
    # 14 s per rank on 500,000 variants)
    loader = DataLoader(_Items(work), batch_size=None, num_workers=0, collate_fn=_as_is)
    strategy = launch_strategy(hardware)
    with engine_context(hardware.num_threads, deterministic=False):
        trainer = pl.Trainer(
            accelerator=hardware.accelerator,
            devices=hardware.devices,
            num_nodes=hardware.num_nodes,
            strategy=strategy,
            precision=hardware.precision,
            callbacks=[_ShardWriter(folder, after)],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=folder,
        )
        # when a forked rank fails, torch logs that it stops the others: the error says enough
        spawn_log = logging.getLogger("torch.multiprocessing.spawn")
        level = spawn_log.level
        spawn_log.setLevel(logging.ERROR)
        try:
            trainer.predict(
                _Module(work, hardware.num_threads), dataloaders=loader, return_predictions=False
            )
        except errors.CislearnError:
            raise
        except Exception as exc:
            # another rank's error when one failed (a forked rank's, or the reason a rank
            # started outside lost its peers); else a forked rank's error as it raised it
            reported = _reported_error(folder)
            if reported is None and isinstance(exc, torch.multiprocessing.ProcessRaisedException):
                reported = _rank_error(exc)
            if reported is None or reported is exc:
                raise
            raise reported from None
        finally:
            spawn_log.setLevel(level)
    return trainer.global_rank, trainer.world_size


def _started_outside() -> bool:
    """Ranks started by torchrun, SLURM or by hand (Lightning launches nothing then)."""
    env = os.environ
    return "LOCAL_RANK" in env or "TORCHELASTIC_RUN_ID" in env or "SLURM_NTASKS" in env


def launch_strategy(hardware: Any) -> str:
    """Lightning strategy that runs ``hardware`` (a :class:`cislearn.distribute.Hardware`).

    CPU ranks started here are forked from this process (``ddp_fork``): the ``ddp`` launcher
    re-runs the command for every other rank, which imports Python, torch and Lightning
    again before the ranks meet (~6 s of a 2-process run on the 2-core machine; 1,000,000
    SNVs took 39 s). Forking is not safe once CUDA is initialised, so GPU ranks, Windows and
    macOS keep ``ddp``; ranks started outside (torchrun, SLURM) launch nothing either way.
    """
    one_node = int(hardware.num_nodes) == 1  # several nodes: their ranks start outside
    fork_ok = sys.platform.startswith("linux") and one_node and not _started_outside()
    if hardware.strategy == "ddp" and hardware.accelerator == "cpu" and fork_ok:
        return "ddp_fork"
    return hardware.strategy


#: File name (+ rank) of a rank's cislearn error in the shard folder.
_ERROR = "error."


def _rank_error(exc: BaseException) -> BaseException:
    """A forked rank's error as the error it raised when it was a cislearn error (its one-line
    message, no traceback); any other error as it came (a traceback is right for a bug)."""
    last = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
    return _cislearn_error(last) or exc


def _cislearn_error(line: str) -> errors.CislearnError | None:
    """``cislearn.errors.Kind: message`` as that error, else None."""
    name, _, message = line.partition(": ")
    module, _, cls_name = name.rpartition(".")
    cls = getattr(errors, cls_name, None) if module == "cislearn.errors" else None
    if isinstance(cls, type) and issubclass(cls, errors.CislearnError):
        error = cls.__new__(cls)
        Exception.__init__(error, message)
        return error
    return None


def _reported_error(folder: Path) -> errors.CislearnError | None:
    """The cislearn error the lowest failed rank left in ``folder``, if any."""
    ranks = (p.name.removeprefix(_ERROR) for p in folder.glob(f"{_ERROR}*"))
    for rank in sorted(int(r) for r in ranks if r.isdigit()):
        error = _cislearn_error((folder / f"{_ERROR}{rank}").read_text(encoding="utf-8").strip())
        if error is not None:
            return error
    return None
