"""The shared look of every report figure: palette, sizes, matplotlib style, the atomic PNG
save and text escaping (private to :mod:`cislearn.report`)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "PALETTE",
    "GREY",
    "DPI",
    "MAX_LEGEND",
    "SINGLE",
    "DOUBLE",
    "new_figure",
    "figure_style",
    "save_figure",
    "plain_text",
    "series_colour",
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


def new_figure(
    figsize: tuple[float, float], *, nrows: int = 1, ncols: int = 1, **kw: Any
) -> tuple[Figure, Any]:
    # The object-oriented Figure API with an explicit Agg canvas: no pyplot, so no global
    # state, no backend switch in a user's notebook, and no figure leaks in a long-lived process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kw)


def figure_style() -> contextlib.AbstractContextManager:
    import matplotlib

    return matplotlib.rc_context(_RC)


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
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


def plain_text(text: str | None) -> str:
    """User text safe for matplotlib: ``$`` would start mathtext (and can fail to parse), and
    legend labels starting with ``_`` are silently dropped."""
    if not text:
        return ""
    text = str(text).replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def series_colour(i: int) -> str:
    return PALETTE[i % (len(PALETTE) - 1)]
