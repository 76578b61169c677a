"""Motifs from attributions: TF-MoDISco patterns (modisco-lite), their JASPAR matches and their
hits back on the sequences.

:func:`discover_patterns` runs modisco-lite's ``TFMoDISco`` on one-hot sequences and their
hypothetical contributions and returns each pattern's contribution weight matrix (CWM),
position frequency matrix (PFM) and seqlets, trimmed to the columns that carry contribution.
:func:`attribution_motifs` adds Tomtom matches against JASPAR (a name only when q < 0.05) and
FIMO hits of each pattern with the contribution they cover. No file IO.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cislearn.errors import InputError
from cislearn.interpret.captured import captured_warnings
from cislearn.interpret.compare import match_motifs
from cislearn.io.motifs import Motif
from cislearn.types import Progress, no_progress

__all__ = [
    "Pattern",
    "AttributionMotifs",
    "discover_patterns",
    "pattern_hits",
    "attribution_motifs",
    "hits_in_genome",
]

HIT_COLUMNS = [
    "seq_index",
    "seq_id",
    "pattern",
    "name",
    "start",
    "end",
    "strand",
    "p_value",
    "score",
    "contribution",
    "contribution_frac",
]


class Pattern(NamedTuple):
    """One TF-MoDISco pattern, trimmed to the columns that carry its contribution."""

    id: str
    """``pos_<k>`` (sequences that raise the output) or ``neg_<k>`` (that lower it)."""
    cwm: np.ndarray
    """float64 (4, w): mean contribution of each base over the seqlets (A, C, G, T)."""
    hypothetical_cwm: np.ndarray
    """float64 (4, w): mean hypothetical contribution."""
    pfm: np.ndarray
    """float64 (4, w): base frequencies over the seqlets (columns sum to 1)."""
    n_seqlets: int
    """Seqlets supporting the pattern."""
    seqlets: pd.DataFrame
    """``seq_index``, ``start``, ``end`` (0-based, half-open, of the trimmed pattern) and
    ``strand`` of each seqlet."""

    @property
    def motif(self) -> Motif:
        """The pattern as a :class:`Motif` (counts = PFM × seqlets)."""
        return Motif(self.id, "", self.pfm * max(self.n_seqlets, 1))


def _trim(cwm: np.ndarray, fraction: float) -> tuple[int, int]:
    score = np.abs(cwm).sum(axis=1)
    keep = np.flatnonzero(score >= fraction * score.max()) if score.max() > 0 else np.array([])
    if keep.size == 0:
        return 0, len(score)
    return int(keep[0]), int(keep[-1]) + 1


def _pattern(pid: str, p: Any, trim_fraction: float) -> Pattern:
    cwm = np.asarray(p.contrib_scores, dtype=np.float64)  # (L_p, 4)
    a, b = _trim(cwm, trim_fraction)
    pfm = np.asarray(p.sequence, dtype=np.float64)[a:b].T + 1e-6
    rows = []
    for s in p.seqlets:
        if s.is_revcomp:  # the pattern's column k lies at end - 1 - k on the forward strand
            rows.append((int(s.example_idx), int(s.end) - b, int(s.end) - a, "-"))
        else:
            rows.append((int(s.example_idx), int(s.start) + a, int(s.start) + b, "+"))
    seqlets = pd.DataFrame(rows, columns=["seq_index", "start", "end", "strand"])
    return Pattern(
        pid,
        cwm[a:b].T.copy(),
        np.asarray(p.hypothetical_contribs, dtype=np.float64)[a:b].T.copy(),
        pfm / pfm.sum(axis=0, keepdims=True),
        len(p.seqlets),
        seqlets,
    )


def discover_patterns(
    x: np.ndarray,
    hypothetical: np.ndarray,
    *,
    max_seqlets: int = 2000,
    window: int = 21,
    flank: int = 10,
    min_cluster_size: int = 20,
    trim_fraction: float = 0.3,
    leiden_runs: int = 10,
    progress: Progress = no_progress,
) -> list[Pattern]:
    """TF-MoDISco patterns (modisco-lite) of one-hot sequences and their hypothetical
    contributions, positive patterns first, each metacluster by seqlet count.

    Parameters
    ----------
    x : ndarray of shape (n, 4, L)
        One-hot sequences.
    hypothetical : ndarray of shape (n, 4, L)
        Hypothetical contributions, e.g. from
        :func:`~cislearn.interpret.contributions.hypothetical_contributions`.
    max_seqlets : int
        Seqlets per metacluster (modisco's ``max_seqlets_per_metacluster``).
    window, flank : int
        Seqlet core width and the flank added on each side.
    min_cluster_size : int
        Patterns with fewer seqlets are dropped (``final_min_cluster_size``).
    trim_fraction : float
        Columns kept: from the first to the last whose summed |CWM| is at least this fraction
        of the pattern's maximum.
    leiden_runs : int
        Leiden clusterings (seeds) per clustering step; the best is kept. modisco-lite's
        default of 50 spends most of a run there; 10 finds the same CTCF pattern on the
        shared data at a fifth of the time.
    progress : Progress
        ``progress("motif discovery", done, total)`` (0 then 1).

    Returns
    -------
    list of Pattern
        Empty when modisco finds too few seqlets (then there is nothing to cluster).
    """
    xs = np.asarray(x, dtype=np.float32)
    hs = np.asarray(hypothetical, dtype=np.float32)
    if xs.ndim != 3 or xs.shape[1] != 4 or hs.shape != xs.shape:
        raise InputError(
            "discover_patterns: expected x and hypothetical of the same shape (n, 4, L); "
            f"got {xs.shape} and {hs.shape}"
        )
    if leiden_runs < 1 or max_seqlets < 1:
        raise InputError(
            f"discover_patterns: leiden_runs and max_seqlets must be >= 1; got {leiden_runs}, "
            f"{max_seqlets}"
        )
    if not np.isfinite(hs).all():
        raise InputError("discover_patterns: hypothetical contributions contain NaN or inf")
    if xs.shape[2] < window + 2 * flank:
        raise InputError(
            f"discover_patterns: sequences of {xs.shape[2]} bp are shorter than a seqlet "
            f"({window} + 2 x {flank} bp); lower window/flank"
        )
    from modiscolite.tfmodisco import TFMoDISco

    progress("motif discovery", 0, 1)
    with captured_warnings("TF-MoDISco"):
        pos, neg = TFMoDISco(
            one_hot=np.ascontiguousarray(xs.transpose(0, 2, 1)),
            hypothetical_contribs=np.ascontiguousarray(hs.transpose(0, 2, 1)),
            sliding_window_size=window,
            flank_size=flank,
            max_seqlets_per_metacluster=max_seqlets,
            final_min_cluster_size=min_cluster_size,
            n_leiden_runs=leiden_runs,
        )
    progress("motif discovery", 1, 1)
    out: list[Pattern] = []
    for sign, found in (("pos", pos), ("neg", neg)):
        ranked = sorted(found or [], key=lambda p: -len(p.seqlets))
        out.extend(_pattern(f"{sign}_{k}", p, trim_fraction) for k, p in enumerate(ranked))
    return out


def pattern_hits(
    patterns: Sequence[Pattern],
    x: np.ndarray,
    contributions: np.ndarray,
    *,
    ids: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    threshold: float = 1e-4,
) -> pd.DataFrame:
    """Hits of each pattern on the sequences: FIMO (memelite) with the pattern's PFM, and the
    share of the sequence's positive contribution each hit covers.

    Parameters
    ----------
    patterns : sequence of Pattern
    x : ndarray of shape (n, 4, L)
    contributions : ndarray of shape (n, L)
        Contribution of the observed base at each position
        (:func:`~cislearn.interpret.contributions.actual_contributions`).
    ids : sequence of str, optional
        Sequence ids (default ``seq<i>``).
    names : sequence of str, optional
        A name per pattern (e.g. its JASPAR match; default empty).
    threshold : float
        FIMO p-value threshold.

    Returns
    -------
    DataFrame
        ``seq_index``, ``seq_id``, ``pattern``, ``name``, ``start``, ``end`` (0-based,
        half-open), ``strand``, ``p_value``, ``score`` (log-odds), ``contribution`` (sum over
        the hit) and ``contribution_frac`` (of the sequence's summed positive contribution).
    """
    from memelite import fimo

    xs = np.ascontiguousarray(np.asarray(x, dtype=np.float32)[:, :4])
    contrib = np.asarray(contributions, dtype=np.float64)
    if contrib.shape != (xs.shape[0], xs.shape[2]):
        raise InputError(
            f"pattern_hits: contributions must have shape {(xs.shape[0], xs.shape[2])}; "
            f"got {contrib.shape}"
        )
    ids = list(ids) if ids is not None else [f"seq{i}" for i in range(len(xs))]
    names = list(names) if names is not None else [""] * len(patterns)
    if not patterns or len(xs) == 0:
        return pd.DataFrame(columns=HIT_COLUMNS)
    found = fimo({str(k): p.pfm for k, p in enumerate(patterns)}, xs, threshold=threshold)
    frames = [df for df in found if len(df)]
    if not frames:
        return pd.DataFrame(columns=HIT_COLUMNS)
    df = pd.concat(frames, ignore_index=True)
    k = df["motif_idx"].to_numpy(int)
    seq = df["sequence_name"].to_numpy(int)
    start, end = df["start"].to_numpy(int), df["end"].to_numpy(int)
    cums = np.concatenate([np.zeros((len(contrib), 1)), np.cumsum(contrib, axis=1)], axis=1)
    covered = cums[seq, end] - cums[seq, start]
    positive = np.clip(contrib, 0, None).sum(axis=1)[seq]
    out = pd.DataFrame(
        {
            "seq_index": seq,
            "seq_id": [ids[i] for i in seq],
            "pattern": [patterns[j].id for j in k],
            "name": [names[j] for j in k],
            "start": start,
            "end": end,
            "strand": df["strand"].to_numpy(),
            "p_value": df["p-value"].to_numpy(float),
            "score": df["score"].to_numpy(float),
            "contribution": covered,
            "contribution_frac": np.divide(
                covered, positive, out=np.zeros_like(covered), where=positive > 0
            ),
        }
    )
    return out.sort_values(["seq_index", "start", "pattern"], kind="stable").reset_index(drop=True)


class AttributionMotifs(NamedTuple):
    """Everything :func:`attribution_motifs` finds."""

    patterns: list[Pattern]
    """Positive patterns first, each metacluster by seqlet count."""
    motifs: list[Motif]
    """The patterns as motifs (PFM × seqlets), named after their JASPAR match when q < 0.05."""
    table: pd.DataFrame
    """One row per pattern: ``motif``, ``n_seqlets``, ``width``, ``consensus``,
    ``cwm_sum`` (total contribution of the CWM), best match (``match_id``, ``match_name``,
    ``match_p``, ``match_q``), ``name`` (the match when q < 0.05, else empty), ``n_hits``
    and ``seq_frac`` (sequences with a hit)."""
    matches: pd.DataFrame
    """The ``n_best`` Tomtom matches per pattern."""
    hits: pd.DataFrame
    """:func:`pattern_hits` of every pattern."""


def attribution_motifs(
    x: np.ndarray,
    hypothetical: np.ndarray,
    *,
    ids: Sequence[str] | None = None,
    targets: Sequence[Motif] | None = None,
    q_threshold: float = 0.05,
    n_best: int = 3,
    hit_threshold: float = 1e-4,
    max_seqlets: int = 2000,
    window: int = 21,
    flank: int = 10,
    leiden_runs: int = 10,
    progress: Progress = no_progress,
) -> AttributionMotifs:
    """Hypothetical contributions → TF-MoDISco patterns → Tomtom vs JASPAR → hits.

    Parameters
    ----------
    x, hypothetical : ndarray of shape (n, 4, L)
        One-hot sequences and their hypothetical contributions.
    ids : sequence of str, optional
        Sequence ids for the hit table.
    targets : sequence of Motif, optional
        Known motifs (default: JASPAR CORE vertebrates, newest bundled release).
    q_threshold : float
        A pattern is named after its best match only when the Tomtom q-value is below this.
    n_best, hit_threshold, max_seqlets, window, flank, leiden_runs : see :func:`match_motifs`,
        :func:`pattern_hits`, :func:`discover_patterns`.
    progress : Progress

    Returns
    -------
    AttributionMotifs

    Examples
    --------
    >>> c = hypothetical_contributions(model, x)  # doctest: +SKIP
    >>> found = attribution_motifs(x, c.hypothetical)  # doctest: +SKIP
    >>> found.table[["motif", "n_seqlets", "name", "match_q"]]  # doctest: +SKIP
    """
    patterns = discover_patterns(
        x,
        hypothetical,
        max_seqlets=max_seqlets,
        window=window,
        flank=flank,
        leiden_runs=leiden_runs,
        progress=progress,
    )
    motifs = [p.motif for p in patterns]
    matches = match_motifs(motifs, targets, n_best=n_best)
    best = matches[matches["rank"] == 1].set_index("motif")
    rows, named = [], []
    for p, m in zip(patterns, motifs, strict=True):
        b = best.loc[p.id] if p.id in best.index else None
        q = float(b["q_value"]) if b is not None else np.nan
        name = str(b["target_name"]) if b is not None and q < q_threshold else ""
        named.append(Motif(m.id, name, m.counts))
        rows.append(
            {
                "motif": p.id,
                "n_seqlets": p.n_seqlets,
                "width": p.pfm.shape[1],
                "consensus": m.consensus,
                "cwm_sum": float(p.cwm.sum()),
                "match_id": b["target_id"] if b is not None else "",
                "match_name": b["target_name"] if b is not None else "",
                "match_p": float(b["p_value"]) if b is not None else np.nan,
                "match_q": q,
                "name": name,
            }
        )
    contrib = (np.asarray(hypothetical)[:, :4] * np.asarray(x)[:, :4]).sum(axis=1)
    hits = pattern_hits(
        patterns, x, contrib, ids=ids, names=[m.name for m in named], threshold=hit_threshold
    )
    n = max(len(x), 1)
    table = pd.DataFrame(
        rows,
        columns=[
            "motif",
            "n_seqlets",
            "width",
            "consensus",
            "cwm_sum",
            "match_id",
            "match_name",
            "match_p",
            "match_q",
            "name",
        ],
    )
    table["n_hits"] = [int((hits["pattern"] == p.id).sum()) for p in patterns]
    table["seq_frac"] = [
        hits.loc[hits["pattern"] == p.id, "seq_index"].nunique() / n for p in patterns
    ]
    return AttributionMotifs(patterns, named, table, matches, hits)


def hits_in_genome(hits: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Hits in genome coordinates: BED6 columns from each sequence's region.

    Parameters
    ----------
    hits : DataFrame
        :func:`pattern_hits` output (``seq_index``, ``start``, ``end``, ``strand``...).
    regions : DataFrame
        One row per sequence, in sequence order: ``chrom``, ``start`` (0-based) and optionally
        ``strand`` (``-`` = the sequence is the reverse complement of the genome).

    Returns
    -------
    DataFrame
        ``chrom``, ``start``, ``end``, ``name`` (pattern:name), ``score`` (-log10 p),
        ``strand``.
    """
    if len(hits) and int(hits["seq_index"].max()) >= len(regions):
        raise InputError(
            f"regions: {len(regions)} rows, but hits refer to sequence "
            f"{int(hits['seq_index'].max()) + 1}; give one region per sequence"
        )
    reg = regions.reset_index(drop=True)
    i = hits["seq_index"].to_numpy(int)
    chrom = reg["chrom"].to_numpy()[i]
    r_start = reg["start"].to_numpy(np.int64)[i]
    r_end = reg["end"].to_numpy(np.int64)[i] if "end" in reg else None
    minus = (
        reg["strand"].astype(str).to_numpy()[i] == "-"
        if "strand" in reg
        else np.zeros(len(i), bool)
    )
    start, end = hits["start"].to_numpy(np.int64), hits["end"].to_numpy(np.int64)
    if r_end is None:
        r_end = r_start
    g_start = np.where(minus, r_end - end, r_start + start)
    g_end = np.where(minus, r_end - start, r_start + end)
    flip = {"+": "-", "-": "+"}
    strand = [flip[s] if m else s for s, m in zip(hits["strand"], minus, strict=True)]
    name = [f"{p}:{n}" if n else p for p, n in zip(hits["pattern"], hits["name"], strict=True)]
    return pd.DataFrame(
        {
            "chrom": chrom,
            "start": g_start,
            "end": g_end,
            "name": name,
            "score": -np.log10(np.clip(hits["p_value"].to_numpy(float), 1e-300, 1)),
            "strand": strand,
        }
    )
