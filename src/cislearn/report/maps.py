"""Mutation-map figures (4 × L heatmaps, blue–white–red, reference base marked) and TSV rows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cislearn.errors import InputError
from cislearn.report.style import figure_style, new_figure, save_figure

__all__ = ["zoom_window", "plot_mutation_map", "mutation_map_table"]

BASES = "ACGT"


def _panel(
    ax: object, values: np.ndarray, seq: str, start: int, vmax: float, *, label_every: int
) -> object:
    end = start + values.shape[1]
    im = ax.imshow(
        values,
        aspect="auto",
        cmap="bwr",
        vmin=-vmax,
        vmax=vmax,
        interpolation="nearest",
        extent=(start - 0.5, end - 0.5, 3.5, -0.5),
    )
    for i in range(start, end):  # the reference base: a black dot in its cell
        b = BASES.find(seq[i].upper()) if i < len(seq) else -1
        if b >= 0:
            ax.plot(i, b, marker="o", ms=2.2 if label_every > 1 else 3.5, color="black", lw=0)
    ax.set_yticks(range(4), list(BASES))
    ticks = list(range(start, end, label_every))
    ax.set_xticks(ticks, [str(t) for t in ticks], fontsize=7)
    if label_every == 1:  # the zoomed panel: reference letters under the positions
        ax.set_xticks(
            range(start, end),
            [f"{seq[i]}\n{i}" if i % 5 == 0 else seq[i] for i in range(start, end)],
            fontsize=7,
        )
    return im


def zoom_window(delta: np.ndarray, zoom: int | tuple[int, int]) -> tuple[int, int]:
    """The zoomed panel ``[lo, hi)`` of a (4, L) map: ``2 * zoom + 1`` positions around the
    strongest effects (the window with the largest sum of per-position max |effect|; of tied
    windows the middle one, so that the effects sit in the middle), or the given
    ``(first, last)`` positions (0-based, inclusive).

    Examples
    --------
    >>> d = np.zeros((4, 100)); d[1, 80] = -3.0
    >>> zoom_window(d, 5), zoom_window(d, (10, 19))
    ((75, 86), (10, 20))
    """
    length = delta.shape[1]
    if isinstance(zoom, tuple):
        first, last = zoom
        if not 0 <= first <= last < length:
            raise InputError(
                f"zoom: positions {first}-{last} are not within the sequence (0-{length - 1})"
            )
        return first, last + 1
    if zoom <= 0:
        return 0, 0
    width = min(2 * zoom + 1, length)
    strength = np.nan_to_num(np.abs(delta)).max(axis=0)
    sums = np.convolve(strength, np.ones(width), mode="valid")  # window starting at each i
    if not sums.max() > 0:  # no effect anywhere: the centre
        lo = max(0, min(length - width, length // 2 - width // 2))
        return lo, lo + width
    starts = np.flatnonzero(sums >= sums.max() * (1 - 1e-9))
    lo = int(starts[len(starts) // 2])  # the middle of the tied windows centres the effects
    return lo, lo + width


def plot_mutation_map(
    delta: np.ndarray,
    sequence: str,
    path: str | os.PathLike[str],
    *,
    title: str = "",
    zoom: int | tuple[int, int] = 20,
    label: str = "Δ logit",
) -> Path:
    """A mutation map: the full 4 × L heatmap above a zoomed panel on its strongest effects.

    Parameters
    ----------
    delta : ndarray of shape (4, L)
        Effect of each base at each position (0 at the reference base).
    sequence : str
        The reference sequence (its base is marked with a dot in each column).
    path : path
        Image file.
    title : str
    zoom : int or (int, int)
        Half-width of the zoomed panel (0: none), centred where the strongest effects are
        (:func:`zoom_window`); or the panel's first and last position (0-based, inclusive).
    label : str
        Colour-bar label.
    """
    d = np.asarray(delta, dtype=np.float64)
    if d.ndim != 2 or d.shape[0] != 4 or d.shape[1] != len(sequence):
        raise InputError(
            f"mutation map: expected delta of shape (4, {len(sequence)}); got {d.shape}"
        )
    length = d.shape[1]
    vmax = float(np.nanmax(np.abs(d))) or 1.0
    lo, hi = zoom_window(d, zoom)
    panels = 2 if hi > lo and hi - lo < length else 1
    with figure_style():
        fig, axes = new_figure(
            (min(max(6.0, 0.05 * length), 18.0), 2.0 + 1.8 * panels),
            nrows=panels,
            ncols=1,
            squeeze=False,
        )
        step = max(1, (length // 20 // 5) * 5) if length > 40 else 1
        im = _panel(
            axes[0][0], d, sequence, 0, vmax, label_every=max(step, 2 if length > 40 else 1)
        )
        axes[0][0].set_title(title, fontsize=9)
        if panels == 2:
            _panel(axes[1][0], d[:, lo:hi], sequence, lo, vmax, label_every=1)
            how = "chosen" if isinstance(zoom, tuple) else "strongest effects"
            axes[1][0].set_title(f"positions {lo}-{hi - 1} ({how})", fontsize=8)
            axes[0][0].axvspan(lo - 0.5, hi - 0.5, fill=False, ec="0.3", lw=0.8)
        fig.colorbar(im, ax=[a[0] for a in axes], label=label, shrink=0.8)
        return save_figure(fig, path)


def mutation_map_table(
    ids: list[str],
    sequences: list[str],
    logits: np.ndarray,
    delta_logit: np.ndarray,
    prob: np.ndarray,
    delta_prob: np.ndarray,
    delta_score: np.ndarray,
    *,
    output: int = 0,
) -> pd.DataFrame:
    """Long table of every substitution (reference bases left out) for one output.

    Parameters
    ----------
    ids, sequences : list of str (n)
    logits, delta_logit, prob, delta_prob, delta_score : ndarray of shape (n, 4, L, t)
    output : int
        Output column.

    Returns
    -------
    DataFrame
        ``id``, ``pos`` (0-based), ``ref``, ``alt``, ``logit``, ``delta_logit``, ``prob``,
        ``delta_prob``, ``delta_score``; positions in order, alternatives A, C, G, T.
    """
    n, _, length, _ = logits.shape
    seq_arr = np.array([list(s.upper()) for s in sequences]) if n else np.empty((0, length), "<U1")
    ii, bb, pp = np.meshgrid(np.arange(n), np.arange(4), np.arange(length), indexing="ij")
    ii, bb, pp = (a.transpose(0, 2, 1).ravel() for a in (ii, bb, pp))  # id, pos, alt order
    ref = seq_arr[ii, pp]
    alt = np.array(list(BASES))[bb]
    keep = ref != alt
    frame = pd.DataFrame(
        {
            "id": np.asarray(ids, dtype=object)[ii],
            "pos": pp,
            "ref": ref,
            "alt": alt,
            "logit": logits[ii, bb, pp, output],
            "delta_logit": delta_logit[ii, bb, pp, output],
            "prob": prob[ii, bb, pp, output],
            "delta_prob": delta_prob[ii, bb, pp, output],
            "delta_score": delta_score[ii, bb, pp, output],
        }
    )
    return frame[keep].reset_index(drop=True)
