"""Staged fitting of ``wide-deep``: a CNN, a k-mer lasso, and their weights learned on validation.

1. the CNN member is trained by :func:`cislearn.train.fit` (early stopping on the validation
   part, the config's recipe: ``rc_augment``, ``rc_average``, ``lr``, ...);
2. an L1 logistic regression (C by cross-validation) is fitted on the strand-merged k-mer
   counts of the training part (:func:`cislearn.baseline.fit_baseline`);
3. a logistic regression on the validation part's two logits (CNN, lasso) learns how much of
   each to keep (a weight near 0 drops a member: selection and stacking in one step).

The result is one ordinary ``wide-deep`` module (safetensors bundle, no pickle) whose output
equals ``a * cnn_logit + b * lasso_logit + c`` exactly, so prediction, mutation maps and
variant scoring need nothing special.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from cislearn.baseline import fit_baseline, parse_features
from cislearn.config import TrainConfig
from cislearn.data import OneHotDataset, SequenceDataset, assign_split, make_loader
from cislearn.features import kmer_counts
from cislearn.models.layers import RCAverage, reverse_complement_batch
from cislearn.models.registry import arch_config, build_model
from cislearn.models.widedeep import WideDeepConfig
from cislearn.train import TrainResult, fit, infer_task
from cislearn.types import Progress, no_progress

__all__ = ["STACK_TASKS", "is_stacked", "fit_stack"]

#: Tasks the staged fit handles (the lasso's classification tasks).
STACK_TASKS = ("binary", "multilabel")


def is_stacked(config: TrainConfig) -> bool:
    """True when ``config`` asks for a staged ``wide-deep`` fit (:func:`fit_stack`)."""
    if config.arch != "wide-deep":
        return False
    return arch_config("wide-deep", config.model).fit == "stack"


def _logits(model: torch.nn.Module, dataset: SequenceDataset, rc_average: bool) -> np.ndarray:
    outs = []
    with torch.inference_mode():
        for x, _ in make_loader(OneHotDataset(dataset), batch_size=256):
            out = model(x)
            if rc_average:
                out = 0.5 * (out + model(reverse_complement_batch(x)))
            outs.append(out.numpy())
    return np.concatenate(outs).astype(np.float64)


def _stack_weights(deep: np.ndarray, wide: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(a, b, c) per target (t, 3) of a logistic regression of ``y`` on the two logits."""
    from sklearn.linear_model import LogisticRegression

    rows = []
    for j in range(y.shape[1]):
        x = np.stack([deep[:, j], wide[:, j]], axis=1)
        est = LogisticRegression(C=1.0, max_iter=1000).fit(x, y[:, j])
        rows.append([est.coef_[0, 0], est.coef_[0, 1], est.intercept_[0]])
    return np.asarray(rows, dtype=np.float64)


def fit_stack(
    dataset: SequenceDataset,
    config: TrainConfig,
    *,
    workdir: str | os.PathLike[str],
    resume: bool = False,
    progress: Progress | None = None,
) -> TrainResult:
    """Fit a ``wide-deep`` model in stages; same inputs and result as :func:`cislearn.train.fit`.

    Parameters
    ----------
    dataset : SequenceDataset
        One-length sequences with 0/1 targets (n, t); split as in :func:`cislearn.train.fit`.
        The stacking weights are learned on the ``valid`` part (on ``train`` when there is
        none, with a note); ``test`` is never looked at.
    config : TrainConfig
        ``arch: wide-deep``; ``model.deep`` holds the CNN options, ``model.k`` the k-mer length.
        Tasks other than binary and multilabel train the same model jointly (with a note).

    Returns
    -------
    TrainResult
        ``model`` is the assembled ``wide-deep`` module; ``history``/``best_epoch`` are the
        CNN's; ``meta["stack"]`` records the weights, the lasso's C and each member's
        validation AUROC.

    Examples
    --------
    >>> cfg = TrainConfig(arch="wide-deep", max_epochs=10)  # doctest: +SKIP
    >>> result = fit_stack(ds, cfg, workdir="runs/wd")  # doctest: +SKIP
    """
    from sklearn.metrics import roc_auc_score

    progress = progress or no_progress
    wd: WideDeepConfig = arch_config("wide-deep", config.model)  # type: ignore[assignment]
    ds = dataset if dataset.split is not None else assign_split(dataset, **config.split_kwargs())
    task = infer_task(ds.part("train").targets) if config.task == "auto" else config.task
    if task not in STACK_TASKS:
        # the lasso member is a classifier: other tasks train the same model in one piece
        joint = config.model_copy(update={"model": {**wd.model_dump(mode="json"), "fit": "joint"}})
        result = fit(ds, joint, workdir=workdir, resume=resume, progress=progress)
        note = f"task '{task}': wide-deep trained jointly (the stacked fit is for classification)"
        return result._replace(
            notes=(*result.notes, note), meta={**result.meta, "notes": [*result.notes, note]}
        )
    deep_config = config.model_copy(update={"arch": wd.deep_arch, "model": dict(wd.deep)})
    deep = fit(ds, deep_config, workdir=workdir, resume=resume, progress=progress)
    progress("stack", 0, 2)
    train = ds.part("train")
    spec = parse_features(f"kmer:{wd.k}:rc")
    lasso = fit_baseline(
        kmer_counts(train.sequences, k=wd.k, rc_merge=True),
        train.targets,
        model="lasso",
        task=deep.task,
        spec=spec,
        target_names=list(ds.target_names),
        seed=config.seed,
        n_jobs=1,
    )
    progress("stack", 1, 2)
    notes = list(deep.notes)
    held = ds.part("valid")
    if len(held) == 0:
        held = train
        notes.append("no validation records: stacking weights learned on the training part")
    length = int(deep.model.length)
    model = build_model(
        "wide-deep",
        wd,
        length=length,
        n_outputs=int(deep.model.n_outputs),
        n_tracks=int(deep.model.n_tracks),
    )
    inner = model.model if isinstance(model, RCAverage) else model
    inner.deep.load_state_dict(deep.model.state_dict())
    a = lasso.arrays
    with torch.no_grad():
        inner.table.copy_(torch.as_tensor((a["scale"][None, :] * a["coef"]).T))
        inner.deep_scale.fill_(1.0)
        inner.bias.copy_(torch.as_tensor(a["intercept"]))
    model.eval()
    inner.deep_scale.data.zero_()
    wide_logits = _logits(model, held, False)  # the lasso alone (deep part zeroed)
    deep_logits = _logits(deep.model, held, bool(config.rc_average))
    y = held.targets.astype(np.float64)
    weights = _stack_weights(deep_logits, wide_logits, y)
    with torch.no_grad():
        inner.deep_scale.copy_(torch.as_tensor(weights[:, 0]))
        inner.table.mul_(torch.as_tensor(weights[:, 1])[None, :])
        inner.bias.copy_(
            torch.as_tensor(weights[:, 1] * a["intercept"] + weights[:, 2], dtype=torch.float32)
        )
    model.eval().cpu()
    stacked = _logits(model, held, bool(config.rc_average))

    def auroc(scores: np.ndarray) -> float | None:
        vals = [
            roc_auc_score(y[:, j], scores[:, j])
            for j in range(y.shape[1])
            if len(np.unique(y[:, j])) == 2
        ]
        return float(np.mean(vals)) if vals else None

    resolved = deep.config.model_copy(
        update={"arch": "wide-deep", "model": model.config.model_dump(mode="json")}
    )
    info: dict[str, Any] = {
        "weights": {"deep": weights[:, 0].tolist(), "kmer": weights[:, 1].tolist()},
        "intercept": weights[:, 2].tolist(),
        "learned_on": "valid" if held is not train else "train",
        "lasso": {**lasso.info, "features": str(spec[0])},
        "valid_auroc": {
            "deep": auroc(deep_logits),
            "kmer": auroc(wide_logits),
            "stack": auroc(stacked),
        },
    }
    meta = dict(deep.meta)
    meta.update(
        arch="wide-deep",
        model=resolved.model,
        config=resolved.model_dump(mode="json"),
        notes=notes,
        stack=info,
    )
    progress("stack", 2, 2)
    return TrainResult(
        model,
        deep.history,
        deep.best_epoch,
        deep.best_score,
        resolved,
        deep.task,
        ds.split,
        meta,
        tuple(notes),
    )
