"""The interpretation actions: attributions (`interpret`), mutation maps (`mutation-map`) and
learned motifs (`motifs`) of a run's model — read the inputs, call the science, write the files.
Shared by the CLI and the web app."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cislearn.errors import InputError
from cislearn.io.atomic import atomic_write
from cislearn.io.fasta import read_fasta
from cislearn.pipelines.base_tracks import write_base_track
from cislearn.pipelines.train import held_out_auroc as read_held_out_auroc
from cislearn.predict import predicting_model
from cislearn.types import Progress, no_progress, strand_average

__all__ = [
    "AttributionResult",
    "MapResult",
    "MapsResult",
    "MotifsResult",
    "read_records",
    "target_index",
    "attributions_run",
    "map_sequences",
    "mutation_maps_run",
    "motifs_run",
]

PathLike = str | os.PathLike[str]


class AttributionResult(NamedTuple):
    """What :func:`attributions_run` wrote."""

    out: Path
    n_sequences: int
    logos: list[Path]
    track_bases: int = 0
    """Bases written to the ``bigwig`` track (0: none asked for)."""
    audit: Any = None
    """:class:`cislearn.interpret.audit.AttributionAudit` (issue 18; None for inputs with
    extra tracks): agreement with exact ISM, written as ``audit.tsv``, ``audit.txt`` and
    ``figures/audit.png``."""


class MapResult(NamedTuple):
    """Saturation mutagenesis of a few sequences (in memory): see :func:`map_sequences`."""

    names: list[str]
    sequences: list[str]
    target: int
    """Index of the output shown."""
    output: str
    maps: Any
    """:class:`cislearn.interpret.ism.MutationMap` (``logits``, ``ref_logits``, ``method``)."""
    effects: Any
    """:class:`cislearn.interpret.ism.MapEffects` (Δlogit, prob, Δprob, Δscore)."""


class MapsResult(NamedTuple):
    """What :func:`mutation_maps_run` wrote."""

    out: Path
    table: Path
    figures: list[Path]
    method: str
    track_bases: int = 0
    """Bases written to the ``bigwig`` track (0: none asked for)."""


class MotifsResult(NamedTuple):
    """What :func:`motifs_run` found and wrote."""

    out: Path
    found: Any
    """:class:`cislearn.interpret.compare.LearnedMotifs`."""
    held_out_auroc: float | None
    """The model's held-out AUROC (from the run's ``metrics.json``; None when unknown)."""
    notes: tuple[str, ...]
    """Cautions shown with the motifs (``warning: ...`` below AUROC 0.75)."""


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "seq"


def _predictor(run: Any, device: str | None) -> Any:
    from cislearn.runload import load_run as load

    return load(run, device=device) if isinstance(run, (str, os.PathLike)) else run


def target_index(predictor: Any, target: str | None) -> int:
    """Index of output ``target`` (a name or an index; None → 0) of ``predictor``."""
    names = list(predictor.output_names)
    if target is None:
        return 0
    if target in names:
        return names.index(target)
    if target.isdigit() and int(target) < len(names):
        return int(target)
    raise InputError(f"--target: unknown output {target!r}; outputs: {', '.join(names)}")


def read_records(
    fasta: PathLike, ids: Sequence[str] | None = None, first: int | None = None
) -> tuple[list[str], list[str]]:
    """(ids, sequences) of a FASTA file: the given ``ids`` (in that order) or the first N."""
    if first is not None and first < 1:
        raise InputError(f"--first must be >= 1; got {first}")
    wanted = list(ids) if ids else None
    found: dict[str, str] = {}
    out_ids, out_seqs = [], []
    for rec in read_fasta(fasta):
        if wanted is not None:
            if rec.id in wanted:
                found[rec.id] = rec.sequence
            continue
        out_ids.append(rec.id)
        out_seqs.append(rec.sequence)
        if first is not None and len(out_ids) >= first:
            break
    if wanted is not None:
        missing = [i for i in wanted if i not in found]
        if missing:
            raise InputError(f"--ids: not in the file: {', '.join(missing[:5])}", path=fasta)
        return wanted, [found[i] for i in wanted]
    if not out_ids:
        raise InputError("no sequences", path=fasta)
    return out_ids, out_seqs


def attributions_run(
    run: PathLike,
    fasta: PathLike,
    out: PathLike,
    *,
    method: str = "saliency",
    output: str = "logit",
    target: str | None = None,
    top: int = 10,
    positions: int = 10,
    batch_size: int = 64,
    device: str | None = None,
    bigwig: PathLike | None = None,
    genome: PathLike | None = None,
) -> AttributionResult:
    """Attributions of every sequence of ``fasta``; ``attributions.npz``, ``top_positions.tsv``
    and ``logos/<id>.png`` for the ``top`` highest-scoring sequences.

    ``attributions.npz`` holds ``ids``, ``x`` (n, 4, L) and ``attributions`` (n, 4, L).
    ``method`` is one of :data:`cislearn.interpret.attribution.ATTRIBUTION_METHODS`.
    ``bigwig`` (issue 16): also write attribution × input per base of windows whose ids are
    ``chrom:start-end`` as a browser track (chromosome sizes from ``genome`` when given).
    Issue 18: the method is audited against exact ISM on a sample (``audit.tsv``,
    ``audit.txt``, ``figures/audit.png``; one-hot inputs without extra tracks only).
    """
    from cislearn.interpret.attribution import attribute, top_positions
    from cislearn.pipelines.audit import audit_run
    from cislearn.report.logos import plot_attribution_logo

    predictor, out = _predictor(run, device), Path(out)
    ids, seqs = read_records(fasta)
    x = predictor.encode(seqs, ids=ids, path=fasta)
    k = target_index(predictor, target)
    attr = attribute(
        predicting_model(predictor),
        x,
        method=method,
        target=k,
        output=output,
        task=predictor.task,
        batch_size=batch_size,
        device=predictor.device,
    )
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "attributions.npz", mode="wb") as fh:
        np.savez_compressed(fh, ids=np.array(ids), x=x, attributions=attr)
    table = top_positions(attr, x, ids, k=positions)
    with atomic_write(out / "top_positions.tsv") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    scores = predictor.predict(x).logits[:, k]
    logos = [
        plot_attribution_logo(
            attr[i],
            x[i],
            out / "logos" / f"{_safe(ids[i])}.png",
            title=f"{ids[i]}: {method} of {output} "
            f"{predictor.output_names[k]} (logit {scores[i]:.2f})",
        )
        for i in np.argsort(-scores, kind="stable")[: max(0, top)]
    ]
    n_bases = 0
    if bigwig is not None:  # issue 16: per-base track for a browser
        n_bases = write_base_track(
            bigwig, ids, (attr[:, :4] * x[:, :4]).sum(axis=1), genome=genome, force=True
        )
    checked = None
    if x.shape[1] == 4:  # issue 18: audit line + figures/audit.png
        checked = audit_run(
            out,
            predicting_model(predictor),
            x,
            methods=(method,),
            target=k,
            output=output,
            task=predictor.task,
            device=predictor.device,
        )
    return AttributionResult(out, len(ids), logos, n_bases, checked)


def map_sequences(
    predictor: Any,
    sequences: Sequence[str],
    *,
    names: Sequence[str] | None = None,
    target: str | None = None,
    rc_average: bool | None = None,
    method: str = "auto",
    path: PathLike | None = None,
    progress: Progress = no_progress,
) -> MapResult:
    """Effect of every substitution of each sequence on a loaded predictor (nothing written).
    ``rc_average`` None: as the model predicts (:func:`cislearn.types.strand_average`).

    Returns the maps and their effects: ``effects.delta_logit`` has shape (n, L, 4, n_outputs).
    """
    from cislearn.interpret.ism import map_effects, saturation_mutagenesis

    names = list(names) if names is not None else [f"seq{i + 1}" for i in range(len(sequences))]
    x = predictor.encode(list(sequences), ids=names, path=path)
    k = target_index(predictor, target)
    mm = saturation_mutagenesis(
        predictor.model,
        x,
        rc_average=strand_average(predictor, rc_average),
        method=method,
        device=predictor.device,
        progress=progress,
    )
    effects = map_effects(mm, predictor.task)
    return MapResult(names, list(sequences), k, predictor.output_names[k], mm, effects)


def mutation_maps_run(
    run: PathLike,
    out: PathLike,
    *,
    fasta: PathLike | None = None,
    ids: Sequence[str] | None = None,
    first: int = 10,
    sequence: str | None = None,
    target: str | None = None,
    zoom: int | tuple[int, int] = 20,
    rc_average: bool | None = None,
    method: str = "auto",
    device: str | None = None,
    bigwig: PathLike | None = None,
    genome: PathLike | None = None,
    progress: Progress = no_progress,
) -> MapsResult:
    """Mutation maps of FASTA records (``ids`` or the ``first`` N) or of one ``sequence``:
    ``mutation_map.tsv`` (every substitution's Δlogit, prob, Δprob, Δscore) and
    ``maps/<name>.png`` (4 × L heatmaps with a ±``zoom`` bp panel on the strongest effects, or
    on the positions ``zoom = (first, last)``); an ``out`` named ``maps`` gets the figures
    itself (not ``maps/maps/``). ``bigwig`` (issue 16): also write the mean Δlogit of the 3
    substitutions per base of windows whose ids are ``chrom:start-end`` (chromosome sizes from
    ``genome`` when given)."""
    from cislearn.report.maps import mutation_map_table, plot_mutation_map

    if (fasta is None) == (sequence is None):
        raise InputError("give either --fasta FILE (with optional --ids) or --sequence ACGT...")
    predictor, out = _predictor(run, device), Path(out)
    if sequence is not None:
        names, seqs = ["sequence"], [sequence.strip().upper()]
    else:
        names, seqs = read_records(fasta, ids, first)
    res = map_sequences(
        predictor,
        seqs,
        names=names,
        target=target,
        rc_average=rc_average,
        method=method,
        path=fasta,
        progress=progress,
    )
    mm, eff, k = res.maps, res.effects, res.target
    table = mutation_map_table(
        names, seqs, mm.logits, eff.delta_logit, eff.prob, eff.delta_prob, eff.delta_score, output=k
    )
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "mutation_map.tsv") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    folder = out if out.name == "maps" else out / "maps"
    figures = [
        plot_mutation_map(
            eff.delta_logit[i, :, :, k],
            seqs[i],
            folder / f"{_safe(name)}.png",
            title=f"{name}: Δ logit of {res.output} (ref logit {mm.ref_logits[i, k]:.2f})",
            zoom=zoom,
        )
        for i, name in enumerate(names)
    ]
    n_bases = 0
    if bigwig is not None:  # issue 16: ISM summary per base
        summary = eff.delta_logit[..., k].sum(axis=1) / 3.0
        n_bases = write_base_track(bigwig, names, summary, genome=genome, force=True)
    return MapsResult(out, out / "mutation_map.tsv", figures, mm.method, n_bases)


def motifs_run(
    run: Any,
    positives: PathLike | Sequence[str],
    out: PathLike,
    *,
    negatives: PathLike | Sequence[str] | None = None,
    target: str | None = None,
    threshold: float = 0.5,
    min_sites: int = 20,
    min_ic: float = 3.0,
    release: str | None = None,
    n_logos: int | None = None,
    held_out_auroc: float | None = None,
    device: str | None = None,
    progress: Progress = no_progress,
) -> MotifsResult:
    """First-layer filters → motifs → JASPAR matches (Tomtom), influence, FIMO enrichment.

    ``run`` is a run folder or a loaded predictor; ``positives``/``negatives`` are FASTA
    paths or sequences. Writes the files of :func:`cislearn.report.logos.write_learned_motifs`
    (``motifs.tsv``, ``filters.tsv``, ``matches.tsv``, ``motifs.meme``, ``motifs.jaspar``,
    ``logos/``, ``motifs.html``, ``motifs.json``), logos for the ``n_logos`` most influential
    motifs (None: all). The model's held-out AUROC is read from the run folder's
    ``metrics.json`` (or given as ``held_out_auroc``); below 0.75 every output warns that the
    filters are not interpretable.
    """
    from cislearn.encode import one_hot
    from cislearn.interpret.compare import learned_motifs
    from cislearn.io.jaspar import load_jaspar
    from cislearn.report.logos import write_learned_motifs

    predictor = _predictor(run, device)
    n_value = predictor.meta.get("n_value", 0.25)
    if held_out_auroc is None and isinstance(run, (str, os.PathLike)):
        held_out_auroc = read_held_out_auroc(run)
    notes = _motif_notes(held_out_auroc, predictor.task)

    def encoded(seqs: Any) -> np.ndarray:
        if isinstance(seqs, (str, os.PathLike)):
            seqs = read_records(seqs)[1]
        return one_hot(list(seqs), n_value=n_value)

    x_neg = encoded(negatives) if negatives is not None else None
    found = learned_motifs(
        predictor.model,
        encoded(positives),
        x_neg,
        task=predictor.task,
        target=target_index(predictor, target),
        threshold=threshold,
        min_sites=min_sites,
        min_ic=min_ic,
        targets=load_jaspar(release=release),
        device=predictor.device,
        progress=progress,
    )
    write_learned_motifs(
        out,
        found,
        n_logos=n_logos,
        notes=notes,
        held_out_auroc=held_out_auroc,
        progress=progress,
    )
    return MotifsResult(Path(out), found, held_out_auroc, notes)


def _motif_notes(auroc: float | None, task: str) -> tuple[str, ...]:
    from cislearn.interpret.compare import MATCH_Q, NO_MATCH, interpretability_warning

    warning = interpretability_warning(auroc)
    notes = [warning] if warning else []
    if auroc is None and task in ("binary", "multilabel", "multiclass"):
        notes.append(
            "the model's held-out AUROC is unknown (no metrics.json beside the bundle): "
            "check it is accurate before reading its filters"
        )
    notes.append(
        f"a motif is named after its best JASPAR match only when Tomtom q < {MATCH_Q:g} "
        f"(else '{NO_MATCH}', with its best hit and q listed)"
    )
    return tuple(notes)
