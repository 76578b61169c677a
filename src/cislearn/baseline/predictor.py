"""The predictor of a baseline run (a :class:`cislearn.types.Predictor`), for ``cislearn
predict`` and run evaluation."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cislearn.baseline.files import META_FILE, load_baseline
from cislearn.baseline.models import LINEAR_MODELS, BaselineModel
from cislearn.encode import reverse_complement
from cislearn.errors import InputError
from cislearn.types import FeatureImportance, Predictions, prediction_columns


class Records(list):
    """Checked sequences that remember their ids (``chrom:start-end`` windows for ``bigwig``
    features): what :meth:`BaselinePredictor.codes` returns and :meth:`~BaselinePredictor.
    predict` takes, so ``predict_records`` passes the ids along without knowing about them."""

    ids: list[str] | None = None


class BaselinePredictor:
    """A baseline run loaded for prediction: implements :class:`cislearn.types.Predictor`.

    ``length`` is None: any sequence length is accepted. ``model`` is the
    :class:`BaselineModel`.
    """

    kind: Literal["baseline"] = "baseline"

    def __init__(self, model: BaselineModel, meta: dict[str, Any]) -> None:
        self.model = model
        self.meta = meta
        self.task = model.task
        self.target_names = list(model.target_names)
        self.output_names = list(model.target_names)
        self.length: int | None = None
        self.n_tracks = 0
        self.n_value = 0.25

    def __repr__(self) -> str:
        return (
            f"BaselinePredictor(model={self.model.model!r}, task={self.task!r}, "
            f"features={[str(s) for s in self.model.features]}, outputs={self.output_names})"
        )

    def columns(self, output: str = "both") -> list[str]:
        """Column names of the prediction table after ``id`` for ``output``."""
        return prediction_columns(self.task, self.output_names, output)

    def importance(self) -> FeatureImportance:
        """Named importances for the run's feature-importance figure.

        Forests: permutation importance of the top features (drop in held-out score when
        permuted). Linear models with one target: the signed coefficients on max-abs-scaled
        features; several targets: the largest absolute coefficient.
        """
        m = self.model
        if m.permutation:
            metric = "R²" if m.task == "regression" else "AUROC"
            return FeatureImportance(
                list(m.permutation),
                np.array(list(m.permutation.values())),
                f"Permutation importance (drop in {metric})",
            )
        if m.model in LINEAR_MODELS and m.arrays["coef"].shape[0] == 1:
            return FeatureImportance(
                list(m.feature_names),
                m.arrays["coef"][0],
                "Coefficient (max-abs-scaled features)",
            )
        label = "|Coefficient| (max-abs-scaled)" if m.model != "rf" else "Impurity importance"
        return FeatureImportance(list(m.feature_names), m.importance, label)

    def encode(
        self,
        seqs: Sequence[str],
        *,
        offset: int = 0,
        ids: Sequence[str] | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> list[str]:
        """Check the sequences are strings (any length); features are made in :meth:`predict`."""
        for i, seq in enumerate(seqs):
            if not isinstance(seq, str):
                raise InputError(
                    f"expected a DNA string; got {type(seq).__name__}",
                    path=path,
                    record=offset + i + 1,
                    record_id=None if ids is None else str(ids[i]),
                )
        return list(seqs)

    def codes(
        self,
        seqs: Sequence[str],
        *,
        offset: int = 0,
        ids: Sequence[str] | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> list[str]:
        """The input :meth:`predict` takes (what ``predict_records`` passes): for a baseline,
        the checked strings themselves, with their ids (:class:`Records`)."""
        out = Records(self.encode(seqs, offset=offset, ids=ids, path=path))
        out.ids = None if ids is None else [str(i) for i in ids]
        return out

    def predict(
        self,
        x_or_seqs: Sequence[str],
        *,
        batch_size: int | None = None,
        rc_average: bool | None = None,
    ) -> Predictions:
        """Predict DNA strings, float32 (n, t) logits and probabilities (values for regression).

        ``batch_size`` is ignored; ``rc_average`` averages the raw outputs of each sequence
        and its reverse complement.
        """
        if isinstance(x_or_seqs, str):
            x_or_seqs = [x_or_seqs]
        if isinstance(x_or_seqs, np.ndarray) and x_or_seqs.dtype.kind in "US":
            x_or_seqs = x_or_seqs.tolist()
        if not isinstance(x_or_seqs, list | tuple):
            raise InputError(
                f"a baseline model predicts DNA strings; got {type(x_or_seqs).__name__}"
            )
        ids = getattr(x_or_seqs, "ids", None)
        seqs = self.encode(x_or_seqs)
        pred = self.model.predict(seqs, ids=ids)
        if rc_average:
            other = self.model.predict([reverse_complement(s) for s in seqs], ids=ids)
            raw = 0.5 * (pred.logits + other.logits)
            probs = raw if self.task == "regression" else 1.0 / (1.0 + np.exp(-raw))
            pred = Predictions(raw.astype(np.float32), probs.astype(np.float32))
        return pred


def load_predictor(path: str | os.PathLike[str]) -> BaselinePredictor:
    """A :class:`BaselinePredictor` for a baseline run folder."""
    model = load_baseline(path)
    meta = json.loads((Path(path) / META_FILE).read_text())
    return BaselinePredictor(model, meta)
