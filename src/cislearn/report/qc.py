"""Quality-control figures of prepared data: composition of positives vs negatives."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cislearn.errors import InputError
from cislearn.io.atomic import atomic_write

__all__ = ["plot_background_qc"]

_PANELS = (("gc", "GC content"), ("repeat_fraction", "Repeat fraction (soft-masked)"))


def plot_background_qc(
    pos_stats: pd.DataFrame, neg_stats: pd.DataFrame, path: str | os.PathLike[str]
) -> None:
    """Two-panel figure: GC and repeat-fraction distributions of positives vs negatives.

    Each panel overlays the two distributions (density histograms on shared bins) with the
    means in the legend. The file is written atomically; its format follows the suffix of
    ``path`` (``.png``, ``.pdf``, ``.svg``). Safe under the ``Agg`` backend (no display).

    Parameters
    ----------
    pos_stats, neg_stats : DataFrame
        One row per sequence with columns ``gc`` and ``repeat_fraction`` in [0, 1], as
        returned by :func:`cislearn.negatives.sequence_stats`. Either may be empty.
    path : path-like
        Output image.

    Examples
    --------
    >>> from cislearn.negatives import sequence_stats
    >>> plot_background_qc(sequence_stats(pos), sequence_stats(neg), "qc.png")  # doctest: +SKIP
    """
    for name, frame in (("pos_stats", pos_stats), ("neg_stats", neg_stats)):
        missing = [c for c, _ in _PANELS if c not in frame.columns]
        if missing:
            raise InputError(
                f"{name} needs columns gc and repeat_fraction (see sequence_stats); "
                f"missing {', '.join(missing)}"
            )
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    # A bare Figure (no pyplot): no backend or display needed, no global figure state, so it
    # works the same under Agg, in notebooks and from worker threads. Imported here to keep
    # `cislearn --help` fast.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    edges = np.linspace(0.0, 1.0, 41)
    for ax, (column, title) in zip(fig.subplots(1, 2), _PANELS, strict=True):
        for label, frame, color in (
            ("positives", pos_stats, "#c0392b"),
            ("negatives", neg_stats, "#2c7bb6"),
        ):
            values = pd.to_numeric(frame[column], errors="coerce").dropna().to_numpy()
            mean = f"{values.mean():.3f}" if values.size else "n/a"
            ax.hist(
                np.clip(values, 0.0, 1.0),
                bins=edges,
                density=values.size > 0,
                histtype="stepfilled",
                alpha=0.35,
                color=color,
                edgecolor=color,
                linewidth=1.2,
                label=f"{label} (n={values.size:,}, mean {mean})",
            )
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel(title)
        ax.set_ylabel("density")
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle("Composition of negatives vs positives")
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=120)
