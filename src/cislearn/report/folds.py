"""The cross-validation figure: each fold's metric as a point, mean ± sd as a bar per group."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cislearn.errors import InputError
from cislearn.report.style import GREY, PALETTE, SINGLE, figure_style, new_figure, save_figure

__all__ = ["plot_folds"]


def plot_folds(
    table: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    metrics: Sequence[str],
    group: str = "target",
    title: str | None = None,
) -> Path:
    """One panel per metric: every fold's value (points) and mean ± sd (bar) per ``group``.

    Parameters
    ----------
    table : DataFrame
        One row per fold and group: columns ``fold``, ``group`` and the ``metrics``.
    path : path-like
    metrics : sequence of str
        Metric columns to draw (those missing from ``table`` are skipped).
    group : str
        ``target`` (one run per fold) or ``run`` (a panel of models per fold).
    """
    shown = [m for m in metrics if m in table.columns and table[m].notna().any()]
    if not shown:
        raise InputError(f"fold figure: none of the metrics {list(metrics)} in the fold table")
    groups = list(dict.fromkeys(table[group].astype(str)))
    with figure_style():
        fig, axes = new_figure(
            (max(SINGLE[0], 0.55 * len(groups) + 2.0) * len(shown), SINGLE[1]),
            ncols=len(shown),
            squeeze=False,
        )
        rng = np.random.default_rng(0)  # jitter of the points only
        for ax, metric in zip(axes[0], shown, strict=True):
            for i, name in enumerate(groups):
                values = table.loc[table[group].astype(str) == name, metric].dropna().to_numpy()
                if not len(values):
                    continue
                colour = PALETTE[i % (len(PALETTE) - 1)]
                sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
                ax.bar(i, values.mean(), yerr=sd, color=colour, alpha=0.35, capsize=4, width=0.6)
                ax.scatter(
                    i + rng.uniform(-0.15, 0.15, len(values)), values, color=colour, s=18, zorder=3
                )
            ax.set_xticks(np.arange(len(groups)), groups, rotation=30 if len(groups) > 3 else 0)
            ax.set_ylabel(metric)
            ax.axhline(0.5 if metric == "auroc" else 0.0, color=GREY, lw=0.8, ls=":")
            ax.set_title(f"{metric}: {len(table['fold'].unique())} chromosome folds")
        if title:
            fig.suptitle(title)
        return save_figure(fig, path)
