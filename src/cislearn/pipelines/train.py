"""Run folders: train → bundle → held-out evaluation → figures → report, and reading runs back.

One call per user action, shared by the CLI, the Python API and the web app's jobs:
:func:`train_run`, :func:`evaluate_run`, :func:`compare_runs_dir`, :func:`read_run`, and
:func:`evaluate_and_report`, the evaluation step the benchmark panel shares; and
:func:`pretrain_run` (``predict`` lives in :mod:`cislearn.pipelines.predict`).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cislearn.config import N_BOOT, TrainConfig, dump_config
from cislearn.data import OneHotDataset, SequenceDataset
from cislearn.errors import InputError, ModelLoadError
from cislearn.evaluate import RunSummary, ShortcutResult, compare_runs, evaluate, shortcut_check
from cislearn.io.atomic import atomic_write
from cislearn.io.datasets import write_json
from cislearn.leakage import training_split
from cislearn.types import Progress, no_progress, prediction_columns

__all__ = [
    "RunResult",
    "train_run",
    "evaluate_run",
    "evaluate_and_report",
    "read_run",
    "held_out_auroc",
    "first_auroc",
    "compare_runs_dir",
    "pretrain_run",
]


class RunResult(NamedTuple):
    """What :func:`train_run` and :func:`evaluate_run` return."""

    run_dir: Path
    metrics: dict[str, Any]
    """Held-out metrics per target (``Evaluation.metrics``)."""
    table: pd.DataFrame
    """The same metrics, one row per target."""
    shortcut: ShortcutResult | None
    report: Path
    """``report.html`` of the run (or of the evaluation)."""
    notes: tuple[str, ...]


def _versions() -> dict[str, str]:
    import torch

    import cislearn

    return {
        "cislearn": cislearn.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def _is_main_process() -> bool:
    """False on DDP ranks other than 0, which must not write the run's files a second time."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    for var in ("RANK", "SLURM_PROCID"):
        if os.environ.get(var, "0").isdigit() and int(os.environ.get(var, "0")) != 0:
            return False
    return True


def _predict_dataset(predictor: Any, dataset: SequenceDataset) -> Any:
    if predictor.kind == "baseline":  # featurizes strings itself, any length
        # ids: the windows of bigWig features (issue 16)
        return predictor.predict(predictor.codes(list(dataset.sequences), ids=list(dataset.ids)))
    x = OneHotDataset(dataset, n_value=float(predictor.meta.get("n_value", 0.25))).x
    return predictor.predict(x)


def run_name(run_dir: Path) -> str:
    """A run folder's name for titles: ``demo_out/run`` → ``demo_out/run``, not just ``run``
    (which made "cislearn run run"); any other folder: its own name."""
    path = Path(run_dir).absolute()
    return f"{path.parent.name}/{path.name}" if path.name.lower() == "run" else path.name


def first_auroc(metrics: dict[str, Any]) -> float | None:
    """The AUROC of the first target that has one (``metrics`` as in ``metrics.json``)."""
    for values in metrics.values():
        if isinstance(values, dict) and values.get("auroc") is not None:
            return float(values["auroc"])
    return None


def _write_predictions(
    path: Path, dataset: SequenceDataset, predictions: Any, output_names: list[str], task: str
) -> None:
    frame = pd.DataFrame({"id": list(dataset.ids)})
    if dataset.split is not None:
        frame["split"] = dataset.split
    for j, name in enumerate(dataset.target_names):
        frame[f"{name}_true"] = dataset.targets[:, j]
    # the same column names as `cislearn predict` (<name>_prob, <name>_logit, ...)
    names = prediction_columns(task, output_names)
    scores = np.concatenate([predictions.probs, predictions.logits], axis=1)
    for j, column in enumerate(names):
        frame[column] = scores[:, j]
    with atomic_write(path) as fh:
        frame.to_csv(fh, sep="\t", index=False, float_format="%.6g")


def _validation_summary(meta: dict[str, Any], history: pd.DataFrame | None) -> dict[str, Any]:
    """The validation part of a run for ``metrics.json``: its size, whether it was carved from
    the training records, and (deep runs) the epochs run and the best epoch."""
    counts = meta.get("split", {}).get("counts", {})
    return {
        "n_valid": int(counts.get("valid", 0)),
        "carved_from_train": (meta.get("data") or {}).get("valid_carved"),
        "monitor": meta.get("monitor"),
        "best_epoch": meta.get("best_epoch"),
        "best_score": meta.get("best_score"),
        "epochs_run": None if history is None else len(history),
        "max_epochs": (meta.get("config") or {}).get("max_epochs"),
    }


def evaluate_and_report(
    out: Path,
    predictor: Any,
    dataset: SequenceDataset,
    *,
    title: str,
    history: pd.DataFrame | None,
    config: dict[str, Any],
    train: SequenceDataset | None,
    n_boot: int,
    seed: int,
    notes: tuple[str, ...],
) -> RunResult:
    """Evaluate a loaded predictor on held-out data and write a run folder's results.

    Shared by :func:`train_run`, :func:`evaluate_run` and the benchmark panel
    (:mod:`cislearn.pipelines.panel`): writes ``predictions.tsv``, ``metrics.json``,
    ``figures/`` (plus ``figures/importance.png`` for a baseline) and ``report.html`` in ``out``.

    Parameters
    ----------
    out : Path
        Existing run folder to write into.
    predictor : Predictor
        Deep or baseline predictor of ``dataset``'s records.
    dataset : SequenceDataset
        Held-out records with ``targets`` of shape (n, n_outputs).
    title : str
        Heading of the report.
    history : DataFrame, optional
        Per-epoch training history (None for baselines and evaluations).
    config : dict
        Resolved configuration shown in the report.
    train : SequenceDataset, optional
        Training part, for the composition-only shortcut check (binary tasks).
    n_boot, seed : int
        Bootstrap resamples of the 95% CIs and their seed.
    notes : tuple of str
        Notes shown in the report and stored in ``metrics.json``.

    Returns
    -------
    RunResult
        Metrics, metrics table, shortcut check and the report path.
    """
    from cislearn.report.figures import write_run_figures
    from cislearn.report.html import write_run_report

    task = predictor.task
    predictions = _predict_dataset(predictor, dataset)
    names = list(predictor.output_names)
    evaluation = evaluate(
        dataset.targets, predictions.probs, task=task, target_names=names, n_boot=n_boot, seed=seed
    )
    _write_predictions(out / "predictions.tsv", dataset, predictions, names, task)
    shortcut = None
    if task == "binary" and train is not None:
        shortcut = shortcut_check(
            train, dataset, model_auroc=first_auroc(evaluation.metrics), seed=seed
        )
    validation = _validation_summary(predictor.meta, history)
    write_json(
        out / "metrics.json",
        {
            "task": task,
            "n_test": len(dataset),
            "metrics": evaluation.metrics,
            "shortcut": None if shortcut is None else shortcut._asdict(),
            "validation": validation,
            "notes": list(notes),
        },
    )
    figures = write_run_figures(
        out / "figures",
        task=task,
        y_true=dataset.targets,
        y_score=predictions.probs,
        target_names=list(predictor.output_names),
        history=history,
        monitor=predictor.meta.get("monitor"),
    )
    importance = predictor.importance()  # baseline runs: top 20 named features
    if importance is not None:
        from cislearn.report.figures import plot_importance

        names, values, label = importance
        figures["importance"] = plot_importance(
            names, values, out / "figures" / "importance.png", xlabel=label
        )
    report = write_run_report(
        out,
        title=title,
        config=config,
        metrics=evaluation.metrics,
        shortcut=shortcut,
        history=history,
        figures=figures,
        data_summary={
            "task": task,
            "architecture": predictor.meta.get("arch"),
            "held-out records": len(dataset),
            "split_counts": predictor.meta.get("split", {}).get("counts", {}),
            "data": predictor.meta.get("data", {}),
        },
        versions=_versions(),
        notes=notes,
        best_epoch=validation["best_epoch"],
    )
    return RunResult(out, evaluation.metrics, evaluation.table, shortcut, report, notes)


def train_run(
    dataset: SequenceDataset,
    config: TrainConfig,
    out: str | os.PathLike[str],
    *,
    resume: bool = False,
    n_boot: int = N_BOOT,
    progress: Progress | None = None,
) -> RunResult:
    """Train ``config`` on ``dataset`` and write a complete run folder in ``out``.

    The folder holds ``model.safetensors`` + ``model.json`` (the bundle), ``config.yaml``,
    ``history.csv``, ``metrics.json`` and ``predictions.tsv`` for the held-out ``test`` part
    (``valid`` when there is no test part), ``figures/*.png`` and ``report.html``. Every
    binary run also fits a composition-only logistic regression on the same split and reports
    its AUROC beside the model's.

    Examples
    --------
    >>> ds = load_dataset(pos="pos.fa.gz", neg="neg.fa.gz")  # doctest: +SKIP
    >>> res = train_run(ds, TrainConfig(arch="cnn"), "runs/ctcf")  # doctest: +SKIP
    >>> res.metrics["label"]["auroc"]  # doctest: +SKIP
    """
    from cislearn.io.bundle import save_bundle
    from cislearn.runload import load_run as load
    from cislearn.stack import fit_stack, is_stacked
    from cislearn.train import fit

    progress = progress or no_progress
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = training_split(dataset, config)
    fitter = fit_stack if is_stacked(config) else fit
    result = fitter(dataset, config, workdir=out, resume=resume, progress=progress)
    if not _is_main_process():
        # under DDP every rank trains; only rank 0 writes the bundle, metrics and report
        return RunResult(out, {}, pd.DataFrame(), None, out / "report.html", result.notes)
    save_bundle(out, result.model.state_dict(), result.meta)
    with atomic_write(out / "config.yaml") as fh:
        fh.write(dump_config(result.config))
    with atomic_write(out / "history.csv") as fh:
        result.history.to_csv(fh, index=False)
    ds = dataset.with_split(result.split)
    notes = list(result.notes)
    held_out = "test"
    if not (ds.split == "test").any():
        held_out = "valid"
        notes.append("no test records: metrics are on the validation part")
        if not (ds.split == "valid").any():
            raise InputError("no test or validation records to evaluate on; lower the train share")
    test = ds.part(held_out)
    progress("evaluate", 0, 1)
    predictor = load(out)
    res = evaluate_and_report(
        out,
        predictor,
        test,
        title=f"cislearn run {run_name(out)}: {result.config.arch}",
        history=result.history,
        config=result.config.model_dump(mode="json"),
        train=ds.part("train"),
        n_boot=n_boot,
        seed=config.seed,
        notes=tuple(notes),
    )
    progress("evaluate", 1, 1)
    return res


def evaluate_run(
    run_dir: str | os.PathLike[str],
    dataset: SequenceDataset,
    out: str | os.PathLike[str],
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> RunResult:
    """Evaluate a trained run on every record of ``dataset``; write metrics, figures, report."""
    from cislearn.runload import load_run as load

    predictor = load(run_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return evaluate_and_report(
        out,
        predictor,
        dataset,
        title=f"cislearn evaluation of {Path(run_dir).name}",
        history=None,
        config=predictor.meta.get("config", {}),
        train=None,
        n_boot=n_boot,
        seed=seed,
        notes=(),
    )


def read_run(run_dir: str | os.PathLike[str]) -> RunSummary:
    """A run's held-out metrics and scores (first target), for :func:`compare_runs_dir`."""
    run = Path(run_dir)
    try:
        metrics = json.loads((run / "metrics.json").read_text())
        preds = pd.read_csv(run / "predictions.tsv", sep="\t")
    except FileNotFoundError as exc:
        raise ModelLoadError(
            f"{run}: not a finished run ({Path(exc.filename).name} missing)"
        ) from None
    except (json.JSONDecodeError, pd.errors.ParserError) as exc:
        raise ModelLoadError(f"{run}: unreadable run files: {exc}") from None
    # <name>_true / <name>_prob (older runs wrote true_<name> / prob_<name>)
    true_cols = [c for c in preds.columns if c.endswith("_true") or c.startswith("true_")]
    score_cols = [
        c
        for c in preds.columns
        if c.endswith(("_prob", "_pred", "_rate")) or c.startswith(("prob_", "pred_"))
    ]
    y_true = preds[true_cols[0]].to_numpy() if true_cols else None
    y_score = preds[score_cols[0]].to_numpy() if score_cols else None
    shortcut = (metrics.get("shortcut") or {}).get("auroc")
    notes = tuple(str(n) for n in metrics.get("notes", []))
    return RunSummary(run.name, metrics.get("metrics", {}), y_true, y_score, shortcut, notes)


def held_out_auroc(run_dir: str | os.PathLike[str]) -> float | None:
    """A finished run's held-out AUROC (first target) from its ``metrics.json``; None when the
    folder has none (a bare bundle) or the task has no AUROC."""
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        return None
    try:
        return first_auroc(json.loads(path.read_text()).get("metrics", {}))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return None


def compare_runs_dir(
    run_dirs: list[str | os.PathLike[str]], out: str | os.PathLike[str]
) -> tuple[pd.DataFrame, Path]:
    """One table and overlaid ROC/PR figures of several runs; writes ``comparison.html``."""
    from cislearn.report.figures import write_comparison_figures
    from cislearn.report.html import write_comparison

    runs = [read_run(r) for r in run_dirs]
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        # same folder names in different places: qualify them with their parent
        runs = [
            r._replace(name=f"{Path(d).parent.name}/{r.name}")
            for r, d in zip(runs, run_dirs, strict=True)
        ]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = compare_runs(runs)
    with atomic_write(out / "comparison.tsv") as fh:
        table.to_csv(fh, sep="\t", index=False, float_format="%.4g")
    figures = write_comparison_figures(runs, out)
    return table, write_comparison(out, table, figures)


def pretrain_run(
    fasta: str | os.PathLike[str],
    config: TrainConfig,
    out: str | os.PathLike[str],
    *,
    mask_fraction: float = 0.15,
    progress: Progress = no_progress,
) -> Any:
    """The `pretrain` action: masked k-mer language-model pretraining of the ``transformer`` on
    the sequences of ``fasta``; the bundle goes to ``out`` (fine-tune with ``train --init``).
    Returns the :class:`cislearn.pretrain.PretrainResult`."""
    from cislearn.io.bundle import save_bundle
    from cislearn.io.fasta import read_fasta
    from cislearn.pretrain import pretrain

    seqs = [r.sequence for r in read_fasta(fasta)]
    result = pretrain(seqs, config, workdir=out, mask_fraction=mask_fraction, progress=progress)
    save_bundle(out, result.model.state_dict(), result.meta)
    return result
