"""Interval tables: top-k, resizing on summits, duplicates, bounds, chromosome splits, overlaps.

Pure DataFrame code on tables with columns ``chrom, start, end, name, score, strand, signal,
pvalue, qvalue, summit`` (0-based half-open; ``summit`` is the offset from ``start`` or -1), as
returned by :func:`cislearn.io.bed.read_bed`. Functions never modify their inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from cislearn.errors import ConfigError, InputError
from cislearn.io.genome import chrom_name_hint

__all__ = [
    "Merged",
    "Dropped",
    "top_k",
    "resize",
    "merge_duplicates",
    "drop_out_of_bounds",
    "chromosome_split",
    "overlaps",
    "from_grange_bed",
]

logger = logging.getLogger(__name__)

_KEY = ["chrom", "start", "end"]


class Merged(NamedTuple):
    """Result of :func:`merge_duplicates`: the table and how many rows were merged away."""

    frame: pd.DataFrame
    n_merged: int


class Dropped(NamedTuple):
    """Result of :func:`drop_out_of_bounds`: the table and how many rows were dropped."""

    frame: pd.DataFrame
    n_dropped: int


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what}: the interval table has no column {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(str, frame.columns))}"
        )


def _rank(values: pd.Series) -> np.ndarray:
    """Row positions by descending value; NaN last; ties keep file order."""
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    # Stable sort of the negated values puts ties in file order; NaN sorts last in numpy.
    return np.argsort(-numeric, kind="stable")


def _usable(frame: pd.DataFrame, column: str) -> bool:
    """Whether ``column`` exists and holds at least one number."""
    return column in frame.columns and pd.to_numeric(frame[column], errors="coerce").notna().any()


def top_k(frame: pd.DataFrame, k: int, *, by: str = "signal") -> pd.DataFrame:
    """The ``k`` rows with the highest ``by`` value, best first.

    Ties keep file order; NaN values rank last. If ``by`` is entirely NaN the ranking falls
    back to ``score``, then to file order, and says so through ``logging``.

    Parameters
    ----------
    frame : DataFrame
        Interval table (n rows).
    k : int
        How many rows to keep (all when ``k >= n``).
    by : str
        Column to rank by, e.g. ``"signal"`` (narrowPeak column 7) or ``"score"``.

    Returns
    -------
    DataFrame
        ``min(k, n)`` rows in rank order, index reset.

    Examples
    --------
    >>> t = pd.DataFrame({"chrom": ["c"] * 3, "start": [0, 5, 9], "end": [1, 6, 10],
    ...                   "signal": [1.0, 3.0, 2.0]})
    >>> top_k(t, 2)["start"].tolist()
    [5, 9]
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise InputError(f"top_k: k must be an integer >= 0; got {k!r}")
    _require(frame, [by], "top_k")
    if len(frame) == 0:
        return frame.reset_index(drop=True)
    if _usable(frame, by):
        order = _rank(frame[by])
    elif _usable(frame, "score"):
        logger.warning("top_k: column %r is all NaN; ranking by 'score' instead", by)
        order = _rank(frame["score"])
    else:
        logger.warning("top_k: no usable %r or 'score' values; keeping the first %d rows", by, k)
        order = np.arange(len(frame))
    return frame.iloc[order[:k]].reset_index(drop=True)


def resize(
    frame: pd.DataFrame, width: int, *, anchor: Literal["summit", "center"] = "summit"
) -> pd.DataFrame:
    """Fixed-width windows around each interval's summit (or centre).

    The anchor base is ``start + summit`` where ``summit >= 0`` (with ``anchor="summit"``),
    else the centre base ``start + (end - start) // 2``. The window is
    ``[anchor - width // 2, anchor - width // 2 + width)``, so for odd widths the anchor is the
    centre base. Windows may run off a chromosome; see :func:`drop_out_of_bounds`.

    Parameters
    ----------
    frame : DataFrame
        Interval table with ``chrom, start, end`` and, for ``anchor="summit"``, ``summit``
        (if that column is missing every row uses its centre).
    width : int
        Window width, >= 1.
    anchor : {"summit", "center"}

    Returns
    -------
    DataFrame
        Same rows, order, index and other columns; ``start``, ``end`` as int64 and
        ``summit = width // 2``.

    Examples
    --------
    >>> t = pd.DataFrame({"chrom": ["c"], "start": [100], "end": [600], "summit": [50]})
    >>> resize(t, 201)[["start", "end", "summit"]].values.tolist()
    [[50, 251, 100]]
    """
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise InputError(f"resize: width must be an integer >= 1; got {width!r}")
    if anchor not in ("summit", "center"):
        raise ConfigError(f"resize: anchor must be 'summit' or 'center'; got {anchor!r}")
    _require(frame, _KEY, "resize")
    start = frame["start"].to_numpy(dtype=np.int64)
    end = frame["end"].to_numpy(dtype=np.int64)
    point = start + (end - start) // 2
    if anchor == "summit":
        if "summit" in frame.columns:
            summit = pd.to_numeric(frame["summit"], errors="coerce").fillna(-1).to_numpy()
            has = summit >= 0
            point = np.where(has, start + np.where(has, summit, 0).astype(np.int64), point)
        else:
            logger.info("resize: no 'summit' column; anchoring every window on its centre")
    out = frame.copy()
    out["start"] = point - width // 2
    out["end"] = out["start"].to_numpy() + width
    out["summit"] = np.full(len(out), width // 2, dtype=np.int64)
    return out


def merge_duplicates(frame: pd.DataFrame) -> Merged:
    """Merge rows with identical ``(chrom, start, end)``, keeping the highest-``signal`` row.

    Typically run after :func:`resize`, where peaks with several summits can collapse onto
    one window. Ties (and a missing ``signal`` column) keep the first row in file order.

    Returns
    -------
    Merged
        ``frame``: the kept rows in their original order (index reset); ``n_merged``: how
        many rows were removed.
    """
    _require(frame, _KEY, "merge_duplicates")
    order = _rank(frame["signal"]) if "signal" in frame.columns else np.arange(len(frame))
    keep = ~frame.iloc[order].duplicated(subset=_KEY, keep="first").to_numpy()
    kept = np.sort(order[keep])
    return Merged(frame.iloc[kept].reset_index(drop=True), len(frame) - kept.size)


def drop_out_of_bounds(
    frame: pd.DataFrame,
    lengths: Mapping[str, int],
    *,
    unknown: Literal["error", "drop"] = "error",
) -> Dropped:
    """Drop windows running off their chromosome (``start < 0`` or ``end > length``).

    Parameters
    ----------
    frame : DataFrame
        Interval table.
    lengths : mapping of str to int
        Chromosome lengths, e.g. ``Genome(path).lengths``.
    unknown : {"error", "drop"}
        What to do with chromosomes missing from ``lengths``: raise :class:`InputError`
        (with a ``chr1``/``1`` naming hint) or drop those rows too.

    Returns
    -------
    Dropped
        ``frame``: the rows kept, in order (index reset); ``n_dropped``.
    """
    if unknown not in ("error", "drop"):
        raise ConfigError(f"drop_out_of_bounds: unknown must be 'error' or 'drop'; got {unknown!r}")
    _require(frame, _KEY, "drop_out_of_bounds")
    chrom = frame["chrom"].astype(str)
    size = chrom.map(lengths)
    missing = size.isna().to_numpy()
    if missing.any() and unknown == "error":
        names = list(dict.fromkeys(chrom[missing]))
        raise InputError(
            f"chromosome {names[0]!r} ({int(missing.sum())} rows"
            + (f", and {len(names) - 1} more names" if len(names) > 1 else "")
            + ") is not in the genome"
            + chrom_name_hint(names[0], lengths)
            + "; use the matching genome, or unknown='drop'"
        )
    start = frame["start"].to_numpy(dtype=np.int64)
    end = frame["end"].to_numpy(dtype=np.int64)
    ok = ~missing & (start >= 0) & (end <= size.fillna(-1).to_numpy(dtype=np.int64))
    return Dropped(frame[ok].reset_index(drop=True), int((~ok).sum()))


def _check_names(names: Sequence[str], present: Sequence[str], what: str) -> list[str]:
    if isinstance(names, str):
        names = [names]
    names = [str(n) for n in names]
    for name in names:
        if name not in present:
            shown = ", ".join(present[:25]) + (" …" if len(present) > 25 else "")
            raise ConfigError(
                f"{what} chromosome {name!r} has no records"
                + chrom_name_hint(name, present)
                + f"; chromosomes present: {shown}"
            )
    return names


def chromosome_split(
    chroms: Sequence[str],
    *,
    valid: Sequence[str] = (),
    test: Sequence[str] = (),
    test_fraction: float | None = None,
    valid_fraction: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Assign every record to ``"train"``, ``"valid"`` or ``"test"`` by whole chromosomes.

    Each held-out split is given either as a list of chromosomes or as a fraction of the
    records. For a fraction, chromosomes are visited in a seeded random order and each is
    added while that brings the split's record count closer to the target; a split left
    empty gets the chromosome whose size is closest to the target. Test is filled first.

    Parameters
    ----------
    chroms : sequence of str, length n
        Chromosome of each record.
    valid, test : sequence of str
        Chromosomes held out, e.g. ``test=("chr8", "chr9")``.
    test_fraction, valid_fraction : float, optional
        Fractions of records in (0, 1), used instead of the lists.
    seed : int

    Returns
    -------
    ndarray of str, shape (n,)

    Raises
    ------
    ConfigError
        For an unknown chromosome, a chromosome in both lists, a split given both ways,
        fractions outside (0, 1) or summing to >= 1, or no chromosome left for training.

    Examples
    --------
    >>> chromosome_split(["chr1", "chr2", "chr8", "chr8"], test=["chr8"]).tolist()
    ['train', 'train', 'test', 'test']
    """
    labels = np.asarray(chroms, dtype=str)
    if labels.size == 0:
        return np.array([], dtype="<U5")
    present, counts = np.unique(labels, return_counts=True)
    present_list = present.tolist()
    split: dict[str, str] = {}
    for name, chosen, fraction in (("test", test, test_fraction), ("valid", valid, valid_fraction)):
        if fraction is not None and len(chosen) > 0:
            raise ConfigError(f"give {name} chromosomes or {name}_fraction, not both")
        for c in _check_names(chosen, present_list, name):
            if split.get(c, name) != name:
                raise ConfigError(f"chromosome {c!r} is in both valid and test")
            split[c] = name
    fractions = {"test": test_fraction, "valid": valid_fraction}
    for name, fraction in fractions.items():
        if fraction is not None and not 0 < fraction < 1:
            raise ConfigError(f"{name}_fraction must be in (0, 1); got {fraction!r}")
    if sum(f for f in fractions.values() if f is not None) >= 1:
        raise ConfigError("test_fraction + valid_fraction must be < 1 to leave training data")

    size = dict(zip(present_list, counts.tolist(), strict=True))
    order = [present_list[i] for i in np.random.default_rng(seed).permutation(len(present_list))]
    for name, fraction in fractions.items():
        if fraction is None:
            continue
        target = fraction * labels.size
        free = [c for c in order if c not in split]
        taken = 0
        for c in free:
            if taken + size[c] / 2 < target:  # adding c brings the count closer to the target
                split[c], taken = name, taken + size[c]
        if taken == 0 and free:
            c = min(free, key=lambda c: abs(size[c] - target))
            split[c], taken = name, size[c]
        logger.info(
            "chromosome_split: %s = %s (%.1f%% of records; target %.1f%%)",
            name,
            ", ".join(c for c in present_list if split.get(c) == name),
            100 * taken / labels.size,
            100 * fraction,
        )
    if all(c in split for c in present_list):
        raise ConfigError("every chromosome is held out; leave at least one for training")
    mapping = np.array([split.get(c, "train") for c in present_list], dtype="<U5")
    return mapping[np.searchsorted(present, labels)]


def overlaps(a: pd.DataFrame, b: pd.DataFrame, *, flank: int = 0) -> np.ndarray:
    """Whether each interval in ``a`` overlaps any interval in ``b`` widened by ``flank``.

    Intervals are half-open: ``[s1, e1)`` and ``[s2 - flank, e2 + flank)`` overlap when
    ``s1 < e2 + flank`` and ``s2 - flank < e1``.

    Parameters
    ----------
    a, b : DataFrame
        Tables with ``chrom, start, end``.
    flank : int
        Bases added on both sides of every ``b`` interval, >= 0.

    Returns
    -------
    ndarray of bool, shape (len(a),)

    Notes
    -----
    Per chromosome, ``b`` is sorted by start and the running maximum of its ends is kept;
    one ``np.searchsorted`` finds the ``b`` intervals starting before each ``a`` end, and the
    running maximum tells whether any of them reaches past the ``a`` start: O((n + m) log m).

    Examples
    --------
    >>> a = pd.DataFrame({"chrom": ["c", "c"], "start": [0, 10], "end": [5, 20]})
    >>> b = pd.DataFrame({"chrom": ["c"], "start": [22], "end": [30]})
    >>> overlaps(a, b).tolist(), overlaps(a, b, flank=3).tolist()
    ([False, False], [False, True])
    """
    if isinstance(flank, bool) or not isinstance(flank, (int, np.integer)) or flank < 0:
        raise InputError(f"overlaps: flank must be an integer >= 0; got {flank!r}")
    _require(a, _KEY, "overlaps (a)")
    _require(b, _KEY, "overlaps (b)")
    codes, _ = pd.factorize(pd.concat([a["chrom"], b["chrom"]], ignore_index=True).astype(str))
    ca, cb = codes[: len(a)], codes[len(a) :]
    a_start, a_end = a["start"].to_numpy(np.int64), a["end"].to_numpy(np.int64)
    b_start, b_end = b["start"].to_numpy(np.int64), b["end"].to_numpy(np.int64)
    order_a = np.argsort(ca, kind="stable")
    order_b = np.lexsort((b_start, cb))
    bounds = np.arange(codes.max() + 2 if codes.size else 1)
    cut_a = np.searchsorted(ca[order_a], bounds)
    cut_b = np.searchsorted(cb[order_b], bounds)
    result = np.zeros(len(a), dtype=bool)
    for code in np.unique(ca):
        rows = order_a[cut_a[code] : cut_a[code + 1]]
        sel = order_b[cut_b[code] : cut_b[code + 1]]
        if sel.size == 0:
            continue
        reach = np.maximum.accumulate(b_end[sel])
        n_before = np.searchsorted(b_start[sel], a_end[rows] + flank, side="left")
        hit = n_before > 0
        hit[hit] = reach[n_before[hit] - 1] + flank > a_start[rows][hit]
        result[rows] = hit
    return result


def from_grange_bed(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert a BED written from R ``GRanges`` (1-based start, inclusive end) to 0-based.

    Only ``start`` changes (``start - 1``); a 201-bp region reads ``end - start = 200``
    before and ``201`` after.

    Examples
    --------
    >>> t = pd.DataFrame({"chrom": ["chr1"], "start": [101], "end": [301]})
    >>> from_grange_bed(t)[["start", "end"]].values.tolist()
    [[100, 301]]
    """
    _require(frame, _KEY, "from_grange_bed")
    start = frame["start"].to_numpy(dtype=np.int64)
    bad = np.flatnonzero((start < 1) | (frame["end"].to_numpy(dtype=np.int64) < start))
    if bad.size:
        row = frame.iloc[bad[0]]
        raise InputError(
            f"row {int(bad[0]) + 1} ({row['chrom']}:{row['start']}-{row['end']}) is not a "
            "1-based inclusive interval (needs 1 <= start <= end); is the table already 0-based?"
        )
    out = frame.copy()
    out["start"] = start - 1
    return out
