"""Baseline run folders and the benchmark panel: classical and deep models on one split.

:func:`baseline_run` writes a run folder with the same layout as a deep run (``metrics.json``,
``predictions.tsv``, ``figures/``, ``report.html``, ``config.yaml``) so ``cislearn compare``
mixes them; :func:`benchmark_panel` trains the standard panel and writes the comparison.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cislearn.baseline import (
    MODELS,
    FeatureSpec,
    featurize,
    fit_baseline,
    load_predictor,
    parse_features,
    save_baseline,
    spec_motifs,
)
from cislearn.config import N_BOOT, TrainConfig
from cislearn.data import SequenceDataset
from cislearn.errors import ConfigError, InputError
from cislearn.features import FeatureMatrix
from cislearn.io.atomic import atomic_write
from cislearn.io.motifs import Motif
from cislearn.leakage import split_notes, training_split
from cislearn.pipelines.train import RunResult, compare_runs_dir, evaluate_and_report, train_run
from cislearn.types import Progress, no_progress

__all__ = ["PANEL", "PanelResult", "baseline_run", "benchmark_panel", "split_for"]

log = logging.getLogger(__name__)

#: The standard panel: run name → (features, model) for baselines, or a deep architecture.
PANEL: dict[str, tuple[str, str] | str] = {
    "lasso_6mer": ("kmer:6:rc", "lasso"),  # strand-merged: test AUROC 0.901 vs 0.884 on CTCF
    "lasso_gapped": ("gapped:3:3", "lasso"),
    "lasso_motifs": ("motifs", "lasso"),
    "rf_motifs": ("motifs", "rf"),
    "composition": ("composition:123", "lasso"),
    "cnn": "cnn",
    "default": "auto",
}


class PanelResult(NamedTuple):
    """What :func:`benchmark_panel` returns."""

    table: pd.DataFrame
    """One row per run and target: AUROC, AUPRC, ... (``comparison.tsv``)."""
    comparison: Path
    """``comparison.html``."""
    runs: dict[str, RunResult]


def split_for(
    dataset: SequenceDataset,
    *,
    split: str = "random",
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    drop_leaked: bool = False,
) -> SequenceDataset:
    """``dataset`` with the split a deep run would assign (same code, same defaults:
    :func:`cislearn.leakage.training_split`); a dataset that already has a split keeps it,
    with a validation part carved from its training records when it has none."""
    cfg = TrainConfig(
        split=split,
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        seed=seed,
        drop_leaked=drop_leaked,
    )
    return training_split(dataset, cfg)


def _task(task: str, targets: np.ndarray) -> tuple[str, list[str]]:
    from cislearn.train import infer_task

    notes = []
    if task == "auto":
        task = infer_task(targets)
    if task == "counts":
        notes.append("count targets are fitted as regression by the baseline models")
        task = "regression"
    return task, notes


def _resolve_motifs(specs: Sequence[FeatureSpec]) -> list[Motif]:
    motif_specs = [s for s in specs if s.kind == "motifs"]
    if len(motif_specs) > 1:
        raise ConfigError("give at most one motifs feature block")
    return spec_motifs(motif_specs[0]) if motif_specs else []


def _fit_and_report(
    ds: SequenceDataset,
    out: Path,
    specs: tuple[FeatureSpec, ...],
    matrix: FeatureMatrix,
    motifs: list[Motif],
    *,
    model: str,
    task: str,
    seed: int,
    n_boot: int,
    n_jobs: int | None,
    progress: Progress,
) -> RunResult:
    import yaml

    parts = ds.split
    held_out, notes = "test", split_notes(ds)
    if not (parts == "test").any():
        held_out = "valid"
        notes.append("no test records: metrics are on the validation part")
        if not (parts == "valid").any():
            raise InputError("no test or validation records to evaluate on; lower the train share")
    train = ds.part("train")
    if len(train) == 0:
        raise ConfigError("no training records after the split; lower valid/test fractions")
    task, task_notes = _task(task, train.targets)
    notes += task_notes
    rows = {name: np.flatnonzero(parts == name) for name in ("train", "valid")}
    valid = None
    if held_out == "test" and rows["valid"].size:
        valid = (
            FeatureMatrix(matrix.values[rows["valid"]], matrix.names),
            ds.part("valid").targets,
        )
    progress("fit", 0, 1)
    fitted = fit_baseline(
        FeatureMatrix(matrix.values[rows["train"]], matrix.names),
        train.targets,
        model=model,
        task=task,
        spec=specs,
        target_names=list(ds.target_names),
        motifs=motifs,
        importance_data=valid,
        seed=seed,
        n_jobs=n_jobs,
    )
    progress("fit", 1, 1)
    names, counts = np.unique(parts.astype(str), return_counts=True)
    config = {
        "kind": "baseline",
        "model": model,
        "features": [str(s) for s in specs],
        "task": task,
        "seed": seed,
        "split_counts": {str(k): int(v) for k, v in zip(names, counts, strict=True)},
    }
    out.mkdir(parents=True, exist_ok=True)
    save_baseline(
        fitted,
        out,
        extra={
            "config": config,
            "split": {"counts": config["split_counts"]},
            "data": dict(ds.provenance),
        },
    )
    with atomic_write(out / "config.yaml") as fh:
        fh.write(yaml.safe_dump(config, sort_keys=False, default_flow_style=None))
    progress("evaluate", 0, 1)
    res = evaluate_and_report(
        out,
        load_predictor(out),
        ds.part(held_out),
        title=f"cislearn run {out.name}: {model} on {', '.join(config['features'])}",
        history=None,
        config=config,
        train=train,
        n_boot=n_boot,
        seed=seed,
        notes=tuple(notes),
    )
    progress("evaluate", 1, 1)
    return res


def baseline_run(
    dataset: SequenceDataset,
    out: str | os.PathLike[str],
    *,
    features: str | Sequence[str] = "motifs",
    model: str = "lasso",
    task: str = "auto",
    split: str = "random",
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    drop_leaked: bool = False,
    n_boot: int = N_BOOT,
    n_jobs: int | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Fit a classical baseline and write a complete run folder in ``out``.

    The split is assigned as for a deep run (:func:`split_for`) unless ``dataset`` has one.
    The model is fitted on the ``train`` part (the forest's permutation importance is
    measured on ``valid``), evaluated on ``test``. ``out`` gets ``baseline.npz`` +
    ``baseline.json`` (the model; no pickle), ``config.yaml``, ``metrics.json``,
    ``predictions.tsv``, ``figures/*.png`` (with ``importance.png``: the top 20 features) and
    ``report.html``.

    Parameters
    ----------
    dataset : SequenceDataset
    out : path
    features : str or sequence of str
        E.g. ``"kmer:6,gapped:3:3,composition,motifs"`` (see
        :func:`cislearn.baseline.parse_features`).
    model : {"lasso", "ridge", "rf", "svm"}
    task : {"auto", "binary", "multilabel", "regression"}
    drop_leaked : bool
        Drop held-out records whose sequence is also in an earlier split
        (:func:`cislearn.leakage.drop_leaked`); the notes say how many.

    Returns
    -------
    RunResult

    Examples
    --------
    >>> ds = load_dataset(pos="pos.fa.gz", neg="neg.fa.gz")  # doctest: +SKIP
    >>> res = baseline_run(ds, "runs/lasso_motifs", features="motifs")  # doctest: +SKIP
    >>> res.metrics["label"]["auroc"]  # doctest: +SKIP
    """
    progress = progress or no_progress
    specs = parse_features(features)
    if model not in MODELS:  # checked before the features are computed
        raise ConfigError(f"model must be one of {', '.join(MODELS)}; got '{model}'")
    if task not in ("auto", "binary", "multilabel", "regression", "counts"):
        raise ConfigError(f"task must be auto, binary, multilabel or regression; got '{task}'")
    ds = split_for(
        dataset,
        split=split,
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        seed=seed,
        drop_leaked=drop_leaked,
    )
    motifs = _resolve_motifs(specs)
    progress("features", 0, 1)
    matrix = featurize(specs, list(ds.sequences), motifs=motifs or None, ids=list(ds.ids))
    progress("features", 1, 1)
    return _fit_and_report(
        ds,
        Path(out),
        specs,
        matrix,
        motifs,
        model=model,
        task=task,
        seed=seed,
        n_boot=n_boot,
        n_jobs=n_jobs,
        progress=progress,
    )


def benchmark_panel(
    dataset: SequenceDataset,
    out: str | os.PathLike[str],
    *,
    models: Sequence[str] | None = None,
    max_epochs: int | None = None,
    split: str = "random",
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    drop_leaked: bool = False,
    n_boot: int = N_BOOT,
    progress: Progress | None = None,
) -> PanelResult:
    """Train the standard panel (:data:`PANEL`) on one split; write each run and the comparison.

    Each run goes to ``out/<name>/`` (baseline runs via :func:`baseline_run`, deep ones via
    :func:`cislearn.pipelines.train.train_run`), then ``out/comparison.tsv``, overlaid ROC/PR
    figures and ``out/comparison.html``. All runs see the same split (assigned once, as for a
    deep run).

    Parameters
    ----------
    models : sequence of str, optional
        A subset of the panel's names (default all): ``lasso_6mer``, ``lasso_gapped``,
        ``lasso_motifs``, ``rf_motifs``, ``composition``, ``cnn``, ``default``.
    max_epochs : int, optional
        Epoch limit of the deep models (default: the training default).
    drop_leaked : bool
        Drop held-out records whose sequence is also in an earlier split, for every model.

    Returns
    -------
    PanelResult

    Examples
    --------
    >>> res = benchmark_panel(ds, "bench/ctcf", models=["lasso_motifs", "cnn"])  # doctest: +SKIP
    """
    progress = progress or no_progress
    names = list(PANEL) if models is None else list(models)
    unknown = [m for m in names if m not in PANEL]
    if unknown or not names or len(set(names)) != len(names):
        raise ConfigError(
            f"benchmark models must be distinct names from: {', '.join(PANEL)}; got {names}"
        )
    out = Path(out)
    ds = split_for(
        dataset,
        split=split,
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        seed=seed,
        drop_leaked=drop_leaked,
    )
    matrices: dict[str, tuple[tuple[FeatureSpec, ...], FeatureMatrix, list[Motif]]] = {}
    runs: dict[str, RunResult] = {}
    for i, name in enumerate(names):
        progress("benchmark", i, len(names))
        entry = PANEL[name]
        log.info("benchmark: %s", name)
        if isinstance(entry, str):
            over: dict[str, Any] = {
                "arch": entry,
                "seed": seed,
                "valid_fraction": valid_fraction,
                "drop_leaked": drop_leaked,
            }
            if max_epochs is not None:
                over["max_epochs"] = max_epochs
            runs[name] = train_run(
                ds, TrainConfig(**over), out / name, n_boot=n_boot, progress=progress
            )
            continue
        features, model = entry
        if features not in matrices:  # motif counts are shared by lasso and RF
            specs = parse_features(features)
            motifs = _resolve_motifs(specs)
            matrix = featurize(specs, list(ds.sequences), motifs=motifs or None, ids=list(ds.ids))
            matrices[features] = (specs, matrix, motifs)
        specs, matrix, motifs = matrices[features]
        runs[name] = _fit_and_report(
            ds,
            out / name,
            specs,
            matrix,
            motifs,
            model=model,
            task="auto",
            seed=seed,
            n_boot=n_boot,
            n_jobs=None,
            progress=progress,
        )
    progress("benchmark", len(names), len(names))
    table, html = compare_runs_dir([out / n for n in names], out)
    return PanelResult(table, html, runs)
