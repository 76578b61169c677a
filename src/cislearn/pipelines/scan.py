"""`cislearn scan`: a trained run + genome (+ regions) → a bigWig (and bedGraph) of predictions."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from cislearn.distribute import Hardware, hardware_for, run_sharded
from cislearn.errors import ConfigError
from cislearn.io.atomic import later_rank, refuse_overwrite
from cislearn.io.shards import pack_arrays, read_shard_items, unpack_arrays
from cislearn.scan import ChunkSpec, ScanChunk, chunk_specs, scan_chunk, spec_bins
from cislearn.types import Progress, no_progress

__all__ = ["ScanResult", "scan_to_bigwig"]


class ScanResult(NamedTuple):
    """What :func:`scan_to_bigwig` returns."""

    out: Path
    output: str
    """The model output written."""
    width: int
    stride: int
    n_windows: int
    """Bins with a value written."""
    n_skipped: int
    """Bins without a value: window off a chromosome, or only N."""


def scan_to_bigwig(
    run: str | os.PathLike[str],
    genome: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    regions: str | os.PathLike[str] | None = None,
    stride: int = 50,
    output: str | None = None,
    value: str = "prob",
    bedgraph: str | os.PathLike[str] | None = None,
    input_tracks: Mapping[str, str] | None = None,
    force: bool = False,
    device: str | None = None,
    hardware: Hardware | None = None,
    progress: Progress = no_progress,
) -> ScanResult | None:
    """Predict every ``stride`` bin of ``regions`` (or whole chromosomes) and write a bigWig.

    Each bin gets the prediction of the model-length window centred on it
    (:mod:`cislearn.scan`); ``cnn``-like models run on base codes through the fast CPU kernel
    of :meth:`cislearn.predict.Predictor.predict`.

    Parameters
    ----------
    run : path
        A trained run folder.
    genome : path
        Genome FASTA; the bigWig header lists its chromosomes.
    regions : path, optional
        BED of regions; overlapping ones are merged.
    output : str, optional
        Model output name (default the first).
    value : {"prob", "logit"}
        Activated output (probability, regression value, rate) or raw output.
    device : str, optional
        Device of one process when ``hardware`` is None (None: GPU if present, else CPU).
    hardware : Hardware, optional
        Processes, devices and nodes (:func:`cislearn.distribute.inference_hardware`, the
        options of ``train``): the chunks (8,192 bins each, numbered in genome order) are
        split over the ranks on Lightning's predict loop, each rank writes its shard next to
        ``out`` and rank 0 writes the bigWig in genome order (the same file as one process).

    Returns
    -------
    ScanResult or None
        None on ranks other than 0.

    Examples
    --------
    >>> scan_to_bigwig("runs/ctcf", "hg38.fa", "ctcf.bw", regions="chr1.bed")  # doctest: +SKIP
    """
    from cislearn.io.bed import read_bed
    from cislearn.io.bigwig import TrackWriter
    from cislearn.io.genome import Genome
    from cislearn.pipelines.input_tracks import track_reader
    from cislearn.runload import load_run
    from cislearn.scan import predict_fn, tile_regions

    out = Path(out)
    for path in (out, bedgraph):
        if path is not None:
            refuse_overwrite(path, force)
    hardware = hardware_for(hardware, device)
    predictor = load_run(run, device=device)
    if getattr(predictor, "length", None) is None:
        raise ConfigError("scan needs a deep model run (a fixed input length)")
    if stride < 1:
        raise ConfigError(f"stride must be >= 1; got {stride}")
    names = list(predictor.output_names)
    column = 0 if output is None else (names.index(output) if output in names else -1)
    if column < 0:
        raise ConfigError(f"output '{output}' not in the model's outputs: {', '.join(names)}")
    n_windows = n_skipped = 0
    with ExitStack() as stack:
        gen = stack.enter_context(Genome(genome))
        tiles = tile_regions(read_bed(regions) if regions is not None else None, gen.lengths)
        reader = track_reader(predictor.meta, dict(input_tracks or {}), stack)
        run_model = predict_fn(predictor, column=column, value=value, tracks=reader)
        work = _ScanWork(predictor, run_model, gen, tiles, stride, progress)
        folder = out.parent / f".{out.name}.shards"
        try:
            shards = run_sharded(work, folder, hardware)
            if shards.rank != 0:
                return None
            writer = stack.enter_context(TrackWriter(out, gen.lengths, bedgraph=bedgraph))
            for _, payload in read_shard_items(shards.folder, shards.world_size):
                chunk = _unpack(payload)
                writer.add(chunk.chrom, chunk.starts, chunk.ends, chunk.values[:, 0])
                n_skipped += chunk.n_skipped
                n_windows += len(chunk.starts) - chunk.n_skipped
        finally:  # the shards are gone whether the scan finished or failed (rank 0 removes)
            if not later_rank():
                shutil.rmtree(folder, ignore_errors=True)
    return ScanResult(out, names[column], predictor.length, stride, n_windows, n_skipped)


class _ScanWork:
    """The chunks of a scan (:func:`cislearn.scan.chunk_specs`, numbered in genome order)
    predicted on each rank; the payload of a chunk is its :class:`ScanChunk` as arrays."""

    def __init__(
        self,
        predictor: Any,
        run_model: Callable[..., np.ndarray],
        genome: Any,
        tiles: pd.DataFrame,
        stride: int,
        progress: Progress,
    ) -> None:
        self.predictor, self.run_model, self.genome = predictor, run_model, genome
        self.tiles, self.stride, self.progress = tiles, stride, progress
        self.model = predictor.model
        self.part, self.done, self.total = 0, 0, 0

    def items(self, part: int, parts: int) -> Iterator[tuple[int, ChunkSpec]]:
        specs = [
            (k, spec)
            for k, spec in enumerate(chunk_specs(self.tiles, stride=self.stride))
            if k % parts == part
        ]
        self.part = part
        self.total = sum(spec_bins(spec, stride=self.stride) for _, spec in specs)
        if part == 0:
            self.progress("scan", 0, self.total)
        return iter(specs)

    def run(self, index: int, item: ChunkSpec, device: torch.device) -> bytes:
        self.predictor.device = device
        chunk = scan_chunk(
            self.run_model,
            self.genome.fetch,
            item,
            self.genome.lengths,
            width=int(self.predictor.length),
            stride=self.stride,
        )
        self.done += len(chunk.starts)
        if self.part == 0:  # rank 0's own share of the bins
            self.progress("scan", self.done, self.total)
        return pack_arrays(
            {
                "chrom": np.array([chunk.chrom], dtype=str),
                "starts": chunk.starts,
                "ends": chunk.ends,
                "values": chunk.values,
                "n_skipped": np.array([chunk.n_skipped], np.int64),
            }
        )

    def state(self) -> dict[str, np.ndarray]:
        return {}


def _unpack(payload: bytes) -> ScanChunk:
    a = unpack_arrays(payload)
    return ScanChunk(
        str(a["chrom"][0]), a["starts"], a["ends"], a["values"], int(a["n_skipped"][0])
    )
