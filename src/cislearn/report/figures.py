"""Report figures (ROC, PR, calibration, training history, regression scatter) as PNG files."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cislearn.errors import InputError
from cislearn.types import CLASSIFICATION_TASKS

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from cislearn.evaluate import RunSummary

__all__ = [
    "PALETTE",
    "MAX_LEGEND",
    "plot_roc",
    "plot_pr",
    "plot_calibration",
    "plot_history",
    "plot_regression",
    "write_run_figures",
    "write_comparison_figures",
]

#: Okabe & Ito's colour-blind-safe palette (black last: used for references, not curves).
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",
)
GREY = "#7F7F7F"
DPI = 120
#: Curves per figure drawn with their own legend entry; more are summarised (many targets).
MAX_LEGEND = 8
SINGLE = (5.0, 4.4)  # inches: one square-ish panel
DOUBLE = (9.6, 4.0)  # two panels side by side

_RC: dict[str, Any] = {
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.labelsize": 9.5,
    "legend.fontsize": 8.5,
    "legend.frameon": True,
    "legend.framealpha": 0.85,
    "legend.edgecolor": "#DDDDDD",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "lines.linewidth": 1.8,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
}


# -- shared plumbing ------------------------------------------------------------------------------


def _new_figure(
    figsize: tuple[float, float], *, nrows: int = 1, ncols: int = 1, **kw: Any
) -> tuple[Figure, Any]:
    # The object-oriented Figure API with an explicit Agg canvas: no pyplot, so no global
    # state, no backend switch in a user's notebook, and no figure leaks in a long-lived process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kw)


def _style() -> contextlib.AbstractContextManager:
    import matplotlib

    return matplotlib.rc_context(_RC)


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` to a temporary file beside ``path`` then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").lower() or "png"
    # A fresh name rather than mkstemp: mkstemp creates mode 0600, and figures should get the
    # user's usual permissions (umask) like every other output.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # No "Software"/date metadata: the same data gives byte-identical PNGs.
        meta = {"Software": None} if fmt == "png" else None
        fig.savefig(tmp, format=fmt, dpi=DPI, metadata=meta)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


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


def _text(text: str | None) -> str:
    """User text safe for matplotlib: ``$`` would start mathtext (and can fail to parse), and
    legend labels starting with ``_`` are silently dropped."""
    if not text:
        return ""
    text = str(text).replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def _colour(i: int) -> str:
    return PALETTE[i % (len(PALETTE) - 1)]


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
    with _style():
        fig, ax = _new_figure(SINGLE)
        ax.plot([0, 1], [0, 1], ls="--", lw=1, color=GREY, label="chance (0.500)")
        _draw_curves(ax, lines)
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
        ax.set_xlabel("False positive rate")
        ax.set_ylabel("True positive rate")
        ax.set_title(_text(title) or "ROC curve")
        ax.legend(loc="lower right", title="AUROC")
        return _save(fig, path)


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
    with _style():
        fig, ax = _new_figure(SINGLE)
        if shared or not few:
            p = float(np.mean(prevalences)) if prevalences else 0.0
            label = "prevalence" if shared else "mean prevalence"
            ax.axhline(p, ls="--", lw=1, color=GREY, label=f"{label} ({p:.3f})")
        else:
            for i, p in enumerate(prevalences):
                ax.axhline(p, ls="--", lw=1, color=_colour(i), alpha=0.7)
        # drawstyle steps-post: average precision is the area under this step function
        _draw_curves(ax, lines, drawstyle="steps-post")
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
        ax.set_xlabel("Recall")
        ax.set_ylabel("Precision")
        ax.set_title(_text(title) or "Precision–recall curve")
        note = "" if shared or not few else "  (dashed: prevalence)"
        ax.legend(loc="best", title="AUPRC" + note)
        return _save(fig, path)


def _draw_curves(ax: Any, lines: list[tuple[str, Any, Any, float]], **kw: Any) -> None:
    """One labelled line per curve, or, beyond :data:`MAX_LEGEND` curves (a multi-task model
    with many targets), thin unlabelled lines and one legend entry with the median area."""
    if len(lines) <= MAX_LEGEND:
        for i, (name, x, y, area) in enumerate(lines):
            ax.plot(x, y, color=_colour(i), label=f"{_text(name)} ({area:.3f})", **kw)
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

    with _style():
        fig, (top, bottom) = _new_figure(
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
        top.set_title(_text(title) or "Calibration")
        top.legend(loc="upper left")
        for label, colour in ((0, PALETTE[1]), (1, PALETTE[0])):
            bottom.hist(p[y == label], bins=edges, color=colour, alpha=0.55, label=f"class {label}")
        bottom.set_xlabel("Predicted probability")
        bottom.set_ylabel("Count")
        bottom.legend(loc="upper center", ncols=2)
        return _save(fig, path)


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
    with _style():
        fig, (left, right) = _new_figure(DOUBLE, ncols=2)
        for i, col in enumerate(losses):
            series = numeric[col].to_numpy(dtype=float)
            ok = np.isfinite(series)
            dashed = col.lower().startswith(("val", "valid"))
            left.plot(
                x[ok],
                series[ok],
                marker="o",
                ms=3,
                color=_colour(i),
                ls="--" if dashed else "-",
                label=_text(col),
            )
        left.set_xlabel("Epoch")
        left.set_ylabel("Loss")
        left.set_title("Loss")
        if losses:
            left.legend()
        for i, col in enumerate(others):
            series = numeric[col].to_numpy(dtype=float)
            ok = np.isfinite(series)
            right.plot(x[ok], series[ok], marker="o", ms=3, color=_colour(i + 2), label=_text(col))
        right.set_xlabel("Epoch")
        right.set_title("Validation metrics" if others else "(no metric columns)")
        if monitor is not None and monitor in numeric and numeric[monitor].notna().any():
            series = numeric[monitor].to_numpy(dtype=float)
            best = int(np.nanargmin(series) if "loss" in monitor else np.nanargmax(series))
            for ax in (left, right):
                ax.axvline(x[best], color=GREY, lw=1, ls=":")
            target = left if monitor in losses else right
            right_half = best >= len(x) / 2  # keep the label inside the axes
            target.annotate(
                f"best {_text(monitor)}\n{series[best]:.4g} @ {x[best]:g}",
                (x[best], series[best]),
                xytext=(-6 if right_half else 6, -22),
                textcoords="offset points",
                ha="right" if right_half else "left",
                fontsize=8,
                color="#333333",
            )
        if others:
            right.legend()
        if len(x) <= 20:
            from matplotlib.ticker import MaxNLocator

            for ax in (left, right):
                ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if title:
            fig.suptitle(_text(title))
        return _save(fig, path)


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
    with _style():
        fig, ax = _new_figure(SINGLE)
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
        ax.set_title(_text(title) or "Predicted vs observed")
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
        return _save(fig, path)


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
    with _style():
        fig, ax = _new_figure((SINGLE[0] * 1.3, max(2.5, 0.28 * len(shown) + 1.2)))
        colours = [PALETTE[0] if x >= 0 else PALETTE[1] for x in vals]
        ax.barh(np.arange(len(shown)), vals, color=colours)
        ax.set_yticks(np.arange(len(shown)), shown, fontsize=8)
        ax.axvline(0, color=GREY, lw=0.8)
        ax.set_xlabel(xlabel)
        ax.set_title(_text(title) or f"Top {len(shown)} features")
        return _save(fig, path)


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
