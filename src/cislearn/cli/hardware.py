"""The inference hardware options shared by ``predict``, ``score-variants`` (and ``scan``):
the same ``--accelerator/--devices/--num-nodes/--strategy/--precision/--num-threads`` as
``train``, gathered into the keyword arguments of the pipelines."""

from __future__ import annotations

from typing import Annotated, Any

from cislearn.cli.app import Opt

Accelerator = Annotated[str, Opt(help="auto|cpu|gpu")]
Devices = Annotated[str, Opt(help="Devices (GPUs, or CPU processes with ddp), or 'auto'.")]
NumNodes = Annotated[int, Opt(help="Nodes for multi-node DDP.")]
Strategy = Annotated[str, Opt(help="auto|ddp (one process per device).")]
Precision = Annotated[str, Opt(help="auto|32-true|16-mixed|bf16-mixed")]
NumThreads = Annotated[int | None, Opt(help="CPU threads per process.")]


def hardware(
    accelerator: str,
    devices: str,
    num_nodes: int,
    strategy: str,
    precision: str,
    num_threads: int | None,
) -> Any:
    """The options made a :class:`cislearn.distribute.Hardware` (ConfigError on a bad value)."""
    from cislearn.distribute import inference_hardware

    return inference_hardware(
        accelerator=accelerator,
        devices=int(devices) if devices.isdigit() else devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision=precision,
        num_threads=num_threads,
    )


# Output guards and DDP re-launches (issue 17 with issue 15's `--force` guard, branch i15cli):
# with ``--strategy ddp`` Lightning re-runs the same command line for local ranks 1..N-1
# (and torchrun / srun start every rank with it), so a guard that refuses an existing output
# folder without ``--force`` would fire on those ranks once rank 0 created the folder. The
# guard belongs in ONE place, skipped when this process is not the first rank:
#     keys = ("RANK", "LOCAL_RANK", "NODE_RANK")
#     later_rank = any(int(os.environ.get(k) or 0) for k in keys)  # skip the guard if so
# (main has no such guard on `predict`/`score-variants` at this merge; add it here with it.)
