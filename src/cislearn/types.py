"""Small shared value types: intervals, progress callbacks and per-stage result records."""

from __future__ import annotations

from typing import NamedTuple, Protocol

__all__ = ["Interval", "Progress", "no_progress", "SPLITS", "TASKS", "CLASSIFICATION_TASKS"]

#: The split names used everywhere inside cislearn. DeepBIO's ``training``/``testing`` (and
#: ``validation``) are mapped onto these by the readers.
SPLITS: tuple[str, ...] = ("train", "valid", "test")

#: Every prediction task, in the order ``task: auto`` tries them. Outputs are raw: logits for the
#: classification tasks, pre-activation values for ``regression`` (identity) and ``counts``
#: (softplus gives the Poisson rate). The one declaration: every module imports it from here.
TASKS: tuple[str, ...] = ("binary", "multilabel", "multiclass", "regression", "counts")
#: The tasks whose outputs are class probabilities.
CLASSIFICATION_TASKS: tuple[str, ...] = ("binary", "multilabel", "multiclass")


class Interval(NamedTuple):
    """A 0-based, half-open genomic interval ``[start, end)`` on ``chrom``."""

    chrom: str
    start: int
    end: int
    name: str = ""
    strand: str = "."

    @property
    def length(self) -> int:
        return self.end - self.start


class Progress(Protocol):
    """Progress callback used by every long-running library call.

    Called as ``progress(stage, done, total)`` or ``progress(stage, done, total, detail)``:
    ``stage`` names the bar (``"epoch"``), ``total`` is None when unknown and ``detail`` is an
    optional line about this step (``"epoch 3/20 train_loss=0.41 valid_auroc=0.91"``). Library
    code never prints: the CLI turns these calls into progress bars, the web app into job status.
    """

    def __call__(self, stage: str, done: int, total: int | None, detail: str = "") -> None: ...


def no_progress(stage: str, done: int, total: int | None, detail: str = "") -> None:
    """The default progress callback: does nothing."""
