"""Inference spread over processes, GPUs and nodes on Lightning's distributed predict loop:
work items split over the ranks (interleaved, as a distributed sampler splits indices), each
rank writing its shard (a ``BasePredictionWriter``), rank 0 reading them back in input order.

Any action that turns an input into independent, numbered items (chunks of variants,
sequences, genomic windows) plugs in by implementing :class:`ShardedWork` and calling
:func:`run_sharded` once; rank 0 then merges with :func:`cislearn.io.shards.read_shard_items`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from cislearn.config import TrainConfig
from cislearn.engine import engine_context, resolve_hardware
from cislearn.io.shards import ShardWriter

__all__ = [
    "ShardedWork",
    "ShardedRun",
    "Hardware",
    "inference_hardware",
    "hardware_for",
    "run_sharded",
]


class ShardedWork(Protocol):
    """What :func:`run_sharded` runs: numbered items, one payload per item."""

    model: nn.Module | None
    """Moved to each rank's device by Lightning (None: nothing to move)."""

    def items(self, part: int, parts: int) -> Iterable[tuple[int, Any]]:
        """``(index, item)`` of part ``part`` of ``parts``: item ``i`` belongs to part
        ``i % parts``, indices increasing."""
        ...

    def run(self, index: int, item: Any, device: torch.device) -> bytes:
        """The payload of one item, computed on ``device``."""
        ...

    def state(self) -> dict[str, np.ndarray]:
        """What rank 0 needs from this rank besides the payloads (counts, samples)."""
        ...


class Hardware(NamedTuple):
    """Concrete Lightning settings of an inference run."""

    accelerator: str
    devices: int | str
    num_nodes: int
    strategy: str
    precision: str
    num_threads: int


class ShardedRun(NamedTuple):
    """Where a :func:`run_sharded` call ran and wrote."""

    rank: int
    """Global rank of this process (0 merges)."""
    world_size: int
    folder: Path
    """The shard folder (``rankNNNNN.*`` files of every rank)."""


def inference_hardware(
    *,
    accelerator: str = "auto",
    devices: int | str = "auto",
    num_nodes: int = 1,
    strategy: str = "auto",
    precision: str = "auto",
    num_threads: int | None = None,
) -> Hardware:
    """The same choices as ``train``'s (:func:`cislearn.engine.resolve_hardware`): one device
    unless ``strategy="ddp"``; ``precision="auto"`` → ``16-mixed`` on GPU, ``32-true`` on
    CPU; CPU DDP processes on one node share its cores (threads = cores / devices).

    Raises
    ------
    ConfigError
        An unknown value, or a GPU asked for where torch sees none.
    """
    cfg = TrainConfig(
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision=precision,
        num_threads=num_threads,
    )
    hw = resolve_hardware(cfg)
    return Hardware(
        hw["accelerator"], hw["devices"], num_nodes, strategy, hw["precision"], hw["num_threads"]
    )


def hardware_for(hardware: Hardware | None, device: str | None) -> Hardware:
    """``hardware`` as given, else one process on ``device`` (None: the GPU if present)."""
    if hardware is not None:
        return hardware
    if device is None:
        return inference_hardware()
    return inference_hardware(accelerator="cpu" if str(device).startswith("cpu") else "gpu")


def _rank_and_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class _Items(IterableDataset):
    """This rank's items (the rank is known once Lightning started the process group)."""

    def __init__(self, work: ShardedWork) -> None:
        self.work = work

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        rank, world = _rank_and_world()
        return iter(self.work.items(rank, world))


class _Module(pl.LightningModule):
    def __init__(self, work: ShardedWork) -> None:
        super().__init__()
        self.work = work
        self.net = work.model  # registered: Lightning moves it to the rank's device

    def transfer_batch_to_device(self, batch: Any, device: torch.device, idx: int) -> Any:
        return batch  # items are host objects (records, chunks); run() moves tensors

    def predict_step(self, batch: tuple[int, Any], batch_idx: int) -> tuple[int, bytes]:
        index, item = batch
        return index, self.work.run(index, item, self.device)


class _ShardWriter(BasePredictionWriter):
    def __init__(self, folder: Path) -> None:
        super().__init__(write_interval="batch")
        self.folder = folder
        self.shard: ShardWriter | None = None

    def on_predict_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.shard = ShardWriter(self.folder, trainer.global_rank)

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

    def on_predict_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert self.shard is not None
        self.shard.close(pl_module.work.state())
        trainer.strategy.barrier("cislearn-shards")  # every shard complete before rank 0 reads


def run_sharded(
    work: ShardedWork, folder: str | os.PathLike[str], hardware: Hardware
) -> ShardedRun:
    """Run ``work`` over its items on Lightning's predict loop; every rank calls this.

    With ``strategy="ddp"`` Lightning starts the other local ranks by re-running the command
    (or they are started by ``torchrun`` / SLURM ``srun``); each rank takes the items of its
    part, runs them on its device and appends the payloads to its shard in ``folder`` (a
    folder every rank can reach). On return all shards are complete; rank 0 reads them with
    :func:`cislearn.io.shards.read_shard_items` (input order) and
    :func:`cislearn.io.shards.read_shard_states`. Predictions are not kept in memory.

    Parameters
    ----------
    work : ShardedWork
    folder : path
        Shard folder (created).
    hardware : Hardware
        From :func:`inference_hardware`.

    Returns
    -------
    ShardedRun
    """
    folder = Path(folder)
    loader = DataLoader(_Items(work), batch_size=None, num_workers=0)
    with engine_context(hardware.num_threads, deterministic=False):
        trainer = pl.Trainer(
            accelerator=hardware.accelerator,
            devices=hardware.devices,
            num_nodes=hardware.num_nodes,
            strategy=hardware.strategy,
            precision=hardware.precision,
            callbacks=[_ShardWriter(folder)],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=folder,
        )
        trainer.predict(_Module(work), dataloaders=loader, return_predictions=False)
    return ShardedRun(trainer.global_rank, trainer.world_size, folder)
