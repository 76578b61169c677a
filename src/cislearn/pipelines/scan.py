"""`cislearn scan`: a trained run + genome (+ regions) → a bigWig (and bedGraph) of predictions."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import NamedTuple

from cislearn.errors import ConfigError
from cislearn.io.atomic import refuse_overwrite
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
    progress: Progress = no_progress,
) -> ScanResult:
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

    Returns
    -------
    ScanResult

    Examples
    --------
    >>> scan_to_bigwig("runs/ctcf", "hg38.fa", "ctcf.bw", regions="chr1.bed")  # doctest: +SKIP
    """
    from cislearn.io.bed import read_bed
    from cislearn.io.bigwig import TrackWriter
    from cislearn.io.genome import Genome
    from cislearn.pipelines.input_tracks import track_reader
    from cislearn.runload import load_run
    from cislearn.scan import predict_fn, scan_regions, tile_regions

    out = Path(out)
    for path in (out, bedgraph):
        if path is not None:
            refuse_overwrite(path, force)
    predictor = load_run(run)
    if getattr(predictor, "length", None) is None:
        raise ConfigError("scan needs a deep model run (a fixed input length)")
    names = list(predictor.output_names)
    column = 0 if output is None else (names.index(output) if output in names else -1)
    if column < 0:
        raise ConfigError(f"output '{output}' not in the model's outputs: {', '.join(names)}")
    gen = Genome(genome)
    tiles = tile_regions(read_bed(regions) if regions is not None else None, gen.lengths)
    n_windows = n_skipped = 0
    with ExitStack() as stack:
        reader = track_reader(predictor.meta, dict(input_tracks or {}), stack)
        run_model = predict_fn(predictor, column=column, value=value, tracks=reader)
        writer = stack.enter_context(TrackWriter(out, gen.lengths, bedgraph=bedgraph))
        for chunk in scan_regions(
            run_model,
            gen.fetch,
            tiles,
            gen.lengths,
            width=predictor.length,
            stride=stride,
            progress=progress,
        ):
            writer.add(chunk.chrom, chunk.starts, chunk.ends, chunk.values[:, 0])
            n_skipped += chunk.n_skipped
            n_windows += len(chunk.starts) - chunk.n_skipped
    return ScanResult(out, names[column], predictor.length, stride, n_windows, n_skipped)
