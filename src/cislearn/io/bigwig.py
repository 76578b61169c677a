"""bigWig tracks through pyBigWig: window statistics, base-resolution values, bigWig/bedGraph out.

The missing-value rule, the same everywhere in cislearn:

* a base without data inside a chromosome the bigWig holds counts as 0 in a window's ``sum``
  and ``mean`` (bigWig coverage files leave zero runs out), and is NaN in base-resolution values;
* a window whose chromosome is absent from the bigWig, or that holds no data at all, gets NaN
  and is counted (``n_absent``, ``n_empty``); the caller then applies one of :data:`MISSING`
  (``zero``: fill 0, ``drop``: leave the window out, ``error``: stop naming the first one).
  Nothing is set to 0 silently.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

import numpy as np

from cislearn.errors import InputError
from cislearn.io.atomic import atomic_path, atomic_write
from cislearn.io.forksafe import forget, reopen_in_forked_children

__all__ = [
    "STATS",
    "MISSING",
    "BigWig",
    "WindowSignal",
    "Profiles",
    "TrackWriter",
    "apply_missing",
    "central",
    "write_bigwig",
]

Stat = Literal["mean", "sum", "max", "coverage"]
Missing = Literal["zero", "drop", "error"]
#: Window statistics: ``mean`` = sum over the window / its width (uncovered bases count 0),
#: ``sum`` = total signal (value × bases), ``max`` = largest value of a base with data,
#: ``coverage`` = fraction of bases with data (0, not missing, for a window without data).
STATS: tuple[str, ...] = ("mean", "sum", "max", "coverage")
#: What to do with a window that has no value (chromosome absent from the bigWig, no data).
MISSING: tuple[str, ...] = ("zero", "drop", "error")


class WindowSignal(NamedTuple):
    """One statistic per window, with the missing ones counted."""

    values: np.ndarray
    """float64 of shape (n,); NaN where the window has no value."""
    n_absent: int
    """Windows on a chromosome the bigWig does not hold."""
    n_empty: int
    """Windows on a chromosome it holds but without any data."""
    absent_chroms: tuple[str, ...]
    """The chromosomes behind ``n_absent``, sorted."""


class Profiles(NamedTuple):
    """Base-resolution values of n windows of one width L."""

    values: np.ndarray
    """float32 of shape (n, L); NaN at bases without data and on absent chromosomes."""
    n_absent: int
    n_empty: int
    """Windows without any data (absent chromosome excluded)."""
    n_uncovered: int
    """Bases without data on chromosomes the bigWig holds, over all windows."""


def central(starts: np.ndarray, ends: np.ndarray, width: int | None) -> tuple[Any, Any]:
    """The central ``width`` bp of each window (all of it when None or wider than the window).

    Examples
    --------
    >>> central(np.array([0]), np.array([201]), 51)
    (array([75]), array([126]))
    """
    starts, ends = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    if width is None:
        return starts, ends
    if width < 1:
        raise InputError(f"central width must be >= 1; got {width}")
    w = np.minimum(ends - starts, width)
    new_starts = starts + (ends - starts - w) // 2
    return new_starts, new_starts + w


class BigWig:
    """A bigWig file opened for reading (pyBigWig); use as a context manager.

    Parameters
    ----------
    path : path-like
        A bigWig file (``.bw``/``.bigWig``); a bigBed or any other file is an InputError.

    Examples
    --------
    >>> with BigWig("dnase.bw") as bw:  # doctest: +SKIP
    ...     sig = bw.window_stats(["chr1"], [1000], [2000], stat="mean")
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import pyBigWig

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("bigWig file not found", path=self.path)
        try:
            handle = pyBigWig.open(str(self.path))
        except RuntimeError:
            handle = None
        if handle is None or not handle.isBigWig():
            if handle is not None:
                handle.close()
            raise InputError("not a bigWig file (pyBigWig cannot open it)", path=self.path)
        self._bw = handle
        self.chroms: dict[str, int] = dict(handle.chroms())
        reopen_in_forked_children(self)

    def _reopen(self) -> None:
        # a forked child: its own file offset (see cislearn.io.forksafe)
        import pyBigWig

        self._bw = pyBigWig.open(str(self.path))

    def close(self) -> None:
        forget(self)
        self._bw.close()

    def __enter__(self) -> BigWig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_bounds(self, chrom: str, start: int, end: int, record: int | None) -> None:
        if start < 0 or end <= start or end > self.chroms[chrom]:
            raise InputError(
                f"window {chrom}:{start}-{end} is outside {chrom} (length "
                f"{self.chroms[chrom]} in the bigWig)",
                path=self.path,
                record=record,
            )

    def window_stats(
        self,
        chroms: Sequence[str],
        starts: Sequence[int] | np.ndarray,
        ends: Sequence[int] | np.ndarray,
        *,
        stat: Stat = "mean",
    ) -> WindowSignal:
        """One statistic per window (see :data:`STATS` and the module's missing-value rule).

        Parameters
        ----------
        chroms, starts, ends : sequences of length n
            0-based half-open windows.
        stat : {"mean", "sum", "max", "coverage"}

        Returns
        -------
        WindowSignal
            ``values`` (n,) float64, exact (computed from the data, not the zoom levels).
        """
        if stat not in STATS:
            raise InputError(f"stat must be one of {', '.join(STATS)}; got '{stat}'")
        kind = "sum" if stat == "mean" else stat
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        out = np.full(len(starts), np.nan)
        stats, known = self._bw.stats, self.chroms
        absent: set[str] = set()
        n_absent = n_empty = 0
        for i, (chrom, start, end) in enumerate(
            zip(chroms, starts.tolist(), ends.tolist(), strict=True)
        ):
            if chrom not in known:
                absent.add(chrom)
                n_absent += 1
                continue
            try:
                value = stats(chrom, start, end, type=kind, exact=True)[0]
            except RuntimeError:  # pyBigWig: "Invalid interval bounds!"
                self._check_bounds(chrom, start, end, i + 1)
                raise
            if value is None:
                n_empty += 1
                if stat == "coverage":
                    out[i] = 0.0
            else:
                out[i] = value
        if stat == "mean":
            out /= np.maximum(ends - starts, 1)
        return WindowSignal(out, n_absent, n_empty, tuple(sorted(absent)))

    def values(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Base-resolution values of ``[start, end)``, float32 (L,); NaN without data."""
        if chrom not in self.chroms:
            return np.full(end - start, np.nan, dtype=np.float32)
        self._check_bounds(chrom, start, end, None)
        return np.asarray(self._bw.values(chrom, start, end, numpy=True), dtype=np.float32)

    def profiles(
        self,
        chroms: Sequence[str],
        starts: Sequence[int] | np.ndarray,
        ends: Sequence[int] | np.ndarray,
    ) -> Profiles:
        """Base-resolution values of n windows of one width, (n, L) float32 with NaN."""
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        widths = np.unique(ends - starts)
        if len(widths) > 1:
            raise InputError(f"windows must have one width; got {widths.min()}..{widths.max()}")
        width = int(widths[0]) if len(widths) else 0
        out = np.full((len(starts), width), np.nan, dtype=np.float32)
        n_absent = n_empty = 0
        for i, (chrom, start, end) in enumerate(
            zip(chroms, starts.tolist(), ends.tolist(), strict=True)
        ):
            if chrom not in self.chroms:
                n_absent += 1
                continue
            out[i] = self.values(chrom, start, end)
            n_empty += bool(np.isnan(out[i]).all())
        present = np.fromiter((c in self.chroms for c in chroms), bool, count=len(starts))
        n_uncovered = int(np.isnan(out[present]).sum())
        return Profiles(out, n_absent, n_empty, n_uncovered)


def apply_missing(
    values: np.ndarray,
    rule: Missing,
    *,
    what: str,
    names: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Apply a :data:`MISSING` rule to NaN values along the first axis.

    Parameters
    ----------
    values : ndarray of shape (n,) or (n, ...)
        A row is missing when it is NaN (for 1-d) or all-NaN (otherwise).
    rule : {"zero", "drop", "error"}
    what : str
        Names the track in the error, e.g. ``signal 'ctcf' (ctcf.bw)``.
    names : sequence of str, optional
        Window names for the error message.

    Returns
    -------
    values : ndarray
        NaN replaced by 0 (``zero``; also NaN bases of partly covered profiles).
    keep : ndarray of shape (n,) of bool
        False for the rows to drop (``drop``); all True otherwise.
    """
    if rule not in MISSING:
        raise InputError(f"missing-value rule must be one of {', '.join(MISSING)}; got '{rule}'")
    nan = np.isnan(values)
    row_missing = nan if values.ndim == 1 else nan.reshape(len(values), -1).all(axis=1)
    keep = np.ones(len(values), dtype=bool)
    if rule == "error" and row_missing.any():
        i = int(np.flatnonzero(row_missing)[0])
        label = f' ("{names[i]}")' if names is not None else ""
        raise InputError(
            f"{what}: window {i + 1}{label} has no value (chromosome absent from the bigWig "
            f"or no data there; {int(row_missing.sum())} such windows); use missing 'zero' or "
            "'drop'"
        )
    if rule == "drop":
        keep = ~row_missing
    return np.where(nan, 0.0, values).astype(values.dtype), keep


class TrackWriter:
    """Stream intervals into a bigWig (and optionally a bedGraph), written atomically.

    Intervals must come chromosome by chromosome in the order of ``chrom_sizes`` and sorted,
    non-overlapping within a chromosome; NaN values are left out (no data).

    Parameters
    ----------
    path : path-like
        The bigWig to write.
    chrom_sizes : mapping str → int
        The header, in writing order.
    bedgraph : path-like, optional
        Also write the same intervals as bedGraph text (``.gz`` → gzip).

    Examples
    --------
    >>> with TrackWriter("pred.bw", {"chr1": 1000}) as out:  # doctest: +SKIP
    ...     out.add("chr1", [0, 50], [50, 100], [0.2, 0.7])
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        chrom_sizes: Mapping[str, int],
        *,
        bedgraph: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.chrom_sizes = {str(k): int(v) for k, v in chrom_sizes.items()}
        if not self.chrom_sizes:
            raise InputError("a bigWig needs at least one chromosome", path=self.path)
        self._order = {c: i for i, c in enumerate(self.chrom_sizes)}
        self._bedgraph = bedgraph
        self._stack = ExitStack()
        self._bw: Any = None
        self._text: IO | None = None
        self._last = (-1, 0)  # (chromosome rank, end) of the last interval written
        self.n_written = 0

    def __enter__(self) -> TrackWriter:
        import pyBigWig

        try:
            tmp = self._stack.enter_context(atomic_path(self.path))
            if self._bedgraph is not None:
                self._text = self._stack.enter_context(atomic_write(self._bedgraph))
            self._bw = pyBigWig.open(str(tmp), "w")
            self._bw.addHeader(list(self.chrom_sizes.items()), maxZooms=10)
        except BaseException:
            self._stack.close()
            raise
        return self

    def add(
        self,
        chrom: str,
        starts: Sequence[int] | np.ndarray,
        ends: Sequence[int] | np.ndarray,
        values: Sequence[float] | np.ndarray,
    ) -> None:
        """Append sorted, non-overlapping intervals of one chromosome."""
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        if chrom not in self._order:
            raise InputError(f"chromosome '{chrom}' is not in the bigWig header", path=self.path)
        if not len(starts):
            return
        rank = self._order[chrom]
        prev_end = self._last[1] if rank == self._last[0] else 0
        if (
            rank < self._last[0]
            or starts[0] < prev_end
            or (starts[1:] < ends[:-1]).any()
            or (ends <= starts).any()
            or starts[0] < 0
            or ends[-1] > self.chrom_sizes[chrom]
        ):
            raise InputError(
                f"{chrom}: intervals must be sorted, non-overlapping, inside the chromosome and "
                "come in header order",
                path=self.path,
            )
        ok = ~np.isnan(values)
        s, e, v = starts[ok], ends[ok], values[ok]
        if len(s):
            self._bw.addEntries([chrom] * len(s), s.tolist(), ends=e.tolist(), values=v.tolist())
            if self._text is not None:
                self._text.writelines(
                    f"{chrom}\t{a}\t{b}\t{x:.6g}\n"
                    for a, b, x in zip(s.tolist(), e.tolist(), v.tolist(), strict=True)
                )
        self._last = (rank, int(ends[-1]))
        self.n_written += len(s)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._bw is not None:
            self._bw.close()
        self._stack.__exit__(exc_type, exc, tb)


def write_bigwig(
    path: str | os.PathLike[str],
    chrom_sizes: Mapping[str, int],
    chroms: Sequence[str],
    starts: Sequence[int] | np.ndarray,
    ends: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    *,
    bedgraph: str | os.PathLike[str] | None = None,
) -> int:
    """Write intervals (any order; sorted here) as a bigWig; return the number written.

    Overlapping intervals are an InputError. See :class:`TrackWriter`.
    """
    chroms_arr = np.asarray(chroms, dtype=object)
    unknown = sorted(set(chroms_arr.tolist()) - set(chrom_sizes))
    if unknown:
        raise InputError(f"chromosome '{unknown[0]}' is not in the bigWig header", path=path)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    rank = {c: i for i, c in enumerate(chrom_sizes)}
    order = np.lexsort((starts, np.array([rank[c] for c in chroms_arr.tolist()], dtype=np.int64)))
    with TrackWriter(path, chrom_sizes, bedgraph=bedgraph) as out:
        for chrom in chrom_sizes:
            idx = order[chroms_arr[order] == chrom]
            out.add(chrom, starts[idx], ends[idx], values[idx])
        return out.n_written
