"""`cislearn scan`: a trained run + genome (+ regions) → a bigWig (and bedGraph) of predictions."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cislearn.errors import ConfigError, InputError
from cislearn.types import Progress, no_progress

__all__ = ["ScanResult", "scan_to_bigwig", "track_reader"]


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


def track_reader(
    predictor: Any, paths: Mapping[str, str], stack: ExitStack
) -> Callable[[str, np.ndarray, int], np.ndarray] | None:
    """For a model with input tracks: a callable (chrom, starts, width) → (m, c, width) built
    from the bundle's recorded tracks (``input_tracks`` in model.json), each read from the
    path in ``paths`` when given there, else from the recorded path. None without tracks."""
    from cislearn.io.bigwig import BigWig
    from cislearn.tracks import TrackSpec, input_tracks

    if not predictor.n_tracks:
        if paths:
            raise ConfigError("--input-track given, but this model takes no input tracks")
        return None
    recorded = predictor.meta.get("input_tracks") or []
    if len(recorded) != predictor.n_tracks:
        raise InputError(
            f"this model takes {predictor.n_tracks} input track(s) but its bundle does not "
            "record where they come from (train it with --input-track NAME=track.bw)"
        )
    specs = [TrackSpec(**r) for r in recorded]
    unknown = sorted(set(paths) - {s.name for s in specs})
    if unknown:
        raise ConfigError(
            f"--input-track {unknown[0]}: the model's tracks are {', '.join(s.name for s in specs)}"
        )
    specs = [s._replace(path=paths.get(s.name, s.path)) for s in specs]
    for s in specs:
        if not Path(s.path).is_file():
            raise InputError(
                f"input track '{s.name}' of this model: bigWig {s.path} not found; give it as "
                f"--input-track {s.name}=PATH"
            )
    opened = {s.name: stack.enter_context(BigWig(s.path)) for s in specs}

    def read(chrom: str, starts: np.ndarray, width: int) -> np.ndarray:
        starts = np.asarray(starts, np.int64)
        return input_tracks([chrom] * len(starts), starts, starts + width, opened, specs)

    return read


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
    from cislearn.predict import load
    from cislearn.scan import predict_fn, scan_regions, tile_regions

    out = Path(out)
    for path in (out, bedgraph):
        if path is not None and Path(path).exists() and not force:
            raise ConfigError(f"{path} exists; add --force to replace it")
    predictor = load(run)
    if not hasattr(predictor, "length"):
        raise ConfigError("scan needs a deep model run (a fixed input length)")
    names = list(predictor.output_names)
    column = 0 if output is None else (names.index(output) if output in names else -1)
    if column < 0:
        raise ConfigError(f"output '{output}' not in the model's outputs: {', '.join(names)}")
    gen = Genome(genome)
    tiles = tile_regions(read_bed(regions) if regions is not None else None, gen.lengths)
    n_windows = n_skipped = 0
    with ExitStack() as stack:
        reader = track_reader(predictor, dict(input_tracks or {}), stack)
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
