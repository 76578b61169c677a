"""CLI commands for input data: check, prepare, negatives, simulate, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cislearn.cli.app import (
    Anchor,
    NegMethod,
    SplitMethod,
    app,
    chroms,
    echo,
    epoch_bars,
    metrics_line,
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
    peaks: Annotated[Path, typer.Argument(help="narrowPeak or BED file (0-based).")],
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
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> int:
    """Peaks + genome → top-k windows, sequences, negatives, splits, written as FASTA + BED."""
    from cislearn.cli.progress import ProgressBars
    from cislearn.io.atomic import atomic_dir
    from cislearn.io.bed import read_bed
    from cislearn.io.datasets import write_dataset_files
    from cislearn.io.genome import Genome
    from cislearn.prepare import prepare_peaks
    from cislearn.report.qc import plot_background_qc

    frame = read_bed(peaks)
    gen = Genome(genome)
    bars = ProgressBars()
    prepared = prepare_peaks(
        frame,
        gen,
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
        source=str(peaks),
        progress=bars,
    )
    bars.close()
    with atomic_dir(out) as tmp:
        write_dataset_files(
            prepared.dataset, tmp, regions=prepared.regions, summary=prepared.summary
        )
        stats = prepared.stats
        plot_background_qc(stats[stats["label"] == 1], stats[stats["label"] == 0], tmp / "qc.png")
    s = prepared.summary
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
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> int:
    """Negative controls: k-let shuffles, or GC/repeat-matched genomic background (+ QC)."""
    from cislearn.errors import ConfigError
    from cislearn.io.fasta import read_fasta, write_fasta

    records = list(read_fasta(fasta))
    seqs = [r.sequence for r in records]
    if method is NegMethod.shuffle:
        from cislearn.negatives import kshuffle

        shuffled = kshuffle(seqs, k=k, n_shuffles=fold, seed=seed)
        ids = [f"shuf{j + 1}:{r.id}" for r in records for j in range(fold)]
        write_fasta(out, zip(ids, shuffled, strict=True))
        echo(f"{len(shuffled)} {k}-let shuffles of {len(seqs)} sequences written to {out}")
        return 0
    if method is NegMethod.none:
        raise ConfigError("--method must be shuffle or genomic")
    if genome is None:
        raise ConfigError("--method genomic needs --genome G.fa")
    from cislearn.cli.progress import ProgressBars
    from cislearn.io.bed import read_bed, write_bed
    from cislearn.io.genome import Genome
    from cislearn.io.tables import write_table
    from cislearn.negatives import genomic_background, sequence_stats
    from cislearn.report.qc import plot_background_qc

    bars = ProgressBars()
    bg = genomic_background(
        seqs,
        Genome(genome),
        exclude=read_bed(exclude) if exclude is not None else None,
        fold=fold,
        seed=seed,
        progress=bars,
    )
    bars.close()
    stem = out.with_name(out.name.removesuffix(".gz").rsplit(".", 1)[0])
    frame = bg.intervals
    names = [f"{c}:{s}-{e}" for c, s, e in frame[["chrom", "start", "end"]].itertuples(False)]
    write_fasta(out, zip(names, bg.sequences, strict=True))
    write_bed(stem.with_suffix(".bed"), frame.assign(name=names))
    write_table(stem.with_suffix(".qc.tsv"), bg.qc)
    plot_background_qc(
        sequence_stats(seqs), sequence_stats(bg.sequences), stem.with_suffix(".qc.png")
    )
    echo(
        f"{len(bg.sequences)} genomic negatives written to {out} "
        f"({bg.n_unmatched} positives not matched exactly); QC in {stem}.qc.png"
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
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
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
) -> int:
    """Simulated demo data: Markov background with real JASPAR motifs implanted in positives.

    With ``--variants N`` it also writes ``genome.fa`` (each sequence as a contig between
    background flanks), ``variants.vcf`` (for ``score-variants``) and ``variants_truth.tsv``:
    each SNV's true effect, the change of ``Σ_m max(0, best log-odds of motif m)`` (with
    ``--logistic``, of the label logit that generated the data).
    """
    from cislearn.io.atomic import atomic_dir

    with atomic_dir(out) as tmp:
        summary = _simulate_into(
            tmp,
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


def _simulate_into(
    out: Path,
    *,
    n_positive: int,
    n_negative: int,
    length: int,
    motifs: tuple[str, ...],
    seed: int,
    variants: int = 0,
    logistic: bool = False,
) -> dict:
    """Simulate, split and write a demo dataset into ``out``; return its summary."""
    from cislearn.data import SequenceDataset, assign_split
    from cislearn.io.datasets import write_dataset_files
    from cislearn.io.tables import write_table
    from cislearn.prepare import dataset_summary
    from cislearn.simsets import implant_model, logistic_set
    from cislearn.simulate import simulate as run_simulation

    if logistic:
        sim, truth = logistic_set(
            n=n_positive + n_negative, length=length, motifs=motifs, seed=seed
        )
    else:
        sim = run_simulation(
            n_positive=n_positive, n_negative=n_negative, length=length, motifs=motifs, seed=seed
        )
        truth = implant_model(sim.motifs)
    dataset = assign_split(
        SequenceDataset.from_arrays(
            sim.sequences, sim.labels, ids=sim.ids, provenance={"method": "simulate"}
        ),
        method="random",
        seed=seed,
    )
    summary = {
        "positives": int((sim.labels == 1).sum()),
        "negatives": int((sim.labels == 0).sum()),
        "motifs": [m.label for m in truth.motifs],
        "length": length,
        "seed": seed,
        **dataset_summary(dataset),
    }
    write_dataset_files(dataset, out, summary=summary)
    write_table(out / "implants.tsv", sim.implants)
    if variants:
        _write_variants(out, sim, truth, n=variants, seed=seed)
        summary["variants"] = variants
    return summary


def _write_variants(out: Path, sim: object, truth: object, *, n: int, seed: int) -> None:
    """``genome.fa`` (sequences between background flanks), ``variants.vcf``, truth table."""
    from cislearn.io.fasta import write_fasta
    from cislearn.io.tables import write_table
    from cislearn.io.vcf import InfoField, write_vcf
    from cislearn.simsets import simulated_snvs
    from cislearn.simulate import markov_background

    seqs, ids = list(sim.sequences), list(sim.ids)  # type: ignore[attr-defined]
    table = simulated_snvs(seqs, ids, sim.implants, truth, n=n, seed=seed)  # type: ignore
    flank = len(seqs[0]) // 2 + 1  # a centred window never reaches past a contig
    pads = markov_background(2 * len(seqs), flank, seed=seed + 7)
    write_fasta(
        out / "genome.fa",
        (
            (i, pads[2 * k] + s + pads[2 * k + 1])
            for k, (i, s) in enumerate(zip(ids, seqs, strict=True))
        ),
    )
    table = table.assign(pos=table["pos"] + flank)
    info = [
        InfoField("TRUE_EFFECT", "1", "Float", "Change of the generative model's score"),
        InfoField("IN_MOTIF", "0", "Flag", "Inside an implanted motif instance"),
    ]
    rows = [
        (
            r.chrom,
            int(r.pos),
            r.id,
            r.ref,
            r.alt,
            {"TRUE_EFFECT": float(r.true_effect), "IN_MOTIF": bool(r.in_motif)},
        )
        for r in table.itertuples()
    ]
    contigs = {i: len(s) + 2 * flank for i, s in zip(ids, seqs, strict=True)}
    write_vcf(out / "variants.vcf", [rows], info=info, contigs=contigs)
    write_table(out / "variants_truth.tsv", table)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo_out"),
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    max_epochs: Annotated[int, typer.Option(help="Training epochs.")] = 10,
) -> int:
    """The main job end to end on simulated data: simulate → split → train → evaluate → report."""
    from cislearn.config import resolve_config
    from cislearn.data import load_dataset
    from cislearn.runs import train_run

    out.mkdir(parents=True, exist_ok=True)
    summary = _simulate_into(
        out / "data", n_positive=2000, n_negative=2000, length=201, motifs=("MA0139",), seed=seed
    )
    counts = summary["counts"]
    echo(
        f"demo data: {summary['positives']} positives with {', '.join(summary['motifs'])} "
        f"implants, {summary['negatives']} negatives, split "
        + ", ".join(f"{k} {sum(v.values())}" for k, v in sorted(counts.items()))
        + f" → {out}/data"
    )
    dataset = load_dataset(out / "data" / "dataset.fa")
    config = resolve_config(
        {}, {"arch": "auto", "max_epochs": max_epochs, "seed": seed, "split": "given"}
    )
    bars = epoch_bars()
    result = train_run(dataset, config, out / "run", progress=bars)
    bars.close()
    echo(metrics_line(result))
    echo(f"report: {result.report}")
    return 0


# -- training commands ---------------------------------------------------------------------
