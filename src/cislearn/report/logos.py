"""Sequence logos (logomaker): motif logos, attribution logos, the learned-motifs page and files."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cislearn.errors import InputError
from cislearn.io.atomic import atomic_write
from cislearn.io.motifs import Motif, write_jaspar, write_meme
from cislearn.report.style import figure_style, new_figure, save_figure
from cislearn.types import Progress, no_progress

if TYPE_CHECKING:
    from cislearn.interpret.compare import LearnedMotifs

__all__ = [
    "plot_motif_logo",
    "plot_attribution_logo",
    "render_motif_page",
    "write_motif_page",
    "write_learned_motifs",
    "draw_logo",
    "data_uri",
]

BASES = list("ACGT")


def draw_logo(ax: Any, frame: pd.DataFrame) -> None:
    """Draw a logo of ``frame`` (positions × A C G T heights) on the axes ``ax``."""
    import logomaker

    logomaker.Logo(frame, ax=ax, color_scheme="classic", show_spines=False)


def plot_motif_logo(
    motif: Motif, path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Information-content logo of a motif (bits; 2 = fully conserved), written to ``path``.

    Parameters
    ----------
    motif : Motif
    path : path
        Image file (``.png``, ``.svg``, ``.pdf``).
    title : str, optional
        Default: the motif's label (``id name``).
    """
    pfm = motif.pfm
    ic = motif.information_content()
    frame = pd.DataFrame((pfm * ic[None, :]).T, columns=BASES)
    with figure_style():
        fig, ax = new_figure((max(3.0, 0.35 * motif.width + 1.0), 2.0))
        draw_logo(ax, frame)
        ax.set_ylim(0, 2)
        ax.set_ylabel("bits")
        ax.set_xticks(range(motif.width), [str(i + 1) for i in range(motif.width)], fontsize=7)
        ax.set_title(title if title is not None else motif.label, fontsize=9)
        return save_figure(fig, path)


def plot_attribution_logo(
    attributions: np.ndarray,
    x: np.ndarray,
    path: str | os.PathLike[str],
    *,
    title: str = "",
    start: int = 0,
    end: int | None = None,
) -> Path:
    """Attribution logo of one sequence: each observed base drawn with height = its attribution
    (negative below the axis).

    Parameters
    ----------
    attributions, x : ndarray of shape (C, L)
        Attributions and the one-hot sequence (C = 4 + tracks; only A, C, G, T are drawn).
    path : path
    title : str
    start, end : int
        Window to draw (0-based, half-open); default the whole sequence.
    """
    a, xs = np.asarray(attributions), np.asarray(x)
    if a.ndim != 2 or a.shape != xs.shape or a.shape[0] < 4:
        raise InputError(
            f"attribution logo: expected attributions and x of the same shape (4+, L); got "
            f"{a.shape} and {xs.shape}"
        )
    end = a.shape[1] if end is None else end
    vals = (a[:4] * xs[:4])[:, start:end].T
    frame = pd.DataFrame(vals, columns=BASES, index=range(start, end))
    with figure_style():
        fig, ax = new_figure((max(4.0, min(0.08 * (end - start), 18.0)), 2.0))
        draw_logo(ax, frame)
        ax.axhline(0, color="0.6", lw=0.5)
        ax.set_xlabel("position (0-based)")
        ax.set_ylabel("attribution")
        ax.set_title(title, fontsize=9)
        return save_figure(fig, path)


def data_uri(path: str | os.PathLike[str]) -> str:
    """An image file as a base64 ``data:`` URI ("" when the file is missing)."""
    p = Path(path)
    if not p.is_file():
        return ""
    mime = {".png": "image/png", ".svg": "image/svg+xml"}.get(p.suffix.lower(), "image/png")
    return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode('ascii')}"


def render_motif_page(
    table: pd.DataFrame,
    logos: Mapping[str, str | os.PathLike[str]],
    *,
    title: str = "cislearn: motifs learned by the first-layer filters",
    notes: list[str] | None = None,
) -> str:
    """HTML page of learned motifs ordered by influence, logos embedded (one self-contained file).

    Parameters
    ----------
    table : DataFrame
        :class:`~cislearn.interpret.compare.LearnedMotifs` ``table`` (ordered by influence).
    logos : mapping of motif id → logo image path
    """
    from cislearn.report.html import template_environment

    rows = []
    for rec in table.to_dict("records"):
        rows.append({**rec, "logo": data_uri(logos[rec["motif"]]) if rec["motif"] in logos else ""})
    columns = [
        ("motif", "filter"),
        ("name", "name"),
        ("influence", "influence"),
        ("influence_sd", "± SD"),
        ("frac_down", "pos. lowered"),
        ("match_name", "best JASPAR hit"),
        ("match_id", "matrix"),
        ("match_p", "p"),
        ("match_q", "q"),
        ("n_sites", "sites"),
        ("ic", "bits"),
        ("pos_frac", "pos. with hit"),
        ("neg_frac", "neg. with hit"),
        ("fisher_p", "Fisher p"),
        ("cluster", "cluster"),
    ]
    columns = [(k, label) for k, label in columns if k in table.columns]
    env = template_environment()
    return env.get_template("motifs.html.j2").render(
        title=title, rows=rows, columns=columns, notes=notes or []
    )


def write_motif_page(
    path: str | os.PathLike[str],
    table: pd.DataFrame,
    logos: Mapping[str, str | os.PathLike[str]],
    **kwargs: Any,
) -> Path:
    """Write :func:`render_motif_page` to ``path`` atomically."""
    with atomic_write(path) as fh:
        fh.write(render_motif_page(table, logos, **kwargs))
    return Path(path)


def _match_text(rec: Mapping[str, Any]) -> str:
    """``CTCF (MA0139.2, q=1e-05)``, or ``no match (best hit X MA..., q=0.2)``."""
    if not isinstance(rec.get("match_id"), str):
        return "no match"
    name = rec.get("name", rec["match_name"])
    hit = f"{rec['match_id']}, q={rec['match_q']:.2g}"
    if name == rec["match_name"]:
        return f"{name} ({hit})"
    return f"{name} (best hit {rec['match_name']} {hit})"


def write_learned_motifs(
    out: str | os.PathLike[str],
    found: LearnedMotifs,
    *,
    n_logos: int | None = None,
    notes: Sequence[str] = (),
    held_out_auroc: float | None = None,
    progress: Progress = no_progress,
) -> Path:
    """Write the learned motifs of a model into the folder ``out``; return ``out``.

    Files: ``motifs.tsv``, ``filters.tsv``, ``matches.tsv`` (the tables of ``found``),
    ``motifs.meme``, ``motifs.jaspar``, ``logos/<motif id>.png``, ``motifs.html`` (the
    motifs by influence, logos embedded, ``notes`` on top) and ``motifs.json`` (the model's
    held-out AUROC and the notes, for the web page).

    Parameters
    ----------
    out : path
        Output folder (created if missing).
    found : LearnedMotifs
        What :func:`cislearn.interpret.compare.learned_motifs` returned.
    n_logos : int, optional
        Draw logos for this many motifs only, most influential first (default: all).
    notes : sequence of str
        Cautions shown on the page (``warning: ...`` highlighted).
    held_out_auroc : float, optional
        The model's held-out AUROC, recorded in ``motifs.json``.
    progress : Progress
        Called as ``progress("motif logos", done, total)``.

    Examples
    --------
    >>> write_learned_motifs("motifs", learned_motifs(model, x_pos, x_neg))  # doctest: +SKIP
    """
    if n_logos is not None and n_logos < 0:
        raise InputError(f"n_logos must be >= 0 or None; got {n_logos}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (
        ("motifs", found.table),
        ("filters", found.filters),
        ("matches", found.matches),
    ):
        with atomic_write(folder / f"{name}.tsv") as fh:
            frame.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    write_meme(folder / "motifs.meme", found.motifs)
    write_jaspar(folder / "motifs.jaspar", found.motifs)
    records = found.table.to_dict("records")
    drawn = list(zip(found.motifs, records, strict=True))[:n_logos]
    logos = {}
    for rank, (motif, rec) in enumerate(drawn, start=1):
        progress("motif logos", rank - 1, len(drawn))
        match = _match_text(rec)
        logos[motif.id] = plot_motif_logo(
            motif, folder / "logos" / f"{motif.id}.png", title=f"#{rank} {motif.id}: {match}"
        )
    progress("motif logos", len(drawn), len(drawn))
    write_motif_page(folder / "motifs.html", found.table, logos, notes=list(notes))
    with atomic_write(folder / "motifs.json") as fh:
        json.dump(
            {"held_out_auroc": held_out_auroc, "n_motifs": len(found.motifs), "notes": list(notes)},
            fh,
            indent=2,
        )
    return folder
