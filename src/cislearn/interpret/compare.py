"""Learned motifs against known ones: Tomtom vs JASPAR, redundancy clusters, FIMO enrichment.

Tomtom and FIMO are memelite's (numba; compiled kernels are cached on disk by numba, so only the
first use on a machine pays for compilation). :func:`learned_motifs` runs the whole filters →
motifs → JASPAR → enrichment → influence chain and returns tables (no file IO).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, fisher_exact
from torch import nn

from cislearn.errors import InputError
from cislearn.interpret.filters import filter_influence, filter_motifs
from cislearn.io.jaspar import load_jaspar
from cislearn.io.motifs import Motif
from cislearn.types import Progress, no_progress

__all__ = [
    "LearnedMotifs",
    "match_motifs",
    "cluster_motifs",
    "motif_enrichment",
    "learned_motifs",
    "interpretability_warning",
    "MATCH_Q",
    "NO_MATCH",
    "MIN_INTERPRETABLE_AUROC",
]


def _pfms(motifs: Sequence[Motif]) -> list[np.ndarray]:
    return [np.ascontiguousarray(m.pfm, dtype=np.float64) for m in motifs]


def match_motifs(
    queries: Sequence[Motif], targets: Sequence[Motif] | None = None, *, n_best: int = 3
) -> pd.DataFrame:
    """Best Tomtom matches of each query motif among the targets (default: JASPAR CORE
    vertebrates, newest bundled release).

    q-values are Benjamini-Hochberg over each query's p-values against all targets (as Tomtom
    reports them).

    Returns
    -------
    DataFrame
        ``motif``, ``rank``, ``target_id``, ``target_name``, ``p_value``, ``q_value``,
        ``offset``, ``overlap``, ``strand`` (``+``/``-``); ``n_best`` rows per query.
    """
    from memelite import tomtom

    cols = [
        "motif",
        "rank",
        "target_id",
        "target_name",
        "p_value",
        "q_value",
        "offset",
        "overlap",
        "strand",
    ]
    if not queries:
        return pd.DataFrame(columns=cols)
    targets = list(targets) if targets is not None else load_jaspar()
    if not targets:
        raise InputError("match_motifs: no target motifs")
    p, _scores, offsets, overlaps, strands = tomtom(_pfms(queries), _pfms(targets), n_jobs=1)
    p = np.clip(np.nan_to_num(np.asarray(p, dtype=np.float64), nan=1.0), 0.0, 1.0)
    rows = []
    for i, q in enumerate(queries):
        qv = false_discovery_control(p[i])
        for rank, j in enumerate(np.argsort(p[i], kind="stable")[:n_best], start=1):
            rows.append(
                (
                    q.id,
                    rank,
                    targets[j].id,
                    targets[j].name,
                    float(p[i, j]),
                    float(qv[j]),
                    int(offsets[i, j]),
                    int(overlaps[i, j]),
                    "+" if strands[i, j] == 0 else "-",
                )
            )
    return pd.DataFrame(rows, columns=cols)


def cluster_motifs(
    motifs: Sequence[Motif], *, p_threshold: float = 1e-3, order: Sequence[str] | None = None
) -> pd.DataFrame:
    """Group redundant motifs: single-linkage over Tomtom p-values between them.

    Parameters
    ----------
    p_threshold : float
        Two motifs are linked when either matches the other with p below this.
    order : sequence of str, optional
        Motif ids by priority (e.g. influence); each cluster's representative is its first.

    Returns
    -------
    DataFrame
        ``motif``, ``cluster`` (0 = the cluster of the highest-priority motif...),
        ``representative`` (bool).
    """
    from memelite import tomtom
    from scipy.sparse.csgraph import connected_components

    ids = [m.id for m in motifs]
    if not ids:
        return pd.DataFrame(columns=["motif", "cluster", "representative"])
    if len(ids) == 1:
        return pd.DataFrame({"motif": ids, "cluster": [0], "representative": [True]})
    # Tomtom's p-values take the targets' columns as background, which a few learned motifs
    # cannot give (memelite warns below 25): JASPAR is added to the targets, then dropped.
    background = list(motifs) + load_jaspar()
    p = np.asarray(tomtom(_pfms(motifs), _pfms(background), n_jobs=1)[0], dtype=np.float64)
    p = p[:, : len(motifs)]
    linked = np.nan_to_num(p, nan=1.0) < p_threshold
    _, labels = connected_components(linked | linked.T, directed=False)
    rank = {mid: i for i, mid in enumerate(order or ids)}
    priority = sorted(range(len(ids)), key=lambda i: rank.get(ids[i], len(rank) + i))
    renumber: dict[int, int] = {}
    rep = [False] * len(ids)
    for i in priority:
        if labels[i] not in renumber:
            renumber[labels[i]] = len(renumber)
            rep[i] = True
    return pd.DataFrame(
        {"motif": ids, "cluster": [renumber[c] for c in labels], "representative": rep}
    )


def motif_enrichment(
    motifs: Sequence[Motif],
    x_pos: np.ndarray,
    x_neg: np.ndarray | None = None,
    *,
    threshold: float = 1e-4,
) -> pd.DataFrame:
    """Fraction of positive (and negative) sequences with a FIMO hit of each motif, and a
    one-sided Fisher exact test of enrichment in the positives.

    Parameters
    ----------
    x_pos, x_neg : ndarray of shape (n, 4 + tracks, L)
        One-hot sequences (only the base channels are scanned).
    threshold : float
        FIMO p-value threshold of a hit.

    Returns
    -------
    DataFrame
        ``motif``, ``pos_hits``, ``pos_frac``, ``neg_hits``, ``neg_frac``, ``odds_ratio``,
        ``fisher_p`` (NaN without negatives).
    """
    from memelite import fimo

    def hits(x: np.ndarray) -> np.ndarray:
        if not motifs or len(x) == 0:
            return np.zeros(len(motifs), int)
        xs = np.ascontiguousarray(np.asarray(x)[:, :4], dtype=np.float32)
        # Keyed by index: ids need not be unique for FIMO's dictionary.
        found = fimo({str(k): m.pfm for k, m in enumerate(motifs)}, xs, threshold=threshold)
        counts = np.zeros(len(motifs), int)
        for df in found:
            if len(df):
                counts[int(df["motif_idx"].iloc[0])] = df["sequence_name"].nunique()
        return counts

    pos = hits(x_pos)
    n_pos = len(x_pos)
    rows = []
    neg = hits(x_neg) if x_neg is not None else None
    n_neg = len(x_neg) if x_neg is not None else 0
    for k, m in enumerate(motifs):
        row = {
            "motif": m.id,
            "pos_hits": int(pos[k]),
            "pos_frac": pos[k] / n_pos if n_pos else np.nan,
            "neg_hits": np.nan,
            "neg_frac": np.nan,
            "odds_ratio": np.nan,
            "fisher_p": np.nan,
        }
        if neg is not None and n_neg:
            table = [[pos[k], n_pos - pos[k]], [neg[k], n_neg - neg[k]]]
            res = fisher_exact(table, alternative="greater")
            row.update(
                neg_hits=int(neg[k]),
                neg_frac=neg[k] / n_neg,
                odds_ratio=float(res.statistic),
                fisher_p=float(res.pvalue),
            )
        rows.append(row)
    return pd.DataFrame(
        rows,
        columns=["motif", "pos_hits", "pos_frac", "neg_hits", "neg_frac", "odds_ratio", "fisher_p"],
    )


#: A learned motif carries the name of its best JASPAR match only below this Tomtom q-value.
MATCH_Q = 0.05
#: The name of a learned motif without a significant match (its best hit is still listed).
NO_MATCH = "no match"
#: Below this held-out AUROC a model's filters are not interpretable (and say so).
MIN_INTERPRETABLE_AUROC = 0.75


def interpretability_warning(auroc: float | None) -> str | None:
    """The warning for motifs of a model whose held-out AUROC is below
    :data:`MIN_INTERPRETABLE_AUROC` (None when it is not, or unknown)."""
    if auroc is None or not np.isfinite(auroc) or auroc >= MIN_INTERPRETABLE_AUROC:
        return None
    return (
        f"warning: the model's held-out AUROC is {auroc:.3f} (< {MIN_INTERPRETABLE_AUROC}); "
        "its filters are not interpretable: motifs and their matches may be noise"
    )


class LearnedMotifs(NamedTuple):
    """Everything :func:`learned_motifs` finds."""

    motifs: list[Motif]
    """Kept filter motifs ordered by influence (most influential first); named after the best
    JASPAR match when its Tomtom q < :data:`MATCH_Q`, else :data:`NO_MATCH`."""
    table: pd.DataFrame
    """One row per kept motif, same order: filter columns, ``influence`` (mean drop of the
    target logit of the positives when the filter is zeroed) with ``influence_sd``,
    ``influence_se`` and ``frac_down``, ``cluster``, ``representative``, ``name`` (the match
    name when q < :data:`MATCH_Q`, else :data:`NO_MATCH`), best hit (``match_id``,
    ``match_name``, ``match_p``, ``match_q``) and enrichment columns."""
    filters: pd.DataFrame
    """Every filter (kept or not) with its influence and the reason it was dropped."""
    matches: pd.DataFrame
    """The ``n_best`` Tomtom matches per kept motif."""


def learned_motifs(
    model: nn.Module,
    x_pos: np.ndarray,
    x_neg: np.ndarray | None = None,
    *,
    task: str = "binary",
    target: int = 0,
    threshold: float = 0.5,
    min_sites: int = 20,
    min_ic: float = 3.0,
    targets: Sequence[Motif] | None = None,
    n_best: int = 3,
    fimo_threshold: float = 1e-4,
    cluster_p: float = 1e-3,
    device: Any = None,
    progress: Progress = no_progress,
) -> LearnedMotifs:
    """First-layer filters → PFMs → trimmed/filtered → influence → clusters → JASPAR matches →
    FIMO enrichment, as tables ordered by influence.

    Parameters
    ----------
    model : nn.Module
    x_pos : ndarray of shape (n, C, L)
        One-hot positives: motifs are built from them.
    x_neg : ndarray of shape (m, C, L), optional
        One-hot negatives: enrichment is tested.
    task, target : str, int
        Output explained by the influence (the mean drop of its logit on the positives).
    threshold, min_sites, min_ic : see :func:`~cislearn.interpret.filters.filter_motifs`
    targets : sequence of Motif, optional
        Known motifs to match (default: JASPAR CORE vertebrates, newest bundled release).
    n_best, fimo_threshold, cluster_p : int, float, float
    device : optional
    progress : Progress
        Called as ``progress("motifs", step, 5, what_comes_next)`` before each step.

    Returns
    -------
    LearnedMotifs
    """
    progress("motifs", 0, 5, "filter sites → PFMs")
    fm = filter_motifs(
        model, x_pos, threshold=threshold, min_sites=min_sites, min_ic=min_ic, device=device
    )
    progress("motifs", 1, 5, f"influence of {len(fm.table)} filters")
    infl = filter_influence(model, x_pos, target=target, device=device)
    infl_cols = ["filter", "influence", "influence_sd", "influence_se", "frac_down", "metric"]
    filters = fm.table.merge(infl[infl_cols], on="filter", how="left")
    kept = filters[filters["kept"]].sort_values("influence", ascending=False, kind="stable")
    by_id = {m.id: m for m in fm.motifs}
    motifs = [by_id[f] for f in kept["filter"]]
    progress("motifs", 2, 5, f"Tomtom: {len(motifs)} motifs against known motifs")
    matches = match_motifs(motifs, targets, n_best=n_best)
    progress("motifs", 3, 5, "clustering")
    clusters = cluster_motifs(motifs, p_threshold=cluster_p, order=[m.id for m in motifs])
    progress("motifs", 4, 5, "FIMO enrichment")
    enrich = motif_enrichment(motifs, x_pos, x_neg, threshold=fimo_threshold)
    progress("motifs", 5, 5)
    best = matches[matches["rank"] == 1].rename(
        columns={
            "target_id": "match_id",
            "target_name": "match_name",
            "p_value": "match_p",
            "q_value": "match_q",
        }
    )[["motif", "match_id", "match_name", "match_p", "match_q"]]
    table = (
        kept.rename(columns={"filter": "motif"})
        .merge(clusters, on="motif", how="left")
        .merge(best, on="motif", how="left")
        .merge(enrich, on="motif", how="left")
        .reset_index(drop=True)
    )
    significant = table["match_q"].lt(MATCH_Q).fillna(False).astype(bool)
    table.insert(
        table.columns.get_loc("match_id"),
        "name",
        table["match_name"].where(significant, NO_MATCH).fillna(NO_MATCH).astype(str),
    )
    names = dict(zip(table["motif"], table["name"], strict=True))
    named = [Motif(m.id, names.get(m.id, NO_MATCH), m.counts) for m in motifs]
    return LearnedMotifs(named, table, filters, matches)
