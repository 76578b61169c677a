"""Figures of in-silico experiments (marginalisation, ablation, spacing) and of greedy design."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cislearn.report.style import figure_style, new_figure, save_figure, series_colour

__all__ = ["plot_before_after", "plot_spacing", "plot_design"]


def plot_before_after(
    table: pd.DataFrame, path: str | os.PathLike[str], *, title: str, output: str = "prob"
) -> Path:
    """Marginalisation or ablation: the output before vs after for every sequence (left) and
    the distribution of the change (right)."""
    before, after = table["before"].to_numpy(float), table["after"].to_numpy(float)
    delta = after - before
    with figure_style():
        fig, (ax1, ax2) = new_figure((7.5, 3.0), ncols=2)
        ax1.scatter(before, after, s=6, alpha=0.5, color=series_colour(0), lw=0)
        lo = float(min(before.min(), after.min()))
        hi = float(max(before.max(), after.max()))
        ax1.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, ls="--")
        ax1.set_xlabel(f"{output} before")
        ax1.set_ylabel(f"{output} after")
        ax2.hist(delta, bins=40, color=series_colour(1))
        ax2.axvline(0, color="0.6", lw=0.8)
        ax2.axvline(delta.mean(), color="k", lw=1.0)
        ax2.set_xlabel(f"change of {output} (mean {delta.mean():+.3f}, sd {delta.std():.3f})")
        ax2.set_ylabel("sequences")
        fig.suptitle(title, fontsize=10)
        return save_figure(fig, path)


def plot_spacing(
    summary: pd.DataFrame, path: str | os.PathLike[str], *, title: str, output: str = "prob"
) -> Path:
    """Spacing experiment: mean change of the output vs spacing, one line per orientation with
    its 95% interval."""
    with figure_style():
        fig, ax = new_figure((6.5, 3.2))
        for k, (orient, g) in enumerate(summary.groupby("orientation", sort=False)):
            g = g.sort_values("spacing")
            ax.plot(
                g["spacing"],
                g["mean_delta"],
                marker="o",
                ms=3,
                color=series_colour(k),
                label=orient,
            )
            ax.fill_between(
                g["spacing"], g["ci_low"], g["ci_high"], color=series_colour(k), alpha=0.15
            )
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_xlabel("bases between the motifs")
        ax.set_ylabel(f"mean change of {output}")
        ax.legend(title="orientation", fontsize=7)
        ax.set_title(title, fontsize=9)
        return save_figure(fig, path)


def plot_design(
    trajectory: pd.DataFrame, path: str | os.PathLike[str], *, title: str, output: str = "prob"
) -> Path:
    """Greedy design: the explained output after each substitution, one line per sequence."""
    with figure_style():
        fig, ax = new_figure((6.0, 3.2))
        for k, (sid, g) in enumerate(trajectory.groupby("seq_id", sort=False)):
            ax.plot(
                g["step"], g[output], marker="o", ms=3, color=series_colour(k), label=str(sid)[:20]
            )
        ax.set_xlabel("substitutions")
        ax.set_ylabel(output)
        if trajectory["seq_id"].nunique() <= 10:
            ax.legend(fontsize=7)
        ax.set_xticks(np.arange(int(trajectory["step"].max()) + 1))
        ax.set_title(title, fontsize=9)
        return save_figure(fig, path)
