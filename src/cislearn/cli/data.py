"""CLI commands for input data: check, prepare, negatives, simulate, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cislearn.cli.app import (
    Anchor,
    Force,
    NegMethod,
    SplitMethod,
    app,
    chroms,
    count,
    echo,
    epoch_bars,
    metrics_line,
    out_dir,
    seed_opt,
)


@app.command()
def check(
    files: Annotated[
        list[Path], typer.Argument(help="FASTA, DeepBIO FASTA, table, BED or narrowPeak files.")
    ],
    genome: Annotated[
        Path | None, typer.Option(help="Genome FASTA to check BED chromosomes against.")
    ] = None,
    fixed_length: Annotated[
        bool, typer.Option("--fixed-length", help="Require one sequence length.")
    ] = False,
    iupac_to_n: Annotated[
        bool, typer.Option("--iupac-to-n", help="Map IUPAC codes to N instead of rejecting them.")
    ] = False,
) -> int:
    """Validate input files and summarise them, or list every problem (exit 2)."""
    from cislearn.validate import check_file, format_report

    gen = None
    if genome is not None:
        from cislearn.io.genome import Genome

        gen = Genome(genome)
    reports = [
        check_file(f, genome=gen, fixed_length=fixed_length, iupac_to_n=iupac_to_n) for f in files
    ]
    failed = [r for r in reports if not r.ok]
    if len(reports) == 1 and failed:
        # One bad file: its first problem is the one-line error; the rest follow on stdout.
        report = failed[0]
        if len(report.problems) > 1:
            echo(format_report(report))
        typer.echo(f"cislearn: error: {report.problems[0]}", err=True)
        raise typer.Exit(2)
    for report in reports:
        echo(format_report(report))
    if failed:
        typer.echo(
            f"cislearn: error: {len(failed)} of {len(reports)} files have problems: "
            + ", ".join(r.path for r in failed),
            err=True,
        )
        raise typer.Exit(2)
    return 0


@app.command()
def prepare(
    peaks: Annotated[
        list[str],
        typer.Argument(
            help="narrowPeak or BED file(s) (0-based); several (NAME=PATH or PATH) give one "
            "label per experiment."
        ),
    ],
    genome: Annotated[Path, typer.Option(help="Reference genome FASTA (indexed if needed).")],
    out: Annotated[Path, typer.Option(help="Output folder.")],
    top: Annotated[int, typer.Option(help="Keep the strongest N peaks (0 = all).")] = 4000,
    width: Annotated[int, typer.Option(help="Window width around the summit.")] = 201,
    anchor: Annotated[
        Anchor, typer.Option(help="Centre windows on the summit or the centre.")
    ] = Anchor.summit,
    negatives: Annotated[NegMethod, typer.Option(help="Negative controls.")] = NegMethod.genomic,
    fold: Annotated[int, typer.Option(help="Negatives per positive.")] = 1,
    split: Annotated[
        SplitMethod, typer.Option(help="How to split train/valid/test.")
    ] = SplitMethod.random,
    valid_fraction: Annotated[float, typer.Option(help="Validation fraction.")] = 0.1,
    test_fraction: Annotated[float, typer.Option(help="Test fraction.")] = 0.2,
    valid_chroms: Annotated[
        str | None, typer.Option(help="Comma-separated validation chromosomes.")
    ] = None,
    test_chroms: Annotated[
        str | None, typer.Option(help="Comma-separated test chromosomes.")
    ] = None,
    seed: Annotated[int, seed_opt("Random seed.")] = 0,
    # -- issue 16: experiments and bigWig signals (cli/tracks.py) ---------------------------
    signal: Annotated[
        list[str] | None, typer.Option(help="NAME=track.bw: a continuous target (repeatable).")
    ] = None,
    signal_stat: Annotated[str, typer.Option(help="Signal per window: mean|sum|max.")] = "mean",
    signal_center: Annotated[
        int, typer.Option(help="Signal over the central N bp only (0 = whole window).")
    ] = 0,
    log1p: Annotated[bool, typer.Option("--log1p", help="log(1 + signal) targets.")] = False,
    missing: Annotated[
        str, typer.Option(help="Windows without signal (no data, no chromosome): zero|drop|error.")
    ] = "zero",
    profiles: Annotated[
        bool, typer.Option("--profiles", help="Also write base-resolution signal (profiles.npz).")
    ] = False,
    force: Force = False,
) -> int:
    """Peaks + genome → top-k windows, sequences, negatives, splits, written as FASTA + BED."""
    if len(peaks) > 1 or signal or "=" in peaks[0]:  # issue 16: experiments, signals
        from cislearn.cli.tracks import prepare_experiments

        return prepare_experiments(**locals())
    from cislearn.pipelines.prepare import prepare_run

    bars = epoch_bars()
    with out_dir(out, "prepare", force), bars:
        res = prepare_run(
            peaks[0],
            genome,
            out,
            top=top or None,
            width=width,
            anchor=anchor.value,
            negatives=negatives.value,
            fold=fold,
            split=split.value,
            valid_fraction=valid_fraction,
            test_fraction=test_fraction,
            valid_chroms=chroms(valid_chroms),
            test_chroms=chroms(test_chroms),
            seed=seed,
            progress=bars,
        )
    s = res.summary
    echo(
        f"{s['positives']} positives, {s['negatives']} negatives ({s['negative_method']}); "
        f"{s['dropped_off_chromosome']} windows off a chromosome dropped, "
        f"{s['duplicates_merged']} duplicates merged; written to {out}/"
    )
    return 0


@app.command()
def negatives(
    fasta: Annotated[Path, typer.Argument(help="Positive sequences (FASTA).")],
    out: Annotated[Path, typer.Option(help="Output FASTA of negatives.")],
    method: Annotated[
        NegMethod, typer.Option(help="shuffle (k-let preserving) or genomic.")
    ] = NegMethod.shuffle,
    genome: Annotated[
        Path | None, typer.Option(help="Genome FASTA (for --method genomic).")
    ] = None,
    exclude: Annotated[Path | None, typer.Option(help="BED of regions to avoid (genomic).")] = None,
    fold: Annotated[int, typer.Option(help="Negatives per input sequence.")] = 1,
    k: Annotated[int, typer.Option(help="k-let size preserved by the shuffle.")] = 2,
    seed: Annotated[int, seed_opt("Random seed.")] = 0,
    force: Force = False,
) -> int:
    """Negative controls: k-let shuffles, or GC/repeat-matched genomic background (+ QC)."""
    from cislearn.errors import ConfigError
    from cislearn.io.atomic import output_file
    from cislearn.pipelines.prepare import negatives_run

    output_file(out, force=force)
    if method is NegMethod.none:
        raise ConfigError("--method must be shuffle or genomic")
    bars = epoch_bars()
    try:
        res = negatives_run(
            fasta,
            out,
            method=method.value,
            genome=genome,
            exclude=exclude,
            fold=fold,
            k=k,
            seed=seed,
            progress=bars,
        )
    finally:
        bars.close()
    if res.qc_figure is None:
        echo(
            f"{count(res.n_negatives, f'{k}-let shuffle')} of "
            f"{count(res.n_inputs, 'sequence')} written to {out}"
        )
    else:
        echo(
            f"{count(res.n_negatives, 'genomic negative')} written to {out} "
            f"({res.n_unmatched} positives not matched exactly); QC in {res.qc_figure}"
        )
    return 0


@app.command()
def resize(
    fasta: Annotated[Path, typer.Argument(help="FASTA of sequences of several lengths.")],
    length: Annotated[int, typer.Option(help="Length (bp) of every output sequence.")],
    out: Annotated[Path, typer.Option(help="Output FASTA.")],
    force: Force = False,
) -> int:
    """Make every sequence LENGTH bp around its centre: longer ones are trimmed and shorter ones
    padded with N, the difference d split d // 2 on the left and the rest on the right."""
    from cislearn.io.atomic import output_file
    from cislearn.pipelines.prepare import resize_run

    res = resize_run(fasta, output_file(out, force=force), length=length)
    echo(
        f"{count(res.n_records, 'sequence')} of {length} bp written to {out} "
        f"({res.n_trimmed} trimmed, {res.n_padded} padded with N)"
    )
    return 0


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Output folder.")],
    n_positive: Annotated[
        int, typer.Option(help="Positive sequences (with motif implants).")
    ] = 1000,
    n_negative: Annotated[int, typer.Option(help="Negative sequences (background only).")] = 1000,
    length: Annotated[int, typer.Option(help="Sequence length.")] = 201,
    motif: Annotated[
        list[str] | None, typer.Option(help="JASPAR ids to implant (repeatable).")
    ] = None,
    seed: Annotated[int, seed_opt("Random seed.")] = 0,
    variants: Annotated[
        int, typer.Option(help="Also write this many SNVs with their true effect.")
    ] = 0,
    logistic: Annotated[
        bool,
        typer.Option(
            "--logistic",
            help="Labels drawn from sigmoid(0.5 * motif log-odds + c) instead of implants.",
        ),
    ] = False,
    force: Force = False,
) -> int:
    """Simulated demo data: Markov background with real JASPAR motifs implanted in positives.

    With ``--variants N`` it also writes ``genome.fa`` (each sequence as a contig between
    background flanks), ``variants.vcf`` (for ``score-variants``) and ``variants_truth.tsv``:
    each SNV's true effect, the change of ``Σ_m max(0, best log-odds of motif m)`` (with
    ``--logistic``, of the label logit that generated the data).
    """
    from cislearn.pipelines.demo import simulate_run

    with out_dir(out, "simulate", force):
        summary = simulate_run(
            out,
            n_positive=n_positive,
            n_negative=n_negative,
            length=length,
            motifs=tuple(motif or (("MA0035", "MA0080", "MA0148") if logistic else ("MA0139",))),
            seed=seed,
            variants=variants,
            logistic=logistic,
        )
    echo(
        f"{summary['positives']} positives with {', '.join(summary['motifs'])} implants and "
        f"{summary['negatives']} negatives written to {out}/"
    )
    return 0


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo_out"),
    seed: Annotated[int, seed_opt("Random seed.")] = 0,
    max_epochs: Annotated[int, typer.Option(help="Training epochs.")] = 10,
    force: Force = False,
) -> int:
    """The main job end to end on simulated data: simulate → split → train → evaluate → report."""
    from cislearn.pipelines.demo import demo_run

    bars = epoch_bars()
    with out_dir(out, "demo", force), bars:
        res = demo_run(out, seed=seed, max_epochs=max_epochs, progress=bars)
    summary = res.data_summary
    echo(
        f"demo data: {summary['positives']} positives with {', '.join(summary['motifs'])} "
        f"implants, {summary['negatives']} negatives, split "
        + ", ".join(f"{k} {sum(v.values())}" for k, v in sorted(summary["counts"].items()))
        + f" → {out}/data"
    )
    echo(metrics_line(res.run))
    echo(f"report: {res.run.report}")
    return 0
