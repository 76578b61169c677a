"""The demo actions: simulated data (`simulate`) and the main job end to end on it (`demo`):
simulate → split → train → evaluate → report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from cislearn.types import Progress, no_progress

__all__ = ["DemoResult", "simulate_run", "demo_run"]


class DemoResult(NamedTuple):
    """What :func:`demo_run` wrote: the data folder's summary and the run."""

    data_summary: dict[str, Any]
    """Counts of :func:`simulate_run` (positives, negatives, motifs, split counts...)."""
    run: Any
    """:class:`cislearn.pipelines.train.RunResult` of the trained model."""


def _simulate_into(
    out: Path, *, n_positive: int, n_negative: int, length: int, motifs: Sequence[str], seed: int
) -> dict[str, Any]:
    from cislearn.data import SequenceDataset, assign_split
    from cislearn.io.datasets import write_dataset_files
    from cislearn.io.tables import write_table
    from cislearn.pipelines.prepare import dataset_summary
    from cislearn.simulate import simulate

    sim = simulate(
        n_positive=n_positive, n_negative=n_negative, length=length, motifs=tuple(motifs), seed=seed
    )
    dataset = assign_split(
        SequenceDataset.from_arrays(
            sim.sequences, sim.labels, ids=sim.ids, provenance={"method": "simulate"}
        ),
        method="random",
        seed=seed,
    )
    summary = {
        "positives": int((sim.labels == 1).sum()),
        "negatives": int((sim.labels == 0).sum()),
        "motifs": [m.label for m in sim.motifs],
        "length": length,
        "seed": seed,
        **dataset_summary(dataset),
    }
    write_dataset_files(dataset, out, summary=summary)
    write_table(out / "implants.tsv", sim.implants)
    return summary


def simulate_run(
    out: str | os.PathLike[str],
    *,
    n_positive: int = 1000,
    n_negative: int = 1000,
    length: int = 201,
    motifs: Sequence[str] = ("MA0139",),
    seed: int = 0,
) -> dict[str, Any]:
    """Simulate, split and write a demo dataset into the folder ``out`` (atomically).

    Dinucleotide-Markov background with real JASPAR motifs implanted in the positives; writes
    ``pos.fa``, ``neg.fa``, ``dataset.fa``, ``summary.json`` and ``implants.tsv``. Returns the
    summary (counts per label and split, motif labels, GC, leakage).
    """
    from cislearn.io.atomic import atomic_dir

    with atomic_dir(Path(out)) as tmp:
        return _simulate_into(
            tmp,
            n_positive=n_positive,
            n_negative=n_negative,
            length=length,
            motifs=motifs,
            seed=seed,
        )


def demo_run(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    max_epochs: int = 10,
    progress: Progress = no_progress,
) -> DemoResult:
    """`cislearn demo`: 2,000 + 2,000 simulated CTCF (MA0139) sequences of 201 bp in
    ``out/data``, the default model trained on them and evaluated in ``out/run``."""
    from cislearn.config import resolve_config
    from cislearn.data import load_dataset
    from cislearn.pipelines.train import train_run

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = _simulate_into(
        out / "data", n_positive=2000, n_negative=2000, length=201, motifs=("MA0139",), seed=seed
    )
    dataset = load_dataset(out / "data" / "dataset.fa")
    config = resolve_config(
        {}, {"arch": "auto", "max_epochs": max_epochs, "seed": seed, "split": "given"}
    )
    return DemoResult(summary, train_run(dataset, config, out / "run", progress=progress))
