"""Uniform random windows of a genome, their bytes, and the regions they must avoid."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cislearn.errors import InputError

if TYPE_CHECKING:
    from cislearn.io.genome import Genome

log = logging.getLogger(__name__)

#: Genomes up to this many bases are read whole, one chromosome at a time, and candidate
#: windows are cut from memory (1 byte per base); larger genomes (human) are read one
#: candidate window at a time through pyfaidx, which costs ~20 us per window but no memory.
_CACHE_GENOME_MAX = 300_000_000


class Windows:
    """Uniform random windows of a genome and their bytes (cached whole when it is small)."""

    def __init__(self, genome: Genome) -> None:
        self.genome = genome
        self.names = list(genome.names)
        self.sizes = np.array([genome.lengths[c] for c in self.names], dtype=np.int64)
        self.offsets = np.zeros(len(self.names) + 1, dtype=np.int64)
        np.cumsum(self.sizes, out=self.offsets[1:])
        self.cache: dict[int, np.ndarray] | None = (
            {} if self.offsets[-1] <= _CACHE_GENOME_MAX else None
        )

    def sample(self, rng: np.random.Generator, length: int, n: int) -> np.ndarray:
        """Global start coordinates of ``n`` windows of ``length``, uniform over all windows."""
        room = np.maximum(self.sizes - length + 1, 0)
        cum = np.concatenate([[0], np.cumsum(room)])
        if cum[-1] == 0:
            return np.empty(0, dtype=np.int64)
        u = rng.integers(0, cum[-1], size=n)
        chrom = np.searchsorted(cum, u, side="right") - 1
        return self.offsets[chrom] + (u - cum[chrom])

    def locate(self, gstart: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Chromosome index and start of global coordinates."""
        chrom = np.searchsorted(self.offsets, gstart, side="right") - 1
        return chrom, gstart - self.offsets[chrom]

    def _chrom(self, cache: dict[int, np.ndarray], i: int) -> np.ndarray:
        if i not in cache:
            text = self.genome.fetch(self.names[i], 0, int(self.sizes[i]))
            cache[i] = np.frombuffer(text.encode("latin-1"), dtype=np.uint8)
        return cache[i]

    def bytes(self, gstart: np.ndarray, length: int) -> np.ndarray:
        """ASCII bytes of the windows, shape (len(gstart), length)."""
        out = np.empty((gstart.size, length), dtype=np.uint8)
        chrom, start = self.locate(gstart)
        if self.cache is None:
            for j, (c, s) in enumerate(zip(chrom.tolist(), start.tolist(), strict=True)):
                text = self.genome.fetch(self.names[c], s, s + length)
                out[j] = np.frombuffer(text.encode("latin-1"), dtype=np.uint8)
            return out
        for c in np.unique(chrom).tolist():
            rows = np.flatnonzero(chrom == c)
            view = np.lib.stride_tricks.sliding_window_view(self._chrom(self.cache, c), length)
            out[rows] = view[start[rows]]
        return out


def merged_exclusion(
    windows: Windows, exclude: pd.DataFrame | None, flank: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, merged global [start, end) of ``exclude`` ± ``flank`` (clipped to chromosomes)."""
    if exclude is None or len(exclude) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    missing = [c for c in ("chrom", "start", "end") if c not in exclude.columns]
    if missing:
        raise InputError(f"exclude needs columns chrom, start, end; missing {', '.join(missing)}")
    index = {c: i for i, c in enumerate(windows.names)}
    chrom = exclude["chrom"].astype(str).map(index)
    unknown = sorted(set(exclude["chrom"].astype(str)[chrom.isna()]))
    if unknown:
        log.warning(
            "exclude: %d chromosome(s) not in the genome ignored: %s",
            len(unknown),
            ", ".join(unknown[:5]),
        )
    keep = chrom.notna().to_numpy()
    ci = chrom[keep].to_numpy(dtype=np.int64)
    size = windows.sizes[ci]
    lo = np.clip(exclude["start"].to_numpy(dtype=np.int64)[keep] - flank, 0, size)
    hi = np.clip(exclude["end"].to_numpy(dtype=np.int64)[keep] + flank, 0, size)
    lo, hi = lo + windows.offsets[ci], hi + windows.offsets[ci]
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], np.maximum.accumulate(hi[order])
    new = np.ones(lo.size, dtype=np.bool_)
    new[1:] = lo[1:] > hi[:-1]
    group = np.cumsum(new) - 1
    ends = np.zeros(int(new.sum()), dtype=np.int64)
    np.maximum.at(ends, group, hi)
    return lo[new], ends


def window_overlaps(gstart: np.ndarray, length: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether each window [gstart, gstart+length) overlaps a merged interval."""
    i = np.searchsorted(hi, gstart, side="right")
    hit = np.zeros(gstart.size, dtype=np.bool_)
    inside = i < lo.size
    hit[inside] = lo[i[inside]] < gstart[inside] + length
    return hit
