"""`cislearn motifs --from attributions`: hypothetical contributions → audit → TF-MoDISco →
JASPAR → hits (TSV, and BED in genome coordinates when the records have regions) → page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cislearn.errors import InputError
from cislearn.interpret.audit import AttributionAudit
from cislearn.interpret.contributions import Contributions, hypothetical_contributions
from cislearn.interpret.modisco import AttributionMotifs, attribution_motifs, hits_in_genome
from cislearn.io.atomic import atomic_write
from cislearn.io.bed import write_bed
from cislearn.io.jaspar import load_jaspar
from cislearn.pipelines.audit import audit_run
from cislearn.pipelines.inputs import load_deep_model, regions_for
from cislearn.pipelines.interpret import read_records, target_index
from cislearn.pipelines.record import claim_output, write_record
from cislearn.predict import predicting_model
from cislearn.report.modisco import write_attribution_motifs
from cislearn.types import Progress, no_progress

__all__ = ["AttributionMotifsRun", "attribution_motifs_run", "AUDIT_DEFAULT"]

#: Methods audited against exact ISM alongside the chosen one.
AUDIT_DEFAULT: tuple[str, ...] = ("deeplift-shap", "integrated-gradients")
OUTPUTS = ("patterns.tsv", "motifs.html", "hits.tsv")


class AttributionMotifsRun(NamedTuple):
    """What :func:`attribution_motifs_run` wrote and found."""

    out: Path
    found: AttributionMotifs
    contributions: Contributions
    audit: AttributionAudit | None
    hits_bed: Path | None
    """``hits.bed`` in genome coordinates, when the records had regions."""
    line: str
    """One-line summary for the CLI."""


def attribution_motifs_run(
    run: str | os.PathLike[str],
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    method: str = "ism",
    target: str | None = None,
    first: int | None = None,
    regions: str | os.PathLike[str] | None = None,
    release: str | None = None,
    max_seqlets: int = 2000,
    leiden_runs: int = 10,
    hit_threshold: float = 1e-4,
    audit_sample: int = 32,
    audit: bool = True,
    seed: int = 0,
    force: bool = False,
    progress: Progress = no_progress,
) -> AttributionMotifsRun:
    """Discover motifs from a model's attributions on the sequences of ``data``.

    Parameters
    ----------
    run : path
        Deep model bundle.
    data : path
        FASTA of sequences of the model's length (usually the positives).
    out : path
        Output folder: ``patterns.tsv``, ``matches.tsv``, ``hits.tsv`` (+ ``hits.bed``),
        ``seqlets.tsv``, ``motifs.meme``, ``motifs.jaspar``, ``cwms.npz``, ``logos/``,
        ``motifs.html``, ``contributions.npz``, ``audit.tsv``, ``audit.txt``,
        ``figures/audit.png`` and ``record.json``.
    method : {"ism", "deeplift-shap", "integrated-gradients"}
        Hypothetical contributions (``ism``: exact, the fast path where the model allows it).
    target : str, optional
        Output name or index (default: the first).
    first : int, optional
        Only the first N records.
    regions : path, optional
        BED with one interval per record (same order) for ``hits.bed``; without it, ids of
        the form ``chrom:start-end`` are used when every record has one.
    release : str, optional
        JASPAR release (default: newest bundled).
    max_seqlets, leiden_runs, hit_threshold : int, int, float
        See :func:`~cislearn.interpret.modisco.attribution_motifs`.
    audit_sample : int
        Sequences of the attribution audit (DeepLIFT/SHAP and integrated gradients vs ISM).
    audit : bool
        Run the audit.
    seed : int
    force : bool
        Overwrite earlier results in ``out``.
    progress : Progress

    Returns
    -------
    AttributionMotifsRun
    """
    for name, value, low in (
        ("--max-seqlets", max_seqlets, 1),
        ("--leiden-runs", leiden_runs, 1),
        ("--audit-sample", audit_sample, 2),
    ):
        if value < low:
            raise InputError(f"{name} must be >= {low}; got {value}")
    if not 0 < hit_threshold < 1:
        raise InputError(f"hit threshold must be between 0 and 1; got {hit_threshold}")
    folder = claim_output(out, OUTPUTS, force=force)
    predictor = load_deep_model(run)
    ids, seqs = read_records(data, first=first)
    x = predictor.encode(seqs, ids=ids, path=data)
    k = target_index(predictor, target)
    region_table = regions_for(ids, x.shape[2], regions)
    opts = dict(target=k, task=predictor.task, device=predictor.device)
    contrib = hypothetical_contributions(
        predicting_model(predictor), x, method=method, seed=seed, progress=progress, **opts
    )
    with atomic_write(folder / "contributions.npz", mode="wb") as fh:
        np.savez_compressed(fh, ids=np.array(ids), hypothetical=contrib.hypothetical)
    checked = None
    notes = [
        f"{len(ids)} sequences from {Path(data).name}; {method} hypothetical contributions "
        f"of output {predictor.output_names[k]} (logit)."
    ]
    if audit:
        methods = tuple(
            dict.fromkeys((*AUDIT_DEFAULT, method) if method != "ism" else AUDIT_DEFAULT)
        )
        checked = audit_run(
            folder,
            predicting_model(predictor),
            x,
            methods=methods,
            sample=audit_sample,
            seed=seed,
            progress=progress,
            **opts,
        )
        notes.append(checked.line)
    found = attribution_motifs(
        x,
        contrib.hypothetical,
        ids=ids,
        targets=load_jaspar(release=release),
        max_seqlets=max_seqlets,
        leiden_runs=leiden_runs,
        hit_threshold=hit_threshold,
        progress=progress,
    )
    write_attribution_motifs(
        folder, found, method=method, notes=notes, hit_threshold=hit_threshold, progress=progress
    )
    bed = None
    if region_table is not None:
        bed = folder / "hits.bed"
        write_bed(bed, hits_in_genome(found.hits, region_table))
    write_record(
        folder,
        "motifs --from attributions",
        dict(
            method=method,
            target=k,
            first=first,
            release=release,
            max_seqlets=max_seqlets,
            leiden_runs=leiden_runs,
            hit_threshold=hit_threshold,
            audit_sample=audit_sample,
            seed=seed,
        ),
        {"run": run, "data": data, "regions": regions},
    )
    top = found.table.head(3)
    named = ", ".join(
        f"{r.motif} ({r.n_seqlets} seqlets)→{r.name or 'no match'}" for r in top.itertuples()
    )
    line = f"{len(found.patterns)} patterns from {method} contributions; top: {named or 'none'}"
    return AttributionMotifsRun(folder, found, contrib, checked, bed, line)
