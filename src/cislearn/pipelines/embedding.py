"""The learned-features embedding of a trained run: penultimate-layer activations on the
held-out sequences, projected to 2-D, written as ``embedding.tsv`` and ``figures/embedding.png``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cislearn.io.atomic import atomic_write
from cislearn.types import Progress, no_progress

__all__ = ["EmbeddingResult", "EMBEDDING_TABLE", "EMBEDDING_FIGURE", "embedding_run"]

#: Files written inside the run folder.
EMBEDDING_TABLE = "embedding.tsv"
EMBEDDING_FIGURE = "figures/embedding.png"


class EmbeddingResult(NamedTuple):
    """What :func:`embedding_run` wrote."""

    table: Path
    figure: Path
    n_sequences: int
    n_features: int
    explained: tuple[float, float]
    part: str


def _held_out(dataset: Any) -> tuple[np.ndarray, str]:
    """Indices of the held-out part (test, else validation, else every record) and its name."""
    split = dataset.split
    if split is not None:
        for part in ("test", "valid"):
            idx = np.flatnonzero(np.asarray(split) == part)
            if len(idx) >= 3:
                return idx, part
    return np.arange(len(dataset.ids)), "all"


def embedding_run(
    run: str | os.PathLike[str],
    dataset: Any,
    *,
    max_sequences: int = 2000,
    seed: int = 0,
    device: str | None = None,
    progress: Progress = no_progress,
) -> EmbeddingResult:
    """Embed the held-out sequences of ``dataset`` with the learned features of the deep model
    in ``run`` (the activations entering its output layer), by PCA, coloured by the first label.

    Parameters
    ----------
    run : path-like
        A deep-model run folder (``model.json`` + ``model.safetensors``); files go inside it.
    dataset : SequenceDataset
        The data the run was trained on; its ``test`` part (else ``valid``, else all) is used.
    max_sequences : int
        At most this many held-out sequences (a random subset drawn with ``seed``).
    seed : int
    device : str or None
        None: the GPU if present, else the CPU.
    progress : Progress

    Returns
    -------
    EmbeddingResult
    """
    from cislearn.interpret.embedding import embed_2d, penultimate_features
    from cislearn.predict import load
    from cislearn.report.embedding import plot_embedding

    run = Path(run)
    progress("embedding", 0, 2)
    predictor = load(run, device=device)
    idx, part = _held_out(dataset)
    if len(idx) > max_sequences:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_sequences, replace=False))
    seqs = [dataset.sequences[i] for i in idx]
    features = penultimate_features(predictor.model, predictor.encode(seqs))
    emb = embed_2d(features, seed=seed)
    progress("embedding", 1, 2)
    labels = np.asarray(dataset.targets, dtype=np.float64)[idx, 0]
    name = str(dataset.target_names[0])
    with atomic_write(run / EMBEDDING_TABLE) as fh:
        fh.write(f"id\tsplit\t{name}\tpc1\tpc2\n")
        for i, k in enumerate(idx):
            x, y = emb.coords[i]
            fh.write(f"{dataset.ids[k]}\t{part}\t{labels[i]:g}\t{x:.5g}\t{y:.5g}\n")
    figure = plot_embedding(
        emb.coords,
        labels,
        run / EMBEDDING_FIGURE,
        explained=emb.explained,
        label_name=name,
        title=f"Learned features of {len(idx)} {part} sequences ({emb.n_features}-D → PCA)",
    )
    progress("embedding", 2, 2)
    return EmbeddingResult(
        run / EMBEDDING_TABLE,
        figure,
        len(idx),
        emb.n_features,
        (float(emb.explained[0]), float(emb.explained[1])),
        part,
    )
