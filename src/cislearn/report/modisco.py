"""Files of attribution motifs: pattern tables, MEME/JASPAR files, CWM and PFM logos, hits and
the HTML page; and the attribution-audit figure."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cislearn.io.atomic import atomic_write
from cislearn.io.motifs import write_jaspar, write_meme
from cislearn.report.logos import BASES, data_uri, draw_logo, plot_motif_logo
from cislearn.report.style import figure_style, new_figure, save_figure
from cislearn.types import Progress, no_progress

if TYPE_CHECKING:
    from cislearn.interpret.audit import AttributionAudit
    from cislearn.interpret.modisco import AttributionMotifs

__all__ = ["plot_cwm_logo", "plot_audit", "write_attribution_motifs", "write_table"]

_NUMERIC = ("n_seqlets", "width", "cwm_sum", "match_p", "match_q", "n_hits", "seq_frac")
_COLUMNS = [
    ("motif", "pattern"),
    ("n_seqlets", "seqlets"),
    ("name", "name (q < threshold)"),
    ("match_name", "best JASPAR match"),
    ("match_id", "matrix"),
    ("match_p", "p"),
    ("match_q", "q"),
    ("consensus", "consensus"),
    ("n_hits", "hits"),
    ("seq_frac", "seq. with hit"),
]


def write_table(path: str | os.PathLike[str], frame: pd.DataFrame) -> Path:
    """Write a DataFrame as TSV atomically (6 significant digits)."""
    with atomic_write(path) as fh:
        frame.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    return Path(path)


def plot_cwm_logo(cwm: np.ndarray, path: str | os.PathLike[str], *, title: str = "") -> Path:
    """Logo of a contribution weight matrix (4, w): letter height = mean contribution, negative
    below the axis."""
    frame = pd.DataFrame(np.asarray(cwm, dtype=float).T, columns=BASES)
    with figure_style():
        fig, ax = new_figure((max(3.0, 0.35 * len(frame) + 1.0), 2.0))
        draw_logo(ax, frame)
        ax.axhline(0, color="0.6", lw=0.5)
        ax.set_ylabel("contribution")
        ax.set_xticks(range(len(frame)), [str(i + 1) for i in range(len(frame))], fontsize=7)
        ax.set_title(title, fontsize=9)
        return save_figure(fig, path)


def plot_audit(audit: AttributionAudit, path: str | os.PathLike[str]) -> Path:
    """Two panels: per-sequence correlation of each method with exact ISM, and convergence
    deltas (fraction of the output difference, log scale)."""
    methods = list(audit.correlations)
    with figure_style():
        fig, (ax1, ax2) = new_figure((7.5, 3.0), ncols=2)
        data = [np.asarray(audit.correlations[m], float) for m in methods]
        ax1.boxplot([d[np.isfinite(d)] for d in data], showfliers=True)
        ax1.set_xticks(range(1, len(methods) + 1), methods, fontsize=7, rotation=15)
        ax1.axhline(0.7, color="0.5", ls="--", lw=0.8)
        ax1.set_ylabel("Pearson r with exact ISM")
        ax1.set_ylim(-1.05, 1.05)
        ax1.set_title("agreement with ISM (per sequence)", fontsize=9)
        with_delta = [m for m in methods if np.isfinite(audit.deltas[m]).any()]
        if with_delta:
            deltas = [
                np.clip(audit.deltas[m][np.isfinite(audit.deltas[m])], 1e-6, None)
                for m in with_delta
            ]
            ax2.boxplot(deltas, showfliers=True)
            ax2.set_xticks(range(1, len(with_delta) + 1), with_delta, fontsize=7, rotation=15)
            ax2.set_yscale("log")
            ax2.axhline(0.05, color="0.5", ls="--", lw=0.8)
        else:
            ax2.text(
                0.5,
                0.5,
                "no convergence deltas\n(exact methods only)",
                ha="center",
                va="center",
                transform=ax2.transAxes,
            )
        ax2.set_ylabel("|delta| / |output difference|")
        ax2.set_title("convergence deltas", fontsize=9)
        fig.suptitle(f"attribution audit: {audit.verdict.upper()}", fontsize=10)
        return save_figure(fig, path)


def write_attribution_motifs(
    out: str | os.PathLike[str],
    found: AttributionMotifs,
    *,
    method: str,
    notes: list[str] | None = None,
    q_threshold: float = 0.05,
    hit_threshold: float = 1e-4,
    progress: Progress = no_progress,
) -> Path:
    """Write attribution motifs into the folder ``out``; return ``out``.

    Files: ``patterns.tsv``, ``matches.tsv``, ``hits.tsv``, ``seqlets.tsv``, ``motifs.meme``,
    ``motifs.jaspar`` (PFMs), ``cwms.npz`` (CWM and hypothetical CWM per pattern),
    ``logos/<id>.png`` (PFM), ``logos/<id>_cwm.png`` and ``motifs.html``.
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    write_table(folder / "patterns.tsv", found.table)
    write_table(folder / "matches.tsv", found.matches)
    write_table(folder / "hits.tsv", found.hits)
    seqlets = [p.seqlets.assign(pattern=p.id) for p in found.patterns]
    write_table(
        folder / "seqlets.tsv",
        pd.concat(seqlets, ignore_index=True)
        if seqlets
        else pd.DataFrame(columns=["seq_index", "start", "end", "strand", "pattern"]),
    )
    write_meme(folder / "motifs.meme", found.motifs)
    write_jaspar(folder / "motifs.jaspar", found.motifs)
    arrays = {f"{p.id}_cwm": p.cwm for p in found.patterns}
    arrays.update({f"{p.id}_hypothetical_cwm": p.hypothetical_cwm for p in found.patterns})
    with atomic_write(folder / "cwms.npz", mode="wb") as fh:
        np.savez_compressed(fh, **arrays)
    rows = []
    records = found.table.to_dict("records")
    for k, (p, rec) in enumerate(zip(found.patterns, records, strict=True)):
        progress("pattern logos", k, len(records))
        match = f"{rec['name']} (q={rec['match_q']:.2g})" if rec["name"] else "no match"
        pfm = plot_motif_logo(
            found.motifs[k], folder / "logos" / f"{p.id}.png", title=f"{p.id}: {match}"
        )
        cwm = plot_cwm_logo(
            p.cwm, folder / "logos" / f"{p.id}_cwm.png", title=f"{p.id} ({p.n_seqlets} seqlets)"
        )
        rows.append({**rec, "logo": data_uri(pfm), "cwm_logo": data_uri(cwm)})
    progress("pattern logos", len(records), len(records))
    from cislearn.report.html import template_environment

    html = (
        template_environment()
        .get_template("modisco.html.j2")
        .render(
            title="cislearn: motifs from attributions (TF-MoDISco)",
            rows=rows,
            columns=[(k, v) for k, v in _COLUMNS if k in found.table.columns],
            numeric=_NUMERIC,
            method=method,
            notes=notes or [],
            q_threshold=q_threshold,
            hit_threshold=f"{hit_threshold:g}",
        )
    )
    with atomic_write(folder / "motifs.html") as fh:
        fh.write(html)
    return folder
