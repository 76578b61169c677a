"""Small shared value types: intervals, progress callbacks, predictions and the Predictor
protocol every loaded run (deep or baseline) implements."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, runtime_checkable

from cislearn.errors import InputError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Interval",
    "Progress",
    "no_progress",
    "SPLITS",
    "TASKS",
    "CLASSIFICATION_TASKS",
    "PREDICTION_OUTPUTS",
    "Predictions",
    "FeatureImportance",
    "Predictor",
    "prediction_columns",
    "strand_average",
]

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


#: Values of ``output`` in :meth:`Predictor.columns`: which prediction columns to write.
PREDICTION_OUTPUTS: tuple[str, ...] = ("prob", "logit", "both")


class Predictions(NamedTuple):
    """Model outputs for n inputs and t outputs."""

    logits: np.ndarray
    """Raw outputs, float32 (n, t): logits, or pre-activation values for regression/counts."""
    probs: np.ndarray
    """Activated outputs, float32 (n, t): probabilities (sigmoid; softmax for multiclass),
    the regression value, or the Poisson rate (softplus) for counts."""


class FeatureImportance(NamedTuple):
    """Named feature importances for a run's importance figure."""

    names: list[str]
    values: np.ndarray
    """float (p,), one value per name."""
    label: str
    """Axis label saying what the values are."""


@runtime_checkable
class Predictor(Protocol):
    """A loaded run, ready to predict: what every caller may rely on.

    Implemented by :class:`cislearn.predict.DeepPredictor` (model bundles) and
    :class:`cislearn.baseline.BaselinePredictor` (classical baselines), which do not import
    each other; :func:`cislearn.runload.load_run` picks the right one for a run folder.

    Attributes
    ----------
    kind : {"deep", "baseline"}
        ``deep`` predictors also carry ``model`` (an ``nn.Module``) and ``device`` for the
        interpretation and variant-scoring functions; ``baseline`` ones featurize strings.
    meta : dict
        The run's model description (``model.json`` / ``baseline.json``).
    task : str
        One of :data:`TASKS`.
    target_names : list of str
    output_names : list of str
        One name per output column.
    length : int or None
        Input length in bp; None: any length (baselines).
    n_tracks : int
        Extra per-base input channels after A, C, G, T.
    n_value : float
        One-hot value of N.
    """

    kind: Literal["deep", "baseline"]
    meta: dict[str, Any]
    task: str
    target_names: list[str]
    output_names: list[str]
    length: int | None
    n_tracks: int
    n_value: float

    def codes(
        self,
        seqs: Sequence[str],
        *,
        offset: int = 0,
        ids: Sequence[str] | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> Any:
        """Check sequences (errors name the record) and return the compact input
        :meth:`predict` takes."""
        ...

    def predict(
        self, x_or_seqs: Any, *, batch_size: int | None = None, rc_average: bool | None = None
    ) -> Predictions:
        """Predictions of shape (n, len(output_names)) for sequences or encoded inputs."""
        ...

    def columns(self, output: str = "both") -> list[str]:
        """Column names of the prediction table for ``output`` (:data:`PREDICTION_OUTPUTS`)."""
        ...

    def importance(self) -> FeatureImportance | None:
        """Named feature importances, or None when the model has none (deep models)."""
        ...


def strand_average(predictor: Predictor, rc_average: bool | None = None) -> bool:
    """Whether ``predictor``'s outputs are averaged over both strands: ``rc_average`` when
    given, else what its run records (``meta["rc_average"]``: how it was validated; the
    default model's recipe sets it). Prediction, scans, variant scores and mutation maps all
    ask here, so that they agree for one model."""
    if rc_average is None:
        return bool(predictor.meta.get("rc_average", False))
    return bool(rc_average)


def prediction_columns(task: str, output_names: Sequence[str], output: str = "both") -> list[str]:
    """Column names a prediction table has after ``id``, for ``output`` in
    :data:`PREDICTION_OUTPUTS`: ``<name>_prob`` / ``<name>_logit`` for classification,
    ``_pred`` / ``_raw`` for regression, ``_rate`` / ``_raw`` for counts.

    Examples
    --------
    >>> prediction_columns("binary", ["ctcf"])
    ['ctcf_prob', 'ctcf_logit']
    """
    if output not in PREDICTION_OUTPUTS:
        raise InputError(f"output must be one of {', '.join(PREDICTION_OUTPUTS)}; got {output!r}")
    prob, raw = (
        ("prob", "logit")
        if task in CLASSIFICATION_TASKS
        else (("pred", "raw") if task == "regression" else ("rate", "raw"))
    )
    cols = []
    if output in ("prob", "both"):
        cols += [f"{name}_{prob}" for name in output_names]
    if output in ("logit", "both"):
        cols += [f"{name}_{raw}" for name in output_names]
    return cols
