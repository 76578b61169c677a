"""CLI commands of interpretation: `interpret` (attributions), `mutation-map`, `motifs`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cislearn.cli.app import Force, Opt, app, count, echo, epoch_bars, out_dir


class Method(StrEnum):
    saliency = "saliency"
    grad_x_input = "grad-x-input"
    integrated_gradients = "integrated-gradients"
    deeplift_shap = "deeplift-shap"
    occlusion = "occlusion"


class Output(StrEnum):
    logit = "logit"
    prob = "prob"


class MotifSource(StrEnum):  # issue 18
    filters = "filters"
    attributions = "attributions"


class ContributionMethod(StrEnum):  # issue 18
    ism = "ism"
    deeplift_shap = "deeplift-shap"
    integrated_gradients = "integrated-gradients"


@app.command()
def interpret(
    run: Annotated[Path, typer.Argument(help="Run folder (model bundle).")],
    fasta: Annotated[Path, typer.Argument(help="FASTA of sequences of the model's length.")],
    out: Annotated[Path, Opt(help="Output folder.")],
    method: Annotated[Method, Opt(help="Attribution method.")] = Method.saliency,
    output: Annotated[Output, Opt(help="Explain the logit or the probability.")] = Output.logit,
    target: Annotated[str | None, Opt(help="Output name or index (default: the first).")] = None,
    top: Annotated[int, Opt(help="Attribution logos for this many top-scoring sequences.")] = 10,
    positions: Annotated[int, Opt(help="Top positions per sequence in the TSV.")] = 10,
    batch_size: Annotated[int, Opt(help="Sequences per batch.")] = 64,
    bigwig: Annotated[
        Path | None, Opt(help="Also write the observed bases' attributions as a bigWig.")
    ] = None,
    genome: Annotated[Path | None, Opt(help="Genome FASTA for the bigWig header.")] = None,
    force: Force = False,
) -> int:
    """Attributions (saliency, grad x input, integrated gradients, DeepLIFT/SHAP, occlusion).

    Writes attributions.npz (ids, x, attributions (n, C, L)), top_positions.tsv and
    logos/<id>.png for the top-scoring sequences, and the audit of the method against exact
    ISM on a sample (audit.tsv, audit.txt, figures/audit.png).
    """
    import logging

    from cislearn.pipelines.interpret import attributions_run

    # DeepLIFT's one-line convergence summary is shown even when it is good news
    logging.getLogger("cislearn.interpret.attribution").setLevel(logging.INFO)
    with out_dir(out, "interpret", force):
        res = attributions_run(
            run,
            fasta,
            out,
            method=method.value,
            output=output.value,
            target=target,
            top=top,
            positions=positions,
            batch_size=batch_size,
            bigwig=bigwig,
            genome=genome,
        )
    echo(
        f"{method.value} attributions of {count(res.n_sequences, 'sequence')} written to {res.out}"
    )
    if res.audit is not None:  # issue 18: the attribution audit against exact ISM
        echo(res.audit.line)
    if res.track_bases:
        echo(f"{res.track_bases} bases written to {bigwig}")
    return 0


def _zoom(text: str) -> int | tuple[int, int]:
    from cislearn.errors import ConfigError

    first, sep, last = text.strip().partition("-")
    try:
        return (int(first), int(last)) if sep else int(first)
    except ValueError:
        raise ConfigError(
            f"--zoom expects a half-width (e.g. 20) or START-END (e.g. 120-150); got '{text}'"
        ) from None


@app.command("mutation-map")
def mutation_map(
    run: Annotated[Path, typer.Argument(help="Run folder (model bundle).")],
    out: Annotated[Path, Opt(help="Output folder.")],
    fasta: Annotated[Path | None, Opt(help="FASTA of sequences of the model's length.")] = None,
    ids: Annotated[str | None, Opt(help="Comma-separated record ids from --fasta.")] = None,
    first: Annotated[int, Opt(help="Without --ids: the first N records.")] = 10,
    sequence: Annotated[str | None, Opt(help="One sequence instead of --fasta.")] = None,
    target: Annotated[str | None, Opt(help="Output name or index (default: the first).")] = None,
    zoom: Annotated[
        str,
        Opt(
            help="Zoomed panel: a half-width in bp (centred on the strongest effects; 0: no "
            "panel) or START-END (0-based positions, inclusive)."
        ),
    ] = "20",
    rc_average: Annotated[
        bool | None,
        Opt(
            help="Average over both strands (default: as the model predicts, e.g. the default "
            "model does)."
        ),
    ] = None,
    method: Annotated[str, Opt(help="auto|fast|naive")] = "auto",
    bigwig: Annotated[
        Path | None, Opt(help="Also write the mean Δ logit of the 3 substitutions as a bigWig.")
    ] = None,
    genome: Annotated[Path | None, Opt(help="Genome FASTA for the bigWig header.")] = None,
    force: Force = False,
) -> int:
    """Effect of every substitution (logit, probability, delta score) as TSV and 4 x L heatmaps."""
    from cislearn.pipelines.interpret import mutation_maps_run

    wanted = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
    bars = epoch_bars()
    with out_dir(out, "mutation-map", force):
        try:
            res = mutation_maps_run(
                run,
                out,
                fasta=fasta,
                ids=wanted,
                first=first,
                sequence=sequence,
                target=target,
                zoom=_zoom(zoom),
                rc_average=rc_average,
                method=method,
                bigwig=bigwig,
                genome=genome,
                progress=bars,
            )
        finally:
            bars.close()
    echo(
        f"mutation maps of {count(len(res.figures), 'sequence')} ({res.method} path) written to "
        f"{out}"
    )
    if res.track_bases:
        echo(f"{res.track_bases} bases written to {bigwig}")
    return 0


def _attribution_motifs(
    run, data, out, method, target, regions, release, max_seqlets, leiden_runs, force
) -> int:
    """``motifs --from attributions``: one call of the TF-MoDISco pipeline, its lines printed."""
    from cislearn.pipelines.attribution_motifs import attribution_motifs_run

    with out_dir(out, "motifs", force):
        bars = epoch_bars()
        try:
            res = attribution_motifs_run(
                run,
                data,
                out,
                method=method,
                target=target,
                regions=regions,
                release=release,
                max_seqlets=max_seqlets,
                leiden_runs=leiden_runs,
                force=force,
                progress=bars,
            )
        finally:
            bars.close()
    if res.audit is not None:
        echo(res.audit.line)
    echo(f"{res.line}; written to {res.out}")
    return 0


@app.command()
def motifs(
    run: Annotated[Path, typer.Argument(help="Run folder (model bundle).")],
    data: Annotated[Path, Opt(help="FASTA of positive sequences (motifs are built from them).")],
    out: Annotated[Path, Opt(help="Output folder.")],
    neg: Annotated[Path | None, Opt(help="FASTA of negatives (enrichment).")] = None,
    target: Annotated[str | None, Opt(help="Output name or index (default: the first).")] = None,
    threshold: Annotated[float, Opt(help="Site threshold, fraction of the filter maximum.")] = 0.5,
    min_sites: Annotated[int, Opt(help="Drop filters with fewer sites.")] = 20,
    min_ic: Annotated[float, Opt(help="Drop motifs with less information (bits).")] = 3.0,
    release: Annotated[str | None, Opt(help="JASPAR release (default: newest bundled).")] = None,
    # --- issue 18: motifs from attributions (TF-MoDISco); see pipelines/attribution_motifs.py
    source: Annotated[
        MotifSource, Opt("--from", help="Read first-layer filters or discover from attributions.")
    ] = MotifSource.filters,
    attribution: Annotated[
        ContributionMethod, Opt(help="With --from attributions: hypothetical contributions.")
    ] = ContributionMethod.ism,
    regions: Annotated[
        Path | None, Opt(help="With --from attributions: BED of the records, for hits.bed.")
    ] = None,
    max_seqlets: Annotated[int, Opt(help="With --from attributions: seqlets per sign.")] = 2000,
    leiden_runs: Annotated[int, Opt(help="With --from attributions: Leiden seeds.")] = 10,
    force: Force = False,
) -> int:
    """Motifs: first-layer filters (default) or TF-MoDISco on attributions, JASPAR, HTML page.

    --from filters writes motifs.tsv, filters.tsv, matches.tsv, motifs.meme, motifs.jaspar,
    logos/ and motifs.html (ordered by influence). --from attributions writes patterns.tsv,
    matches.tsv, hits.tsv (+ hits.bed), seqlets.tsv, motifs.meme, motifs.jaspar, logos/,
    motifs.html, the attribution audit (audit.tsv, audit.txt, figures/audit.png).
    """
    if source is MotifSource.attributions:  # issue 18
        return _attribution_motifs(
            run,
            data,
            out,
            attribution.value,
            target,
            regions,
            release,
            max_seqlets,
            leiden_runs,
            force,
        )
    from cislearn.pipelines.interpret import motifs_run

    with out_dir(out, "motifs", force), epoch_bars() as bars:
        res = motifs_run(
            run,
            data,
            out,
            negatives=neg,
            target=target,
            threshold=threshold,
            min_sites=min_sites,
            min_ic=min_ic,
            release=release,
            progress=bars,
        )
    found = res.found
    for note in res.notes:
        echo(note if note.startswith("warning:") else f"note: {note}")
    auroc = "unknown" if res.held_out_auroc is None else f"{res.held_out_auroc:.3f}"
    echo(
        f"{len(found.motifs)} motifs (of {len(found.filters)} filters) of a model with "
        f"held-out AUROC {auroc}; most influential first:"
    )
    for r in found.table.head(5).itertuples():
        hit = "" if r.name == r.match_name else f", best hit {r.match_name}"
        echo(
            f"  {r.motif}: {r.name} (q={r.match_q:.2g}{hit}); influence {r.influence:.3g} "
            f"± {r.influence_sd:.2g} logit on the positives"
        )
    echo(f"written to {out}")
    return 0
