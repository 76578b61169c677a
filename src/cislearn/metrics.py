"""Evaluation metrics on numpy arrays: classification/regression scores, curves, bootstrap CIs."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    log_loss,
    matthews_corrcoef,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from cislearn.config import N_BOOT
from cislearn.errors import InputError

__all__ = [
    "CLASSIFICATION_KEYS",
    "MULTICLASS_KEYS",
    "REGRESSION_KEYS",
    "BOOTSTRAP_METRICS",
    "RocCurve",
    "PrCurve",
    "ConfidenceInterval",
    "classification_metrics",
    "multiclass_metrics",
    "regression_metrics",
    "bootstrap_ci",
    "roc_points",
    "pr_points",
]

#: Keys of :func:`classification_metrics`, in table order.
CLASSIFICATION_KEYS: tuple[str, ...] = (
    "auroc",
    "auprc",
    "auprc_baseline",
    "accuracy",
    "f1",
    "mcc",
    "n",
    "n_pos",
)
#: Keys of :func:`multiclass_metrics`.
MULTICLASS_KEYS: tuple[str, ...] = ("accuracy", "macro_auroc", "macro_f1", "mcc", "log_loss", "n")
#: Keys of :func:`regression_metrics`.
REGRESSION_KEYS: tuple[str, ...] = ("pearson", "spearman", "mse", "mae", "r2", "n")
#: Metric names :func:`bootstrap_ci` computes for all resamples at once.
BOOTSTRAP_METRICS: tuple[str, ...] = ("auroc", "auprc", "pearson", "spearman", "mse", "mae", "r2")


class RocCurve(NamedTuple):
    """ROC curve points (empty arrays when the labels have a single class)."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray


class PrCurve(NamedTuple):
    """Precision-recall points, recall decreasing; ``thresholds`` has one value fewer."""

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray


class ConfidenceInterval(NamedTuple):
    """Percentile bootstrap interval (NaN when no resample gave a finite value)."""

    low: float
    high: float


def _columns(
    y_true: np.ndarray, y_score: np.ndarray, what: str
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validate a (labels, scores) pair; return both as float (n, t) and whether input was 1-D."""
    y = np.asarray(y_true, dtype=float)
    s = np.asarray(y_score, dtype=float)
    if y.shape != s.shape or y.ndim not in (1, 2) or y.shape[0] == 0:
        raise InputError(
            f"{what}: y_true and predictions must have the same shape (n,) or (n, t) with "
            f"n >= 1; got {y.shape} and {s.shape}"
        )
    if not np.isfinite(s).all():
        raise InputError(f"{what}: predictions contain NaN or infinite values")
    if np.isinf(y).any():
        raise InputError(f"{what}: y_true contains infinite values")
    return y.reshape(len(y), -1), s.reshape(len(s), -1), y.ndim == 1


def _shape_result(rows: list[dict[str, float]], keys: tuple[str, ...], one_d: bool) -> dict:
    if one_d:
        return rows[0]
    return {key: np.array([row[key] for row in rows]) for key in keys}


def _binary_scores(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    keep = ~np.isnan(y)  # NaN label = missing for this target
    y, p = y[keep], p[keep]
    out = dict.fromkeys(CLASSIFICATION_KEYS, np.nan)
    n, n_pos = y.size, float(y.sum())
    out["n"], out["n_pos"] = float(n), n_pos
    if n == 0:
        return out
    pred = (p >= threshold).astype(float)
    out["auprc_baseline"] = n_pos / n
    out["accuracy"] = float(np.mean(pred == y))
    out["f1"] = float(f1_score(y, pred, zero_division=np.nan))
    if 0 < n_pos < n:  # ranking scores need both classes
        out["auroc"] = float(roc_auc_score(y, p))
        out["auprc"] = float(average_precision_score(y, p))
        out["mcc"] = float(matthews_corrcoef(y, pred))
    return out


def classification_metrics(
    y_true: np.ndarray, y_prob: np.ndarray, *, threshold: float = 0.5
) -> dict:
    """Binary classification scores per target.

    Parameters
    ----------
    y_true : ndarray of shape (n,) or (n, t)
        0/1 labels; NaN marks a missing label (left out for that target).
    y_prob : ndarray of the same shape
        Predicted probabilities (or any score; ``threshold`` applies to it).
    threshold : float
        A prediction is positive when ``y_prob >= threshold`` (accuracy, F1, MCC).

    Returns
    -------
    dict
        Keys :data:`CLASSIFICATION_KEYS`: ``auroc``, ``auprc``, ``auprc_baseline`` (the
        prevalence, AUPRC of a random ranking), ``accuracy``, ``f1``, ``mcc``, ``n``,
        ``n_pos``. Values are floats for (n,) input and arrays of shape (t,) for (n, t).
        AUROC, AUPRC and MCC are NaN for a target with a single class, F1 when it is undefined
        (no positive labels nor predictions); no warning is raised.

    Examples
    --------
    >>> m = classification_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.7, 0.9]))
    >>> m["auroc"], m["accuracy"]
    (1.0, 0.75)
    """
    y, p, one_d = _columns(y_true, y_prob, "classification_metrics")
    labels = y[~np.isnan(y)]
    if not np.isin(labels, (0.0, 1.0)).all():
        raise InputError("classification_metrics: y_true must hold 0/1 labels (or NaN)")
    rows = [_binary_scores(y[:, j], p[:, j], threshold) for j in range(y.shape[1])]
    return _shape_result(rows, CLASSIFICATION_KEYS, one_d)


def multiclass_metrics(y_true: np.ndarray, y_prob: np.ndarray) -> dict[str, float]:
    """Scores of a single-label multiclass prediction.

    Parameters
    ----------
    y_true : ndarray of shape (n,)
        Class indices 0..C-1.
    y_prob : ndarray of shape (n, C)
        Class probabilities (rows sum to 1).

    Returns
    -------
    dict
        Keys :data:`MULTICLASS_KEYS`: top-1 ``accuracy``, ``macro_auroc`` (one-vs-rest, over
        classes present with both outcomes; NaN if none), ``macro_f1``, ``mcc``,
        ``log_loss``, ``n``.
    """
    y = np.asarray(y_true)
    prob = np.asarray(y_prob, dtype=float)
    if prob.ndim != 2 or y.shape != (prob.shape[0],) or y.size == 0:
        raise InputError(
            f"multiclass_metrics: need y_true (n,) and y_prob (n, C); got {y.shape}, {prob.shape}"
        )
    n_classes = prob.shape[1]
    if not np.isin(y, np.arange(n_classes)).all():
        raise InputError(f"multiclass_metrics: y_true must hold class indices 0..{n_classes - 1}")
    if not np.isfinite(prob).all():
        raise InputError("multiclass_metrics: y_prob contains NaN or infinite values")
    y = y.astype(int)
    pred = prob.argmax(axis=1)
    aurocs = [
        roc_auc_score(y == c, prob[:, c]) for c in range(n_classes) if 0 < (y == c).sum() < y.size
    ]
    labels = np.arange(n_classes)
    return {
        "accuracy": float(np.mean(pred == y)),
        "macro_auroc": float(np.mean(aurocs)) if aurocs else np.nan,
        "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=np.nan)),
        "mcc": float(matthews_corrcoef(y, pred)) if np.unique(y).size > 1 else np.nan,
        "log_loss": float(log_loss(y, np.clip(prob, 1e-15, 1.0), labels=labels)),
        "n": float(y.size),
    }


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    # By hand: scipy warns (ConstantInputWarning) where this returns NaN quietly.
    dx, dy = x - x.mean(), y - y.mean()
    denom = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / denom) if denom > 0 else np.nan


def _regression_scores(y: np.ndarray, yhat: np.ndarray) -> dict[str, float]:
    keep = ~np.isnan(y)
    y, yhat = y[keep], yhat[keep]
    out = dict.fromkeys(REGRESSION_KEYS, np.nan)
    out["n"] = float(y.size)
    if y.size == 0:
        return out
    err = yhat - y
    ss_tot = float(((y - y.mean()) ** 2).sum())
    out["mse"] = float(np.mean(err**2))
    out["mae"] = float(np.mean(np.abs(err)))
    out["r2"] = 1.0 - float((err**2).sum()) / ss_tot if ss_tot > 0 else np.nan
    if y.size > 1:
        out["pearson"] = _pearson(y, yhat)
        out["spearman"] = _pearson(rankdata(y), rankdata(yhat))
    return out


def regression_metrics(y: np.ndarray, yhat: np.ndarray) -> dict:
    """Regression scores per target.

    Parameters
    ----------
    y : ndarray of shape (n,) or (n, t)
        Observed values; NaN marks a missing value (left out for that target).
    yhat : ndarray of the same shape
        Predictions.

    Returns
    -------
    dict
        Keys :data:`REGRESSION_KEYS`: ``pearson``, ``spearman``, ``mse``, ``mae``, ``r2``,
        ``n``; floats for (n,) input, arrays of shape (t,) for (n, t). Correlations and R²
        are NaN for a constant target or prediction.

    Examples
    --------
    >>> regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))["spearman"]
    1.0
    """
    yy, pp, one_d = _columns(y, yhat, "regression_metrics")
    rows = [_regression_scores(yy[:, j], pp[:, j]) for j in range(yy.shape[1])]
    return _shape_result(rows, REGRESSION_KEYS, one_d)


def roc_points(y_true: np.ndarray, y_score: np.ndarray) -> RocCurve:
    """ROC curve of one binary target, y_true and y_score of shape (n,)."""
    y, s = _binary_pair(y_true, y_score, "roc_points")
    if not 0 < y.sum() < y.size:
        return RocCurve(np.empty(0), np.empty(0), np.empty(0))
    fpr, tpr, thresholds = roc_curve(y, s)
    return RocCurve(fpr, tpr, thresholds)


def pr_points(y_true: np.ndarray, y_score: np.ndarray) -> PrCurve:
    """Precision-recall curve of one binary target, y_true and y_score of shape (n,)."""
    y, s = _binary_pair(y_true, y_score, "pr_points")
    if not 0 < y.sum() < y.size:
        return PrCurve(np.empty(0), np.empty(0), np.empty(0))
    precision, recall, thresholds = precision_recall_curve(y, s)
    return PrCurve(precision, recall, thresholds)


def _binary_pair(y_true: np.ndarray, y_score: np.ndarray, what: str) -> tuple[np.ndarray, ...]:
    y, s, one_d = _columns(y_true, y_score, what)
    if not one_d or np.isnan(y).any() or not np.isin(y, (0.0, 1.0)).all():
        raise InputError(f"{what}: need y_true of shape (n,) with 0/1 labels and scores (n,)")
    return y[:, 0], s[:, 0]


# ----------------------------------------------------------------------------- bootstrap
# A resample is a row of counts W (how often each sample was drawn). The named metrics are
# written as weighted statistics of W, so all resamples of a chunk are scored by a few numpy
# passes after one sort. Measured side by side (2 shared cores): 1000 AUROC resamples of 2,500
# samples take 0.2-0.26 s against 5.7-9.4 s for 1000 roc_auc_score calls (20-50x), with the
# same interval; tests/test_metrics.py checks every named metric against the per-resample path.


def _tie_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort order of ``values`` and start index of each run of equal sorted values."""
    order = np.argsort(values, kind="stable")
    v = values[order]
    starts = np.flatnonzero(np.r_[True, v[1:] != v[:-1]])
    return order, starts


def _weighted_pearson(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    total = w.sum(axis=1, keepdims=True)
    dx = x - (w * x).sum(axis=1, keepdims=True) / total
    dy = y - (w * y).sum(axis=1, keepdims=True) / total
    cov = (w * dx * dy).sum(axis=1)
    var = (w * dx * dx).sum(axis=1) * (w * dy * dy).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, cov / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)


def _weighted_ranks(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mid-ranks of ``values`` within each resample (row of counts ``w``), shape (b, n)."""
    order, starts = _tie_groups(values)
    group_w = np.add.reduceat(w[:, order], starts, axis=1)
    mid = np.cumsum(group_w, axis=1) - group_w + (group_w + 1.0) / 2.0
    group_of = np.empty(values.size, dtype=np.intp)
    group_of[order] = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, values.size]))
    return mid[:, group_of]


def _vectorised(name: str, y: np.ndarray, s: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Metric ``name`` of every resample: counts (b, n) → values (b,)."""
    if name in ("auroc", "auprc"):
        if not np.isin(y, (0.0, 1.0)).all():
            raise InputError(f"bootstrap_ci: {name} needs 0/1 labels in y_true")
        order, starts = _tie_groups(-s if name == "auprc" else s)  # AUPRC: best score first
        ys = y[order]

        def by_group(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            w = w[:, order]
            return np.add.reduceat(w * ys, starts, axis=1), np.add.reduceat(
                w * (1 - ys), starts, axis=1
            )

        def auroc(w: np.ndarray) -> np.ndarray:
            pos, neg = by_group(w)  # ascending score: positives beat the negatives below them
            neg_below = np.cumsum(neg, axis=1) - neg
            pairs = pos.sum(axis=1) * neg.sum(axis=1)
            wins = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
            return np.where(pairs > 0, wins / np.where(pairs > 0, pairs, 1.0), np.nan)

        def auprc(w: np.ndarray) -> np.ndarray:
            pos, neg = by_group(w)  # descending score = decreasing threshold
            tp, called = np.cumsum(pos, axis=1), np.cumsum(pos + neg, axis=1)
            precision = np.where(called > 0, tp / np.where(called > 0, called, 1.0), 0.0)
            n_pos = pos.sum(axis=1)
            ap = (pos * precision).sum(axis=1)
            return np.where(n_pos > 0, ap / np.where(n_pos > 0, n_pos, 1.0), np.nan)

        return auroc if name == "auroc" else auprc

    def weighted_mean(w: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (w * v).sum(axis=1) / w.sum(axis=1)

    if name == "mse":
        return lambda w: weighted_mean(w, (s - y) ** 2)
    if name == "mae":
        return lambda w: weighted_mean(w, np.abs(s - y))
    if name == "pearson":
        return lambda w: _weighted_pearson(w, y, s)
    if name == "spearman":
        return lambda w: _weighted_pearson(w, _weighted_ranks(w, y), _weighted_ranks(w, s))
    if name == "r2":

        def r2(w: np.ndarray) -> np.ndarray:
            dev = y - (w @ y / w.sum(axis=1))[:, None]
            ss_tot = (w * dev * dev).sum(axis=1)
            ss_res = (w * (s - y) ** 2).sum(axis=1)
            return np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)

        return r2
    raise InputError(
        f"bootstrap_ci: unknown metric {name!r}; allowed: {', '.join(BOOTSTRAP_METRICS)} "
        "or a function f(y_true, y_score) -> float"
    )


def bootstrap_ci(
    metric_fn: str | Callable[[np.ndarray, np.ndarray], float],
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    n_boot: int = N_BOOT,
    alpha: float = 0.05,
    seed: int = 0,
) -> ConfidenceInterval:
    """Percentile bootstrap confidence interval of a metric.

    Parameters
    ----------
    metric_fn : str or callable
        A name from :data:`BOOTSTRAP_METRICS` (all resamples scored at once, fast), or any
        ``f(y_true, y_score) -> float`` (called once per resample).
    y_true, y_score : ndarray of shape (n,)
    n_boot : int
        Number of resamples (with replacement, size n).
    alpha : float
        The interval covers ``1 - alpha``.
    seed : int
        Seed of the resampling; the same seed gives the same resamples for every metric.

    Returns
    -------
    ConfidenceInterval
        ``(low, high)``; resamples where the metric is undefined (e.g. one class) are left out.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 500)
    >>> low, high = bootstrap_ci("auroc", y, y + rng.normal(size=500))
    >>> bool(0.5 < low < high < 1)
    True
    """
    y, s, one_d = _columns(y_true, y_score, "bootstrap_ci")
    if not one_d or np.isnan(y).any():
        raise InputError("bootstrap_ci: need y_true and y_score of shape (n,) without NaN")
    if n_boot < 1 or not 0 < alpha < 1:
        raise InputError(f"bootstrap_ci: need n_boot >= 1 and 0 < alpha < 1; got {n_boot}, {alpha}")
    y, s = y[:, 0], s[:, 0]
    n = y.size
    score = _vectorised(metric_fn, y, s) if isinstance(metric_fn, str) else None
    rng = np.random.default_rng(seed)
    chunk = max(1, (1 << 20) // n)  # bounds memory at a few (chunk, n) float64 arrays
    values = []
    for done in range(0, n_boot, chunk):
        b = min(chunk, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        if score is None:
            values.append([metric_fn(y[rows], s[rows]) for rows in idx])
        else:
            offsets = (np.arange(b) * n)[:, None]
            counts = np.bincount((idx + offsets).ravel(), minlength=b * n).reshape(b, n)
            values.append(score(counts.astype(float)))
    stats = np.concatenate([np.asarray(v, dtype=float) for v in values])
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return ConfidenceInterval(np.nan, np.nan)
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return ConfidenceInterval(float(low), float(high))
