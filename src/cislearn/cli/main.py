"""The `cislearn` command line: one subcommand per stage; parse → one library call → write.

Library modules are imported inside each command so that ``cislearn --help`` stays fast
(no numpy/pandas/torch import on that path).
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="cislearn",
    help="Deep learning on DNA sequences for regulatory genomics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text: rich formatting would add ~0.2 s to every `cislearn --help`.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class NegMethod(StrEnum):
    genomic = "genomic"
    shuffle = "shuffle"
    none = "none"


class SplitMethod(StrEnum):
    random = "random"
    chromosome = "chromosome"


class Anchor(StrEnum):
    summit = "summit"
    center = "center"


def _echo(text: str) -> None:
    typer.echo(text)


def _chroms(text: str | None) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip()) if text else ()


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
            _echo(format_report(report))
        typer.echo(f"cislearn: error: {report.problems[0]}", err=True)
        raise typer.Exit(2)
    for report in reports:
        _echo(format_report(report))
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
        valid_chroms=_chroms(valid_chroms),
        test_chroms=_chroms(test_chroms),
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
    _echo(
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
        _echo(f"{len(shuffled)} {k}-let shuffles of {len(seqs)} sequences written to {out}")
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
    _echo(
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
) -> int:
    """Simulated demo data: Markov background with real JASPAR motifs implanted in positives."""
    from cislearn.io.atomic import atomic_dir

    with atomic_dir(out) as tmp:
        summary = _simulate_into(
            tmp,
            n_positive=n_positive,
            n_negative=n_negative,
            length=length,
            motifs=tuple(motif or ("MA0139",)),
            seed=seed,
        )
    _echo(
        f"{summary['positives']} positives with {', '.join(summary['motifs'])} implants and "
        f"{summary['negatives']} negatives written to {out}/"
    )
    return 0


def _simulate_into(
    out: Path, *, n_positive: int, n_negative: int, length: int, motifs: tuple[str, ...], seed: int
) -> dict:
    """Simulate, split and write a demo dataset into ``out``; return its summary."""
    from cislearn.data import SequenceDataset, assign_split
    from cislearn.io.datasets import write_dataset_files
    from cislearn.io.tables import write_table
    from cislearn.prepare import dataset_summary
    from cislearn.simulate import simulate as run_simulation

    sim = run_simulation(
        n_positive=n_positive, n_negative=n_negative, length=length, motifs=motifs, seed=seed
    )
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
        "motifs": [m.label for m in sim.motifs],
        "length": length,
        "seed": seed,
        **dataset_summary(dataset),
    }
    write_dataset_files(dataset, out, summary=summary)
    write_table(out / "implants.tsv", sim.implants)
    return summary


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
    _echo(
        f"demo data: {summary['positives']} positives with {', '.join(summary['motifs'])} "
        f"implants, {summary['negatives']} negatives, split "
        + ", ".join(f"{k} {sum(v.values())}" for k, v in sorted(counts.items()))
        + f" → {out}/data"
    )
    dataset = load_dataset(out / "data" / "dataset.fa")
    config = resolve_config(
        {}, {"arch": "auto", "max_epochs": max_epochs, "seed": seed, "split": "given"}
    )
    bars = _epoch_bars()
    result = train_run(dataset, config, out / "run", progress=bars)
    bars.close()
    _echo(_metrics_line(result))
    _echo(f"report: {result.report}")
    return 0


# -- training commands ---------------------------------------------------------------------

_TRAIN_KEYS = (
    "arch",
    "task",
    "loss",
    "optimizer",
    "lr",
    "weight_decay",
    "momentum",
    "batch_size",
    "max_epochs",
    "patience",
    "monitor",
    "scheduler",
    "grad_clip",
    "class_weights",
    "rc_augment",
    "rc_average",
    "seed",
    "deterministic",
    "accelerator",
    "devices",
    "num_nodes",
    "strategy",
    "precision",
    "num_threads",
    "split",
    "valid_fraction",
    "test_fraction",
    "valid_chroms",
    "test_chroms",
    "init",
)


def _parse_set(items: list[str] | None) -> dict:
    """``--set model.filters=64 --set lr=0.01`` → nested overrides (values parsed as YAML)."""
    import yaml

    from cislearn.errors import ConfigError

    out: dict = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE (e.g. model.filters=64); got '{item}'")
        value = yaml.safe_load(text)
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _train_config(config: Path | None, given: dict, sets: list[str] | None):
    from cislearn.config import load_config, resolve_config

    overrides = {k: given[k] for k in _TRAIN_KEYS if given.get(k) is not None}
    for key in ("valid_chroms", "test_chroms"):
        if key in overrides:
            overrides[key] = _chroms(overrides[key])
    if isinstance(overrides.get("devices"), str) and overrides["devices"].isdigit():
        overrides["devices"] = int(overrides["devices"])
    for key, value in _parse_set(sets).items():
        if key == "model" and isinstance(overrides.get("model"), dict):
            overrides["model"].update(value)
        else:
            overrides[key] = value
    file_values = load_config(config) if config is not None else {}
    return resolve_config(file_values, overrides, source=str(config) if config else None)


def _epoch_bars():
    from cislearn.cli.progress import ProgressBars

    return ProgressBars()


Opt = typer.Option


@app.command()
def train(
    out: Annotated[Path, Opt(help="Run folder to write.")],
    data: Annotated[Path | None, Opt(help="DeepBIO FASTA or table.")] = None,
    pos: Annotated[Path | None, Opt(help="Positive FASTA.")] = None,
    neg: Annotated[Path | None, Opt(help="Negative FASTA.")] = None,
    config: Annotated[Path | None, Opt(help="YAML/JSON config; flags override it.")] = None,
    arch: Annotated[str | None, Opt(help="Architecture, or 'auto' for the default.")] = None,
    task: Annotated[str | None, Opt(help="binary|multilabel|multiclass|regression|counts")] = None,
    loss: Annotated[str | None, Opt(help="Regression loss: mse|mae|huber.")] = None,
    optimizer: Annotated[str | None, Opt(help="sgd|adam|adamw|rmsprop")] = None,
    lr: Annotated[float | None, Opt(help="Learning rate.")] = None,
    weight_decay: Annotated[float | None, Opt(help="Weight decay.")] = None,
    momentum: Annotated[float | None, Opt(help="SGD momentum.")] = None,
    batch_size: Annotated[int | None, Opt(help="Batch size.")] = None,
    max_epochs: Annotated[int | None, Opt(help="Maximum epochs.")] = None,
    patience: Annotated[int | None, Opt(help="Early-stopping patience (epochs).")] = None,
    monitor: Annotated[str | None, Opt(help="Metric for early stopping/best model.")] = None,
    scheduler: Annotated[str | None, Opt(help="none|plateau|cosine")] = None,
    grad_clip: Annotated[float | None, Opt(help="Gradient-norm clip.")] = None,
    class_weights: Annotated[bool | None, Opt(help="Weight classes by frequency.")] = None,
    rc_augment: Annotated[bool | None, Opt(help="Reverse-complement augmentation.")] = None,
    rc_average: Annotated[bool | None, Opt(help="Average predictions over both strands.")] = None,
    seed: Annotated[int | None, Opt(help="Random seed.")] = None,
    deterministic: Annotated[bool | None, Opt(help="Deterministic algorithms.")] = None,
    accelerator: Annotated[str | None, Opt(help="auto|cpu|gpu")] = None,
    devices: Annotated[str | None, Opt(help="Number of devices, or 'auto'.")] = None,
    num_nodes: Annotated[int | None, Opt(help="Nodes for multi-node DDP.")] = None,
    strategy: Annotated[str | None, Opt(help="auto|ddp")] = None,
    precision: Annotated[str | None, Opt(help="auto|32-true|16-mixed|bf16-mixed")] = None,
    num_threads: Annotated[int | None, Opt(help="CPU threads.")] = None,
    split: Annotated[str | None, Opt(help="random|chromosome|given")] = None,
    valid_fraction: Annotated[float | None, Opt(help="Validation fraction.")] = None,
    test_fraction: Annotated[float | None, Opt(help="Test fraction.")] = None,
    valid_chroms: Annotated[str | None, Opt(help="Comma-separated validation chroms.")] = None,
    test_chroms: Annotated[str | None, Opt(help="Comma-separated test chroms.")] = None,
    init: Annotated[str | None, Opt(help="Pretrained bundle to start from.")] = None,
    set_: Annotated[
        list[str] | None, Opt("--set", help="KEY=VALUE, e.g. model.filters=64.")
    ] = None,
    resume: Annotated[bool, Opt("--resume", help="Continue an interrupted run.")] = False,
) -> int:
    """Train a model and write a run folder: bundle, metrics, predictions, figures, report."""
    from cislearn.data import load_dataset
    from cislearn.runs import train_run

    cfg = _train_config(config, locals(), set_)
    dataset = load_dataset(data, pos=pos, neg=neg)
    bars = _epoch_bars()
    result = train_run(dataset, cfg, out, resume=resume, progress=bars)
    bars.close()
    if not result.metrics:  # a DDP rank other than 0: rank 0 reports
        return 0
    _echo(_metrics_line(result))
    for note in result.notes:
        _echo(f"note: {note}")
    if result.shortcut is not None and result.shortcut.warning:
        _echo(f"warning: {result.shortcut.warning}")
    _echo(f"report: {result.report}")
    return 0


def _metrics_line(result) -> str:
    parts = []
    for target, values in result.metrics.items():
        shown = [
            f"{k}={values[k]:.3f}"
            for k in ("auroc", "auprc", "accuracy", "pearson", "spearman")
            if isinstance(values, dict) and isinstance(values.get(k), float)
        ]
        parts.append(f"{target}: " + " ".join(shown))
    if result.shortcut is not None and result.shortcut.auroc is not None:
        parts.append(f"composition-only auroc={result.shortcut.auroc:.3f}")
    return "held-out " + "; ".join(parts)


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder.")],
    out: Annotated[Path, Opt(help="Folder for metrics, figures and report.")],
    data: Annotated[Path | None, Opt(help="DeepBIO FASTA or table.")] = None,
    pos: Annotated[Path | None, Opt(help="Positive FASTA.")] = None,
    neg: Annotated[Path | None, Opt(help="Negative FASTA.")] = None,
) -> int:
    """Evaluate a trained run on labelled data (every record)."""
    from cislearn.data import load_dataset
    from cislearn.runs import evaluate_run

    result = evaluate_run(run, load_dataset(data, pos=pos, neg=neg), out)
    _echo(_metrics_line(result))
    _echo(f"report: {result.report}")
    return 0


@app.command()
def predict(
    run: Annotated[Path, typer.Argument(help="Run folder.")],
    fasta: Annotated[Path, typer.Argument(help="FASTA of sequences of the model's length.")],
    out: Annotated[Path, Opt(help="Output TSV.")],
    batch_size: Annotated[
        int | None, Opt(help="Sequences per forward pass (default: 128 on CPU, 1024 on GPU).")
    ] = None,
    output: Annotated[str, Opt(help="both|prob|logit")] = "both",
    rc_average: Annotated[bool | None, Opt(help="Average over both strands.")] = None,
) -> int:
    """Predict sequences from a FASTA file with a trained run (streaming, batched)."""
    from cislearn.io.atomic import atomic_write
    from cislearn.io.fasta import read_fasta
    from cislearn.predict import load, predict_records

    predictor = load(run)
    bars = _epoch_bars()
    n = 0
    with atomic_write(out) as fh:
        for i, chunk in enumerate(
            predict_records(
                predictor,
                read_fasta(fasta),
                batch_size=batch_size,
                output=output,
                rc_average=rc_average,
                path=fasta,
                progress=bars,
            )
        ):
            chunk.to_csv(fh, sep="\t", index=False, header=i == 0, float_format="%.6g")
            n += len(chunk)
    bars.close()
    _echo(f"{n} predictions written to {out}")
    return 0


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders.")],
    out: Annotated[Path, Opt(help="Folder for the table, figures and comparison.html.")],
) -> int:
    """Compare runs: one metrics table and overlaid ROC and PR figures."""
    from cislearn.runs import compare_runs_dir

    table, html = compare_runs_dir(list(runs), out)
    cols = [c for c in ("run", "target", "auroc", "auprc", "accuracy", "pearson") if c in table]
    _echo(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    _echo(f"comparison: {html}")
    return 0


@app.command()
def summary(
    arch_or_run: Annotated[str, typer.Argument(help="Architecture name or run folder.")],
    length: Annotated[int, Opt(help="Input length.")] = 201,
    n_outputs: Annotated[int, Opt(help="Outputs (for an architecture name).")] = 1,
    n_tracks: Annotated[int, Opt(help="Extra input tracks (for an architecture name).")] = 0,
    set_: Annotated[list[str] | None, Opt("--set", help="model.KEY=VALUE")] = None,
) -> int:
    """Keras-like table of layers, output shapes and parameter counts."""
    from cislearn.models.summary import summarize

    if Path(arch_or_run).is_dir():
        from cislearn.predict import load

        predictor = load(arch_or_run)
        model, length, n_tracks = predictor.model, predictor.length, predictor.n_tracks
    else:
        from cislearn.config import DEFAULT_ARCH
        from cislearn.models.registry import build_model

        arch = DEFAULT_ARCH if arch_or_run == "auto" else arch_or_run
        params = _parse_set(set_).get("model", {})
        model = build_model(arch, params, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
    _echo(summarize(model, length=length, n_tracks=n_tracks))
    return 0


@app.command()
def pretrain(
    fasta: Annotated[Path, typer.Argument(help="Unlabelled FASTA (one length).")],
    out: Annotated[Path, Opt(help="Bundle folder to write.")],
    config: Annotated[Path | None, Opt(help="YAML/JSON config.")] = None,
    max_epochs: Annotated[int | None, Opt(help="Maximum epochs.")] = None,
    batch_size: Annotated[int | None, Opt(help="Batch size.")] = None,
    lr: Annotated[float | None, Opt(help="Learning rate.")] = None,
    seed: Annotated[int | None, Opt(help="Random seed.")] = None,
    mask_fraction: Annotated[float, Opt(help="Fraction of tokens masked.")] = 0.15,
    set_: Annotated[list[str] | None, Opt("--set", help="KEY=VALUE, e.g. model.k=4.")] = None,
) -> int:
    """Pretrain a k-mer transformer as a masked language model; fine-tune with train --init."""
    from cislearn.io.bundle import save_bundle
    from cislearn.io.fasta import read_fasta
    from cislearn.pretrain import pretrain as run_pretrain

    given = {
        "max_epochs": max_epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "arch": "transformer",
    }
    cfg = _train_config(config, given, set_)
    seqs = [r.sequence for r in read_fasta(fasta)]
    bars = _epoch_bars()
    result = run_pretrain(seqs, cfg, workdir=out, mask_fraction=mask_fraction, progress=bars)
    bars.close()
    save_bundle(out, result.model.state_dict(), result.meta)
    _echo(f"pretrained transformer written to {out} (best epoch {result.best_epoch})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI in-process and return its exit code (errors → one line on stderr, exit 2)."""
    from cislearn.errors import CislearnError

    logging.basicConfig(level=logging.WARNING, format="cislearn: %(levelname)s: %(message)s")
    try:
        # Standalone mode: typer/click print usage errors themselves and exit 2.
        app(args=argv, prog_name="cislearn", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CislearnError as exc:
        typer.echo(f"cislearn: error: {exc}", err=True)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError) as exc:
        name = f"{exc.filename}: " if exc.filename is not None else ""
        typer.echo(f"cislearn: error: {name}{exc.strerror or exc}", err=True)
        return 2
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
