"""Run figures: training history, regression scatter, feature importance, and the figure sets
of a run folder and of a comparison (curves from :mod:`cislearn.report.curves`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cislearn.errors import InputError
from cislearn.report.curves import plot_calibration, plot_pr, plot_roc
from cislearn.report.style import (
    DOUBLE,
    GREY,
    PALETTE,
    SINGLE,
    figure_style,
    new_figure,
    plain_text,
    save_figure,
    series_colour,
)
from cislearn.types import CLASSIFICATION_TASKS

if TYPE_CHECKING:
    import pandas as pd

    from cislearn.evaluate import RunSummary

__all__ = [
    "plot_history",
    "plot_regression",
    "plot_importance",
    "write_run_figures",
    "write_comparison_figures",
]


# -- training history ----------------------------------------------------------------------------

_NOT_METRICS = ("epoch", "step", "lr", "time", "seconds")


def plot_history(
    history: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    monitor: str | None = None,
    title: str | None = None,
) -> Path:
    """Loss curves (train and valid) and the validation metrics per epoch.

    Parameters
    ----------
    history : DataFrame
        One row per epoch. An ``epoch`` column is used as x when present (else the row number);
        columns with ``loss`` in their name go to the left panel, other numeric columns (except
        epoch/step/lr/time) to the right one.
    path : path-like
    monitor : str, optional
        The monitored column; its best epoch is marked (max, or min when it is a loss).
    title : str, optional

    Returns
    -------
    Path
    """
    if len(history) == 0:
        raise InputError("training history is empty: nothing to plot")
    numeric = history.select_dtypes("number")
    x = numeric["epoch"].to_numpy() if "epoch" in numeric else np.arange(1, len(history) + 1)
    losses = [c for c in numeric.columns if "loss" in c.lower()]
    others = [
        c
        for c in numeric.columns
        if c not in losses and not any(k in c.lower() for k in _NOT_METRICS)
    ]
    with figure_style():
        fig, (left, right) = new_figure(DOUBLE, ncols=2)
        for i, col in enumerate(losses):
            series = numeric[col].to_numpy(dtype=float)
            ok = np.isfinite(series)
            dashed = col.lower().startswith(("val", "valid"))
            left.plot(
                x[ok],
                series[ok],
                marker="o",
                ms=3,
                color=series_colour(i),
                ls="--" if dashed else "-",
                label=plain_text(col),
            )
        left.set_xlabel("Epoch")
        left.set_ylabel("Loss")
        left.set_title("Loss")
        for i, col in enumerate(others):
            series = numeric[col].to_numpy(dtype=float)
            ok = np.isfinite(series)
            right.plot(
                x[ok],
                series[ok],
                marker="o",
                ms=3,
                color=series_colour(i + 2),
                label=plain_text(col),
            )
        right.set_xlabel("Epoch")
        right.set_title("Validation metrics" if others else "(no metric columns)")
        if monitor is not None and monitor in numeric and numeric[monitor].notna().any():
            series = numeric[monitor].to_numpy(dtype=float)
            best = int(np.nanargmin(series) if "loss" in monitor else np.nanargmax(series))
            target = left if monitor in losses else right
            for ax in (left, right):
                # the best epoch is named in the legend (placed clear of the curves), never
                # written over them
                ax.axvline(
                    x[best],
                    color=GREY,
                    lw=1,
                    ls=":",
                    label=f"best epoch {x[best]:g}: {plain_text(monitor)} {series[best]:.4g}"
                    if ax is target
                    else None,
                )
        for ax in (left, right):
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="best", fontsize=8)
        if len(x) <= 20:
            from matplotlib.ticker import MaxNLocator

            for ax in (left, right):
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if title:
            fig.suptitle(plain_text(title))
        return save_figure(fig, path)


# -- regression ----------------------------------------------------------------------------------


def plot_regression(
    y: Any,
    yhat: Any,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> Path:
    """Predicted vs observed values with the identity line and Pearson/Spearman correlations.

    Parameters
    ----------
    y, yhat : arrays of shape (n,)
        Observed and predicted values. Above 5,000 points a hexbin density replaces the scatter.
    path : path-like
    title : str, optional

    Returns
    -------
    Path
    """
    from scipy.stats import pearsonr, spearmanr

    y = np.asarray(y, dtype=np.float64).reshape(-1)
    yhat = np.asarray(yhat, dtype=np.float64).reshape(-1)
    if y.shape != yhat.shape:
        raise InputError(f"regression plot: {y.size} observed but {yhat.size} predicted values")
    keep = np.isfinite(y) & np.isfinite(yhat)
    y, yhat = y[keep], yhat[keep]
    if y.size < 2:
        raise InputError("regression plot: need at least 2 finite (observed, predicted) pairs")
    constant = np.ptp(y) == 0 or np.ptp(yhat) == 0
    r = float("nan") if constant else float(pearsonr(y, yhat)[0])
    rho = float("nan") if constant else float(spearmanr(y, yhat)[0])
    lo, hi = float(min(y.min(), yhat.min())), float(max(y.max(), yhat.max()))
    pad = 0.03 * (hi - lo or 1.0)
    with figure_style():
        fig, ax = new_figure(SINGLE)
        if y.size > 5000:
            art = ax.hexbin(y, yhat, gridsize=60, mincnt=1, bins="log", cmap="viridis")
            fig.colorbar(art, ax=ax, label="points (log)")
        else:
            alpha = float(np.clip(300 / y.size, 0.15, 0.8))
            ax.scatter(y, yhat, s=10, alpha=alpha, color=PALETTE[0], edgecolors="none")
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], ls="--", lw=1, color=GREY)
        ax.set(xlim=(lo - pad, hi + pad), ylim=(lo - pad, hi + pad))
        ax.set_xlabel("Observed")
        ax.set_ylabel("Predicted")
        ax.set_title(plain_text(title) or "Predicted vs observed")
        ax.text(
            0.03,
            0.97,
            f"Pearson r = {r:.3f}\nSpearman ρ = {rho:.3f}\nn = {y.size:,}",
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.4", "fc": "white", "ec": "#CCCCCC"},
        )
        return save_figure(fig, path)


# -- feature importance --------------------------------------------------------------------------


def plot_importance(
    names: Sequence[str],
    values: Any,
    path: str | os.PathLike[str],
    *,
    top: int = 20,
    xlabel: str = "Importance",
    title: str | None = None,
) -> Path:
    """Horizontal bars of the ``top`` features of largest absolute value, largest at the top.

    Parameters
    ----------
    names : sequence of str, length p
        Feature names, e.g. ``MA0139.2 CTCF`` or ``CCCTC``.
    values : array of shape (p,)
        Importances or signed coefficients (negative bars are drawn in a second colour).
    path : path-like
    top : int
    xlabel, title : str

    Returns
    -------
    Path
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size != len(names):
        raise InputError(f"importance plot: {len(names)} names but {v.size} values")
    order = np.argsort(-np.abs(np.nan_to_num(v)), kind="stable")[:top]
    shown = [str(names[i]) for i in order][::-1]
    vals = v[order][::-1]
    with figure_style():
        fig, ax = new_figure((SINGLE[0] * 1.3, max(2.5, 0.28 * len(shown) + 1.2)))
        colours = [PALETTE[0] if x >= 0 else PALETTE[1] for x in vals]
        ax.barh(np.arange(len(shown)), vals, color=colours)
        ax.set_yticks(np.arange(len(shown)), shown, fontsize=8)
        ax.axvline(0, color=GREY, lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_title(plain_text(title) or f"Top {len(shown)} features")
        return save_figure(fig, path)


# -- figure sets for a run and for a comparison ---------------------------------------------------


def write_run_figures(
    out_dir: str | os.PathLike[str],
    *,
    task: str,
    y_true: Any,
    y_score: Any,
    target_names: Sequence[str],
    history: pd.DataFrame | None = None,
    monitor: str | None = None,
) -> dict[str, Path]:
    """Draw the standard figures of one run into ``out_dir`` and return name → path.

    Binary and multi-label tasks get ``roc.png`` and ``pr.png`` (one curve per target) and
    ``calibration.png`` (first target); regression and count tasks get ``regression.png`` (one
    per target, ``regression_<name>.png`` when several); all get ``history.png`` when a
    history is given. Targets with a single class in ``y_true`` are left out of the curves.

    Parameters
    ----------
    out_dir : path-like
        Usually ``RUN/figures``.
    task : str
        ``binary``, ``multilabel``, ``multiclass``, ``regression`` or ``counts``.
    y_true, y_score : arrays of shape (n, t) or (n,)
        Held-out labels and probabilities (or predictions for regression). For ``multiclass``
        ``y_true`` holds the class index (n,) or (n, 1) and ``y_score`` the class probabilities
        (n, k); curves are drawn one-vs-rest per class.
    target_names : sequence of str
        Names of the t targets (of the k classes for ``multiclass``).
    history : DataFrame, optional
    monitor : str, optional
        Column of ``history`` to mark the best epoch of.
    """
    out = Path(out_dir)
    y = np.asarray(y_true, dtype=np.float64)
    s = np.asarray(y_score, dtype=np.float64)
    y = y[:, None] if y.ndim == 1 else y
    s = s[:, None] if s.ndim == 1 else s
    names = list(target_names)
    if task == "multiclass":
        classes = y[:, 0].astype(np.int64)
        y = (classes[:, None] == np.arange(s.shape[1])[None, :]).astype(np.float64)
    if y.shape != s.shape:
        raise InputError(f"labels have shape {y.shape} but scores {s.shape}; they must match")
    if len(names) != y.shape[1]:
        names = [f"target{i + 1}" for i in range(y.shape[1])]
    written: dict[str, Path] = {}
    if task in CLASSIFICATION_TASKS:
        curves = {
            name: (y[:, j], s[:, j])
            for j, name in enumerate(names)
            if len(np.unique(y[np.isfinite(y[:, j]), j])) == 2
        }
        if curves:
            written["roc"] = plot_roc(curves, out / "roc.png")
            written["pr"] = plot_pr(curves, out / "pr.png")
            first = next(iter(curves))
            if task != "multiclass" or len(curves) == 2:
                written["calibration"] = plot_calibration(
                    *curves[first], out / "calibration.png", title=f"Calibration: {first}"
                )
    else:
        for j, name in enumerate(names):
            key = "regression" if len(names) == 1 else f"regression_{name}"
            written[key] = plot_regression(y[:, j], s[:, j], out / f"{_safe(key)}.png", title=name)
    if history is not None and len(history):
        written["history"] = plot_history(history, out / "history.png", monitor=monitor)
    return written


def write_comparison_figures(
    runs: Sequence[RunSummary], out_dir: str | os.PathLike[str], *, target: int = 0
) -> dict[str, Path]:
    """Overlaid ROC and PR curves (``roc.png``, ``pr.png``) of several runs on one target.

    Runs whose labels for that target hold one class only (regression runs, say) are skipped;
    when none is left, nothing is drawn and an empty dict comes back.
    """
    curves = {}
    for run in runs:
        y = np.asarray(run.y_true, dtype=np.float64)
        s = np.asarray(run.y_score, dtype=np.float64)
        y = y.reshape(len(y), -1)
        s = s.reshape(len(s), -1)
        if target < y.shape[1] and target < s.shape[1]:
            col = y[:, target]
            if np.isin(col[np.isfinite(col)], (0.0, 1.0)).all() and len(np.unique(col)) == 2:
                curves[run.name] = (col, s[:, target])
    if not curves:
        return {}
    out = Path(out_dir)
    return {
        "roc": plot_roc(curves, out / "roc.png", title="ROC: held-out sets"),
        "pr": plot_pr(curves, out / "pr.png", title="Precision–recall: held-out sets"),
    }


def _safe(name: str) -> str:
    """A file-name-safe version of a target name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "target"
