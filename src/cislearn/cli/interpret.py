"""CLI commands of interpretation: `interpret` (attributions), `mutation-map`, `motifs`."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cislearn.cli.app import Opt, app, echo


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


def _target_index(predictor: Any, target: str | None) -> int:
    from cislearn.errors import InputError

    names = list(predictor.output_names)
    if target is None:
        return 0
    if target in names:
        return names.index(target)
    if target.isdigit() and int(target) < len(names):
        return int(target)
    raise InputError(f"--target: unknown output {target!r}; outputs: {', '.join(names)}")


def _records(fasta: Path, ids: str | None, first: int | None) -> tuple[list[str], list[str]]:
    """(ids, sequences) from a FASTA file: the given ids (in that order) or the first N."""
    from cislearn.errors import InputError
    from cislearn.io.fasta import read_fasta

    wanted = [i.strip() for i in ids.split(",") if i.strip()] if ids else None
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


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "seq"


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
) -> int:
    """Attributions (saliency, grad x input, integrated gradients, DeepLIFT/SHAP, occlusion).

    Writes attributions.npz (ids, x, attributions (n, C, L)), top_positions.tsv and
    logos/<id>.png for the top-scoring sequences.
    """
    import numpy as np

    from cislearn.interpret.attribution import attribute, top_positions
    from cislearn.io.atomic import atomic_write
    from cislearn.predict import load
    from cislearn.report.logos import plot_attribution_logo

    predictor = load(run)
    ids, seqs = _records(fasta, None, None)
    x = predictor.encode(seqs, ids=ids, path=fasta)
    k = _target_index(predictor, target)
    attr = attribute(
        predictor.model,
        x,
        method=method.value,
        target=k,
        output=output.value,
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
    for i in np.argsort(-scores, kind="stable")[: max(0, top)]:
        plot_attribution_logo(
            attr[i],
            x[i],
            out / "logos" / f"{_safe(ids[i])}.png",
            title=f"{ids[i]}: {method.value} of {output.value} "
            f"{predictor.output_names[k]} (logit {scores[i]:.2f})",
        )
    if x.shape[1] == 4:  # --- issue 18: audit line + figures/audit.png (pipelines/audit.py)
        from cislearn.pipelines.audit import audit_run

        checked = audit_run(
            out,
            predictor.model,
            x,
            methods=(method.value,),
            target=k,
            output=output.value,
            task=predictor.task,
            device=predictor.device,
        )
        echo(checked.line)
    echo(f"{method.value} attributions of {len(ids)} sequences written to {out}")
    return 0


@app.command("mutation-map")
def mutation_map(
    run: Annotated[Path, typer.Argument(help="Run folder (model bundle).")],
    out: Annotated[Path, Opt(help="Output folder.")],
    fasta: Annotated[Path | None, Opt(help="FASTA of sequences of the model's length.")] = None,
    ids: Annotated[str | None, Opt(help="Comma-separated record ids from --fasta.")] = None,
    first: Annotated[int, Opt(help="Without --ids: the first N records.")] = 10,
    sequence: Annotated[str | None, Opt(help="One sequence instead of --fasta.")] = None,
    target: Annotated[str | None, Opt(help="Output name or index (default: the first).")] = None,
    zoom: Annotated[int, Opt(help="Half-width (bp) of the zoomed panel at the centre.")] = 20,
    rc_average: Annotated[bool, Opt(help="Average over both strands.")] = False,
    method: Annotated[str, Opt(help="auto|fast|naive")] = "auto",
) -> int:
    """Effect of every substitution (logit, probability, delta score) as TSV and 4 x L heatmaps."""
    from cislearn.errors import InputError
    from cislearn.interpret.ism import map_effects, saturation_mutagenesis
    from cislearn.io.atomic import atomic_write
    from cislearn.predict import load
    from cislearn.report.maps import mutation_map_table, plot_mutation_map

    if (fasta is None) == (sequence is None):
        raise InputError("give either --fasta FILE (with optional --ids) or --sequence ACGT...")
    predictor = load(run)
    if sequence is not None:
        names, seqs = ["sequence"], [sequence.strip().upper()]
    else:
        names, seqs = _records(fasta, ids, first)
    x = predictor.encode(seqs, ids=names, path=fasta)
    k = _target_index(predictor, target)
    bars = _bars()
    mm = saturation_mutagenesis(
        predictor.model,
        x,
        rc_average=rc_average,
        method=method,
        device=predictor.device,
        progress=bars,
    )
    bars.close()
    eff = map_effects(mm, predictor.task)
    table = mutation_map_table(
        names, seqs, mm.logits, eff.delta_logit, eff.prob, eff.delta_prob, eff.delta_score, output=k
    )
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "mutation_map.tsv") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.6g")
    for i, name in enumerate(names):
        plot_mutation_map(
            eff.delta_logit[i, :, :, k],
            seqs[i],
            out / "maps" / f"{_safe(name)}.png",
            title=f"{name}: Δ logit of {predictor.output_names[k]} "
            f"(ref logit {mm.ref_logits[i, k]:.2f})",
            zoom=zoom,
        )
    echo(f"mutation maps of {len(names)} sequences ({mm.method} path) written to {out}")
    return 0


def _bars() -> Any:
    from cislearn.cli.app import epoch_bars

    return epoch_bars()


@app.command()
def motifs(
    run: Annotated[Path, typer.Argument(help="Run folder (model bundle).")],
    data: Annotated[Path, Opt(help="FASTA of positive sequences (motifs are built from them).")],
    out: Annotated[Path, Opt(help="Output folder.")],
    neg: Annotated[
        Path | None, Opt(help="FASTA of negatives (AUROC influence, enrichment).")
    ] = None,
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
    force: Annotated[bool, Opt(help="With --from attributions: overwrite --out.")] = False,
) -> int:
    """Motifs: first-layer filters (default) or TF-MoDISco on attributions, JASPAR, HTML page.

    --from filters writes motifs.tsv, filters.tsv, matches.tsv, motifs.meme, motifs.jaspar,
    logos/ and motifs.html (ordered by influence). --from attributions writes patterns.tsv,
    matches.tsv, hits.tsv (+ hits.bed), seqlets.tsv, motifs.meme, motifs.jaspar, logos/,
    motifs.html, the attribution audit (audit.tsv, audit.txt, figures/audit.png).
    """
    if source is MotifSource.attributions:
        from cislearn.pipelines.attribution_motifs import attribution_motifs_run

        bars = _bars()
        res = attribution_motifs_run(
            run,
            data,
            out,
            method=attribution.value,
            target=target,
            regions=regions,
            release=release,
            max_seqlets=max_seqlets,
            leiden_runs=leiden_runs,
            force=force,
            progress=bars,
        )
        bars.close()
        if res.audit is not None:
            echo(res.audit.line)
        echo(f"{res.line}; written to {res.out}")
        return 0
    # --- end issue 18
    from cislearn.encode import one_hot
    from cislearn.interpret.compare import learned_motifs
    from cislearn.io.motifs import load_jaspar
    from cislearn.predict import load
    from cislearn.report.logos import write_learned_motifs

    predictor = load(run)
    n_value = predictor.meta.get("n_value", 0.25)
    _, pos = _records(data, None, None)
    x_pos = one_hot(pos, n_value=n_value)
    x_neg = one_hot(_records(neg, None, None)[1], n_value=n_value) if neg is not None else None
    found = learned_motifs(
        predictor.model,
        x_pos,
        x_neg,
        task=predictor.task,
        target=_target_index(predictor, target),
        threshold=threshold,
        min_sites=min_sites,
        min_ic=min_ic,
        targets=load_jaspar(release=release),
        device=predictor.device,
    )
    write_learned_motifs(out, found)
    top = found.table.head(3)
    best = ", ".join(f"{r.motif}→{r.match_name}" for r in top.itertuples()) or "none"
    echo(
        f"{len(found.motifs)} motifs (of {len(found.filters)} filters); top: {best}; "
        f"written to {out}"
    )
    return 0
