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
