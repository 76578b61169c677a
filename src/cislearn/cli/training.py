"""CLI commands for models: train, evaluate, predict, compare, summary, pretrain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cislearn.cli import hardware as hw
from cislearn.cli.app import (
    ARCHS,
    DROP_HELP,
    VALID_HELP,
    Force,
    Opt,
    app,
    chroms,
    count,
    echo,
    echo_notes,
    epoch_bars,
    key_opt,
    metrics_line,
    out_dir,
    parse_set,
    seed_opt,
    train_config,
)
from cislearn.config import DEFAULT_ARCH, MONITORS
from cislearn.types import TASKS

#: Parameters of ``train`` that are not ``TrainConfig`` keys; all others are (a test checks it).
TRAIN_INPUTS = ("out", "data", "pos", "neg", "config", "set_", "resume") + (
    # issue 16: what to read and how to run it (targets, input tracks, chromosome folds)
    "targets",
    "input_track",
    "input_log1p",
    "folds",
    "force",
)


def _train_data(
    data: Path | None,
    pos: Path | None,
    neg: Path | None,
    targets: str | None,
    input_track: list[str] | None,
    input_log1p: bool,
):
    """The training records, with issue 16's target columns and per-base input tracks."""
    from cislearn.data import load_dataset

    dataset = load_dataset(data, pos=pos, neg=neg, targets=chroms(targets) or None)
    if input_track:  # per-base inputs from bigWig
        from cislearn.pipelines.input_tracks import attach_input_tracks
        from cislearn.tracks import parse_named

        paths = parse_named(input_track, what="--input-track")
        dataset = attach_input_tracks(dataset, data, paths, log1p=input_log1p)
    return dataset


@app.command()
def train(
    out: Annotated[Path, Opt(help="Run folder to write.")],
    data: Annotated[Path | None, Opt(help="DeepBIO FASTA or table.")] = None,
    pos: Annotated[Path | None, Opt(help="Positive FASTA.")] = None,
    neg: Annotated[Path | None, Opt(help="Negative FASTA.")] = None,
    targets: Annotated[str | None, Opt(help="Comma-separated target columns of a table.")] = None,
    config: Annotated[Path | None, Opt(help="YAML/JSON config; flags override it.")] = None,
    arch: Annotated[
        str | None,
        key_opt(f"Architecture ('auto': the default, {DEFAULT_ARCH}).", "auto", ("auto", *ARCHS)),
    ] = None,
    task: Annotated[
        str | None, key_opt("Task ('auto': inferred from the targets).", "auto", ("auto", *TASKS))
    ] = None,
    loss: Annotated[
        str | None, key_opt("Regression loss (default: mse).", None, ("mse", "mae", "huber"))
    ] = None,
    optimizer: Annotated[
        str | None, key_opt("Optimiser.", "adam", ("sgd", "adam", "adamw", "rmsprop"))
    ] = None,
    lr: Annotated[float | None, key_opt("Learning rate.", 0.001)] = None,
    weight_decay: Annotated[float | None, key_opt("Weight decay.", 0.0)] = None,
    momentum: Annotated[float | None, key_opt("Momentum of SGD and RMSprop.", 0.9)] = None,
    batch_size: Annotated[int | None, key_opt("Batch size.", 32)] = None,
    max_epochs: Annotated[
        int | None, key_opt("Maximum epochs (40 for the default model, --arch auto).", 20)
    ] = None,
    patience: Annotated[
        int | None, key_opt("Early-stopping patience (epochs; 0: never stop early).", 5)
    ] = None,
    monitor: Annotated[
        str | None,
        key_opt(
            "Metric for early stopping and the best model ('auto': valid_auroc for "
            "classification, valid_loss otherwise).",
            "auto",
            MONITORS,
        ),
    ] = None,
    scheduler: Annotated[
        str | None, key_opt("Learning-rate schedule.", "none", ("none", "plateau", "cosine"))
    ] = None,
    grad_clip: Annotated[float | None, key_opt("Gradient-norm clip (default: none).")] = None,
    class_weights: Annotated[bool | None, key_opt("Weight classes by frequency.", False)] = None,
    rc_augment: Annotated[bool | None, key_opt("Reverse-complement augmentation.", False)] = None,
    rc_average: Annotated[
        bool | None, key_opt("Average predictions over both strands.", False)
    ] = None,
    seed: Annotated[int | None, seed_opt("Random seed.", 0)] = None,
    deterministic: Annotated[bool | None, key_opt("Deterministic algorithms.", False)] = None,
    accelerator: Annotated[str | None, key_opt("Hardware.", "auto", ("auto", "cpu", "gpu"))] = None,
    devices: Annotated[str | None, key_opt("Number of devices, or 'auto'.", "auto")] = None,
    num_nodes: Annotated[int | None, key_opt("Nodes for multi-node DDP.", 1)] = None,
    strategy: Annotated[
        str | None, key_opt("Distribution strategy.", "auto", ("auto", "ddp"))
    ] = None,
    precision: Annotated[
        str | None,
        key_opt("Float precision.", "auto", ("auto", "32-true", "16-mixed", "bf16-mixed")),
    ] = None,
    num_threads: Annotated[int | None, key_opt("CPU threads (default: all cores).")] = None,
    split: Annotated[
        str | None, key_opt("How records are split.", "random", ("random", "chromosome", "given"))
    ] = None,
    valid_fraction: Annotated[float | None, key_opt(VALID_HELP, 0.1)] = None,
    test_fraction: Annotated[float | None, key_opt("Test fraction.", 0.2)] = None,
    valid_chroms: Annotated[
        str | None, key_opt("Comma-separated validation chromosomes (split chromosome).")
    ] = None,
    test_chroms: Annotated[
        str | None, key_opt("Comma-separated test chromosomes (split chromosome).")
    ] = None,
    drop_leaked: Annotated[bool | None, key_opt(DROP_HELP, False)] = None,
    init: Annotated[str | None, key_opt("Pretrained bundle to start from.")] = None,
    set_: Annotated[
        list[str] | None, Opt("--set", help="KEY=VALUE, e.g. model.filters=64.")
    ] = None,
    resume: Annotated[bool, Opt("--resume", help="Continue an interrupted run.")] = False,
    folds: Annotated[
        int | None, Opt(help="K chromosome folds: one run per fold and a mean ± sd summary.")
    ] = None,
    input_track: Annotated[
        list[str] | None, Opt(help="NAME=track.bw: per-base input for hybrid (repeatable).")
    ] = None,
    input_log1p: Annotated[bool, Opt("--input-log1p", help="log(1 + x) input tracks.")] = False,
    force: Force = False,
) -> int:
    """Train a model and write a run folder: bundle, metrics, predictions, figures, report."""
    from cislearn.pipelines.train import train_run

    cfg = train_config(config, locals(), set_)
    if folds:  # issue 16: cross-validation by chromosome (cli/folds.py)
        from cislearn.cli.folds import train_with_folds

        return train_with_folds(
            _train_data(data, pos, neg, targets, input_track, input_log1p),
            cfg,
            out,
            k=folds,
            force=force,
        )
    with out_dir(out, "train", force, resume=resume, keep="checkpoints/last.ckpt"):
        dataset = _train_data(data, pos, neg, targets, input_track, input_log1p)
        bars = epoch_bars()
        try:
            result = train_run(dataset, cfg, out, resume=resume, progress=bars)
        finally:
            bars.close()
    if not result.metrics:  # a DDP rank other than 0: rank 0 reports
        return 0
    echo(metrics_line(result))
    echo_notes(result.notes)
    if result.shortcut is not None and result.shortcut.warning:
        echo(f"warning: {result.shortcut.warning}")
    echo(f"report: {result.report}")
    return 0


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder.")],
    out: Annotated[Path, Opt(help="Folder for metrics, figures and report.")],
    data: Annotated[Path | None, Opt(help="DeepBIO FASTA or table.")] = None,
    pos: Annotated[Path | None, Opt(help="Positive FASTA.")] = None,
    neg: Annotated[Path | None, Opt(help="Negative FASTA.")] = None,
    targets: Annotated[str | None, Opt(help="Comma-separated target columns of a table.")] = None,
    force: Force = False,
) -> int:
    """Evaluate a trained run on labelled data (every record)."""
    from cislearn.data import load_dataset
    from cislearn.pipelines.train import evaluate_run

    with out_dir(out, "evaluate", force):
        dataset = load_dataset(data, pos=pos, neg=neg, targets=chroms(targets) or None)
        result = evaluate_run(run, dataset, out)
    echo(metrics_line(result))
    echo(f"report: {result.report}")
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
    input_track: Annotated[
        list[str] | None, Opt(help="NAME=track.bw for a model with input tracks.")
    ] = None,
    chunk_size: Annotated[int, Opt(help="Records per work item (split over processes).")] = 16384,
    accelerator: hw.Accelerator = "auto",
    devices: hw.Devices = "auto",
    num_nodes: hw.NumNodes = 1,
    strategy: hw.Strategy = "auto",
    precision: hw.Precision = "auto",
    num_threads: hw.NumThreads = None,
    force: Force = False,
) -> int:
    """Predict sequences from a FASTA file with a trained run (streaming, batched)."""
    from cislearn.io.atomic import output_file
    from cislearn.pipelines.predict import predict_run
    from cislearn.tracks import parse_named

    output_file(out, force=force)
    bars = epoch_bars()
    try:
        res = predict_run(
            run, fasta, out, batch_size=batch_size, output=output, rc_average=rc_average,
            input_tracks=parse_named(input_track or [], what="--input-track"), progress=bars,
            chunk_size=chunk_size,
            hardware=hw.hardware(accelerator, devices, num_nodes, strategy, precision, num_threads),
        )  # fmt: skip
    finally:
        bars.close()
    if res is None:  # a DDP rank other than 0: rank 0 writes and reports
        return 0
    echo(f"{count(res.n_predictions, 'prediction')} written to {out}")
    return 0


@app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run folders.")],
    out: Annotated[Path, Opt(help="Folder for the table, figures and comparison.html.")],
    force: Force = False,
) -> int:
    """Compare runs: one metrics table and overlaid ROC and PR figures."""
    from cislearn.pipelines.train import compare_runs_dir

    with out_dir(out, "compare", force):
        table, html = compare_runs_dir(list(runs), out)
    cols = [c for c in ("run", "target", "auroc", "auprc", "accuracy", "pearson") if c in table]
    echo(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    echo(f"comparison: {html}")
    return 0


@app.command()
def summary(
    arch_or_run: Annotated[
        str,
        typer.Argument(
            help=f"Architecture name ({', '.join(ARCHS)}; 'auto': the default), run folder or "
            "config.yaml."
        ),
    ],
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
    elif Path(arch_or_run).suffix.lower() in (".yaml", ".yml", ".json"):
        from cislearn.models.registry import build_model

        cfg = train_config(Path(arch_or_run), {}, set_)
        model = build_model(
            cfg.arch, cfg.model, length=length, n_outputs=n_outputs, n_tracks=n_tracks
        )
    else:
        from cislearn.config import DEFAULT_ARCH
        from cislearn.models.registry import build_model

        arch = DEFAULT_ARCH if arch_or_run == "auto" else arch_or_run
        params = parse_set(set_).get("model", {})
        model = build_model(arch, params, length=length, n_outputs=n_outputs, n_tracks=n_tracks)
    echo(summarize(model, length=length, n_tracks=n_tracks))
    return 0


@app.command()
def pretrain(
    fasta: Annotated[Path, typer.Argument(help="Unlabelled FASTA (one length).")],
    out: Annotated[Path, Opt(help="Bundle folder to write.")],
    config: Annotated[Path | None, Opt(help="YAML/JSON config.")] = None,
    max_epochs: Annotated[int | None, Opt(help="Maximum epochs.")] = None,
    batch_size: Annotated[int | None, Opt(help="Batch size.")] = None,
    lr: Annotated[float | None, Opt(help="Learning rate.")] = None,
    seed: Annotated[int | None, seed_opt("Random seed.")] = None,
    mask_fraction: Annotated[float, Opt(help="Fraction of tokens masked.")] = 0.15,
    set_: Annotated[list[str] | None, Opt("--set", help="KEY=VALUE, e.g. model.k=4.")] = None,
    force: Force = False,
) -> int:
    """Pretrain a k-mer transformer as a masked language model; fine-tune with train --init."""
    from cislearn.pipelines.train import pretrain_run

    given = {
        "max_epochs": max_epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "arch": "transformer",
    }
    with out_dir(out, "pretrain", force):
        cfg = train_config(config, given, set_)
        bars = epoch_bars()
        try:
            result = pretrain_run(fasta, cfg, out, mask_fraction=mask_fraction, progress=bars)
        finally:
            bars.close()
    echo(f"pretrained transformer written to {out} (best epoch {result.best_epoch})")
    return 0
