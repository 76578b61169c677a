"""The learned-features embedding figure: sequences in 2-D, coloured by label."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from cislearn.errors import InputError
from cislearn.report.style import (
    GREY,
    PALETTE,
    SINGLE,
    figure_style,
    new_figure,
    plain_text,
    save_figure,
)

__all__ = ["plot_embedding"]


def plot_embedding(
    coords: Any,
    labels: Any,
    path: str | os.PathLike[str],
    *,
    explained: Any = None,
    label_name: str = "label",
    title: str | None = None,
) -> Path:
    """Scatter of a 2-D embedding; binary or class labels get one colour each, other values a
    colour scale.

    Parameters
    ----------
    coords : array of shape (n, 2)
    labels : array of shape (n,)
        Label of each point (0/1, class index or a continuous value; NaN drawn grey).
    path : path-like
    explained : array of shape (2,), optional
        Variance fraction of each axis, shown in the axis labels.
    label_name, title : str

    Returns
    -------
    Path
    """
    xy = np.asarray(coords, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(y) != len(xy):
        raise InputError(
            f"embedding plot: coords must be (n, 2) with n labels; got {xy.shape} and {len(y)}"
        )
    axes = ["PC1", "PC2"]
    if explained is not None:
        axes = [f"PC{i + 1} ({100 * float(v):.0f}% of variance)" for i, v in enumerate(explained)]
    known = np.isfinite(y)
    values = np.unique(y[known])
    with figure_style():
        fig, ax = new_figure((SINGLE[0] * 1.25, SINGLE[1] * 1.15))
        if (~known).any():
            ax.scatter(*xy[~known].T, s=8, color=GREY, alpha=0.5, label="no label")
        if len(values) <= len(PALETTE) - 1 and np.all(values == np.round(values)):
            for i, v in enumerate(values):
                sel = known & (y == v)
                ax.scatter(
                    *xy[sel].T,
                    s=8,
                    alpha=0.6,
                    color=PALETTE[i],
                    label=f"{plain_text(label_name)} = {v:g} (n={int(sel.sum())})",
                )
            ax.legend(loc="best", fontsize=8, markerscale=2)
        else:
            points = ax.scatter(*xy[known].T, s=8, alpha=0.7, c=y[known], cmap="viridis")
            fig.colorbar(points, ax=ax, label=plain_text(label_name))
        ax.set_xlabel(axes[0])
        ax.set_ylabel(axes[1])
        ax.set_title(plain_text(title) or "Learned features (PCA)")
        return save_figure(fig, path)
