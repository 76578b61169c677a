"""CLI command for variant effects: score-variants (TSV, annotated VCF, figure, maps)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cislearn.cli import hardware as hw
from cislearn.cli.app import Force, Opt, app, count, echo, epoch_bars, out_dir, seed_opt
from cislearn.config import N_NULL


def _shifts(text: str) -> tuple[int, ...]:
    from cislearn.errors import ConfigError

    try:
        return tuple(int(s) for s in text.replace(" ", "").split(",") if s)
    except ValueError:
        raise ConfigError(
            f"--shifts expects comma-separated integers (e.g. -5,0,5); got '{text}'"
        ) from None


@app.command("score-variants")
def score_variants_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder (model bundle).")],
    variants: Annotated[
        Path, typer.Argument(help="VCF / VCF.gz / BCF, or TSV chrom pos ref alt [id].")
    ],
    genome: Annotated[Path, Opt(help="Reference genome FASTA of the variants' build.")],
    out: Annotated[Path, Opt(help="Output folder.")],
    top_maps: Annotated[int, Opt(help="Mutation maps around the top N variants.")] = 10,
    strict: Annotated[
        bool, Opt("--strict", help="REF mismatch or unknown contig → error.")
    ] = False,
    rc_average: Annotated[bool | None, Opt(help="Average over both strands.")] = None,
    shifts: Annotated[str, Opt(help="Window offsets (bp) to average, e.g. -5,0,5.")] = "0",
    n_null: Annotated[int, Opt(help="Random substitutions in the null (0: no p-values).")] = N_NULL,
    seed: Annotated[int, seed_opt("Seed of the null draws.")] = 0,
    chunk_size: Annotated[int, Opt(help="Variants held in memory at a time.")] = 4096,
    batch_size: Annotated[int | None, Opt(help="Windows per forward pass.")] = None,
    input_track: Annotated[
        list[str] | None, Opt(help="NAME=track.bw for a model with input tracks.")
    ] = None,
    force: Force = False,
    accelerator: hw.Accelerator = "auto",
    devices: hw.Devices = "auto",
    num_nodes: hw.NumNodes = 1,
    strategy: hw.Strategy = "auto",
    precision: hw.Precision = "auto",
    num_threads: hw.NumThreads = None,
) -> int:
    """Score variants with a trained run: ref vs alt windows, Δscores, p- and q-values."""
    from cislearn.pipelines.variants import score_variants_run
    from cislearn.tracks import parse_named

    bars = epoch_bars()
    with out_dir(out, "score-variants", force):
        try:
            res = score_variants_run(
                run,
                variants,
                genome,
                out,
                top_maps=top_maps,
                strict=strict,
                rc_average=rc_average,
                shifts=_shifts(shifts),
                n_null=n_null,
                seed=seed,
                chunk_size=chunk_size,
                batch_size=batch_size,
                input_tracks=parse_named(input_track or [], what="--input-track"),
                progress=bars,
                hardware=hw.hardware(
                    accelerator, devices, num_nodes, strategy, precision, num_threads
                ),
            )
        finally:
            bars.close()
    if res is None:  # a DDP rank other than 0: rank 0 merges and reports
        return 0
    summary = res.summary
    flags = ", ".join(f"{k} {v:,}" for k, v in summary.flags.items() if v) or "none"
    echo(f"scored {summary.n_scored:,} of {count(summary.n_variants, 'variant')}; flagged: {flags}")
    if summary.renamed_contigs:
        pairs = ", ".join(f"{a}→{b}" for a, b in list(summary.renamed_contigs.items())[:5])
        echo(f"warning: contig names matched to the genome: {pairs}")
    echo(f"wrote {res.table} ({res.n_rows:,} rows), {res.vcf}, {res.figure}")
    if res.maps:
        echo(f"wrote {len(res.maps)} mutation maps in {out / 'maps'}")
    return 0
