"""CLI commands for classical baselines: baseline (one model) and benchmark (the panel)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cislearn.cli.app import (
    DROP_HELP,
    VALID_HELP,
    Force,
    Opt,
    app,
    chroms,
    echo,
    echo_notes,
    epoch_bars,
    metrics_line,
    out_dir,
    seed_opt,
)


@app.command()
def baseline(
    out: Annotated[Path, Opt(help="Run folder to write.")],
    data: Annotated[Path | None, Opt(help="DeepBIO FASTA or table.")] = None,
    pos: Annotated[Path | None, Opt(help="Positive FASTA.")] = None,
    neg: Annotated[Path | None, Opt(help="Negative FASTA.")] = None,
    features: Annotated[
        str,
        Opt(
            help="Comma-separated blocks: kmer:K[:rc], gapped:K:M[:rc], composition[:123], "
            "motifs[:JASPARyyyy or a MEME/JASPAR/TRANSFAC file], bigwig:NAME=track.bw "
            "(windows from ids chrom:start-end)."
        ),
    ] = "motifs",
    model: Annotated[str, Opt(help="lasso|ridge|rf|svm")] = "lasso",
    task: Annotated[str, Opt(help="auto|binary|multilabel|regression")] = "auto",
    split: Annotated[str, Opt(help="random|chromosome|given")] = "random",
    valid_fraction: Annotated[float, Opt(help=VALID_HELP)] = 0.1,
    test_fraction: Annotated[float, Opt(help="Test fraction.")] = 0.2,
    seed: Annotated[int, seed_opt("Random seed (split, folds, forest).")] = 0,
    targets: Annotated[str | None, Opt(help="Comma-separated target columns of a table.")] = None,
    drop_leaked: Annotated[bool, Opt("--drop-leaked", help=DROP_HELP)] = False,
    force: Force = False,
) -> int:
    """Fit a classical baseline (k-mer, gapped k-mer, composition, JASPAR-motif features with
    lasso, random forest or linear SVM) and write a run folder like `cislearn train`."""
    from cislearn.data import load_dataset
    from cislearn.pipelines.panel import baseline_run

    with out_dir(out, "baseline", force):
        dataset = load_dataset(data, pos=pos, neg=neg, targets=chroms(targets) or None)
        bars = epoch_bars()
        try:
            result = baseline_run(
                dataset,
                out,
                features=features,
                model=model,
                task=task,
                split=split,
                valid_fraction=valid_fraction,
                test_fraction=test_fraction,
                seed=seed,
                drop_leaked=drop_leaked,
                progress=bars,
            )
        finally:
            bars.close()
    echo(metrics_line(result))
    echo_notes(result.notes)
    echo(f"report: {result.report}")
    return 0


@app.command()
def benchmark(
    out: Annotated[Path, Opt(help="Folder for one run per model and the comparison.")],
    data: Annotated[Path | None, Opt(help="DeepBIO FASTA or table.")] = None,
    pos: Annotated[Path | None, Opt(help="Positive FASTA.")] = None,
    neg: Annotated[Path | None, Opt(help="Negative FASTA.")] = None,
    models: Annotated[
        str | None,
        Opt(
            help="Comma-separated subset of: lasso_6mer, lasso_gapped, lasso_motifs, "
            "rf_motifs, composition, cnn, default (all by default)."
        ),
    ] = None,
    max_epochs: Annotated[int | None, Opt(help="Epoch limit of the deep models.")] = None,
    split: Annotated[str, Opt(help="random|chromosome|given")] = "random",
    valid_fraction: Annotated[float, Opt(help=VALID_HELP)] = 0.1,
    test_fraction: Annotated[float, Opt(help="Test fraction.")] = 0.2,
    seed: Annotated[int, seed_opt("Random seed.")] = 0,
    targets: Annotated[str | None, Opt(help="Comma-separated target columns of a table.")] = None,
    folds: Annotated[
        int | None, Opt(help="K chromosome folds: the panel per fold and a mean ± sd summary.")
    ] = None,
    drop_leaked: Annotated[bool, Opt("--drop-leaked", help=DROP_HELP)] = False,
    force: Force = False,
) -> int:
    """Train the standard panel of baselines and deep models on one split and compare them."""
    from cislearn.data import load_dataset
    from cislearn.pipelines.panel import benchmark_panel

    chosen = [m.strip() for m in models.split(",") if m.strip()] if models else None
    if folds:  # issue 16: cross-validation by chromosome (cli/folds.py)
        from cislearn.cli.folds import benchmark_with_folds

        dataset = load_dataset(data, pos=pos, neg=neg, targets=chroms(targets) or None)
        return benchmark_with_folds(
            dataset, out, k=folds, force=force, models=chosen, max_epochs=max_epochs, seed=seed
        )
    with out_dir(out, "benchmark", force):
        dataset = load_dataset(data, pos=pos, neg=neg, targets=chroms(targets) or None)
        bars = epoch_bars()
        try:
            result = benchmark_panel(
                dataset,
                out,
                models=chosen,
                max_epochs=max_epochs,
                split=split,
                valid_fraction=valid_fraction,
                test_fraction=test_fraction,
                seed=seed,
                drop_leaked=drop_leaked,
                progress=bars,
            )
        finally:
            bars.close()
    cols = [
        c for c in ("run", "target", "auroc", "auprc", "accuracy", "pearson") if c in result.table
    ]
    echo(result.table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    shared = set.intersection(*(set(r.notes) for r in result.runs.values()))
    echo_notes([n for n in next(iter(result.runs.values())).notes if n in shared])
    for name, run in result.runs.items():
        echo_notes([f"{name}: {n}" for n in run.notes if n not in shared])
    echo(f"comparison: {result.comparison}")
    return 0
