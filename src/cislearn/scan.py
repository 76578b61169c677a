"""Genome scans: tile regions into overlapping windows and predict each, streaming in chunks.

Every region is cut into bins of ``stride`` bp; the window of a bin is the model's input
length centred on the bin's centre base (``bin_start + stride // 2``), and the bin gets that
window's prediction. Windows that run off a chromosome or hold only N are skipped (no value).
Memory is flat in region size: one chunk of windows is fetched, encoded and predicted at a
time (one genome read per chunk; the windows are views of its base codes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cislearn.encode import to_codes
from cislearn.errors import ConfigError, InputError
from cislearn.types import Progress, no_progress, strand_average

__all__ = [
    "ScanChunk",
    "ChunkSpec",
    "chunk_specs",
    "spec_bins",
    "scan_chunk",
    "scan_regions",
    "tile_regions",
    "window_of_bin",
    "CHUNK_BINS",
]

#: Bins (windows) per chunk: 8,192 windows of 201 bp are 1.6 MB of base codes.
CHUNK_BINS = 8192


class ScanChunk(NamedTuple):
    """Predictions of consecutive bins of one region."""

    chrom: str
    starts: np.ndarray
    """int64 (m,): bin starts."""
    ends: np.ndarray
    """int64 (m,): bin ends."""
    values: np.ndarray
    """float32 (m, outputs): NaN for skipped bins."""
    n_skipped: int


def window_of_bin(bin_start: np.ndarray, stride: int, width: int) -> np.ndarray:
    """Start of the ``width`` window centred on each bin's centre base.

    Examples
    --------
    >>> window_of_bin(np.array([0, 50]), 50, 201).tolist()
    [-75, -25]
    """
    return np.asarray(bin_start, np.int64) + stride // 2 - width // 2


def tile_regions(regions: pd.DataFrame | None, lengths: Mapping[str, int]) -> pd.DataFrame:
    """Regions sorted in genome order, overlapping ones merged; None → whole chromosomes.

    Raises InputError for a chromosome the genome lacks or a region past its end.
    """
    if regions is None:
        return pd.DataFrame(
            {"chrom": list(lengths), "start": 0, "end": [int(v) for v in lengths.values()]}
        )
    order = {c: i for i, c in enumerate(lengths)}
    rows = []
    for i, (c, s, e) in enumerate(regions[["chrom", "start", "end"]].itertuples(index=False)):
        if c not in order:
            raise InputError(f"region {i + 1}: chromosome '{c}' is not in the genome")
        if s < 0 or e > lengths[c] or e <= s:
            raise InputError(f"region {i + 1} ({c}:{s}-{e}) is outside {c} (length {lengths[c]})")
        rows.append((order[c], int(s), int(e)))
    rows.sort()
    merged: list[list[int]] = []
    for rank, s, e in rows:
        if merged and merged[-1][0] == rank and s <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], e)
        else:
            merged.append([rank, s, e])
    names = list(lengths)
    return pd.DataFrame(
        {
            "chrom": [names[r] for r, _, _ in merged],
            "start": [s for _, s, _ in merged],
            "end": [e for _, _, e in merged],
        }
    )


class ChunkSpec(NamedTuple):
    """Where one chunk of a scan lies: bins from ``first`` every ``stride`` up to ``end``."""

    chrom: str
    first: int
    end: int
    """End of the region (the last bin is cut there)."""


def chunk_specs(
    regions: pd.DataFrame, *, stride: int, chunk_bins: int = CHUNK_BINS
) -> Iterator[ChunkSpec]:
    """The chunks of a scan of ``regions`` (from :func:`tile_regions`), in genome order:
    numbered in this order, they are the work items a distributed scan splits over ranks."""
    if stride < 1 or chunk_bins < 1:
        raise ConfigError(f"stride must be >= 1; got {stride}")
    for chrom, rstart, rend in regions[["chrom", "start", "end"]].itertuples(index=False):
        for first in range(int(rstart), int(rend), stride * chunk_bins):
            yield ChunkSpec(str(chrom), first, int(rend))


def spec_bins(spec: ChunkSpec, *, stride: int, chunk_bins: int = CHUNK_BINS) -> int:
    """Bins of one chunk."""
    return len(range(spec.first, min(spec.first + stride * chunk_bins, spec.end), stride))


def scan_chunk(
    predict: Callable[[np.ndarray, str, np.ndarray], np.ndarray],
    fetch: Callable[[str, int, int], str],
    spec: ChunkSpec,
    lengths: Mapping[str, int],
    *,
    width: int,
    stride: int,
    chunk_bins: int = CHUNK_BINS,
) -> ScanChunk:
    """Predictions of the bins of one chunk (see :func:`scan_regions`)."""
    chrom, first, rend = spec
    size = int(lengths[chrom])
    bins = np.arange(first, min(first + stride * chunk_bins, rend), stride)
    ends = np.minimum(bins + stride, rend)
    wstart = window_of_bin(bins, stride, width)
    inside = (wstart >= 0) & (wstart + width <= size)
    values: np.ndarray | None = None
    ok_idx = np.flatnonzero(inside)
    n_skipped = len(bins) - len(ok_idx)
    if len(ok_idx):
        lo = int(wstart[ok_idx[0]])
        hi = int(wstart[ok_idx[-1]]) + width
        span = to_codes(fetch(chrom, lo, hi))
        offsets = wstart[ok_idx] - lo
        # windows of N only (assembly gaps): from a running count of real bases
        real = np.concatenate([[0], np.cumsum(span != 4)])
        has_base = real[offsets + width] > real[offsets]
        keep = ok_idx[has_base]
        n_skipped += int((~has_base).sum())
        if len(keep):
            raw = predict(span, offsets[has_base], chrom, wstart[keep])
            pred = np.asarray(raw, np.float32)
            values = np.full((len(bins), pred.shape[1]), np.nan, dtype=np.float32)
            values[keep] = pred
    if values is None:
        values = np.full((len(bins), 1), np.nan, dtype=np.float32)
    return ScanChunk(chrom, bins.astype(np.int64), ends, values, n_skipped)


def scan_regions(
    predict: Callable[[np.ndarray, str, np.ndarray], np.ndarray],
    fetch: Callable[[str, int, int], str],
    regions: pd.DataFrame,
    lengths: Mapping[str, int],
    *,
    width: int,
    stride: int,
    chunk_bins: int = CHUNK_BINS,
    progress: Progress = no_progress,
) -> Iterator[ScanChunk]:
    """Predict the window of every ``stride`` bin of ``regions``, one chunk at a time.

    Parameters
    ----------
    predict : callable (span codes (S,) uint8, window offsets in the span (m,), chrom,
        window starts (m,)) → (m, outputs)
        See :func:`predict_fn`; the coordinates let models with input tracks read them.
    fetch : callable (chrom, start, end) → str
        Genome sequence, e.g. :meth:`cislearn.io.genome.Genome.fetch`.
    regions : DataFrame
        From :func:`tile_regions` (sorted, non-overlapping).
    lengths : mapping chrom → length
    width, stride : int
        Model input length and step (bin size), bp.

    Yields
    ------
    ScanChunk
        In genome order; consecutive chunks of a region touch.
    """
    if stride < 1 or width < 1 or chunk_bins < 1:
        raise ConfigError(f"stride and width must be >= 1; got stride {stride}, width {width}")
    total = int(
        sum(-(-(e - s) // stride) for s, e in zip(regions["start"], regions["end"], strict=True))
    )
    done = 0
    progress("scan", 0, total)
    for spec in chunk_specs(regions, stride=stride, chunk_bins=chunk_bins):
        chunk = scan_chunk(
            predict, fetch, spec, lengths, width=width, stride=stride, chunk_bins=chunk_bins
        )
        done += len(chunk.starts)
        progress("scan", done, total)
        yield chunk


def predict_fn(predictor: Any, *, column: int, value: str, tracks: Any = None) -> Callable:
    """The ``predict`` callable of :func:`scan_regions` for a loaded :class:`Predictor`.

    ``value`` is ``prob`` (activated output) or ``logit`` (raw); ``tracks`` is a callable
    (chrom, window starts, width) → (m, c, width) float32 for models with input tracks.
    Models of the form :mod:`cislearn.fastpath.codeconv` evaluates, without padding, share
    each region position's convolution between the windows holding it
    (:func:`cislearn.fastpath.scanconv.span_logits`, same values as ``predictor.predict``);
    others are predicted window by window.
    """
    import torch

    from cislearn.fastpath.codeconv import code_plan
    from cislearn.fastpath.scanconv import covers, span_logits
    from cislearn.losses import output_activation

    if value not in ("prob", "logit"):
        raise ConfigError(f"value must be prob or logit; got '{value}'")
    plan = None
    if not predictor.n_tracks and predictor.device.type == "cpu":
        plan = code_plan(predictor.model, n_value=predictor.n_value)
    shared = covers(plan)
    rc = strand_average(predictor)
    activate = output_activation(predictor.task)

    def run(span: np.ndarray, offsets: np.ndarray, chrom: str, starts: np.ndarray) -> np.ndarray:
        width = int(predictor.length)
        if shared:
            with torch.inference_mode():
                raw = span_logits(plan, span, offsets, width, rc_average=rc)
                out = raw if value == "logit" else activate(torch.from_numpy(raw)).numpy()
            return out[:, column : column + 1]
        codes = span[offsets[:, None] + np.arange(width)]
        if predictor.n_tracks:
            from cislearn.encode import one_hot

            if tracks is None:
                raise InputError(
                    f"this model needs {predictor.n_tracks} input track(s); give them as "
                    "--input-track NAME=track.bw"
                )
            x = np.concatenate(
                [one_hot(codes, n_value=predictor.n_value), tracks(chrom, starts, codes.shape[1])],
                axis=1,
            )
            pred = predictor.predict(x)
        else:
            pred = predictor.predict(codes)
        out = pred.probs if value == "prob" else pred.logits
        return out[:, column : column + 1]

    return run
