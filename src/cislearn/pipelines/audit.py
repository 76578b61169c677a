"""The audit of an attribution run (`interpret`, `motifs --from attributions`): agreement with
exact ISM and convergence deltas on a sample, written as ``audit.tsv``, ``audit.txt`` (the one
quality line) and ``figures/audit.png``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cislearn.interpret.audit import AttributionAudit, audit_attributions
from cislearn.io.atomic import atomic_write
from cislearn.report.modisco import plot_audit, write_table
from cislearn.types import Progress, no_progress

__all__ = ["audit_run"]


def audit_run(
    out: str | os.PathLike[str],
    model: Any,
    x: np.ndarray,
    *,
    methods: Sequence[str],
    sample: int = 32,
    seed: int = 0,
    target: int = 0,
    output: str = "logit",
    task: str = "binary",
    device: Any = None,
    progress: Progress = no_progress,
) -> AttributionAudit:
    """Audit ``methods`` against exact ISM on ``sample`` of the sequences ``x`` and write the
    audit files into ``out``.

    Returns
    -------
    AttributionAudit
        Its ``line`` is the quality line the CLI prints.
    """
    checked = audit_attributions(
        model,
        x,
        methods=methods,
        sample=sample,
        seed=seed,
        target=target,
        output=output,
        task=task,
        device=device,
        progress=progress,
    )
    folder = Path(out)
    write_table(folder / "audit.tsv", checked.table)
    with atomic_write(folder / "audit.txt") as fh:
        fh.write(checked.line + "\n")
    plot_audit(checked, folder / "figures" / "audit.png")
    return checked
