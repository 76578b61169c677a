"""Self-contained HTML reports (one run, or a comparison of runs) rendered from Jinja2 templates."""

from __future__ import annotations

import base64
import datetime as _dt
import logging
import math
import os
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cislearn.io.atomic import atomic_write

if TYPE_CHECKING:
    import jinja2
    import pandas as pd

    from cislearn.evaluate import ShortcutResult

__all__ = ["render_run_report", "write_run_report", "render_comparison", "write_comparison"]

log = logging.getLogger(__name__)

#: Metric columns shown first, in this order; any other metric follows alphabetically.
METRIC_ORDER = (
    "n",
    "n_pos",
    "auroc",
    "auprc",
    "auprc_baseline",
    "accuracy",
    "balanced_accuracy",
    "f1",
    "mcc",
    "precision",
    "recall",
    "pearson",
    "spearman",
    "r2",
    "mse",
    "mae",
)
#: Figure names drawn by :mod:`cislearn.report.figures`, with their captions.
CAPTIONS = {
    "roc": "ROC curves on the held-out set (AUROC in the legend).",
    "pr": "Precision–recall curves on the held-out set; dashed: prevalence (a random model).",
    "calibration": "Calibration: observed fraction positive per bin of predicted probability.",
    "history": "Training history: losses and validation metrics per epoch.",
    "regression": "Predicted vs observed values on the held-out set.",
    "importance": "Feature importance of the baseline model: its top 20 features.",
}
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
_SPLIT_KEYS = ("split_counts", "counts", "splits")


# -- environment ----------------------------------------------------------------------------------


def template_environment() -> jinja2.Environment:
    import jinja2

    folder = resources.files("cislearn.report").joinpath("templates")

    def load(name: str) -> str | None:
        item = folder.joinpath(name)
        return item.read_text(encoding="utf-8") if item.is_file() else None

    # Autoescape everywhere: FASTA ids, file names and config values are user text.
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _fmt
    return env


# -- value formatting -----------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 3) -> str:
    """A number as short text: ints with separators, floats with ``digits`` decimals (3
    significant digits below 0.01)."""
    if value is None:
        return "–"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value != 0 and abs(value) < 0.01:  # learning rates, small errors: 0.001, 2.5e-05
            return f"{value:.3g}"
        return f"{value:.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float | np.floating) and math.isnan(value))


def _plain(obj: Any) -> Any:
    """Convert numpy values, paths, tuples and sets into plain YAML/JSON-able objects."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, _dt.date | _dt.datetime):
        return obj.isoformat()
    if hasattr(obj, "model_dump"):  # a pydantic config
        return _plain(obj.model_dump())
    return obj


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested mapping → rows of (dotted key, text value)."""
    rows: list[tuple[str, str]] = []
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            rows += _flatten(value, prefix=f"{name}.")
        elif isinstance(value, list | tuple):
            rows.append((name, ", ".join(_fmt(v) for v in value)))
        else:
            rows.append((name, _fmt(value)))
    return rows


def _find(obj: Any, keys: tuple[str, ...]) -> Any:
    """The first value stored under any of ``keys`` in a nested mapping (breadth first)."""
    queue = [obj]
    while queue:
        item = queue.pop(0)
        if isinstance(item, Mapping):
            for key in keys:
                if key in item and not isinstance(item[key], Mapping):
                    return item[key]
            queue += [v for v in item.values() if isinstance(v, Mapping)]
    return None


# -- building the template context ----------------------------------------------------------------


def _metric_rows(metrics: Mapping[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """Target → metrics dict into (column names, rows of {"name", "cells"}) for the table.

    A flat dict of numbers (a single unnamed target) is shown as one row named ``all``.
    """
    if metrics and not any(isinstance(v, Mapping) for v in metrics.values()):
        metrics = {"all": metrics}
    per_target = {str(k): v for k, v in metrics.items() if isinstance(v, Mapping)}
    names: set[str] = set()
    for values in per_target.values():
        names |= {
            k for k, v in values.items() if not k.endswith("_ci") and not isinstance(v, Mapping)
        }
    columns = [m for m in METRIC_ORDER if m in names] + sorted(names - set(METRIC_ORDER))
    rows = []
    for target, values in per_target.items():
        cells = []
        for col in columns:
            value = values.get(col)
            ci = values.get(f"{col}_ci")
            text = "–" if value is None else _fmt(value, 4)
            ci_text = None
            if ci is not None and len(ci) == 2 and value is not None:
                ci_text = f"[{_fmt(ci[0], 4)}, {_fmt(ci[1], 4)}]"
            cells.append({"value": text, "ci": ci_text})
        rows.append({"name": target, "cells": cells, "macro": target == "macro"})
    return columns, rows


def _headline(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The two or three numbers shown as summary cards (macro row when there is one)."""
    if metrics and not any(isinstance(v, Mapping) for v in metrics.values()):
        row: Mapping[str, Any] = metrics
    else:
        rows = {k: v for k, v in metrics.items() if isinstance(v, Mapping)}
        row = rows.get("macro") or (next(iter(rows.values())) if rows else {})
    cards = []
    for key, label in (
        ("auroc", "AUROC"),
        ("auprc", "AUPRC"),
        ("pearson", "Pearson r"),
        ("spearman", "Spearman ρ"),
    ):
        if row.get(key) is not None:
            ci = row.get(f"{key}_ci")
            text = _fmt(row[key], 3)
            if ci is not None and len(ci) == 2:
                text += f" [{_fmt(ci[0], 3)}, {_fmt(ci[1], 3)}]"
            cards.append((label, text))
    return cards


def _split_table(summary: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{"train": {"0": n, "1": n}, ...}`` (as from ``SequenceDataset.counts()``) → a table."""
    for key in _SPLIT_KEYS:
        counts = summary.get(key)
        if (
            isinstance(counts, Mapping)
            and counts
            and all(isinstance(v, Mapping) for v in counts.values())
        ):
            labels = sorted({str(k) for v in counts.values() for k in v})
            rows = [
                {
                    "split": str(split),
                    "cells": [_fmt(per.get(lab, per.get(_num_key(lab), 0))) for lab in labels],
                    "total": _fmt(sum(int(v) for v in per.values())),
                }
                for split, per in counts.items()
            ]
            return {"key": key, "labels": labels, "rows": rows}
    return None


def _num_key(label: str) -> Any:
    try:
        return int(label)
    except ValueError:
        return label


def _figures(figures: Mapping[str, str | os.PathLike[str]]) -> list[dict[str, str]]:
    """Each figure file read and embedded as a base64 data URI (the report stays one file)."""
    out = []
    for name, path in figures.items():
        path = Path(path)
        mime = _MIME.get(path.suffix.lower())
        if mime is None or not path.is_file():
            log.warning(
                "figure %s (%s) missing or not an image; left out of the report", name, path
            )
            out.append({"name": name, "caption": f"{name}: figure missing", "uri": ""})
            continue
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        stem = name.split("_", 1)[0]
        caption = CAPTIONS.get(name) or CAPTIONS.get(stem) or name
        if name != stem and stem in CAPTIONS:
            caption = f"{name.split('_', 1)[1]}: {caption}"
        out.append({"name": name, "caption": caption, "uri": f"data:{mime};base64,{data}"})
    return out


def _history(history: pd.DataFrame | None) -> dict[str, Any] | None:
    if history is None or len(history) == 0:
        return None
    columns = [str(c) for c in history.columns]
    # whole-number float columns (epoch stored as float, say) are shown as integers
    whole = []
    for col in history.columns:
        values = history[col]
        numeric = values.dtype.kind in "iuf"
        finite = values[np.isfinite(values)] if numeric else values
        whole.append(numeric and bool((finite == np.round(finite)).all()))
    rows = [
        [
            _fmt(int(v) if w and not _missing(v) else v, 4)
            for v, w in zip(record, whole, strict=True)
        ]
        for record in history.itertuples(index=False, name=None)
    ]
    return {"columns": columns, "rows": rows}


def _yaml(config: Mapping[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(_plain(config), sort_keys=False, default_flow_style=False).rstrip()


def _shortcut(shortcut: ShortcutResult | None) -> dict[str, Any] | None:
    if shortcut is None:
        return None
    applicable = getattr(shortcut, "applicable", True)
    if not applicable:
        status = "na"
    elif shortcut.warning:
        status = "warn"
    else:
        status = "ok"
    diff = None
    if shortcut.auroc is not None and shortcut.model_auroc is not None:
        diff = shortcut.model_auroc - shortcut.auroc
    return {
        "status": status,
        "auroc": _fmt(shortcut.auroc, 3) if shortcut.auroc is not None else "–",
        "model_auroc": _fmt(shortcut.model_auroc, 3) if shortcut.model_auroc is not None else "–",
        "diff": f"{diff:+.3f}" if diff is not None else "–",
        "margin": f"{shortcut.margin:.3f}",
        "warning": shortcut.warning,
        "note": getattr(shortcut, "note", "") or "",
    }


# -- public API -----------------------------------------------------------------------------------


def render_run_report(
    *,
    title: str,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    shortcut: ShortcutResult | None,
    history: pd.DataFrame | None,
    figures: Mapping[str, str | os.PathLike[str]],
    data_summary: Mapping[str, Any],
    versions: Mapping[str, Any],
    notes: Sequence[str] = (),
    best_epoch: int | None = None,
) -> str:
    """The HTML text of one run's report: a single self-contained page.

    Images are embedded as base64 data URIs, CSS is inline, there is no script and no external
    link, and every user-provided string is HTML-escaped.

    Parameters
    ----------
    title : str
        Page title, e.g. the run folder name.
    config : mapping
        The resolved configuration (shown as YAML; ``task`` and ``arch`` are read from it when
        ``data_summary`` lacks them).
    metrics : mapping
        ``Evaluation.metrics``: target name (and ``"macro"``) → {metric: value,
        ``"<metric>_ci"``: [lo, hi]}. A flat {metric: value} dict is shown as one row.
    shortcut : ShortcutResult or None
        The composition-only baseline of :func:`cislearn.evaluate.shortcut_check`.
    history : DataFrame or None
        One row per epoch (``history.csv``).
    figures : mapping of name → path
        PNG files, e.g. from :func:`cislearn.report.figures.write_run_figures`; the order is kept.
    data_summary : mapping
        Free key → value facts about the data (nested mappings are flattened to dotted keys). A
        ``split_counts`` entry shaped like ``SequenceDataset.counts()`` is shown as a table.
    versions : mapping
        Provenance: package versions, seeds, input file hashes, command line, date.
    notes : sequence of str
        What the user should know (validation part carved or missing, how training ended);
        notes starting with ``warning:`` are highlighted.
    best_epoch : int, optional
        1-based epoch of the kept weights, marked in the history table.

    Returns
    -------
    str
        The HTML document.
    """
    data = _plain(data_summary)
    cfg = _plain(config)
    split = _split_table(data)
    facts = {k: v for k, v in data.items() if split is None or k != split["key"]}
    task = _find(data, ("task",)) or _find(cfg, ("task",))
    arch = _find(data, ("architecture", "arch")) or _find(cfg, ("architecture", "arch"))
    columns, rows = _metric_rows(_plain(metrics))
    context = {
        "title": title,
        "task": task,
        "arch": arch,
        "cards": _headline(_plain(metrics)),
        "facts": _flatten(facts),
        "split": split,
        "metric_columns": columns,
        "metric_rows": rows,
        "shortcut": _shortcut(shortcut),
        "figures": _figures(figures),
        "history": _history(history),
        "best_epoch": best_epoch,
        "notes": list(notes),
        "config_yaml": _yaml(cfg),
        "provenance": _flatten(_plain(versions)),
    }
    return template_environment().get_template("report.html.j2").render(**context)


def write_run_report(run_dir: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Render :func:`render_run_report` (same keyword arguments) into ``run_dir/report.html``.

    The file is written atomically. Returns its path.
    """
    text = render_run_report(**kwargs)
    path = Path(run_dir) / "report.html"
    with atomic_write(path) as fh:
        fh.write(text)
    return path


def render_comparison(
    table: pd.DataFrame,
    figures: Mapping[str, str | os.PathLike[str]],
    *,
    title: str = "cislearn: comparison of runs",
) -> str:
    """The HTML text comparing several runs: the metrics table and overlaid figures.

    Parameters
    ----------
    table : DataFrame
        :func:`cislearn.evaluate.compare_runs` output: one row per run and target.
    figures : mapping of name → path
        E.g. :func:`cislearn.report.figures.write_comparison_figures` output.
    title : str
    """
    columns, rows = _comparison_rows(table)
    n_runs = int(table["run"].nunique()) if "run" in table.columns else len(table)
    context = {
        "title": title,
        "n_runs": n_runs,
        "columns": columns,
        "rows": rows,
        "figures": _figures(figures),
    }
    return template_environment().get_template("compare.html.j2").render(**context)


def _comparison_rows(table: pd.DataFrame) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """Columns without empty ones, ``<m>_lo``/``<m>_hi`` folded into the cell of ``<m>``."""
    table = table.dropna(axis=1, how="all")
    names = [str(c) for c in table.columns]
    folded = {c for c in names for end in ("_lo", "_hi") if c.endswith(end) and c[:-3] in names}
    columns = [c for c in names if c not in folded]
    rows = []
    for _, record in table.iterrows():
        cells = []
        for col in columns:
            value = record[col]
            ci = None
            if f"{col}_lo" in folded and not _missing(record[f"{col}_lo"]):
                ci = f"[{_fmt(record[f'{col}_lo'], 4)}, {_fmt(record[f'{col}_hi'], 4)}]"
            if _missing(value):
                text = "–"
            elif col in ("n", "n_pos"):  # counts come back as float when a column has gaps
                text = _fmt(int(value))
            else:
                text = _fmt(value, 4)
            cells.append({"value": text, "ci": ci})
        rows.append(cells)
    return columns, rows


def write_comparison(
    out_dir: str | os.PathLike[str],
    table: pd.DataFrame,
    figures: Mapping[str, str | os.PathLike[str]],
    *,
    title: str = "cislearn: comparison of runs",
) -> Path:
    """Write :func:`render_comparison` to ``out_dir/comparison.html`` atomically; return it."""
    path = Path(out_dir) / "comparison.html"
    with atomic_write(path) as fh:
        fh.write(render_comparison(table, figures, title=title))
    return path
