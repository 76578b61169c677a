"""Adapters to the library parts the web app offers when present: baselines, motifs, variants.

Each ``has_*`` says whether the library provides the feature; the web app hides the feature
otherwise. Only public library functions are called here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from cislearn.types import Progress

__all__ = [
    "BASELINE_PREFIX",
    "is_baseline",
    "baseline_names",
    "baseline_run",
    "has_motifs",
    "learned_motifs",
    "has_mutation_map",
    "mutation_map",
    "has_variants",
    "score_vcf",
    "read_variant_table",
    "VARIANT_TABLE",
    "VARIANT_FIGURE",
    "read_motifs_dir",
]

#: Baseline models appear in the model choice as ``baseline-<name>``.
BASELINE_PREFIX = "baseline-"


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def is_baseline(name: str) -> bool:
    return name.startswith(BASELINE_PREFIX)


def _panel_baselines() -> dict[str, tuple[str, str]]:
    if not _present("cislearn.panel"):
        return {}
    from cislearn.panel import PANEL

    return {name: entry for name, entry in PANEL.items() if isinstance(entry, tuple)}


def baseline_names() -> tuple[str, ...]:
    """The baseline panel's models as ``baseline-<name>`` (empty without ``cislearn.panel``)."""
    return tuple(BASELINE_PREFIX + name for name in _panel_baselines())


def baseline_run(
    dataset: Any, name: str, out: Path, *, params: dict[str, Any], progress: Progress
) -> None:
    """Fit one baseline of the panel (features + model) and write its run folder."""
    from cislearn.panel import baseline_run as run

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


def has_motifs() -> bool:
    """Learned motifs need ``cislearn.interpret.compare.learned_motifs``."""
    if not _present("cislearn.interpret.compare"):
        return False
    from cislearn.interpret import compare

    return hasattr(compare, "learned_motifs")


#: At most this many positives and negatives are scanned for the learned motifs.
MOTIF_SEQUENCES = 2000
#: Logos are drawn and shown for the most influential motifs only (all are in motifs.tsv).
MOTIFS_SHOWN = 12


def _write_logo(motif: Any, path: Path) -> None:
    """A sequence logo (information content) of ``motif`` as a PNG."""
    try:
        from cislearn.report import logos  # the report layer's logo helper, when present
    except ImportError:
        logos = None
    if logos is not None and hasattr(logos, "plot_logo"):
        logos.plot_logo(motif, path)
        return
    # Stopgap until cislearn.report provides logos: logomaker on the motif's information
    # content matrix (presentation only; the motif itself comes from cislearn.interpret).
    import logomaker
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    frame = pd.DataFrame(motif.pfm.T, columns=list("ACGT"))  # (width, 4) probabilities
    info = logomaker.transform_matrix(frame, from_type="probability", to_type="information")
    fig, ax = plt.subplots(figsize=(max(2.0, 0.35 * len(frame)), 1.4))
    logomaker.Logo(info, ax=ax, color_scheme="classic")
    ax.set_ylim(0, 2)
    ax.set_ylabel("bits")
    ax.set_xticks([])
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def learned_motifs(run: Path, dataset: Any, out: Path, *, progress: Progress) -> str | None:
    """First-layer filters of the model in ``run`` as motifs, with logos and JASPAR matches.

    Writes ``motifs.tsv`` (one row per kept motif, by influence), ``matches.tsv`` (best
    JASPAR matches), ``filters.tsv``, ``motifs.meme`` and ``logos/<motif>.png`` into ``out``.
    Returns None, or a note when motifs cannot be made for this task or model.
    """
    import numpy as np

    from cislearn.interpret.compare import learned_motifs as find_motifs
    from cislearn.io.atomic import atomic_write
    from cislearn.io.motifs import write_meme
    from cislearn.predict import load

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
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (
        ("motifs", found.table),
        ("matches", found.matches),
        ("filters", found.filters),
    ):
        with atomic_write(out / f"{name}.tsv") as fh:
            frame.to_csv(fh, sep="\t", index=False, float_format="%.4g")
    write_meme(out / "motifs.meme", found.motifs)
    shown = found.motifs[:MOTIFS_SHOWN]  # most influential first
    for i, motif in enumerate(shown):
        progress("motif logos", i, len(shown))
        _write_logo(motif, out / "logos" / f"{motif.id}.png")
    return None


def has_mutation_map() -> bool:
    return _present("cislearn.interpret.ism")


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


def has_variants() -> bool:
    return _present("cislearn.variants") and _present("cislearn.report.variants")


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
