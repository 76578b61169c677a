"""`train --folds K` and `benchmark --folds K`: one run (or panel) per chromosome fold + summary.

Fold i holds out its chromosomes as ``test``, the next fold's as ``valid`` and trains on the
rest (:mod:`cislearn.folds`). ``OUT/fold<i>/`` is a normal run (or benchmark panel);
``OUT/folds.tsv`` has every fold's metrics, ``OUT/summary.tsv`` / ``summary.json`` the mean ±
sd per metric, ``OUT/folds.png`` the figure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cislearn.config import N_BOOT, TrainConfig
from cislearn.data import SequenceDataset
from cislearn.errors import ConfigError
from cislearn.folds import chromosome_folds, fold_split, summarize_folds
from cislearn.io.atomic import refuse_overwrite
from cislearn.types import CLASSIFICATION_TASKS, Progress, no_progress

__all__ = ["FoldsResult", "fold_datasets", "train_folds", "benchmark_folds"]


class FoldsResult(NamedTuple):
    """What :func:`train_folds` and :func:`benchmark_folds` return."""

    out: Path
    folds: pd.DataFrame
    """One row per fold and target (or run): ``fold``, ``test_chroms``, metrics."""
    summary: pd.DataFrame
    """Mean ± sd per metric: (run,) target, metric, mean, sd, n_folds."""
    figure: Path
    runs: list[Any]
    """Each fold's RunResult (train) or PanelResult (benchmark)."""


def fold_datasets(
    dataset: SequenceDataset, k: int, *, seed: int = 0
) -> list[tuple[SequenceDataset, list[str]]]:
    """The dataset once per fold with that fold's split, and the fold's test chromosomes."""
    if dataset.chroms is None:
        raise ConfigError(
            "--folds needs the chromosome of every record: use a table with a 'chrom' column, "
            "such as dataset.tsv from `cislearn prepare`"
        )
    folds = chromosome_folds(dataset.chroms, k, seed=seed)
    out = []
    for i in range(k):
        held = sorted(set(np.asarray(dataset.chroms)[folds == i].tolist()))
        out.append((dataset.with_split(fold_split(folds, i)), held))
    return out


def _write_summary(
    out: Path, table: pd.DataFrame, by: Sequence[str], task: str, title: str
) -> tuple[pd.DataFrame, Path]:
    from cislearn.io.datasets import write_json
    from cislearn.io.tables import write_table
    from cislearn.report.folds import plot_folds

    summary = summarize_folds(table.drop(columns=["test_chroms"]), by=by)
    write_table(out / "folds.tsv", table)
    write_table(out / "summary.tsv", summary)
    write_json(
        out / "summary.json",
        {
            "n_folds": int(table["fold"].nunique()),
            "test_chroms": {
                int(f): c for f, c in table.groupby("fold")["test_chroms"].first().items()
            },
            "summary": summary.to_dict(orient="records"),
        },
    )
    metrics = ("auroc", "auprc") if task in CLASSIFICATION_TASKS else ("pearson", "spearman")
    figure = plot_folds(table, out / "folds.png", metrics=metrics, group=by[0], title=title)
    return summary, figure


def train_folds(
    dataset: SequenceDataset,
    config: TrainConfig,
    out: str | os.PathLike[str],
    *,
    k: int,
    n_boot: int = N_BOOT,
    force: bool = False,
    progress: Progress = no_progress,
) -> FoldsResult:
    """Train ``config`` once per chromosome fold; write each run and the summary in ``out``.

    Examples
    --------
    >>> res = train_folds(ds, TrainConfig(arch="cnn"), "runs/cv", k=5)  # doctest: +SKIP
    >>> res.summary.query("metric == 'auroc'")  # doctest: +SKIP
    """
    from cislearn.pipelines.train import train_run

    out = Path(out)
    parts = fold_datasets(dataset, k, seed=config.seed)
    refuse_overwrite(out, force)
    rows, runs = [], []
    for i, (ds, held) in enumerate(parts):
        progress(f"fold {i + 1}/{k}", i, k)
        res = train_run(ds, config, out / f"fold{i + 1}", n_boot=n_boot, progress=progress)
        runs.append(res)
        rows.append(res.table.assign(fold=i + 1, test_chroms=",".join(held)))
    progress(f"fold {k}/{k}", k, k)
    table = pd.concat(rows, ignore_index=True)
    table = table[["fold", "test_chroms", *[c for c in table if c not in ("fold", "test_chroms")]]]
    task = json_task(out / "fold1")
    summary, figure = _write_summary(
        out, table, ("target",), task, f"{config.arch}: {k} chromosome folds"
    )
    return FoldsResult(out, table, summary, figure, runs)


def json_task(run: Path) -> str:
    """The task recorded in a run's metrics.json."""
    import json

    return str(json.loads((run / "metrics.json").read_text())["task"])


def benchmark_folds(
    dataset: SequenceDataset,
    out: str | os.PathLike[str],
    *,
    k: int,
    models: Sequence[str] | None = None,
    max_epochs: int | None = None,
    seed: int = 0,
    n_boot: int = N_BOOT,
    force: bool = False,
    progress: Progress = no_progress,
) -> FoldsResult:
    """The benchmark panel once per chromosome fold; every model's mean ± sd over folds."""
    from cislearn.pipelines.panel import benchmark_panel

    out = Path(out)
    parts = fold_datasets(dataset, k, seed=seed)
    refuse_overwrite(out, force)
    rows, runs = [], []
    for i, (ds, held) in enumerate(parts):
        progress(f"fold {i + 1}/{k}", i, k)
        res = benchmark_panel(
            ds,
            out / f"fold{i + 1}",
            models=models,
            max_epochs=max_epochs,
            seed=seed,
            n_boot=n_boot,
            progress=progress,
        )
        runs.append(res)
        rows.append(res.table.assign(fold=i + 1, test_chroms=",".join(held)))
    progress(f"fold {k}/{k}", k, k)
    table = pd.concat(rows, ignore_index=True)
    table = table[["fold", "test_chroms", *[c for c in table if c not in ("fold", "test_chroms")]]]
    first = out / "fold1" / str(table["run"].iloc[0])
    summary, figure = _write_summary(
        out, table, ("run", "target"), json_task(first), f"benchmark: {k} chromosome folds"
    )
    return FoldsResult(out, table, summary, figure, runs)
