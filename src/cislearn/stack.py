"""Staged fitting of ``wide-deep``: deep members, a k-mer linear model, weights learned on
validation.

1. each deep member (``cnn``, ``cnn-lstm``) is trained by :func:`cislearn.train.fit` (early
   stopping on the validation part, the config's recipe: ``rc_augment``, ``rc_average``,
   ``lr``, ...), checkpoints under ``workdir/member<i>``;
2. an L1 or L2 logistic regression (``wide_model``; C by cross-validation) is fitted on the
   strand-merged k-mer counts of the training part (:func:`cislearn.baseline.fit_baseline`);
3. a logistic regression on the validation part's logits (members, k-mer model) learns how much of
   each to keep (a weight near 0 drops a member: selection and stacking in one step).

The result is one ordinary ``wide-deep`` module (safetensors bundle, no pickle) whose output
equals ``Σ_i a_i * member_i_logit + b * kmer_logit + c`` exactly, so prediction, mutation maps and
variant scoring need nothing special.
"""

from __future__ import annotations

import os
from pathlib import Path
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

#: Tasks the staged fit handles (the k-mer model's classification tasks).
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


def _stack_weights(logits: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Per target, the coefficients of a logistic regression of ``y`` on the members' logits
    and its intercept: (t, members + 1)."""
    from sklearn.linear_model import LogisticRegression

    rows = []
    for j in range(y.shape[1]):
        x = np.stack([m[:, j] for m in logits], axis=1)
        est = LogisticRegression(C=1.0, max_iter=1000).fit(x, y[:, j])
        rows.append([*est.coef_[0], est.intercept_[0]])
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
        first member's; ``meta["stack"]`` records the weights, the k-mer model's C and each
        member's best epoch and validation AUROC.

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
        # the k-mer member is a classifier: other tasks train the same model in one piece
        joint = config.model_copy(update={"model": {**wd.model_dump(mode="json"), "fit": "joint"}})
        result = fit(ds, joint, workdir=workdir, resume=resume, progress=progress)
        note = f"task '{task}': wide-deep trained jointly (the stacked fit is for classification)"
        return result._replace(
            notes=(*result.notes, note), meta={**result.meta, "notes": [*result.notes, note]}
        )
    members = []
    for i, (arch, options) in enumerate(zip(wd.deep_arch, wd.deep, strict=True)):
        member_config = config.model_copy(update={"arch": arch, "model": dict(options)})
        members.append(
            fit(ds, member_config, workdir=Path(workdir) / f"member{i}", resume=resume,
                progress=progress)
        )  # fmt: skip
    first = members[0]
    progress("stack", 0, 2)
    train = ds.part("train")
    spec = parse_features(f"kmer:{wd.k}:rc")
    linear = fit_baseline(
        kmer_counts(train.sequences, k=wd.k, rc_merge=True),
        train.targets,
        model=wd.wide_model,
        task=first.task,
        spec=spec,
        target_names=list(ds.target_names),
        seed=config.seed,
        n_jobs=1,
    )
    progress("stack", 1, 2)
    notes = [n for m in members for n in m.notes if n not in first.notes] + list(first.notes)
    held = ds.part("valid")
    if len(held) == 0:
        held = train
        notes.append("no validation records: stacking weights learned on the training part")
    model = build_model(
        "wide-deep",
        wd,
        length=int(first.model.length),
        n_outputs=int(first.model.n_outputs),
        n_tracks=int(first.model.n_tracks),
    )
    inner = model.model if isinstance(model, RCAverage) else model
    for net, member in zip(inner.deep, members, strict=True):
        net.load_state_dict(member.model.state_dict())
    a = linear.arrays
    with torch.no_grad():
        inner.table.copy_(torch.as_tensor((a["scale"][None, :] * a["coef"]).T))
        inner.deep_scale.zero_()
        inner.bias.copy_(torch.as_tensor(a["intercept"]))
    model.eval()
    rc = bool(config.rc_average)
    wide_logits = _logits(model, held, False)  # the k-mer model alone (deep members zeroed)
    deep_logits = [_logits(m.model, held, rc) for m in members]
    y = held.targets.astype(np.float64)
    weights = _stack_weights([*deep_logits, wide_logits], y)  # (t, members + 2)
    n_deep = len(members)
    with torch.no_grad():
        inner.deep_scale.copy_(torch.as_tensor(weights[:, :n_deep].T))
        inner.table.mul_(torch.as_tensor(weights[:, n_deep])[None, :])
        inner.bias.copy_(
            torch.as_tensor(weights[:, n_deep] * a["intercept"] + weights[:, -1]).float()
        )
    model.eval().cpu()
    stacked = _logits(model, held, rc)

    def auroc(scores: np.ndarray) -> float | None:
        vals = [
            roc_auc_score(y[:, j], scores[:, j])
            for j in range(y.shape[1])
            if len(np.unique(y[:, j])) == 2
        ]
        return float(np.mean(vals)) if vals else None

    resolved = first.config.model_copy(
        update={"arch": "wide-deep", "model": model.config.model_dump(mode="json")}
    )
    info: dict[str, Any] = {
        "members": [
            {
                "arch": arch,
                "weight": weights[:, i].tolist(),
                "best_epoch": int(m.best_epoch),
                "valid_auroc": auroc(deep_logits[i]),
            }
            for i, (arch, m) in enumerate(zip(wd.deep_arch, members, strict=True))
        ],
        "kmer": {
            "weight": weights[:, n_deep].tolist(),
            "valid_auroc": auroc(wide_logits),
            "linear": {**linear.info, "model": wd.wide_model, "features": str(spec[0])},
        },
        "intercept": weights[:, -1].tolist(),
        "learned_on": "valid" if held is not train else "train",
        "valid_auroc": auroc(stacked),
    }
    meta = dict(first.meta)
    meta.update(
        arch="wide-deep",
        model=resolved.model,
        config=resolved.model_dump(mode="json"),
        notes=notes,
        stack=info,
    )
    progress("stack", 2, 2)
    # history and best epoch are the first member's; every member's are in meta["stack"]
    return TrainResult(
        model,
        first.history,
        first.best_epoch,
        first.best_score,
        resolved,
        first.task,
        ds.split,
        meta,
        tuple(notes),
    )
