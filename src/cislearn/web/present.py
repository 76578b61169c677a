"""What the pages and the API show of finished jobs: model choice names, variant and motif
tables read back from a job's files, the mutation-map figure. Presentation only: every file
read here was written by a :mod:`cislearn.pipelines` call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "BASELINE_PREFIX",
    "MOTIFS_SHOWN",
    "is_baseline_choice",
    "baseline_names",
    "panel_entry",
    "map_json",
    "mutation_map_figure",
    "read_variant_table",
    "read_motifs_dir",
    "ARCH_HELP",
    "DEFAULT_CHOICE",
    "arch_help",
    "significant",
    "comparison_view",
    "column_label",
    "predictions_tsv",
]

#: The model choice that names the default model: what ``cislearn train`` trains without
#: ``--arch`` (``TrainConfig(arch="auto")``, the default recipe with it).
DEFAULT_CHOICE = "auto"

#: Baseline models appear in the model choice as ``baseline-<name>``.
BASELINE_PREFIX = "baseline-"


def is_baseline_choice(name: str) -> bool:
    """Whether a model choice of a training job names a baseline of the panel."""
    return name.startswith(BASELINE_PREFIX)


def _panel_baselines() -> dict[str, tuple[str, str]]:
    from cislearn.pipelines.panel import PANEL

    return {name: entry for name, entry in PANEL.items() if isinstance(entry, tuple)}


def panel_entry(choice: str) -> tuple[str, str]:
    """(features, model) of the panel baseline a ``baseline-<name>`` choice names."""
    return _panel_baselines()[choice.removeprefix(BASELINE_PREFIX)]


def baseline_names() -> tuple[str, ...]:
    """The baseline panel's models as ``baseline-<name>``."""
    return tuple(BASELINE_PREFIX + name for name in _panel_baselines())


#: Logos are drawn and shown for the most influential motifs only (all are in motifs.tsv).
MOTIFS_SHOWN = 12


def map_json(result: Any) -> dict[str, Any]:
    """One sequence's :class:`cislearn.pipelines.interpret.MapResult` as JSON.

    ``bases`` ("ACGT"), ``delta_logit`` (4 lists of L floats, the output shown), ``ref_logit``,
    ``ref_prob``, ``output`` (its name) and ``method``.
    """
    k, mm, effects = result.target, result.maps, result.effects
    return {
        "bases": "ACGT",
        "output": result.output,
        "delta_logit": effects.delta_logit[0, :, :, k].round(5).tolist(),
        "ref_logit": float(mm.ref_logits[0, k]),
        "ref_prob": float(effects.ref_prob[0, k]),
        "method": mm.method,
    }


def mutation_map_figure(result: dict[str, Any]) -> str:
    """The library's mutation-map figure of a :func:`map_json` result, as a PNG data URI.

    ``result`` also needs the ``sequence`` mapped.
    """
    import base64
    import tempfile

    import numpy as np

    from cislearn.report.maps import plot_mutation_map

    title = f"Δ logit of {result['output']} (ref logit {result['ref_logit']:.2f})"
    with tempfile.TemporaryDirectory() as tmp:
        path = plot_mutation_map(
            np.asarray(result["delta_logit"]),
            result["sequence"],
            Path(tmp) / "map.png",
            title=title,
        )
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def read_variant_table(path: Path, *, top: int = 50) -> dict[str, Any] | None:
    """The strongest ``top`` variants of a finished variants job, for the page and the API."""
    if not path.is_file():
        return None
    import pandas as pd

    frame = pd.read_csv(path, sep="\t")
    effect = next((c for c in frame.columns if c.endswith(("_dscore", "_delta"))), None)
    if effect is not None:
        frame = frame.loc[frame[effect].abs().sort_values(ascending=False).index]
    keep = [
        c
        for c in frame.columns
        if c in ("id", "chrom", "pos", "ref", "alt", "flag")
        or c.endswith(("_p_ref", "_p_alt", "_dscore", "_delta", "_pvalue", "_qvalue"))
    ]
    shown = frame[keep].head(top)
    return {
        "n_variants": int(len(frame)),
        "effect": effect,
        "columns": keep,
        "rows": shown.astype(object).where(shown.notna(), None).values.tolist(),
    }


def read_motif_notes(folder: Path) -> list[str]:
    """The cautions of a job's learned motifs (``motifs.json``: AUROC below 0.75, naming)."""
    import json

    path = folder / "motifs.json"
    if not path.is_file():
        return []
    try:
        return [str(n) for n in json.loads(path.read_text()).get("notes", [])]
    except (json.JSONDecodeError, AttributeError):
        return []


def read_motifs_dir(folder: Path, files: dict[str, Path]) -> list[dict[str, Any]] | None:
    """Learned motifs of a training job (:func:`cislearn.pipelines.interpret.motifs_run`), for
    the results page (None: none)."""
    table_path = folder / "motifs.tsv"
    if not table_path.is_file():
        return None
    import pandas as pd

    table = pd.read_csv(table_path, sep="\t")
    matches = (
        pd.read_csv(folder / "matches.tsv", sep="\t")
        if (folder / "matches.tsv").is_file()
        else None
    )
    shown = []
    for row in table.head(MOTIFS_SHOWN).itertuples(index=False):
        motif_id = str(row.motif)
        logo = f"motifs/logos/{motif_id}.png"
        found = []
        if matches is not None:
            for m in matches[matches["motif"] == motif_id].itertuples(index=False):
                found.append(f"{m.target_id} {m.target_name} (q = {m.q_value:.2g})")
        info = []
        if "influence" in table.columns and pd.notna(row.influence):
            spread = f" ± {row.influence_sd:.2g}" if "influence_sd" in table.columns else ""
            info.append(f"influence {row.influence:.3g}{spread} logit")
        if "n_sites" in table.columns:
            info.append(f"{int(row.n_sites)} sites")
        if "consensus" in table.columns:
            info.append(str(row.consensus))
        label = str(row.name) if "name" in table.columns else ""
        shown.append(
            {
                "name": f"{motif_id}: {label}" if label else motif_id,
                "logo": logo if logo in files else None,
                "matches": found,
                "info": ", ".join(info),
            }
        )
    return shown


#: One line per architecture for the model choice (what it is, when to pick it).
ARCH_HELP = {
    "cnn": "one convolution layer + global max pooling + a small dense head (DeepBind)",
    "cnn-multi": "parallel convolutions of widths 8, 16 and 24, pooled and joined",
    "cnn-deep": "three stacked convolution blocks (batch norm, max pooling), dense head",
    "lstm": "a bidirectional LSTM read over the bases",
    "cnn-lstm": "convolution, then a bidirectional LSTM (DanQ)",
    "basset": "Basset: three convolution blocks (300 × 19, 200 × 11, 200 × 7), a wide dense head",
    "resnet": "a dilated residual tower, for long inputs",
    "transformer": "self-attention over overlapping k-mer tokens",
    "hybrid": "sequence plus extra per-base tracks (needs inputs with tracks)",
    "layers": "a model written as a list of layers (Keras Sequential style); here its "
    "default list, the workshop's CNN1: convolution 128 × 16, max pooling, dense 10",
    "graph": "a model written as a graph of named layer blocks (Keras functional style); "
    "here its default, the workshop's CNN2: two parallel convolutions (widths 8 and 16) "
    "joined into a dense head",
    "wide-deep": "a cnn, a cnn-lstm and a strand-merged 6-mer lasso, stacked with weights "
    "fitted on the validation part",
}


def arch_help() -> dict[str, str]:
    """:data:`ARCH_HELP` with the default model's choice, ``auto``, first."""
    from cislearn.config import DEFAULT_ARCH, DEFAULT_RECIPE

    recipe = ", ".join(f"{k} {v}" for k, v in DEFAULT_RECIPE.items())
    auto = f"the default model, as cislearn train trains it: {DEFAULT_ARCH} ({recipe})"
    return {DEFAULT_CHOICE: auto, **ARCH_HELP}


def significant(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (``-0.00213``, ``1.2e-05``); text as is."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return "0" if value == 0 else f"{value:.{digits}g}"
    return str(value)


#: Readable headers of the comparison table's columns.
_HEADERS = {
    "run": "Model",
    "target": "Target",
    "auroc": "AUROC",
    "auprc": "AUPRC",
    "accuracy": "Accuracy",
    "f1": "F1",
    "mcc": "MCC",
    "pearson": "Pearson r",
    "spearman": "Spearman ρ",
    "r2": "R²",
    "mse": "MSE",
    "mae": "MAE",
    "n": "Sequences",
    "n_pos": "Positives",
    "shortcut_auroc": "Composition-only AUROC",
    "auprc_baseline": "Chance AUPRC",
}
_TITLES = {
    "shortcut_auroc": "AUROC of a logistic regression on mono- and dinucleotide frequencies "
    "on the same split: how far composition alone goes",
    "auprc_baseline": "AUPRC of a random ranking: the fraction of positives",
    "auroc": "Area under the ROC curve, with its bootstrap 95% confidence interval",
    "auprc": "Area under the precision-recall curve, with its bootstrap 95% confidence interval",
}


def column_label(name: str) -> str:
    """A metric or table column as a header: ``auroc`` → ``AUROC``."""
    return _HEADERS.get(name, name.replace("_", " "))


def comparison_view(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    """The comparison table as the page shows it: readable headers, each metric's CI bounds
    (``<metric>_lo``/``_hi``) folded into its cell, 3 decimals.

    Returns ``{"headers": [{"label", "title"}], "rows": [[{"value", "ci"}]]}``.
    """
    folded = {c[: -len(s)] for c in columns for s in ("_lo", "_hi") if c.endswith(s)}
    shown = [c for c in columns if not (c.endswith(("_lo", "_hi")) and c[:-3] in folded)]
    headers = [{"label": column_label(c), "title": _TITLES.get(c, c)} for c in shown]
    out = []
    for row in rows:
        cell = dict(zip(columns, row, strict=True))
        line = []
        for c in shown:
            value, ci = cell.get(c), ""
            lo, hi = cell.get(f"{c}_lo"), cell.get(f"{c}_hi")
            if c in folded and lo is not None and hi is not None:
                ci = f"[{lo:.3f}, {hi:.3f}]"
            if isinstance(value, float):
                value = (
                    str(int(value)) if c.startswith("n") and value.is_integer() else f"{value:.3f}"
                )
            line.append({"value": "" if value is None else str(value), "ci": ci})
        out.append(line)
    return {"headers": headers, "rows": out}


def predictions_tsv(scores: dict[str, Any]) -> str:
    """Synchronous predictions (:func:`cislearn.web.service.predict`) as TSV text: ``id``, then
    ``prob_<output>`` and ``logit_<output>`` per output, as a run's ``predictions.tsv``."""
    outputs = [str(o) for o in scores["outputs"]]
    head = ["id", *(f"prob_{o}" for o in outputs), *(f"logit_{o}" for o in outputs)]
    lines = ["\t".join(head)]
    for i, probs, logits in zip(scores["ids"], scores["probs"], scores["logits"], strict=True):
        clean = str(i).replace("\t", " ")
        lines.append(
            "\t".join([clean, *(f"{p:.6g}" for p in probs), *(f"{v:.6g}" for v in logits)])
        )
    return "\n".join(lines) + "\n"
