"""Batched prediction from a saved model bundle (plain torch; Lightning is never imported here).

:class:`DeepPredictor` implements the :class:`cislearn.types.Predictor` protocol; loading any
run folder (deep or baseline) is :func:`cislearn.runload.load_run`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from cislearn import fastpath
from cislearn.device import resolve_device
from cislearn.encode import one_hot, to_codes
from cislearn.errors import InputError, ModelLoadError
from cislearn.fastpath.codeconv import CodePlan, code_plan, weights_key
from cislearn.io.bundle import read_bundle
from cislearn.losses import output_activation
from cislearn.models.layers import RCAverage, reverse_complement_batch
from cislearn.models.registry import build_model
from cislearn.types import (
    TASKS,
    FeatureImportance,
    Predictions,
    Predictor,
    Progress,
    no_progress,
    prediction_columns,
    strand_average,
)

__all__ = [
    "CPU_BATCH_SIZE",
    "GPU_BATCH_SIZE",
    "DeepPredictor",
    "Predictions",
    "Predictor",
    "load",
    "predict_chunk",
    "predict_records",
    "predicting_model",
    "prediction_frame",
]
#: Default inputs per forward pass. On CPU small batches keep the activations in cache:
#: ``cnn`` at 201 bp on 2 cores ran 11,400 seq/s with 128 and 6,500 seq/s with 1,024
#: (benchmarks/predict.py); a GPU wants large batches.
CPU_BATCH_SIZE = 128
GPU_BATCH_SIZE = 1024
#: Sequences per call of the code kernel (it keeps only pooled features: memory is small).
CODE_CHUNK = 8192


class DeepPredictor:
    """A loaded model bundle, ready to predict (a :class:`cislearn.types.Predictor`).

    Attributes
    ----------
    kind : "deep"
    model : nn.Module
        The rebuilt model (eval mode) on ``device``.
    meta : dict
        The bundle's ``model.json``.
    task : str
    target_names : list of str
        Targets of the training data.
    output_names : list of str
        One name per output column (``label_0``.. for multiclass, else the targets).
    length : int
        Input length in bp the model was trained on.
    n_tracks : int
        Extra per-base input channels the model expects after A, C, G, T.
    device : torch.device

    Examples
    --------
    >>> pred = load("runs/ctcf")  # doctest: +SKIP
    >>> pred.predict(["ACGT" * 50 + "A"]).probs.shape  # doctest: +SKIP
    (1, 1)
    """

    kind: Literal["deep"] = "deep"

    def __init__(self, model: nn.Module, meta: dict[str, Any], *, device: torch.device) -> None:
        self.model = model
        self.meta = meta
        self.task: str = meta["task"]
        self.target_names: list[str] = list(meta["target_names"])
        self.output_names: list[str] = list(meta.get("output_names") or meta["target_names"])
        self.length: int = int(meta["length"])
        self.n_tracks: int = int(meta["n_tracks"])
        self.n_value: float = float(meta.get("n_value", 0.25))
        self.device = device
        self._activate = output_activation(self.task)
        self._plan: tuple[tuple, CodePlan | None] | None = None  # (weights key, plan)

    def __repr__(self) -> str:
        return (
            f"DeepPredictor(arch={self.meta['arch']!r}, task={self.task!r}, length={self.length}, "
            f"outputs={self.output_names}, device={str(self.device)!r})"
        )

    def _check_sequences(
        self,
        seqs: Sequence[str],
        *,
        offset: int,
        ids: Sequence[str] | None,
        path: str | os.PathLike[str] | None,
    ) -> None:
        if self.n_tracks:
            raise InputError(
                f"this model also needs {self.n_tracks} input track(s) "
                f"({', '.join(self.meta.get('track_names', [])) or 'per-base values'}); "
                "pass one-hot arrays of shape (n, 4 + tracks, length) instead of sequences"
            )
        for i, seq in enumerate(seqs):
            if not isinstance(seq, str):
                raise InputError(
                    f"expected a DNA string; got {type(seq).__name__}", record=offset + i + 1
                )
            if len(seq) != self.length:
                raise InputError(
                    f"sequence length {len(seq)}; the model takes {self.length} bp; resize the "
                    f"inputs with `cislearn resize FASTA --length {self.length} --out OUT.fa` "
                    "(keeps the centre: trims or pads with N on both sides)",
                    path=path,
                    record=offset + i + 1,
                    record_id=None if ids is None else str(ids[i]),
                )

    def encode(
        self,
        seqs: Sequence[str],
        *,
        offset: int = 0,
        ids: Sequence[str] | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> np.ndarray:
        """One-hot encode sequences of the model's length, (n, 4, length) float32.

        Raises InputError naming the first record of another length (``offset`` is added to
        its 0-based position to give the 1-based record number).
        """
        self._check_sequences(seqs, offset=offset, ids=ids, path=path)
        return one_hot(list(seqs), n_value=self.n_value)

    def codes(
        self,
        seqs: Sequence[str],
        *,
        offset: int = 0,
        ids: Sequence[str] | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> np.ndarray:
        """Base codes (A, C, G, T, N = 0..4) of sequences of the model's length, (n, length)
        uint8: the compact input :meth:`predict` takes. Checked as in :meth:`encode`."""
        self._check_sequences(seqs, offset=offset, ids=ids, path=path)
        if not len(seqs):
            return np.zeros((0, self.length), np.uint8)
        return to_codes(list(seqs))

    def _as_input(self, x: Any) -> np.ndarray | Tensor:
        """Base codes (n, length) uint8 for sequences and code arrays, else a float Tensor."""
        if isinstance(x, str):
            x = [x]
        if isinstance(x, np.ndarray) and x.dtype.kind in "US":
            x = x.tolist()
        if isinstance(x, (list, tuple)) and (len(x) == 0 or isinstance(x[0], str)):
            return self.codes(x)
        if isinstance(x, np.ndarray) and x.dtype.kind in "iu":
            if x.ndim != 2 or x.shape[1] != self.length or self.n_tracks:
                raise InputError(
                    f"predict: base codes must have shape (n, {self.length}) for a model "
                    f"without tracks; got {tuple(x.shape)}"
                )
            if x.size and (x.min() < 0 or x.max() > 4):
                raise InputError("predict: base codes must be 0-4 (A, C, G, T, N)")
            return np.ascontiguousarray(x, dtype=np.uint8)
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if not isinstance(x, Tensor):
            raise InputError(
                f"predict: expected DNA strings or a one-hot array; got {type(x).__name__}"
            )
        channels = 4 + self.n_tracks
        if x.ndim != 3 or x.shape[1] != channels or x.shape[2] != self.length:
            raise InputError(
                f"predict: one-hot input must have shape (n, {channels}, {self.length}); "
                f"got {tuple(x.shape)}"
            )
        return x.float()

    def predict(
        self,
        x_or_seqs: Sequence[str] | np.ndarray | Tensor,
        *,
        batch_size: int | None = None,
        rc_average: bool | None = None,
    ) -> Predictions:
        """Predict a batch of sequences or one-hot inputs.

        Parameters
        ----------
        x_or_seqs : sequence of str, codes (n, length), or one-hot (n, 4 + n_tracks, length)
            Strings (any non-ACGT letter is N) must all have the model's input length; they
            and integer base codes (:meth:`codes`) run through the CPU kernel of
            :mod:`cislearn.fastpath.codeconv` when the model allows it and the fast path
            is on (:func:`cislearn.fastpath.enabled`), else are one-hot encoded.
        batch_size : int, optional
            Inputs per torch forward pass; does not change the results. None → 128 on CPU,
            1024 on GPU (:data:`CPU_BATCH_SIZE`, :data:`GPU_BATCH_SIZE`).
        rc_average : bool, optional
            Average the outputs of each sequence and its reverse complement; None → the
            bundle's default (the training config's ``rc_average``).

        Returns
        -------
        Predictions
            ``logits`` and ``probs``, each float32 of shape (n, n_outputs).

        Examples
        --------
        >>> pred.predict(np.zeros((2, 4, pred.length), np.float32)).logits.shape  # doctest: +SKIP
        (2, 1)
        """
        if batch_size is None:
            batch_size = CPU_BATCH_SIZE if self.device.type == "cpu" else GPU_BATCH_SIZE
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1; got {batch_size}")
        rc = strand_average(self, rc_average)
        x = self._as_input(x_or_seqs)
        n = x.shape[0]
        logits = torch.empty((n, len(self.output_names)), dtype=torch.float32)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                plan = None
                if isinstance(x, np.ndarray):  # base codes: the CPU kernel when it applies
                    plan = self._code_plan()
                    if plan is None:
                        x = torch.from_numpy(one_hot(x, n_value=self.n_value))
                if plan is not None:
                    for start in range(0, n, CODE_CHUNK):
                        out, _ = plan.logits(x[start : start + CODE_CHUNK], rc_average=rc)
                        logits[start : start + CODE_CHUNK] = out.float()
                else:
                    for start in range(0, n, batch_size):
                        xb = x[start : start + batch_size].to(self.device, non_blocking=True)
                        out = self.model(xb)
                        if rc:
                            out = 0.5 * (out + self.model(reverse_complement_batch(xb)))
                        logits[start : start + batch_size] = out.float().cpu()
                probs = self._activate(logits)
        finally:
            self.model.train(was_training)
        return Predictions(logits.numpy(), probs.numpy())

    def _code_plan(self) -> CodePlan | None:
        """The model's code plan (None: not covered), rebuilt only when the weights change."""
        key = (fastpath.enabled(), *weights_key(self.model))
        if self._plan is None or self._plan[0] != key:
            self._plan = (key, code_plan(self.model, n_value=self.n_value))
        return self._plan[1]

    def columns(self, output: str = "both") -> list[str]:
        """Column names :func:`predict_records` writes after ``id`` for ``output`` (one of
        :data:`~cislearn.types.PREDICTION_OUTPUTS`)."""
        return prediction_columns(self.task, self.output_names, output)

    def importance(self) -> FeatureImportance | None:
        """None: a deep model has no named feature importances (see :mod:`cislearn.interpret`)."""
        return None


def predicting_model(predictor: Predictor) -> torch.nn.Module:
    """``predictor``'s network as it predicts: wrapped in :class:`RCAverage` when it averages
    both strands (:func:`cislearn.types.strand_average`; the default model does), so that
    attributions, in-silico experiments and designs explain the output ``predict`` reports."""
    model = predictor.model  # type: ignore[attr-defined]
    if strand_average(predictor) and not isinstance(model, RCAverage):
        return RCAverage(model)
    return model


def load(
    path: str | os.PathLike[str], *, device: str | torch.device | None = None
) -> DeepPredictor:
    """Load a model bundle for prediction (safetensors + JSON: nothing is unpickled).

    Parameters
    ----------
    path : path
        Bundle directory written by ``cislearn train`` (any run folder, baselines included:
        :func:`cislearn.runload.load_run`).
    device : str or torch.device, optional
        Where to run the model; None → the GPU when present, else the CPU.

    Returns
    -------
    DeepPredictor

    Raises
    ------
    ModelLoadError
        Missing or damaged files, an unknown format version, an architecture this version
        does not know, or weights that do not fit the described model.

    Examples
    --------
    >>> import cislearn
    >>> pred = cislearn.load("runs/ctcf")  # doctest: +SKIP
    """
    where = os.fspath(path)
    if os.path.isfile(os.path.join(path, "baseline.json")):
        raise ModelLoadError(
            f"{where} is a baseline run, not a model bundle; load it with cislearn.load "
            "(cislearn.runload.load_run), which takes either kind"
        )
    state, meta = read_bundle(path)
    if meta["task"] not in TASKS:
        raise ModelLoadError(
            f"{where}: a '{meta['task']}' model cannot predict targets (task must be one of "
            f"{', '.join(TASKS)}); fine-tune it with `cislearn train --init {where}`"
        )
    try:
        model = build_model(
            meta["arch"],
            meta["model"],
            length=int(meta["length"]),
            n_outputs=int(meta["n_outputs"]),
            n_tracks=int(meta["n_tracks"]),
        )
    except (ValueError, TypeError) as exc:  # ConfigError is a ValueError
        raise ModelLoadError(
            f"{where}: model.json does not describe a buildable model: {exc}"
        ) from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())[:300]
        raise ModelLoadError(
            f"{where}: the weights do not fit the '{meta['arch']}' model in model.json ({detail})"
        ) from None
    dev = resolve_device(device)
    model.to(dev).eval()
    return DeepPredictor(model, meta, device=dev)


def _record(rec: Any) -> tuple[str, str]:
    if isinstance(rec, tuple) and len(rec) == 2:
        return str(rec[0]), rec[1]
    return str(rec.id), rec.sequence


def prediction_frame(
    pred: Predictions, ids: Sequence[str], columns: Sequence[str], output: str
) -> pd.DataFrame:
    """``id`` then the columns :meth:`Predictor.columns` names for ``output``, one row each."""
    parts = []
    if output in ("prob", "both"):
        parts.append(pred.probs)
    if output in ("logit", "both"):
        parts.append(pred.logits)
    frame = pd.DataFrame(np.concatenate(parts, axis=1), columns=list(columns))
    frame.insert(0, "id", list(ids))
    return frame


def predict_records(
    predictor: Predictor,
    records: Iterable[Any],
    *,
    batch_size: int | None = None,
    chunk_size: int = 16384,
    rc_average: bool | None = None,
    output: str = "both",
    path: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> Iterator[pd.DataFrame]:
    """Stream predictions for ``(id, sequence)`` records, one DataFrame per chunk.

    Memory stays flat: only ``chunk_size`` records are held and encoded at a time.

    Parameters
    ----------
    predictor : Predictor
    records : iterable of (id, sequence) tuples or records with ``.id`` and ``.sequence``
    batch_size : int, optional
        Inputs per forward pass (see :meth:`Predictor.predict`).
    chunk_size : int
        Records per DataFrame.
    rc_average : bool, optional
        See :meth:`Predictor.predict`.
    output : {"both", "prob", "logit"}
        Which columns to write (see :meth:`Predictor.columns`).
    path : path, optional
        Input file name, for error messages.
    progress : Progress, optional
        Called as ``progress("predict", n_done, None)`` after each chunk.

    Yields
    ------
    DataFrame
        Columns ``id`` then the prediction columns, one row per record, in input order.

    Examples
    --------
    >>> for chunk in predict_records(pred, read_fasta("in.fa")):  # doctest: +SKIP
    ...     chunk.to_csv(out, sep="\\t", header=first, index=False)
    """
    progress = progress or no_progress
    it = iter(records)
    done = 0
    while True:
        chunk = list(islice(it, chunk_size))
        if not chunk:
            break
        frame = predict_chunk(
            predictor,
            chunk,
            offset=done,
            batch_size=batch_size,
            rc_average=rc_average,
            output=output,
            path=path,
        )
        done += len(chunk)
        progress("predict", done, None)
        yield frame


def predict_chunk(
    predictor: Predictor,
    records: Sequence[Any],
    *,
    offset: int = 0,
    batch_size: int | None = None,
    rc_average: bool | None = None,
    output: str = "both",
    path: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Predictions of one chunk of records (see :func:`predict_records`); ``offset`` is the
    number of records before the chunk in the input (for error messages).

    Returns
    -------
    DataFrame
        Columns ``id`` then the prediction columns, one row per record.
    """
    chunk = [_record(r) for r in records]
    ids = [c[0] for c in chunk]
    x = predictor.codes([c[1] for c in chunk], offset=offset, ids=ids, path=path)
    pred = predictor.predict(x, batch_size=batch_size, rc_average=rc_average)
    return prediction_frame(pred, ids, predictor.columns(output), output)
