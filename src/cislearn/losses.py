"""Loss functions, output activations and class weights for each prediction task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cislearn.errors import ConfigError, InputError
from cislearn.types import TASKS

__all__ = [
    "LOSSES",
    "COUNT_EPS",
    "TaskLoss",
    "loss_fn",
    "output_activation",
    "class_weights",
]


#: Allowed ``loss`` names per task; the first one is the default.
LOSSES: dict[str, tuple[str, ...]] = {
    "binary": ("bce",),
    "multilabel": ("bce",),
    "multiclass": ("ce",),
    "regression": ("mse", "mae", "huber"),
    "counts": ("poisson",),
}

#: Added to the Poisson rate inside the log, so a rate of 0 gives a finite loss.
COUNT_EPS = 1e-8


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ConfigError(f"task: unknown task {task!r}; allowed: {', '.join(TASKS)}")


def _as_weight(value: Any, name: str) -> Tensor:
    weight = torch.as_tensor(np.asarray(value, dtype=np.float32)).reshape(-1)
    if not torch.isfinite(weight).all() or (weight < 0).any():
        raise ConfigError(f"{name}: weights must be finite and >= 0; got {weight.tolist()}")
    return weight


class TaskLoss(nn.Module):
    """Mean loss of raw model outputs against targets for one task.

    Call as ``loss(outputs, targets)``: outputs (N, t) (or (N, C) for multiclass), targets
    (N, t) or (N,) for single-output tasks, (N,) class indices for multiclass. NaN targets
    (missing labels of a multi-task dataset) are left out of the mean. Weights are buffers,
    so ``.to(device)`` moves them with the module.
    """

    def __init__(
        self,
        task: str,
        loss: str,
        *,
        pos_weight: Tensor | None = None,
        class_weight: Tensor | None = None,
    ) -> None:
        super().__init__()
        self.task = task
        self.loss = loss
        self.register_buffer("pos_weight", pos_weight)
        self.register_buffer("class_weight", class_weight)

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        if self.task == "multiclass":
            labels = targets.reshape(-1)
            if labels.is_floating_point():  # NaN = missing label -> cross_entropy's ignore_index
                labels = torch.where(torch.isnan(labels), torch.full_like(labels, -100), labels)
            return F.cross_entropy(outputs, labels.long(), weight=self.class_weight)
        if targets.numel() != outputs.numel():
            raise InputError(
                f"{self.task} loss: targets of shape {tuple(targets.shape)} do not match "
                f"outputs of shape {tuple(outputs.shape)}"
            )
        targets = targets.reshape(outputs.shape).to(outputs.dtype)
        observed = ~torch.isnan(targets)  # missing labels (NaN) do not count
        targets = torch.where(observed, targets, torch.zeros_like(targets))
        if self.loss == "bce":
            each = F.binary_cross_entropy_with_logits(
                outputs, targets, pos_weight=self.pos_weight, reduction="none"
            )
        elif self.loss == "mse":
            each = F.mse_loss(outputs, targets, reduction="none")
        elif self.loss == "mae":
            each = F.l1_loss(outputs, targets, reduction="none")
        elif self.loss == "huber":
            each = F.huber_loss(outputs, targets, reduction="none")
        else:
            each = F.poisson_nll_loss(
                F.softplus(outputs),
                targets,
                log_input=False,
                full=False,
                eps=COUNT_EPS,
                reduction="none",
            )
        each = torch.where(observed, each, torch.zeros_like(each))
        return each.sum() / observed.sum().clamp_min(1)

    def extra_repr(self) -> str:
        return f"task={self.task!r}, loss={self.loss!r}"


def loss_fn(
    task: str,
    *,
    loss: str | None = None,
    pos_weight: Tensor | np.ndarray | float | None = None,
    class_weight: Tensor | np.ndarray | None = None,
) -> TaskLoss:
    """The training loss of a task.

    binary / multilabel: BCE with logits (``pos_weight`` per target up-weights positives);
    multiclass: cross-entropy (``class_weight`` per class); regression: MSE, or ``"mae"``
    (L1) or ``"huber"``; counts: Poisson NLL of ``softplus(output)`` (``log_input=False``,
    rate + ``COUNT_EPS`` inside the log).

    Parameters
    ----------
    task : str
        One of :data:`TASKS`.
    loss : str, optional
        One of ``LOSSES[task]``; default the first.
    pos_weight : Tensor of shape (t,) or scalar, optional
        binary / multilabel only; see :func:`class_weights`.
    class_weight : Tensor of shape (C,), optional
        multiclass only; see :func:`class_weights`.

    Returns
    -------
    TaskLoss
        A module called as ``loss(outputs, targets) -> scalar Tensor``.

    Examples
    --------
    >>> f = loss_fn("binary")
    >>> float(f(torch.zeros(4, 1), torch.tensor([0.0, 1.0, 1.0, 0.0])))  # log 2
    0.6931...
    """
    _check_task(task)
    allowed = LOSSES[task]
    name = allowed[0] if loss is None else loss
    if name not in allowed:
        raise ConfigError(
            f"loss: {name!r} is not a loss for task {task!r}; allowed: {', '.join(allowed)}"
        )
    if pos_weight is not None and task not in ("binary", "multilabel"):
        raise ConfigError(f"pos_weight: only for binary and multilabel tasks; task is {task!r}")
    if class_weight is not None and task != "multiclass":
        raise ConfigError(f"class_weight: only for the multiclass task; task is {task!r}")
    return TaskLoss(
        task,
        name,
        pos_weight=None if pos_weight is None else _as_weight(pos_weight, "pos_weight"),
        class_weight=None if class_weight is None else _as_weight(class_weight, "class_weight"),
    )


def _identity(x: Tensor) -> Tensor:
    return x


def _softmax(x: Tensor) -> Tensor:
    return torch.softmax(x, dim=-1)


def output_activation(task: str) -> Callable[[Tensor], Tensor]:
    """Raw outputs → predictions: sigmoid (probabilities), softmax over the last axis
    (class probabilities), identity (regression) or softplus (Poisson rates).

    Examples
    --------
    >>> output_activation("binary")(torch.zeros(1))
    tensor([0.5000])
    """
    _check_task(task)
    return {
        "binary": torch.sigmoid,
        "multilabel": torch.sigmoid,
        "multiclass": _softmax,
        "regression": _identity,
        "counts": F.softplus,
    }[task]


def class_weights(
    targets: np.ndarray | Tensor, task: str, *, n_classes: int | None = None
) -> Tensor:
    """Balanced weights from training targets, for :func:`loss_fn`.

    binary / multilabel: ``pos_weight`` per target = n_negative / n_positive (1.0 for a target
    without positives or without negatives). multiclass: ``n / (C * count_c)`` per class, as
    scikit-learn's ``class_weight="balanced"`` (0 for a class absent from the targets).

    Parameters
    ----------
    targets : array of shape (n,) or (n, t)
        0/1 labels (binary, multilabel) or class indices 0..C-1 (multiclass). NaN labels
        (missing) are ignored.
    task : str
        ``binary``, ``multilabel`` or ``multiclass``.
    n_classes : int, optional
        Number of classes for multiclass; default ``max(targets) + 1``.

    Returns
    -------
    Tensor of shape (t,) (pos_weight) or (C,) (class weights), float32

    Examples
    --------
    >>> class_weights(np.array([1, 0, 0, 0]), "binary")
    tensor([3.])
    """
    _check_task(task)
    y = np.asarray(targets.detach().cpu() if isinstance(targets, Tensor) else targets, float)
    if task in ("binary", "multilabel"):
        y = y.reshape(len(y), -1)
        pos = (y == 1).sum(axis=0).astype(float)  # NaN (missing) is neither
        neg = (y == 0).sum(axis=0).astype(float)
        ok = (pos > 0) & (neg > 0)
        weight = np.where(ok, neg / np.where(ok, pos, 1.0), 1.0)
        return torch.as_tensor(weight, dtype=torch.float32)
    if task == "multiclass":
        labels = y.reshape(-1)
        labels = labels[~np.isnan(labels)]
        if ((labels < 0) | (labels != np.round(labels))).any():
            raise InputError("class_weights: multiclass targets must be class indices 0..C-1")
        n = int(labels.max()) + 1 if n_classes is None and labels.size else int(n_classes or 0)
        counts = np.bincount(labels.astype(int), minlength=n).astype(float)
        if counts.size > n:
            raise InputError(f"class_weights: found class {counts.size - 1} but n_classes is {n}")
        weight = np.where(counts > 0, labels.size / (n * np.maximum(counts, 1)), 0.0)
        return torch.as_tensor(weight, dtype=torch.float32)
    raise ConfigError(
        f"class_weights: only for binary, multilabel and multiclass tasks; task is {task!r}"
    )
