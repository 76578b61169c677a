"""CLI for chromosome folds: `train --folds K` and `benchmark --folds K` (called from their
commands in cli/training.py and cli/baseline.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cislearn.cli.app import echo, epoch_bars


def _print(result: Any, group: str) -> int:
    table = result.summary
    keep = table["metric"].isin(["auroc", "auprc", "pearson", "spearman"])
    for row in table[keep].itertuples(index=False):
        echo(
            f"{getattr(row, group)} {row.metric}: {row.mean:.3f} ± {row.sd:.3f} "
            f"({row.n_folds} folds)"
        )
    echo(f"summary: {result.out / 'summary.tsv'}; figure: {result.figure}")
    return 0


def train_with_folds(dataset: Any, config: Any, out: Path, *, k: int, force: bool) -> int:
    """Run :func:`cislearn.pipelines.folds.train_folds` and print mean ± sd per metric."""
    from cislearn.pipelines.folds import train_folds

    bars = epoch_bars()
    result = train_folds(dataset, config, out, k=k, force=force, progress=bars)
    bars.close()
    return _print(result, "target")


def benchmark_with_folds(dataset: Any, out: Path, *, k: int, force: bool, **opts: Any) -> int:
    """Run :func:`cislearn.pipelines.folds.benchmark_folds` and print mean ± sd per model."""
    from cislearn.pipelines.folds import benchmark_folds

    bars = epoch_bars()
    result = benchmark_folds(dataset, out, k=k, force=force, progress=bars, **opts)
    bars.close()
    return _print(result, "run")
