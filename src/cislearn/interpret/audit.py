"""Audit of attributions: convergence deltas and agreement with exact ISM on a sample, with a
verdict and a suggestion, as one table and one line.

Exact in-silico mutagenesis (the fast path where the model allows it) is the reference: its
per-position score (the observed base's output minus the mean over the four bases) is what
the model actually does. Each audited method's score at the observed base is correlated with it
per sequence (Pearson over positions). For DeepLIFT/SHAP and integrated gradients the score is
taken from their hypothetical contributions centred over the four bases, so that the choice of
reference (shuffles, uniform) does not count as disagreement; they also report how far the sum
of their attributions is from the output difference they should explain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from cislearn.errors import InputError
from cislearn.interpret.attribution import ATTRIBUTION_METHODS, attribute, position_scores
from cislearn.interpret.captured import captured_warnings
from cislearn.interpret.contributions import (
    CONTRIBUTION_METHODS,
    actual_contributions,
    hypothetical_contributions,
)
from cislearn.types import Progress, no_progress

__all__ = ["AttributionAudit", "audit_attributions", "AUDIT_METHODS"]

#: Methods the audit can check (ISM itself is the reference).
AUDIT_METHODS: tuple[str, ...] = tuple(m for m in ATTRIBUTION_METHODS) + ("ism",)


class AttributionAudit(NamedTuple):
    """The audit of one or more attribution methods against exact ISM."""

    table: pd.DataFrame
    """One row per method: ``method``, ``n``, ``corr_median``, ``corr_min`` (Pearson r with
    exact ISM per sequence), ``delta_median``, ``delta_max`` (convergence delta as a fraction
    of the output difference; NaN where it does not apply), ``warnings``, ``verdict``
    (``ok``/``check``), ``suggestion``."""
    correlations: dict[str, np.ndarray]
    """Per-sequence correlation with ISM, by method."""
    deltas: dict[str, np.ndarray]
    """Per-sequence convergence delta, by method."""
    verdict: str
    """``ok`` when every method passes, else ``check``."""
    line: str
    """One human-readable line with the figures, the thresholds and the suggestion."""


def _corr_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.divide((a * b).sum(axis=1), den, out=np.full(len(a), np.nan), where=den > 0)


def _suggest(method: str, corr: float, delta: float, n_steps: int, args: dict[str, Any]) -> str:
    if np.isfinite(delta) and delta > args["delta_threshold"]:
        if method == "deeplift-shap":
            return (
                "DeepLIFT has no rule for an operation of this model (e.g. a global max "
                "written as a tensor max) and treats it as linear: use exact ISM or "
                "integrated gradients"
            )
        return f"raise the integrated-gradients steps (now {n_steps}; try {4 * n_steps})"
    if not np.isfinite(corr) or corr < args["corr_threshold"]:
        return "disagrees with exact ISM: prefer ISM (exact) for this model"
    return ""


def audit_attributions(
    model: nn.Module,
    x: np.ndarray,
    *,
    methods: Sequence[str] = ("deeplift-shap", "integrated-gradients"),
    sample: int = 32,
    seed: int = 0,
    target: int = 0,
    output: str = "logit",
    task: str = "binary",
    n_steps: int = 32,
    n_shuffles: int = 20,
    corr_threshold: float = 0.7,
    delta_threshold: float = 0.05,
    device: str | torch.device | None = None,
    progress: Progress = no_progress,
) -> AttributionAudit:
    """Check attribution methods against exact ISM on a random sample of sequences.

    Parameters
    ----------
    model : nn.Module
    x : ndarray of shape (n, 4, L)
        One-hot sequences; ``sample`` of them (seeded) are audited.
    methods : sequence of str
        Any of :data:`AUDIT_METHODS` (``ism`` is the reference and always agrees).
    sample, seed : int
        Sequences audited and the seed that picks them.
    target, output, task : int, str, str
        The explained output, as in :func:`~cislearn.interpret.attribution.attribute`.
    n_steps, n_shuffles : int
        Integrated-gradients steps and DeepLIFT/SHAP references.
    corr_threshold, delta_threshold : float
        A method passes when its median correlation with ISM is at least ``corr_threshold``
        and its median convergence delta at most ``delta_threshold`` of the output difference.
    device : optional
    progress : Progress
        ``progress("attribution audit", done, total)`` in methods.

    Returns
    -------
    AttributionAudit
    """
    unknown = [m for m in methods if m not in AUDIT_METHODS]
    if unknown:
        raise InputError(
            f"methods: unknown value {unknown[0]!r}; allowed: {', '.join(AUDIT_METHODS)}"
        )
    xs = np.asarray(x, dtype=np.float32)
    if xs.ndim != 3 or xs.shape[1] != 4 or len(xs) == 0:
        raise InputError(f"x: expected one-hot sequences of shape (n, 4, L); got {xs.shape}")
    if sample < 2:
        raise InputError(f"sample must be >= 2; got {sample}")
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(xs), size=min(sample, len(xs)), replace=False))
    xs = xs[idx]
    opts = dict(target=target, output=output, task=task, device=device)
    ref = hypothetical_contributions(model, xs, method="ism", **opts)
    ref_scores = actual_contributions(ref.hypothetical, xs)
    args = {"corr_threshold": corr_threshold, "delta_threshold": delta_threshold}
    rows, corrs, deltas = [], {}, {}
    for k, method in enumerate(methods):
        progress("attribution audit", k, len(methods))
        if method in CONTRIBUTION_METHODS:
            c = hypothetical_contributions(
                model, xs, method=method, n_steps=n_steps, n_shuffles=n_shuffles, seed=seed, **opts
            )
            centred = c.hypothetical - c.hypothetical.mean(axis=1, keepdims=True)
            scores, delta, warned = actual_contributions(centred, xs), c.delta, c.warnings
        else:
            with captured_warnings(method, log=False) as seen:
                attr = attribute(model, xs, method=method, n_steps=n_steps, **opts)
            scores, delta = position_scores(attr, xs), np.full(len(xs), np.nan, np.float32)
            warned = seen.summary()
        r = _corr_rows(scores.astype(np.float64), ref_scores.astype(np.float64))
        corrs[method], deltas[method] = r, delta
        med_r = float(np.nanmedian(r)) if np.isfinite(r).any() else np.nan
        med_d = float(np.nanmedian(delta)) if np.isfinite(delta).any() else np.nan
        suggestion = _suggest(method, med_r, med_d, n_steps, args)
        rows.append(
            {
                "method": method,
                "n": len(xs),
                "corr_median": med_r,
                "corr_min": float(np.nanmin(r)) if np.isfinite(r).any() else np.nan,
                "delta_median": med_d,
                "delta_max": float(np.nanmax(delta)) if np.isfinite(delta).any() else np.nan,
                "warnings": warned,
                "verdict": "check" if suggestion else "ok",
                "suggestion": suggestion,
            }
        )
    progress("attribution audit", len(methods), len(methods))
    table = pd.DataFrame(rows)
    verdict = "check" if (table["verdict"] == "check").any() else "ok"
    return AttributionAudit(table, corrs, deltas, verdict, _line(table, verdict, args))


def _line(table: pd.DataFrame, verdict: str, args: dict[str, Any]) -> str:
    parts = []
    for r in table.itertuples():
        text = f"{r.method} r={r.corr_median:.2f}"
        if np.isfinite(r.delta_median):
            text += f", delta median {r.delta_median:.1%} max {r.delta_max:.1%}"
        parts.append(text + f" [{r.verdict}]")
    n = int(table["n"].iloc[0]) if len(table) else 0
    head = (
        f"attribution audit ({n} sequences; vs exact ISM; pass: r >= {args['corr_threshold']}, "
        f"delta <= {args['delta_threshold']:.0%}): "
    )
    tips = [f"{r.method}: {r.suggestion}" for r in table.itertuples() if r.suggestion]
    tail = f" -> {verdict.upper()}" + (f": {'; '.join(tips)}" if tips else "")
    return head + "; ".join(parts) + tail
