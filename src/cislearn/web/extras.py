"""Adapters from the web app's jobs and pages to the library: baselines, motifs, maps, variants.

Only public library functions are called here; the files written are the library's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cislearn.types import Progress

__all__ = [
    "BASELINE_PREFIX",
    "is_baseline",
    "baseline_names",
    "baseline_run",
    "learned_motifs",
    "mutation_map",
    "mutation_map_figure",
    "score_vcf",
    "read_variant_table",
    "VARIANT_TABLE",
    "VARIANT_FIGURE",
    "read_motifs_dir",
]

#: Baseline models appear in the model choice as ``baseline-<name>``.
BASELINE_PREFIX = "baseline-"


def is_baseline(name: str) -> bool:
    return name.startswith(BASELINE_PREFIX)


def _panel_baselines() -> dict[str, tuple[str, str]]:
    from cislearn.pipelines.panel import PANEL

    return {name: entry for name, entry in PANEL.items() if isinstance(entry, tuple)}


def baseline_names() -> tuple[str, ...]:
    """The baseline panel's models as ``baseline-<name>``."""
    return tuple(BASELINE_PREFIX + name for name in _panel_baselines())


def baseline_run(
    dataset: Any, name: str, out: Path, *, params: dict[str, Any], progress: Progress
) -> None:
    """Fit one baseline of the panel (features + model) and write its run folder."""
    from cislearn.pipelines.panel import baseline_run as run

    features, model = _panel_baselines()[name.removeprefix(BASELINE_PREFIX)]
    run(
        dataset,
        out,
        features=features,
        model=model,
        seed=int(params.get("seed", 0)),
        n_boot=int(params.get("n_boot", 1000)),
        progress=progress,
    )


#: At most this many positives and negatives are scanned for the learned motifs.
MOTIF_SEQUENCES = 2000
#: Logos are drawn and shown for the most influential motifs only (all are in motifs.tsv).
MOTIFS_SHOWN = 12


def learned_motifs(run: Path, dataset: Any, out: Path, *, progress: Progress) -> str | None:
    """First-layer filters of the model in ``run`` as motifs, with logos and JASPAR matches.

    Writes the files of :func:`cislearn.report.logos.write_learned_motifs` into ``out``
    (``motifs.tsv`` by influence, ``matches.tsv``, ``logos/<motif>.png``, ...), with logos for
    the ``MOTIFS_SHOWN`` most influential motifs. Returns None, or a note when motifs cannot be
    made for this task or model.
    """
    import numpy as np

    from cislearn.interpret.compare import learned_motifs as find_motifs
    from cislearn.predict import load
    from cislearn.report.logos import write_learned_motifs

    predictor = load(run, device="cpu")
    if predictor.task != "binary":
        return f"learned motifs are shown for binary tasks; this one is {predictor.task}"
    labels = np.asarray(dataset.targets)[:, 0]
    seqs = list(dataset.sequences)
    pos = [s for s, y in zip(seqs, labels, strict=True) if y == 1][:MOTIF_SEQUENCES]
    neg = [s for s, y in zip(seqs, labels, strict=True) if y == 0][:MOTIF_SEQUENCES]
    found = find_motifs(
        predictor.model, predictor.encode(pos), predictor.encode(neg) if neg else None
    )
    write_learned_motifs(out, found, n_logos=MOTIFS_SHOWN, progress=progress)
    return None


def mutation_map(predictor: Any, sequence: str) -> dict[str, Any]:
    """Saturation mutagenesis of one sequence: Δlogit of every base at every position.

    Returns JSON: ``bases`` ("ACGT"), ``delta_logit`` (4 lists of L floats, first output),
    ``ref_logit``, ``ref_prob``, ``output`` (name of the output shown) and ``method``.
    """
    from cislearn.interpret.ism import map_effects, saturation_mutagenesis

    x = predictor.encode([sequence])
    mm = saturation_mutagenesis(
        predictor.model, x, rc_average=bool(predictor.meta.get("rc_average", False))
    )
    effects = map_effects(mm, predictor.task)
    return {
        "bases": "ACGT",
        "output": predictor.output_names[0],
        "delta_logit": effects.delta_logit[0, :, :, 0].round(5).tolist(),
        "ref_logit": float(mm.ref_logits[0, 0]),
        "ref_prob": float(effects.ref_prob[0, 0]),
        "method": mm.method,
    }


def mutation_map_figure(result: dict[str, Any]) -> str:
    """The library's mutation-map figure of a :func:`mutation_map` result, as a PNG data URI.

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


#: Files a variants job writes in its output folder.
VARIANT_TABLE = "variants.tsv"
VARIANT_FIGURE = "variant_effects.png"


def score_vcf(
    run: Path, vcf: Path, genome: Path, out: Path, *, n_null: int, progress: Progress
) -> None:
    """Score the variants of ``vcf`` with the model in ``run``: a table and a figure."""
    import numpy as np

    from cislearn.io.atomic import atomic_write
    from cislearn.predict import load
    from cislearn.report.variants import plot_variant_effects
    from cislearn.variants import effect_column, score_variants

    predictor = load(run, device="cpu")
    frame = score_variants(predictor, genome, vcf, n_null=n_null, progress=progress)
    with atomic_write(out / VARIANT_TABLE) as fh:
        frame.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    effect = effect_column(predictor.task, predictor.output_names[0])
    scored = frame.dropna(subset=[effect])
    top = scored.loc[scored[effect].abs().sort_values(ascending=False).index].head(20)
    plot_variant_effects(
        np.asarray(scored[effect], dtype=float),
        top[["id", effect]],
        out / VARIANT_FIGURE,
        effect=effect,
        n_total=len(frame),
        title=f"{run.name}: {len(frame):,} variants",
    )


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


def read_motifs_dir(folder: Path, files: dict[str, Path]) -> list[dict[str, Any]] | None:
    """Learned motifs written by :func:`learned_motifs`, for the results page (None: none)."""
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
            info.append(f"influence {row.influence:.3g}")
        if "n_sites" in table.columns:
            info.append(f"{int(row.n_sites)} sites")
        if "consensus" in table.columns:
            info.append(str(row.consensus))
        shown.append(
            {
                "name": motif_id,
                "logo": logo if logo in files else None,
                "matches": found,
                "info": ", ".join(info),
            }
        )
    return shown
