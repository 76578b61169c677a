"""Variant-effect figures: the distribution of effects with the top variants, and mutation
maps around the top variants."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cislearn.encode import one_hot
from cislearn.errors import InputError
from cislearn.interpret.ism import saturation_mutagenesis
from cislearn.report.maps import plot_mutation_map
from cislearn.report.style import (
    DOUBLE,
    GREY,
    PALETTE,
    figure_style,
    new_figure,
    plain_text,
    save_figure,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plot_variant_effects", "write_variant_maps"]


def plot_variant_effects(
    effects: np.ndarray,
    top: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    effect: str,
    label: str = "id",
    n_total: int | None = None,
    title: str | None = None,
) -> Path:
    """Two panels: histogram of the variant effects, and the top variants as bars.

    Parameters
    ----------
    effects : ndarray of shape (n,)
        Effects of the scored variants (or a uniform sample of them); NaN are ignored.
    top : DataFrame
        The variants to list, largest |effect| first; columns ``label`` and ``effect``.
    path : path
        PNG (or any matplotlib format by suffix) to write atomically.
    effect : str
        Name of the effect column (axis label).
    n_total : int, optional
        Number of scored variants, shown in the title when ``effects`` is a sample.

    Returns
    -------
    Path
    """
    values = np.asarray(effects, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    if effect not in top.columns or label not in top.columns:
        raise InputError(f"plot_variant_effects: top needs columns '{label}' and '{effect}'")
    with figure_style():
        fig, (ax1, ax2) = new_figure(DOUBLE, ncols=2)
        if values.size:
            lim = float(np.max(np.abs(values))) or 1.0
            ax1.hist(values, bins=60, range=(-lim, lim), color=PALETTE[0], alpha=0.85)
            ax1.set_yscale("log")
            ax1.axvline(0.0, color=GREY, lw=1.0)
        else:
            ax1.text(0.5, 0.5, "no scored variants", ha="center", va="center")
        n = n_total if n_total is not None else values.size
        ax1.set_title(f"Effect of {n:,} variants")
        ax1.set_xlabel(plain_text(effect))
        ax1.set_ylabel("variants (log scale)")
        shown = top.head(20).iloc[::-1]
        vals = shown[effect].to_numpy(dtype=np.float64)
        colours = [PALETTE[1] if v < 0 else PALETTE[0] for v in vals]
        ax2.barh(np.arange(len(shown)), vals, color=colours)
        ax2.set_yticks(np.arange(len(shown)))
        ax2.set_yticklabels([plain_text(str(s))[:40] for s in shown[label]], fontsize=7.5)
        ax2.axvline(0.0, color=GREY, lw=1.0)
        ax2.set_xlabel(plain_text(effect))
        ax2.set_title(f"Top {len(shown)} variants by |effect|")
        if title:
            fig.suptitle(plain_text(title))
        return save_figure(fig, path)


def write_variant_maps(
    model: Any,
    windows: Sequence[str],
    names: Sequence[str],
    out_dir: str | os.PathLike[str],
    *,
    titles: Sequence[str] | None = None,
    output: int = 0,
    zoom: int = 20,
    n_value: float = 0.25,
    rc_average: bool = False,
) -> list[Path]:
    """Mutation maps (every base at every position, Δ logit) of windows centred on variants.

    Each figure is the whole window above a zoomed ``±zoom`` bp panel around the variant
    (:func:`cislearn.report.maps.plot_mutation_map`); the maps come from the fast exact
    :func:`cislearn.interpret.ism.saturation_mutagenesis`.

    Parameters
    ----------
    model : nn.Module
        Raw-output model (a Predictor's ``.model``).
    windows : sequence of str
        Reference windows at the model's input length, each centred on its variant.
    names : sequence of str
        File-name stems, one per window.
    out_dir : path
        Folder for ``<name>.png``.
    titles : sequence of str, optional
        Figure titles (default: the names).
    output : int
        Model output to map.

    Returns
    -------
    list of Path
        The files written, in input order.
    """
    if len(names) != len(windows):
        raise InputError(f"write_variant_maps: {len(windows)} windows but {len(names)} names")
    out = Path(out_dir)
    paths: list[Path] = []
    if not windows:
        return paths
    x = one_hot(list(windows), n_value=n_value)
    maps = saturation_mutagenesis(model, x, rc_average=rc_average)
    delta = maps.logits[..., output] - maps.ref_logits[:, None, None, output]
    for i, name in enumerate(names):
        stem = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)[:80]
        title = titles[i] if titles is not None else name
        centre = len(windows[i]) // 2  # the variant
        around = (max(0, centre - zoom), min(len(windows[i]) - 1, centre + zoom))
        paths.append(
            plot_mutation_map(
                delta[i],
                windows[i],
                out / f"{stem}.png",
                title=plain_text(title),
                zoom=around if zoom > 0 else 0,
            )
        )
    return paths
