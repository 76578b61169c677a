"""The `predict` action: stream the records of a FASTA through a run's model into a TSV, on one
process or spread over processes, GPUs and nodes (Lightning's distributed predict loop)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, NamedTuple

import torch

from cislearn.distribute import Hardware, hardware_for, run_sharded
from cislearn.io.atomic import atomic_write
from cislearn.io.fasta import FastaRecord, read_fasta
from cislearn.io.shards import read_shard_items
from cislearn.predict import predict_chunk
from cislearn.types import Predictor, Progress, no_progress

__all__ = ["PredictResult", "predict_run"]


class PredictResult(NamedTuple):
    """What :func:`predict_run` wrote."""

    out: Path
    n_predictions: int


class _PredictWork:
    """Chunks of ``chunk_size`` FASTA records; the payload of a chunk is its rows as TSV."""

    def __init__(
        self, predictor: Predictor, fasta: Path, chunk_size: int, progress: Progress, **opts: Any
    ) -> None:
        self.predictor, self.fasta, self.chunk_size = predictor, fasta, chunk_size
        self.model = getattr(predictor, "model", None)
        self.progress, self.opts = progress, opts
        self.part, self.done = 0, 0

    def items(self, part: int, parts: int) -> Iterator[tuple[int, list[FastaRecord]]]:
        self.part = part
        it = iter(read_fasta(self.fasta))
        index = 0
        while chunk := list(islice(it, self.chunk_size)):
            if index % parts == part:
                yield index, chunk
            index += 1

    def run(self, index: int, item: list[FastaRecord], device: torch.device) -> bytes:
        if hasattr(self.predictor, "device"):
            self.predictor.device = device
        frame = predict_chunk(
            self.predictor, item, offset=index * self.chunk_size, path=self.fasta, **self.opts
        )
        self.done += len(item)
        if self.part == 0:
            self.progress("predict", self.done, None)
        return frame.to_csv(sep="\t", index=False, header=False, float_format="%.6g").encode()

    def state(self) -> dict:
        return {}


def predict_run(
    run: str | os.PathLike[str],
    fasta: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    batch_size: int | None = None,
    output: str = "both",
    rc_average: bool | None = None,
    chunk_size: int = 16384,
    device: str | None = None,
    hardware: Hardware | None = None,
    input_tracks: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
) -> PredictResult | None:
    """The `predict` action: the records of ``fasta`` through the run's model into the TSV
    ``out`` (``id``, then probabilities and/or logits per output), written atomically.

    Chunks of ``chunk_size`` records are split over the ranks
    (:func:`cislearn.distribute.run_sharded`; ``strategy="ddp"`` with ``devices=N``: N
    processes per node, GPUs or CPU processes); each rank writes its shard beside ``out``
    and rank 0 writes the TSV in input order, identical to a one-process run. Memory stays
    flat in the number of records.

    Parameters
    ----------
    run, fasta, out : path
        Run folder, input FASTA, output TSV.
    batch_size, output, rc_average
        See :func:`cislearn.predict.predict_records`.
    chunk_size : int
        Records per work item.
    device : str, optional
        Device of one process when ``hardware`` is None (None: GPU if present, else CPU).
    hardware : Hardware, optional
        Processes, devices, nodes, precision and threads, from
        :func:`cislearn.distribute.inference_hardware` (the options of ``train``).
    input_tracks : mapping of str to path, optional
        A model with input tracks (issue 16) reads them at each record's coordinates
        (``fasta`` ids ``chrom:start-end``, or a table with ``chrom, start, end``) from the
        bigWigs its bundle records, or from these (name → path); one process, see
        :func:`cislearn.pipelines.input_tracks.predict_tracks_file`.
    progress : Progress
        ``progress("predict", n_done, None)`` after each of rank 0's chunks.

    Returns
    -------
    PredictResult or None
        None on ranks other than 0.
    """
    from cislearn.runload import load_run as load

    fasta, out = Path(fasta), Path(out)
    hardware = hardware_for(hardware, device)
    predictor = load(run, device=device)
    if getattr(predictor, "n_tracks", 0) or input_tracks:
        from cislearn.pipelines.input_tracks import predict_tracks_file

        n = predict_tracks_file(
            predictor, fasta, out, output=output, paths=dict(input_tracks or {})
        )
        return PredictResult(out, n)
    opts = {"batch_size": batch_size, "output": output, "rc_average": rc_average}
    work = _PredictWork(predictor, fasta, chunk_size, progress, **opts)
    shards = run_sharded(work, out.parent / f".{out.name}.shards", hardware)
    if shards.rank != 0:
        return None
    n = 0
    try:
        with atomic_write(out) as fh:
            fh.write("\t".join(["id", *predictor.columns(output)]) + "\n")
            for _, payload in read_shard_items(shards.folder, shards.world_size):
                text = payload.decode()
                fh.write(text)
                n += text.count("\n")
    finally:
        shutil.rmtree(shards.folder, ignore_errors=True)
    return PredictResult(out, n)
