"""Classification figures: ROC and precision–recall curves, calibration (PNG files)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cislearn.errors import InputError
from cislearn.report.style import (
    GREY,
    MAX_LEGEND,
    PALETTE,
    SINGLE,
    figure_style,
    new_figure,
    plain_text,
    save_figure,
    series_colour,
)

__all__ = ["plot_roc", "plot_pr", "plot_calibration"]


def _binary_pair(y_true: Any, y_score: Any, *, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate one (labels, scores) pair as 1-D arrays of equal length with both classes."""
    y = np.asarray(y_true, dtype=np.float64).reshape(-1)
    s = np.asarray(y_score, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise InputError(f"{name}: {y.size} labels but {s.size} scores; they must match")
    keep = np.isfinite(y) & np.isfinite(s)
    y, s = y[keep], s[keep]
    if not np.isin(y, (0.0, 1.0)).all():
        raise InputError(f"{name}: labels must be 0 or 1 for ROC/PR curves")
    if y.min(initial=1) == y.max(initial=0):
        raise InputError(f"{name}: labels hold a single class; ROC/PR need both 0 and 1")
    return y.astype(np.int8), s


# -- classification curves -----------------------------------------------------------------------


def plot_roc(
    curves: Mapping[str, tuple[Any, Any]],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> Path:
    """ROC curves, one per name, with AUROC in the legend and the chance diagonal.

    Parameters
    ----------
    curves : mapping of name → (y_true, y_score)
        ``y_true`` 0/1 labels and ``y_score`` scores, each of shape (n,) (n may differ by name).
    path : path-like
        Output file; the format follows the suffix (``.png`` usually). Written atomically.
    title : str, optional

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> plot_roc({"cnn": ([0, 1, 1, 0], [0.1, 0.8, 0.6, 0.3])}, "roc.png")  # doctest: +SKIP
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    pairs = {name: _binary_pair(y, s, name=name) for name, (y, s) in curves.items()}
    lines = []
    for name, (y, s) in pairs.items():
        fpr, tpr, _ = roc_curve(y, s)
        lines.append((name, fpr, tpr, float(roc_auc_score(y, s))))
    with figure_style():
        fig, ax = new_figure(SINGLE)
        ax.plot([0, 1], [0, 1], ls="--", lw=1, color=GREY, label="chance (0.500)")
        _draw_curves(ax, lines)
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
        ax.set_xlabel("False positive rate")
        ax.set_ylabel("True positive rate")
        ax.set_title(plain_text(title) or "ROC curve")
        ax.legend(loc="lower right", title="AUROC")
        return save_figure(fig, path)


def plot_pr(
    curves: Mapping[str, tuple[Any, Any]],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> Path:
    """Precision–recall curves with AUPRC (average precision) and prevalence baselines.

    A random classifier's precision equals the prevalence of positives, drawn as a dashed line
    (one grey line when all curves share a prevalence, else one per curve in its colour).

    Parameters
    ----------
    curves : mapping of name → (y_true, y_score)
        Each of shape (n,).
    path : path-like
    title : str, optional

    Returns
    -------
    Path
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    pairs = {name: _binary_pair(y, s, name=name) for name, (y, s) in curves.items()}
    prevalences = [float(y.mean()) for y, _ in pairs.values()]
    shared = len({round(p, 4) for p in prevalences}) == 1
    lines = []
    for name, (y, s) in pairs.items():
        precision, recall, _ = precision_recall_curve(y, s)
        # drop sklearn's closing (recall 0, precision 1) sentinel: it draws a spurious
        # vertical line at recall 0 and adds nothing to the area
        lines.append((name, recall[:-1], precision[:-1], float(average_precision_score(y, s))))
    few = len(lines) <= MAX_LEGEND
    with figure_style():
        fig, ax = new_figure(SINGLE)
        if shared or not few:
            p = float(np.mean(prevalences)) if prevalences else 0.0
            label = "prevalence" if shared else "mean prevalence"
            ax.axhline(p, ls="--", lw=1, color=GREY, label=f"{label} ({p:.3f})")
        else:
            for i, p in enumerate(prevalences):
                ax.axhline(p, ls="--", lw=1, color=series_colour(i), alpha=0.7)
        # drawstyle steps-post: average precision is the area under this step function
        _draw_curves(ax, lines, drawstyle="steps-post")
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
        ax.set_title(plain_text(title) or "Precision–recall curve")
        note = "" if shared or not few else "  (dashed: prevalence)"
        ax.legend(loc="best", title="AUPRC" + note)
        return save_figure(fig, path)


def _draw_curves(ax: Any, lines: list[tuple[str, Any, Any, float]], **kw: Any) -> None:
    """One labelled line per curve, or, beyond :data:`MAX_LEGEND` curves (a multi-task model
    with many targets), thin unlabelled lines and one legend entry with the median area."""
    if len(lines) <= MAX_LEGEND:
        for i, (name, x, y, area) in enumerate(lines):
            ax.plot(x, y, color=series_colour(i), label=f"{plain_text(name)} ({area:.3f})", **kw)
        return
    areas = np.array([area for *_, area in lines])
    for _, x, y, _ in lines:
        ax.plot(x, y, color=PALETTE[0], lw=0.7, alpha=0.35, **kw)
    ax.plot(
        [],
        [],
        color=PALETTE[0],
        lw=1.5,
        label=(
            f"{len(lines)} targets: median {np.median(areas):.3f}\n"
            f"(range {areas.min():.3f}–{areas.max():.3f})"
        ),
    )


def plot_calibration(
    y_true: Any,
    y_prob: Any,
    path: str | os.PathLike[str],
    *,
    n_bins: int = 10,
    title: str | None = None,
) -> Path:
    """Reliability diagram (observed fraction positive vs mean predicted probability) and the
    histogram of predicted probabilities per class.

    Parameters
    ----------
    y_true : array of shape (n,)
        0/1 labels.
    y_prob : array of shape (n,)
        Predicted probabilities in [0, 1].
    path : path-like
    n_bins : int
        Equal-width probability bins.
    title : str, optional

    Returns
    -------
    Path
    """
    y, p = _binary_pair(y_true, y_prob, name="calibration")
    if p.min() < 0 or p.max() > 1:
        raise InputError("calibration: probabilities must lie in [0, 1]; got raw scores (logits?)")
    if n_bins < 2:
        raise InputError(f"calibration: n_bins must be at least 2; got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    mean_p = np.bincount(which, weights=p, minlength=n_bins) / np.maximum(count, 1)
    frac = np.bincount(which, weights=y, minlength=n_bins) / np.maximum(count, 1)
    used = count > 0
    ece = float(np.sum(count[used] * np.abs(frac[used] - mean_p[used])) / count.sum())
    brier = float(np.mean((p - y) ** 2))

    with figure_style():
        fig, (top, bottom) = new_figure(
            (5.0, 5.6), nrows=2, sharex=True, gridspec_kw={"height_ratios": (3, 1.2)}
        )
        top.plot([0, 1], [0, 1], ls="--", lw=1, color=GREY, label="perfectly calibrated")
        top.plot(
            mean_p[used],
            frac[used],
            marker="o",
            ms=4,
            color=PALETTE[0],
            label=f"model (ECE {ece:.3f}, Brier {brier:.3f})",
        )
        top.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
        top.set_ylabel("Observed fraction positive")
        top.set_title(plain_text(title) or "Calibration")
        top.legend(loc="upper left")
        for label, colour in ((0, PALETTE[1]), (1, PALETTE[0])):
            bottom.hist(p[y == label], bins=edges, color=colour, alpha=0.55, label=f"class {label}")
        bottom.set_xlabel("Predicted probability")
        bottom.set_ylabel("Count")
        bottom.legend(loc="upper center", ncols=2)
        return save_figure(fig, path)
